/*
 * server.c - the libmicrohttpd server: listener, limits, routing,
 * authentication and request bodies.  Handlers live in api_*.c.
 */
#include "http.h"
#include "config.h"
#include "apiauth.h"
#include "daemon.h"
#include "log.h"
#include "rbtime.h"
#include "stats.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The listening socket is runbookd's own (bound without SO_REUSEPORT, so
 * a second daemon cannot share the port) and libmicrohttpd's workers
 * accept on it, each checking its share of the connection limits in its
 * own thread.  (Handing connections to the workers from an accept thread
 * with MHD_add_connection, to balance them, was tried and dropped: in
 * libmicrohttpd 0.9.75 a worker checks the limit against a count that
 * lags, so a burst got past web.max_connections, and a worker rejecting a
 * connection over the limit deadlocked on its own mutex.) */
struct http_server {
  struct MHD_Daemon *d;
  int lfd; /* listening socket; libmicrohttpd's once started, until quiesced */
  int v6;
  /* The header deadline (see struct conn_track). */
  pthread_t reaper;
  int reaper_started;
  int stopping;          /* under track_mu */
  pthread_cond_t wake;   /* with track_mu */
  int64_t header_timeout_ns;
};

/* The header phase's deadline.  libmicrohttpd's connection timeout is an
 * idle timeout, and on_request is called only once the headers are in: a
 * client sending a header byte every few seconds (slowloris) would hold
 * its connection, and one of web.max_connections, for ever.  So each
 * connection is tracked from its accept, and on a kept-alive one from the
 * end of each request, until the next request's headers are in; a reaper
 * thread shuts down the socket of one that has waited longer than
 * web.connection_timeout_seconds, and libmicrohttpd closes it as one its
 * peer closed.  libmicrohttpd notifies the close before it closes the
 * descriptor (0.9.75, MHD_cleanup_connections), and both that
 * notification and the reaper hold track_mu, so the reaper never shuts
 * down a descriptor that has been reused. */
struct conn_track {
  struct conn_track *prev, *next;
  int fd;
  int shut;                         /* under track_mu */
  _Atomic int64_t waiting_since_ns; /* 0 while a request is in progress */
};

static pthread_mutex_t track_mu = PTHREAD_MUTEX_INITIALIZER;
static struct conn_track *tracked; /* under track_mu */

static struct conn_track *
track_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
  struct conn_track *t = *socket_context;
  const union MHD_ConnectionInfo *ci;

  (void)cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    t = calloc(1, sizeof(*t));
    if (!t || !ci) {
      free(t); /* untracked: only libmicrohttpd's idle timeout applies */
      return;
    }
    t->fd = ci->connect_fd;
    atomic_store(&t->waiting_since_ns, rb_mono_ns());
    pthread_mutex_lock(&track_mu);
    t->next = tracked;
    if (tracked)
      tracked->prev = t;
    tracked = t;
    pthread_mutex_unlock(&track_mu);
    *socket_context = t;
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && t) {
    pthread_mutex_lock(&track_mu);
    if (t->prev)
      t->prev->next = t->next;
    else
      tracked = t->next;
    if (t->next)
      t->next->prev = t->prev;
    pthread_mutex_unlock(&track_mu);
    free(t);
    *socket_context = NULL;
  }
}

static void *
reaper(void *arg)
{
  struct http_server *s = arg;
  struct timespec until;

  rb_thread_name("rb-http-reaper");
  pthread_mutex_lock(&track_mu);
  while (!s->stopping) {
    int64_t now = rb_mono_ns();
    unsigned shut = 0;
    for (struct conn_track *t = tracked; t; t = t->next) {
      int64_t since = atomic_load(&t->waiting_since_ns);
      if (since && !t->shut && now - since > s->header_timeout_ns) {
        (void)shutdown(t->fd, SHUT_RDWR);
        t->shut = 1;
        shut++;
      }
    }
    if (shut) {
      char n[16];
      snprintf(n, sizeof(n), "%u", shut);
      rblog(LOG_WARN, "closed connections whose request headers took too long", "connections",
            n, NULL);
    }
    /* Once a second: a slow client is closed within a second of its
     * deadline. */
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait(&s->wake, &track_mu, &until);
  }
  pthread_mutex_unlock(&track_mu);
  return NULL;
}

