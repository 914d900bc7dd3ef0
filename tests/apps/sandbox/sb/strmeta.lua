-- The string metatable: hidden, and what it reaches is not writable.
local mt = getmetatable("")
ngx.say("getmetatable(\"\"): ", type(mt))
local ok = pcall(function() getmetatable("").__index.upper = nil end)
ngx.say("patch through getmetatable: ", ok and "ESCAPED" or "refused")
ok = pcall(function() local idx = ("").__index; idx.upper = nil end)
ngx.say("patch through (\"\").__index: ", ok and "ESCAPED" or "refused")
ngx.say("methods: ", ("abc"):upper(), " ", ("x"):rep(3), " ", ("hello"):sub(2, 3))
