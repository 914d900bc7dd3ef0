-- sub and gsub: templates ($0, $N, ${N}, $$), functions (with named
-- captures, returning numbers or nil), and the counts.
local function show(...)
    local t = {}
    for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
    ngx.say(table.concat(t, " | "))
end
show(ngx.re.gsub("hello world", [[(\w+) (\w+)]], "$2 $1"))
show(ngx.re.gsub("abc", "b", "[$0][${0}]"))
show(ngx.re.gsub("a.b.c", [[\.]], "$$"))
show(ngx.re.sub("aaa", "a", "b"))
show(ngx.re.gsub("aaa", "a", "b"))
show(ngx.re.gsub("abc", "x*", "-"))
show(ngx.re.gsub("x=1, y=22", [[(?<k>\w)=(?<v>\d+)]], function(m) return m.v .. m.k end))
show(ngx.re.gsub("abc", "[ac]", function(m) return #m[0] end))
show(ngx.re.gsub("abc", "b", function() return nil end))
show(ngx.re.gsub("ab", "(a)|(b)", "<$1$2>"))
show(ngx.re.gsub("abcdefghijk", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", "$10|${1}0"))
local calls = 0
show(ngx.re.gsub("a1b2", [[\d]], function(m)
    calls = calls + 1
    -- ngx.re inside the callback: the outer match goes on unharmed
    return ngx.re.gsub(m[0], [[\d]], "#")
end, "jo"), calls)
