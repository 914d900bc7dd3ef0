-- require ?m and say what happened
local ok, res = pcall(require, ngx.var.arg_m)
ngx.say(tostring(ok), " ", ok and type(res) or (tostring(res):gsub("^.-:%d+: ", "")))
