-- luafpm.coroutine: coroutine.* with OpenResty's semantics inside a
-- request.  An API call that has to wait for the C side (ngx.exit,
-- ngx.sleep, ...) yields from whatever coroutine it runs in; resume passes
-- such a yield up through every user coroutine to the request's own
-- coroutine, and resumes the inner one when C resumes the request.  Plain
-- coroutine.yield calls stay between the user's coroutines as usual.
-- Called once per VM with two C functions: api_yielded() tells whether the
-- yield in progress is an API yield, abort(err) ends the request with err
-- in a way no pcall can catch.
return function(api_yielded, abort)
    local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
    local type = type

    -- A resume inside a resume nests on the C stack: 150,000 nested
    -- coroutine.wrap calls overflowed it (SIGSEGV).  Bound the nesting
    -- with Lua 5.1's own limit on nested C calls (LUAI_MAXCCALLS) and its
    -- message.  The count is of resumes running now: when an API yield
    -- passes up through every level, each level's resume has returned.
    local MAX_NESTING = 200
    local depth = 0

    local function leave(...)
        depth = depth - 1
        return ...
    end

    local function nested_resume(co, ...)
        if type(co) ~= "thread" then
            return resume(co, ...) -- raises resume's own argument error
        end
        if depth >= MAX_NESTING then
            return false, "C stack overflow"
        end
        depth = depth + 1
        return leave(resume(co, ...))
    end

    local function pass(co, ok, ...)
        if ok and api_yielded() then
            return pass(co, nested_resume(co, yield(...)))
        end
        return ok, ...
    end

    local function ngx_resume(co, ...)
        return pass(co, nested_resume(co, ...))
    end

    -- As in OpenResty, an error inside a wrapped coroutine aborts the
    -- whole request ("lua entry thread aborted"), pcall or not.
    local function wrap_result(ok, ...)
        if ok then
            return ...
        end
        return abort((...))
    end

    local function ngx_wrap(f)
        local co = create(f)
        return function(...)
            return wrap_result(pass(co, nested_resume(co, ...)))
        end
    end

    coroutine.resume = ngx_resume
    coroutine.wrap = ngx_wrap
end
