-- --init-worker with a cosocket and ngx.sleep (beyond OpenResty, whose
-- init_worker_by_lua cannot): tell Redis this worker started.
ngx.sleep(0.05)
local sock = ngx.socket.tcp()
sock:settimeout(2000)
assert(sock:connect("127.0.0.1", tonumber(os.getenv("REDIS_PORT"))))
local key = "started:" .. ngx.worker.pid()
assert(sock:send("SET " .. key .. " " .. ngx.get_phase() .. "\r\n"))
assert(sock:receive())
sock:close()
