-- Output reached the client, then the timeout (hard: compiled loop).
ngx.say("first line")
ngx.flush(true)
local i = 0
while true do
    i = i + 1
end
