-- luafpm.lint: luafpm --lint, lua-releng's check on LuaJIT's own bytecode.
-- Every GSET (a write to a global) and every GGET of a name that is not a
-- known global is a finding; "_G.x = 1" and rawset(_G, ...) are explicit
-- and compile to other instructions, so they are not reported.
local jutil = require "jit.util"
local bit = require "bit"

local funcinfo, funcbc, funck = jutil.funcinfo, jutil.funcbc, jutil.funck
local band, rshift = bit.band, bit.rshift
local sort = table.sort

-- The opcode numbers of GGET and GSET, read from what this LuaJIT compiles
-- "x = y" to (GGET y, then GSET x), so that no opcode table is needed.
local function global_opcodes()
    local probe = assert(loadstring("x = y"))
    return band(funcbc(probe, 1), 0xff), band(funcbc(probe, 2), 0xff)
end

local GGET, GSET = global_opcodes()

-- Record every global access in proto f and the protos nested in it.
local function walk(f, found)
    local pc = 1
    while true do
        local ins = funcbc(f, pc)
        if not ins then
            break
        end
        local op = band(ins, 0xff)
        if op == GGET or op == GSET then
            local name = funck(f, -rshift(ins, 16) - 1)
            found[#found + 1] = {
                line = funcinfo(f, pc).currentline or 0,
                write = op == GSET,
                name = name,
            }
        end
        pc = pc + 1
    end
    for i = 1, funcinfo(f).gcconsts or 0 do
        local k = funck(f, -i)
        if type(k) == "proto" or type(k) == "function" then
            walk(k, found)
        end
    end
end

-- The function a handler file compiles to, as the worker gets it: the
-- factory (lf_vm_compile) called once, which runs none of the file's code.
local function load_handler(compile, path)
    local factory, err = compile(path)
    if not factory then
        return nil, err
    end
    local ok, f = pcall(factory)
    if not ok then
        return nil, tostring(f)
    end
    return f
end

-- Add the findings of the file at path to sites; true when it writes a
-- global or does not compile.
local function lint_file(path, known, compile, sites)
    local f, err = load_handler(compile, path)
    if not f then
        -- The message starts with the chunk name, shortened when long:
        -- print the path in full.
        local line, msg = err:match("^.-:(%d+): (.*)$")
        sites[#sites + 1] = {
            file = path,
            line = tonumber(line) or 0,
            text = line and (path .. ":" .. line .. ": " .. msg) or err,
        }
        return true
    end
    local found, dup, writes = {}, {}, false
    walk(f, found)
    for _, s in ipairs(found) do
        if s.write or not known[s.name] then
            local text = path .. ":" .. s.line .. ": "
                .. (s.write and "writing global '" or "reading undefined global '")
                .. s.name .. "'"
            if not dup[text] then
                dup[text] = true
                sites[#sites + 1] = {file = path, line = s.line, text = text}
            end
            writes = writes or s.write
        end
    end
    -- Bytecode saved by "luajit -b" is stripped of line numbers: its
    -- sites are at line 0, after this note.
    if next(dup) and funcinfo(f).lastlinedefined == 0 then
        sites[#sites + 1] = {
            file = path,
            line = -1,
            text = path .. ":0: stripped bytecode, no line numbers (luajit -bg keeps them)",
        }
    end
    return writes
end

-- Lint the files (paths, any order, duplicates allowed) with the names in
-- extra (an array) known besides the VM's own globals.  compile(path)
-- returns the handler's factory or nil and "path:line: message".  Returns
-- the report lines, sorted by file then line, and whether any global is
-- written or a file does not compile.
return function(files, extra, compile)
    local known = {}
    for name in pairs(_G) do
        known[name] = true
    end
    for _, name in ipairs(extra) do
        known[name] = true
    end

    local seen, sites, failed = {}, {}, false
    for _, path in ipairs(files) do
        if not seen[path] then
            seen[path] = true
            failed = lint_file(path, known, compile, sites) or failed
        end
    end

    sort(sites, function(a, b)
        if a.file ~= b.file then
            return a.file < b.file
        end
        if a.line ~= b.line then
            return a.line < b.line
        end
        return a.text < b.text
    end)
    local lines = {}
    for i, s in ipairs(sites) do
        lines[i] = s.text
    end
    return lines, failed
end
