ngx.say("inside d")
