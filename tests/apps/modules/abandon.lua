-- a light thread waits on the semaphore; the request ends under it
local lib = require "semalib"
ngx.thread.spawn(function() lib.sema:wait(30) end)
ngx.say("waiting: ", lib.sema:count())
ngx.exit(200)
