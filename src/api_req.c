/* api_req.c - ngx.req: what the request says about itself. */
#include "config.h"

#include <string.h>

#include <lauxlib.h>

#include "api.h"

static int api_req_get_method(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    const char *m = lf_request_param(r, "REQUEST_METHOD");
    lua_pushstring(L, m ? m : "GET");
    return 1;
}

static int api_req_http_version(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    const char *p = lf_request_param(r, "SERVER_PROTOCOL");
    if (p == NULL)
        return 0;
    if (strcmp(p, "HTTP/1.1") == 0)
        lua_pushnumber(L, 1.1);
    else if (strcmp(p, "HTTP/1.0") == 0)
        lua_pushnumber(L, 1.0);
    else if (strcmp(p, "HTTP/2.0") == 0 || strcmp(p, "HTTP/2") == 0)
        lua_pushnumber(L, 2.0);
    else if (strcmp(p, "HTTP/3.0") == 0 || strcmp(p, "HTTP/3") == 0)
        lua_pushnumber(L, 3.0);
    else if (strcmp(p, "HTTP/0.9") == 0)
        lua_pushnumber(L, 0.9);
    else
        return 0;
    return 1;
}

static int api_req_start_time(lua_State *L)
{
    lf_request_t *r = lf_api_request(L);
    lua_pushnumber(L, (lua_Number)(long long)(r->start_time * 1000) / 1000.0);
    return 1;
}

void lf_api_req_init(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"get_method", api_req_get_method},
        {"http_version", api_req_http_version},
        {"start_time", api_req_start_time},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 24);                       /* sp: ngx, req */
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "req");                      /* sp: ngx */
}
