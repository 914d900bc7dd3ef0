local t0 = ngx.now()
ngx.sleep(0.2)
local dt = ngx.now() - t0
ngx.say("slept_enough=", dt >= 0.19, " not_too_long=", dt < 2)
local ok, err = pcall(ngx.sleep, -1)
ngx.say("negative ", ok, " ", (tostring(err):gsub("^.-:%d+: ", "")))
