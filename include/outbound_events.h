/*
 * outbound_events.h — the outbound events agent of the B Series appliance.
 *
 * Firmware services link this library to tell outside systems (ticketing, chat, SIEM, on-call)
 * what happens on the appliance. An agent holds HTTP recipients (webhooks) and email recipients,
 * a bounded queue of events, and one delivery thread. oe_emit() copies an event into the queue
 * and returns at once; the delivery thread POSTs it to every recipient that wants it, strictly in
 * order per recipient, retrying the head-of-line event until it gets HTTP 200 or its retry
 * duration runs out.
 *
 * Conventions, valid for every function below:
 *   - Strings are NUL-terminated UTF-8. The library copies what it keeps; the caller keeps
 *     ownership of every pointer it passes and may free it as soon as the call returns.
 *   - A NULL pointer where one is required gives OE_EINVAL, and so does a count above its
 *     limit (OE_MAX_SETTINGS, OE_MAX_FIELDS): no input makes the library crash its host.
 *   - Functions that take settings (oe_kv arrays of string keys and values) validate every
 *     setting first and change nothing if one is wrong. When err is not NULL and err_size > 0,
 *     a one-line, NUL-terminated reason naming the key is written there (truncated to err_size).
 *   - Every function is safe to call from any thread at any time, except oe_agent_close(),
 *     which must be the last call made on an agent.
 *   - No function blocks on the network. Only oe_agent_flush(), oe_agent_sync() and
 *     oe_agent_close() wait, and each is bounded by a timeout.
 *
 * Linking: cc app.c $(pkg-config --cflags --libs outbound-events)
 *          or  cc -I include app.c -L <dir> -loutbound-events
 *          or, with CMake: find_package(OutboundEvents 1.0 REQUIRED) and
 *              target_link_libraries(app PRIVATE OutboundEvents::OutboundEvents)
 */
#ifndef OUTBOUND_EVENTS_H
#define OUTBOUND_EVENTS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time version of this header. oe_version() gives the version of the library actually
 * loaded, which may be newer. */
#define OE_VERSION_MAJOR 1
#define OE_VERSION_MINOR 1
#define OE_VERSION_PATCH 0
#define OE_VERSION_STRING "1.1.0"
#define OE_VERSION_NUM ((OE_VERSION_MAJOR << 16) | (OE_VERSION_MINOR << 8) | OE_VERSION_PATCH)
/* True when this header is at least version x.y.z: #if OE_AT_LEAST_VERSION(1, 0, 0) */
#define OE_AT_LEAST_VERSION(x, y, z) (OE_VERSION_NUM >= (((x) << 16) | ((y) << 8) | (z)))

/* Limits. */
#define OE_MAX_RECIPIENTS 64        /* HTTP and email recipients together */
#define OE_MAX_NAME_LENGTH 64       /* recipient names: 1 to 64 printable Unicode scalars */
#define OE_MAX_EVENT_BYTES 65536    /* an event's stored size may not exceed
                                       min(OE_MAX_EVENT_BYTES, queue.capacity / 4) */
#define OE_MAX_EMAIL_ADDRESSES 10   /* per email recipient, and per email_contacts list */
#define OE_MAX_SETTINGS 256         /* settings in one call (the count of an oe_kv settings array);
                                       a larger count is OE_EINVAL, checked before the array is read */
#define OE_MAX_FIELDS 1024          /* variables, and custom fields, in one oe_emit(); likewise */

/* An agent. Opaque: made by oe_agent_new(), released by oe_agent_close(). */
typedef struct oe_agent oe_agent;

/* One string setting or event variable. Both pointers are borrowed for the call only. */
typedef struct oe_kv {
    const char *key;
    const char *value;
} oe_kv;

/* Result codes. Append-only: codes are never renumbered or removed. */
enum {
    OE_OK = 0,
    OE_EINVAL = -1,      /* an argument or setting is invalid; err says which and why */
    OE_EEXIST = -2,      /* the name is taken by a recipient of the other kind */
    OE_ENOENT = -3,      /* no recipient of that name */
    OE_EQUEUEFULL = -4,  /* the queue is full and queue.overflow is "reject" */
    OE_ETOOBIG = -5,     /* the event is larger than the queue accepts */
    OE_ETLS = -6,        /* a CA certificate was refused (unparsable, not a CA, expired) */
    OE_EIO = -7,         /* a file (spool, profile, status) could not be read or written */
    OE_ETIMEDOUT = -8,   /* the wait ended before the work did */
    OE_ESTATE = -9,      /* the call does not fit the agent's state (e.g. too many recipients,
                            or a setting that can only be given to oe_agent_new) */
    OE_ENOMEM = -10      /* memory could not be allocated */
};

/* The library's version, "MAJOR.MINOR.PATCH". Static storage; never NULL. Any thread. */
const char *oe_version(void);

/* A short static description of a result code ("invalid argument", ...). Unknown codes get
 * "unknown result code". Never NULL. Any thread. */
const char *oe_strerror(int result);

