-- Garbage many times the budget, little live data: not stopped for it.
local s = ("x"):rep(1000000)
for _ = 1, 300 do
    s = s:sub(2) .. "y"
end
local t = {}
for i = 1, 50000 do
    t[#t % 100 + 1] = { i, tostring(i) }
end
ngx.say(#s, " ", #t)
