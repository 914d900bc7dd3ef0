-- a request that is in flight when a reload comes
ngx.sleep(tonumber(ngx.var.arg_s) or 0.02)
ngx.say("ok")
