collectgarbage("collect")
collectgarbage("collect")
ngx.say("collected")
