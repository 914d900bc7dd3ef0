-- output calls once a response has ended: after ngx.eof, and after the
-- headers of a HEAD response; the results are shown by a later request
local record = require "record"
local function note(name, ...)
    local t = {name}
    for i = 1, select("#", ...) do t[#t + 1] = tostring((select(i, ...))) end
    record[#record + 1] = table.concat(t, " ")
end
local how = ngx.var.arg_how
if how == "show" then
    for _, line in ipairs(record) do ngx.say(line) end
    return
end
note("== " .. how, ngx.req.get_method())
if how == "eof" then
    note("flush before output", ngx.flush())
    note("flush(true) before output", ngx.flush(true))
    note("status before output", ngx.status)
    note("say", ngx.say("body"))
    note("flush", ngx.flush())
    note("eof", ngx.eof())
end
ngx.header["X-Method"] = ngx.req.get_method()
note("say", ngx.say("hidden"))
note("print", ngx.print("again"))
note("flush", ngx.flush(true))
note("eof", ngx.eof())
note("eof", ngx.eof())
note("status", ngx.status, ngx.headers_sent)
