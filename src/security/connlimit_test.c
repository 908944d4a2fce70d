/* connlimit_test.c - per-IP limits and their overrides. */
#include "../../tests/unit.h"
#include "connlimit.h"

#include <string.h>

void bk_test_connlimit(void);
void bk_test_connlimit(void)
{
    BK_TEST("connlimit: overrides");
    BK_CHECK(bk_connlimit_for("", "127.0.0.1", 5) == 5);
    BK_CHECK(bk_connlimit_for(NULL, "127.0.0.1", 5) == 5);
    BK_CHECK(bk_connlimit_for("127.0.0.1:2,10.0.0.1:100", "127.0.0.1", 5) == 2);
    BK_CHECK(bk_connlimit_for("127.0.0.1:2, 10.0.0.1:100", "10.0.0.1", 5) == 100);
    BK_CHECK(bk_connlimit_for("127.0.0.11:2", "127.0.0.1", 5) == 5);
    BK_CHECK(bk_connlimit_for("::1:3", "::1", 5) == 3);
    BK_CHECK(bk_connlimit_check("") == 0);
    BK_CHECK(bk_connlimit_check("a:1,b:2") == 0);
    BK_CHECK(bk_connlimit_check("a") != 0);
    BK_CHECK(bk_connlimit_check("a:x") != 0);
    BK_CHECK(bk_connlimit_check(":3") != 0);
    char ip[64];
    bk_peer_ip("127.0.0.1:5555", ip, sizeof ip);
    BK_CHECK(strcmp(ip, "127.0.0.1") == 0);
    bk_peer_ip("[::1]:5555", ip, sizeof ip);
    BK_CHECK(strcmp(ip, "::1") == 0);
}
