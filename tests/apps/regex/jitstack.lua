-- opt("jit_stack_size") works while nothing is cached, then refuses.
local re = require "ngx.re"
local ok, err = pcall(re.opt, "jit_stack_size", 256 * 1024)
ngx.say("before: ", tostring(ok), " ", tostring(err))
ngx.re.match("abc", "b", "jo")
ok, err = pcall(re.opt, "jit_stack_size", 256 * 1024)
ngx.say("after: ", tostring(ok), " ", tostring(err))
