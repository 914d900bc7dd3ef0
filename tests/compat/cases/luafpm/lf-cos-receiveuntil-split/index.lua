-- the pattern arrives split across two reads (its last byte 100 ms
-- later), and a partial match that is not one comes first
local sock = ngx.socket.tcp()
sock:settimeout(2000)
assert(sock:connect("127.0.0.1", @ECHO_PORT@))
sock:send("SEND 0123--bound 456--boundar\nSLOW 100 y tail\n")
local it = sock:receiveuntil("--boundary")
ngx.say("[", it(), "]")
ngx.say("[", sock:receive(), "]")
sock:send("SEND ab--b\nSLOW 50 oundary--boundaryc\n")
ngx.say("[", it(), "] [", it(), "]")
ngx.say("[", sock:receive(), "]")
sock:close()
