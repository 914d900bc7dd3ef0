-- an error inside coroutine.wrap aborts the request, even under pcall
ngx.header["X-Before"] = "set"
local f = coroutine.wrap(function() error("boom in wrap") end)
pcall(f)
ngx.say("not reached")
