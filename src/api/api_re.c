/* api_re.c - ngx.re.match, find, gmatch, sub and gsub on PCRE2, with the
 * behaviour of lua-nginx-module + lua-resty-core (Debian's 0.10.23 and
 * 0.1.25, built on PCRE1: the error strings are PCRE1's, mapped from
 * PCRE2's codes below).
 *
 * A compiled pattern is a full userdata (lf_regex_t) whose __gc frees the
 * PCRE2 code, so a Lua error anywhere (a gsub callback that raises, out of
 * memory) leaks nothing.  Its size in the Lua heap mirrors the size of the
 * PCRE2 code (and its JIT code) so that the collector, and the sandbox's
 * memory budget, see what a pattern really costs.  A pattern compiled for
 * one call (no "o") is freed at the end of that call; one with "o" lives
 * in the worker's cache: a table by compile options and pattern, bounded
 * by --regex-cache-max-entries, least recently used dropped first.  An
 * entry dropped while a call still uses it stays alive through that call's
 * stack.
 *
 * One match data, one match context (the match limit, the JIT stack) per
 * VM.  The ovector is copied out right after each match, before anything
 * that can run Lua (a callback, a finalizer during an allocation) and use
 * the match data again; so a hit on the cache allocates nothing but the
 * result (the table and its strings).
 *
 * In the sandbox the match limit is at most LF_RE_SANDBOX_LIMIT and each
 * match is charged to the instruction budget (doc/sandbox.md). */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <lauxlib.h>
#include <pcre2.h>

#include "api.h"
#include "sandbox.h"

/* The option letters that change nothing in the compiled code. */
#define RE_ONCE          0x01   /* o */
#define RE_DFA           0x02   /* d */
#define RE_NO_UTF_CHECK  0x04   /* U */
#define RE_DUPNAMES      0x08   /* D: named captures as arrays */

/* The cache key: one bit per letter that does (and j). */
#define RE_KEY_CASELESS  0x001
#define RE_KEY_MULTILINE 0x002
#define RE_KEY_DOTALL    0x004
#define RE_KEY_EXTENDED  0x008
#define RE_KEY_UTF       0x010
#define RE_KEY_ANCHORED  0x020
#define RE_KEY_DUPNAMES  0x040
#define RE_KEY_JS        0x080
#define RE_KEY_JIT       0x100

/* PCRE1's codes, which OpenResty's messages carry. */
#define RE_PCRE1_NOMATCH        (-1)
#define RE_PCRE1_NOMEMORY       (-6)
#define RE_PCRE1_MATCHLIMIT     (-8)
#define RE_PCRE1_BADUTF8        (-10)
#define RE_PCRE1_BADUTF8_OFFSET (-11)
#define RE_PCRE1_DFA_WSSIZE     (-19)
#define RE_PCRE1_DFA_RECURSE    (-20)
#define RE_PCRE1_RECURSIONLIMIT (-21)
#define RE_PCRE1_BADOFFSET      (-24)
#define RE_PCRE1_JIT_STACKLIMIT (-27)

#define LF_RE_ERR_MAX        127      /* OpenResty's 128-byte error buffer */
#define LF_RE_DFA_WS         1000     /* ints of workspace for "d" */
#define LF_RE_LOCAL_PAIRS    32       /* ovector copies up to this on the C stack */
#define LF_RE_JIT_STACK_MIN  (32 * 1024)
/* The sandbox's match limit, and what a match costs its instruction
 * budget: a call, a byte of the subject it scans, a step of the limit
 * when it is reached (a step of PCRE2's interpreter is about as long as
 * a few VM instructions). */
#define LF_RE_SANDBOX_LIMIT  100000
#define LF_RE_COST_CALL      20
#define LF_RE_COST_BYTES     16       /* bytes per instruction */
#define LF_RE_COST_STEP      4

typedef struct lf_regex_s lf_regex_t;

struct lf_regex_s {
    pcre2_code *code;           /* NULL once freed */
    uint32_t ncap;              /* capture groups */
    uint32_t name_count, name_size;
    PCRE2_SPTR names;           /* PCRE2's name table */
    unsigned key;
    int cached;                 /* in the cache's table and LRU list */
    int transient;              /* compiled for one call: freed at its end */
    lf_regex_t *prev, *next;    /* LRU list, most recent first */
    size_t len;
    char pattern[];             /* len bytes, then the mirror of the code's size */
};

typedef struct {
    pcre2_match_data *md;
    uint32_t pairs;             /* what md holds */
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack; /* ngx.re's opt("jit_stack_size"), else PCRE2's */
    uint32_t limit;             /* --regex-match-limit, else PCRE2's default */
    long long max;              /* --regex-cache-max-entries */
    long long count;
    lf_regex_t *head, *tail;
    int ws[LF_RE_DFA_WS];
} lf_re_state_t;

/* The ovector of the last match, copied out of the match data. */
typedef struct {
    PCRE2_SIZE local[2 * LF_RE_LOCAL_PAIRS];
    PCRE2_SIZE *v;
} re_caps_t;

