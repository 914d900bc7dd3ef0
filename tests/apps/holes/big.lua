-- 13 MB of output: more than the socket buffers hold.
local chunk = string.rep("x", 65536)
for _ = 1, 200 do
    ngx.print(chunk)
end
