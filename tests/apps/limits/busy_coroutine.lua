-- The loop runs in a user coroutine, the hook stops the whole request.
local co = coroutine.create(function()
    jit.off(true)
    local i = 0
    while true do
        i = i + 1
    end
end)
local ok, err = coroutine.resume(co)
ngx.say("resumed: ", tostring(ok), " ", tostring(err))
