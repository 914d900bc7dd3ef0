-- ?rate=N: ngx.var.limit_rate, then 30000 bytes
local rate = ngx.var.arg_rate
if rate then
    ngx.var.limit_rate = rate
end
ngx.header["X-Limit-Rate"] = ngx.var.limit_rate
ngx.print(("x"):rep(30000))
