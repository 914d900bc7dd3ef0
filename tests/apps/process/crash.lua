-- a handler that takes its worker down: a write through a NULL pointer
local ffi = require "ffi"
ngx.say("about to crash")
ffi.cast("int *", 0)[0] = 1