/* libmicrohttpd's threads (poll() each).  Handlers do not wait for the
 * store (webhooks suspend), so two keep a 2-core machine busy while
 * leaving the store's threads room to run.
 *
 * poll(), not epoll: in libmicrohttpd 0.9.75, MHD_quiesce_daemon() (the
 * first step of SIGTERM) on an epoll daemon with its own threads races
 * with the workers, which remove the listening socket from their epoll
 * sets themselves once they see the daemon quiesced; whoever loses gets
 * ENOENT, and two of the three places that remove it abort the process
 * ("Failed to remove listen FD from epoll set.": a run of the suite saw
 * test_remediation_restart's daemon die of it at a SIGTERM).  Quiescing a poll()
 * daemon only flags the workers and wakes them.  At 16 connections the
 * two are alike (docs/benchmarks.md, round 4); poll() costs more per
 * wake-up with thousands of connections open, which Alertmanager (a few
 * keep-alive connections per receiver) does not open. */
#define HTTP_THREADS 2

/* Requests suspended while their store job runs.  MHD_stop_daemon() must
 * not run while any is (libmicrohttpd aborts), so http_stop() waits. */
static atomic_int suspended;
static pthread_mutex_t suspended_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t suspended_cv = PTHREAD_COND_INITIALIZER;

void
http_suspend(struct http_req *r)
{
  atomic_fetch_add(&suspended, 1);
  MHD_suspend_connection(r->conn);
}

void
http_resume(struct http_req *r)
{
  MHD_resume_connection(r->conn);
  if (atomic_fetch_sub(&suspended, 1) == 1) {
    pthread_mutex_lock(&suspended_mu);
    pthread_cond_broadcast(&suspended_cv);
    pthread_mutex_unlock(&suspended_mu);
  }
}

/* Request bodies are held against web.max_body_bytes_in_flight, on all
 * connections at once: a request holds its body's size (from
 * Content-Length, or as chunks arrive) until it completes, which also
 * covers the webhook's parsed copy while it waits for the store.  Past the
 * limit a request gets 503 (which Alertmanager retries) instead of memory.
 * The count is the gauge runbookd_http_body_bytes_held (metrics.c). */

/* Raises what r holds to total bytes; -1 when that would pass the limit. */
static int
body_hold(struct http_req *r, size_t total)
{
  if (total <= r->held)
    return 0;
  if (metrics_body_hold(total - r->held, r->cfg->max_body_bytes_in_flight))
    return -1;
  r->held = total;
  return 0;
}

static enum MHD_Result
reply_busy(struct http_req *r, size_t want)
{
  if (r->handler == H_WEBHOOK)
    metrics_webhook(WH_UNAVAILABLE);
  return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "request bodies arriving at once would hold more than "
                          "web.max_body_bytes_in_flight (%zu bytes; this one %zu): retry later",
                          r->cfg->max_body_bytes_in_flight, want);
}

/* Bodies of the API's own actions are small. */
#define API_BODY_MAX (64 * 1024)
/* Bytes past the limit read and dropped before the connection is closed. */
#define DISCARD_MAX (64u << 20)

enum body_kind { NO_BODY = 0, WEBHOOK_BODY, API_BODY };

/* Who may call a route: nobody checked; the webhook's credentials; API
 * tokens (or the webhook's credentials when no token is configured); API
 * tokens with the admin role. */
enum route_auth { AUTH_NONE = 0, AUTH_WEBHOOK, AUTH_API, AUTH_ADMIN };

struct route {
  const char *path;
  int prefix;               /* also matches path + "/..." */
  const char *methods;      /* space separated, for Allow */
  enum http_handler metric;
  http_handler_fn fn;
  enum route_auth auth;
  enum body_kind body;
};

static const struct route routes[] = {
  { "/webhook", 0, "POST", H_WEBHOOK, api_webhook, AUTH_WEBHOOK, WEBHOOK_BODY },
  { "/api/v1/incidents", 1, "GET HEAD POST", H_INCIDENTS, api_incidents, AUTH_API, API_BODY },
  { "/api/v1/stats", 0, "GET HEAD", H_OTHER, api_stats, AUTH_API, NO_BODY },
  { "/api/v2/silences", 0, "GET POST", H_OTHER, api_silences, AUTH_API, API_BODY },
  { "/api/v2/silence", 1, "GET DELETE", H_OTHER, api_silence, AUTH_API, NO_BODY },
  { "/api/v2/status", 0, "GET", H_OTHER, api_am_status, AUTH_API, NO_BODY },
  { "/metrics", 0, "GET HEAD", H_METRICS, api_metrics, AUTH_NONE, NO_BODY },
  { "/-/healthy", 0, "GET HEAD", H_HEALTH, api_healthy, AUTH_NONE, NO_BODY },
  { "/-/ready", 0, "GET HEAD", H_HEALTH, api_ready, AUTH_NONE, NO_BODY },
  { "/-/reload", 0, "POST PUT", H_RELOAD, api_reload, AUTH_ADMIN, NO_BODY },
  { "/", 0, "GET HEAD", H_OTHER, api_index, AUTH_NONE, NO_BODY },
  { "/app.css", 0, "GET HEAD", H_OTHER, api_index, AUTH_NONE, NO_BODY },
  { "/app.js", 0, "GET HEAD", H_OTHER, api_index, AUTH_NONE, NO_BODY },
};