/* Makes an agent from agent settings (keys such as "appliance_id", "queue.capacity",
 * "queue.spool", "http.connect_timeout", "log.destination"; see outbound-events.conf(5) and
 * docs/settings.md). count may be 0 and settings NULL: every setting then has its default.
 * Starts the delivery thread.
 *
 * Returns the agent, or NULL with the reason in err: an invalid setting, a firmware profile
 * or spool that cannot be read, or memory that cannot be had. The agent owns everything it
 * needs; release it with oe_agent_close(). */
oe_agent *oe_agent_new(const oe_kv *settings, size_t count, char *err, size_t err_size);

/* Changes agent settings on a running agent. Keys not given keep their current value.
 * queue.capacity, queue.spool and firmware_profile are fixed at oe_agent_new(); giving one
 * with a different value is OE_ESTATE.
 * Returns OE_OK, OE_EINVAL (err names the key), OE_ETLS (smtp.ca_certificate refused) or
 * OE_ESTATE. */
int oe_agent_configure(oe_agent *agent, const oe_kv *settings, size_t count, char *err,
                       size_t err_size);

/* Adds an HTTP recipient called name, or replaces the settings of the HTTP recipient already
 * called so. The settings are the recipient's whole configuration: keys not given take their
 * defaults ("url" is required). Replacing keeps the recipient's queued events and its place in
 * the queue; they go to the new URL.
 * Returns OE_OK; OE_EINVAL for a bad name or setting; OE_ETLS for a refused ca_certificate;
 * OE_EEXIST when an email recipient has that name; OE_ESTATE when OE_MAX_RECIPIENTS exist. */
int oe_agent_put_http_recipient(oe_agent *agent, const char *name, const oe_kv *settings,
                                size_t count, char *err, size_t err_size);

/* Adds or replaces an email recipient, like oe_agent_put_http_recipient() ("addresses" is
 * required). OE_EEXIST when an HTTP recipient has that name. */
int oe_agent_put_email_recipient(oe_agent *agent, const char *name, const oe_kv *settings,
                                 size_t count, char *err, size_t err_size);

/* Removes the recipient called name, of either kind, and discards its pending events (they
 * are counted and logged). Returns OE_OK, OE_ENOENT or OE_EINVAL. */
int oe_agent_remove_recipient(oe_agent *agent, const char *name);

/* Queues one event. event is a name the firmware profile declares; variables are the event's
 * own variables, sent in this order after the standard ones; custom_fields are sent as
 * custom_<key> to recipients with send_custom_fields on. Either array may be NULL when its
 * count is 0; each count is at most OE_MAX_FIELDS, and a name may appear only once in each
 * array (a repeated name is OE_EINVAL). A variable named "timestamp" (decimal Unix seconds) sets the time the event
 * occurred; otherwise it is the time of this call. "event", "version" and "appliance_id" are
 * set by the agent and refused as variables.
 *
 * Copies everything and returns without touching the network.
 * Returns OE_OK once the event is queued for every recipient that wants it (also when none
 * does); OE_EINVAL for an event name the profile does not declare or a bad variable;
 * OE_ETOOBIG when the event is too large; OE_EQUEUEFULL when the queue is full and
 * queue.overflow is "reject". */
int oe_emit(oe_agent *agent, const char *event, const oe_kv *variables, size_t count,
            const oe_kv *custom_fields, size_t custom_count);

/* Waits until no event is pending for any enabled recipient, at most timeout_ms milliseconds
 * (0: just check; negative: OE_EINVAL). Returns OE_OK when nothing is pending, else
 * OE_ETIMEDOUT. */
int oe_agent_flush(oe_agent *agent, int timeout_ms);

/* Since 1.1 (OE_AT_LEAST_VERSION(1, 1, 0)). Waits until every event acknowledged before the
 * call (oe_emit returned OE_OK) is on the disk, so that a power cut cannot take it: in the
 * spool (queue.spool), or for a producer (queue.attach) in the daemon's intake or spool. At
 * most timeout_ms milliseconds (0: one look; negative: OE_EINVAL). Threads that call it at the
 * same time share one sync. Without it the spool is synced at least every
 * queue.sync_interval while it changes, so a cut loses at most what was acknowledged in
 * the last interval. Never called with a lock that oe_emit() takes: emitting threads are
 * not held up by the disk. Returns OE_OK, OE_ETIMEDOUT (the disk is slower than timeout_ms,
 * or failing: the journal says which), or OE_ESTATE for an agent without a spool. */
int oe_agent_sync(oe_agent *agent, int timeout_ms);

/* Writes the agent's status as one JSON object, like snprintf: at most size bytes, NUL
 * included, and returns the full length the JSON needs (without the NUL), so a caller can
 * call with size 0 to learn it. buf may be NULL when size is 0. Returns OE_EINVAL (negative)
 * when agent is NULL. Secrets never appear in it. */
long oe_agent_status_json(oe_agent *agent, char *buf, size_t size);

/* Stops the agent and frees it. Without a spool, waits up to shutdown_timeout for pending
 * events and logs how many were lost; with one, pending events stay in the spool for the next
 * agent. NULL is a harmless no-op. Must be the last call on this agent; no other call on it
 * may be running or made afterwards. */
void oe_agent_close(oe_agent *agent);

#ifdef __cplusplus
}
#endif

#endif /* OUTBOUND_EVENTS_H */
