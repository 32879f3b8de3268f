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

/* Counts above their limits, or so large that a sum would overflow, are OE_EINVAL, checked
 * before the array is touched: the arrays here are far shorter than the counts claim. */
static void counts_beyond_limits(void) {
    char err[256];
    oe_kv kv = {"log.destination", "none"};
    CHECK(oe_agent_new(&kv, (size_t)-1, err, sizeof err) == NULL && strstr(err, "count") != NULL,
          "oe_agent_new with a count of SIZE_MAX fails: %s", err);
    CHECK(oe_agent_new(&kv, OE_MAX_SETTINGS + 1, err, sizeof err) == NULL, "oe_agent_new above OE_MAX_SETTINGS fails: %s", err);
    oe_agent *agent = oe_agent_new(&kv, 1, err, sizeof err);
    if (!agent) return;
    CHECK(oe_agent_configure(agent, &kv, (size_t)-1, err, sizeof err) == OE_EINVAL, "configure with SIZE_MAX settings: %s", err);
    CHECK(oe_agent_put_http_recipient(agent, "a", &kv, (size_t)1 << 62, err, sizeof err) == OE_EINVAL,
          "put_http with 2^62 settings: %s", err);
    CHECK(oe_agent_put_email_recipient(agent, "a", &kv, OE_MAX_SETTINGS + 1, err, sizeof err) == OE_EINVAL,
          "put_email above OE_MAX_SETTINGS: %s", err);
    oe_kv var = {"lsid", "1"};
    CHECK(oe_emit(agent, "support_conference_begin", &var, (size_t)-1, NULL, 0) == OE_EINVAL, "emit with SIZE_MAX variables");
    CHECK(oe_emit(agent, "support_conference_begin", &var, OE_MAX_FIELDS + 1, NULL, 0) == OE_EINVAL, "emit above OE_MAX_FIELDS");
    CHECK(oe_emit(agent, "support_conference_begin", &var, 1, &var, (size_t)-1) == OE_EINVAL, "emit with SIZE_MAX custom fields");
    CHECK(oe_emit(agent, "support_conference_begin", &var, ((size_t)-1) / 2 + 1, &var, ((size_t)-1) / 2 + 1) == OE_EINVAL,
          "emit with counts whose sum overflows");
    oe_kv twice[] = {{"lsid", "1"}, {"timestamp", "1700000000"}, {"timestamp", "1700000001"}};
    CHECK(oe_emit(agent, "support_conference_begin", twice, 3, NULL, 0) == OE_EINVAL, "a variable given twice is OE_EINVAL");
    oe_kv once[] = {{"lsid", "1"}, {"LSID", "2"}};
    CHECK(oe_emit(agent, "support_conference_begin", once, 2, once, 2) == OE_OK, "names differing in case are distinct");
    CHECK(oe_agent_status_json(agent, NULL, (size_t)-1) == OE_EINVAL, "status_json(NULL, SIZE_MAX) is OE_EINVAL");
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

/* The ABI under abuse: every call gets a code, never a crash, and the queue stays sound. */
static void abuse(const char *url) {
    char err[256];
    oe_kv settings[] = {{"log.destination", "none"}, {"shutdown_timeout", "0"}};
    oe_agent *agent = oe_agent_new(settings, 2, err, sizeof err);
    if (!agent) return;

    oe_kv empty_url = {"url", ""};
    CHECK(oe_agent_put_http_recipient(agent, "", &empty_url, 1, err, sizeof err) == OE_EINVAL, "an empty name is refused: %s", err);
    CHECK(oe_agent_put_http_recipient(agent, "a", &empty_url, 1, err, sizeof err) == OE_EINVAL, "an empty url is refused: %s", err);
    oe_kv empty_key = {"", "x"};
    CHECK(oe_agent_configure(agent, &empty_key, 1, err, sizeof err) == OE_EINVAL, "an empty key is refused: %s", err);
    CHECK(oe_emit(agent, "", NULL, 0, NULL, 0) == OE_EINVAL, "an empty event name is refused");

    const char bad_utf8[] = {'b', (char)0xff, (char)0xfe, 'd', 0};
    oe_kv bad_value = {"appliance_id", bad_utf8};
    CHECK(oe_agent_configure(agent, &bad_value, 1, err, sizeof err) == OE_EINVAL, "non-UTF-8 settings are refused: %s", err);
    CHECK(oe_agent_put_http_recipient(agent, bad_utf8, &empty_url, 1, err, sizeof err) == OE_EINVAL, "a non-UTF-8 name is refused");
    CHECK(oe_agent_remove_recipient(agent, bad_utf8) == OE_EINVAL, "removing a non-UTF-8 name is refused");

    oe_kv injected = {"url", "http://127.0.0.1/\r\nX-Injected: 1"};
    CHECK(oe_agent_put_http_recipient(agent, "a", &injected, 1, err, sizeof err) == OE_EINVAL, "CR/LF in a URL is refused: %s", err);
    oe_kv injected_id = {"appliance_id", "x\r\nX-Injected: 1"};
    CHECK(oe_agent_configure(agent, &injected_id, 1, err, sizeof err) == OE_EINVAL, "CR/LF in appliance_id is refused: %s", err);
    CHECK(oe_agent_put_http_recipient(agent, "line\nbreak", &empty_url, 1, err, sizeof err) == OE_EINVAL, "a name with a line break is refused");

    size_t huge_size = 1 << 20;
    char *huge = malloc(huge_size + 1);
    memset(huge, 'x', huge_size);
    huge[huge_size] = 0;
    oe_kv huge_setting = {"appliance_id", huge};
    CHECK(oe_agent_configure(agent, &huge_setting, 1, err, sizeof err) == OE_EINVAL && strlen(err) < sizeof err,
          "a 1 MiB setting is refused with a short message: %s", err);
    oe_kv huge_key = {huge, "x"};
    CHECK(oe_agent_configure(agent, &huge_key, 1, err, sizeof err) == OE_EINVAL, "a 1 MiB key is refused");

    char abuse_url[512];
    snprintf(abuse_url, sizeof abuse_url, "%s-abuse", url);
    oe_kv recipient[] = {{"url", abuse_url}, {"retry_interval", "1s"}};
    CHECK(oe_agent_put_http_recipient(agent, "receiver", recipient, 2, err, sizeof err) == OE_OK, "recipient added");
    oe_kv huge_variable = {"note", huge};
    CHECK(oe_emit(agent, "support_conference_end", &huge_variable, 1, NULL, 0) == OE_ETOOBIG, "a 1 MiB variable is OE_ETOOBIG");
    CHECK(oe_emit(agent, "support_conference_end", NULL, 0, &huge_variable, 1) == OE_ETOOBIG, "a 1 MiB custom field is OE_ETOOBIG");
    oe_kv *many = malloc(sizeof(oe_kv) * 10000);
    static char names[10000][8];
    for (int i = 0; i < 10000; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        many[i] = (oe_kv){names[i], "value"};
    }
    CHECK(oe_emit(agent, "support_conference_end", many, 10000, NULL, 0) == OE_EINVAL, "10,000 variables: above OE_MAX_FIELDS, no crash");
    CHECK(oe_emit(agent, "support_conference_end", many, OE_MAX_FIELDS, NULL, 0) == OE_OK, "OE_MAX_FIELDS small variables fit and are queued");
    oe_kv tricky[] = {{"lsid", "line\r\nbreak"}, {"a=b&c", "x y%z"}, {"nul", ""}};
    CHECK(oe_emit(agent, "support_conference_end", tricky, 3, NULL, 0) == OE_OK, "CR/LF, = and & in variables are queued (form-encoded on the wire)");
    oe_kv reserved = {"event", "spoofed"};
    CHECK(oe_emit(agent, "support_conference_end", &reserved, 1, NULL, 0) == OE_EINVAL, "a variable may not override event");
    CHECK(oe_emit(agent, "support_conference_end\nsupport_conference_begin", NULL, 0, NULL, 0) == OE_EINVAL, "an event name with a line break is refused");
    CHECK(oe_agent_flush(agent, 10000) == OE_OK, "the queue is sound: everything accepted is delivered");
    for (int i = 0; i < 63; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        oe_agent_put_http_recipient(agent, name, recipient, 2, err, sizeof err);
    }
    CHECK(oe_agent_put_http_recipient(agent, "one-too-many", recipient, 2, err, sizeof err) == OE_ESTATE,
          "the 65th recipient is refused: %s", err);
    free(many);
    free(huge);
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
    counts_beyond_limits();
    refusals();
    abuse(argv[1]);
    delivery(argv[1]);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
