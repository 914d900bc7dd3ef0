-- An endless loop of function calls, and an endless tail call.
local function f(x) return x + 1 end
local n = 0
if ngx.var.arg_tail then
    local function g(k) return g(k + 1) end
    g(0)
end
while true do n = f(n) end
