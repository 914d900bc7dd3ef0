-- OpenResty's coroutine semantics: API calls that wait (ngx.sleep) work
-- from inside user coroutines, yields stay between the user's coroutines
local co = coroutine.create(function(a)
    ngx.sleep(0.01)
    local b = coroutine.yield(a + 1)
    ngx.sleep(0.01)
    return b * 2
end)
ngx.say(coroutine.resume(co, 1))
ngx.say(coroutine.resume(co, 5))
ngx.say(coroutine.status(co))
local gen = coroutine.wrap(function()
    for i = 1, 3 do
        ngx.sleep(0)
        coroutine.yield(i)
    end
end)
ngx.say(gen(), gen(), gen())
-- a nested coroutine calling ngx.exit ends the whole request
local outer = coroutine.wrap(function()
    local inner = coroutine.create(function()
        ngx.say("inner exits")
        ngx.exit(200)
    end)
    coroutine.resume(inner)
    ngx.say("not reached (outer)")
end)
pcall(outer)
ngx.say("not reached (handler)")
