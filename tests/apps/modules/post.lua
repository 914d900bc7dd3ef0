local lib = require "semalib"
ngx.say("count before ", lib.sema:count())
lib.sema:post(tonumber(ngx.var.arg_n) or 1)
ngx.say("posted")
