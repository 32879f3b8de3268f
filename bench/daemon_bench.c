/* Appliance mode against the in-process agent and the C baseline (bench/run.sh runs it): a
 * producer attached to outbound-eventsd's spool, and the daemon's delivery.
 *
 *   daemon_bench emit SPOOL THREADS EVENTS     producer oe_emit events/s (the daemon running,
 *                                              its recipient failing, so it only moves events)
 *   daemon_bench latency SPOOL EVENTS          one producer oe_emit while the daemon delivers to
 *                                              nginx: p50 p99 p99.9 in ns (as emit_bench latency)
 *   daemon_bench drain SPOOL EVENTS DAEMON CONFIG
 *                                              EVENTS emitted while the daemon is stopped; then it
 *                                              is started and timed until oe_agent_flush says all
 *                                              are delivered: deliveries/s (as deliver_bench oe) */
#define _GNU_SOURCE
#include <outbound_events.h>

#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

static oe_agent *attach(const char *spool) {
    char err[512];
    oe_kv settings[] = {{"queue.attach", spool}, {"log.destination", "none"}};
    oe_agent *agent = oe_agent_new(settings, 2, err, sizeof err);
    if (!agent) {
        fprintf(stderr, "oe_agent_new: %s\n", err);
        exit(1);
    }
    return agent;
}

static void *emit_worker(void *context) {
    struct job *job = context;
    oe_kv variables[BENCH_VARIABLES];
    char lsid[24];
    for (long i = 0; i < job->events; i++) {
        make_variables(variables, lsid, sizeof lsid, job->first + i);
        oe_emit(job->agent, BENCH_EVENT, variables, BENCH_VARIABLES, NULL, 0);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s emit SPOOL THREADS EVENTS | latency SPOOL EVENTS | drain SPOOL EVENTS DAEMON CONFIG\n", argv[0]);
        return 2;
    }
    oe_agent *agent = attach(argv[2]);
    if (strcmp(argv[1], "emit") == 0 && argc >= 5) {
        printf("%.0f\n", run_jobs(agent, atoi(argv[3]), strtol(argv[4], NULL, 10), emit_worker));
    } else if (strcmp(argv[1], "latency") == 0) {
        long events = strtol(argv[3], NULL, 10);
        double *samples = malloc(sizeof(double) * (size_t)events);
        oe_kv variables[BENCH_VARIABLES];
        char lsid[24];
        for (long i = 0; i < events; i++) {
            make_variables(variables, lsid, sizeof lsid, i);
            double start = now_seconds();
            oe_emit(agent, BENCH_EVENT, variables, BENCH_VARIABLES, NULL, 0);
            samples[i] = now_seconds() - start;
            if (i % 16 == 0) usleep(20);
        }
        print_percentiles(samples, events);
        if (oe_agent_flush(agent, 600000) != OE_OK) fprintf(stderr, "latency: the daemon did not deliver everything\n");
    } else if (strcmp(argv[1], "drain") == 0 && argc >= 6) {
        long events = strtol(argv[3], NULL, 10);
        struct job job = {agent, events, 0};
        emit_worker(&job);
        char *daemon_argv[] = {argv[4], "--config", argv[5], NULL};
        pid_t daemon;
        double start = now_seconds();
        if (posix_spawn(&daemon, argv[4], NULL, NULL, daemon_argv, environ) != 0) {
            perror("posix_spawn");
            return 1;
        }
        int flushed = oe_agent_flush(agent, 600000);
        double elapsed = now_seconds() - start;
        kill(daemon, SIGTERM);
        waitpid(daemon, NULL, 0);
        if (flushed != OE_OK) {
            fprintf(stderr, "drain: flush: %s\n", oe_strerror(flushed));
            return 1;
        }
        printf("%.0f\n", (double)events / elapsed);
    } else {
        fprintf(stderr, "%s: unknown mode or missing arguments\n", argv[1]);
        return 2;
    }
    oe_agent_close(agent);
    return 0;
}
