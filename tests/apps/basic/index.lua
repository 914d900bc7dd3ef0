ngx.say("index")
