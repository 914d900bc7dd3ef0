-- times.lua - ngx.time/now/update_time/today/localtime/utctime and
-- ngx.http_time/cookie_time/parse_http_time.  One "ok NAME" line per
-- check, or "FAIL NAME: got ... expected ...".

local function check(name, got, expected)
    if got == expected then
        ngx.say("ok ", name)
    else
        ngx.say("FAIL ", name, ": got ", tostring(got), " expected ", tostring(expected))
    end
end

-- http_time
check("http_time 0", ngx.http_time(0), "Thu, 01 Jan 1970 00:00:00 GMT")
check("http_time", ngx.http_time(1290079655), "Thu, 18 Nov 2010 11:27:35 GMT")
check("http_time truncates", ngx.http_time(1290079655.9), "Thu, 18 Nov 2010 11:27:35 GMT")
check("http_time leap day", ngx.http_time(1709164800), "Thu, 29 Feb 2024 00:00:00 GMT")
check("http_time 9999", ngx.http_time(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT")

-- cookie_time: 2-digit years up to 2037, 4-digit years after
check("cookie_time", ngx.cookie_time(1290079655), "Thu, 18-Nov-10 11:27:35 GMT")
check("cookie_time 0", ngx.cookie_time(0), "Thu, 01-Jan-70 00:00:00 GMT")
check("cookie_time 2000", ngx.cookie_time(946684800), "Sat, 01-Jan-00 00:00:00 GMT")
check("cookie_time 2037", ngx.cookie_time(2145916799), "Thu, 31-Dec-37 23:59:59 GMT")
check("cookie_time 2038", ngx.cookie_time(2145916800), "Fri, 01-Jan-2038 00:00:00 GMT")

-- parse_http_time: RFC 822/1123, RFC 850, asctime
local P = ngx.parse_http_time
check("parse rfc1123", P("Thu, 18 Nov 2010 11:27:35 GMT"), 1290079655)
check("parse rfc850", P("Thursday, 18-Nov-10 11:27:35 GMT"), 1290079655)
check("parse asctime", P("Thu Nov 18 11:27:35 2010"), 1290079655)
check("parse asctime 1-digit day", P("Thu Nov  8 11:27:35 2010"), 1289215655)
check("parse rfc1123 1994", P("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777)
check("parse rfc850 1994", P("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777)
check("parse asctime 1994", P("Sun Nov  6 08:49:37 1994"), 784111777)
check("parse rfc850 69 is 2069", P("Tuesday, 01-Jan-69 00:00:00 GMT"), 3124224000)
check("parse leap day", P("Thu, 29 Feb 2024 00:00:00 GMT"), 1709164800)
check("parse epoch", P("Thu, 01 Jan 1970 00:00:00 GMT"), 0)
check("parse 2038", P("Fri, 01 Jan 2038 00:00:00 GMT"), 2145916800)
check("parse before 1970", P("Wed, 31 Dec 1969 23:59:58 GMT"), -2)
check("parse no zone", P("Thu, 18 Nov 2010 11:27:35"), 1290079655)
check("parse weekday unchecked", P("Mon, 18 Nov 2010 11:27:35 GMT"), 1290079655)
check("parse not a date", P("not a date"), nil)
check("parse empty", P(""), nil)
check("parse no leap day", P("Wed, 29 Feb 2023 00:00:00 GMT"), nil)
check("parse 31 Apr", P("Fri, 31 Apr 2010 00:00:00 GMT"), nil)
check("parse hour 24", P("Thu, 18 Nov 2010 24:00:00 GMT"), nil)
check("parse bad month", P("Thu, 18 Xyz 2010 11:27:35 GMT"), nil)
check("parse short", P("Thu, 18 Nov 2010 11:27"), nil)
check("parse no weekday", P("18 Nov 2010 11:27:35 GMT"), nil)

-- round trips
local rt = true
for _, t in ipairs({0, 1, 59, 86399, 951782400, 1290079655, 1700000000, 2145916800, 4102444800}) do
    if P(ngx.http_time(t)) ~= t then
        rt = false
        ngx.say("FAIL round trip ", t, ": ", ngx.http_time(t))
    end
end
check("http_time round trips", rt, true)

-- argument types, as resty.core: error("... argument only", 2)
local ok, err = pcall(ngx.http_time, "1290079655")
check("http_time string arg", ok == false and err, "number argument only")
ok, err = pcall(ngx.cookie_time)
check("cookie_time no arg", ok == false and err, "number argument only")
ok, err = pcall(ngx.parse_http_time, 1290079655)
check("parse_http_time number arg", ok == false and err, "string argument only")
ok, err = pcall(function() local s = ngx.http_time({}) return s end)
check("error at the caller's line", ok == false and err:match(":%d+: number argument only$") ~= nil, true)

-- the cached clock
local t, now = ngx.time(), ngx.now()
check("time is a number", type(t), "number")
check("time is whole", t == math.floor(t), true)
check("time is recent", t > 1700000000, true)
check("now is a number", type(now), "number")
check("now - time in [0, 1)", now - t >= 0 and now - t < 1, true)
check("now has ms precision", math.abs(now * 1000 - math.floor(now * 1000 + 0.5)) < 1e-3, true)
check("now formats like d{10}.d{1,3}",
      tostring(now):match("^%d%d%d%d%d%d%d%d%d%d$") ~= nil
      or tostring(now):match("^%d%d%d%d%d%d%d%d%d%d%.%d%d?%d?$") ~= nil, true)
check("start_time <= now", ngx.req.start_time() <= now, true)

local c = os.clock()
while os.clock() - c < 0.02 do end      -- 20 ms of CPU, so >= 20 ms passed
check("now is cached", ngx.now(), now)
check("time is cached", ngx.time(), t)
check("update_time returns nothing", select("#", ngx.update_time()), 0)
local now2 = ngx.now()
check("now moves after update_time", now2 > now, true)
check("now moved by about the time spent", now2 - now >= 0.019 and now2 - now < 5, true)
ngx.update_time()
check("now never goes back", ngx.now() >= now2, true)

-- dates of the cached time
t = ngx.time()
local today, lt, ut = ngx.today(), ngx.localtime(), ngx.utctime()
check("today format", today:match("^%d%d%d%d%-%d%d%-%d%d$") ~= nil, true)
check("localtime format", lt:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$") ~= nil, true)
check("utctime format", ut:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$") ~= nil, true)
check("today is localtime's date", today, lt:sub(1, 10))
check("localtime is local", lt, os.date("%Y-%m-%d %H:%M:%S", t))
check("utctime is UTC", ut, os.date("!%Y-%m-%d %H:%M:%S", t))
check("http_time of now", P(ngx.http_time(t)), t)
