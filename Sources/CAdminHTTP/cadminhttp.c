#define _GNU_SOURCE
#include "cadminhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct cadminhttp_server {
    struct MHD_Daemon *daemon;
    size_t body_limit;
    cadminhttp_handler handler;
    void *context;
};

#define MAX_REPLY_HEADERS 16

struct cadminhttp_request {
    struct cadminhttp_server *server;
    struct MHD_Connection *connection;
    const char *method;
    const char *path;
    uint8_t *body;
    size_t length;
    int too_large;
    char peer[INET6_ADDRSTRLEN];
    /* The answer being made. */
    char *header_names[MAX_REPLY_HEADERS];
    char *header_values[MAX_REPLY_HEADERS];
    int header_count;
    int answered;
    enum MHD_Result result;
};

const char *cadminhttp_method(const cadminhttp_request *request) { return request->method; }
const char *cadminhttp_path(const cadminhttp_request *request) { return request->path; }
const char *cadminhttp_peer(const cadminhttp_request *request) { return request->peer; }
int cadminhttp_body_too_large(const cadminhttp_request *request) { return request->too_large; }

const char *cadminhttp_header(const cadminhttp_request *request, const char *name) {
    return MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, name);
}

const char *cadminhttp_cookie(const cadminhttp_request *request, const char *name) {
    return MHD_lookup_connection_value(request->connection, MHD_COOKIE_KIND, name);
}

const uint8_t *cadminhttp_body(const cadminhttp_request *request, size_t *length) {
    *length = request->length;
    return request->body ? request->body : (const uint8_t *)"";
}

void cadminhttp_reply_header(cadminhttp_request *request, const char *name, const char *value) {
    if (request->header_count >= MAX_REPLY_HEADERS) return;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return;
    }
    request->header_names[request->header_count] = n;
    request->header_values[request->header_count] = v;
    request->header_count++;
}

void cadminhttp_reply(cadminhttp_request *request, unsigned status, const void *body, size_t length) {
    if (request->answered) return;
    request->answered = 1;
    struct MHD_Response *response = MHD_create_response_from_buffer(length, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!response) {
        request->result = MHD_NO;
        return;
    }
    for (int i = 0; i < request->header_count; i++) {
        MHD_add_response_header(response, request->header_names[i], request->header_values[i]);
    }
    request->result = MHD_queue_response(request->connection, status, response);
    MHD_destroy_response(response);
}

static void release(struct cadminhttp_request *request) {
    for (int i = 0; i < request->header_count; i++) {
        free(request->header_names[i]);
        free(request->header_values[i]);
    }
    free(request->body);
    free(request);
}

static void completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                      enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)connection;
    (void)code;
    if (*con_cls) release(*con_cls);
    *con_cls = NULL;
}

/* The path is kept as sent: names in it are percent-decoded per segment by the daemon, so an
 * encoded "/" stays inside its segment. */
static size_t keep_escaped(void *cls, struct MHD_Connection *connection, char *text) {
    (void)cls;
    (void)connection;
    return strlen(text);
}

