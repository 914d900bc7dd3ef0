-- Every option letter, one line each.
local function m0(...)
    local m, err = ngx.re.match(...)
    if not m then return tostring(err) end
    return m[0]
end
ngx.say("i ", m0("HeLLo", "hello", "i"), " ", tostring(ngx.re.match("HeLLo", "hello")))
ngx.say("m ", m0("a\nb", "^b$", "m"), " ", tostring(ngx.re.match("a\nb", "^b$")))
ngx.say("s ", #m0("a\nb", "a.b", "s"), " ", tostring(ngx.re.match("a\nb", "a.b")))
ngx.say("x ", m0("ab12", [[ \d+  # digits ]], "x"))
ngx.say("u ", #m0("h\xc3\xa9!", "^..", "u"), " ", #m0("h\xc3\xa9!", "^.."))
ngx.say("U ", #m0("\xc3\xa9", ".", "U"))
ngx.say("u bad ", m0("\xff", ".", "u"))
ngx.say("a ", tostring(ngx.re.match("xab", "ab", "a")), " ", m0("abx", "ab", "a"))
ngx.say("d ", m0("<a><b>", "<.*>", "d"), " ", m0("<a><b>", "<.*?>"))
ngx.say("D ", table.concat(ngx.re.match("1 2", [[(?<n>\d) (?<n>\d)]], "D").n, "+"))
ngx.say("J ", m0("x", "[]|x", "J"), " ", m0("x", "[]|x"):sub(1, 40))
ngx.say("j ", m0("abc", "b+", "j"), " o ", m0("abc", "b+", "o"), " jo ", m0("abc", "c", "jo"))