static const char re_regex_mt[] = "luafpm.regex";

/* PCRE2's compile errors whose text is not PCRE1's, and PCRE1's text. */
static const struct {
    int code;
    const char *text;
} re_pcre1_texts[] = {
    {PCRE2_ERROR_ESCAPE_INVALID_IN_CLASS, "invalid escape sequence in character class"},
    {PCRE2_ERROR_QUANTIFIER_INVALID, "nothing to repeat"},
    {PCRE2_ERROR_MISSING_CLOSING_PARENTHESIS, "missing )"},
    {PCRE2_ERROR_BAD_OPTIONS, "unknown option bit(s) set"},
    {PCRE2_ERROR_MISSING_COMMENT_CLOSING, "missing ) after comment"},
    {PCRE2_ERROR_HEAP_FAILED, "failed to get memory"},
    {PCRE2_ERROR_UNMATCHED_CLOSING_PARENTHESIS, "unmatched parentheses"},
    {PCRE2_ERROR_MISSING_CONDITION_CLOSING, "malformed number or name after (?("},
    {PCRE2_ERROR_ZERO_RELATIVE_REFERENCE, "a numbered reference must not be zero"},
    {PCRE2_ERROR_TOO_MANY_CONDITION_BRANCHES, "conditional group contains more than two branches"},
    {PCRE2_ERROR_BAD_RELATIVE_REFERENCE, "digit expected after (?+"},
    {PCRE2_ERROR_CODE_POINT_TOO_BIG, "character value in \\x{} or \\o{} is too large"},
    {PCRE2_ERROR_UNSUPPORTED_ESCAPE_SEQUENCE, "PCRE does not support \\L, \\l, \\N{name}, \\U, or \\u"},
    {PCRE2_ERROR_CALLOUT_NUMBER_TOO_BIG, "number after (?C is > 255"},
    {PCRE2_ERROR_MISSING_CALLOUT_CLOSING, "closing ) for (?C expected"},
    {PCRE2_ERROR_MISSING_NAME_TERMINATOR, "syntax error in subpattern name (missing terminator)"},
    {PCRE2_ERROR_DUPLICATE_SUBPATTERN_NAME, "two named subpatterns have the same name"},
    {PCRE2_ERROR_INVALID_SUBPATTERN_NAME, "group name must start with a non-digit"},
    {PCRE2_ERROR_UNKNOWN_UNICODE_PROPERTY, "unknown property name after \\P or \\p"},
    {PCRE2_ERROR_SUBPATTERN_NAME_TOO_LONG, "subpattern name is too long (maximum 32 characters)"},
    {PCRE2_ERROR_DEFINE_TOO_MANY_BRANCHES, "DEFINE group contains more than one branch"},
    {PCRE2_ERROR_PARENS_QUERY_R_MISSING_CLOSING, "(?R or (?[+-]digits must be followed by )"},
    {PCRE2_ERROR_SUBPATTERN_NUMBER_TOO_BIG, "number is too big"},
    {PCRE2_ERROR_BACKSLASH_C_SYNTAX, "\\c must be followed by an ASCII character"},
    {PCRE2_ERROR_UTF_IS_DISABLED, "setting UTF is disabled by the application"},
    {PCRE2_ERROR_BACKSLASH_U_CODE_POINT_TOO_BIG, "character value in \\u.... sequence is too large"},
    {PCRE2_ERROR_MISSING_OCTAL_OR_HEX_DIGITS, "digits missing in \\x{} or \\o{}"},
};

/* The state and the cache: every ngx.re function's upvalues 1 and 2. */
#define RE_STATE(L) ((lf_re_state_t *)lua_touserdata(L, lua_upvalueindex(1)))
#define RE_CACHE lua_upvalueindex(2)

static int re_sandboxed(void)
{
    return lf_request_current != NULL && lf_request_current->sandboxed;
}

/* The option letters: flags (RE_*) and the cache key (RE_KEY_*); an
 * unknown letter raises, as resty.core does. */
static void re_parse_opts(lua_State *L, int idx, unsigned *flags, unsigned *key)
{
    size_t len;
    const char *o = lua_isnoneornil(L, idx) ? "" : luaL_checklstring(L, idx, &len);
    *flags = *key = 0;
    for (; *o; o++) {
        switch (*o) {
        case 'o': *flags |= RE_ONCE; break;
        case 'j': *key |= RE_KEY_JIT; break;
        case 'i': *key |= RE_KEY_CASELESS; break;
        case 's': *key |= RE_KEY_DOTALL; break;
        case 'm': *key |= RE_KEY_MULTILINE; break;
        case 'u': *key |= RE_KEY_UTF; break;
        case 'U': *key |= RE_KEY_UTF; *flags |= RE_NO_UTF_CHECK; break;
        case 'x': *key |= RE_KEY_EXTENDED; break;
        case 'd': *flags |= RE_DFA; break;
        case 'a': *key |= RE_KEY_ANCHORED; break;
        case 'D': *key |= RE_KEY_DUPNAMES; *flags |= RE_DUPNAMES; break;
        case 'J': *key |= RE_KEY_JS; break;
        default:
            luaL_error(L, "unknown flag \"%c\" (flags \"%s\")", *o, lua_tostring(L, idx));
        }
    }
}

