/*
 * vec.h - growing arrays. The one way Brook grows an array it appends to:
 * capacity doubles from `first`, so appends cost O(1) amortised.
 *
 *   bk_group **v = bk_vec_grow(co->groups, co->ngroups, &co->capgroups, sizeof *v, 16);
 *   if (!v)
 *       return BK_ENOMEM;      // co->groups is still valid and unchanged
 *   co->groups = v;
 *   co->groups[co->ngroups++] = g;
 */
#ifndef BK_VEC_H
#define BK_VEC_H

#include "kb.h"

#include <stdlib.h>

/* Make room for element n (n elements of esz bytes used, *cap allocated).
 * Returns the array, moved if it had to grow, or NULL when out of memory
 * (arr and *cap unchanged). */
static inline void *bk_vec_grow(void *arr, int n, int *cap, size_t esz, int first)
{
    if (n < *cap)
        return arr;
    int nc = *cap ? *cap * 2 : first;
    if (nc <= n || (size_t)nc > SIZE_MAX / esz)
        return NULL;
    void *nv = realloc(arr, (size_t)nc * esz);
    if (nv)
        *cap = nc;
    return nv;
}

#endif
