/* A sample firmware service: what a B Series service does with the outbound events agent.
 *
 * It makes an agent, configures one HTTP recipient, emits the events of one support session
 * as they happen, waits for them to be delivered, and prints the agent's status.
 *
 * Build:  cc firmware_service.c $(pkg-config --cflags --libs outbound-events)
 *    or:  cc -I include firmware_service.c -L build/lib -loutbound-events
 * Run:    ./firmware_service URL [retry_interval [status_path]]
 */
#include <outbound_events.h>

#include <stdio.h>
#include <stdlib.h>

/* The events of one session, in the order the firmware sees them happen. */
static int emit_session(oe_agent *agent, const char *lsid) {
    oe_kv begin[] = {{"lsid", lsid}, {"external_key", "INC-4711"}, {"type", "support"}};
    oe_kv joined[] = {{"lsid", lsid}, {"type", "representative"}, {"username", "ann"}, {"display_name", "Ann Baker"}};
    oe_kv owner[] = {{"lsid", lsid}, {"username", "ann"}, {"display_name", "Ann Baker"}};
    oe_kv left[] = {{"lsid", lsid}, {"type", "customer"}, {"display_name", "Customer"}};
    oe_kv survey[] = {{"lsid", lsid}, {"external_key", "INC-4711"}, {"rating", "5"}};
    oe_kv end[] = {{"lsid", lsid}, {"external_key", "INC-4711"}};
    oe_kv custom[] = {{"region", "EMEA"}};

    struct { const char *event; const oe_kv *variables; size_t count; } session[] = {
        {"support_conference_begin", begin, 3},
        {"support_conference_member_added", joined, 4},
        {"support_conference_owner_changed", owner, 3},
        {"support_conference_member_departed", left, 3},
        {"support_conference_customer_exit_survey_completed", survey, 3},
        {"support_conference_end", end, 2},
    };
    for (size_t i = 0; i < sizeof session / sizeof session[0]; i++) {
        int rc = oe_emit(agent, session[i].event, session[i].variables, session[i].count, custom, 1);
        printf("firmware: oe_emit(%s) = %s\n", session[i].event, oe_strerror(rc));
        if (rc != OE_OK) return rc;
    }
    return OE_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [retry_interval [status_path]]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char err[512];
    oe_kv settings[] = {
        {"appliance_id", "bseries-demo"},
        {"log.identifier", "outbound-events-demo"},
        {"shutdown_timeout", "10s"},
        {"status.path", argc > 3 ? argv[3] : ""},
    };
    oe_agent *agent = oe_agent_new(settings, sizeof settings / sizeof settings[0], err, sizeof err);
    if (!agent) {
        fprintf(stderr, "oe_agent_new: %s\n", err);
        return 1;
    }
    printf("firmware: liboutbound-events %s\n", oe_version());

    oe_kv recipient[] = {
        {"url", argv[1]},
        {"retry_interval", argc > 2 ? argv[2] : "2s"},
        {"send_custom_fields", "true"},
        {"signing_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    };
    int rc = oe_agent_put_http_recipient(agent, "ticketing", recipient, sizeof recipient / sizeof recipient[0],
                                         err, sizeof err);
    if (rc != OE_OK) {
        fprintf(stderr, "oe_agent_put_http_recipient: %s: %s\n", oe_strerror(rc), err);
        oe_agent_close(agent);
        return 1;
    }

    rc = emit_session(agent, "lsid-7f3a");
    if (rc == OE_OK) {
        rc = oe_agent_flush(agent, 30000);
        printf("firmware: oe_agent_flush = %s\n", oe_strerror(rc));
    }

    long length = oe_agent_status_json(agent, NULL, 0);
    char *status = malloc((size_t)length + 1);
    if (status) {
        oe_agent_status_json(agent, status, (size_t)length + 1);
        printf("firmware: status %s\n", status);
        free(status);
    }
    oe_agent_close(agent);
    return rc == OE_OK ? 0 : 1;
}