static uint32_t re_compile_options(unsigned key)
{
    uint32_t o = 0;
    if (key & RE_KEY_CASELESS) o |= PCRE2_CASELESS;
    if (key & RE_KEY_MULTILINE) o |= PCRE2_MULTILINE;
    if (key & RE_KEY_DOTALL) o |= PCRE2_DOTALL;
    if (key & RE_KEY_EXTENDED) o |= PCRE2_EXTENDED;
    if (key & RE_KEY_UTF) o |= PCRE2_UTF;
    if (key & RE_KEY_ANCHORED) o |= PCRE2_ANCHORED;
    if (key & RE_KEY_DUPNAMES) o |= PCRE2_DUPNAMES;
    /* PCRE2's replacement for PCRE_JAVASCRIPT_COMPAT. */
    if (key & RE_KEY_JS) o |= PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS | PCRE2_MATCH_UNSET_BACKREF;
    return o;
}

/* Push OpenResty's message for a pattern that does not compile:
 * `pcre_compile() failed: TEXT in "PATTERN"` and ` at "REST"` when the
 * error is not at the end, cut to its 127 bytes.  sp++ */
static void re_push_compile_error(lua_State *L, int code, PCRE2_SIZE off, const char *pat,
                                  size_t len)
{
    PCRE2_UCHAR text[256];
    const char *t = NULL;
    char msg[LF_RE_ERR_MAX + 1];
    size_t n;
    if (code < 100)
        t = "invalid UTF-8 string"; /* PCRE2's UTF-8 errors are negative */
    for (size_t i = 0; t == NULL && i < sizeof(re_pcre1_texts) / sizeof(re_pcre1_texts[0]); i++)
        if (re_pcre1_texts[i].code == code)
            t = re_pcre1_texts[i].text;
    if (t == NULL) {
        if (pcre2_get_error_message(code, text, sizeof(text)) < 0)
            snprintf((char *)text, sizeof(text), "error %d", code);
        t = (const char *)text;
    }
    /* "(?P<" at the end: PCRE1 says what it says for "(?<". */
    if (code == PCRE2_ERROR_SUBPATTERN_NAME_EXPECTED && off == len)
        t = "syntax error in subpattern name (missing terminator)";
    /* PCRE2 points past the duplicate name's '>', PCRE1 at it. */
    if (code == PCRE2_ERROR_DUPLICATE_SUBPATTERN_NAME && off > 0)
        off--;
    int k = snprintf(msg, sizeof(msg), "pcre_compile() failed: %s in \"", t);
    n = k < 0 ? 0 : (size_t)k >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)k;
    /* The pattern as it is (NUL bytes too), the rest as a C string. */
    for (size_t i = 0; i < len && n < LF_RE_ERR_MAX; i++)
        msg[n++] = pat[i];
    if (off < len) {
        const char *rest = pat + off;
        const char *at = "\" at \"";
        while (*at && n < LF_RE_ERR_MAX)
            msg[n++] = *at++;
        while (*rest && n < LF_RE_ERR_MAX)
            msg[n++] = *rest++;
    }
    if (n < LF_RE_ERR_MAX)
        msg[n++] = '"';
    lua_pushlstring(L, msg, n);
}

/* lua_pcall'd by re_compile: the userdata of the given size.  sp++ */
static int re_alloc(lua_State *L)
{
    size_t size = (size_t)lua_tonumber(L, 1);
    lua_newuserdata(L, size);
    return 1;
}

/* LRU list: unlink re / put it first. */
static void re_unlink(lf_re_state_t *st, lf_regex_t *re)
{
    if (re->prev)
        re->prev->next = re->next;
    else
        st->head = re->next;
    if (re->next)
        re->next->prev = re->prev;
    else
        st->tail = re->prev;
    re->prev = re->next = NULL;
}

static void re_push_front(lf_re_state_t *st, lf_regex_t *re)
{
    re->prev = NULL;
    re->next = st->head;
    if (st->head)
        st->head->prev = re;
    st->head = re;
    if (st->tail == NULL)
        st->tail = re;
}

/* Drop the least recently used entry from the cache (the table at
 * RE_CACHE); whoever still holds it keeps it alive. */
