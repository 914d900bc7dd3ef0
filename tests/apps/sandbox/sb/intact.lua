-- What vandal.lua tried to change, as a later sandboxed request sees it.
local ok = ("x"):upper() == "X" and string.upper("y") == "Y" and string.trim == nil
    and table.insert ~= nil and math.floor(1.5) == 1 and os.time() > 0
    and ngx.say ~= nil and ngx.HTTP_OK == 200 and ngx.evil == nil
    and ngx.req.get_method() == "GET" and type(print) == "function"
    and type(pairs) == "function" and leaked_global == nil
    and ngx.var.uri ~= "x" and type(coroutine.wrap) == "function"
ok = ok and ngx.re.match("abc", "b")[0] == "b" and ngx.re.gsub("aa", "a", "b") == "bb"
for m in ngx.re.gmatch("xy", ".") do ok = ok and #m[0] == 1 end
ngx.say(ok and "intact" or "POISONED")
