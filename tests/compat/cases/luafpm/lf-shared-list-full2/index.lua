-- tiny elements fill the zone to the last byte: then even a new list's
-- node does not fit
local d = ngx.shared.cache
local n = 0
for i = 1, 1000000 do
    local len, err = d:rpush("big", "x")
    if not len then
        ngx.say("element: ", tostring(len), " ", err, " after ", n > 100)
        break
    end
    n = len
end
local ok, err = d:lpush("new", "y")
ngx.say("new list: ", tostring(ok), " ", err)
