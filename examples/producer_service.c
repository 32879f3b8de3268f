/* A firmware service in appliance mode (README, "Appliance mode"): its agent is a producer
 * attached to the spool of the appliance's daemon, outbound-eventsd, which owns the recipients
 * and delivers. The service only emits: each oe_emit writes the event into the daemon's queue
 * and returns, whether the daemon runs or not.
 *
 * Usage: producer_service SPOOL NAME
 * Emits one support session (lsid NAME-1): begin, a member joins, end; then waits up to 10 s
 * for the daemon to deliver them, and prints the daemon's status line. */
#include <outbound_events.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SPOOL NAME\n", argv[0]);
        return 2;
    }
    char err[512];
    /* queue.attach, and at most firmware_profile and log.*: everything else is the daemon's. */
    oe_kv settings[] = {{"queue.attach", argv[1]}, {"log.identifier", argv[2]}};
    oe_agent *agent = oe_agent_new(settings, 2, err, sizeof err);
    if (agent == NULL) {
        fprintf(stderr, "%s: oe_agent_new: %s\n", argv[2], err);
        return 1;
    }
    char lsid[64];
    snprintf(lsid, sizeof lsid, "%s-1", argv[2]);
    oe_kv begin[] = {{"lsid", lsid}, {"service", argv[2]}};
    oe_kv member[] = {{"lsid", lsid}, {"service", argv[2]}, {"username", "tech1"}};
    oe_kv end[] = {{"lsid", lsid}, {"service", argv[2]}};
    int results[] = {
        oe_emit(agent, "support_conference_begin", begin, 2, NULL, 0),
        oe_emit(agent, "support_conference_member_added", member, 3, NULL, 0),
        oe_emit(agent, "support_conference_end", end, 2, NULL, 0),
    };
    for (int i = 0; i < 3; i++) {
        if (results[i] != OE_OK) fprintf(stderr, "%s: oe_emit: %s\n", argv[2], oe_strerror(results[i]));
    }
    /* A producer cannot configure: the daemon's file is the one configuration. */
    oe_kv cloud[] = {{"deployment", "cloud"}};
    if (oe_agent_configure(agent, cloud, 1, err, sizeof err) == OE_ESTATE) printf("%s: configure -> OE_ESTATE: %s\n", argv[2], err);
    int flushed = oe_agent_flush(agent, 10000);
    char status[256];
    oe_agent_status_json(agent, status, sizeof status);
    printf("%s: 3 events emitted, flush: %s; daemon status begins %.60s...\n", argv[2], oe_strerror(flushed), status);
    oe_agent_close(agent);
    return flushed == OE_OK ? 0 : 1;
}
