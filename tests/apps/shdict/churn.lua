-- Values of mixed sizes stored, replaced and deleted at random; a set
-- (which may evict) never fails for a value that fits the zone, a
-- safe_set fails only with "no memory"; emptied, the zone has all its
-- space back.
local d = ngx.shared.churn
d:flush_all()
d:flush_expired()
local free0 = d:free_space()
math.randomseed(7)
local pool = {}
for i = 1, 12 do pool[i] = string.rep(string.char(64 + i), math.floor(2 ^ (i - 1)) + i) end
local errors, refused = {}, 0
for n = 1, 20000 do
    local k = "k" .. math.random(1, 400)
    local r = math.random()
    if r < 0.25 then
        d:delete(k)
    elseif r < 0.6 then
        local ok, err = d:safe_set(k, pool[math.random(1, 12)])
        if not ok then
            if err == "no memory" then refused = refused + 1 else errors[#errors + 1] = err end
        end
    else
        local ok, err = d:set(k, pool[math.random(1, 12)], math.random() < 0.1 and 0.001 or 0)
        if not ok then errors[#errors + 1] = err end
    end
end
-- every value is one of the pool's, whole
local bad = 0
for _, k in ipairs(d:get_keys(0)) do
    local v = d:get(k)
    if v and v ~= string.rep(v:sub(1, 1), #v) then bad = bad + 1 end
end
d:flush_all()
d:flush_expired()
ngx.say("set errors: ", #errors, " (", tostring(errors[1]), "), bad values: ", bad,
    ", space back: ", d:free_space() == free0)
