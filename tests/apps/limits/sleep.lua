ngx.sleep(10)
ngx.say("woke up")
