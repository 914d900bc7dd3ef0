local how = ngx.var.arg_how
if how == "404" then
    ngx.exit(404)
elseif how == "redirect" then
    ngx.redirect("/elsewhere")
elseif how == "201" then
    ngx.status = 201
    ngx.header["X-Sandboxed"] = "yes"
    ngx.say("created")
    ngx.exit(ngx.HTTP_OK)
end
