ngx.req.read_body()
local args = ngx.req.get_post_args()
ngx.say("post: ", args.a or "-", " ", #(ngx.req.get_body_data() or ""))
