/* Power cuts (SPEC 11), measured:
 *   sync_bench stall SPOOL EVENTS RATE      an agent with a spool; one thread emits RATE events a
 *                                           second on a schedule. Prints the slowest oe_emit and
 *                                           the largest lateness against each call's scheduled
 *                                           time (so a stalled call cannot hide the ones it
 *                                           delayed), then the p99.9 of each, in microseconds.
 *                                           Run with bench/slowsync.so preloaded for a disk whose
 *                                           syncs take 100 ms.
 *   sync_bench syncs SPOOL THREADS SECONDS  THREADS threads each emit one event and call
 *                                           oe_agent_sync, again and again; prints the calls
 *                                           completed per second (callers at the same moment
 *                                           share one sync). */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <unistd.h>

static oe_agent *make(const char *spool) {
    char err[256];
    oe_kv settings[] = {{"queue.spool", spool}, {"queue.capacity", "64MiB"}, {"log.destination", "none"},
                        {"queue.sync_interval", "1s"}};
    oe_agent *agent = oe_agent_new(settings, 4, err, sizeof err);
    if (!agent) {
        fprintf(stderr, "oe_agent_new: %s\n", err);
        exit(1);
    }
    oe_kv recipient[] = {{"url", "http://127.0.0.1:9/"}, {"retry_interval", "1h"}};
    oe_agent_put_http_recipient(agent, "bench", recipient, 2, err, sizeof err);
    return agent;
}

static void emit_one(oe_agent *agent, long i) {
    oe_kv variables[BENCH_VARIABLES];
    char lsid[32];
    make_variables(variables, lsid, sizeof lsid, i);
    if (oe_emit(agent, BENCH_EVENT, variables, BENCH_VARIABLES, NULL, 0) != OE_OK) {
        fprintf(stderr, "oe_emit failed\n");
        exit(1);
    }
}

struct syncer {
    oe_agent *agent;
    double until;
    long calls;
};

static void *sync_loop(void *context) {
    struct syncer *job = context;
    for (long i = 0; now_seconds() < job->until; i++) {
        emit_one(job->agent, i);
        if (oe_agent_sync(job->agent, 60000) != OE_OK) {
            fprintf(stderr, "oe_agent_sync failed\n");
            exit(1);
        }
        job->calls++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s stall SPOOL EVENTS RATE | syncs SPOOL THREADS SECONDS\n", argv[0]);
        return 2;
    }
    unlink(argv[2]);
    oe_agent *agent = make(argv[2]);
    if (strcmp(argv[1], "stall") == 0) {
        long events = strtol(argv[3], NULL, 10);
        double period = 1.0 / strtod(argv[4], NULL);
        double *durations = malloc(sizeof(double) * (size_t)events);
        double *lateness = malloc(sizeof(double) * (size_t)events);
        double start = now_seconds();
        for (long i = 0; i < events; i++) {
            double scheduled = start + (double)i * period;
            while (now_seconds() < scheduled) {}
            double before = now_seconds();
            emit_one(agent, i);
            double after = now_seconds();
            durations[i] = after - before;
            lateness[i] = after - scheduled;
        }
        qsort(durations, (size_t)events, sizeof(double), compare_doubles);
        qsort(lateness, (size_t)events, sizeof(double), compare_doubles);
        printf("%.0f %.0f %.0f %.0f\n", durations[events - 1] * 1e6, lateness[events - 1] * 1e6,
               durations[events * 999 / 1000] * 1e6, lateness[events * 999 / 1000] * 1e6);
    } else {
        int threads = atoi(argv[3]);
        double seconds = strtod(argv[4], NULL);
        pthread_t workers[8];
        struct syncer jobs[8];
        double until = now_seconds() + seconds;
        for (int t = 0; t < threads && t < 8; t++) {
            jobs[t] = (struct syncer){agent, until, 0};
            pthread_create(&workers[t], NULL, sync_loop, &jobs[t]);
        }
        long calls = 0;
        for (int t = 0; t < threads && t < 8; t++) {
            pthread_join(workers[t], NULL);
            calls += jobs[t].calls;
        }
        printf("%.0f\n", (double)calls / seconds);
    }
    oe_agent_close(agent);
    unlink(argv[2]);
    return 0;
}
