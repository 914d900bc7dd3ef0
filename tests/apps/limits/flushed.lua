-- Output reached the client, then the timeout (soft: interpreted loop).
ngx.say("first line")
ngx.flush(true)
jit.off(true)
local i = 0
while true do
    i = i + 1
end
