-- The luafpm example app: http://127.0.0.1:8080/
local visits = require "visits"   -- a module: loaded once per worker, keeps its state

local n = visits.count()
ngx.header["X-Powered-By"] = "luafpm"
ngx.say("Hello from luafpm!")
ngx.say()
ngx.say("method:      ", ngx.req.get_method())
ngx.say("uri:         ", ngx.var.uri)
ngx.say("args:        ", ngx.var.args or "(none)")
ngx.say("worker pid:  ", ngx.worker.pid())
ngx.say("this worker has served ", n, " request(s) of this page")
local shared = ngx.shared.demo        -- --shared-dict demo:1m: one zone for every worker
if shared then
    ngx.say("all workers have served ", shared:incr("visits", 1, 0), " request(s) of this page")
end
ngx.say("md5(uri):    ", ngx.md5(ngx.var.uri))
ngx.say("time:        ", ngx.http_time(ngx.time()))
ngx.say()
ngx.say("Try /hello.lua, /headers.lua?name=you, /missing.lua (404), /oops.lua (500).")
