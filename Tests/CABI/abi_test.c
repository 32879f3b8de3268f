/* The C ABI end to end, as firmware uses it: compiled with -std=c11 -Wall -Wextra -Werror
 * against include/outbound_events.h and linked to the built library.
 * Usage: abi_test URL   (a receiver that answers 200) */
#include <outbound_events.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                        \
    do {                                                        \
        if (cond) {                                             \
            printf("ok - " __VA_ARGS__);                        \
        } else {                                                \
            printf("not ok - " __VA_ARGS__);                    \
            failures++;                                         \
        }                                                       \
        printf("\n");                                           \
    } while (0)

#if !OE_AT_LEAST_VERSION(1, 0, 0)
#error "the header is older than 1.0.0"
#endif

static void version_and_errors(void) {
    CHECK(strcmp(oe_version(), OE_VERSION_STRING) == 0, "oe_version() is the header's version %s", oe_version());
    for (int code = OE_OK; code >= OE_ENOMEM; code--) {
        CHECK(oe_strerror(code) != NULL && strlen(oe_strerror(code)) > 0, "oe_strerror(%d) = %s", code, oe_strerror(code));
    }
    CHECK(strcmp(oe_strerror(12345), "unknown result code") == 0, "oe_strerror of an unknown code");
}

static void null_arguments(void) {
    char err[256];
    oe_kv kv = {"url", "http://127.0.0.1:9/"};
    CHECK(oe_agent_new(NULL, 1, err, sizeof err) == NULL, "oe_agent_new(NULL, 1) fails: %s", err);
    CHECK(oe_agent_configure(NULL, NULL, 0, err, sizeof err) == OE_EINVAL, "configure(NULL agent) is OE_EINVAL");
    CHECK(oe_agent_put_http_recipient(NULL, "a", &kv, 1, err, sizeof err) == OE_EINVAL, "put_http(NULL agent) is OE_EINVAL");
    CHECK(oe_agent_put_email_recipient(NULL, "a", &kv, 1, err, sizeof err) == OE_EINVAL, "put_email(NULL agent) is OE_EINVAL");
    CHECK(oe_agent_remove_recipient(NULL, "a") == OE_EINVAL, "remove(NULL agent) is OE_EINVAL");
    CHECK(oe_emit(NULL, "support_conference_begin", NULL, 0, NULL, 0) == OE_EINVAL, "emit(NULL agent) is OE_EINVAL");
    CHECK(oe_agent_flush(NULL, 0) == OE_EINVAL, "flush(NULL agent) is OE_EINVAL");
    CHECK(oe_agent_status_json(NULL, NULL, 0) == OE_EINVAL, "status_json(NULL agent) is OE_EINVAL");
    oe_agent_close(NULL);
    CHECK(1, "oe_agent_close(NULL) is a no-op");

    oe_agent *agent = oe_agent_new(NULL, 0, NULL, 0);
    CHECK(agent != NULL, "oe_agent_new(NULL, 0, NULL, 0) makes an agent with every default");
    if (!agent) return;
    CHECK(oe_agent_put_http_recipient(agent, NULL, &kv, 1, err, sizeof err) == OE_EINVAL, "put_http(NULL name): %s", err);
    CHECK(oe_agent_put_http_recipient(agent, "a", NULL, 1, err, sizeof err) == OE_EINVAL, "put_http(NULL settings, 1): %s", err);
    oe_kv null_value = {"url", NULL};
    CHECK(oe_agent_put_http_recipient(agent, "a", &null_value, 1, err, sizeof err) == OE_EINVAL, "put_http with a NULL value: %s", err);
    CHECK(oe_emit(agent, NULL, NULL, 0, NULL, 0) == OE_EINVAL, "emit(NULL event) is OE_EINVAL");
    CHECK(oe_emit(agent, "support_conference_begin", NULL, 2, NULL, 0) == OE_EINVAL, "emit(NULL variables, 2) is OE_EINVAL");
    oe_kv null_key = {NULL, "x"};
    CHECK(oe_emit(agent, "support_conference_begin", &null_key, 1, NULL, 0) == OE_EINVAL, "emit with a NULL key is OE_EINVAL");
    CHECK(oe_agent_remove_recipient(agent, NULL) == OE_EINVAL, "remove(NULL name) is OE_EINVAL");
    CHECK(oe_agent_flush(agent, -1) == OE_EINVAL, "flush with a negative timeout is OE_EINVAL");
    CHECK(oe_agent_status_json(agent, NULL, 10) == OE_EINVAL, "status_json(NULL buffer, 10) is OE_EINVAL");
    CHECK(oe_agent_put_http_recipient(agent, "a", &kv, 1, NULL, 0) == OE_OK, "err may be NULL");
    oe_agent_close(agent);
}

