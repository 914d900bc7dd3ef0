/* shdict_test.c - unit tests (TAP) of the shared dict's zone (src/shm/):
 * the operations, LRU eviction, churn of mixed sizes, and a process
 * killed at every journal step of an update: the next locker must find
 * the zone consistent (lf_dict_check) and the update done or not done. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "shm_dict.h"

static int tests, failures;

static void ok(int cond, const char *what)
{
    tests++;
    if (!cond)
        failures++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}

static char buf[1 << 20];

static char *reserve(void *ud, size_t len)
{
    (void)ud;
    return len <= sizeof(buf) ? buf : NULL;
}

static lf_dict_value_t S(const char *s)
{
    lf_dict_value_t v = {.type = LF_DICT_STR, .str = s, .len = strlen(s)};
    return v;
}

static lf_dict_value_t N(double n)
{
    lf_dict_value_t v = {.type = LF_DICT_NUM, .num = n};
    return v;
}

static int set(lf_dict_t *d, const char *k, lf_dict_value_t v, int op)
{
    int forcible;
    return lf_dict_store(d, op, k, strlen(k), &v, 0, 0, &forcible);
}

/* The string value of k ("" when missing, "#n" for a number). */
static const char *get(lf_dict_t *d, const char *k)
{
    static char out[4096];
    lf_dict_out_t o;
    if (lf_dict_get(d, k, strlen(k), 0, &o, reserve, NULL) != 0 || o.type == LF_DICT_NIL)
        return "";
    if (o.type == LF_DICT_NUM)
        snprintf(out, sizeof(out), "#%g", o.num);
    else
        snprintf(out, sizeof(out), "%.*s", (int)(o.len < 4000 ? o.len : 4000), o.str);
    return out;
}

static void test_ops(void)
{
    lf_dict_t d;
    ok(lf_dict_create(&d, "t", 64 * 1024) == 0, "a 64k zone");
    ok(set(&d, "a", S("hello"), LF_DICT_SET) == 0 && strcmp(get(&d, "a"), "hello") == 0, "set, get");
    ok(set(&d, "a", S("x"), LF_DICT_ADD) == LF_DICT_EEXISTS, "add on a live key: exists");
    ok(set(&d, "b", S("x"), LF_DICT_REPLACE) == LF_DICT_ENOTFOUND, "replace a missing key: not found");
    double r;
    int f;
    ok(lf_dict_incr(&d, "n", 1, 1, 1, 10, 0, &r, &f) == 0 && r == 11, "incr with init");
    ok(lf_dict_incr(&d, "n", 1, 5, 0, 0, 0, &r, &f) == 0 && r == 16, "incr");
    ok(lf_dict_incr(&d, "a", 1, 5, 0, 0, 0, &r, &f) == LF_DICT_ENOTNUM, "incr a string: not a number");
    uint32_t len;
    lf_dict_value_t one = N(1), two = S("two");
    lf_dict_push(&d, 0, "l", 1, &one, &len);
    lf_dict_push(&d, 0, "l", 1, &two, &len);
    lf_dict_push(&d, 1, "l", 1, &two, &len);
    ok(len == 3, "three pushes: a list of 3");
    lf_dict_out_t o;
    lf_dict_pop(&d, 0, "l", 1, &o, reserve, NULL);
    ok(o.type == LF_DICT_STR && o.len == 3, "rpop: the last pushed right");
    lf_dict_pop(&d, 1, "l", 1, &o, reserve, NULL);
    ok(o.type == LF_DICT_STR, "lpop: the one pushed left");
    lf_dict_pop(&d, 1, "l", 1, &o, reserve, NULL);
    ok(o.type == LF_DICT_NUM && o.num == 1, "lpop: the number");
    ok(lf_dict_llen(&d, "l", 1, &len) == 0 && len == 0, "an emptied list is gone");
    ok(lf_dict_push(&d, 0, "a", 1, &one, &len) == LF_DICT_ENOTLIST, "push on a string: value not a list");
    /* A key of 65535 bytes and a value of 100k: chains across chunks. */
    char *key = malloc(65535), *val = malloc(100000);
    memset(key, 'k', 65535);
    memset(val, 'v', 100000);
    lf_dict_t big;
    ok(lf_dict_create(&big, "big", 1 << 20) == 0, "a 1m zone");
    lf_dict_value_t v = {.type = LF_DICT_STR, .str = val, .len = 100000};
    ok(lf_dict_store(&big, LF_DICT_SET, key, 65535, &v, 0, 7, &f) == 0, "a longest key, a long value");
    ok(lf_dict_get(&big, key, 65535, 0, &o, reserve, NULL) == 0 && o.len == 100000 &&
           memcmp(o.str, val, 100000) == 0 && o.flags == 7, "read back whole, with its flags");
    ok(lf_dict_check(&big) == NULL, "consistent");
    lf_dict_destroy(&big);
    free(key);
    free(val);
    ok(lf_dict_check(&d) == NULL, "consistent after the operations");
    lf_dict_destroy(&d);
}

