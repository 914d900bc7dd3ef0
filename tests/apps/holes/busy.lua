-- CPU-bound for s seconds: this holds the worker (ngx.sleep would not).
local s = tonumber(ngx.var.arg_s) or 1
local t = os.clock()
while os.clock() - t < s do end
ngx.say("busy")
