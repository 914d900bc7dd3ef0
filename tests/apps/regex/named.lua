-- Named captures, with and without D, a group that took no part, and a
-- res table given back to match.
local m = ngx.re.match("2024-06-30", [[(?<y>\d+)-(?<m>\d+)-(?<d>\d+)]])
ngx.say(m.y, " ", m.m, " ", m.d, " ", m[1], " ", #m)
m = ngx.re.match("b", [[(?<a>a)?(?<b>b)]])
ngx.say(tostring(m.a), " ", m.b, " ", tostring(m[1]))
m = ngx.re.match("ab", [[(?<x>a)(?<x>b)]], "D")
ngx.say(#m.x, " ", m.x[1], m.x[2])
m = ngx.re.match("b", [[(?:(?<x>a)|(?<x>b))]], "D")
ngx.say(#m.x, " ", m.x[1])
local res = {}
local r = ngx.re.match("k=v", [[(?<k>\w)=(?<v>\w)]], nil, nil, res)
ngx.say(tostring(r == res), " ", res[0], " ", res.k, res.v)
local ctx = {}
local out = {}
while true do
    local mm = ngx.re.match("a1b2c3", [[(?<l>[a-z])(?<d>\d)]], "jo", ctx)
    if not mm then break end
    out[#out + 1] = mm.l .. mm.d .. "@" .. ctx.pos
end
ngx.say(table.concat(out, " "))
