-- ngx.sleep(0) lets the other ready requests run: two of these started
-- together interleave their steps in the shared log.
local name = ngx.var.arg_name or "?"
local log = ngx.var.arg_log
for i = 1, 3 do
    local f = assert(io.open(log, "a"))
    f:write(name, i, "\n")
    f:close()
    ngx.sleep(0)
    if i == 1 then ngx.sleep(0.05) end
end
ngx.say("done ", name)
