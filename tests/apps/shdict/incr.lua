-- one increment of a shared counter, and one of this worker's own
local d = ngx.shared.counters
d:incr("hits", 1, 0)
d:incr("pid:" .. ngx.worker.pid(), 1, 0)
ngx.say("ok")
