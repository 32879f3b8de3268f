/* A firmware service in appliance mode, for the daemon tests and the demo: a producer attached
 * to outbound-eventsd's spool, emitting events and reporting each one the library acknowledged.
 *
 * Usage: producer_child SPOOL ID COUNT [flush MS | pause]
 * Emits COUNT support_conference_begin events with the variables lsid=<ID>-<i>, producer=<ID>
 * and n=<i>, printing "ok <i>" on standard output (one write(2) each) after oe_emit returned
 * OE_OK, then "done". With "flush MS", then calls oe_agent_flush and prints "flush <code>";
 * with "pause", waits to be killed. Exit status 0, 1 on an error (said on standard error). */
#define _POSIX_C_SOURCE 200809L
#include <outbound_events.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int say(const char *line) {
    size_t length = strlen(line);
    return write(1, line, length) == (ssize_t)length ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s SPOOL ID COUNT [flush MS | pause]\n", argv[0]);
        return 2;
    }
    char err[512];
    oe_kv settings[] = {{"queue.attach", argv[1]}, {"log.destination", "stderr"}};
    oe_agent *agent = oe_agent_new(settings, 2, err, sizeof err);
    if (!agent) {
        fprintf(stderr, "oe_agent_new: %s\n", err);
        return 1;
    }
    long count = strtol(argv[3], NULL, 10);
    for (long i = 0; i < count; i++) {
        char lsid[64], n[32], line[48];
        snprintf(lsid, sizeof lsid, "%s-%ld", argv[2], i);
        snprintf(n, sizeof n, "%ld", i);
        oe_kv variables[] = {{"lsid", lsid}, {"producer", argv[2]}, {"n", n}};
        int result = oe_emit(agent, "support_conference_begin", variables, 3, NULL, 0);
        if (result == OE_OK) {
            snprintf(line, sizeof line, "ok %ld\n", i);
            if (say(line) != 0) return 1;
        } else {
            fprintf(stderr, "oe_emit %ld: %s\n", i, oe_strerror(result));
        }
    }
    if (say("done\n") != 0) return 1;
    if (argc >= 6 && strcmp(argv[4], "flush") == 0) {
        char line[48];
        snprintf(line, sizeof line, "flush %d\n", oe_agent_flush(agent, atoi(argv[5])));
        if (say(line) != 0) return 1;
    } else if (argc >= 5 && strcmp(argv[4], "pause") == 0) {
        for (;;) pause();
    }
    oe_agent_close(agent);
    return 0;
}
