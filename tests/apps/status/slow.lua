ngx.sleep(tonumber(ngx.var.arg_s) or 0.05)
ngx.say("slow done")
