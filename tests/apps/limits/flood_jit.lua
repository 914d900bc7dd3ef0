-- Output that fills the socket of a web server that does not read it,
-- then a JIT-compiled loop where no hook runs: the hard deadline comes
-- with output still queued.
ngx.print(string.rep("x", 300 * 1024))
local x = 0
while true do x = x + 1 end
