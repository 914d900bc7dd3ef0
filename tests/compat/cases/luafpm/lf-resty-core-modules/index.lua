local core = require "resty.core"
ngx.say("resty.core ", type(core.version))
local base = require "resty.core.base"
ngx.say("base ", type(base.new_tab), " ", type(base.clear_tab), " ", base.FFI_OK, " ", base.FFI_ERROR,
    " ", base.FFI_AGAIN, " ", base.FFI_DONE, " ", base.FFI_DECLINED, " ", base.FFI_NO_REQ_CTX, " ", base.FFI_BAD_CONTEXT)
local t = base.new_tab(4, 4)
t.a = 1
base.clear_tab(t)
ngx.say("clear_tab ", next(t))
ngx.say("buf ", type(base.get_string_buf(16)), " ", base.get_string_buf_size() > 0, " ", type(base.get_size_ptr()))
ngx.say("get_request ", base.get_request() ~= nil)
ngx.say(pcall(base.allows_subsystem, "http", "stream"))
for _, m in ipairs({"resty.core.shdict", "resty.core.var", "resty.core.regex", "resty.core.time",
                    "resty.core.worker", "resty.core.ctx", "resty.core.misc", "resty.core.utils"}) do
    ngx.say(m, " ", type(require(m)))
end
local process = require "ngx.process"
ngx.say("process ", process.type(), " ", type(process.get_master_pid()))
local errlog = require "ngx.errlog"
ngx.say("errlog ", type(errlog.get_sys_filter_level()), " ", pcall(errlog.raw_log, ngx.ERR, "raw"))
local ok, err = pcall(errlog.raw_log, "x", "y")
ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
ok, err = pcall(errlog.raw_log, ngx.ERR, 1)
ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
ok, err = pcall(errlog.raw_log, 99, "y")
ngx.say(ok, " ", (err:gsub("^.-:%d+: ", "")))
local b64 = require "ngx.base64"
ngx.say(b64.encode_base64url("\255\254?>"), " ", b64.decode_base64url("__4_Pg") == "\255\254?>", " ", tostring(b64.decode_base64url("a+b")))
ngx.say(tostring(b64.decode_base64url("abcde")), " ", b64.decode_base64url("aGk"))
local sema = require "ngx.semaphore"
ngx.say("semaphore ", type(sema.new))
