-- Loaded once per VM; runs with the real _G as its environment.
COUNTER_LOADS = (COUNTER_LOADS or 0) + 1
local M = {}
local n = 0
function M.next()
    n = n + 1
    return n
end
function M.peek()
    return seen
end
return M
