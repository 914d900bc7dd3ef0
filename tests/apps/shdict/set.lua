-- ?dict=NAME&k=KEY&v=VALUE
local d = ngx.shared[ngx.var.arg_dict or "counters"]
ngx.say(tostring(d:set(ngx.var.arg_k, ngx.var.arg_v)))
