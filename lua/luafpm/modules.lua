-- modules.lua - the modules OpenResty libraries require, as luafpm's own
-- built-ins (package.preload), over luafpm's native ngx API: resty.core
-- and its submodules, resty.core.base, ngx.process, ngx.errlog,
-- ngx.base64, ngx.resp, ngx.req.  ngx.semaphore and ngx.re are installed
-- by their own files.  What cannot exist behind FastCGI raises, when
-- required, "<module> is not supported by luafpm: <why>".  Any other
-- resty.core.* or ngx.* name fails too: Debian's lua-resty-core files
-- call lua-nginx-module's C functions through the FFI and must never be
-- picked up from the Lua path instead.  (doc/api.md lists them.)
return function(raw)
    local type, error, tostring, setmetatable = type, error, tostring, setmetatable
    local preload, loaders = package.preload, package.loaders
    local VERSION = "0.1.28" -- lua-resty-core's for lua-nginx-module 0.10.26

    local function define(name, build)
        preload[name] = function()
            return build()
        end
    end

    -- resty.core.base: the helpers libraries use (buffers, tables, FFI
    -- return codes, the subsystem check).
    define("resty.core.base", function()
        local ffi = require "ffi"
        local ok, new_tab = pcall(require, "table.new")
        if not ok then
            new_tab = function() return {} end
        end
        local ok2, clear_tab = pcall(require, "table.clear")
        if not ok2 then
            clear_tab = function(t)
                for k in pairs(t) do t[k] = nil end
            end
        end
        local buf_size = 4096
        local buf
        local size_ptr = ffi.new("size_t[1]")
        local errmsg_ptr = ffi.new("char *[1]")
        local request = setmetatable({}, { __tostring = function() return "luafpm request" end })
        local M = {
            version = VERSION,
            new_tab = new_tab,
            clear_tab = clear_tab,
            c_buf_type = ffi.typeof("char[?]"),
            FFI_OK = 0, FFI_NO_REQ_CTX = -100, FFI_BAD_CONTEXT = -101, FFI_ERROR = -1,
            FFI_AGAIN = -2, FFI_BUSY = -3, FFI_DONE = -4, FFI_DECLINED = -5, FFI_ABORT = -6,
        }
        function M.get_string_buf_size()
            return buf_size
        end
        function M.set_string_buf_size(size)
            if size <= 0 then
                return
            end
            buf, buf_size = nil, size
        end
        -- a reused buffer of at least size bytes (a new one with must_alloc)
        function M.get_string_buf(size, must_alloc)
            if size > buf_size then
                return ffi.new("unsigned char[?]", size)
            end
            if not buf or must_alloc then
                buf = ffi.new("unsigned char[?]", buf_size)
            end
            return buf
        end
        function M.get_size_ptr()
            return size_ptr
        end
        function M.get_errmsg_ptr()
            return errmsg_ptr
        end
        function M.ref_in_table(tb, key)
            if key == nil then
                return -1
            end
            local n = #tb + 1
            tb[n] = key
            return n
        end
        function M.allows_subsystem(...)
            for i = 1, select("#", ...) do
                if select(i, ...) == "http" then
                    return
                end
            end
            error("unsupported subsystem: http", 2)
        end
        -- Something true where lua-nginx-module has a request (handlers,
        -- timers), nil where it has none (init, init_worker).
        function M.get_request()
            local phase = ngx.get_phase()
            if phase == "init" or phase == "init_worker" then
                return nil
            end
            return request
        end
        return M
    end)

    -- resty.core and what it loads: in OpenResty they put the FFI
    -- versions of the ngx.* functions in place; luafpm's are native.
    local installers = {
        "var", "worker", "regex", "shdict", "time", "hash", "uri", "exit", "base64",
        "request", "response", "phase", "ndk", "socket", "coroutine", "param", "misc",
        "ctx",
    }
    for _, n in ipairs(installers) do
        define("resty.core." .. n, function()
            return { version = VERSION, _VERSION = VERSION }
        end)
    end
    define("resty.core.utils", function()
        local find, sub = string.find, string.sub
        return {
            version = VERSION,
            -- every byte find (one character) in str replaced by replace
            str_replace_char = function(str, find_c, replace)
                if not find(str, find_c, 1, true) then
                    return str
                end
                local out, i = {}, 1
                while true do
                    local at = find(str, find_c, i, true)
                    if not at then break end
                    out[#out + 1] = sub(str, i, at - 1)
                    out[#out + 1] = replace
                    i = at + 1
                end
                out[#out + 1] = sub(str, i)
                return table.concat(out)
            end,
        }
    end)
    define("resty.core", function()
        for _, n in ipairs(installers) do
            require("resty.core." .. n)
        end
        return { version = require("resty.core.base").version }
    end)

    define("ngx.process", function()
        local M = { version = VERSION }
        function M.type()
            return raw.process_type()
        end
        function M.get_master_pid()
            return raw.master_pid()
        end
        function M.signal_graceful_exit()
            raw.graceful_exit()
        end
        function M.enable_privileged_agent(connections)
            if ngx.get_phase() ~= "init" then
                return nil, "API disabled in the current context"
            end
            connections = connections or 512
            if type(connections) ~= "number" or connections < 0 then
                return nil, "bad 'connections' argument: number expected and greater than 0"
            end
            return nil, "the privileged agent is not supported by luafpm: it is an nginx process " ..
                "outside the request path; run that work in a timer of --init-worker or in its own service"
        end
        return M
    end)

    define("ngx.errlog", function()
        local M = { version = VERSION }
        local why = "lua_capture_error_log is not supported by luafpm: the error log is a file " ..
            "(--error-log) the master and the workers write; read it there"
        function M.raw_log(level, msg)
            if type(level) ~= "number" then
                error("bad argument #1 to 'raw_log' (must be a number)", 2)
            end
            if type(msg) ~= "string" then
                error("bad argument #2 to 'raw_log' (must be a string)", 2)
            end
            if not raw.raw_log(level, msg) then
                error("bad log level", 2)
            end
        end
        function M.get_sys_filter_level()
            return raw.log_level()
        end
        function M.set_filter_level(level)
            if not level then
                return nil, [[missing "level" argument]]
            end
            return nil, why
        end
        function M.get_logs()
            return nil, why
        end
        return M
    end)

    define("ngx.base64", function()
        local encode, decode = ngx.encode_base64, ngx.decode_base64
        local gsub, rep = string.gsub, string.rep
        local M = { version = VERSION }
        function M.encode_base64url(s)
            if type(s) ~= "string" then
                return error("must provide a string")
            end
            return (gsub(encode(s, true), "[+/]", { ["+"] = "-", ["/"] = "_" }))
        end
        function M.decode_base64url(s)
            if type(s) ~= "string" then
                return error("must provide a string")
            end
            if s:find("[^%w%-_]") then
                return nil
            end
            local pad = (4 - #s % 4) % 4
            if pad == 3 then
                return nil
            end
            return decode((gsub(s, "[-_]", { ["-"] = "+", ["_"] = "/" })) .. rep("=", pad))
        end
        return M
    end)

    define("ngx.resp", function()
        local M = { version = VERSION }
        -- another value for a response header, after those it has
        function M.add_header(key, value)
            if type(key) ~= "string" then
                error("bad argument #1 to 'add_header' (string expected, got " .. type(key) .. ")", 2)
            end
            if ngx.headers_sent then
                error("headers have already been sent", 2)
            end
            local cur = ngx.header[key]
            if cur == nil then
                ngx.header[key] = value
                return
            end
            local all = type(cur) == "table" and cur or { cur }
            if type(value) == "table" then
                for i = 1, #value do all[#all + 1] = value[i] end
            else
                all[#all + 1] = value
            end
            ngx.header[key] = all
        end
        return M
    end)

    define("ngx.req", function()
        return {
            version = VERSION,
            add_header = function()
                error("ngx.req.add_header is not supported by luafpm: the request headers " ..
                    "belong to the web server; the worker gets a read-only copy", 2)
            end,
        }
    end)

    local unsupported = {
        ["ngx.balancer"] = "choosing the upstream is the web server's part behind FastCGI " ..
            "(nginx's upstream block, Apache's balancer)",
        ["ngx.ssl"] = "the client's TLS connection ends at the web server; the worker never sees it",
        ["ngx.ssl.session"] = "the client's TLS connection ends at the web server; the worker never sees it",
        ["ngx.ssl.clienthello"] = "the client's TLS connection ends at the web server; the worker never sees it",
        ["ngx.ocsp"] = "OCSP stapling is for the web server's own certificate, which the worker never holds",
        ["ngx.pipe"] = "not built yet (spawning subprocesses from a worker); use io.popen for now",
    }
    for name, why in pairs(unsupported) do
        preload[name] = function()
            error(name .. " is not supported by luafpm: " .. why, 2)
        end
    end

    -- Before the Lua path: any other resty.core.* / ngx.* name fails here
    -- (package.preload, first, has luafpm's own).
    table.insert(loaders, 2, function(name)
        if name:find("^resty%.core%.") or name:find("^ngx%.") then
            return function()
                error("module '" .. name .. "' is not one of luafpm's built-in OpenResty modules " ..
                    "(doc/api.md lists them; lua-resty-core's own files are never loaded: " ..
                    "they call into lua-nginx-module)", 2)
            end
        end
        return nil
    end)
end
