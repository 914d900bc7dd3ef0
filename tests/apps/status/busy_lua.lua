-- interpreted work (jit off), so the slowlog's hook sees where it is
jit.off(true, true)
local function spin(seconds)
    local t0 = os.clock()
    while os.clock() - t0 < seconds do end
end
spin(tonumber(ngx.var.arg_s) or 0.8)
ngx.say("busy done")