static void test_lru(void)
{
    lf_dict_t d;
    lf_dict_create(&d, "lru", 16 * 1024);
    char k[32], v[200];
    memset(v, 'x', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    int n = 0;
    for (;; n++) {
        snprintf(k, sizeof(k), "k%d", n);
        if (set(&d, k, S(v), LF_DICT_SET | LF_DICT_SAFE) != 0)
            break;
    }
    ok(n > 10, "a 16k zone holds some 200-byte values");
    ok(set(&d, "new", S(v), LF_DICT_SET | LF_DICT_SAFE) == LF_DICT_ENOMEM, "full: safe_set says no memory");
    get(&d, "k0"); /* k0 is now the most recently used */
    int forcible = 0;
    lf_dict_value_t nv = S(v);
    ok(lf_dict_store(&d, LF_DICT_SET, "new", 3, &nv, 0, 0, &forcible) == 0 && forcible,
       "full: set evicts, forcible");
    ok(strcmp(get(&d, "k1"), "") == 0, "the least recently used went");
    ok(strcmp(get(&d, "k0"), v) == 0 && strcmp(get(&d, "new"), v) == 0, "the recently used stayed");
    ok(lf_dict_check(&d) == NULL, "consistent after eviction");
    lf_dict_destroy(&d);
}

/* Mixed sizes, stored and deleted at random: a store fails only when the
 * free chunks really are fewer than it needs (no fragmentation). */
static void test_churn(void)
{
    lf_dict_t d;
    lf_dict_create(&d, "churn", 256 * 1024);
    static char v[8192];
    memset(v, 'c', sizeof(v));
    srand(42);
    int stores = 0, refused = 0, wrongly = 0;
    for (int i = 0; i < 50000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "key%d", rand() % 600);
        size_t len = (size_t)(rand() % 4 == 0 ? rand() % 8000 : rand() % 300);
        if (rand() % 3 == 0) {
            lf_dict_value_t nil = {.type = LF_DICT_NIL};
            int f;
            lf_dict_store(&d, LF_DICT_SET, k, strlen(k), &nil, 0, 0, &f);
            continue;
        }
        lf_dict_value_t val = {.type = LF_DICT_STR, .str = v, .len = len};
        lf_dict_stats_t before;
        lf_dict_stats(&d, &before);
        uint32_t free_chunks = lf_zone_hdr(&d.zone)->free_count;
        int f;
        int rc = lf_dict_store(&d, LF_DICT_SET | LF_DICT_SAFE, k, strlen(k), &val, 0, 0, &f);
        stores++;
        if (rc == LF_DICT_ENOMEM) {
            refused++;
            /* The old value (if any) was freed first: it counts as free. */
            if (free_chunks >= lf_zone_chunks_for(48 + strlen(k) + len))
                wrongly++;
        }
    }
    printf("# churn: %d stores, %d refused for want of space\n", stores, refused);
    ok(refused > 0, "the churn filled the zone at times");
    ok(wrongly == 0, "never \"no memory\" while the free chunks sufficed");
    ok(lf_dict_check(&d) == NULL, "consistent after the churn");
    lf_dict_destroy(&d);
}

/* An update interrupted at each of its journal steps in a child that
 * dies holding the lock; the parent recovers it. */
typedef struct {
    const char *name;
    size_t size;
    void (*setup)(lf_dict_t *d);
    void (*op)(lf_dict_t *d);
    /* NULL when the state is one of the allowed outcomes, else why not. */
    const char *(*verify)(lf_dict_t *d, int finished);
} scenario_t;

static char val300[301];

