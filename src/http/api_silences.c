/*
 * api_silences.c - Alertmanager API v2 silences, served as Alertmanager
 * 0.25 serves them so amtool works unmodified:
 *   GET    /api/v2/silences?filter=M&filter=M   GettableSilences, sorted
 *   POST   /api/v2/silences                     PostableSilence -> {"silenceID"}
 *   GET    /api/v2/silence/{id}                 GettableSilence
 *   DELETE /api/v2/silence/{id}                 expire
 *   GET    /api/v2/status                       a minimal AlertmanagerStatus
 *
 * Errors keep Alertmanager's shapes: its own refusals are a JSON string
 * ("silence not found"); go-swagger's are {"code":N,"message":"..."} with
 * 400 (body does not decode), 415 (not JSON), 422 (a required field or a
 * path parameter of the wrong format).  Where runbookd differs
 * (stricter input, its own wording of parse errors) docs/silences.md says
 * so.
 */
#include "http.h"
#include "daemon.h"
#include "matcher.h"
#include "rbtime.h"
#include "silence.h"
#include "version.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FILTERS_MAX 64

/* Alertmanager's own errors: the message as a JSON string. */
static enum MHD_Result
reply_str(struct http_req *r, unsigned status, const char *msg)
{
  struct buf b;

  buf_init(&b, 0);
  buf_json_str(&b, msg);
  buf_puts(&b, "\n");
  return http_reply_buf(r, status, &b);
}

/* go-openapi's errors: {"code":N,"message":"..."}; codes of 600 and up
 * are answered with 422. */
static enum MHD_Result reply_code(struct http_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result
reply_code(struct http_req *r, int code, const char *fmt, ...)
{
  char msg[RB_ERRLEN + 128];
  va_list ap;
  struct buf b;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  buf_init(&b, 0);
  buf_printf(&b, "{\"code\":%d,\"message\":", code);
  buf_json_str(&b, msg);
  buf_puts(&b, "}");
  return http_reply_buf(r, code >= 600 ? MHD_HTTP_UNPROCESSABLE_CONTENT : (unsigned)code, &b);
}

static enum MHD_Result
unavailable(struct http_req *r)
{
  return reply_str(r, MHD_HTTP_SERVICE_UNAVAILABLE, "silences are not available");
}

/* ---- GET /api/v2/silences ---------------------------------------------- */

struct filters {
  struct matchers *ms;
  size_t cap;
  char err[RB_ERRLEN + 64];
  int failed;
};

static enum MHD_Result
collect_filter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  struct filters *f = cls;
  struct matcher *m = NULL;
  char why[RB_ERRLEN];

  if (f->failed || strcmp(key, "filter") != 0)
    return MHD_YES;
  if (!value)
    value = "";
  if (f->ms->n == FILTERS_MAX) {
    snprintf(f->err, sizeof(f->err), "more than %d filters", FILTERS_MAX);
    f->failed = 1;
    return MHD_NO;
  }
  if (matcher_parse(value, &m, why)) {
    snprintf(f->err, sizeof(f->err), "bad matcher format: %.200s: %s", value, why);
    f->failed = 1;
    return MHD_NO;
  }
  f->ms->m[f->ms->n++] = m;
  return MHD_YES;
}

static enum MHD_Result
list(struct http_req *r)
{
  struct filters f;
  struct silence **v = NULL;
  size_t n = 0;
  int64_t now = rb_wall_ms();
  struct buf b;
  rb_status rc;

  memset(&f, 0, sizeof(f));
  f.ms = calloc(1, sizeof(*f.ms));
  if (f.ms)
    f.ms->m = calloc(FILTERS_MAX, sizeof(*f.ms->m));
  if (!f.ms || !f.ms->m) {
    free(f.ms);
    return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
  }
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect_filter, &f);
  if (f.failed) {
    matchers_free(f.ms);
    return reply_str(r, MHD_HTTP_BAD_REQUEST, f.err);
  }
  rc = silences_list(r->app->silences, f.ms, now, &v, &n);
  matchers_free(f.ms);
  if (rc)
    return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
  buf_init(&b, 0);
  buf_puts(&b, "[");
  for (size_t i = 0; i < n; i++) {
    if (i)
      buf_puts(&b, ",");
    silence_to_json(v[i], now, &b);
  }
  buf_puts(&b, "]\n");
  silence_list_free(v, n);
  return http_reply_buf(r, MHD_HTTP_OK, &b);
}

/* ---- POST /api/v2/silences ----------------------------------------------- */

