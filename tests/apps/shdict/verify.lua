-- Every value intact: "vK:I" holds I * 6000 bytes of char(96 + I); the
-- list's elements likewise; get_keys sees as many keys as the zone counts.
local d = ngx.shared.store
local bad, n = 0, 0
for _, k in ipairs(d:get_keys(0)) do
    n = n + 1
    local i = tonumber(k:match("^v%d+:(%d)$"))
    if i then
        local v = d:get(k)
        if v ~= nil and v ~= string.rep(string.char(96 + i), i * 6000) then bad = bad + 1 end
    end
end
local len = d:llen("q")
for _ = 1, len do
    local v = d:lpop("q")
    local i = v and #v / 6000
    if not i or v ~= string.rep(string.char(96 + i), i * 6000) then bad = bad + 1 end
end
ngx.say("keys ", n, " bad ", bad, " list ", len)
