-- Everything the whitelist leaves out must not exist for sandboxed code.
local names = {
    "require", "module", "load", "loadstring", "loadfile", "dofile", "io",
    "debug", "ffi", "jit", "getfenv", "setfenv", "collectgarbage", "gcinfo",
    "newproxy", "package", "os.execute", "os.getenv", "os.remove", "os.rename",
    "os.exit", "os.tmpname", "os.setlocale", "string.dump", "math.randomseed",
    "ngx.sleep", "ngx.location", "ngx.config", "ngx.worker", "ngx.shared",
    "ngx.req.get_body_file", "ngx.req.socket", "ngx.req.set_header",
    "ngx.exec", "table.foreach", "table.new",
}
local present = {}
for _, name in ipairs(names) do
    local v = _G
    for part in name:gmatch("[^.]+") do
        if v == nil then break end
        v = v[part]
    end
    if v ~= nil then
        present[#present + 1] = name
    end
end
ngx.say(#present == 0 and "all absent" or "present: " .. table.concat(present, " "))
