-- redis: one GET from a real redis-server per request, over a pooled
-- connection (Debian's lua-nginx-redis, unchanged, on both peers).
-- run.sh fills in the port; the key holds "hello world\n".
local redis = require "nginx.redis"
local red = redis:new()
red:set_timeout(1000)
local ok, err = red:connect("127.0.0.1", @REDIS_PORT@)
if not ok then
    ngx.status = 502
    ngx.say("connect: ", err)
    return
end
local v, gerr = red:get("bench:hello")
if not v then
    ngx.status = 502
    ngx.say("get: ", gerr)
    return
end
red:set_keepalive(10000, 64)
ngx.print(v)
