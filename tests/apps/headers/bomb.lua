-- Response headers that would have the host copy far more than the script
-- allocated, and the bounds on them (doc/api.md, ngx.header).
local how = ngx.var.arg_how
local n = tonumber(ngx.var.arg_n)
if how == "table" then
    -- 1000 references to one 1 MB string: 1 MB of Lua heap, 1 GB of copies.
    local s = ("x"):rep(2 ^ 20)
    local t = {}
    for i = 1, 1000 do t[i] = s end
    ngx.header["X-A"] = t
elseif how == "same" then
    -- One header set again and again: only the last value is kept.
    local s = ("y"):rep(1000)
    for _ = 1, 100000 do ngx.header["X-Same"] = s end
elseif how == "names" then
    for i = 1, 100000 do ngx.header["X-H" .. i] = "v" end
elseif how == "pcall" then
    -- The failure ends the request through pcall and coroutines.
    local ok = pcall(function() ngx.header["X-A"] = ("x"):rep(2 ^ 20) end)
    ngx.say("caught: ", tostring(ok))
elseif how == "coroutine" then
    coroutine.wrap(function()
        for i = 1, 2000 do pcall(function() ngx.header["X-H" .. i] = "v" end) end
    end)()
elseif how == "sort" then
    -- Lua called from C cannot yield: there it is an ordinary error, and
    -- the headers set so far are gone.
    ngx.header["X-Before"] = "1"
    local ok, err = pcall(table.sort, { 2, 1 }, function(a, b)
        ngx.header["X-A"] = ("x"):rep(2 ^ 20)
        return a < b
    end)
    ngx.say(tostring(ok), " ", err, " ", tostring(ngx.header["X-Before"]))
elseif how == "bytes" then
    -- One header that is sent as exactly n bytes ("X-Big: ...\r\n").
    ngx.header["X-Big"] = ("b"):rep(n - #"X-Big: \r\n")
elseif how == "list" then
    -- The same as a list of two values (two lines of n/2 bytes each).
    local v = ("l"):rep(n / 2 - #"X-Big: \r\n")
    ngx.header["X-Big"] = { v, v }
elseif how == "count" then
    for i = 1, n do ngx.header["X-" .. i] = "v" end
elseif how == "redirect" then
    ngx.redirect("/" .. ("r"):rep(2 ^ 20))
elseif how == "escaped" then
    -- CR and LF are sent as %0D and %0A: three bytes each.
    ngx.header["X-Big"] = ("\n"):rep((n - #"X-Big: \r\n") / 3)
elseif how == "fill" then
    -- Many headers, then many more of the same names: the budget counts
    -- what is kept, not what was set.
    local v = ("f"):rep(100)
    for _ = 1, 3 do
        for i = 1, n do ngx.header["X-" .. i] = v end
    end
end
ngx.say("after: ", ngx.header["X-Same"] and #ngx.header["X-Same"] or "-")
