-- Debian's lua-nginx-dns, unchanged: an A query over UDP (the default)
-- and over TCP to the DNS server on ?port.
local resolver = require "resty.dns.resolver"
local r, err = resolver:new({ nameservers = { { "127.0.0.1", tonumber(ngx.var.arg_port) } },
                              retrans = 2, timeout = 1000 })
if not r then
    ngx.say("new failed: ", err)
    return
end
local function show(how, answers, qerr)
    if not answers then
        ngx.say(how, " failed: ", qerr)
        return
    end
    if answers.errcode then
        ngx.say(how, " errcode ", answers.errcode, ": ", answers.errstr)
        return
    end
    for _, a in ipairs(answers) do
        ngx.say(how, " ", a.name, " ", a.address or "-", " type ", a.type)
    end
end
show("udp", r:query(ngx.var.arg_name or "name.test", { qtype = r.TYPE_A }))
show("tcp", r:tcp_query(ngx.var.arg_name or "name.test", { qtype = r.TYPE_A }))
