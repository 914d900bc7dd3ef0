-- A body over --max-body ends the request with 413 even under pcall.
local ok, err = pcall(ngx.req.read_body)
ngx.say("caught: ", tostring(ok), " ", tostring(err))
