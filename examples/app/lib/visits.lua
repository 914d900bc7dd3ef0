-- Module state lives as long as the worker's VM (with the code cache on).
local M = {}
local n = 0
function M.count()
    n = n + 1
    return n
end
return M
