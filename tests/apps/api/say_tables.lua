-- ngx.say of tables shaped to cost the host far more than they cost the
-- script (?how=...), and ordinary ones that must print as OpenResty's do.
-- ?catch=1 prints the error, with the file and line cut off; otherwise it
-- is uncaught (a 500).
local how = ngx.var.arg_how

-- levels of t = {t, t} over leaf: 2^levels copies of leaf when expanded
local function dag(levels, leaf)
    local t = leaf
    for _ = 1, levels do t = {t, t} end
    return t
end

if how == "pid" then
    ngx.say(ngx.worker.pid())
    return
elseif how == "ok" then
    local s = {"x"}
    ngx.say({"a", nil, "b"})
    ngx.say({1, {2, {3, {"four"}}}}, {[1] = "a", [2] = "b", [4] = "d"})
    ngx.say({nil, nil, 3}, {s, s, {s}})
    ngx.say(dag(10, {"ab"}))
    -- half full: 1000 digits, 499 holes, "end"
    local big = {}
    for i = 1, 1000 do big[i] = i % 10 end
    big[1500] = "end"
    ngx.say(big)
    return
elseif how == "charge" then
    -- 1000 slots per call, 10000 calls: cheap for the script's loop,
    -- 10^7 slots of host work
    local t = {}
    for i = 1, 1000 do t[i] = "" end
    for _ = 1, 10000 do ngx.print(t) end
    ngx.say("after")
    return
end

local t
if how == "big53" then
    t = {[2 ^ 53] = 1}
elseif how == "big30" then
    t = {[2 ^ 30] = 1}
elseif how == "dag" then
    t = dag(60, {"ab"})
elseif how == "dag_empty" then
    t = dag(60, {})
elseif how == "cycle" then
    t = {1}
    t[2] = t
elseif how == "cycle_deep" then
    local a, b = {}, {}
    a[1] = {b}
    b[1] = {"x", a}
    t = {a}
elseif how == "huge" then
    -- 20 MB from a 1 MB string: fine for a trusted script, over a 16 MB
    -- sandbox budget
    local s = ("x"):rep(1000000)
    t = {}
    for i = 1, 20 do t[i] = s end
elseif how == "bad_nested" then
    t = {"a", {print}}
end
if ngx.var.arg_catch then
    local ok, err = pcall(function() ngx.say("x", t) end)
    ngx.say(ok, " ", (tostring(err):gsub("^.-:%d+: ", "")))
else
    ngx.say("x", t)
    ngx.say("after")
end
