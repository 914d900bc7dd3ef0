ngx.sleep(0.8)
ngx.say("slept")
