-- Memory bombs: each must end with the memory budget, not the worker.
local how = ngx.var.arg_how
ngx.print("start ")
if how == "rep" then
    local s = ("x"):rep(2 ^ 30)
    ngx.say(#s)
elseif how == "rep_nested" then
    local s = ("x"):rep(1e4):rep(1e4)
    ngx.say(#s)
elseif how == "double" then
    local s = "x"
    while true do s = s .. s end
elseif how == "double_pcall" then
    local s = "x"
    for _ = 1, 100 do pcall(function() s = s .. s end) end
    ngx.say(#s)
elseif how == "strings" then
    local t = {}
    local i = 0
    while true do i = i + 1; t[i] = ("y"):rep(1000) .. i end
elseif how == "tables" then
    local t = {}
    -- (a constant constructor copies its 64 slots in one instruction)
    for i = 1, 1e9 do
        t[i] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
                 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60,
                 61, 62, 63, 64 }
    end
elseif how == "concat" then
    local t = {}
    for i = 1, 2000 do t[i] = ("z"):rep(2000) end
    local parts = {}
    -- (a separator of its own each time: equal strings would be one string)
    for i = 1, 100 do parts[i] = table.concat(t, tostring(i)) end
elseif how == "coroutines" then
    local t = {}
    for i = 1, 1e9 do t[i] = coroutine.create(function() end) end
end
ngx.say("after: survived")
