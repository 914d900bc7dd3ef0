-- strings.lua - ngx.escape_uri/unescape_uri, encode_args/decode_args,
-- md5/sha1/hmac_sha1/crc32, base64 and quote_sql_str (src/api/api_string.c).
-- The output is deterministic: multi-key results are sorted.
local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- the error message of f(...) without its "file:line: " prefix
local function perr(f, ...)
    local ok, err = pcall(f, ...)
    if ok then
        return "ok"
    end
    return (tostring(err):gsub("^[^:]*:%d+: ", ""))
end

local function sorted_args(s)
    local parts = {}
    for p in s:gmatch("[^&]+") do parts[#parts + 1] = p end
    table.sort(parts)
    return table.concat(parts, "&")
end

local function dump(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    local out = {}
    for _, k in ipairs(keys) do
        local v = t[k]
        if type(v) == "table" then
            local vs = {}
            for i, x in ipairs(v) do vs[i] = tostring(x) end
            v = "{" .. table.concat(vs, ",") .. "}"
        end
        out[#out + 1] = k .. "=[" .. tostring(v) .. "]"
    end
    return table.concat(out, " ")
end

local function count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
end

ngx.say("-- escape_uri")
ngx.say(ngx.escape_uri("a b&c=d/e?f#g~h_i.j-k"))
ngx.say(ngx.escape_uri("caf\195\169 \0 +%"))
ngx.say(ngx.escape_uri("!*'()@:[]{}|\\^`\"<>$,;+"))
ngx.say(ngx.escape_uri("a b#%?/&=+\1\127\128", 0))
ngx.say(ngx.escape_uri("a b+&=#", 1))
ngx.say("[", ngx.escape_uri(nil), "][", ngx.escape_uri(false), "][",
        ngx.escape_uri(12.5), "][", ngx.escape_uri(true), "][", ngx.escape_uri(""), "]")
ngx.say(perr(ngx.escape_uri, "x", "2"), " | ", perr(ngx.escape_uri, "x", 7))

ngx.say("-- unescape_uri")
ngx.say(ngx.unescape_uri("a%20b+c%2Fd%zz%4"))
ngx.say(ngx.unescape_uri("%%41%+%4+100%"))
ngx.say(ngx.unescape_uri("caf%C3%a9"), " [", ngx.unescape_uri(nil), "] ", ngx.unescape_uri(32))

ngx.say("-- encode_args")
ngx.say(ngx.encode_args({q = "a b&c"}))
ngx.say(ngx.encode_args({k = {"x", "y z", true, false, 3}}))
ngx.say(ngx.encode_args({["a b"] = true}), "|", ngx.encode_args({off = false}), "|",
        ngx.encode_args({}), "|", ngx.encode_args({n = 3.5}), "|", ngx.encode_args({e = ""}),
        "|", ngx.encode_args({k = {}}))
ngx.say(sorted_args(ngx.encode_args({b = 2, a = "1", c = true, d = false, ["x/y"] = {"p", "q"}})))
ngx.say(perr(ngx.encode_args, {f = print}))
ngx.say(perr(ngx.encode_args, {k = {{}}}))
ngx.say(perr(ngx.encode_args, {"x"}))
ngx.say(perr(ngx.encode_args, "x"))
ngx.say(perr(ngx.encode_args))

ngx.say("-- decode_args")
ngx.say(dump(ngx.decode_args("a=1&b=x%20y&a=2&c&d=&=v&&e=f=g&a=3&sp=x+y%20z&enc=%41%2F")))
ngx.say(dump(ngx.decode_args("a=%zz&b=%4&c=100%&d=%41%g1&k+1=%3D&c")))
local t, err = ngx.decode_args("")
ngx.say(count(t), " ", tostring(err))
t, err = ngx.decode_args("a=1&b=2&c=3", 2)
ngx.say(dump(t), " ", tostring(err))
t, err = ngx.decode_args("a&b", 2)
ngx.say(dump(t), " ", tostring(err))
t, err = ngx.decode_args("a&b&", 2)
ngx.say(dump(t), " ", tostring(err))
local many = {}
for i = 1, 120 do many[i] = "k" .. i .. "=" .. i end
many = table.concat(many, "&")
t, err = ngx.decode_args(many)
ngx.say("default: ", count(t), " ", tostring(err), " ", tostring(t.k100), " ", tostring(t.k101))
t, err = ngx.decode_args(many, 0)
ngx.say("unlimited: ", count(t), " ", tostring(err))
ngx.say(perr(ngx.decode_args), " | ", perr(ngx.decode_args, nil))

ngx.say("-- digests")
ngx.say(ngx.md5("hello"), " ", ngx.md5(""), " ", ngx.md5(42), " ", ngx.md5(nil))
ngx.say(hex(ngx.md5_bin("hello")), " ", #ngx.md5_bin("hello"))
ngx.say(ngx.md5(string.rep("a", 1000)))
ngx.say(ngx.md5(string.rep("x", 55)), " ", ngx.md5(string.rep("x", 56)), " ", ngx.md5(string.rep("x", 64)))
ngx.say(hex(ngx.sha1_bin("abc")), " ", #ngx.sha1_bin("abc"))
ngx.say(hex(ngx.sha1_bin("")), " ", hex(ngx.sha1_bin(nil)))
ngx.say(hex(ngx.sha1_bin(string.rep("a", 1000))))
ngx.say(hex(ngx.sha1_bin("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
ngx.say(hex(ngx.hmac_sha1("key", "The quick brown fox jumps over the lazy dog")))
ngx.say(hex(ngx.hmac_sha1(string.rep("k", 100), "message")), " ", hex(ngx.hmac_sha1("", "")))
ngx.say(perr(ngx.hmac_sha1, "key"), " | ", perr(ngx.hmac_sha1, nil, "x"))
ngx.say(ngx.crc32_long("The quick brown fox jumps over the lazy dog"), " ",
        ngx.crc32_short("hello"), " ", ngx.crc32_long("hello"), " ", ngx.crc32_short(""),
        " ", ngx.crc32_long(nil), " ", ngx.crc32_short(123))

ngx.say("-- base64")
ngx.say(ngx.encode_base64("hello world"), " [", ngx.encode_base64(""), "] ", ngx.encode_base64("a"),
        " ", ngx.encode_base64("ab"), " ", ngx.encode_base64("abc"), " [", ngx.encode_base64(nil), "]")
ngx.say(ngx.encode_base64("a", true), " ", ngx.encode_base64("ab", true), " ", ngx.encode_base64("a", false))
ngx.say(ngx.encode_base64("\0\255\254"), " ", ngx.encode_base64(12))
ngx.say(ngx.decode_base64("aGVsbG8gd29ybGQ="), " [", ngx.decode_base64(""), "]")
ngx.say(tostring(ngx.decode_base64("YQ")), " ", tostring(ngx.decode_base64("YQ=")), " ",
        tostring(ngx.decode_base64("YQ==")), " ", tostring(ngx.decode_base64("YWI")), " ",
        tostring(ngx.decode_base64("YQ=garbage")), " [", tostring(ngx.decode_base64("=")), "]")
ngx.say(tostring(ngx.decode_base64("not base64!")), " ", tostring(ngx.decode_base64("Y")), " ",
        tostring(ngx.decode_base64("YW Jj")), " ", tostring(ngx.decode_base64("YWJjZ")), " ",
        tostring(ngx.decode_base64("YW-j")))
ngx.say(hex(ngx.decode_base64("AP/+")))
ngx.say(perr(ngx.decode_base64, nil), " | ", perr(ngx.decode_base64, 12), " | ",
        perr(ngx.encode_base64, "a", 1))

ngx.say("-- quote_sql_str")
ngx.say(ngx.quote_sql_str("it's \"q\" \\ \0\b\n\r\t\26 caf\195\169"))
ngx.say(ngx.quote_sql_str(""), " ", ngx.quote_sql_str(12), " ", ngx.quote_sql_str("plain"))
ngx.say(perr(ngx.quote_sql_str), " | ", perr(ngx.quote_sql_str, nil))