static void setup_some(lf_dict_t *d)
{
    char k[16];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "s%d", i);
        set(d, k, S(val300), LF_DICT_SET);
    }
    set(d, "str", S("old"), LF_DICT_SET);
    set(d, "num", N(5), LF_DICT_SET);
    uint32_t len;
    lf_dict_value_t a = S("a"), b = N(2), c = S(val300);
    lf_dict_push(d, 0, "list", 4, &a, &len);
    lf_dict_push(d, 0, "list", 4, &b, &len);
    lf_dict_push(d, 0, "list", 4, &c, &len);
}

/* Full but for a little: a new value must evict. */
static void setup_full(lf_dict_t *d)
{
    char k[16];
    set(d, "str", S("old"), LF_DICT_SET);
    for (int i = 0; set(d, (snprintf(k, sizeof(k), "f%d", i), k), S(val300),
                        LF_DICT_SET | LF_DICT_SAFE) == 0; i++)
        ;
}

static void op_set_new(lf_dict_t *d) { set(d, "new", S(val300), LF_DICT_SET); }
static void op_set_str(lf_dict_t *d) { set(d, "str", S("a new and longer value"), LF_DICT_SET); }
static void op_set_num(lf_dict_t *d) { set(d, "num", N(6), LF_DICT_SET); }
static void op_set_evict(lf_dict_t *d) { set(d, "str", S(val300), LF_DICT_SET); }
static void op_delete(lf_dict_t *d)
{
    lf_dict_value_t nil = {.type = LF_DICT_NIL};
    int f;
    lf_dict_store(d, LF_DICT_SET, "str", 3, &nil, 0, 0, &f);
}
static void op_incr(lf_dict_t *d)
{
    double r;
    int f;
    lf_dict_incr(d, "num", 3, 1, 0, 0, 0, &r, &f);
}
static void op_incr_init(lf_dict_t *d)
{
    double r;
    int f;
    lf_dict_incr(d, "cnt", 3, 1, 1, 0, 0, &r, &f);
}
static void op_lpush(lf_dict_t *d)
{
    uint32_t len;
    lf_dict_value_t v = S(val300);
    lf_dict_push(d, 1, "list", 4, &v, &len);
}
static void op_rpush_new(lf_dict_t *d)
{
    uint32_t len;
    lf_dict_value_t v = S("first");
    lf_dict_push(d, 0, "q", 1, &v, &len);
}
static void op_lpop(lf_dict_t *d)
{
    lf_dict_out_t o;
    lf_dict_pop(d, 1, "list", 4, &o, reserve, NULL);
}
static void op_rpop(lf_dict_t *d)
{
    lf_dict_out_t o;
    lf_dict_pop(d, 0, "list", 4, &o, reserve, NULL);
}
static void op_flush_all(lf_dict_t *d) { lf_dict_flush_all(d); }
static void op_flush_expired(lf_dict_t *d)
{
    lf_dict_flush_all(d);
    lf_dict_flush_expired(d, 0);
}

static const char *v_any(lf_dict_t *d, int finished)
{
    (void)d, (void)finished;
    return NULL;
}
static const char *v_set_new(lf_dict_t *d, int finished)
{
    const char *g = get(d, "new");
    if (finished && strcmp(g, val300) != 0)
        return "finished but the value is not there";
    return *g == '\0' || strcmp(g, val300) == 0 ? NULL : "a half-written value";
}
static const char *v_str(lf_dict_t *d, int finished)
{
    const char *g = get(d, "str");
    if (finished)
        return strcmp(g, "a new and longer value") == 0 ? NULL : "finished, not the new value";
    return strcmp(g, "old") == 0 || strcmp(g, "a new and longer value") == 0 ? NULL
                                                                            : "neither old nor new";
}
static const char *v_num(lf_dict_t *d, int finished)
{
    const char *g = get(d, "num");
    if (finished)
        return strcmp(g, "#6") == 0 ? NULL : "finished, not 6";
    return strcmp(g, "#5") == 0 || strcmp(g, "#6") == 0 ? NULL : "neither 5 nor 6";
}
static const char *v_evict(lf_dict_t *d, int finished)
{
    const char *g = get(d, "str");
    if (finished)
        return strcmp(g, val300) == 0 ? NULL : "finished, not the new value";
    /* Under memory pressure the old value is freed first (one update),
     * then room is made (one update per item evicted): gone is allowed. */
    return *g == '\0' || strcmp(g, "old") == 0 || strcmp(g, val300) == 0 ? NULL
                                                                          : "a half-written value";
}
static const char *v_delete(lf_dict_t *d, int finished)
{
    const char *g = get(d, "str");
    if (finished)
        return *g == '\0' ? NULL : "finished, still there";
    return *g == '\0' || strcmp(g, "old") == 0 ? NULL : "a half-deleted value";
}
static const char *v_incr_init(lf_dict_t *d, int finished)
{
    const char *g = get(d, "cnt");
    if (finished)
        return strcmp(g, "#1") == 0 ? NULL : "finished, not 1";
    return *g == '\0' || strcmp(g, "#1") == 0 ? NULL : "neither missing nor 1";
}
static const char *v_list_len(lf_dict_t *d, uint32_t want, uint32_t alt, int finished)
{
    uint32_t len;
    if (lf_dict_llen(d, "list", 4, &len) != 0)
        return "not a list any more";
    if (finished)
        return len == want ? NULL : "finished, wrong length";
    return len == want || len == alt ? NULL : "a length neither before nor after";
}
static const char *v_lpush(lf_dict_t *d, int finished) { return v_list_len(d, 4, 3, finished); }
static const char *v_pop(lf_dict_t *d, int finished) { return v_list_len(d, 2, 3, finished); }
static const char *v_rpush_new(lf_dict_t *d, int finished)
{
    uint32_t len;
    lf_dict_llen(d, "q", 1, &len);
    if (finished)
        return len == 1 ? NULL : "finished, no list";
    return len <= 1 ? NULL : "a list too long";
}
static const char *v_flushed(lf_dict_t *d, int finished)
{
    const char *g = get(d, "str");
    if (finished)
        return *g == '\0' ? NULL : "finished, still there";
    return NULL;
}

