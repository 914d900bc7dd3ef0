-- Waits survive pcall and user coroutines.
local ok = pcall(function()
    local co = coroutine.wrap(function()
        ngx.sleep(0.2)
        coroutine.yield("from the coroutine")
    end)
    ngx.say(co())
end)
ngx.say("pcall ", tostring(ok))
