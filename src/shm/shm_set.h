/* shm_set.h - the shared dicts of one configuration (--shared-dict),
 * made by the master before it forks.  A reload builds the new set from
 * the old one: a zone whose name and size did not change is the same
 * zone, contents and all (as nginx keeps a lua_shared_dict); the rest
 * are new, and a zone no set holds any more is unmapped in the master
 * (workers still running keep their own mapping until they exit). */
#ifndef LF_SHM_SET_H
#define LF_SHM_SET_H

#include <stddef.h>

#include "conf.h"
#include "shm_dict.h"

typedef struct {
    lf_dict_t **dicts;
    int n;
} lf_dict_set_t;

/* The set this process serves with (ngx.shared, the status page). */
extern lf_dict_set_t *lf_dict_set_current;

/* Make set from conf's --shared-dict list, sharing the zones of keep
 * (NULL: none) that have the same name and size; 0, or -1 with the
 * reason in err. */
int lf_dict_set_open(lf_dict_set_t *set, const lf_conf_t *conf, const lf_dict_set_t *keep,
                     char *err, size_t errlen);
/* Drop set's hold on its zones; unmap those no other set holds. */
void lf_dict_set_close(lf_dict_set_t *set);
lf_dict_t *lf_dict_set_find(const lf_dict_set_t *set, const char *name, size_t len);

#endif