static enum MHD_Result dispatch(struct cadminhttp_request *request) {
    request->result = MHD_YES;
    request->server->handler(request->server->context, request);
    if (!request->answered) {
        static const char text[] = "internal error\n";
        cadminhttp_reply(request, 500, text, sizeof text - 1);
    }
    return request->result;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    struct cadminhttp_server *server = cls;
    struct cadminhttp_request *request = *con_cls;
    if (!request) {
        request = calloc(1, sizeof *request);
        if (!request) return MHD_NO;
        *con_cls = request;
        request->server = server;
        request->connection = connection;
        request->method = method;
        request->path = url;
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (info && info->client_addr) {
            const struct sockaddr *address = info->client_addr;
            if (address->sa_family == AF_INET) {
                inet_ntop(AF_INET, &((const struct sockaddr_in *)address)->sin_addr, request->peer, sizeof request->peer);
            } else if (address->sa_family == AF_INET6) {
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)address)->sin6_addr, request->peer, sizeof request->peer);
            }
        }
        /* A body announced larger than the limit is refused before it is read. */
        const char *announced = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (announced) {
            char *end = NULL;
            errno = 0;
            unsigned long long size = strtoull(announced, &end, 10);
            if (errno != 0 || end == announced || size > server->body_limit) {
                request->too_large = 1;
                return dispatch(request);
            }
        }
        return MHD_YES;
    }
    if (request->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (request->too_large) return MHD_YES;
        if (request->length + size > server->body_limit) {
            request->too_large = 1;
            free(request->body);
            request->body = NULL;
            request->length = 0;
            return MHD_YES;
        }
        uint8_t *grown = realloc(request->body, request->length + size);
        if (!grown) return MHD_NO;
        memcpy(grown + request->length, upload_data, size);
        request->body = grown;
        request->length += size;
        return MHD_YES;
    }
    return dispatch(request);
}

cadminhttp_server *cadminhttp_start(int listen_fd, size_t body_limit, cadminhttp_handler handler, void *context,
                                    char *err, size_t err_size) {
    struct cadminhttp_server *server = calloc(1, sizeof *server);
    if (!server) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    server->body_limit = body_limit;
    server->handler = handler;
    server->context = context;
    struct MHD_OptionItem options[] = {
        {MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, 32, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
        /* Request line and headers: 64 KiB at most (the body is gathered separately). */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)keep_escaped, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    server->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC,
                                      0, NULL, NULL, access_handler, server, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    if (!server->daemon) {
        snprintf(err, err_size, "libmicrohttpd could not start");
        free(server);
        return NULL;
    }
    return server;
}

void cadminhttp_stop(cadminhttp_server *server) {
    if (!server) return;
    /* Quiescing hands the listening socket back (MHD would otherwise close it itself). */
    MHD_socket fd = MHD_quiesce_daemon(server->daemon);
    MHD_stop_daemon(server->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    free(server);
}

int cadminhttp_listen_unix(const char *path, unsigned mode, const char *group, int *group_note, char *err,
                           size_t err_size) {
    *group_note = 0;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof address.sun_path) {
        snprintf(err, err_size, "%s: the path is too long for a Unix socket", path);
        return -1;
    }
    strcpy(address.sun_path, path);
    struct stat existing;
    if (lstat(path, &existing) == 0) {
        if (!S_ISSOCK(existing.st_mode)) {
            snprintf(err, err_size, "%s exists and is not a socket", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "%s: socket: %s", path, strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        snprintf(err, err_size, "cannot bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    struct group *entry = getgrnam(group);
    if (!entry) {
        *group_note = 1;
    } else if (chown(path, (uid_t)-1, entry->gr_gid) != 0) {
        snprintf(err, err_size, "cannot give %s the group %s: %s", path, group, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    if (chmod(path, mode) != 0 || listen(fd, 32) != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    return fd;
}

int cadminhttp_listen_tcp(const char *host, int port, int ipv6, char *err, size_t err_size) {
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "socket: %s", strerror(errno));
        return -1;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    int bound;
    if (ipv6) {
        struct sockaddr_in6 address = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET6, host, &address.sin6_addr) != 1) {
            snprintf(err, err_size, "%s is not an IPv6 address", host);
            close(fd);
            return -1;
        }
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
        bound = bind(fd, (struct sockaddr *)&address, sizeof address);
    } else {
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
            snprintf(err, err_size, "%s is not an IPv4 address", host);
            close(fd);
            return -1;
        }
        bound = bind(fd, (struct sockaddr *)&address, sizeof address);
    }
    if (bound != 0 || listen(fd, 32) != 0) {
        snprintf(err, err_size, "cannot listen on %s%s%s:%d: %s", ipv6 ? "[" : "", host, ipv6 ? "]" : "", port,
                 strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
