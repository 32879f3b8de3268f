/* Delivery throughput against libcurl baselines, side by side (bench/run.sh runs it).
 *
 *   deliver_bench oe URL EVENTS RECIPIENTS [SPOOL]  the agent: EVENTS queued for each of
 *                                                   RECIPIENTS, then timed until delivered
 *   deliver_bench curl URL EVENTS                   one reused easy handle, sequential POSTs
 *   deliver_bench multi URL EVENTS HANDLES          HANDLES easy handles in one multi handle,
 *                                                   each posting EVENTS bodies one at a time
 * Prints deliveries per second. The baselines send the body and headers the agent sends. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <outbound_events.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"


/* The agent's form body for event i, built the way a C programmer would. */
static size_t make_body(char *body, size_t size, long i) {
    size_t length = (size_t)snprintf(body, size, "event=" BENCH_EVENT "&version=3&timestamp=%ld&appliance_id=bench",
                                     (long)time(NULL));
    oe_kv variables[BENCH_VARIABLES];
    char lsid[24];
    make_variables(variables, lsid, sizeof lsid, i);
    for (int v = 0; v < BENCH_VARIABLES; v++) {
        char *escaped = curl_easy_escape(NULL, variables[v].value, 0);
        length += (size_t)snprintf(body + length, size - length, "&%s=%s", variables[v].key, escaped);
        curl_free(escaped);
    }
    return length;
}

static size_t discard(char *data, size_t size, size_t count, void *context) {
    (void)data; (void)context;
    return size * count;
}

struct sender {
    CURL *easy;
    struct curl_slist *headers;
    char body[2048];
    long sent;
};

static void prepare(struct sender *sender, const char *url, long i) {
    if (!sender->easy) {
        sender->easy = curl_easy_init();
        curl_easy_setopt(sender->easy, CURLOPT_URL, url);
        curl_easy_setopt(sender->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(sender->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(sender->easy, CURLOPT_USERAGENT, "outbound-events/1.0.0");
    }
    curl_slist_free_all(sender->headers);
    char id[64], stamp[64];
    snprintf(id, sizeof id, "webhook-id: evt_0000000000000001%016lx", i);
    snprintf(stamp, sizeof stamp, "webhook-timestamp: %ld", (long)time(NULL));
    sender->headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    sender->headers = curl_slist_append(sender->headers, id);
    sender->headers = curl_slist_append(sender->headers, stamp);
    sender->headers = curl_slist_append(sender->headers, "Expect:");
    curl_easy_setopt(sender->easy, CURLOPT_HTTPHEADER, sender->headers);
    size_t length = make_body(sender->body, sizeof sender->body, i);
    curl_easy_setopt(sender->easy, CURLOPT_POSTFIELDSIZE, (long)length);
    curl_easy_setopt(sender->easy, CURLOPT_POSTFIELDS, sender->body);
}

static int run_agent(const char *url, long events, int recipients, const char *spool) {
    char err[512];
    oe_kv settings[] = {{"queue.capacity", "512MiB"}, {"log.destination", "none"}, {"queue.spool", spool ? spool : ""},
                        {"appliance_id", "bench"}};
    oe_agent *agent = oe_agent_new(settings, 4, err, sizeof err);
    if (!agent) { fprintf(stderr, "%s\n", err); return 1; }
    char names[8][16];
    /* Queue everything with the recipients pointing nowhere, then point them at the server:
       an edit keeps the queue, and the clock starts when delivery can. */
    for (int r = 0; r < recipients; r++) {
        snprintf(names[r], sizeof names[r], "r%d", r);
        oe_kv recipient[] = {{"url", "http://127.0.0.1:9/"}, {"retry_interval", "1h"}};
        oe_agent_put_http_recipient(agent, names[r], recipient, 2, err, sizeof err);
    }
    for (long i = 0; i < events; i++) {
        char lsid[24];
        oe_kv variables[BENCH_VARIABLES];
        make_variables(variables, lsid, sizeof lsid, i);
        if (oe_emit(agent, BENCH_EVENT, variables, BENCH_VARIABLES, NULL, 0) != OE_OK) { fprintf(stderr, "emit failed\n"); return 1; }
    }
    double start = now_seconds();
    for (int r = 0; r < recipients; r++) {
        oe_kv recipient[] = {{"url", url}};
        oe_agent_put_http_recipient(agent, names[r], recipient, 1, err, sizeof err);
    }
    int rc = oe_agent_flush(agent, 600000);
    double elapsed = now_seconds() - start;
    if (rc != OE_OK) { fprintf(stderr, "flush: %s\n", oe_strerror(rc)); return 1; }
    printf("%.0f\n", (double)(events * recipients) / elapsed);
    oe_agent_close(agent);
    return 0;
}

static int run_curl(const char *url, long events) {
    struct sender sender = {0};
    double start = now_seconds();
    for (long i = 0; i < events; i++) {
        prepare(&sender, url, i);
        long status = 0;
        if (curl_easy_perform(sender.easy) != CURLE_OK) return 1;
        curl_easy_getinfo(sender.easy, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) return 1;
    }
    printf("%.0f\n", (double)events / (now_seconds() - start));
    return 0;
}

static int run_multi(const char *url, long events, int handles) {
    CURLM *multi = curl_multi_init();
    struct sender senders[8] = {{0}};
    double start = now_seconds();
    for (int h = 0; h < handles; h++) {
        prepare(&senders[h], url, 0);
        curl_multi_add_handle(multi, senders[h].easy);
    }
    long done = 0;
    while (done < events * handles) {
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read(multi, &left))) {
            if (message->msg != CURLMSG_DONE) continue;
            for (int h = 0; h < handles; h++) {
                if (senders[h].easy != message->easy_handle) continue;
                curl_multi_remove_handle(multi, senders[h].easy);
                done++;
                if (++senders[h].sent < events) {
                    prepare(&senders[h], url, senders[h].sent);
                    curl_multi_add_handle(multi, senders[h].easy);
                }
            }
        }
        if (done < events * handles) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    printf("%.0f\n", (double)(events * handles) / (now_seconds() - start));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s oe URL EVENTS RECIPIENTS [SPOOL] | curl URL EVENTS | multi URL EVENTS HANDLES\n", argv[0]);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long events = strtol(argv[3], NULL, 10);
    if (strcmp(argv[1], "oe") == 0) return run_agent(argv[2], events, atoi(argv[4]), argc > 5 ? argv[5] : NULL);
    if (strcmp(argv[1], "curl") == 0) return run_curl(argv[2], events);
    return run_multi(argv[2], events, atoi(argv[4]));
}
