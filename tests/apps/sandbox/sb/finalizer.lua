-- __gc on a table (LuaJIT ignores it; newproxy, which honours it, is absent).
for _ = 1, 100 do
    setmetatable({}, { __gc = function() ngx.log(ngx.ERR, "GC-FINALIZER-RAN") end })
end
ngx.say(newproxy == nil and "no newproxy" or "ESCAPED: newproxy")
