-- a method called with '.' instead of ':' raises as lua-resty-core does
local ok, err = pcall(function() return ngx.shared.counters.get("k") end)
ngx.say(tostring(ok), " ", err:match('bad "zone" argument') ~= nil)
ok, err = pcall(function() return ngx.shared.counters.set({}, "k", 1) end)
ngx.say(tostring(ok), " ", err:match('bad "zone" argument') ~= nil)
ngx.say(tostring(ngx.shared.nope))
