-- Closes descriptor ?fd= (default 2) of its worker, as a careless handler may.
local ffi = require "ffi"
pcall(ffi.cdef, "int close(int fd);")
local fd = tonumber(ngx.var.arg_fd) or 2
ngx.say("close(", fd, ") = ", ffi.C.close(fd))
