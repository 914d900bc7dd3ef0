-- Spool the body, then sleep: the test ends the worker meanwhile.
ngx.req.read_body()
ngx.log(ngx.INFO, "spooled to ", tostring(ngx.req.get_body_file()))
ngx.sleep(5)
ngx.say("woke up")
