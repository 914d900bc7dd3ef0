ngx.say("too early")
