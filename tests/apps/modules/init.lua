-- --init, in the master before the fork
local process = require "ngx.process"
INIT_TYPE = process.type()
local ok, err = process.enable_privileged_agent()
INIT_AGENT = tostring(ok) .. " " .. tostring(err)