static void test_interrupted(void)
{
    static const scenario_t sc[] = {
        {"set a new key", 64 * 1024, setup_some, op_set_new, v_set_new},
        {"set over a string", 64 * 1024, setup_some, op_set_str, v_str},
        {"set over a number", 64 * 1024, setup_some, op_set_num, v_num},
        {"set in a full zone (eviction)", 16 * 1024, setup_full, op_set_evict, v_evict},
        {"delete", 64 * 1024, setup_some, op_delete, v_delete},
        {"incr", 64 * 1024, setup_some, op_incr, v_num},
        {"incr with init", 64 * 1024, setup_some, op_incr_init, v_incr_init},
        {"lpush", 64 * 1024, setup_some, op_lpush, v_lpush},
        {"rpush a new list", 64 * 1024, setup_some, op_rpush_new, v_rpush_new},
        {"lpop", 64 * 1024, setup_some, op_lpop, v_pop},
        {"rpop", 64 * 1024, setup_some, op_rpop, v_pop},
        {"flush_all", 64 * 1024, setup_some, op_flush_all, v_flushed},
        {"flush_expired", 64 * 1024, setup_some, op_flush_expired, v_any},
    };
    memset(val300, 'v', 300);
    for (size_t s = 0; s < sizeof(sc) / sizeof(sc[0]); s++) {
        int steps = 0, bad = 0, recovered = 0;
        const char *why = NULL;
        for (long k = 0; k < 100000; k++) {
            lf_dict_t d;
            if (lf_dict_create(&d, "crash", sc[s].size) != 0) {
                why = "zone";
                bad++;
                break;
            }
            sc[s].setup(&d);
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                lf_zone_fault_after = k;
                sc[s].op(&d);
                _exit(0);
            }
            int st = 0;
            waitpid(pid, &st, 0);
            int finished = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            const char *e = lf_dict_check(&d);
            if (e == NULL)
                e = sc[s].verify(&d, finished);
            if (e == NULL)
                e = lf_dict_check(&d);
            lf_dict_stats_t stats;
            lf_dict_stats(&d, &stats);
            recovered += stats.recoveries > 0;
            if (e) {
                if (!bad)
                    printf("# %s, killed at step %ld: %s\n", sc[s].name, k, e);
                why = e;
                bad++;
            }
            lf_dict_destroy(&d);
            steps++;
            if (finished)
                break;
        }
        char what[160];
        snprintf(what, sizeof(what), "%s: killed at each of %d steps, recovered %d times, consistent",
                 sc[s].name, steps, recovered);
        ok(bad == 0 && recovered == steps - 1 && steps > 3, what);
        (void)why;
    }
}

int main(void)
{
    lf_log_level = LF_LOG_ERR; /* the recovery warnings are expected here */
    test_ops();
    test_lru();
    test_churn();
    test_interrupted();
    printf("1..%d\n", tests);
    return failures ? 1 : 0;
}
