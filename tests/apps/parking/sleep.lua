local s = tonumber(ngx.var.arg_s) or 0.5
ngx.sleep(s)
ngx.say("slept ", s, " in ", ngx.worker.pid())
