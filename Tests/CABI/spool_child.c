/* The child of the crash tests: a firmware service that emits events into a spooled agent and
 * reports each one the library acknowledged, until it is killed (SIGKILL, at a moment of the
 * test's choosing).
 *
 * Usage: spool_child SPOOL URL COUNT NAME...
 * Prints "ok <i>" on standard output, with one write(2) each, after oe_emit returned OE_OK for
 * the event whose lsid is <i>; then "done" and waits to be killed. */
#define _POSIX_C_SOURCE 200809L
#include <outbound_events.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s SPOOL URL COUNT NAME...\n", argv[0]);
        return 2;
    }
    char err[512];
    oe_kv settings[] = {
        {"queue.spool", argv[1]},
        {"queue.capacity", "8MiB"},
        {"log.destination", "none"},
        {"shutdown_timeout", "0"},
    };
    oe_agent *agent = oe_agent_new(settings, 4, err, sizeof err);
    if (!agent) {
        fprintf(stderr, "oe_agent_new: %s\n", err);
        return 1;
    }
    for (int i = 4; i < argc; i++) {
        oe_kv recipient[] = {{"url", argv[2]}, {"retry_interval", "50ms"}};
        if (oe_agent_put_http_recipient(agent, argv[i], recipient, 2, err, sizeof err) != OE_OK) {
            fprintf(stderr, "put %s: %s\n", argv[i], err);
            return 1;
        }
    }
    long count = strtol(argv[3], NULL, 10);
    for (long i = 0; i < count; i++) {
        char lsid[32];
        snprintf(lsid, sizeof lsid, "%ld", i);
        oe_kv variables[] = {{"lsid", lsid}, {"external_key", "crash-test"}};
        if (oe_emit(agent, "support_conference_begin", variables, 2, NULL, 0) == OE_OK) {
            char line[48];
            int length = snprintf(line, sizeof line, "ok %ld\n", i);
            if (write(1, line, (size_t)length) != length) return 1;
        }
    }
    if (write(1, "done\n", 5) != 5) return 1;
    for (;;) pause();
}
