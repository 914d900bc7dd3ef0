local ffi = require "ffi"
ffi.cdef "typedef struct { int w, h; } lf_rect_t;"
local M = { version = "mod v1" }
function M.area(w, h)
    local r = ffi.new("lf_rect_t", w, h)
    return r.w * r.h
end
return M
