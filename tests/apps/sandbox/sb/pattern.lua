-- One long C call: a pattern that backtracks.  No hook runs inside it;
-- --request-timeout's hard deadline is what ends it.
local s = ("a"):rep(3000)
ngx.say(s:find(("a-"):rep(12) .. "b"))
