/* The firmware service of the power-cut tests: emits events through the shipped library, as an
 * agent with a spool or as a producer of outbound-eventsd, and reports each one the library
 * acknowledged with the moment it did (CLOCK_MONOTONIC, shared by every process of the
 * machine), until it is killed or has emitted COUNT.
 *
 * Usage: cut_child agent SPOOL URL FIRST COUNT RATE [THEN] [KEY=VALUE...]
 *        cut_child producer SPOOL FIRST COUNT RATE [THEN]
 * Events are support_conference_begin with lsid "n-<i>", i from FIRST; COUNT < 0 is forever;
 * RATE events per second. Prints "ok <i> <milliseconds>" (one write(2) each) after OE_OK, then
 * "done". THEN is what follows: "flush" (oe_agent_flush, prints "flush <code>", closes, exits
 * 0), "sync" (oe_agent_sync, prints "sync <code>", then waits to be killed) or "wait" (waits
 * to be killed). KEY=VALUE are more agent settings. */
#define _POSIX_C_SOURCE 200809L
#include <outbound_events.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void say(const char *line) {
    size_t length = strlen(line);
    while (length > 0) {
        ssize_t written = write(1, line, length);
        if (written <= 0) return;
        line += written;
        length -= (size_t)written;
    }
}

int main(int argc, char **argv) {
    int producer = argc > 1 && strcmp(argv[1], "producer") == 0;
    int fixed = producer ? 6 : 7;
    if (argc < fixed) {
        fprintf(stderr, "usage: cut_child agent SPOOL URL FIRST COUNT RATE [THEN] [KEY=VALUE...]\n"
                        "       cut_child producer SPOOL FIRST COUNT RATE [THEN]\n");
        return 2;
    }
    char err[512];
    oe_kv settings[32];
    size_t count = 0;
    char *owned[32];
    if (producer) {
        settings[count++] = (oe_kv){"queue.attach", argv[2]};
    } else {
        settings[count++] = (oe_kv){"queue.spool", argv[2]};
        settings[count++] = (oe_kv){"shutdown_timeout", "0"};
    }
    settings[count++] = (oe_kv){"log.destination", "stderr"};
    const char *then = argc > fixed && strchr(argv[fixed], '=') == NULL ? argv[fixed] : "wait";
    for (int i = fixed; i < argc && count < 32; i++) {
        char *equals = strchr(argv[i], '=');
        if (equals == NULL) continue;
        owned[count] = strdup(argv[i]);
        owned[count][equals - argv[i]] = 0;
        settings[count] = (oe_kv){owned[count], owned[count] + (equals - argv[i]) + 1};
        count++;
    }
    oe_agent *agent = oe_agent_new(settings, count, err, sizeof err);
    if (!agent) {
        fprintf(stderr, "oe_agent_new: %s\n", err);
        return 1;
    }
    if (!producer) {
        oe_kv recipient[] = {{"url", argv[3]}, {"retry_interval", "100ms"}};
        if (oe_agent_put_http_recipient(agent, "hook", recipient, 2, err, sizeof err) != OE_OK) {
            fprintf(stderr, "put: %s\n", err);
            return 1;
        }
    }
    long first = strtol(argv[producer ? 3 : 4], NULL, 10);
    long total = strtol(argv[producer ? 4 : 5], NULL, 10);
    long rate = strtol(argv[producer ? 5 : 6], NULL, 10);
    struct timespec gap = {0, rate > 0 ? 1000000000L / rate : 0};
    for (long i = first; total < 0 || i < first + total; i++) {
        char lsid[32], line[64];
        snprintf(lsid, sizeof lsid, "n-%ld", i);
        oe_kv variables[] = {{"lsid", lsid}, {"external_key", "cut"}};
        int result = oe_emit(agent, "support_conference_begin", variables, 2, NULL, 0);
        if (result == OE_OK) {
            snprintf(line, sizeof line, "ok %ld %lld\n", i, now_ms());
            say(line);
        } else {
            fprintf(stderr, "oe_emit %ld: %s\n", i, oe_strerror(result));
        }
        if (rate > 0) nanosleep(&gap, NULL);
    }
    say("done\n");
    char line[64];
    if (strcmp(then, "flush") == 0) {
        snprintf(line, sizeof line, "flush %d\n", oe_agent_flush(agent, 30000));
        say(line);
        oe_agent_close(agent);
        return 0;
    }
    if (strcmp(then, "sync") == 0) {
        snprintf(line, sizeof line, "sync %d\n", oe_agent_sync(agent, 30000));
        say(line);
    }
    for (;;) pause();
}