static void re_evict(lua_State *L, lf_re_state_t *st)
{
    lf_regex_t *re = st->tail;
    re_unlink(st, re);
    re->cached = 0;
    st->count--;
    lua_rawgeti(L, RE_CACHE, (int)re->key);          /* sp: sub */
    if (lua_istable(L, -1)) {
        lua_pushlstring(L, re->pattern, re->len);
        lua_pushnil(L);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
}

/* The compiled regex for the pattern at index pidx, from the cache or
 * compiled now; NULL with OpenResty's message pushed when it does not
 * compile.  Either way one value is pushed (the userdata or the message):
 * sp++ */
static lf_regex_t *re_get(lua_State *L, lf_re_state_t *st, int pidx, unsigned flags, unsigned key)
{
    size_t len;
    const char *pat = luaL_checklstring(L, pidx, &len);
    int once = (flags & RE_ONCE) && st->max > 0;

    if (once) {
        lua_rawgeti(L, RE_CACHE, (int)key);          /* sp: sub */
        if (lua_istable(L, -1)) {
            lua_pushvalue(L, pidx);
            lua_rawget(L, -2);                       /* sp: sub, ud */
            lf_regex_t *re = lua_touserdata(L, -1);
            if (re != NULL) {
                lua_remove(L, -2);                   /* sp: ud */
                if (st->head != re) {
                    re_unlink(st, re);
                    re_push_front(st, re);
                }
                return re;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }

    lua_pushcfunction(L, re_alloc);                  /* sp: alloc (before any PCRE2 memory) */
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, len, re_compile_options(key), &err, &off, NULL);
    if (code == NULL) {
        lua_pop(L, 1);
        re_push_compile_error(L, err, off, pat, len);
        return NULL;
    }
    if (key & RE_KEY_JIT)
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* else the interpreter, as PCRE1 */
    uint32_t ncap = 0, name_count = 0, name_size = 0;
    PCRE2_SPTR names = NULL;
    size_t size = 0, jit_size = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ncap);
    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &name_count);
    if (name_count > 0) {
        pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &name_size);
        pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &names);
    }
    pcre2_pattern_info(code, PCRE2_INFO_SIZE, &size);
    if (pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit_size) != 0)
        jit_size = 0;

    /* The userdata, protected: an allocation error (or the sandbox's
     * memory budget) frees the code before it goes on. */
    lua_pushnumber(L, (lua_Number)(sizeof(lf_regex_t) + len + size + jit_size));
    if (lua_pcall(L, 1, 1, 0) != 0) {
        pcre2_code_free(code);
        lua_error(L);
    }                                                /* sp: ud */
    lf_regex_t *re = lua_touserdata(L, -1);
    memset(re, 0, sizeof(*re));
    re->code = code;
    re->ncap = ncap;
    re->name_count = name_count;
    re->name_size = name_size;
    re->names = names;
    re->key = key;
    re->len = len;
    memcpy(re->pattern, pat, len);
    luaL_getmetatable(L, re_regex_mt);
    lua_setmetatable(L, -2);

    if (!once) {
        re->transient = 1;
        return re;
    }
    if (st->count >= st->max)
        re_evict(L, st);
    lua_rawgeti(L, RE_CACHE, (int)key);              /* sp: ud, sub */
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);
        lua_pushvalue(L, -1);
        lua_rawseti(L, RE_CACHE, (int)key);
    }
    lua_pushvalue(L, pidx);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 1);                                   /* sp: ud */
    re->cached = 1;
    re_push_front(st, re);
    st->count++;
    return re;
}

/* A regex compiled for this call only is freed now; cached ones (and
 * ones the cache dropped, which another call may still use) at __gc. */
static void re_release(lf_regex_t *re)
{
    if (re->transient && re->code) {
        pcre2_code_free(re->code);
        re->code = NULL;
    }
}

static int re_gc(lua_State *L)
{
    lf_regex_t *re = lua_touserdata(L, 1);
    if (re->code)
        pcre2_code_free(re->code);
    re->code = NULL;
    return 0;
}

static int re_state_gc(lua_State *L)
{
    lf_re_state_t *st = lua_touserdata(L, 1);
    pcre2_match_data_free(st->md);
    pcre2_match_context_free(st->mctx);
    if (st->jit_stack)
        pcre2_jit_stack_free(st->jit_stack);
    st->md = NULL;
    st->mctx = NULL;
    st->jit_stack = NULL;
    return 0;
}

/* Room for re's ovector in caps: on the C stack, or in a userdata for a
 * pattern with many groups (pushed: sp+0 or +1). */
static void re_caps_init(lua_State *L, re_caps_t *caps, lf_regex_t *re)
{
    if (re->ncap < LF_RE_LOCAL_PAIRS)
        caps->v = caps->local;
    else
        caps->v = lua_newuserdata(L, 2 * sizeof(PCRE2_SIZE) * ((size_t)re->ncap + 1));
}

/* PCRE2's match errors as the PCRE1 codes OpenResty reports. */
static int re_pcre1_code(int rc)
{
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
        return RE_PCRE1_BADUTF8;
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
        return RE_PCRE1_MATCHLIMIT;
    case PCRE2_ERROR_DEPTHLIMIT:
        return RE_PCRE1_RECURSIONLIMIT;
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return RE_PCRE1_JIT_STACKLIMIT;
    case PCRE2_ERROR_BADUTFOFFSET:
        return RE_PCRE1_BADUTF8_OFFSET;
    case PCRE2_ERROR_BADOFFSET:
        return RE_PCRE1_BADOFFSET;
    case PCRE2_ERROR_NOMEMORY:
        return RE_PCRE1_NOMEMORY;
    case PCRE2_ERROR_DFA_WSSIZE:
        return RE_PCRE1_DFA_WSSIZE;
    case PCRE2_ERROR_DFA_RECURSE:
        return RE_PCRE1_DFA_RECURSE;
    }
    return rc;
}

