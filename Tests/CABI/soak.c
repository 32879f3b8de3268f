/* Soak and lifecycle (SoakTests runs it): four threads emit steadily (100 events a second each,
 * a rate the flapping receiver can catch up with, so no event is evicted) for SECONDS
 * while the test flaps the receiver up and down; then everything is flushed. Reports what was
 * emitted per thread and the process's resident memory, descriptors and threads before,
 * during and after. Then 1,000 create/close cycles of an agent, with descriptors and threads
 * counted before and after.
 *
 * Usage: soak URL SECONDS      Output: "key value" lines. */
#define _GNU_SOURCE
#include <outbound_events.h>

#include "proc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct emitter {
    oe_agent *agent;
    int id;
    double until;
    long emitted, refused;
};

static void *emit_loop(void *context) {
    struct emitter *emitter = context;
    while (now() < emitter->until) {
        char lsid[32];
        snprintf(lsid, sizeof lsid, "t%d-%ld", emitter->id, emitter->emitted);
        oe_kv variables[] = {{"lsid", lsid}, {"external_key", "soak"}, {"display_name", "Soak Test"}};
        if (oe_emit(emitter->agent, "support_conference_begin", variables, 3, NULL, 0) == OE_OK) {
            emitter->emitted++;
        } else {
            emitter->refused++;
        }
        usleep(10000);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s URL SECONDS\n", argv[0]); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char err[256];
    oe_kv settings[] = {{"queue.capacity", "8MiB"}, {"log.destination", "none"}, {"shutdown_timeout", "0"}};
    oe_agent *agent = oe_agent_new(settings, 3, err, sizeof err);
    if (!agent) { fprintf(stderr, "%s\n", err); return 1; }
    oe_kv recipient[] = {{"url", argv[1]}, {"retry_interval", "200ms"}, {"retry_duration", "1d"}};
    if (oe_agent_put_http_recipient(agent, "flapping", recipient, 3, err, sizeof err) != OE_OK) { fprintf(stderr, "%s\n", err); return 1; }
    /* Warm up: one delivery opens the recipient's connection before anything is counted. */
    oe_emit(agent, "support_conference_begin", NULL, 0, NULL, 0);
    oe_agent_flush(agent, 10000);
    long rss_start = resident_kib(), fds_start = count_entries("/proc/self/fd"), threads_start = count_entries("/proc/self/task");
    printf("rss_start %ld\nfds_start %ld\nthreads_start %ld\n", rss_start, fds_start, threads_start);

    double seconds = atof(argv[2]);
    struct emitter emitters[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        emitters[t] = (struct emitter){agent, t, now() + seconds, 0, 0};
        pthread_create(&threads[t], NULL, emit_loop, &emitters[t]);
    }
    long rss_max = rss_start, rss_quarter = 0;
    double start = now();
    while (now() < start + seconds) {
        usleep(500000);
        long rss = resident_kib();
        if (rss > rss_max) rss_max = rss;
        if (!rss_quarter && now() > start + seconds / 4) rss_quarter = rss;
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(threads[t], NULL);
        printf("emitted t%d %ld\nrefused t%d %ld\n", t, emitters[t].emitted, t, emitters[t].refused);
    }
    printf("flush %s\n", oe_strerror(oe_agent_flush(agent, 120000)));
    char status[4096];
    oe_agent_status_json(agent, status, sizeof status);
    const char *dropped = strstr(status, "\"dropped_overflow\":");
    printf("dropped_overflow %ld\n", dropped ? strtol(dropped + 19, NULL, 10) : -1);
    printf("rss_quarter %ld\nrss_max %ld\nrss_end %ld\n", rss_quarter, rss_max, resident_kib());
    printf("fds_end %ld\nthreads_end %ld\n", count_entries("/proc/self/fd"), count_entries("/proc/self/task"));
    oe_agent_close(agent);

    long fds_before = count_entries("/proc/self/fd"), threads_before = count_entries("/proc/self/task");
    long rss_before = resident_kib();
    for (int i = 0; i < 1000; i++) {
        oe_agent *cycle = oe_agent_new(settings, 3, err, sizeof err);
        if (!cycle) { fprintf(stderr, "cycle %d: %s\n", i, err); return 1; }
        oe_agent_put_http_recipient(cycle, "r", recipient, 2, err, sizeof err);
        oe_emit(cycle, "support_conference_begin", NULL, 0, NULL, 0);
        oe_agent_close(cycle);
    }
    /* A thread that is exiting (a libcurl resolver, say) may still be listed for a moment:
       a leak is a count that stays up, so the counts get a second to settle. */
    for (int i = 0; i < 20 && (count_entries("/proc/self/task") != threads_before ||
                               count_entries("/proc/self/fd") != fds_before); i++) {
        usleep(50000);
    }
    printf("cycles 1000\ncycle_fds_before %ld\ncycle_fds_after %ld\ncycle_threads_before %ld\ncycle_threads_after %ld\n",
           fds_before, count_entries("/proc/self/fd"), threads_before, count_entries("/proc/self/task"));
    printf("cycle_rss_before %ld\ncycle_rss_after %ld\n", rss_before, resident_kib());
    return 0;
}
