-- ngx.status reads 0 until set, and the status sent (200 by default) once
-- output began; $status likewise ("000" before); a number is cut to an
-- integer, a numeric string is taken, 0 unsets it; setting it after
-- output is ignored (an error-log line)
local how = ngx.var.arg_how
local t = {"before " .. ngx.status .. " " .. ngx.var.status}
if how == "set" then
    ngx.status = "404"
    t[#t + 1] = "string " .. ngx.status
    ngx.status = 201.9
    t[#t + 1] = "cut " .. ngx.status .. " " .. ngx.var.status
    ngx.status = 0
    t[#t + 1] = "unset " .. ngx.status
    ngx.status = 202
end
ngx.header["X-Before"] = table.concat(t, ", ")
ngx.say("first")
ngx.say("after output ", ngx.status, " ", ngx.var.status, " ", tostring(ngx.headers_sent))
ngx.status = 500
ngx.say("after set ", ngx.status)
ngx.flush(true)
ngx.say("after flush ", ngx.status)
