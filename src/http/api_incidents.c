/*
 * api_incidents.c - the read and act API on incidents:
 *   GET  /api/v1/incidents?state=&severity=&alertname=&limit=&offset=
 *   GET  /api/v1/incidents/{id}
 *   POST /api/v1/incidents/{id}/ack|unack|resolve|comment  {"by":..,"comment":..}
 *   GET  /api/v1/incidents/{id}/report?format=md|html|json
 */
#include "daemon.h"
#include "http.h"
#include "incident.h"
#include "pager.h"
#include "payload.h"
#include "rbtime.h"
#include "report.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 500

static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
  char *end;
  unsigned long long v;

  if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || v > max)
    return -1;
  *out = v;
  return 0;
}

/* GET, or HEAD (libmicrohttpd leaves the body out). */
static int
reads(const struct http_req *r)
{
  return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

static enum MHD_Result
store_failure(struct http_req *r, rb_status rc)
{
  return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the store is unavailable (%s)",
                          rb_strerror(rc));
}

static enum MHD_Result
list(struct http_req *r)
{
  struct incident_filter f = { INC_OPEN, -1, NULL, 100, 0 };
  const char *state = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "state");
  const char *sev = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "severity");
  const char *limit = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit");
  const char *offset = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "offset");
  struct incident *v = NULL;
  unsigned long long n;
  size_t count = 0;
  struct buf b;
  rb_status rc;

  f.alertname = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "alertname");
  if (state) {
    if (strcmp(state, "all") == 0)
      f.state = -1;
    else if (strcmp(state, "unacked") == 0)
      f.state = INC_FILTER_UNACKED;
    else if ((f.state = incident_state_parse(state)) < 0)
      return http_reply_error(r, MHD_HTTP_BAD_REQUEST,
                              "state: must be open, acked, unacked, resolved or all");
  }
  if (sev && (f.severity = severity_parse(sev)) < 0)
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST,
                            "severity: must be emergency, critical, high, medium or low");
  if (limit) {
    if (parse_uint(limit, LIST_MAX, &n) || n == 0)
      return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "limit: must be 1 to %d", LIST_MAX);
    f.limit = (size_t)n;
  }
  if (offset) {
    if (parse_uint(offset, 1000000000ULL, &n))
      return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "offset: must be a non-negative integer");
    f.offset = (size_t)n;
  }
  rc = store_list(r->app->store, &f, &v, &count);
  if (rc)
    return store_failure(r, rc);
  buf_init(&b, 0);
  buf_puts(&b, "{\"incidents\":[");
  for (size_t i = 0; i < count; i++) {
    if (i)
      buf_puts(&b, ",");
    incident_to_json(&b, &v[i], 0, NULL, 0);
  }
  buf_printf(&b, "],\"limit\":%zu,\"offset\":%zu}\n", f.limit, f.offset);
  incidents_free(v, count);
  return http_reply_buf(r, MHD_HTTP_OK, &b);
}

static enum MHD_Result
show(struct http_req *r, int64_t id)
{
  struct incident inc;
  struct tl_event *ev = NULL;
  size_t n = 0;
  struct buf b;
  rb_status rc;

  rc = store_get(r->app->store, id, &inc);
  if (rc == RB_ENOTFOUND)
    return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no incident %lld", (long long)id);
  if (rc)
    return store_failure(r, rc);
  rc = store_timeline(r->app->store, id, &ev, &n);
  if (rc) {
    incident_clear(&inc);
    return store_failure(r, rc);
  }
  buf_init(&b, 0);
  incident_to_json(&b, &inc, 1, ev, n);
  buf_puts(&b, "\n");
  incident_clear(&inc);
  tl_events_free(ev, n);
  return http_reply_buf(r, MHD_HTTP_OK, &b);
}

/* GET /api/v1/incidents/{id}/report?format=md|html|json (md by default). */
static enum MHD_Result
report(struct http_req *r, int64_t id)
{
  const char *fmt = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "format");
  int f = fmt ? report_format_parse(fmt) : REPORT_MD;
  enum MHD_Result ret;
  struct buf b;
  rb_status rc;

  if (!reads(r))
    return http_reply_not_allowed(r, "/api/v1/incidents/{id}/report", "GET HEAD");
  if (f < 0)
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "format: must be md, html or json");
  buf_init(&b, 0);
  rc = report_build(r->app->store, id, (enum report_format)f, rb_wall_ms(), &b);
  if (rc == RB_ENOTFOUND) {
    buf_free(&b);
    return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no incident %lld", (long long)id);
  }
  if (rc) {
    buf_free(&b);
    return store_failure(r, rc);
  }
  ret = http_reply(r, MHD_HTTP_OK, report_format_type((enum report_format)f), b.data ? b.data : "",
                   b.len);
  buf_free(&b);
  return ret;
}

static const char *const action_names[] = { "ack", "unack", "resolve", "comment" };

/* The body as one JSON object; NULL and why filled when it is not. */
static cJSON *
action_body_object(const char *body, size_t len, char *why, size_t whylen)
{
  const char *end = NULL;
  char scan[128];
  cJSON *root;

  /* "by" and "comment" reach the store, the timeline, reports and
   * notifications: UTF-8 only, without NULs or raw control characters, as
   * the webhook and the silence API take. */
  if (json_scan(body, len, 8, NULL, scan, sizeof(scan))) {
    snprintf(why, whylen, "body: %s", scan);
    return NULL;
  }
  root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!cJSON_IsObject(root) || !end || end < body || end > body + len
      || !json_only_space(end, (size_t)(body + len - end))) {
    cJSON_Delete(root);
    snprintf(why, whylen, "body must be a JSON object {\"by\":...,\"comment\":...}");
    return NULL;
  }
  return root;
}

