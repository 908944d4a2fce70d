/* ctl_leaders.c - see controller_int.h. (Stub: filled in by issue 8's work.) */
#include "controller_int.h"

void bk_ctl_leaders_elected(bk_controller *ctl) { (void)ctl; }
void bk_ctl_leaders_brokers(bk_controller *ctl) { (void)ctl; }
void bk_ctl_leaders_resigned(bk_controller *ctl) { (void)ctl; }
void bk_ctl_leaders_free(bk_controller *ctl) { (void)ctl; }
