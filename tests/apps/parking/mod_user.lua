local m = require "parkmod"
local before = m.version
ngx.sleep(tonumber(ngx.var.arg_s) or 0)
ngx.say("version ", before, " ", m.version)
