/*
 * http.h - runbookd's HTTP server on libmicrohttpd and its handlers.
 *
 * A small pool of libmicrohttpd threads (epoll) serves every connection.
 * POST /webhook does not block one: the handler parses the body, queues
 * the store job and suspends the connection; the store's thread resumes it
 * once the commit holding the delivery is durable, and the handler then
 * answers.  So many connections keep the store's group commit fed with few
 * threads and context switches.  Other handlers are short and answer at
 * once.
 * Every request is bounded before it is read: header memory, body size
 * (413 before buffering when Content-Length says so), idle time and total
 * time.  Per-request state lives in struct http_req (MHD's req_cls) and is
 * freed only in the completion callback.
 */
#ifndef RUNBOOKD_HTTP_H
#define RUNBOOKD_HTTP_H

#include "buf.h"
#include "metrics.h"
#include "rb.h"

#include <microhttpd.h>
#include <stdatomic.h>

struct app;
struct rb_config;
struct http_server;
struct am_payload;
struct ingest_job;

enum webhook_state { WH_IDLE = 0, WH_WAITING, WH_STORED };

struct http_req {
  struct app *app;
  struct rb_config *cfg;   /* held for the request's lifetime */
  struct MHD_Connection *conn;
  const char *method;
  const char *url;
  enum http_handler handler;
  struct buf body;
  int64_t t0_ns;
  int responded;           /* a response was queued */
  size_t discarded;        /* body bytes dropped past the limit */
  int too_large;           /* the body passed its limit: answer 413 */
  int too_busy;            /* web.max_body_bytes_in_flight was reached: 503 */
  size_t held;             /* body bytes held against that limit */
  const char *actor;       /* the API token's name, when one authorized it */
  /* POST /webhook while its store job is queued (api_webhook.c). */
  enum webhook_state wh_state;
  struct am_payload *payload;
  struct ingest_job *ingest;
  rb_status ingest_rc;
  atomic_int ingest_done;  /* set by the store thread before it resumes */
};

/* Suspends r's connection until http_resume(r); counted so that stopping
 * waits for every suspended request.  Call from the handler. */
void http_suspend(struct http_req *r);
/* Resumes a suspended request; any thread.  r may be freed as soon as
 * this returns, so it is the caller's last use of r. */
void http_resume(struct http_req *r);
/* Frees what a webhook request holds (on completion). */
void api_webhook_cleanup(struct http_req *r);

/* A handler answers with http_reply* and returns what MHD expects. */
typedef enum MHD_Result (*http_handler_fn)(struct http_req *r);

/* Binds and listens on cfg's address (nothing is served yet: connections
 * wait in the listen queue), so that a daemon that cannot have its port
 * fails before anything else starts.  err (RB_ERRLEN) says why not. */
rb_status http_listen(const struct rb_config *cfg, struct http_server **out, char *err);
/* Serves on s's socket with the limits of cfg.  On failure s stays for
 * http_stop.  err (RB_ERRLEN) says why not. */
rb_status http_start(struct http_server *s, struct app *app, const struct rb_config *cfg,
                     char *err);
/* Stops accepting new connections (in-flight requests go on). */
void http_quiesce(struct http_server *s);
/* Closes every connection and joins the threads.  Accepts NULL. */
void http_stop(struct http_server *s);

/* Queues a response; body is copied.  type NULL means application/json. */
enum MHD_Result http_reply(struct http_req *r, unsigned status,
                           const char *type, const char *body, size_t len);
/* Whether a Content-Type header is application/json (parameters allowed). */
int http_is_json_type(const char *content_type);
/* Queues b (JSON) and frees it; a b that ran out of memory (no data) gets
 * 500 instead. */
enum MHD_Result http_reply_buf(struct http_req *r, unsigned status, struct buf *b);
/* {"status":"error","error":msg} with the given status. */
enum MHD_Result http_reply_error(struct http_req *r, unsigned status,
                                 const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* 405 with an Allow header: methods is space separated ("GET HEAD"). */
enum MHD_Result http_reply_not_allowed(struct http_req *r, const char *path, const char *methods);

/* Checks the webhook's credentials (bearer token or basic auth, compared
 * in constant time).  Returns 1 when accepted or when none are configured;
 * otherwise 0 and *why says what was wrong. */
int auth_check(const struct rb_config *cfg, struct MHD_Connection *conn,
               const char **why);
/* The same for an Authorization header value (NULL when absent). */
int auth_check_header(const struct rb_config *cfg, const char *header,
                      const char **why);
/* Constant-time equality of two strings of possibly different lengths. */
int auth_equal(const char *a, const char *b);

/* The longest "by" and "comment" of an incident action, in bytes. */
#define API_BY_MAX 256
#define API_COMMENT_MAX 8192

/* Reads the body of POST /api/v1/incidents/{id}/ack|unack|resolve|comment
 * ({"by":...,"comment":...}, both optional; an empty body is {}): len bytes,
 * not NUL-terminated.  The body must be one JSON object and nothing else
 * (whitespace aside), in UTF-8 without NUL bytes (nor \u0000); "by" takes
 * no control character and "comment" only tabs and line breaks, and
 * neither may be white space alone.  0 with by and comment filled (""
 * when absent), or -1 and why (whylen bytes) says what is wrong.  Exposed
 * for tests and fuzzing. */
int api_action_body_parse(const char *body, size_t len, char by[API_BY_MAX + 1],
                          char comment[API_COMMENT_MAX + 1], char *why, size_t whylen);

/* Handlers (api_*.c). */
enum MHD_Result api_webhook(struct http_req *r);
enum MHD_Result api_incidents(struct http_req *r);
enum MHD_Result api_healthy(struct http_req *r);
enum MHD_Result api_ready(struct http_req *r);
enum MHD_Result api_reload(struct http_req *r);
enum MHD_Result api_metrics(struct http_req *r);
enum MHD_Result api_index(struct http_req *r);
/* GET, POST /api/v2/silences (api_silences.c) */
enum MHD_Result api_silences(struct http_req *r);
/* GET, DELETE /api/v2/silence/{id} */
enum MHD_Result api_silence(struct http_req *r);
/* GET /api/v2/status (amtool reads it before every command) */
enum MHD_Result api_am_status(struct http_req *r);
/* GET /api/v1/stats?from=&to= (api_stats.c) */
enum MHD_Result api_stats(struct http_req *r);

#endif
