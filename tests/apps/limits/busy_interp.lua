-- Interpreted (no JIT for this function): the hook stops it (the soft deadline).
jit.off(true)
local i = 0
while true do
    i = i + 1
end
