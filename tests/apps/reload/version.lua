-- which configuration serves: the module comes from --lua-path
local v = require "version_mod"
ngx.say(v.name, " ", ngx.worker.pid(), " ", ngx.worker.count())
