ngx.header["X-Before"] = "set"
local t = nil
ngx.say(t.field)