/* One match of re in s from byte pos: the number of pairs set (1 for
 * "d", which gives the longest match only), RE_PCRE1_NOMATCH, or another
 * PCRE1 error code; the pairs copied into caps. */
static int re_exec(lua_State *L, lf_re_state_t *st, lf_regex_t *re, unsigned flags, const char *s,
                   size_t len, size_t pos, re_caps_t *caps)
{
    int sandboxed = re_sandboxed();
    uint32_t want = (flags & RE_DFA) ? 1 : re->ncap + 1;
    if (st->pairs < want) {
        pcre2_match_data *md = pcre2_match_data_create(want, NULL);
        if (md == NULL)
            return RE_PCRE1_NOMEMORY;
        pcre2_match_data_free(st->md);
        st->md = md;
        st->pairs = want;
    }
    uint32_t limit = st->limit;
    if (sandboxed && limit > LF_RE_SANDBOX_LIMIT)
        limit = LF_RE_SANDBOX_LIMIT;
    pcre2_set_match_limit(st->mctx, limit);
    uint32_t opts = (flags & RE_NO_UTF_CHECK) && !sandboxed ? PCRE2_NO_UTF_CHECK : 0;
    int rc;
    if (flags & RE_DFA)
        rc = pcre2_dfa_match(re->code, (PCRE2_SPTR)s, len, pos, opts, st->md, st->mctx, st->ws,
                             LF_RE_DFA_WS);
    else
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, pos, opts, st->md, st->mctx);
    if (sandboxed) {
        size_t cost = LF_RE_COST_CALL + (pos < len ? (len - pos) / LF_RE_COST_BYTES : 0);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
            cost += (size_t)limit * LF_RE_COST_STEP;
        (void)lf_sandbox_charge(cost); /* spent: the script stops at its next instruction */
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return RE_PCRE1_NOMATCH;
    if (rc < 0)
        return re_pcre1_code(rc);
    if (flags & RE_DFA)
        rc = 1;
    else if (rc == 0)
        rc = (int)want; /* cannot happen: the match data fits */
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
    memcpy(caps->v, ov, 2 * sizeof(PCRE2_SIZE) * (size_t)rc);
    return rc;
}

/* "pcre_exec() failed: N"  sp++ */
static void re_push_exec_error(lua_State *L, int rc)
{
    lua_pushfstring(L, "pcre_exec() failed: %d", rc);
}

/* The captures table of a match (or res, reused): [0] the match, [n]
 * each group (false when it took no part), and the named groups: the
 * capture of the name's last group, or with "D" an array of those that
 * took part (appended to an array res already has, as resty.core does).
 * sp++ */
static void re_push_captures(lua_State *L, lf_regex_t *re, unsigned flags, int rc, const char *s,
                             const PCRE2_SIZE *v, int res)
{
    uint32_t ncap = (flags & RE_DFA) ? 0 : re->ncap;
    if (res)
        lua_pushvalue(L, res);
    else
        lua_createtable(L, (int)ncap, (int)re->name_count + 1);
    for (uint32_t i = 0; i <= ncap; i++) {
        if ((int)i < rc && v[2 * i] != PCRE2_UNSET)
            lua_pushlstring(L, s + v[2 * i], v[2 * i + 1] - v[2 * i]);
        else
            lua_pushboolean(L, 0);
        lua_rawseti(L, -2, (int)i);
    }
    if (ncap == 0 || re->name_count == 0)
        return;
    for (uint32_t k = 0; k < re->name_count; k++) {
        PCRE2_SPTR e = re->names + (size_t)k * re->name_size;
        int n = (e[0] << 8) | e[1];
        const char *name = (const char *)e + 2;
        if (!(flags & RE_DUPNAMES)) {
            lua_pushstring(L, name);
            lua_rawgeti(L, -2, n);
            lua_rawset(L, -3);
            continue;
        }
        lua_rawgeti(L, -1, n);                       /* sp: res, cap */
        if (!lua_isstring(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushstring(L, name);
        lua_rawget(L, -3);                           /* sp: res, cap, old */
        if (lua_istable(L, -1)) {
            lua_insert(L, -2);                       /* sp: res, old, cap */
            lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
            lua_pop(L, 1);
        } else {
            lua_pop(L, 1);
            lua_createtable(L, 1, 0);
            lua_insert(L, -2);                       /* sp: res, arr, cap */
            lua_rawseti(L, -2, 1);
            lua_pushstring(L, name);
            lua_insert(L, -2);
            lua_rawset(L, -3);
        }
    }
}

/* The subject at idx as a string (tostring of anything else, as
 * resty.core), replacing it on the stack. */
static const char *re_subject(lua_State *L, int idx, size_t *len)
{
    if (lua_type(L, idx) != LUA_TSTRING && lua_type(L, idx) != LUA_TNUMBER) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, idx);
        lua_call(L, 1, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "'tostring' must return a string");
        lua_replace(L, idx);
    }
    return lua_tolstring(L, idx, len);
}

