-- The response is complete, then a compiled loop runs past the deadline.
ngx.say("done")
ngx.eof()
local i = 0
while true do
    i = i + 1
end
