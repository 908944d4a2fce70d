/*
 * controller_int.h - the controller's state, shared by its parts:
 *   controller.c    election, topic creation, deletion, broker failover
 *   ctl_leaders.c   controlled shutdown, preferred-leader election
 *                   (ElectLeaders, auto.leader.rebalance.enable)
 *   ctl_reassign.c  partition reassignment (AlterPartitionReassignments,
 *                   ListPartitionReassignments, /admin/reassign_partitions)
 * Each part keeps its own state behind one pointer of bk_controller and is
 * told of the controller's life through the hooks below.
 *
 * Thread: loop thread.
 */
#ifndef BK_CONTROLLER_INT_H
#define BK_CONTROLLER_INT_H

#include "controller.h"

enum { C_IDLE, C_ELECTING, C_FOLLOWING, C_ACTIVE };

struct bk_ctl_leaders;
struct bk_ctl_reassign;

struct bk_controller {
    bk_cluster *c;
    bk_zk *zk;
    int32_t node_id;
    int state;
    int32_t controller_id;
    int32_t epoch;
    int gen;                   /* bumped on session loss: completions of older rounds are ignored */
    struct bk_ctl_leaders *ld; /* owned by ctl_leaders.c */
    struct bk_ctl_reassign *ra; /* owned by ctl_reassign.c */
};

/* A completion context that knows whether its round is still current. */
typedef struct cctx {
    bk_controller *ctl;
    int gen;
} cctx;

cctx *bk_ctl_cctx_new(bk_controller *ctl);
bool bk_ctl_is_live(const bk_zk_broker *live, int n, int32_t id);

/* Hooks (ctl_leaders.c): became controller, live broker set changed,
 * resigned/session lost, free. */
void bk_ctl_leaders_elected(bk_controller *ctl);
void bk_ctl_leaders_brokers(bk_controller *ctl);
void bk_ctl_leaders_resigned(bk_controller *ctl);
void bk_ctl_leaders_free(bk_controller *ctl);

/* Hooks (ctl_reassign.c): the same, plus a topic's assignment read. */
void bk_ctl_reassign_elected(bk_controller *ctl);
void bk_ctl_reassign_brokers(bk_controller *ctl);
void bk_ctl_reassign_resigned(bk_controller *ctl);
void bk_ctl_reassign_free(bk_controller *ctl);
void bk_ctl_reassign_topic(bk_controller *ctl, const char *name, const bk_zk_topic *a);

#endif
