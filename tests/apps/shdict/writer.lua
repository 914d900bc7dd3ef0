-- Writes without end (until the test kills the worker): values whose
-- content follows from their key, so a reader can tell one torn apart.
-- Most of its time is spent in the dict's calls, with the zone locked.
local d = ngx.shared.store
d:set("writer", ngx.worker.pid())
local big = {}
for i = 1, 8 do big[i] = string.rep(string.char(96 + i), i * 6000) end
local deadline = ngx.now() + 10
local n = 0
while ngx.now() < deadline do
    n = n + 1
    local i = n % 8 + 1
    d:set("v" .. (n % 40) .. ":" .. i, big[i])
    d:rpush("q", big[i])
    if d:llen("q") > 20 then d:lpop("q") end
    d:incr("count", 1, 0)
    if n % 16 == 0 then d:get_keys(0) end
    if n % 64 == 0 then d:flush_expired() end
    ngx.update_time()
end
ngx.say("not killed")
