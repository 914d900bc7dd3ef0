ngx.say("never")
local x = = 1
