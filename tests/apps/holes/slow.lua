ngx.sleep(tonumber(ngx.var.arg_s) or 1)
ngx.say("slept")