/* ctx.pos (1-based) as a byte offset: 0 without one. */
static size_t re_ctx_pos(lua_State *L, int ctx)
{
    if (lua_isnoneornil(L, ctx))
        return 0;
    luaL_checktype(L, ctx, LUA_TTABLE);
    lua_getfield(L, ctx, "pos");
    lua_Number p = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
    if (!(p > 1))
        return 0;
    if (p > (lua_Number)INT_MAX)
        p = (lua_Number)INT_MAX;
    return (size_t)p - 1;
}

/* match (want_caps) and find. */
static int re_match_find(lua_State *L, int want_caps)
{
    lf_re_state_t *st = RE_STATE(L);
    size_t len;
    unsigned flags, key;
    lua_settop(L, 5);
    const char *s = re_subject(L, 1, &len);
    re_parse_opts(L, 3, &flags, &key);
    size_t pos = re_ctx_pos(L, 4);
    if (want_caps && !lua_isnil(L, 5))
        luaL_checktype(L, 5, LUA_TTABLE);
    lf_regex_t *re = re_get(L, st, 2, flags, key);   /* sp: 5 + ud or message */
    if (re == NULL) {
        lua_pushnil(L);
        lua_insert(L, -2);
        if (want_caps)
            return 2;
        lua_pushnil(L);
        lua_insert(L, -2);
        return 3;
    }
    re_caps_t caps;
    re_caps_init(L, &caps, re);
    int rc = re_exec(L, st, re, flags, s, len, pos, &caps);
    if (rc < 0) {
        re_release(re);
        if (rc == RE_PCRE1_NOMATCH) {
            lua_pushnil(L);
            return 1;
        }
        lua_pushnil(L);
        if (!want_caps)
            lua_pushnil(L);
        re_push_exec_error(L, rc);
        return want_caps ? 2 : 3;
    }
    if (!lua_isnil(L, 4)) {
        lua_pushnumber(L, (lua_Number)caps.v[1] + 1);
        lua_setfield(L, 4, "pos");
    }
    if (want_caps) {
        re_push_captures(L, re, flags, rc, s, caps.v, lua_isnil(L, 5) ? 0 : 5);
        re_release(re);
        return 1;
    }
    lua_Integer nth = lua_isnumber(L, 5) ? lua_tointeger(L, 5) : 0;
    uint32_t ncap = (flags & RE_DFA) ? 0 : re->ncap;
    re_release(re);
    if (nth < 0)
        nth = 0;
    if (nth > (lua_Integer)ncap) {
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushliteral(L, "nth out of bound");
        return 3;
    }
    if (nth >= rc || caps.v[2 * nth] == PCRE2_UNSET) {
        lua_pushnil(L);
        lua_pushnil(L);
        return 2;
    }
    lua_pushnumber(L, (lua_Number)caps.v[2 * nth] + 1);
    lua_pushnumber(L, (lua_Number)caps.v[2 * nth + 1]);
    return 2;
}

/* ngx.re.match(subject, regex, options?, ctx?, res?) */
static int re_match(lua_State *L)
{
    return re_match_find(L, 1);
}

/* ngx.re.find(subject, regex, options?, ctx?, nth?) */
static int re_find(lua_State *L)
{
    return re_match_find(L, 0);
}

/* The gmatch iterator: a table (as resty.core's) holding the regex, the
 * subject, the next offset (-1 when done) and the flags, called through
 * its metatable's __call (upvalue 1: the state). */
#define RE_IT_REGEX   1
#define RE_IT_SUBJECT 2
#define RE_IT_POS     3
#define RE_IT_FLAGS   4

static int re_gmatch_next(lua_State *L)
{
    lf_re_state_t *st = RE_STATE(L);
    size_t len;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawgeti(L, 1, RE_IT_REGEX);
    lf_regex_t *re = luaL_checkudata(L, 2, re_regex_mt);
    lua_rawgeti(L, 1, RE_IT_SUBJECT);
    lua_rawgeti(L, 1, RE_IT_POS);
    lua_rawgeti(L, 1, RE_IT_FLAGS);                  /* sp: it, re, subject, pos, flags */
    const char *s = lua_tolstring(L, 3, &len);
    lua_Number p = lua_tonumber(L, 4);
    unsigned flags = (unsigned)lua_tonumber(L, 5);
    if (s == NULL || !(p >= 0) || p > (lua_Number)len || re->code == NULL) {
        lua_pushnil(L);
        return 1;
    }
    re_caps_t caps;
    re_caps_init(L, &caps, re);
    int rc = re_exec(L, st, re, flags, s, len, (size_t)p, &caps);
    if (rc < 0) {
        re_release(re);
        lua_pushnumber(L, -1);
        lua_rawseti(L, 1, RE_IT_POS);
        lua_pushnil(L);
        if (rc == RE_PCRE1_NOMATCH)
            return 1;
        re_push_exec_error(L, rc);
        return 2;
    }
    size_t next = caps.v[1];
    int done = 0;
    if (next == caps.v[0] && ++next > len)
        done = 1;
    lua_pushnumber(L, done ? -1 : (lua_Number)next);
    lua_rawseti(L, 1, RE_IT_POS);
    re_push_captures(L, re, flags, rc, s, caps.v, 0);
    if (done)
        re_release(re); /* after the captures: the name table is in the code */
    return 1;
}

