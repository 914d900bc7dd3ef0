-- A module-level semaphore: it lives in the worker's VM across requests.
return { sema = require("ngx.semaphore").new(0) }
