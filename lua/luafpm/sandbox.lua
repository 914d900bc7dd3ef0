-- luafpm.sandbox: what a script under --sandbox-root sees (doc/sandbox.md).
--
-- The whitelist below is the whole of it: a name that is not listed does
-- not exist for untrusted code.  The builder turns it, once per VM, into
-- read-only views of the real functions; a sandboxed request gets its own
-- globals table reading through to them (src/lua/sandbox.c).
local whitelist = {
    -- Basic functions, as they are.
    base = {
        "assert", "error", "ipairs", "print", "rawequal", "select", "tonumber",
        "tostring", "type", "unpack", "_VERSION",
    },
    -- Basic functions replaced by the guarded versions made below: pcall and
    -- xpcall cannot swallow a spent budget, raw access and metatables stop
    -- at tables every request shares, pairs/next see through the views.
    guarded = {
        "getmetatable", "next", "pairs", "pcall", "rawget", "rawset",
        "setmetatable", "xpcall",
    },
    -- Libraries: read-only views holding these members only.
    libs = {
        string = {
            "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower",
            "match", "rep", "reverse", "sub", "upper",
        },
        table = { "concat", "insert", "maxn", "remove", "sort" },
        math = {
            "abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg",
            "exp", "floor", "fmod", "frexp", "huge", "ldexp", "log", "log10",
            "max", "min", "modf", "pi", "pow", "rad", "random", "sin", "sinh",
            "sqrt", "tan", "tanh",
        },
        os = { "clock", "date", "difftime", "time" },
        coroutine = {
            "create", "isyieldable", "resume", "running", "status", "wrap", "yield",
        },
        bit = {
            "arshift", "band", "bnot", "bor", "bswap", "bxor", "lshift", "rol",
            "ror", "rshift", "tobit", "tohex",
        },
        ngx = {
            -- output and status (ngx.status and ngx.ctx go through ngx's
            -- metatable, per request)
            "say", "print", "flush", "eof", "exit", "redirect", "header",
            -- request
            "var", "req", "resp", "get_phase",
            -- logging (the level constants come with the numbers below)
            "log",
            -- string utilities
            "escape_uri", "unescape_uri", "encode_args", "decode_args",
            "encode_base64", "decode_base64", "md5", "md5_bin", "sha1_bin",
            "hmac_sha1", "crc32_short", "crc32_long", "quote_sql_str",
            -- time
            "time", "now", "today", "update_time", "localtime", "utctime",
            "http_time", "cookie_time", "parse_http_time",
            "null",
            -- regular expressions (PCRE2, the match limit always on)
            "re",
        },
        ["ngx.req"] = {
            "get_method", "set_method", "http_version", "start_time", "is_internal",
            "get_uri_args", "set_uri_args", "get_post_args", "get_headers",
            "read_body", "discard_body", "get_body_data",
        },
        ["ngx.resp"] = { "get_headers" },
        ["ngx.re"] = { "match", "find", "gmatch", "sub", "gsub" },
    },
    -- Every number-valued member of ngx comes too: ngx.OK, ngx.ERR,
    -- ngx.HTTP_NOT_FOUND, ...
    ngx_numbers = true,
    -- Objects whose behaviour is all in their metatable and acts on the
    -- current request only: handed out as they are, but never to raw
    -- access or setmetatable.
    objects = { "ngx.var", "ngx.header" },
}

