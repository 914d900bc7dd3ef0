-- Logs ?n= at error level and on stdout/stderr (where libraries write), then answers.
local n = ngx.var.arg_n or "-"
ngx.log(ngx.ERR, "log line ", n)
io.stdout:write("stdout junk ", n, "\n")
io.stdout:flush()
io.stderr:write("stderr junk ", n, "\n")
ngx.say("logged ", n)
