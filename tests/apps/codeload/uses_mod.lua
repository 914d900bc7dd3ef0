local m = require "watched"
ngx.say(m.version, " ", m.area(3, 4))
