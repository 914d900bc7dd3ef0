-- ?dict=NAME&k=KEY: the value (or "nil"), ?keys=PREFIX: how many keys start with it
local d = ngx.shared[ngx.var.arg_dict or "counters"]
if ngx.var.arg_keys then
    local n = 0
    for _, k in ipairs(d:get_keys(0)) do
        if k:sub(1, #ngx.var.arg_keys) == ngx.var.arg_keys then n = n + 1 end
    end
    ngx.say(n)
    return
end
ngx.say(tostring(d:get(ngx.var.arg_k)))
