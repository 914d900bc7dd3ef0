-- coroutine.wrap inside coroutine.wrap, 150,000 deep: a C stack overflow
-- unless the nesting is bounded.
local function f(n)
    if n == 0 then return 0 end
    return coroutine.wrap(function() return f(n - 1) end)() + 1
end
ngx.say(f(tonumber(ngx.var.arg_n) or 150000))
