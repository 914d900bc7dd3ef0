local sock = ngx.socket.tcp()
ngx.say(sock:connect("localhost", 6379))
