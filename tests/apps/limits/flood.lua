-- Megabytes of output to a web server that does not read them: past the
-- output queue's bound ngx.print parks the request (the worker serves
-- others), until its --request-timeout.
local chunk = string.rep("x", 1024 * 1024)
for _ = 1, 256 do
    ngx.print(chunk)
end