static const struct route *
find_route(const char *url)
{
  for (size_t i = 0; i < RB_ARRAY_LEN(routes); i++) {
    size_t n = strlen(routes[i].path);
    if (strcmp(url, routes[i].path) == 0)
      return &routes[i];
    if (routes[i].prefix && strncmp(url, routes[i].path, n) == 0 && url[n] == '/')
      return &routes[i];
  }
  return NULL;
}

static int
method_allowed(const struct route *rt, const char *method)
{
  size_t n = strlen(method);
  const char *p = rt->methods;

  while (p && *p) {
    const char *sp = strchr(p, ' ');
    size_t len = sp ? (size_t)(sp - p) : strlen(p);
    if (len == n && strncmp(p, method, n) == 0)
      return 1;
    p = sp ? sp + 1 : NULL;
  }
  return 0;
}

static enum MHD_Result
queue(struct http_req *r, unsigned status, const char *type, const char *body,
      size_t len, const char *hname, const char *hval)
{
  struct MHD_Response *resp;
  enum MHD_Result ret;

  resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
                                         MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          type ? type : "application/json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (hname)
    MHD_add_response_header(resp, hname, hval);
  if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
  ret = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  r->responded = 1;
  return ret;
}

enum MHD_Result
http_reply(struct http_req *r, unsigned status, const char *type,
           const char *body, size_t len)
{
  return queue(r, status, type, body, len, NULL, NULL);
}

static enum MHD_Result
vreply_error(struct http_req *r, unsigned status, const char *hname,
             const char *hval, const char *fmt, va_list ap)
  __attribute__((format(printf, 5, 0)));

static enum MHD_Result
vreply_error(struct http_req *r, unsigned status, const char *hname,
             const char *hval, const char *fmt, va_list ap)
{
  char msg[512];
  struct buf b;
  enum MHD_Result ret;

  vsnprintf(msg, sizeof(msg), fmt, ap);
  buf_init(&b, 0);
  buf_puts(&b, "{\"status\":\"error\",\"error\":");
  buf_json_str(&b, msg);
  buf_puts(&b, "}\n");
  ret = queue(r, status, NULL, b.data ? b.data : "", b.len, hname, hval);
  buf_free(&b);
  return ret;
}

enum MHD_Result
http_reply_buf(struct http_req *r, unsigned status, struct buf *b)
{
  enum MHD_Result ret;

  if (!b->data) {
    buf_free(b);
    return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
  }
  ret = http_reply(r, status, NULL, b->data, b->len);
  buf_free(b);
  return ret;
}

enum MHD_Result
http_reply_error(struct http_req *r, unsigned status, const char *fmt, ...)
{
  va_list ap;
  enum MHD_Result ret;

  va_start(ap, fmt);
  ret = vreply_error(r, status, NULL, NULL, fmt, ap);
  va_end(ap);
  return ret;
}

static enum MHD_Result
reply_error_hdr(struct http_req *r, unsigned status, const char *hname,
                const char *hval, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));

static enum MHD_Result
reply_error_hdr(struct http_req *r, unsigned status, const char *hname,
                const char *hval, const char *fmt, ...)
{
  va_list ap;
  enum MHD_Result ret;

  va_start(ap, fmt);
  ret = vreply_error(r, status, hname, hval, fmt, ap);
  va_end(ap);
  return ret;
}

enum MHD_Result
http_reply_not_allowed(struct http_req *r, const char *path, const char *methods)
{
  char allow[64];
  size_t n = 0;

  /* Allow is a comma-separated list (RFC 9110, 10.2.1). */
  for (const char *m = methods; *m && n + 3 < sizeof(allow); m++) {
    if (*m == ' ') {
      allow[n++] = ',';
      allow[n++] = ' ';
    } else {
      allow[n++] = *m;
    }
  }
  allow[n] = '\0';
  return reply_error_hdr(r, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW, allow,
                         "method %s is not allowed on %s (allowed: %s)", r->method, path, allow);
}

