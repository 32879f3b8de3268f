/* What the benchmark programs share: the event they send, the clock they time with, and the
 * percentiles they report. */
#ifndef OE_BENCH_H
#define OE_BENCH_H

#include <outbound_events.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_EVENT "support_conference_begin"
#define BENCH_VARIABLES 10

/* The benchmark event's 10 variables (about 400 bytes stored); lsid is event number i, written
 * into the caller's buffer. */
static inline void make_variables(oe_kv *variables, char *lsid, size_t lsid_size, long i) {
    snprintf(lsid, lsid_size, "%ld", i);
    oe_kv fields[BENCH_VARIABLES] = {
        {"lsid", lsid}, {"external_key", "INC-0001234"}, {"type", "support"}, {"username", "ann.baker"},
        {"display_name", "Ann Baker"}, {"public_site", "Support Portal for Customers"}, {"customer", "ACME Corporation"},
        {"computer", "WS-4711.acme.example"}, {"issue", "Printer does not print double-sided on letter paper"},
        {"queue", "Tier 2 Hardware, Printers and Peripherals (EMEA)"},
    };
    memcpy(variables, fields, sizeof fields);
}

static inline double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static inline int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints the p50, p99 and p99.9 of `count` samples in seconds, as nanoseconds on one line. */
static inline void print_percentiles(double *samples, long count) {
    qsort(samples, (size_t)count, sizeof(double), compare_doubles);
    printf("%.0f %.0f %.0f\n", samples[count / 2] * 1e9, samples[count * 99 / 100] * 1e9,
           samples[count * 999 / 1000] * 1e9);
}

/* One emitting thread's share: events number first to first + events - 1, into agent (NULL for
 * a baseline without one). */
struct job {
    oe_agent *agent;
    long events;
    long first;
};

/* Runs worker(struct job *) on `threads` threads (at most 8), `events` split between them;
 * returns the events per second of the whole. */
static inline double run_jobs(oe_agent *agent, int threads, long events, void *(*worker)(void *)) {
    pthread_t workers[8];
    struct job jobs[8];
    double start = now_seconds();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){agent, events / threads, t * (events / threads)};
        pthread_create(&workers[t], NULL, worker, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(workers[t], NULL);
    return (double)events / (now_seconds() - start);
}

#endif
