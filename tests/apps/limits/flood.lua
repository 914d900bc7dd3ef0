-- Megabytes of output to a web server that does not read them: the worker
-- blocks in write(2), where no hook runs (the hard deadline).
local chunk = string.rep("x", 1024 * 1024)
for _ = 1, 256 do
    ngx.print(chunk)
end
