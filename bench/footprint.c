/* What linking the library costs a firmware process (bench/run.sh runs it).
 *
 *   footprint oe URL      resident KiB when main starts (the library loaded); with one agent
 *                         (1 MiB queue, one webhook recipient at URL, its delivery thread
 *                         running); and once its queue has been filled and wrapped (URL should
 *                         refuse connections, so the events stay queued: every page of the ring
 *                         is resident, as in the C equivalent). Then the median and maximum time
 *                         of oe_agent_new (with that recipient's put) over 50 agents made and
 *                         closed one after another.
 *   footprint c URL       the C equivalent without the library: curl_global_init, a multi handle
 *                         with one easy handle for URL, a 1 MiB ring written whole (kept from
 *                         the optimiser, which would drop writes nothing reads),
 *                         one thread that waits on the multi handle; resident KiB before and after
 *
 * Prints "KIB_START KIB_AGENT KIB_FULL NEW_MEDIAN_US NEW_MAX_US", or "KIB_START KIB_AGENT". */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <outbound_events.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "proc.h" /* Tests/CABI: resident_kib() */

static oe_agent *make_agent(const char *url) {
    static const oe_kv settings[] = {{"appliance_id", "footprint"}, {"queue.capacity", "1MiB"}, {"log.destination", "none"}};
    char err[256];
    oe_agent *agent = oe_agent_new(settings, sizeof settings / sizeof settings[0], err, sizeof err);
    if (!agent) {
        fprintf(stderr, "oe_agent_new: %s\n", err);
        exit(1);
    }
    oe_kv recipient[] = {{"url", url}};
    if (oe_agent_put_http_recipient(agent, "bench", recipient, 1, err, sizeof err) != OE_OK) {
        fprintf(stderr, "oe_agent_put_http_recipient: %s\n", err);
        exit(1);
    }
    return agent;
}

static volatile int stop;

static void *wait_loop(void *multi) {
    while (!stop) {
        int running = 0, ready = 0;
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 100, &ready);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: footprint oe|c URL\n");
        return 2;
    }
    long start = resident_kib();
    if (strcmp(argv[1], "oe") == 0) {
        oe_agent *agent = make_agent(argv[2]);
        usleep(200 * 1000); /* the delivery thread has started and settled */
        long with_agent = resident_kib();
        /* About 4 MiB of events through a 1 MiB queue (drop_oldest): every page written. */
        char lsid[32];
        oe_kv variables[BENCH_VARIABLES];
        for (long i = 0; i < 10000; i++) {
            make_variables(variables, lsid, sizeof lsid, i);
            if (oe_emit(agent, BENCH_EVENT, variables, BENCH_VARIABLES, NULL, 0) != OE_OK) {
                fprintf(stderr, "oe_emit failed\n");
                return 1;
            }
        }
        usleep(200 * 1000);
        long full = resident_kib();
        oe_agent_close(agent);
        enum { AGENTS = 50 };
        double times[AGENTS];
        for (int i = 0; i < AGENTS; i++) {
            double begin = now_seconds();
            agent = make_agent(argv[2]);
            times[i] = (now_seconds() - begin) * 1e6;
            oe_agent_close(agent);
        }
        qsort(times, AGENTS, sizeof times[0], compare_doubles);
        printf("%ld %ld %ld %.0f %.0f\n", start, with_agent, full, times[AGENTS / 2], times[AGENTS - 1]);
        return 0;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, argv[2]);
    unsigned char *ring = malloc(1u << 20);
    memset(ring, 0xA5, 1u << 20);
    __asm__ __volatile__("" : : "r"(ring) : "memory"); /* the ring is used: the writes stay */
    pthread_t thread;
    pthread_create(&thread, NULL, wait_loop, multi);
    usleep(200 * 1000);
    long with_agent = resident_kib();
    stop = 1;
    pthread_join(thread, NULL);
    printf("%ld %ld\n", start, with_agent);
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
    free(ring);
    curl_global_cleanup();
    return 0;
}
