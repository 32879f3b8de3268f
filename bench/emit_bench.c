/* oe_emit against a plain C baseline, side by side (bench/run.sh runs it).
 *
 *   emit_bench oe THREADS EVENTS [spool]   events/s through oe_emit, no delivery running
 *   emit_bench baseline THREADS EVENTS     events/s appending the same bytes to a
 *                                          mutex-protected ring in plain C
 *   emit_bench latency URL EVENTS          p50/p99/p99.9 of one oe_emit while deliveries run
 *   emit_bench latency-c URL EVENTS        the same for a C agent of the same shape: the
 *                                          mutex-protected ring, one delivery thread copying
 *                                          the oldest record out under the mutex and POSTing it
 *                                          with one reused libcurl easy handle
 *
 * The event has 10 variables, about 400 bytes. Both queues have 64 MiB and drop the oldest
 * events when full, so both measure the steady state. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <outbound_events.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define CAPACITY (64u << 20)

static const char *event_name = BENCH_EVENT;

/* The baseline: what a C programmer would write first. One mutex, one ring of 512-byte slots,
 * each event serialised into the next slot as [u32 length][name][u16 klen, u16 vlen, key,
 * value]..., the oldest overwritten when the ring is full. */
#define SLOT 512
struct ring {
    pthread_mutex_t lock;
    uint8_t *bytes;
    size_t next, count;
};

static struct ring baseline_ring;

__attribute__((noinline)) static void ring_append(struct ring *ring, const char *name, const oe_kv *variables, size_t count) {
    size_t lengths[2 * 10];
    size_t name_length = strlen(name);
    for (size_t i = 0; i < count; i++) {
        lengths[2 * i] = strlen(variables[i].key);
        lengths[2 * i + 1] = strlen(variables[i].value);
    }
    pthread_mutex_lock(&ring->lock);
    uint8_t *at = ring->bytes + ring->next * SLOT;
    size_t offset = 4;
    memcpy(at + offset, name, name_length);
    offset += name_length;
    for (size_t i = 0; i < count; i++) {
        uint16_t k = (uint16_t)lengths[2 * i], v = (uint16_t)lengths[2 * i + 1];
        memcpy(at + offset, &k, 2);
        memcpy(at + offset + 2, &v, 2);
        offset += 4;
        memcpy(at + offset, variables[i].key, k);
        offset += k;
        memcpy(at + offset, variables[i].value, v);
        offset += v;
    }
    uint32_t stored = (uint32_t)offset;
    memcpy(at, &stored, 4);
    ring->next = (ring->next + 1) % (CAPACITY / SLOT);
    if (ring->count < CAPACITY / SLOT) ring->count++;
    pthread_mutex_unlock(&ring->lock);
}

/* The C agent of the same shape: the baseline ring, consumed from its oldest slot by one
 * delivery thread that waits on a condition variable when the ring is empty. */
static pthread_cond_t c_agent_ready = PTHREAD_COND_INITIALIZER;
static int c_agent_stop;

static size_t discard(char *data, size_t size, size_t count, void *context) {
    (void)data; (void)context;
    return size * count;
}

static void *c_agent_delivery(void *context) {
    const char *url = context;
    CURL *easy = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    uint8_t record[SLOT];
    for (;;) {
        pthread_mutex_lock(&baseline_ring.lock);
        while (baseline_ring.count == 0 && !c_agent_stop) pthread_cond_wait(&c_agent_ready, &baseline_ring.lock);
        if (c_agent_stop) { pthread_mutex_unlock(&baseline_ring.lock); break; }
        size_t slots = CAPACITY / SLOT;
        size_t oldest = (baseline_ring.next + slots - baseline_ring.count) % slots;
        memcpy(record, baseline_ring.bytes + oldest * SLOT, SLOT);
        baseline_ring.count--;
        pthread_mutex_unlock(&baseline_ring.lock);
        uint32_t length;
        memcpy(&length, record, 4);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)length);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, record);
        curl_easy_perform(easy);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    return NULL;
}

