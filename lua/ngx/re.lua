-- ngx.re: what lua-resty-core's ngx.re module adds to ngx.re (split and
-- opt), on top of luafpm's ngx.re (src/api/api_re.c).  split's rules are
-- lua-resty-core 0.1.25's: captures of the first group go into the
-- result, an empty match splits between characters, max > 0 caps the
-- number of pieces (the last holds the rest), and without max empty
-- trailing pieces are dropped.
local c = require "luafpm.re"
local re_match = ngx.re.match
local sub, type, tostring = string.sub, type, tostring

local _M = { version = 0.1025 }

-- One match from byte offset pos (0-based): from and to (1-based, to
-- inclusive + 1 as lua-resty-core counts), the next offset, the first
-- capture; nil at no match; nil, nil, nil, nil, err on error.
local function split_next(subj, regex, opts, ctx, pos)
    ctx.pos = pos + 1
    local m, err = re_match(subj, regex, opts, ctx)
    if not m then
        return nil, nil, nil, nil, err
    end
    local stop = ctx.pos - 1        -- 0-based end of the match
    local start = stop - #m[0]
    local cap = m[1]
    if type(cap) ~= "string" then
        cap = nil
    end
    -- an empty match steps on by one character
    return start + 1, stop + 1, start == stop and stop + 1 or stop, cap
end

function _M.split(subj, regex, opts, ctx, max, res)
    subj = tostring(subj)
    local start = 1
    if ctx then
        start = ctx.pos or 1
    end
    max = max or 0
    if res == nil then
        res = {}
    elseif type(res) ~= "table" then
        error("res is not a table", 2)
    end
    local len = #subj
    if start > len then
        res[1] = nil
        return res
    end
    local mctx = {}
    local sub_idx, res_idx, pos, count = start, 0, start - 1, 1
    local last_empty
    while max <= 0 or count < max do
        local from, to, nextpos, cap, err = split_next(subj, regex, opts, mctx, pos)
        if err then
            return nil, err
        end
        if not from then
            break
        end
        pos = nextpos
        if last_empty then
            sub_idx = last_empty
        end
        if from == to then
            last_empty = from
        end
        if from > sub_idx or not last_empty then
            count = count + 1
            res_idx = res_idx + 1
            res[res_idx] = sub(subj, sub_idx, from - 1)
            if cap then
                res_idx = res_idx + 1
                res[res_idx] = cap
            end
            sub_idx = to
            if sub_idx > len then
                break
            end
        end
    end
    if ctx then
        ctx.pos = pos
    end
    if max <= 0 and sub_idx > len then
        -- drop empty trailing pieces
        while res_idx > 0 and res[res_idx] == "" do
            res[res_idx] = nil
            res_idx = res_idx - 1
        end
    else
        res_idx = res_idx + 1
        res[res_idx] = sub(subj, sub_idx)
    end
    res[res_idx + 1] = nil
    return res
end

function _M.opt(option, value)
    if option == "jit_stack_size" then
        local ok, err = pcall(c.set_jit_stack_size, value)
        if not ok then
            error(err, 2)
        end
        return
    end
    error("unrecognized option name", 2)
end

return _M
