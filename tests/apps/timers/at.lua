-- A timer writes what it saw to a file: premature, its arguments, the
-- phase, whether the response had gone (the handler wrote "answered").
local out = ngx.var.arg_out
local delay = tonumber(ngx.var.arg_delay) or 0
local ok, err = ngx.timer.at(delay, function(premature, a, b, t, ...)
    local f = assert(io.open(out, "a"))
    f:write(table.concat({tostring(premature), tostring(a), tostring(b), type(t),
        tostring(select("#", ...)), ngx.get_phase(), tostring(ngx.worker.exiting()),
        tostring(rawget(_G, "leaked"))}, " "), "\n")
    f:close()
end, "x", nil, {}, nil)
leaked = "from the handler"
ngx.say("scheduled ", tostring(ok), " ", tostring(err), " pending ", ngx.timer.pending_count())
