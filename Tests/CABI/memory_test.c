/* Bounded memory, proven (SPEC 2): with a dead receiver and queue.capacity = 8MiB, a million
 * emitted events grow the process's resident memory by no more than the capacity plus 8 MiB,
 * and it stays flat once the ring is full. And oe_emit makes no heap allocation in steady
 * state: this program interposes malloc and friends (the library's calls resolve to the
 * executable's definitions) and counts the calls made by the emitting thread.
 *
 * Usage: memory_test [EVENTS]   (default 1000000) */
#define _GNU_SOURCE
#include <outbound_events.h>

#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Thread_local long allocations;

void *malloc(size_t size) { allocations++; return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { allocations++; return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { allocations++; return __libc_realloc(pointer, size); }
void *aligned_alloc(size_t alignment, size_t size) { allocations++; return __libc_memalign(alignment, size); }
void *memalign(size_t alignment, size_t size) { allocations++; return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    allocations++;
    *out = __libc_memalign(alignment, size);
    return *out ? 0 : 12;
}

/* An event of 10 variables, about 400 bytes stored. */
static int emit_one(oe_agent *agent, long i) {
    char lsid[24];
    snprintf(lsid, sizeof lsid, "%ld", i);
    oe_kv variables[] = {
        {"lsid", lsid}, {"external_key", "INC-0001234"}, {"type", "support"}, {"username", "ann.baker"},
        {"display_name", "Ann Baker"}, {"public_site", "Support Portal"}, {"customer", "ACME Corporation"},
        {"computer", "WS-4711.acme.example"}, {"issue", "Printer does not print double-sided"},
        {"queue", "Tier 2 Hardware and Peripherals"},
    };
    return oe_emit(agent, "support_conference_begin", variables, 10, NULL, 0);
}

int main(int argc, char **argv) {
    long events = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    const long capacity_kib = 8 * 1024;
    char err[256];
    oe_kv settings[] = {{"queue.capacity", "8MiB"}, {"log.destination", "none"}, {"shutdown_timeout", "0"}};
    oe_agent *agent = oe_agent_new(settings, 3, err, sizeof err);
    if (!agent) { fprintf(stderr, "%s\n", err); return 1; }
    oe_kv dead[] = {{"url", "http://127.0.0.1:9/dead"}, {"retry_interval", "1h"}};
    if (oe_agent_put_http_recipient(agent, "dead", dead, 2, err, sizeof err) != OE_OK) { fprintf(stderr, "%s\n", err); return 1; }

    for (long i = 0; i < 1000; i++) emit_one(agent, i);
    long before = resident_kib();
    long full = 0, previous = before, max_step = 0;
    int failures = 0;
    long steady_allocations = 0;
    for (long i = 1000; i < events; i++) {
        long counted = allocations;
        if (emit_one(agent, i) != OE_OK) { failures++; break; }
        if (i >= 100000) steady_allocations += allocations - counted;
        if (i % 100000 == 0) {
            long now = resident_kib();
            if (i == 100000) full = now;
            if (i > 100000 && now - previous > max_step) max_step = now - previous;
            previous = now;
        }
    }
    long after = resident_kib();
    char status[2048];
    oe_agent_status_json(agent, status, sizeof status);
    printf("resident memory: %ld KiB before, %ld KiB once the ring was full (100k events), %ld KiB after %ld events\n",
           before, full, after, events);
    printf("growth: %ld KiB (bound: capacity %ld KiB + 8192 KiB); largest growth per 100k events after full: %ld KiB\n",
           after - before, capacity_kib, max_step);
    printf("heap allocations by oe_emit in steady state: %ld over %ld calls\n", steady_allocations, events - 100000);
    int bounded = after - before <= capacity_kib + 8192;
    int flat = max_step <= 1024;
    int no_alloc = steady_allocations == 0;
    printf("%s - resident memory grows by at most the capacity plus 8 MiB\n", bounded ? "ok" : "not ok");
    printf("%s - resident memory stays flat once the ring is full\n", flat ? "ok" : "not ok");
    printf("%s - oe_emit makes no heap allocation in steady state\n", no_alloc ? "ok" : "not ok");
    printf("%s - every emit accepted (drop_oldest)\n", failures == 0 ? "ok" : "not ok");
    oe_agent_close(agent);
    return bounded && flat && no_alloc && failures == 0 ? 0 : 1;
}
