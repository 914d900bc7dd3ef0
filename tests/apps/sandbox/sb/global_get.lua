ngx.say(tostring(leaked_global))
