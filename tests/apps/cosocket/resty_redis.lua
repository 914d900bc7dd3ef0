-- OpenResty code, unchanged: require "resty.redis" loads Debian's
-- nginx.redis (lua-nginx-redis).
local redis = require "resty.redis"
local red = redis:new()
red:set_timeout(tonumber(ngx.var.arg_read) or 1000)
local ok, err = red:connect("127.0.0.1", tonumber(ngx.var.arg_port))
if not ok then
    ngx.say("connect failed: ", err)
    return
end
local op = ngx.var.arg_op or "basic"
if op == "basic" then
    ngx.say("reused ", red:get_reused_times())
    ngx.say(red:set("lib", "value"))
    ngx.say(red:get("lib"))
    ngx.say(tostring(red:get("missing") == ngx.null))
    red:init_pipeline()
    red:set("p1", "a")
    red:get("p1")
    red:lpush("list", "x")
    local res = red:commit_pipeline()
    ngx.say("pipeline ", #res, " ", res[1], " ", res[2])
    ngx.say("keepalive ", red:set_keepalive(10000, 10))
elseif op == "blpop" then
    local res = red:blpop("lib:empty:" .. ngx.var.arg_n, 0.5)
    ngx.say("blpop ", res == ngx.null and "timed out" or tostring(res))
    red:set_keepalive(10000, 100)
elseif op == "timeout" then
    -- a read timeout shorter than the BLPOP: the library's own handling
    local res, err = red:blpop("lib:never", 2)
    ngx.say("blpop ", tostring(res), " ", tostring(err))
    ngx.say("after timeout: ", tostring(red:set_keepalive()))
end
