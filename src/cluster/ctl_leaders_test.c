/* ctl_leaders_test.c - the controller's election strategies (ctl_leaders.c). */
#include "../../tests/unit.h"
#include "../core/err.h"
#include "controller.h"

#include <string.h>

void bk_test_ctl_leaders(void);

static bk_zk_pstate pst(int32_t leader, const int32_t *isr, int n)
{
    bk_zk_pstate st = {.leader = leader, .leader_epoch = 7, .controller_epoch = 2};
    memcpy(st.isr, isr, sizeof *isr * (size_t)n);
    st.nisr = n;
    return st;
}

static bool isr_is(const bk_zk_pstate *st, const int32_t *want, int n)
{
    if (st->nisr != n)
        return false;
    for (int i = 0; i < n; i++)
        if (st->isr[i] != want[i])
            return false;
    return true;
}

void bk_test_ctl_leaders(void)
{
    static const int32_t reps[3] = {1, 2, 3};
    static const int32_t all3[3] = {1, 2, 3};
    bk_zk_pstate ns;

    BK_TEST("preferred: already the leader -> ELECTION_NOT_NEEDED");
    bk_elect_in in = {.replicas = reps, .nreplicas = 3, .live = all3, .nlive = 3};
    bk_zk_pstate st = pst(1, all3, 3);
    BK_CHECK(bk_elect_preferred(&in, &st, &ns) == BK_KERR_ELECTION_NOT_NEEDED);

    BK_TEST("preferred: live and in the ISR -> it leads, ISR kept");
    st = pst(2, all3, 3);
    BK_CHECK(bk_elect_preferred(&in, &st, &ns) == BK_KERR_NONE);
    BK_CHECK(ns.leader == 1 && isr_is(&ns, all3, 3));

    BK_TEST("preferred: not in the ISR, dead or shutting down -> not available");
    static const int32_t isr23[2] = {2, 3};
    st = pst(2, isr23, 2);
    BK_CHECK(bk_elect_preferred(&in, &st, &ns) == BK_KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    bk_elect_in dead1 = {.replicas = reps, .nreplicas = 3, .live = isr23, .nlive = 2};
    st = pst(2, all3, 3);
    BK_CHECK(bk_elect_preferred(&dead1, &st, &ns) == BK_KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    static const int32_t one[1] = {1};
    bk_elect_in shut1 = {.replicas = reps, .nreplicas = 3, .live = all3, .nlive = 3,
                         .shutting = one, .nshutting = 1};
    BK_CHECK(bk_elect_preferred(&shut1, &st, &ns) == BK_KERR_PREFERRED_LEADER_NOT_AVAILABLE);

    BK_TEST("offline: first live ISR replica in assignment order; dead leave the ISR");
    static const int32_t live3[1] = {3};
    static const int32_t isr32[2] = {3, 2};
    bk_elect_in only3 = {.replicas = reps, .nreplicas = 3, .live = live3, .nlive = 1};
    st = pst(1, all3, 3);
    BK_CHECK(bk_elect_offline(&only3, false, &st, &ns));
    BK_CHECK(ns.leader == 3 && isr_is(&ns, live3, 1));
    bk_elect_in live23 = {.replicas = reps, .nreplicas = 3, .live = isr32, .nlive = 2};
    st = pst(1, isr32, 2);
    BK_CHECK(bk_elect_offline(&live23, false, &st, &ns));
    BK_CHECK(ns.leader == 2); /* assignment order, not ISR order */
    st = pst(2, all3, 3);     /* live leader, dead follower: only the ISR shrinks */
    BK_CHECK(bk_elect_offline(&live23, false, &st, &ns) && ns.leader == 2 && ns.nisr == 2);
    st = pst(2, isr23, 2); /* nothing to do */
    BK_CHECK(!bk_elect_offline(&live23, false, &st, &ns));

    BK_TEST("offline: a shutting-down broker only when no other ISR member is live");
    static const int32_t two[1] = {2};
    bk_elect_in shut2 = {.replicas = reps, .nreplicas = 3, .live = isr23, .nlive = 2,
                         .shutting = two, .nshutting = 1};
    st = pst(1, all3, 3);
    BK_CHECK(bk_elect_offline(&shut2, false, &st, &ns) && ns.leader == 3);
    static const int32_t isr12[2] = {1, 2};
    st = pst(1, isr12, 2);
    BK_CHECK(bk_elect_offline(&shut2, false, &st, &ns) && ns.leader == 2);

    BK_TEST("offline: no live ISR member: offline with the last ISR, or unclean");
    st = pst(1, one, 1);
    BK_CHECK(bk_elect_offline(&live23, false, &st, &ns) && ns.leader == -1);
    BK_CHECK(isr_is(&ns, one, 1));
    BK_CHECK(bk_elect_offline(&live23, true, &st, &ns) && ns.leader == 2 && isr_is(&ns, two, 1));

    BK_TEST("unclean: live leader -> not needed; no live replica -> not available");
    st = pst(2, all3, 3);
    BK_CHECK(bk_elect_unclean(&live23, &st, &ns) == BK_KERR_ELECTION_NOT_NEEDED);
    st = pst(1, one, 1);
    BK_CHECK(bk_elect_unclean(&live23, &st, &ns) == BK_KERR_NONE && ns.leader == 2 &&
             isr_is(&ns, two, 1));
    bk_elect_in nobody = {.replicas = reps, .nreplicas = 3, .live = NULL, .nlive = 0};
    BK_CHECK(bk_elect_unclean(&nobody, &st, &ns) == BK_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE);

    BK_TEST("controlled shutdown: leadership moves to the first eligible replica");
    st = pst(1, all3, 3);
    BK_CHECK(bk_elect_cshut(&shut1, 1, &st, &ns) == 1);
    BK_CHECK(ns.leader == 2 && isr_is(&ns, isr23, 2));
    static const int32_t isr13[2] = {1, 3};
    st = pst(1, isr13, 2); /* 2 is out of the ISR: 3 takes over */
    BK_CHECK(bk_elect_cshut(&shut1, 1, &st, &ns) == 1 && ns.leader == 3 && isr_is(&ns, live3, 1));

    BK_TEST("controlled shutdown: the only ISR member keeps the partition");
    st = pst(1, one, 1);
    BK_CHECK(bk_elect_cshut(&shut1, 1, &st, &ns) == -1);
    static const int32_t r1[1] = {1};
    bk_elect_in rf1 = {.replicas = r1, .nreplicas = 1, .live = all3, .nlive = 3,
                       .shutting = one, .nshutting = 1};
    BK_CHECK(bk_elect_cshut(&rf1, 1, &st, &ns) == -1);

    BK_TEST("controlled shutdown: a follower leaves the ISR unless it is alone");
    st = pst(2, all3, 3);
    BK_CHECK(bk_elect_cshut(&shut1, 1, &st, &ns) == 1 && ns.leader == 2 && isr_is(&ns, isr23, 2));
    st = pst(2, isr23, 2);
    BK_CHECK(bk_elect_cshut(&shut1, 1, &st, &ns) == 0);
    static const int32_t live13[2] = {1, 3};
    bk_elect_in dead2 = {.replicas = reps, .nreplicas = 3, .live = live13, .nlive = 2,
                         .shutting = one, .nshutting = 1};
    st = pst(2, isr12, 2); /* the leader is gone: 1 stays, failover may need it */
    BK_CHECK(bk_elect_cshut(&dead2, 1, &st, &ns) == 0);
}