int
http_is_json_type(const char *ct)
{
  size_t n = strlen("application/json");
  if (!ct || strncasecmp(ct, "application/json", n) != 0)
    return 0;
  return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Checks made before any byte of the body is read. */
static enum MHD_Result
first_call(struct http_req *r, const struct route *rt)
{
  const char *why = NULL, *cl, *ct;
  unsigned long long clen;
  size_t max = rt->body == WEBHOOK_BODY ? r->cfg->max_body_bytes : API_BODY_MAX;

  if (!method_allowed(rt, r->method)) {
    if (rt->body == WEBHOOK_BODY)
      metrics_webhook(WH_METHOD_NOT_ALLOWED);
    return http_reply_not_allowed(r, rt->path, rt->methods);
  }
  if (rt->auth >= AUTH_API && r->cfg->api_auth && r->cfg->api_auth->n) {
    /* API tokens with roles: reading needs read, acting needs respond,
     * reloading needs admin. */
    enum api_role need = rt->auth == AUTH_ADMIN                                      ? ROLE_ADMIN
                         : strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0 ? ROLE_READ
                                                                                        : ROLE_RESPOND;
    enum api_role have = apiauth_check(r->cfg->api_auth,
                                       MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                                   MHD_HTTP_HEADER_AUTHORIZATION),
                                       &r->actor, &why);
    if (have == ROLE_NONE) {
      rblog(LOG_WARN, "request refused", "path", r->url, "reason", why, NULL);
      return reply_error_hdr(r, MHD_HTTP_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                             "Bearer realm=\"runbookd\"", "%s", why);
    }
    if (have < need)
      return http_reply_error(r, MHD_HTTP_FORBIDDEN,
                              "token %s has role %s; %s %s needs role %s", r->actor,
                              api_role_name(have), r->method, rt->path, api_role_name(need));
  } else if (rt->auth && !auth_check(r->cfg, r->conn, &why)) {
    if (rt->body == WEBHOOK_BODY)
      metrics_webhook(WH_UNAUTHORIZED);
    rblog(LOG_WARN, "request refused", "path", r->url, "reason", why, NULL);
    return reply_error_hdr(r, MHD_HTTP_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                           r->cfg->bearer_token && r->cfg->basic_password
                             ? "Bearer realm=\"runbookd\", Basic realm=\"runbookd\""
                           : r->cfg->bearer_token ? "Bearer realm=\"runbookd\""
                                                  : "Basic realm=\"runbookd\"",
                           "%s", why);
  }
  if (rt->body == NO_BODY || strcmp(r->method, "GET") == 0)
    return MHD_YES;
  ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (rt->body == WEBHOOK_BODY && !http_is_json_type(ct)) {
    metrics_webhook(WH_UNSUPPORTED_MEDIA_TYPE);
    return http_reply_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                            "Content-Type must be application/json, not %s",
                            ct ? ct : "missing");
  }
  cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  clen = cl ? strtoull(cl, NULL, 10) : 0;
  if (clen > max) {
    if (rt->body == WEBHOOK_BODY)
      metrics_webhook(WH_TOO_LARGE);
    return http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
                            "body of %s bytes is larger than the limit of %zu", cl, max);
  }
  if (body_hold(r, (size_t)clen))
    return reply_busy(r, (size_t)clen);
  buf_init(&r->body, max);
  return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **req_cls)
{
  struct app *app = cls;
  struct http_req *r = *req_cls;
  const struct route *rt;

  if (!r) {
    struct conn_track *t = track_of(conn);
    if (t)
      atomic_store(&t->waiting_since_ns, 0); /* the headers are in */
    r = calloc(1, sizeof(*r));
    if (!r)
      return MHD_NO;
    *req_cls = r;
    r->app = app;
    r->cfg = app_config(app);
    r->conn = conn;
    r->method = method;
    r->url = url;
    r->t0_ns = rb_mono_ns();
    r->handler = H_OTHER;
    atomic_fetch_add(&app->inflight, 1);
    rt = find_route(url);
    if (!rt)
      return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: %.200s", url);
    r->handler = rt->metric;
    return first_call(r, rt);
  }
  if (r->responded) {
    *upload_data_size = 0; /* discard what follows an early answer */
    return MHD_YES;
  }
  rt = find_route(url);
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    rb_status rc = RB_ETOOBIG;
    *upload_data_size = 0;
    /* libmicrohttpd cannot answer while a body is still arriving, so past
     * the limit the rest is read and dropped (bounded below), and 413 goes
     * out once the body ends. */
    if (r->body.max && !r->too_large && !r->too_busy) {
      /* Held before it is stored (a body past its own limit is dropped,
       * not held). */
      if (r->body.len + n <= r->body.max && body_hold(r, r->body.len + n)) {
        r->too_busy = 1;
        buf_free(&r->body);
      } else {
        rc = buf_append(&r->body, upload_data, n);
      }
    }
    if (rc == RB_ENOMEM)
      return MHD_NO;
    if (rc == RB_ETOOBIG) {
      if (!r->too_large && !r->too_busy) {
        r->too_large = 1;
        buf_free(&r->body);
        if (rt && rt->body == WEBHOOK_BODY)
          metrics_webhook(WH_TOO_LARGE);
      }
      r->discarded += n;
      if (r->discarded > DISCARD_MAX) {
        rblog(LOG_WARN, "closing a connection whose body is far over the limit", "path",
              r->url, NULL);
        return MHD_NO;
      }
    }
    if (rb_mono_ns() - r->t0_ns > 2 * (int64_t)r->cfg->connection_timeout_s * 1000000000) {
      rblog(LOG_WARN, "closing a connection whose body took too long", "path", r->url, NULL);
      return MHD_NO;
    }
    return MHD_YES;
  }
  if (r->too_busy)
    return reply_busy(r, r->held + r->discarded);
  if (r->too_large) {
    if (rt->body == NO_BODY || strcmp(r->method, "GET") == 0)
      return http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "%s %s takes no body", r->method,
                              rt->path);
    return http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
                            "body is larger than the limit of %zu bytes",
                            rt->body == WEBHOOK_BODY ? r->cfg->max_body_bytes
                                                     : (size_t)API_BODY_MAX);
  }
  return rt->fn(r);
}

