/* fcgi_fuzz.c - a fuzz entry point for the FastCGI codec: the input (a
 * file, or stdin) is a byte stream from the web server's side, fed to
 * the record parser in pieces whose sizes the first byte picks; PARAMS
 * and GET_VALUES content goes through the decoders as the worker does.
 * AFL++: afl-fuzz -i seeds -o out -- ./fcgi_fuzz @@ */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_codec.h"

static void run(const unsigned char *in, size_t len)
{
    if (len == 0)
        return;
    size_t step = (size_t)in[0] % 17 + 1;
    in++;
    len--;
    lf_fcgi_parser_t p;
    lf_fcgi_parser_init(&p);
    lf_fcgi_params_t ps;
    memset(&ps, 0, sizeof(ps));
    lf_buf_t mgmt = {0}, reply = {0};
    const char *why;
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos + step < len ? pos + step : len, used = 0;
        while (used < end - pos || (p.in_record && p.content_left == 0 && p.padding_left == 0)) {
            lf_fcgi_ev_t ev;
            used += lf_fcgi_parse(&p, (const char *)in + pos + used, end - pos - used, &ev);
            if (ev.kind == LF_FCGI_NEED_MORE)
                break;
            if (ev.kind == LF_FCGI_BAD)
                goto done;
            if (ev.kind == LF_FCGI_RECORD && ev.type == FCGI_GET_VALUES)
                lf_buf_reset(&mgmt);
            if (ev.kind == LF_FCGI_CONTENT && ev.type == FCGI_PARAMS &&
                lf_fcgi_params_add(&ps, ev.data, ev.length, &why) != 0)
                goto done;
            if (ev.kind == LF_FCGI_CONTENT && ev.type == FCGI_GET_VALUES)
                lf_buf_append(&mgmt, ev.data, ev.length);
            if (ev.kind == LF_FCGI_RECORD_END && ev.type == FCGI_GET_VALUES)
                lf_fcgi_get_values_result(mgmt.data, mgmt.len, 64, &reply, &why);
            if (ev.kind == LF_FCGI_RECORD_END && ev.type == FCGI_PARAMS && ev.length == 0) {
                if (lf_fcgi_params_decode(&ps, &why) == 0 && ps.n > 0)
                    lf_fcgi_params_get(&ps, lf_fcgi_param_name(&ps, ps.n - 1), ps.v[ps.n - 1].name_len);
                lf_fcgi_params_reset(&ps);
            }
        }
        pos = end;
    }
done:
    lf_fcgi_params_free(&ps);
    lf_buf_free(&mgmt);
    lf_buf_free(&reply);
}

int main(int argc, char **argv)
{
    FILE *f = argc > 1 ? fopen(argv[1], "rb") : stdin;
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    static unsigned char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof(buf), f);
    if (f != stdin)
        fclose(f);
    run(buf, len);
    return 0;
}
