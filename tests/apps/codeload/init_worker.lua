-- --init-worker: runs in every worker after the fork
local f = assert(io.open(os.getenv("LUAFPM_TEST_MARKS") .. "/init_worker", "a"))
f:write("init_worker ", ngx.get_phase(), " ", tostring(ngx.worker.pid()), "\n")
f:close()
