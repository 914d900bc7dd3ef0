-- line 1
local function fail()
    error("failed on line 3")
end
if ngx.var.arg_fail then
    fail()
end
ngx.say("lines ok")
