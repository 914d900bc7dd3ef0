local s = ngx.var.arg_s or "0.1"
ngx.sleep(tonumber(s))
ngx.say("slept ", s)
