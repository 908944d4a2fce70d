/* populate.h - random legal values for any generated message (tests only). */
#ifndef BK_POPULATE_H
#define BK_POPULATE_H

#include "../src/proto/codec.h"

void bk_pop_seed(uint64_t seed);
/* Fill m (a struct described by d) for version ver; memory from a. */
void bk_pop_struct(const bk_msgdesc *d, int16_t ver, bk_arena *a, void *m);

#endif
