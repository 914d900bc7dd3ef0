ngx.say("handler v1")
