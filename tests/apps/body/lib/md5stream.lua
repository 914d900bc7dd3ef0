-- md5stream.lua - MD5 (RFC 1321) fed piece by piece, for hashing a file
-- that is too big to hold as one string (ngx.md5 takes a whole string).
-- LuaJIT only: bit ops, and FFI to read the 16 little-endian words of a
-- block straight from the Lua string.
local bit = require "bit"
local ffi = require "ffi"

local band, bor, bxor, bnot, rol, tobit = bit.band, bit.bor, bit.bxor, bit.bnot, bit.rol, bit.tobit
local floor, abs, sin = math.floor, math.abs, math.sin

assert(ffi.abi("le"), "md5stream reads words in host order: little-endian only")

local K, S = {}, {}
local shifts = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}}
for i = 0, 63 do
    K[i] = tobit(floor(abs(sin(i + 1)) * 2 ^ 32))
    S[i] = shifts[floor(i / 16) + 1][i % 4 + 1]
end

local words_t = ffi.typeof("const int32_t *")

local function blocks(st, s, first, nblocks)
    local w = ffi.cast(words_t, ffi.cast("const char *", s) + first)
    local h0, h1, h2, h3 = st[1], st[2], st[3], st[4]
    for blk = 0, nblocks - 1 do
        local base = blk * 16
        local a, b, c, d = h0, h1, h2, h3
        for i = 0, 63 do
            local f, g
            if i < 16 then
                f = bor(band(b, c), band(bnot(b), d)); g = i
            elseif i < 32 then
                f = bor(band(d, b), band(bnot(d), c)); g = (5 * i + 1) % 16
            elseif i < 48 then
                f = bxor(b, c, d); g = (3 * i + 5) % 16
            else
                f = bxor(c, bor(b, bnot(d))); g = (7 * i) % 16
            end
            a, d, c, b = d, c, b, tobit(b + rol(tobit(a + f + K[i] + w[base + g]), S[i]))
        end
        h0, h1, h2, h3 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c), tobit(h3 + d)
    end
    st[1], st[2], st[3], st[4] = h0, h1, h2, h3
end

local M = {}
M.__index = M

function M.new()
    return setmetatable({st = {tobit(0x67452301), tobit(0xefcdab89), tobit(0x98badcfe), tobit(0x10325476)},
                         rest = "", len = 0}, M)
end

function M:update(s)
    self.len = self.len + #s
    if #self.rest > 0 then
        s = self.rest .. s
    end
    local n = floor(#s / 64)
    if n > 0 then
        blocks(self.st, s, 0, n)
    end
    self.rest = s:sub(n * 64 + 1)
end

function M:final()
    local bits = self.len * 8
    local tail = self.rest .. "\128" .. string.rep("\0", (55 - #self.rest) % 64)
    local lenbytes = {}
    for i = 1, 8 do
        lenbytes[i] = string.char(bits % 256)
        bits = floor(bits / 256)
    end
    tail = tail .. table.concat(lenbytes)
    blocks(self.st, tail, 0, #tail / 64)
    local hex = {}
    for i = 1, 4 do
        hex[i] = bit.tohex(bit.bswap(self.st[i]), 8)
    end
    return table.concat(hex)
end

-- The MD5 of a file read in chunks of `chunk` bytes, and its size.
function M.file(path, chunk)
    local f, err = io.open(path, "rb")
    if not f then
        return nil, err
    end
    local h = M.new()
    while true do
        local s = f:read(chunk or 65536)
        if not s then
            break
        end
        h:update(s)
    end
    f:close()
    return h:final(), h.len
end

return M