static enum MHD_Result
create(struct http_req *r)
{
  const char *ct
      = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  struct silence_spec sp;
  enum silence_parse_code code;
  char err[RB_ERRLEN], id[SILENCE_ID_LEN];
  struct buf b;
  rb_status rc;

  if (!http_is_json_type(ct))
    return reply_code(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                      "unsupported media type \"%.100s\", only [application/json] are allowed",
                      ct ? ct : "");
  rc = silence_spec_from_json(r->body.data, r->body.len, &sp, &code, err);
  if (rc)
    return reply_code(r, (int)code, "%s", err);
  rc = silences_set(r->app->silences, &sp, rb_wall_ms(), id, err);
  silence_spec_clear(&sp);
  switch (rc) {
  case RB_OK:
    break;
  case RB_EINVAL:
    return reply_str(r, MHD_HTTP_BAD_REQUEST, err);
  case RB_ENOTFOUND:
    return reply_str(r, MHD_HTTP_NOT_FOUND, err);
  case RB_EUNAVAIL:
    return reply_str(r, MHD_HTTP_SERVICE_UNAVAILABLE, err);
  default:
    return reply_str(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
  }
  buf_init(&b, 0);
  buf_printf(&b, "{\"silenceID\":\"%s\"}\n", id);
  return http_reply_buf(r, MHD_HTTP_OK, &b);
}

enum MHD_Result
api_silences(struct http_req *r)
{
  if (!r->app->silences)
    return unavailable(r);
  if (strcmp(r->method, "POST") == 0)
    return create(r);
  return list(r);
}

/* ---- /api/v2/silence/{id} ------------------------------------------------ */

enum MHD_Result
api_silence(struct http_req *r)
{
  const char *id = r->url + strlen("/api/v2/silence");
  struct silence *sil;
  char err[RB_ERRLEN];
  struct buf b;
  rb_status rc;

  if (*id == '/')
    id++;
  if (!*id || strchr(id, '/'))
    return reply_code(r, MHD_HTTP_NOT_FOUND, "path %.200s was not found", r->url);
  if (!silence_id_valid(id))
    return reply_code(r, 601, "silenceID in path must be of type uuid: \"%.100s\"", id);
  if (!r->app->silences)
    return unavailable(r);
  if (strcmp(r->method, "DELETE") == 0) {
    rc = silences_expire(r->app->silences, id, rb_wall_ms(), err);
    switch (rc) {
    case RB_OK:
      return http_reply(r, MHD_HTTP_OK, NULL, "", 0);
    case RB_ENOTFOUND:
      /* 500, as Alertmanager 0.25 answers: its swagger spec (and so
       * amtool 0.25's client) knows only 200 and 500 here, and prints the
       * message of a 500 but not of a 404. */
      return reply_str(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    case RB_EUNAVAIL:
      return reply_str(r, MHD_HTTP_SERVICE_UNAVAILABLE, err);
    default:
      return reply_str(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    }
  }
  sil = silences_get(r->app->silences, id);
  if (!sil)
    return http_reply(r, MHD_HTTP_NOT_FOUND, NULL, "", 0); /* as Alertmanager: no body */
  buf_init(&b, 0);
  silence_to_json(sil, rb_wall_ms(), &b);
  buf_puts(&b, "\n");
  silence_drop(sil);
  return http_reply_buf(r, MHD_HTTP_OK, &b);
}

/* ---- GET /api/v2/status -------------------------------------------------- */

/* When the process started, for the status's uptime. */
static int64_t started_ms;

__attribute__((constructor)) static void
note_start(void)
{
  started_ms = rb_wall_ms();
}

/* amtool asks for this before every command, and warns when the version
 * differs from its own; `config show` and `cluster show` print it.  A
 * valid AlertmanagerStatus: the version is the Alertmanager API level
 * runbookd serves (0.25.0), branch and revision name runbookd itself; no
 * routing configuration, no cluster. */
enum MHD_Result
api_am_status(struct http_req *r)
{
  char t[40];
  struct buf b;

  buf_init(&b, 0);
  buf_puts(&b, "{\"cluster\":{\"peers\":[],\"status\":\"disabled\"},"
               "\"config\":{\"original\":\"\"},");
  buf_printf(&b, "\"uptime\":\"%s\",", rb_time_fmt_ms(started_ms, t, sizeof(t)));
  buf_puts(&b, "\"versionInfo\":{\"branch\":\"runbookd\",\"buildDate\":\"\",\"buildUser\":\"\","
               "\"goVersion\":\"\",\"revision\":");
  buf_json_str(&b, "runbookd " RUNBOOKD_VERSION);
  buf_puts(&b, ",\"version\":\"0.25.0\"}}\n");
  return http_reply_buf(r, MHD_HTTP_OK, &b);
}
