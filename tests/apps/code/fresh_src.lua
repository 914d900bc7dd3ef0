-- Each request's function is its own: one kept from an earlier request
-- (in a module, which lives for the worker) is another function, with
-- another environment.
local keep = require "keep"
local me = debug.getinfo(1, "f").func
marker = ngx.var.arg_n
local seen = {}
for i, f in ipairs(keep) do
    seen[#seen + 1] = (f == me and "same" or "other") .. ":" .. tostring(getfenv(f).marker)
end
keep[#keep + 1] = me
ngx.say(#keep, " ", table.concat(seen, ","))
