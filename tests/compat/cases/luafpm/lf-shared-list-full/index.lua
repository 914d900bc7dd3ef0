-- a list fills the zone: the element that does not fit is nil, "no
-- memory"; a new list in the full zone is false, "no memory"
local d = ngx.shared.cache
d:flush_all()
d:flush_expired()
local n = 0
for i = 1, 100000 do
    local len, err = d:rpush("big", string.rep("x", 200))
    if not len then
        ngx.say("element: ", tostring(len), " ", err, " after ", n > 10)
        break
    end
    n = len
end
local ok, err = d:lpush("new", string.rep("y", 200))
ngx.say("new list: ", tostring(ok), " ", err)
ngx.say("big still there: ", d:llen("big") == n)
