-- What the "o" cache holds, seen in the Lua heap (a compiled pattern's
-- userdata mirrors the size of its PCRE2 code): distinct patterns over
-- the cache's size are dropped; with LRU the pattern used last stays.
local nonce = ngx.var.arg_nonce
local function heap()
    collectgarbage()
    collectgarbage()
    return collectgarbage("count") * 1024
end
local what = ngx.var.arg_what
if what == "many" then
    local base = heap()
    for i = 1, 2000 do
        ngx.re.find("x", nonce .. i .. string.rep("[a-z]", 50), "o")
    end
    ngx.say(math.floor((heap() - base) / 1024))
elseif what == "lru" then
    -- with --regex-cache-max-entries 2
    local big = nonce .. string.rep("(?:abc|def)", 300)
    local base = heap()
    ngx.re.find("x", big, "o")
    ngx.re.find("x", nonce .. "b", "o")
    ngx.re.find("x", big, "o")            -- big is the most recent
    ngx.re.find("x", nonce .. "c", "o")   -- drops b, not big
    local kept = heap() - base
    ngx.re.find("x", nonce .. "d", "o")
    ngx.re.find("x", nonce .. "e", "o")   -- drops big
    local dropped = heap() - base
    ngx.say(kept - dropped > 4096 and "big kept, then dropped" or
        ("kept " .. kept .. " dropped " .. dropped))
elseif what == "hot" then
    -- a hit allocates nothing but the result: find returns numbers
    ngx.re.find("aaabbb", "b+", ngx.var.arg_o)
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    for _ = 1, 20000 do
        ngx.re.find("aaabbb", "b+", ngx.var.arg_o)
    end
    local grew = (collectgarbage("count") - before) * 1024
    collectgarbage("restart")
    ngx.say(grew < 20000 and "no allocation" or ("grew " .. grew))
end
