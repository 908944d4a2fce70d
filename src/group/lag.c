/* lag.c - see lag.h. */
#include "lag.h"

void bk_lag_prometheus(bk_broker *b, bk_wr *out, int64_t now_ms)
{
    (void)b;
    (void)out;
    (void)now_ms;
}
