-- TLS over a cosocket to a local openssl s_server (-www answers GET /).
local sock = ngx.socket.tcp()
sock:settimeout(3000)
assert(sock:connect("127.0.0.1", tonumber(ngx.var.arg_port)))
local verify = ngx.var.arg_verify == "1"
local session, err = sock:sslhandshake(nil, ngx.var.arg_name or "localhost", verify)
if not session then
    ngx.say("handshake: nil ", err)
    return
end
ngx.say("handshake: ", type(session))
assert(sock:send("GET / HTTP/1.0\r\n\r\n"))
ngx.say(sock:receive())
sock:close()
-- the session, reused on a second connection
local s2 = ngx.socket.tcp()
s2:settimeout(3000)
assert(s2:connect("127.0.0.1", tonumber(ngx.var.arg_port)))
local again, err2 = s2:sslhandshake(session, ngx.var.arg_name or "localhost", verify)
ngx.say("again: ", tostring(again ~= nil), " ", tostring(err2))
s2:close()
