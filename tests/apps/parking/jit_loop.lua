-- LuaJIT compiles this loop: no hook runs inside it (the hard deadline).
local i = 0
while true do
    i = i + 1
end
