-- A timer that sleeps: it counts as running meanwhile, and the worker
-- waits for it when it stops.
local out = ngx.var.arg_out
ngx.timer.at(0, function()
    ngx.sleep(0.5)
    local f = assert(io.open(out, "a"))
    f:write("slept ", ngx.timer.running_count(), "\n")
    f:close()
end)
ngx.say("ok")
