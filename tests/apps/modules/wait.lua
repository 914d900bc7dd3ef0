-- waits on the module's semaphore (at most ?s seconds)
local lib = require "semalib"
local t0 = ngx.now()
local ok, err = lib.sema:wait(tonumber(ngx.var.arg_s) or 5)
ngx.update_time()
ngx.say(tostring(ok), " ", tostring(err), " ", ngx.now() - t0 < 4 and "soon" or "late")
