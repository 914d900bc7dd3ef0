-- ngx.say/ngx.print write numbers as lua-nginx-module does: integers that
-- fit 32 bits as integers, anything else with C's "%.14g" (so -0 is "0",
-- 0/0 is glibc's "-nan", and an exact tie rounds to even, unlike tostring)
local vals = {
    0, -0, 1, -1, 42, 2147483647, -2147483648, 2147483648, 4294967296,
    1.5, -2.25, 0.1, 1/3, 1e14, 1e15, 1e16, 123456789012345, 1234567890123456,
    2^53, 2^63, -2^63, 1e100, -1e300, 1e-5, 5e-324, 123456.789, 1e21,
    math.huge, -math.huge, 0/0, -(0/0), math.pi,
}
for i, v in ipairs(vals) do
    ngx.say(i, " ", v, " ", {v, "|", v})
    ngx.print(v, "\n")
end
ngx.say(tostring(123456789012345), " ", tostring(-0))
