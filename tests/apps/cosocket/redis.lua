-- A few Redis commands over a cosocket, in RESP, written here by hand
-- (the Redis client libraries come with issue 13's next steps).
local port = tonumber(ngx.var.arg_port)
local function cmd(sock, ...)
    local args = {...}
    local out = {"*", #args, "\r\n"}
    for _, a in ipairs(args) do
        a = tostring(a)
        out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
    end
    assert(sock:send(out))
    local line, err = sock:receive()
    if not line then return nil, err end
    local kind = line:sub(1, 1)
    if kind == "$" then
        local n = tonumber(line:sub(2))
        if n < 0 then return ngx.null end
        local data = assert(sock:receive(n + 2))
        return data:sub(1, n)
    elseif kind == "*" then
        local n = tonumber(line:sub(2))
        if n < 0 then return ngx.null end
        local t = {}
        for i = 1, n do
            local l = assert(sock:receive())
            t[i] = assert(sock:receive(tonumber(l:sub(2)) + 2)):sub(1, -3)
        end
        return t
    end
    return line:sub(2)
end
local sock = ngx.socket.tcp()
sock:settimeout(5000)
assert(sock:connect("127.0.0.1", port))
local op = ngx.var.arg_op or "setget"
if op == "setget" then
    ngx.say("reused ", sock:getreusedtimes())
    ngx.say(cmd(sock, "SET", "k", ngx.var.arg_v or "v1"))
    ngx.say(cmd(sock, "GET", "k"))
    ngx.say("keepalive ", sock:setkeepalive(10000, 10))
elseif op == "blpop" then
    local r = cmd(sock, "BLPOP", "empty:" .. ngx.var.arg_n, "0.5")
    ngx.say("blpop ", r == ngx.null and "timed out" or tostring(r))
    sock:setkeepalive()
elseif op == "leak" then
    -- connected sockets the handler never closes
    for i = 1, 5 do
        local s = ngx.socket.tcp()
        assert(s:connect("127.0.0.1", port))
    end
    ngx.say("left open")
elseif op == "timeout" then
    -- parked reading a BLPOP of 10 s when --request-timeout comes
    cmd(sock, "BLPOP", "never", "10")
    ngx.say("not reached")
elseif op == "timer" then
    ngx.timer.at(0, function()
        local s = ngx.socket.tcp()
        assert(s:connect("127.0.0.1", port))
        cmd(s, "SET", "from_timer", "yes")
        s:close()
    end)
    ngx.say("scheduled")
elseif op == "get" then
    ngx.say(cmd(sock, "GET", ngx.var.arg_k))
    sock:close()
end
