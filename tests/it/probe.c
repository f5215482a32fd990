/* A probe for the isolation tests: tries one system call an attacker inside a container
 * would, and prints `NAME: ok` or `NAME: <strerror>`. Built static by the tests, so it runs
 * in the busybox image. Usage: probe keyctl|add_key|request_key|unshare|raw|packet */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(const char *name, long result) {
    if (result < 0) {
        printf("%s: %s\n", name, strerror(errno));
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "keyctl")) {
        /* Read-only: the ID of the session keyring, not created if missing. */
        return report(what, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
                                    KEY_SPEC_SESSION_KEYRING, 0));
    }
    if (!strcmp(what, "add_key")) {
        return report(what, syscall(SYS_add_key, "user", "mlpack-probe", "x", 1,
                                    KEY_SPEC_PROCESS_KEYRING));
    }
    if (!strcmp(what, "request_key")) {
        long result = syscall(SYS_request_key, "user", "mlpack-probe-missing", NULL, 0);
        /* Allowed, a missing key is ENOKEY: only a refusal counts as blocked. */
        if (result < 0 && errno == ENOKEY) {
            result = 0;
        }
        return report(what, result);
    }
    if (!strcmp(what, "unshare")) {
        if (report(what, unshare(CLONE_NEWUSER | CLONE_NEWNS))) {
            return 1;
        }
        return report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, ""));
    }
    if (!strcmp(what, "raw")) {
        return report(what, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    }
    if (!strcmp(what, "packet")) {
        return report(what, socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
    }
    fprintf(stderr, "usage: probe keyctl|add_key|request_key|unshare|raw|packet\n");
    return 2;
}
