local out = ngx.var.arg_out
local ok, err = ngx.timer.every(0.05, function(premature, tag)
    local f = assert(io.open(out, "a"))
    f:write(tag, " ", tostring(premature), "\n")
    f:close()
end, "tick")
ngx.say("every ", tostring(ok), " ", tostring(err))
