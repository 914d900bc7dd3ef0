-- socket.lua - the Lua half of ngx.socket.tcp (src/api/api_socket.c has
-- the C half): the methods, with lua-nginx-module's arguments, results
-- and error strings.  A raw call that would block returns false; wait()
-- parks the light thread until the socket is ready or its timeout passed,
-- and the call is made again.
return function(raw, mt, udp_mt)
    local type, error, tostring, select = type, error, tostring, select
    local concat = table.concat
    local wait, new = raw.wait, raw.new

    local methods = {}
    mt.__index = methods

    -- f(sock, ...) until it does not ask to wait; its results as they are
    -- (tail calls: no stack grows however often it waits).
    local function again(f, sock, a1, a2, a3, a4, first, ...)
        if first == false then
            wait(sock)
            return again(f, sock, a1, a2, a3, a4, f(sock, a1, a2, a3, a4))
        end
        return first, ...
    end

    local function retry(f, sock, a1, a2, a3, a4)
        return again(f, sock, a1, a2, a3, a4, f(sock, a1, a2, a3, a4))
    end

    -- luaL_argerror as lua-nginx-module's C connect raises it: named as
    -- the call named connect ("?" through pcall), self not counted in a
    -- method call, at the position of its caller (none under pcall).
    local getinfo = debug.getinfo
    local function argerror(narg, msg)
        local ar = getinfo(3, "n") -- 1 this, 2 the check, 3 connect
        local name = ar and ar.name
        if ar and ar.namewhat == "method" then
            narg = narg - 1
        end
        error("bad argument #" .. narg .. " to '" .. (name or "?") .. "' (" .. msg .. ")", 4)
    end
    local function int(n)
        return n >= 0 and math.floor(n) or math.ceil(n)
    end
    -- The options table: pool, pool_size, backlog (argument n of connect).
    local function pool_options(opts, n)
        local pool, pool_size, backlog = opts.pool, opts.pool_size, opts.backlog
        if pool_size ~= nil then
            if type(pool_size) ~= "number" then
                argerror(n, "bad \"pool_size\" option type: " .. type(pool_size))
            end
            if not (pool_size >= 1) then -- NaN too
                argerror(n, "bad \"pool_size\" option value: " .. int(pool_size))
            end
        end
        if type(backlog) == "number" then
            if not (backlog >= 0) then
                argerror(n, "bad \"backlog\" option value: " .. int(backlog))
            end
        else
            backlog = nil
        end
        if type(pool) == "number" then
            pool = tostring(pool)
        elseif pool ~= nil and type(pool) ~= "string" then
            argerror(n, "bad \"pool\" option type: " .. type(pool))
        end
        return pool, pool_size, backlog
    end

    function methods.connect(sock, host, port, opts)
        if type(host) ~= "string" then
            error("bad argument #1 to 'connect' (string expected, got " .. type(host) .. ")", 2)
        end
        if type(port) == "table" then
            opts, port = port, nil
        end
        local pool, pool_size, backlog
        if opts then
            pool, pool_size, backlog = pool_options(opts, port == nil and 3 or 4)
        end
        local ok, err = raw.connect(sock, host, tonumber(port) or port, pool, pool_size, backlog)
        while ok == false do
            wait(sock)
            ok, err = raw.connect(sock)
        end
        if ok then
            return ok
        end
        return ok, err
    end

    -- send(data): strings, numbers, booleans and arrays of them, nested.
    local function flatten(v, out, depth)
        local t = type(v)
        if t == "string" then
            out[#out + 1] = v
        elseif t == "number" then
            out[#out + 1] = tostring(v)
        elseif t == "table" and depth < 100 then
            for i = 1, #v do
                flatten(v[i], out, depth + 1)
            end
            if next(v) ~= nil and #v == 0 then
                error("bad argument #1 to 'send' (non-array table found)", 3 + depth)
            end
        else
            error("bad argument #1 to 'send' (bad data type " .. t .. " found)", 3 + depth)
        end
    end

    function methods.send(sock, data)
        local t = type(data)
        if t ~= "string" then
            if t == "number" then
                data = tostring(data)
            elseif t == "table" then
                local out = {}
                flatten(data, out, 0)
                data = concat(out)
            elseif t == "boolean" then
                data = data and "true" or "false"
            elseif t == "nil" then
                data = "nil"
            else
                error("bad argument #1 to 'send' (string, number, boolean, nil, or array table expected, got " .. t .. ")", 2)
            end
        end
        return retry(raw.send, sock, data)
    end

    function methods.receive(sock, pattern)
        if pattern == nil or pattern == "*l" then
            return retry(raw.read, sock, "l")
        elseif pattern == "*a" then
            return retry(raw.read, sock, "a")
        end
        local n = tonumber(pattern)
        if n then
            if n < 0 then
                error("bad argument #1 to 'receive' (bad pattern argument)", 2)
            end
            if n == 0 then
                return ""
            end
            return retry(raw.read, sock, "n", n)
        end
        error("bad argument #1 to 'receive' (bad pattern argument: " .. tostring(pattern) .. ")", 2)
    end

    function methods.receiveuntil(sock, pattern, opts)
        if type(pattern) ~= "string" or pattern == "" then
            error("bad argument #1 to 'receiveuntil' (pattern is empty)", 2)
        end
        local inclusive = opts and opts.inclusive and true or false
        return function(size)
            if size ~= nil then
                size = tonumber(size)
                if not size or size <= 0 then
                    error("bad argument #1 to iterator (size must be positive)", 2)
                end
            end
            return retry(raw.read, sock, "u", pattern, inclusive, size or 0)
        end
    end

    function methods.close(sock)
        return raw.close(sock)
    end

    function methods.getreusedtimes(sock)
        return raw.getreusedtimes(sock)
    end

    function methods.setkeepalive(sock, timeout, size)
        return raw.setkeepalive(sock, timeout, size)
    end

    -- The C functions themselves: their errors name the caller's line, as
    -- lua-nginx-module's do.
    methods.settimeout = raw.settimeout
    methods.settimeouts = raw.settimeouts

    function methods.sslhandshake(sock, reused_session, server_name, ssl_verify, send_status_req)
        if server_name ~= nil and type(server_name) ~= "string" then
            error("bad argument #2 to 'sslhandshake' (string expected, got " .. type(server_name) .. ")", 2)
        end
        return retry(raw.sslhandshake, sock, reused_session, server_name, ssl_verify and true or false)
    end

    methods.getoption = raw.getoption
    methods.setoption = raw.setoption

    -- ngx.socket.udp: the same userdata, its own methods.
    local udp_methods = {}
    udp_mt.__index = udp_methods

    function udp_methods.setpeername(sock, host, port)
        if type(host) ~= "string" then
            error("bad argument #1 to 'setpeername' (string expected, got " .. type(host) .. ")", 2)
        end
        return methods.connect(sock, host, port)
    end

    function udp_methods.send(sock, data)
        local t = type(data)
        if t == "table" then
            local out = {}
            flatten(data, out, 0)
            data = concat(out)
        elseif t ~= "string" then
            data = tostring(data)
        end
        return retry(raw.udp_send, sock, data)
    end

    function udp_methods.receive(sock, size)
        return retry(raw.udp_receive, sock, size)
    end

    udp_methods.close = methods.close
    udp_methods.settimeout = methods.settimeout

    local socket = {}
    function socket.udp()
        return raw.udp()
    end
    function socket.tcp()
        return new()
    end
    function socket.connect(host, port, opts)
        local sock = new()
        local ok, err = methods.connect(sock, host, port, opts)
        if not ok then
            return nil, err
        end
        return sock
    end
    socket.stream = socket.tcp
    return socket
end
