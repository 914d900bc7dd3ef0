-- A small zone filled up: safe_set says "no memory", set evicts the
-- least recently used (forcible), add too.
local d = ngx.shared.small
d:flush_all()
d:flush_expired()
local v = string.rep("x", 500)
local n = 0
while true do
    local ok, err, forcible = d:safe_set("k" .. n, v)
    if not ok then
        ngx.say("safe_set: ", tostring(ok), " ", err, " ", tostring(forcible))
        break
    end
    n = n + 1
end
ngx.say("stored: ", n > 5)
d:get("k0") -- now the most recently used
ngx.say("safe_add: ", (select(2, d:safe_add("new", v))))
local ok, err, forcible = d:set("new", v)
ngx.say("set: ", tostring(ok), " ", tostring(err), " ", tostring(forcible))
ngx.say("k0 kept: ", d:get("k0") == v, ", k1 evicted: ", d:get("k1") == nil)
ok, err, forcible = d:add("new2", v)
ngx.say("add: ", tostring(ok), " ", tostring(forcible))
ngx.say("too big: ", (select(2, d:set("huge", string.rep("y", 64 * 1024)))))
