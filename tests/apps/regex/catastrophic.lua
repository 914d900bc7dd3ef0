-- A pattern that backtracks exponentially, and one that needs a few
-- tens of thousands of steps: both end by the match limit, or match.
local n = tonumber(ngx.var.arg_n) or 30
local t0 = ngx.now()
ngx.update_time()
local m, err = ngx.re.match(string.rep("a", n) .. "b", "(a+)+$", ngx.var.arg_o)
ngx.update_time()
ngx.say(tostring(m), " ", tostring(err), " ", ngx.now() - t0 < 2 and "in time" or "slow")
