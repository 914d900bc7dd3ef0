-- semaphore.lua - the Lua half of ngx.semaphore (src/api/api_semaphore.c
-- has the C half): lua-resty-core's ngx/semaphore.lua API, arguments and
-- messages.  The C half is passed in as raw; the result is what
-- require "ngx.semaphore" returns.
return function(raw)
    local type, error, tonumber, setmetatable = type, error, tonumber, setmetatable
    local r_new, r_wait, r_park, r_result = raw.new, raw.wait, raw.park, raw.result
    local r_post, r_count = raw.post, raw.count

    local _M = { version = "0.1.28" }
    local mt = { __index = _M }

    local function check(self)
        if type(self) ~= "table" or type(self.sem) ~= "userdata" then
            error("not a semaphore instance", 3)
        end
        return self.sem
    end

    function _M.new(n)
        n = tonumber(n) or 0
        if n < 0 then
            error("no negative number", 2)
        end
        return setmetatable({ sem = r_new(n) }, mt)
    end

    function _M.wait(self, seconds)
        local sem = check(self)
        if ngx.get_phase() == "init" then
            error("no request found")
        end
        local milliseconds = tonumber(seconds) * 1000
        if milliseconds < 0 then
            error("no negative number", 2)
        end
        local ok, err = r_wait(sem, milliseconds)
        if ok == false then
            r_park(err)
            -- not a tail call: this frame keeps self (and so the semaphore)
            -- alive while the thread waits
            local res, why = r_result(err)
            return res, why
        end
        return ok, err
    end

    function _M.post(self, n)
        local sem = check(self)
        local num = n and tonumber(n) or 1
        if num < 1 then
            error("positive number required", 2)
        end
        return r_post(sem, num)
    end

    function _M.count(self)
        return r_count(check(self))
    end

    return _M
end