/* Decodes %HH escapes like libmicrohttpd's default, except %00: a NUL
 * would cut the path short ("/webhook%00x" must not route to /webhook),
 * so it stays as the three characters it was. */
static size_t
unescape(void *cls, struct MHD_Connection *c, char *s)
{
  char *w = s;
  const char *r = s;

  while (*r) {
    if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])
        && !(r[1] == '0' && r[2] == '0')) {
      char hex[3] = { r[1], r[2], '\0' };
      *w++ = (char)strtol(hex, NULL, 16);
      r += 3;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
  return (size_t)(w - s);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
  struct app *app = cls;
  struct http_req *r = *req_cls;
  struct conn_track *t = track_of(conn);

  if (t) /* a kept-alive connection waits for its next request's headers */
    atomic_store(&t->waiting_since_ns, rb_mono_ns());
  if (!r)
    return;
  metrics_request(r->handler, rb_mono_ns() - r->t0_ns);
  if (r->held)
    metrics_body_release(r->held);
  buf_free(&r->body);
  api_webhook_cleanup(r);
  config_drop(r->cfg);
  free(r);
  *req_cls = NULL;
  atomic_fetch_sub(&app->inflight, 1);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[512];
  size_t n;

  vsnprintf(msg, sizeof(msg), fmt, ap);
  n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  rblog(LOG_DEBUG, "http", "detail", msg, NULL);
}

static rb_status
resolve_listen(const char *addr, struct sockaddr_storage *ss, int *v6, char *err)
{
  char host[256];
  const char *colon = strrchr(addr, ':');
  size_t hl = (size_t)(colon - addr);
  struct addrinfo hints, *res = NULL;
  int rc;

  if (hl >= sizeof(host)) {
    snprintf(err, RB_ERRLEN, "listen address too long");
    return RB_EINVAL;
  }
  memcpy(host, addr, hl);
  host[hl] = '\0';
  if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
    memmove(host, host + 1, hl - 2);
    host[hl - 2] = '\0';
  }
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res);
  if (rc != 0 || !res) {
    snprintf(err, RB_ERRLEN, "cannot resolve listen address %s: %s", addr, gai_strerror(rc));
    return RB_EINVAL;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *v6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  return RB_OK;
}

/* Binds and listens as libmicrohttpd would: SO_REUSEADDR, IPv6 sockets
 * IPv6 only, the system's backlog. */
