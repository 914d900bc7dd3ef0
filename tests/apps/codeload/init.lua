-- --init: runs once in the master before the workers fork
INIT_VALUE = "from init"
INIT_PHASE = ngx.get_phase()
local f = assert(io.open(os.getenv("LUAFPM_TEST_MARKS") .. "/init", "a"))
f:write("init ", tostring(ngx.worker.pid()), "\n")
f:close()
