-- Spool the body, then fail: the file must go all the same.
ngx.req.read_body()
ngx.log(ngx.INFO, "spooled to ", tostring(ngx.req.get_body_file()))
error("failed with a spooled body")
