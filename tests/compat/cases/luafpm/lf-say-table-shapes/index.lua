-- array tables in ngx.say: holes are "nil" up to the largest key, a shared
-- subtable is written at every place, values are read raw; errors name
-- the argument and the function
local s = {"x"}
ngx.say({"a", nil, "b"})
ngx.say({nil, nil, 3}, "|", {[1] = "a", [2] = "b", [4] = "d"})
ngx.say({s, s, {s, {s}}})
ngx.say({1, {2, {3, {"four", {true, false, ngx.null}}}}})
local big = {}
for i = 1, 1000 do big[i] = i % 10 end
big[1500] = "end"
ngx.print(big)
ngx.say()
ngx.say(setmetatable({}, {__index = function() return "meta" end}), "raw")
local function try(f)
    local ok, err = pcall(f)
    ngx.say(tostring(ok), " ", (tostring(err):gsub("^.-:%d+: ", "")))
end
try(function() ngx.say("x", {a = 1}) end)
try(function() ngx.say({1, 2}, {[0] = 1}) end)
try(function() ngx.say({1.5}) end)
try(function() ngx.say({-1}) end)
try(function() ngx.say({[1.5] = "x"}) end)
try(function() ngx.say({"a", {print}}) end)
try(function() ngx.print({{{coroutine.create(function() end)}}}) end)
try(function() ngx.say(print) end)
try(function() ngx.say("a", "b", {}, {{}}, nil) end)