static void refusals(void) {
    char err[256];
    oe_kv unknown = {"queue.colour", "blue"};
    CHECK(oe_agent_new(&unknown, 1, err, sizeof err) == NULL && strstr(err, "queue.colour") != NULL,
          "an unknown key is refused and named: %s", err);
    oe_kv small[] = {{"queue.capacity", "4096"}, {"log.destination", "none"}};
    oe_agent *agent = oe_agent_new(small, 2, err, sizeof err);
    CHECK(agent != NULL, "agent with a 4 KiB queue");
    if (!agent) return;
    oe_kv bad_url = {"url", "ftp://example.com/"};
    CHECK(oe_agent_put_http_recipient(agent, "a", &bad_url, 1, err, sizeof err) == OE_EINVAL && strstr(err, "url") != NULL,
          "a malformed URL is refused: %s", err);
    oe_kv garbage_ca[] = {{"url", "https://127.0.0.1/"}, {"ca_certificate", "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"}};
    CHECK(oe_agent_put_http_recipient(agent, "a", garbage_ca, 2, err, sizeof err) == OE_ETLS, "a garbage CA certificate is OE_ETLS: %s", err);
    oe_kv email = {"addresses", "ops@example.com"};
    CHECK(oe_agent_put_email_recipient(agent, "shared", &email, 1, err, sizeof err) == OE_OK, "email recipient added");
    oe_kv url = {"url", "http://127.0.0.1:9/"};
    CHECK(oe_agent_put_http_recipient(agent, "shared", &url, 1, err, sizeof err) == OE_EEXIST, "an HTTP recipient under an email recipient's name is OE_EEXIST: %s", err);
    CHECK(oe_agent_remove_recipient(agent, "nobody") == OE_ENOENT, "removing an unknown recipient is OE_ENOENT");
    CHECK(oe_emit(agent, "support_conference_bgin", NULL, 0, NULL, 0) == OE_EINVAL, "a misspelt event is OE_EINVAL");
    CHECK(oe_emit(agent, "support_conference_begin", NULL, 0, NULL, 0) == OE_OK, "an event nobody wants is OE_OK");
    static char big[2000];
    memset(big, 'x', sizeof big - 1);
    oe_kv large = {"note", big};
    CHECK(oe_emit(agent, "support_conference_end", &large, 1, NULL, 0) == OE_ETOOBIG, "an event over capacity/4 is OE_ETOOBIG");
    oe_kv fixed = {"queue.capacity", "8MiB"};
    CHECK(oe_agent_configure(agent, &fixed, 1, err, sizeof err) == OE_ESTATE, "queue.capacity cannot change on a running agent: %s", err);
    char tiny[8];
    oe_kv long_name = {"url", "http://127.0.0.1:9/"};
    CHECK(oe_agent_put_http_recipient(agent, "this name is far too long for a recipient, sixty-five characters!", &long_name, 1, tiny, sizeof tiny) == OE_EINVAL
          && strlen(tiny) == sizeof tiny - 1, "err is truncated to err_size: \"%s\"", tiny);
    oe_agent_close(agent);
}

static void delivery(const char *url) {
    char err[256];
    oe_kv settings[] = {{"appliance_id", "abi-test"}, {"log.destination", "none"}};
    oe_agent *agent = oe_agent_new(settings, 2, err, sizeof err);
    CHECK(agent != NULL, "agent made: %s", err);
    if (!agent) return;
    oe_kv recipient[] = {{"url", url}, {"retry_interval", "1s"}};
    CHECK(oe_agent_put_http_recipient(agent, "receiver", recipient, 2, err, sizeof err) == OE_OK, "recipient added: %s", err);
    for (int i = 0; i < 5; i++) {
        char lsid[16];
        snprintf(lsid, sizeof lsid, "lsid-%d", i);
        oe_kv variables[] = {{"lsid", lsid}, {"external_key", "T-1"}};
        oe_kv custom[] = {{"ticket", "a b"}};
        CHECK(oe_emit(agent, "support_conference_begin", variables, 2, custom, 1) == OE_OK, "event %d queued", i);
    }
    CHECK(oe_agent_flush(agent, 10000) == OE_OK, "flush: every event delivered within 10 s");
    long needed = oe_agent_status_json(agent, NULL, 0);
    CHECK(needed > 0, "status_json(NULL, 0) returns the length needed: %ld", needed);
    char *status = malloc((size_t)needed + 1);
    long written = oe_agent_status_json(agent, status, (size_t)needed + 1);
    CHECK(written == needed && strlen(status) == (size_t)needed, "status_json fills a buffer of that size");
    CHECK(strstr(status, "\"delivered\":5") != NULL, "status counts 5 delivered: %s", status);
    char small[16];
    oe_agent_status_json(agent, small, sizeof small);
    CHECK(strlen(small) == sizeof small - 1, "status_json truncates like snprintf");
    free(status);
    oe_agent_close(agent);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s URL\n", argv[0]);
        return 2;
    }
    version_and_errors();
    null_arguments();
    refusals();
    delivery(argv[1]);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
