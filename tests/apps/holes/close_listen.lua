-- Close the worker's listening socket, as a careless (or hostile)
-- handler could through the FFI.
local ffi = require "ffi"
ffi.cdef [[
int close(int fd);
int getsockopt(int fd, int level, int name, void *val, unsigned *len);
]]
local v, len = ffi.new("int[1]"), ffi.new("unsigned[1]", 4)
local closed = 0
for fd = 3, 255 do
    len[0] = 4
    -- SOL_SOCKET 1, SO_ACCEPTCONN 30
    if ffi.C.getsockopt(fd, 1, 30, v, len) == 0 and v[0] == 1 then
        ffi.C.close(fd)
        closed = closed + 1
    end
end
ngx.say("closed ", closed)
