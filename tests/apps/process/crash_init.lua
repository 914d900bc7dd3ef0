-- An --init-worker that takes its worker down before it serves: a crash loop.
local ffi = require "ffi"
ffi.cast("int *", 0)[0] = 1
