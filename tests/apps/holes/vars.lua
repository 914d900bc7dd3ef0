-- Many ngx.var reads: each one a params lookup.
local n, s = tonumber(ngx.var.arg_n) or 200000, 0
for _ = 1, n do
    s = s + #ngx.var.request_uri + #(ngx.var.http_x_last or "")
end
ngx.say("reads ", n, " ", s > 0)
