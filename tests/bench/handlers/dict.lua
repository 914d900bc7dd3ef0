-- dict: one incr and one get of ngx.shared per request (a hit counter
-- and a cached greeting), the same handler for luafpm and OpenResty.
local d = ngx.shared.bench
d:incr("hits", 1, 0)
local v = d:get("greeting")
if v == nil then
    v = "hello world"
    d:set("greeting", v)
end
ngx.say(v)
