local t0 = ngx.now()
local function work(name)
    ngx.sleep(0.6)
    return name
end
local a = ngx.thread.spawn(work, "a")
local b = ngx.thread.spawn(work, "b")
local _, ra = ngx.thread.wait(a)
local _, rb = ngx.thread.wait(b)
ngx.update_time()
ngx.say(ra, rb, " in ", string.format("%.1f", ngx.now() - t0))
