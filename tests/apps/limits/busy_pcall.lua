-- pcall cannot swallow the timeout.
local ok, err = pcall(function()
    jit.off(true)
    local i = 0
    while true do
        i = i + 1
    end
end)
ngx.say("swallowed: ", tostring(err))