static int
listen_on(const struct sockaddr_storage *ss, int v6, char *err, const char *addr)
{
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;

  if (fd < 0) {
    snprintf(err, RB_ERRLEN, "cannot listen on %s: socket: %s", addr, strerror(errno));
    return -1;
  }
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0
      || (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
      || bind(fd, (const struct sockaddr *)ss,
              v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) != 0
      || listen(fd, SOMAXCONN) != 0) {
    snprintf(err, RB_ERRLEN, "cannot listen on %s: %s", addr, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

rb_status
http_listen(const struct rb_config *cfg, struct http_server **out, char *err)
{
  struct http_server *s = calloc(1, sizeof(*s));
  struct sockaddr_storage ss;

  *out = NULL;
  if (!s) {
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  s->lfd = -1;
  if (resolve_listen(cfg->listen_address, &ss, &s->v6, err)) {
    free(s);
    return RB_EINVAL;
  }
  s->lfd = listen_on(&ss, s->v6, err, cfg->listen_address);
  if (s->lfd < 0) {
    free(s);
    return RB_EIO;
  }
  {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
  }
  *out = s;
  return RB_OK;
}

rb_status
http_start(struct http_server *s, struct app *app, const struct rb_config *cfg, char *err)
{
  struct sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL
                   | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  char port[16], tokens[24];

  if (s->v6)
    flags |= MHD_USE_IPv6;
  if (cfg->tls_cert_pem)
    flags |= MHD_USE_TLS;
  s->d = MHD_start_daemon(
    flags, 0, NULL, NULL, on_request, app,
    MHD_OPTION_LISTEN_SOCKET, s->lfd,
    MHD_OPTION_NOTIFY_COMPLETED, on_completed, app,
    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
    MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
    MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
    MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s,
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header_bytes + (size_t)16384,
    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
    MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
    cfg->tls_cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cfg->tls_cert_pem,
    MHD_OPTION_HTTPS_MEM_KEY, cfg->tls_key_pem,
    MHD_OPTION_END);
  if (!s->d) {
    snprintf(err, RB_ERRLEN, "cannot start the HTTP server on %s (bad TLS files?)",
             cfg->listen_address);
    return RB_EIO; /* http_stop closes the socket */
  }
  s->header_timeout_ns = (int64_t)cfg->connection_timeout_s * 1000000000;
  s->reaper_started = pthread_create(&s->reaper, NULL, reaper, s) == 0;
  if (!s->reaper_started)
    rblog(LOG_WARN, "no header deadline: cannot start its thread", NULL);
  if (getsockname(s->lfd, (struct sockaddr *)&bound, &blen) != 0)
    memset(&bound, 0, sizeof(bound));
  snprintf(port, sizeof(port), "%u",
           (unsigned)ntohs(bound.ss_family == AF_INET6
                             ? ((struct sockaddr_in6 *)&bound)->sin6_port
                             : ((struct sockaddr_in *)&bound)->sin_port));
  snprintf(tokens, sizeof(tokens), "%zu", cfg->api_auth ? cfg->api_auth->n : 0);
  rblog(LOG_INFO, "listening", "address", cfg->listen_address, "port", port, "tls",
        cfg->tls_cert_pem ? "true" : "false", "auth",
        cfg->bearer_token && cfg->basic_password ? "bearer,basic"
        : cfg->bearer_token                      ? "bearer"
        : cfg->basic_password                    ? "basic"
                                                 : "none",
        "api_tokens", tokens, NULL);
  return RB_OK;
}

/* Stops accepting: connections already accepted go on. */
void
http_quiesce(struct http_server *s)
{
  if (s && s->d && s->lfd >= 0) {
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
      close(fd);
    s->lfd = -1;
  }
}

void
http_stop(struct http_server *s)
{
  if (!s)
    return;
  /* Suspended requests wait for the store, which answers every job it
   * took (stored or failed), so this wait ends. */
  pthread_mutex_lock(&suspended_mu);
  if (atomic_load(&suspended) > 0)
    rblog(LOG_INFO, "waiting for the store to answer suspended requests", NULL);
  while (atomic_load(&suspended) > 0)
    pthread_cond_wait(&suspended_cv, &suspended_mu);
  pthread_mutex_unlock(&suspended_mu);
  if (s->reaper_started) {
    pthread_mutex_lock(&track_mu);
    s->stopping = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&track_mu);
    pthread_join(s->reaper, NULL);
  }
  pthread_cond_destroy(&s->wake);
  if (s->d)
    MHD_stop_daemon(s->d);
  else if (s->lfd >= 0)
    close(s->lfd); /* listened on, never started */
  free(s);
}
