-- ?step=hold: take the only slot of a pool with a backlog, queue a light
-- thread's connect behind it, and end the request under both; then any
-- other ?step: the slot must be free again, nothing kept by the queued
-- connect of a request that is gone.
local opts = { pool = "abandon", pool_size = 1, backlog = 4 }
local port = tonumber(ngx.var.arg_port)
local s = ngx.socket.tcp()
s:settimeout(500)
if ngx.var.arg_step == "hold" then
    assert(s:connect("127.0.0.1", port, opts))
    ngx.thread.spawn(function()
        local q = ngx.socket.tcp()
        q:settimeout(5000)
        q:connect("127.0.0.1", port, opts)
    end)
    ngx.say("held")
    ngx.exit(200)
end
local ok, err = s:connect("127.0.0.1", port, opts)
ngx.say("connect: ", tostring(ok), " ", tostring(err))
s:close()
