local out = ngx.var.arg_out
for i = 1, 5 do
    ngx.timer.at(0, function()
        ngx.sleep(0.5)
        local f = assert(io.open(out, "a"))
        f:write("ran ", i, "\n")
        f:close()
    end)
end
ngx.say("scheduled")