/* ngx.re.gmatch(subject, regex, options?): an iterator, or nil, err.
 * Upvalue 3: the iterators' metatable. */
static int re_gmatch(lua_State *L)
{
    lf_re_state_t *st = RE_STATE(L);
    size_t len;
    unsigned flags, key;
    lua_settop(L, 3);
    re_subject(L, 1, &len);
    re_parse_opts(L, 3, &flags, &key);
    if (re_get(L, st, 2, flags, key) == NULL) {      /* sp: 3 + ud or message */
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_createtable(L, 4, 0);                        /* sp: 3, ud, it */
    lua_insert(L, -2);
    lua_rawseti(L, -2, RE_IT_REGEX);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, RE_IT_SUBJECT);
    lua_pushnumber(L, 0);
    lua_rawseti(L, -2, RE_IT_POS);
    lua_pushnumber(L, flags);
    lua_rawseti(L, -2, RE_IT_FLAGS);
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_setmetatable(L, -2);
    return 1;
}

/* Check a replacement template as lua-nginx-module compiles it: `$$`, `$N`
 * and `${N}`; anything else after a `$` fails.  0 or -1. */
static int re_template_check(const char *t, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (t[i++] != '$')
            continue;
        if (i == len)
            return -1;
        if (t[i] == '$') {
            i++;
            continue;
        }
        int bracket = t[i] == '{';
        if (bracket && ++i == len)
            return -1;
        if (t[i] < '0' || t[i] > '9')
            return -1; /* a name (not supported) or nothing */
        while (i < len && t[i] >= '0' && t[i] <= '9')
            i++;
        if (bracket) {
            if (i == len || t[i] != '}')
                return -1;
            i++;
        }
    }
    return 0;
}

/* Add template t (checked) for a match with rc pairs in v to b. */
static void re_template_add(luaL_Buffer *b, const char *t, size_t len, const char *s, int rc,
                            const PCRE2_SIZE *v)
{
    for (size_t i = 0; i < len;) {
        size_t run = i;
        while (run < len && t[run] != '$')
            run++;
        if (run > i) {
            luaL_addlstring(b, t + i, run - i);
            i = run;
            continue;
        }
        i++;
        if (t[i] == '$') {
            luaL_addchar(b, '$');
            i++;
            continue;
        }
        int bracket = t[i] == '{';
        if (bracket)
            i++;
        size_t n = 0;
        for (; i < len && t[i] >= '0' && t[i] <= '9'; i++)
            n = n > 100000 ? n : n * 10 + (size_t)(t[i] - '0');
        if (bracket)
            i++;
        if (n < (size_t)rc && v[2 * n] != PCRE2_UNSET)
            luaL_addlstring(b, s + v[2 * n], v[2 * n + 1] - v[2 * n]);
    }
}

/* sub and gsub: (subject, regex, replace, options?) -> new, n | nil, nil, err */
static int re_substitute(lua_State *L, int global)
{
    lf_re_state_t *st = RE_STATE(L);
    size_t len, tlen = 0;
    unsigned flags, key;
    const char *t = NULL;
    lua_settop(L, 4);
    const char *s = re_subject(L, 1, &len);
    re_parse_opts(L, 4, &flags, &key);
    int func = lua_isfunction(L, 3);
    if (!func) {
        if (lua_type(L, 3) != LUA_TSTRING && lua_type(L, 3) != LUA_TNUMBER) {
            lua_getglobal(L, "tostring");
            lua_pushvalue(L, 3);
            lua_call(L, 1, 1);
            lua_replace(L, 3);
        }
        t = luaL_checklstring(L, 3, &tlen);
    }
    lf_regex_t *re = re_get(L, st, 2, flags, key);   /* sp: 4 + ud or message */
    if (re == NULL) {
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushvalue(L, -3);
        return 3;
    }
    if (!func && re_template_check(t, tlen) != 0) {
        re_release(re);
        lua_pushnil(L);
        lua_pushnil(L);
        lua_pushliteral(L, "failed to compile the replacement template");
        return 3;
    }
    re_caps_t caps;
    re_caps_init(L, &caps, re);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t pos = 0, cp = 0;
    long long count = 0;
    for (;;) {
        int rc = re_exec(L, st, re, flags, s, len, pos, &caps);
        if (rc == RE_PCRE1_NOMATCH)
            break;
        if (rc < 0) {
            re_release(re);
            lua_pushnil(L);
            lua_pushnil(L);
            re_push_exec_error(L, rc);
            return 3;
        }
        count++;
        size_t from = caps.v[0], to = caps.v[1];
        luaL_addlstring(&b, s + cp, from - cp);
        if (func) {
            lua_pushvalue(L, 3);
            re_push_captures(L, re, flags, rc, s, caps.v, 0);
            lua_call(L, 1, 1);
            if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER) {
                lua_getglobal(L, "tostring");
                lua_insert(L, -2);
                lua_call(L, 1, 1);
                if (lua_type(L, -1) != LUA_TSTRING)
                    luaL_error(L, "'tostring' must return a string");
            }
            luaL_addvalue(&b);
        } else {
            re_template_add(&b, t, tlen, s, rc, caps.v);
        }
        cp = pos = to;
        if (pos == from && ++pos > len)
            break;
        if (!global)
            break;
    }
    re_release(re);
    if (count == 0) {
        lua_pushvalue(L, 1);
        lua_pushinteger(L, 0);
        return 2;
    }
    if (cp < len)
        luaL_addlstring(&b, s + cp, len - cp);
    luaL_pushresult(&b);
    lua_pushnumber(L, (lua_Number)count);
    return 2;
}

