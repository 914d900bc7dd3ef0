ngx.say("inside a")
