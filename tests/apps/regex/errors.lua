-- Errors as OpenResty returns them (values, not raised), and the option
-- letter it raises for.
local function show(...)
    local t = {}
    for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
    ngx.say(table.concat(t, " | "))
end
show(ngx.re.match("x", "a("))
show(ngx.re.find("x", "[b"))
show(ngx.re.gmatch("x", "x{3,2}"))
show(ngx.re.sub("x", "+", "y"))
show(ngx.re.gsub("x", "a)", "y"))
show(ngx.re.match("x", [[(?<n>.)(?<n>.)]]))
show(ngx.re.sub("x", "x", "${x}"))
show(ngx.re.gsub("x", "x", "$"))
show(ngx.re.find("ab", "(a)", nil, nil, 2))
show(ngx.re.match("abc", "a", nil, {pos = 9}))
show(ngx.re.match("\xff", "x", "u"))
-- (OpenResty's message starts with a place in resty/core/regex.lua)
local function raised(ok, err)
    return ok, (tostring(err):gsub("^.-:%d+: ", ""))
end
show(raised(pcall(ngx.re.match, "x", "x", "jq")))
show(raised(pcall(ngx.re.gsub, "x", "x", "y", "?")))
