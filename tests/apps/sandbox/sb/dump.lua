-- string.dump, directly or through the string metatable, and load*.
local found = {}
if string.dump then found[#found + 1] = "string.dump" end
if ("").dump then found[#found + 1] = '("").dump' end
local ok = pcall(function() return ("x"):dump() end)
if ok then found[#found + 1] = '("x"):dump()' end
if load or loadstring then found[#found + 1] = "load" end
ngx.say(#found == 0 and "blocked" or "ESCAPED: " .. table.concat(found, " "))
