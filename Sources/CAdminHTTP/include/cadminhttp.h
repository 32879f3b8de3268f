/* The Outbound Events page's HTTP edge (SPEC 13): libmicrohttpd behind a few functions Swift
 * can call. MHD_start_daemon is variadic (it is given an MHD_OPTION_ARRAY here), and its access
 * handler is called once per piece of a request body: the body is gathered here, up to a limit,
 * and the Swift handler is called once per request with all of it. Prefix cadminhttp_: the
 * daemon's own, never in the library. */
#ifndef CADMINHTTP_H
#define CADMINHTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct cadminhttp_request cadminhttp_request;
typedef struct cadminhttp_server cadminhttp_server;

/* Called once per request, on one of the server's threads (one per connection). The handler
 * answers with cadminhttp_reply_*; a request it does not answer gets a 500. */
typedef void (*cadminhttp_handler)(void *context, cadminhttp_request *request);

const char *cadminhttp_method(const cadminhttp_request *request);
/* The path as sent, still percent-encoded, without the query. */
const char *cadminhttp_path(const cadminhttp_request *request);
/* A request header (case-insensitive name), or NULL. */
const char *cadminhttp_header(const cadminhttp_request *request, const char *name);
/* A cookie of the Cookie header, or NULL. */
const char *cadminhttp_cookie(const cadminhttp_request *request, const char *name);
/* The body (not NUL-terminated; length 0 when none). */
const uint8_t *cadminhttp_body(const cadminhttp_request *request, size_t *length);
/* 1 when the body was larger than the limit (it is then not kept). */
int cadminhttp_body_too_large(const cadminhttp_request *request);
/* The peer's address as text ("127.0.0.1", "::1"), or "" over a Unix socket. */
const char *cadminhttp_peer(const cadminhttp_request *request);

/* The answer: a status, headers, then the body, which ends it (the body is copied). */
void cadminhttp_reply_header(cadminhttp_request *request, const char *name, const char *value);
void cadminhttp_reply(cadminhttp_request *request, unsigned status, const void *body, size_t length);

/* Serves on listen_fd (a listening socket, kept open by the server and closed by
 * cadminhttp_stop) with one thread per connection. NULL on failure, err says why. */
cadminhttp_server *cadminhttp_start(int listen_fd, size_t body_limit, cadminhttp_handler handler, void *context,
                                    char *err, size_t err_size);
/* Stops accepting, waits for the handlers running to return, closes the socket. NULL: no-op. */
void cadminhttp_stop(cadminhttp_server *server);

/* A listening Unix socket at path (a stale socket there is replaced; any other file is not),
 * with the mode given and, when group names an existing group, that group. -1 on failure, err
 * says why; *group_note is set to 1 when the group does not exist (the socket keeps the
 * daemon's group). */
int cadminhttp_listen_unix(const char *path, unsigned mode, const char *group, int *group_note, char *err,
                           size_t err_size);
/* A listening TCP socket on host:port (an IPv4 address, or IPv6 when ipv6 is 1). -1 on
 * failure, err says why. */
int cadminhttp_listen_tcp(const char *host, int port, int ipv6, char *err, size_t err_size);

#endif
