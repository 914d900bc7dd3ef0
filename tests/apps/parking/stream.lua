-- A large body and ngx.flush(true) to a client that reads slowly.
local chunk = string.rep("z", 64 * 1024)
for _ = 1, 64 do
    ngx.print(chunk)
end
ngx.flush(true)
ngx.say("end")
