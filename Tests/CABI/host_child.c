/* The child of the host-safety tests: a firmware service whose spool sits on a disk that is too
 * small, full, truncated or damaged. Whatever the disk does, it must end normally: a signal
 * (SIGBUS from a mapped page without a block behind it) would kill the firmware.
 *
 * Usage: host_child SPOOL CAPACITY COUNT VALUE_BYTES
 * Makes an agent on SPOOL with queue.capacity CAPACITY and one recipient that never answers
 * (so every event stays queued and the ring wraps), emits COUNT events each carrying a value of
 * VALUE_BYTES bytes, then closes the agent. Prints on standard output:
 *   "refused <err>"            when oe_agent_new returns NULL (then exits 0)
 *   "emitted <ok> <full>"      events acknowledged, and refused as OE_EQUEUEFULL
 *   "status <json>"            the agent's status before closing
 * Exit status 0 unless the library misbehaves (a code that is neither OE_OK nor OE_EQUEUEFULL). */
#define _POSIX_C_SOURCE 200809L
#include <outbound_events.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SPOOL CAPACITY COUNT VALUE_BYTES\n", argv[0]);
        return 2;
    }
    char err[512];
    oe_kv settings[] = {
        {"queue.spool", argv[1]},
        {"queue.capacity", argv[2]},
        {"log.destination", "stderr"},
        {"shutdown_timeout", "0"},
    };
    oe_agent *agent = oe_agent_new(settings, 4, err, sizeof err);
    if (!agent) {
        printf("refused %s\n", err);
        return 0;
    }
    /* Port 9 (discard) on loopback: nothing listens, every attempt fails at once. */
    oe_kv recipient[] = {{"url", "http://127.0.0.1:9/never"}, {"retry_interval", "1h"}};
    if (oe_agent_put_http_recipient(agent, "dead", recipient, 2, err, sizeof err) != OE_OK) {
        fprintf(stderr, "put: %s\n", err);
        return 1;
    }
    long count = strtol(argv[3], NULL, 10);
    size_t bytes = (size_t)strtol(argv[4], NULL, 10);
    char *value = malloc(bytes + 1);
    if (!value) return 1;
    memset(value, 'v', bytes);
    value[bytes] = 0;
    long ok = 0, full = 0;
    for (long i = 0; i < count; i++) {
        char lsid[32];
        snprintf(lsid, sizeof lsid, "%ld", i);
        oe_kv variables[] = {{"lsid", lsid}, {"payload", value}};
        int result = oe_emit(agent, "support_conference_begin", variables, 2, NULL, 0);
        if (result == OE_OK) {
            ok++;
        } else if (result == OE_EQUEUEFULL) {
            full++;
        } else {
            printf("emit %ld: %s\n", i, oe_strerror(result));
            return 1;
        }
    }
    printf("emitted %ld %ld\n", ok, full);
    char status[8192];
    oe_agent_status_json(agent, status, sizeof status);
    printf("status %s\n", status);
    fflush(stdout);
    free(value);
    oe_agent_close(agent);
    return 0;
}