/* Copies root's string field name (absent: left "") into out (max bytes
 * and a NUL); -1 and why filled when it is not such a string.  A name
 * (single_line) takes no control character at all, a comment takes tabs
 * and line breaks. */
static int
action_field(const cJSON *root, const char *name, char *out, size_t max, int single_line, char *why,
             size_t whylen)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);

  if (!v)
    return 0;
  if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
    snprintf(why, whylen, "%s: must be a string of at most %zu bytes", name, max);
    return -1;
  }
  for (const unsigned char *c = (const unsigned char *)v->valuestring; *c; c++)
    if ((*c < 0x20 && (single_line || (*c != '\t' && *c != '\n' && *c != '\r'))) || *c == 0x7f) {
      snprintf(why, whylen, "%s: control character U+%04X at byte %zu", name, *c,
               (size_t)(c - (const unsigned char *)v->valuestring));
      return -1;
    }
  if (v->valuestring[0] && json_only_space(v->valuestring, strlen(v->valuestring))) {
    snprintf(why, whylen, "%s: must not be only white space", name);
    return -1;
  }
  snprintf(out, max + 1, "%s", v->valuestring);
  return 0;
}

int
api_action_body_parse(const char *body, size_t len, char by[API_BY_MAX + 1],
                      char comment[API_COMMENT_MAX + 1], char *why, size_t whylen)
{
  cJSON *root = NULL;

  by[0] = comment[0] = '\0';
  if (len && !(root = action_body_object(body, len, why, whylen)))
    return -1;
  if (action_field(root, "by", by, API_BY_MAX, 1, why, whylen)
      || action_field(root, "comment", comment, API_COMMENT_MAX, 0, why, whylen)) {
    cJSON_Delete(root);
    return -1;
  }
  cJSON_Delete(root);
  return 0;
}

static enum MHD_Result
act(struct http_req *r, int64_t id, const char *action)
{
  char msg[RB_ERRLEN], by[API_BY_MAX + 1], comment[API_COMMENT_MAX + 1], why[RB_ERRLEN];
  int a = -1;
  struct buf b;
  rb_status rc;

  for (size_t i = 0; i < RB_ARRAY_LEN(action_names); i++)
    if (strcmp(action, action_names[i]) == 0)
      a = (int)i;
  if (a < 0)
    return http_reply_error(r, MHD_HTTP_NOT_FOUND,
                            "no such action: %.64s (ack, unack, resolve, comment)", action);
  if (strcmp(r->method, "POST") != 0)
    return http_reply_not_allowed(r, "/api/v1/incidents/{id}/{action}", "POST");
  if (api_action_body_parse(r->body.data, r->body.len, by, comment, why, sizeof(why)))
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
  if (!by[0] && r->actor)
    snprintf(by, sizeof(by), "%s", r->actor); /* the token names who acts */
  if (!by[0])
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "by: who is acting is required");
  if (a == ACT_COMMENT && !comment[0])
    return http_reply_error(r, MHD_HTTP_BAD_REQUEST, "comment: must not be empty");
  rc = incident_act(r->app->store, id, (enum incident_action)a, by,
                    comment[0] ? comment : NULL, rb_wall_ms(), msg);
  switch (rc) {
  case RB_OK:
    break;
  case RB_ENOTFOUND:
    return http_reply_error(r, MHD_HTTP_NOT_FOUND, "%s", msg);
  case RB_ECONFLICT:
    return http_reply_error(r, MHD_HTTP_CONFLICT, "%s", msg);
  default:
    return store_failure(r, rc);
  }
  if (a == ACT_ACK)
    pager_acked(r->app->pager, id);
  else if (a == ACT_UNACK)
    pager_unacked(r->app->pager, id);
  else if (a == ACT_RESOLVE)
    pager_resolved(r->app->pager, id);
  buf_init(&b, 0);
  buf_puts(&b, "{\"status\":\"success\",\"message\":");
  buf_json_str(&b, msg);
  buf_puts(&b, "}\n");
  return http_reply_buf(r, MHD_HTTP_OK, &b);
}

enum MHD_Result
api_incidents(struct http_req *r)
{
  const char *rest = r->url + strlen("/api/v1/incidents");
  char idbuf[32];
  const char *slash;
  unsigned long long id;
  size_t n;

  if (*rest == '\0' || strcmp(rest, "/") == 0) {
    if (!reads(r))
      return http_reply_not_allowed(r, "/api/v1/incidents", "GET HEAD");
    return list(r);
  }
  rest++;
  slash = strchr(rest, '/');
  n = slash ? (size_t)(slash - rest) : strlen(rest);
  if (n >= sizeof(idbuf))
    return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no such incident");
  memcpy(idbuf, rest, n);
  idbuf[n] = '\0';
  /* Ids are opaque to clients: "01" is not incident 1. */
  if ((idbuf[0] == '0' && idbuf[1]) || parse_uint(idbuf, (unsigned long long)INT64_MAX, &id))
    return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no such incident: %s", idbuf);
  if (!slash) {
    if (!reads(r))
      return http_reply_not_allowed(r, "/api/v1/incidents/{id}", "GET HEAD");
    return show(r, (int64_t)id);
  }
  if (strchr(slash + 1, '/'))
    return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint");
  if (strcmp(slash + 1, "report") == 0)
    return report(r, (int64_t)id);
  return act(r, (int64_t)id, slash + 1);
}
