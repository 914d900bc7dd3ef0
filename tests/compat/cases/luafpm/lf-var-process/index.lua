-- variables about the worker process and the clock, beside ngx.worker.*
-- (both targets run one worker); values that depend on the machine are
-- shown by their form
ngx.header["X-Foo"] = "bar"
local before = "sent_http_x_foo " .. ngx.var.sent_http_x_foo .. " content_type "
               .. tostring(ngx.var.sent_http_content_type) .. " status " .. ngx.var.status
local function form(v)
    return type(v) .. " " .. (tostring(v):gsub("%d", "9"):gsub("9+", "9"))
end
ngx.say("var.pid ", form(ngx.var.pid), " ", ngx.var.pid == tostring(ngx.worker.pid()))
ngx.say("worker.pid ", type(ngx.worker.pid()))
ngx.say("worker.id ", ngx.worker.id(), " count ", ngx.worker.count())
local pids = ngx.worker.pids()
ngx.say("worker.pids ", type(pids), " ", #pids, " ", pids[1] == ngx.worker.pid())
ngx.say("worker.exiting ", tostring(ngx.worker.exiting()))
local h = ngx.var.hostname
ngx.say("hostname ", type(h), " ", #h > 0, " ", h == h:lower())
ngx.say("nginx_version ", form(ngx.var.nginx_version))
ngx.say("msec ", form(ngx.var.msec), " ", math.abs(tonumber(ngx.var.msec) - ngx.now()) < 2)
ngx.say("time_local ", (ngx.var.time_local:gsub("%d", "9"):gsub("%a", "M")))
ngx.say("time_iso8601 ", (ngx.var.time_iso8601:gsub("%d", "9")))
ngx.say("request_time ", form(ngx.var.request_time), " ", tonumber(ngx.var.request_time) < 2)
ngx.say("binary_remote_addr ", #ngx.var.binary_remote_addr, " ",
        ngx.var.binary_remote_addr == "\127\0\0\1")
ngx.say("https [", ngx.var.https, "]")
ngx.say("realpath_root ", ngx.var.realpath_root == ngx.var.document_root)
ngx.say("content_length ", tostring(ngx.var.content_length), " content_type ",
        tostring(ngx.var.content_type), " remote_user ", tostring(ngx.var.remote_user))
ngx.say("http-host ", tostring(ngx.var["http-host"]))
ngx.say("before output: ", before)
ngx.say("after output: content_type ", tostring(ngx.var.sent_http_content_type), " status ",
        ngx.var.status)
