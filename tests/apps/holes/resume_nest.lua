local depth = 0
local function f()
    depth = depth + 1
    local co = coroutine.create(f)
    local ok, err = coroutine.resume(co)
    if not ok then error(err, 0) end
end
local ok, err = pcall(f)
ngx.say(ok, " ", err, " at depth ", depth)
-- The count is back to zero: nesting works again in the same request.
local co = coroutine.wrap(function() return coroutine.wrap(function() return "nested ok" end)() end)
ngx.say(co())
