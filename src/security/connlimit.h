/*
 * connlimit.h - the accept-time connection limits (Kafka's
 * ConnectionQuotas): max.connections for the broker, max.connections.per.ip
 * with max.connections.per.ip.overrides ("host:count,host:count"; hosts
 * are compared as the numeric address the connection comes from). A
 * connection over a limit is closed as soon as it is accepted, before any
 * byte is read. Pure helpers; the counting is in server.c.
 *
 * Thread: any.
 */
#ifndef BK_CONNLIMIT_H
#define BK_CONNLIMIT_H

#include <stddef.h>
#include <stdint.h>

/* The limit for address ip: its override, else per_ip. */
int32_t bk_connlimit_for(const char *overrides, const char *ip, int32_t per_ip);
/* Is the overrides string well formed ("" is)? */
int bk_connlimit_check(const char *overrides);
/* "ip:port" / "[v6]:port" -> "ip" in out. */
void bk_peer_ip(const char *peer, char *out, size_t outlen);

#endif