/* ngx.re.sub(subject, regex, replace, options?) */
static int re_sub(lua_State *L)
{
    return re_substitute(L, 0);
}

/* ngx.re.gsub(subject, regex, replace, options?) */
static int re_gsub(lua_State *L)
{
    return re_substitute(L, 1);
}

/* For lua/ngx/re.lua: opt("jit_stack_size", n), as lua-resty-core:
 * only while nothing is cached; at least 32 KiB. */
static int re_set_jit_stack_size(lua_State *L)
{
    lf_re_state_t *st = RE_STATE(L);
    lua_Integer size = luaL_checkinteger(L, 1);
    if (st->count > 0)
        return luaL_error(L, "changing jit stack size is not allowed when some regexs have "
                             "already been compiled and cached");
    if (size < LF_RE_JIT_STACK_MIN)
        size = LF_RE_JIT_STACK_MIN;
    pcre2_jit_stack *js = pcre2_jit_stack_create(LF_RE_JIT_STACK_MIN, (size_t)size, NULL);
    if (js == NULL)
        return luaL_error(L, "pcre jit stack allocation failed");
    if (st->jit_stack)
        pcre2_jit_stack_free(st->jit_stack);
    st->jit_stack = js;
    pcre2_jit_stack_assign(st->mctx, NULL, js);
    return 0;
}

void lf_api_re_init(lua_State *L, const lf_conf_t *conf)
{
    static const luaL_Reg fns[] = {
        {"match", re_match}, {"find", re_find},
        {"sub", re_sub}, {"gsub", re_gsub}, {NULL, NULL},
    };
    luaL_newmetatable(L, re_regex_mt);
    lua_pushcfunction(L, re_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    lf_re_state_t *st = lua_newuserdata(L, sizeof(*st)); /* sp: ngx, st */
    memset(st, 0, sizeof(*st));
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, re_state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    st->mctx = pcre2_match_context_create(NULL);
    st->md = pcre2_match_data_create(LF_RE_LOCAL_PAIRS, NULL);
    if (st->mctx == NULL || st->md == NULL)
        luaL_error(L, "not enough memory");
    st->pairs = LF_RE_LOCAL_PAIRS;
    st->max = conf ? conf->regex_cache_max_entries : 1024;
    if (conf && conf->regex_match_limit > 0)
        st->limit = (uint32_t)conf->regex_match_limit;
    else if (pcre2_config(PCRE2_CONFIG_MATCHLIMIT, &st->limit) < 0)
        st->limit = 10000000;
    lua_createtable(L, 0, 4);                        /* sp: ngx, st, cache */

    lua_createtable(L, 0, 5);                        /* sp: ngx, st, cache, re */
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_pushcclosure(L, f->func, 2);
        lua_setfield(L, -2, f->name);
    }
    lua_pushvalue(L, -3);
    lua_pushvalue(L, -3);
    lua_createtable(L, 0, 1);                        /* the iterators' metatable */
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, re_gmatch_next, 1);
    lua_setfield(L, -2, "__call");
    lua_pushcclosure(L, re_gmatch, 3);
    lua_setfield(L, -2, "gmatch");
    lua_setfield(L, -4, "re");                       /* sp: ngx, st, cache */

    /* What lua/ngx/re.lua needs besides ngx.re. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");                   /* sp: ngx, st, cache, package, loaded */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -5);
    lua_pushvalue(L, -5);
    lua_pushcclosure(L, re_set_jit_stack_size, 2);
    lua_setfield(L, -2, "set_jit_stack_size");
    lua_setfield(L, -2, "luafpm.re");
    lua_pop(L, 4);                                   /* sp: ngx */
}
