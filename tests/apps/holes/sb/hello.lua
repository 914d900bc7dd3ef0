ngx.say("sandboxed hello")
