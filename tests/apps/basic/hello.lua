ngx.say("hello world")
