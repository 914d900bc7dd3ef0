/* shm_set.c - the shared dicts of a configuration (see shm_set.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_set.h"

lf_dict_set_t *lf_dict_set_current;

lf_dict_t *lf_dict_set_find(const lf_dict_set_t *set, const char *name, size_t len)
{
    if (set == NULL)
        return NULL;
    for (int i = 0; i < set->n; i++)
        if (strlen(set->dicts[i]->name) == len && memcmp(set->dicts[i]->name, name, len) == 0)
            return set->dicts[i];
    return NULL;
}

int lf_dict_set_open(lf_dict_set_t *set, const lf_conf_t *conf, const lf_dict_set_t *keep,
                     char *err, size_t errlen)
{
    set->n = 0;
    set->dicts = NULL;
    if (conf->nshared_dicts == 0)
        return 0;
    set->dicts = calloc((size_t)conf->nshared_dicts, sizeof(*set->dicts));
    if (set->dicts == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < conf->nshared_dicts; i++) {
        const lf_conf_dict_t *c = &conf->shared_dicts[i];
        lf_dict_t *d = lf_dict_set_find(keep, c->name, strlen(c->name));
        if (d && d->size == (size_t)c->size) {
            d->refs++;
        } else {
            d = malloc(sizeof(*d));
            if (d == NULL || lf_dict_create(d, c->name, (size_t)c->size) != 0) {
                snprintf(err, errlen, "cannot make shared dict \"%s\" of %lld bytes (%d: %s)",
                         c->name, c->size, errno, strerror(errno));
                free(d);
                lf_dict_set_close(set);
                return -1;
            }
        }
        set->dicts[set->n++] = d;
    }
    return 0;
}

void lf_dict_set_close(lf_dict_set_t *set)
{
    for (int i = 0; i < set->n; i++) {
        lf_dict_t *d = set->dicts[i];
        if (--d->refs == 0) {
            lf_dict_destroy(d);
            free(d);
        }
    }
    free(set->dicts);
    set->dicts = NULL;
    set->n = 0;
}
