ngx.say("hello")
