/* ctl_reassign.c - see controller_int.h. (Stub: filled in by issue 8's work.)
 */
#include "controller_int.h"

void bk_ctl_reassign_elected(bk_controller *ctl) { (void)ctl; }
void bk_ctl_reassign_brokers(bk_controller *ctl) { (void)ctl; }
void bk_ctl_reassign_resigned(bk_controller *ctl) { (void)ctl; }
void bk_ctl_reassign_free(bk_controller *ctl) { (void)ctl; }
void bk_ctl_reassign_topic(bk_controller *ctl, const char *name,
                           const bk_zk_topic *a) {
  (void)ctl;
  (void)name;
  (void)a;
}
