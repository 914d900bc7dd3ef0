local memcached = require "resty.memcached"
local memc = memcached:new()
memc:set_timeout(1000)
assert(memc:connect("127.0.0.1", tonumber(ngx.var.arg_port)))
ngx.say(memc:set("dog", 32))
local res, flags, err = memc:get("dog")
ngx.say(res, " ", flags, " ", tostring(err))
ngx.say(memc:incr("dog", 10))
ngx.say(memc:set_keepalive(10000, 10))