-- Left out on purpose (threat list in doc/sandbox.md): require, module,
-- load, loadstring, loadfile, dofile, io, os beyond time, debug, ffi, jit,
-- getfenv, setfenv, collectgarbage, gcinfo, newproxy, package,
-- string.dump, math.randomseed (it would steer other requests' numbers),
-- ngx.sleep (it holds the worker without spending the budget),
-- ngx.location, ngx.config, ngx.worker, ngx.req.get_body_file (a path),
-- ngx.shared (the trusted code's zones: doc/api.md, ngx.shared.DICT).

-- Called once per VM.  over() tells whether the running sandboxed request
-- has spent a budget, stop() ends it (yields to C, past everything).
-- Returns the globals table a sandboxed env reads through to, the string
-- methods to put behind the string metatable while a sandboxed request
-- runs, and a function to call at the start of each sandboxed request.
return function(over, stop)
    local G = _G
    -- The real functions, under their own names so that their error
    -- messages read as usual ("bad argument #1 to 'rawget'").  getmetatable
    -- is the raw one: it sees past __metatable.
    local getmetatable, setmetatable = debug.getmetatable, setmetatable
    local next, pairs, pcall, xpcall = next, pairs, pcall, xpcall
    local rawget, rawset, type, error, ipairs = rawget, rawset, type, error, ipairs

    -- Tables every request shares: no raw access, no setmetatable.
    local shared = setmetatable({}, { __mode = "k" })
    -- view -> the real members it shows (for pairs and next).
    local members = setmetatable({}, { __mode = "k" })
    -- Metatables the running request set itself: the only ones
    -- getmetatable shows (weak set, made anew for each request).
    local own

    local function read_only(name)
        return function(_, k)
            error(("attempt to modify %s.%s: the sandbox's libraries are read-only")
                :format(name, type(k) == "string" and k or type(k)), 2)
        end
    end

    -- A view of real: an empty table reading through to the listed members.
    local function view(name, real, list, extra_mt)
        local held = {}
        for _, k in ipairs(list) do
            local v = rawget(real, k)
            assert(v ~= nil, name .. "." .. k .. " is in the whitelist but does not exist")
            if type(v) == "table" then
                local sub = name .. "." .. k
                if whitelist.libs[sub] then
                    v = view(sub, v, whitelist.libs[sub])
                else
                    local found = false
                    for _, o in ipairs(whitelist.objects) do
                        found = found or o == sub
                    end
                    assert(found, sub .. " is neither a library nor an object in the whitelist")
                    assert(getmetatable(v) ~= nil, sub .. ": an object without a metatable")
                    shared[v] = true
                    shared[getmetatable(v)] = true
                end
            end
            held[k] = v
        end
        if name == "ngx" and whitelist.ngx_numbers then
            for k, v in pairs(real) do
                if type(v) == "number" then
                    held[k] = v
                end
            end
        end
        if extra_mt then
            -- ngx.status, ngx.ctx, ngx.headers_sent, ngx.is_subrequest:
            -- read through ngx's
            -- own metatable, which acts on the current request.
            setmetatable(held, extra_mt)
            shared[extra_mt] = true
        end
        local v = setmetatable({}, { __index = held, __newindex = read_only(name) })
        shared[v] = true
        shared[held] = true
        members[v] = held
        return v, held
    end

    local globals = {}
    for _, k in ipairs(whitelist.base) do
        globals[k] = assert(G[k] ~= nil and G[k], k)
    end
    local string_methods
    for lib, list in pairs(whitelist.libs) do
        if not lib:find(".", 1, true) then
            local real = G[lib]
            local v, held = view(lib, real, list, lib == "ngx" and getmetatable(real) or nil)
            globals[lib] = v
            if lib == "string" then
                string_methods = held
            end
        end
    end

    -- ngx.status = 404 and ngx.ctx = {} write through to the request;
    -- anything else stays read-only.
    local ngx_view, real_ngx = globals.ngx, G.ngx
    local ngx_read_only = read_only("ngx")
    setmetatable(ngx_view, nil)
    setmetatable(ngx_view, {
        __index = members[ngx_view],
        __newindex = function(t, k, v)
            if k == "status" or k == "ctx" then
                real_ngx[k] = v
                return
            end
            return ngx_read_only(t, k)
        end,
    })

    local function refuse(what, t)
        if shared[t] then
            error(("bad argument #1 to '%s' (a table the sandbox shares with other requests)")
                :format(what), 3)
        end
    end

    local function checked(ok, ...)
        if not ok and over() then
            return stop()
        end
        return ok, ...
    end

    function globals.pcall(f, ...)
        return checked(pcall(f, ...))
    end

    function globals.xpcall(f, handler, ...)
        return checked(xpcall(f, handler, ...))
    end

    function globals.next(t, k)
        local m = members[t]
        if m then
            return next(m, k)
        end
        return next(t, k)
    end

    function globals.pairs(t)
        if members[t] then
            return globals.next, t, nil
        end
        return pairs(t)
    end

    function globals.rawget(t, k)
        refuse("rawget", t)
        return rawget(t, k)
    end

    function globals.rawset(t, k, v)
        refuse("rawset", t)
        return rawset(t, k, v)
    end

    function globals.getmetatable(x)
        local mt = getmetatable(x)
        if mt == nil then
            return nil
        end
        if own and own[mt] then
            local protected = rawget(mt, "__metatable")
            if protected ~= nil then
                return protected
            end
            return mt
        end
        return false -- a metatable of the host's: hidden
    end

    function globals.setmetatable(t, mt)
        if type(t) ~= "table" then
            error("bad argument #1 to 'setmetatable' (table expected, got " .. type(t) .. ")", 2)
        end
        if mt ~= nil and type(mt) ~= "table" then
            error("bad argument #2 to 'setmetatable' (nil or table expected)", 2)
        end
        refuse("setmetatable", t)
        if mt ~= nil then
            refuse("setmetatable", mt)
            own = own or setmetatable({}, { __mode = "k" })
            own[mt] = true
        end
        return setmetatable(t, mt)
    end

    for _, k in ipairs(whitelist.guarded) do
        assert(type(globals[k]) == "function", k)
    end
    shared[globals] = true

    local function reset()
        own = nil
    end

    return globals, string_methods, reset
end
