-- No way from the env to the real _G.
local say, concat = ngx.say, table.concat
local seen = {}
if getfenv or setfenv then seen[#seen + 1] = "getfenv/setfenv" end
local mt = getmetatable(_G)
if type(mt) == "table" then seen[#seen + 1] = "getmetatable(_G)" end
if _G.__index then seen[#seen + 1] = "_G.__index" end
if rawget(_G, "require") or _G.require then seen[#seen + 1] = "require" end
local ok, err = pcall(setmetatable, _G, nil)
-- Detaching our own env only hurts this request: allowed, and then the
-- whitelist is gone for us (string is nil).
if ok and string ~= nil then seen[#seen + 1] = "still has string" end
say(#seen == 0 and "blocked" or "ESCAPED: " .. concat(seen, " "))