static void *emit_worker(void *context) {
    struct job *job = context;
    oe_kv variables[10];
    char lsid[24];
    for (long i = 0; i < job->events; i++) {
        make_variables(variables, lsid, sizeof lsid, job->first + i);
        if (job->agent) {
            oe_emit(job->agent, event_name, variables, 10, NULL, 0);
        } else {
            ring_append(&baseline_ring, event_name, variables, 10);
        }
    }
    return NULL;
}

static oe_agent *make_agent(const char *url, const char *spool, const char *retry) {
    char err[512];
    oe_kv settings[] = {{"queue.capacity", "64MiB"}, {"log.destination", "none"}, {"shutdown_timeout", "0"},
                        {"queue.spool", spool ? spool : ""}};
    oe_agent *agent = oe_agent_new(settings, 4, err, sizeof err);
    if (!agent) { fprintf(stderr, "oe_agent_new: %s\n", err); exit(1); }
    oe_kv recipient[] = {{"url", url}, {"retry_interval", retry}};
    if (oe_agent_put_http_recipient(agent, "bench", recipient, 2, err, sizeof err) != OE_OK) {
        fprintf(stderr, "put: %s\n", err);
        exit(1);
    }
    return agent;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s oe|baseline THREADS EVENTS [SPOOL] | latency URL EVENTS\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "latency-c") == 0) {
        long events = strtol(argv[3], NULL, 10);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        pthread_mutex_init(&baseline_ring.lock, NULL);
        baseline_ring.bytes = calloc(1, CAPACITY);
        pthread_t delivery;
        pthread_create(&delivery, NULL, c_agent_delivery, argv[2]);
        double *samples = malloc(sizeof(double) * (size_t)events);
        oe_kv variables[10];
        char lsid[24];
        for (long i = 0; i < events; i++) {
            make_variables(variables, lsid, sizeof lsid, i);
            double start = now_seconds();
            ring_append(&baseline_ring, event_name, variables, 10);
            pthread_cond_signal(&c_agent_ready);
            samples[i] = now_seconds() - start;
            if (i % 16 == 0) usleep(20);
        }
        pthread_mutex_lock(&baseline_ring.lock);
        c_agent_stop = 1;
        pthread_cond_signal(&c_agent_ready);
        pthread_mutex_unlock(&baseline_ring.lock);
        pthread_join(delivery, NULL);
        print_percentiles(samples, events);
        return 0;
    }
    if (strcmp(argv[1], "latency") == 0) {
        long events = strtol(argv[3], NULL, 10);
        oe_agent *agent = make_agent(argv[2], NULL, "1s");
        double *samples = malloc(sizeof(double) * (size_t)events);
        oe_kv variables[10];
        char lsid[24];
        for (long i = 0; i < events; i++) {
            make_variables(variables, lsid, sizeof lsid, i);
            double start = now_seconds();
            oe_emit(agent, event_name, variables, 10, NULL, 0);
            samples[i] = now_seconds() - start;
            if (i % 16 == 0) usleep(20);
        }
        print_percentiles(samples, events);
        oe_agent_close(agent);
        return 0;
    }
    int threads = atoi(argv[2]);
    long events = strtol(argv[3], NULL, 10);
    oe_agent *agent = NULL;
    if (strcmp(argv[1], "oe") == 0) {
        /* Nothing listens on port 9: the first attempt fails, the next is an hour away, so no
           delivery runs while the queue fills. */
        agent = make_agent("http://127.0.0.1:9/", argc > 4 ? argv[4] : NULL, "1h");
        usleep(100000);
    } else {
        pthread_mutex_init(&baseline_ring.lock, NULL);
        baseline_ring.bytes = malloc(CAPACITY);
        memset(baseline_ring.bytes, 0, CAPACITY);
    }
    printf("%.0f\n", run_jobs(agent, threads, events, emit_worker));
    if (agent) oe_agent_close(agent);
    return 0;
}
