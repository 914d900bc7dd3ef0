ngx.redirect("/elsewhere", 302)
