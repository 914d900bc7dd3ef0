-- Debian's lua-nginx-websocket client, unchanged, against websocketd
-- (echoing each text message through cat) on ?port.
local client = require "resty.websocket.client"
local wb, err = client:new({ timeout = 2000 })
local ok, cerr = wb:connect("ws://127.0.0.1:" .. ngx.var.arg_port .. "/")
if not ok then
    ngx.say("connect failed: ", cerr)
    return
end
for _, msg in ipairs({ "hello", "second message" }) do
    local bytes, serr = wb:send_text(msg)
    if not bytes then
        ngx.say("send failed: ", serr)
        return
    end
    local data, typ, rerr = wb:recv_frame()
    ngx.say(typ, ": ", tostring(data), " ", tostring(rerr))
end
ngx.say("close: ", wb:close())
