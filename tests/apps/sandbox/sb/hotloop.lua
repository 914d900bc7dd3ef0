-- Hot enough for the JIT to compile it (were it on): only the count hook
-- can stop it.
ngx.say("start")
local n = 0
for i = 1, 1e12 do
    n = n + i % 7
end
ngx.say("after ", n)
