/* throttle.c - see throttle.h. */
#include "throttle.h"

#include "topics.h"

#include <stdlib.h>
#include <string.h>

static void refill(bk_throttle *t, int64_t now_us)
{
    if (t->rate < 0)
        return;
    if (t->last_us == 0 || now_us < t->last_us) {
        t->last_us = now_us;
        return;
    }
    double add = (double)(now_us - t->last_us) * (double)t->rate / 1e6;
    t->tokens += add;
    if (t->tokens > (double)t->rate)
        t->tokens = (double)t->rate;
    t->last_us = now_us;
}

bool bk_throttle_exhausted(bk_throttle *t, int64_t now_us)
{
    if (t->rate < 0)
        return false;
    refill(t, now_us);
    return t->tokens <= 0;
}

void bk_throttle_record(bk_throttle *t, int64_t bytes, int64_t now_us)
{
    if (t->rate < 0 || bytes <= 0)
        return;
    refill(t, now_us);
    t->tokens -= (double)bytes;
    /* at most a few seconds of debt: a huge fetch does not stall forever */
    if (t->tokens < -4.0 * (double)t->rate - 1)
        t->tokens = -4.0 * (double)t->rate - 1;
}

void bk_throttle_set_rate(bk_throttle *t, int64_t rate, int64_t now_us)
{
    if (t->rate == rate)
        return;
    t->rate = rate;
    t->tokens = rate > 0 ? (double)rate : 0;
    t->last_us = now_us;
}

bool bk_throttle_listed(const char *list, int32_t partition, int32_t broker)
{
    if (!list || !*list)
        return false;
    const char *s = list;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!*s)
            break;
        if (*s == '*')
            return true;
        char *e;
        long p = strtol(s, &e, 10);
        if (e == s || *e != ':')
            return false; /* malformed: nothing throttled */
        s = e + 1;
        long b = strtol(s, &e, 10);
        if (e == s)
            return false;
        if (p == partition && b == broker)
            return true;
        s = e;
        while (*s == ' ')
            s++;
        if (*s && *s != ',')
            return false;
    }
    return false;
}

bool bk_topic_repl_throttled(const struct bk_topic *tp, bool leader_side, int32_t partition,
                             int32_t broker)
{
    const char *key = leader_side ? "leader.replication.throttled.replicas"
                                  : "follower.replication.throttled.replicas";
    for (int i = 0; tp && i < tp->noverrides; i++)
        if (tp->overrides[i].key && strcmp(tp->overrides[i].key, key) == 0)
            return bk_throttle_listed(tp->overrides[i].val, partition, broker);
    return false;
}
