/* check.c - luafpm -t, like nginx -t and php-fpm -t: the config has been
 * validated by then; compile every *.lua under the root in a VM built as a
 * worker's, so that what fails here would fail there, at the same line. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lua.h>


#include "check.h"
#include "vm.h"

typedef struct {
    lf_vm_t *vm;
    const lf_root_t *root;
    unsigned files;
    unsigned failed;
} lf_check_t;

/* Worker scripts end in ".lua" (and are more than that). */
static int ends_with_lua(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".lua") == 0;
}

/* Compile one file; its error, if any, goes to stderr as is. */
static void check_file(void *ud, const char *path)
{
    lf_check_t *c = ud;
    lua_State *L = c->vm->L;
    c->files++;
    if (lf_vm_compile(L, path, lf_script_sandboxed(c->root, NULL, path)) != 0) {           /* sp: factory or error */
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        c->failed++;
    }
    lua_pop(L, 1);
}

/* Walk the directory path (len bytes in a buffer of cap), in name
 * order, calling fn for each regular *.lua file.  Symbolic links are not
 * followed: the root is its real path, so every file a link could reach
 * inside the root is reached by its own name, and nothing outside it is. */
static void check_dir(char *path, size_t len, size_t cap, lf_check_file_pt fn, void *ud)
{
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "luafpm: cannot read directory %s (%d: %s), skipped\n", path, errno,
                strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t nlen = strlen(name);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            goto next;
        if (len + 1 + nlen >= cap) {
            fprintf(stderr, "luafpm: path too long under %s: %s, skipped\n", path, name);
            goto next;
        }
        path[len] = '/';
        memcpy(path + len + 1, name, nlen + 1);
        struct stat st;
        if (lstat(path, &st) != 0) {
            fprintf(stderr, "luafpm: cannot stat %s (%d: %s), skipped\n", path, errno,
                    strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            check_dir(path, len + 1 + nlen, cap, fn, ud);
        } else if (S_ISREG(st.st_mode) && ends_with_lua(name)) {
            fn(ud, path);
        }
        path[len] = '\0';
    next:
        free(names[i]);
    }
    free(names);
}

void lf_check_walk(const char *dir, lf_check_file_pt fn, void *ud)
{
    char path[4096];
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len >= sizeof(path)) {
        fprintf(stderr, "luafpm: path too long: %s, skipped\n", dir);
        return;
    }
    memcpy(path, dir, len);
    path[len] = '\0';
    if (len == 1 && path[0] == '/')
        len = 0; /* "/": children are "/name", not "//name" */
    check_dir(path, len, sizeof(path), fn, ud);
}

int lf_check_run(const lf_conf_t *conf, const lf_root_t *root)
{
    char err[1024];
    lf_check_t c = {.vm = lf_vm_new(conf, err, sizeof(err)), .root = root};
    if (c.vm == NULL) {
        fprintf(stderr, "luafpm: %s\n", err);
        return 1;
    }
    lf_check_walk(root->real, check_file, &c);
    /* The init scripts are plain chunks (not handlers): compiled as such,
     * wherever they live. */
    const char *inits[2] = {conf->init, conf->init_worker};
    for (int i = 0; i < 2; i++) {
        if (inits[i] == NULL)
            continue;
        c.files++;
        if (lf_vm_compiles(c.vm, inits[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            c.failed++;
        }
    }
    lf_vm_close(c.vm);
    if (c.failed) {
        fprintf(stderr, "luafpm: %u of %u file%s failed\n", c.failed, c.files,
                c.files == 1 ? "" : "s");
        return 1;
    }
    printf("luafpm: configuration ok, %u file%s compiled\n", c.files, c.files == 1 ? "" : "s");
    return 0;
}
