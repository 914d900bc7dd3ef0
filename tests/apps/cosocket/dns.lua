-- connect() by name, then a Redis PING over it.
local sock = ngx.socket.tcp()
sock:settimeout(3000)
local ok, err = sock:connect(ngx.var.arg_host, tonumber(ngx.var.arg_port))
ngx.say("connect ", tostring(ok), " ", tostring(err))
if ok then
    sock:send("PING\r\n")
    ngx.say(sock:receive())
    sock:close()
end
