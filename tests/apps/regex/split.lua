-- require "ngx.re": split and opt.
local re = require "ngx.re"
local function show(res, err)
    if not res then ngx.say("nil ", err) return end
    ngx.say(#res, " ", table.concat(res, "|"))
end
show(re.split("a, b,c", [[,\s*]]))
show(re.split("a1b2c", [[(\d)]]))
show(re.split("a,b,c", ",", "jo", nil, 2))
show(re.split("abc", ""))
show(re.split("a,b", "("))
ngx.say(pcall(re.opt, "nope", 1))
ngx.say(type(re.split), " ", type(re.opt))
