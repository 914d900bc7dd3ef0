-- ngx.re in the sandbox: as for trusted code, and a catastrophic pattern
-- ends at the sandbox's match limit with OpenResty's error (no timeout).
local what = ngx.var.arg_what
if what == "use" then
    local m = ngx.re.match("key=value", [[(?<k>\w+)=(?<v>\w+)]], "jo")
    local s, n = ngx.re.gsub("a1b22", [[\d+]], function(c) return "<" .. c[0] .. ">" end)
    local t = {}
    for w in ngx.re.gmatch("one two", [[\w+]]) do t[#t + 1] = w[0] end
    ngx.say(m.k, " ", m.v, " ", s, " ", n, " ", table.concat(t, ","), " ",
        ngx.re.find("hello", "l+"), " ", (ngx.re.sub("abc", "b", "[$0]")))
elseif what == "catastrophic" then
    local t0 = os.clock()
    local m, err = ngx.re.match(string.rep("a", 30) .. "b", "(a+)+$")
    ngx.say(tostring(m), " ", err, " ", os.clock() - t0 < 0.5 and "fast" or "slow")
elseif what == "medium" then
    -- about 2 million steps: within PCRE2's default limit, over the sandbox's
    local m, err = ngx.re.match(string.rep("a", 20) .. "b", "(a+)+$", "j")
    ngx.say(tostring(m), " ", tostring(err))
elseif what == "loop" then
    -- each call hits the limit and is charged for it: the budget runs out
    for _ = 1, 100000 do
        pcall(ngx.re.match, string.rep("a", 30) .. "b", "(a+)+$")
    end
    ngx.say("after the loop")
elseif what == "callback" then
    -- the budget spent inside a gsub callback (Lua called from C) is not caught
    local ok = pcall(ngx.re.gsub, "aaaa", "a", function()
        local i = 0
        while true do i = i + 1 end
    end)
    ngx.say("after the callback ", tostring(ok))
end
