-- A global written here must be gone in the next request; the module's
-- counter (an upvalue of a required module) must keep counting.
local counter = require "counter"
ngx.say("seen=", tostring(seen), " count=", counter.next())
seen = true
ngx.say("module sees handler global: ", tostring(counter.peek()))
ngx.say("module global: ", tostring(COUNTER_LOADS))
ngx.say("_G.seen: ", tostring(rawget(_G, "seen")))
