local mode = ngx.var.arg_mode
local function show(v)
    if type(v) == "table" then
        return "table:" .. table.concat(v, "|")
    end
    return tostring(v)
end
if mode == "count" then
    local h, err = ngx.req.get_headers()
    local n = 0
    for _ in pairs(h) do
        n = n + 1
    end
    local all, err0 = ngx.req.get_headers(0)
    local m = 0
    for _ in pairs(all) do
        m = m + 1
    end
    ngx.say("default=", n, " err=", tostring(err), " unlimited=", m, " err0=", tostring(err0))
    local few, err5 = ngx.req.get_headers(5)
    local k = 0
    for _ in pairs(few) do
        k = k + 1
    end
    ngx.say("max5=", k, " err5=", tostring(err5))
    return
end
if mode == "raw" then
    local h = ngx.req.get_headers(0, true)
    local keys = {}
    for k in pairs(h) do
        if k:match("^X%-") or k == "User-Agent" or k:match("^Content%-") then
            keys[#keys + 1] = k
        end
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
        ngx.say(k, "=", show(h[k]))
    end
    ngx.say("lower=", show(h["x-one"]))
    return
end
local h = ngx.req.get_headers()
ngx.say("x-dup=", show(h["x-dup"]))
ngx.say("X-One=", show(h["X-One"]), " x_one=", show(h.x_one), " X_ONE=", show(h.X_ONE), " x-one=", show(h["x-one"]))
ngx.say("x-two-words=", show(h.x_two_words))
ngx.say("missing=", show(h["x-missing"]))
ngx.say("var=", show(ngx.var.http_x_dup))
