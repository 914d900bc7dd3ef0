-- regex: one ngx.re.match with "jo" per request (compiled once, JIT),
-- three captures of a request line.
local m = ngx.re.match("GET /api/v2/users/12345/profile HTTP/1.1",
    [[^(\w+) /api/v\d+/users/(\d+)/(\w+)]], "jo")
ngx.say(m[1], " ", m[2], " ", m[3])
