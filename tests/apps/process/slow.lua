-- Sleeps in C for ?ms= milliseconds (default 1500) while holding the worker.
local ffi = require "ffi"
pcall(ffi.cdef, "int poll(void *fds, unsigned long nfds, int timeout);")
ngx.say("slow start ", ngx.worker.pid())
ffi.C.poll(nil, 0, tonumber(ngx.var.arg_ms) or 1500)
ngx.say("slow done")
