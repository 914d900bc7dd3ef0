-- Every way of catching an error, around a loop that spends the budget.
local how = ngx.var.arg_how
local function spin() while true do end end
ngx.print("start ")
if how == "pcall" then
    pcall(spin)
elseif how == "pcall_loop" then
    for _ = 1, 1e9 do pcall(spin) end
elseif how == "xpcall" then
    xpcall(spin, function(e) return e end)
elseif how == "xpcall_handler_loops" then
    xpcall(function() error("x") end, spin)
    xpcall(spin, spin)
elseif how == "resume" then
    coroutine.resume(coroutine.create(spin))
elseif how == "wrap" then
    pcall(coroutine.wrap(spin))
elseif how == "nested" then
    pcall(function()
        coroutine.resume(coroutine.create(function()
            pcall(coroutine.wrap(function() pcall(spin) end))
        end))
    end)
elseif how == "sort" then
    -- Lua called from C (no yield possible there).
    local t = {}
    for i = 1, 50 do t[i] = 51 - i end
    pcall(table.sort, t, function(a, b) spin() return a < b end)
elseif how == "gsub" then
    pcall(string.gsub, ("x"):rep(100), "x", function() spin() end)
elseif how == "tostring" then
    pcall(tostring, setmetatable({}, { __tostring = spin }))
elseif how == "metamethod" then
    local t = setmetatable({}, { __index = function() spin() end })
    pcall(function() return t.x end)
end
ngx.say("after: swallowed")
