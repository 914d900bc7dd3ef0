-- Leaves a file behind: proof that the handler ran.
local f = assert(io.open(ngx.var.arg_f, "w"))
f:write("ran")
f:close()
ngx.say("ran")
