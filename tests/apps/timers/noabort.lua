-- No callback: the request is stopped when the client goes away.
local out = ngx.var.arg_out
ngx.sleep(2)
local f = assert(io.open(out, "a"))
f:write("not reached\n")
f:close()
