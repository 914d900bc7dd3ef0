-- NaN where a number of seconds or milliseconds goes: refused or treated
-- as nothing, never into the loop's timer heap
local nan = 0 / 0
local sema = require("ngx.semaphore").new(0)
ngx.say("wait: ", sema:wait(nan))
local sock = ngx.socket.tcp()
ngx.say("settimeout: ", pcall(sock.settimeout, sock, nan))
ngx.say("settimeouts: ", pcall(sock.settimeouts, sock, 1, nan, 1))
local ok, err = pcall(sock.connect, sock, "127.0.0.1", 1, {pool_size = nan})
ngx.say("pool_size: ", ok, " ", (tostring(err):gsub("^.-:%d+: ", "")))
ngx.sleep(0.01)
ngx.say("still serving")
