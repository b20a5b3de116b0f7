/*
 * notify.c - the notifier dispatcher: method and event names, the table of
 * backends, the HTTP transport (libcurl) and the one retry policy all
 * methods share (see notify.h).  The payloads live in one file per backend.
 *
 * A secret may sit in a URL (Slack's and most providers' webhook URLs are
 * bearer capabilities), a routing key, an HMAC key, a token or the SMTP
 * password.  None is ever logged: log lines carry the method and host only,
 * and every detail handed back is scrubbed of each secret first.
 */
#include "notify.h"
#include "lazylib.h"
#include "log.h"
#include "notify_int.h"
#include "rbtime.h"
#include "version.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BACKOFF_CAP_MS 30000L

static const char *const method_names[NM_COUNT] = {
  [NM_PHONE] = "phone",         [NM_SLACK] = "slack",     [NM_EMAIL] = "email",
  [NM_PAGERDUTY] = "pagerduty", [NM_WEBHOOK] = "webhook",
};

static const char *const event_names[NE_EVENT_COUNT] = {
  [NE_TRIGGER] = "trigger",           [NE_ESCALATED] = "escalated", [NE_PROGRESS] = "progress",
  [NE_ACKNOWLEDGED] = "acknowledged", [NE_RESOLVED] = "resolved",
};

static const char *const event_titles[NE_EVENT_COUNT] = {
  [NE_TRIGGER] = "Triggered",         [NE_ESCALATED] = "Escalated", [NE_PROGRESS] = "Still open",
  [NE_ACKNOWLEDGED] = "Acknowledged", [NE_RESOLVED] = "Resolved",
};

static const struct notifier *const backends[NM_COUNT] = {
  [NM_PHONE] = &notifier_phone,     [NM_SLACK] = &notifier_slack,
  [NM_EMAIL] = &notifier_email,     [NM_PAGERDUTY] = &notifier_pagerduty,
  [NM_WEBHOOK] = &notifier_webhook,
};

const char *
notify_method_name(enum notify_method m)
{
  return (unsigned)m < NM_COUNT ? method_names[m] : "unknown";
}

int
notify_method_parse(const char *s)
{
  if (!s)
    return -1;
  for (int i = 0; i < NM_COUNT; i++)
    if (strcasecmp(s, method_names[i]) == 0)
      return i;
  return -1;
}

const char *
notify_event_name(enum notify_event e)
{
  return (unsigned)e < NE_EVENT_COUNT ? event_names[e] : "unknown";
}

const char *
notify_event_title(enum notify_event e)
{
  return (unsigned)e < NE_EVENT_COUNT ? event_titles[e] : "Update";
}

void
notify_settings_defaults(struct notify_settings *s)
{
  memset(s, 0, sizeof(*s));
  s->timeout_s = 10;
  s->retries = 3;
  s->backoff_ms = 500;
  s->smtp_require_tls = 1;
}

static void
wipe_free(char *p)
{
  if (p) {
    explicit_bzero(p, strlen(p));
    free(p);
  }
}

void
notify_target_clear(struct notify_target *t)
{
  if (!t)
    return;
  wipe_free(t->url); /* a webhook URL is often the credential itself */
  wipe_free(t->routing_key);
  wipe_free(t->secret);
  wipe_free(t->token);
  free(t->to);
  memset(t, 0, sizeof(*t));
}

/* ---- helpers shared by the backends (notify_int.h) ---- */

rb_status
notify_json_str(struct buf *b, const char *s, size_t max)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  size_t used = 0;
  rb_status rc = buf_append(b, "\"", 1);

  if (max && strlen((const char *)p) > max)
    max = max > 3 ? max - 3 : 1; /* room for "..." */
  else
    max = 0;
  while (!rc && *p) {
    size_t n = buf_utf8_seq(p, 4); /* the NUL ends a cut sequence */
    char esc[7];
    if (max && used + (n ? n : 3) > max) {
      rc = buf_puts(b, "...");
      break;
    }
    if (n == 0) {
      rc = buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD for an invalid byte */
      used += 3;
      p++;
      continue;
    }
    if (n > 1) {
      rc = buf_append(b, p, n);
    } else if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      rc = buf_append(b, esc, 2);
    } else if (*p == '\n') {
      rc = buf_puts(b, "\\n");
    } else if (*p == '\t') {
      rc = buf_puts(b, "\\t");
    } else if (*p < 0x20 || *p == 0x7f) {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[*p >> 4];
      esc[5] = hex[*p & 15];
      rc = buf_append(b, esc, 6);
    } else {
      rc = buf_append(b, p, 1);
    }
    used += n;
    p += n;
  }
  if (!rc)
    rc = buf_append(b, "\"", 1);
  return rc;
}

static cJSON *
parse_labels(const char *labels_json)
{
  cJSON *o;
  const char *end = NULL;

  if (!labels_json)
    return NULL;
  o = cJSON_ParseWithLengthOpts(labels_json, strlen(labels_json) + 1, &end, 1);
  if (o && !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    o = NULL;
  }
  return o;
}

rb_status
notify_json_labels(struct buf *b, const char *labels_json)
{
  cJSON *o = parse_labels(labels_json);
  const cJSON *it;
  rb_status rc = buf_puts(b, "{");
  int first = 1;

  /* Label values are strings; anything else is dropped rather than passed
   * through, so receivers always see a flat string map. */
  cJSON_ArrayForEach(it, o)
  {
    if (rc || !cJSON_IsString(it) || !it->string)
      continue;
    rc = buf_puts(b, first ? "" : ",");
    if (!rc)
      rc = notify_json_str(b, it->string, 0);
    if (!rc)
      rc = buf_puts(b, ":");
    if (!rc)
      rc = notify_json_str(b, it->valuestring, 0);
    first = 0;
  }
  cJSON_Delete(o);
  return rc ? rc : buf_puts(b, "}");
}

char *
notify_label(const char *labels_json, const char *name, char *out, size_t outlen)
{
  cJSON *o = parse_labels(labels_json);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

  snprintf(out, outlen, "%s", cJSON_IsString(v) ? v->valuestring : "");
  cJSON_Delete(o);
  return out;
}

char *
notify_incident_link(const struct notify_settings *s, int64_t id, int ack, char *out, size_t outlen)
{
  size_t n;

  out[0] = '\0';
  if (!s || !s->external_url || !*s->external_url)
    return out;
  n = strlen(s->external_url);
  while (n > 0 && s->external_url[n - 1] == '/')
    n--;
  /* The web page's own routes: a GET that never changes anything, so link
   * previews and mail scanners cannot acknowledge by following it; the page
   * asks for a click and then POSTs /api/v1/incidents/{id}/ack. */
  snprintf(out, outlen, "%.*s/#/incidents/%" PRId64 "%s", (int)n, s->external_url, id,
           ack ? "/ack" : "");
  return out;
}

char *
notify_timestamp(const struct notify_message *m, char *out, size_t outlen)
{
  return rb_time_fmt_ms(m->at_ms ? m->at_ms : rb_wall_ms(), out, outlen);
}

const char *
notify_pagerduty_severity(const char *severity)
{
  static const struct {
    const char *ours, *pd;
  } map[] = {
    { "emergency", "critical" }, { "critical", "critical" }, { "high", "error" },
    { "medium", "warning" },     { "low", "info" },
  };
  for (size_t i = 0; severity && i < RB_ARRAY_LEN(map); i++)
    if (strcasecmp(severity, map[i].ours) == 0)
      return map[i].pd;
  return "warning";
}

/* ---- the transport ---- */

static unsigned
timeout_of(const struct notify_settings *s)
{
  return s->timeout_s ? s->timeout_s : 10;
}

void
notify_curl_common(CURL *e, const struct notify_settings *s, char *errbuf)
{
  unsigned t = timeout_of(s);

  curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)t);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)(t < 5 ? t : 5));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  errbuf[0] = '\0';
}

int
notify_cancelled(struct cancel_check *c, int force)
{
  int64_t now;

  if (!c || !c->fn)
    return 0;
  if (c->hit)
    return 1;
  now = rb_mono_ns();
  if (!force && now < c->next_ns)
    return 0;
  c->next_ns = now + (int64_t)NOTIFY_CANCEL_POLL_MS * 1000000;
  c->hit = c->fn(c->arg) != 0;
  return c->hit;
}

static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  return notify_cancelled(ud, 0); /* non-zero aborts the transfer */
}

void
notify_curl_cancel(CURL *e, struct attempt *a)
{
  if (!a->cancel || !a->cancel->fn)
    return;
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, a->cancel);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
}

void
notify_classify_curl(CURLcode cc, struct attempt *a, const char *errbuf)
{
  switch (cc) {
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_USE_SSL_FAILED:
  case CURLE_LOGIN_DENIED:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_CERTPROBLEM:
    a->cls = AC_FINAL; /* configuration: another try cannot help */
    break;
  default:
    a->cls = AC_RETRY;
  }
  snprintf(a->detail, sizeof(a->detail), "%s",
           errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

rb_status
notify_header_bearer(struct curl_slist **h, const char *token)
{
  struct curl_slist *n;
  struct buf a;
  rb_status rc;

  if (!token || !*token || strpbrk(token, "\r\n"))
    return RB_OK;
  buf_init(&a, 0);
  rc = buf_printf(&a, "Authorization: Bearer %s", token);
  if (!rc) {
    n = curl_slist_append(*h, a.data);
    if (n)
      *h = n;
    else
      rc = RB_ENOMEM;
  }
  if (a.data)
    explicit_bzero(a.data, a.len);
  buf_free(&a);
  return rc;
}

struct resp {
  char data[NOTIFY_ANSWER_KEEP];
  size_t len;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *ud)
{
  struct resp *r = ud;
  size_t n = size * nmemb, room = sizeof(r->data) - 1 - r->len;

  if (n < room)
    room = n;
  memcpy(r->data + r->len, p, room);
  r->len += room;
  r->data[r->len] = '\0';
  return n; /* the rest is read and dropped */
}

/* The receiver's answer (len bytes, up to a NUL) on one line: whitespace
 * runs collapsed, control bytes dropped, at most about 400 bytes. */
static void
trim_answer(const char *in, size_t len, char *out, size_t outlen)
{
  const char *end = in + len;
  size_t n = 0, cap = outlen < 400 ? outlen : 400;
  int space = 1;

  for (; in < end && *in && n + 4 < cap; in++) {
    unsigned char c = (unsigned char)*in;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!space)
        out[n++] = ' ';
      space = 1;
    } else if (c >= 0x20 && c != 0x7f) {
      out[n++] = (char)c;
      space = 0;
    }
  }
  if (in < end && *in) {
    memcpy(out + n, "...", 3);
    n += 3;
  }
  while (n > 0 && out[n - 1] == ' ')
    n--;
  out[n] = '\0';
}

enum notify_verdict
notify_http_answer(long status, const char *body, size_t len, char *detail, size_t detail_len)
{
  char answer[420];
  enum notify_verdict v;

  trim_answer(body ? body : "", body && len < NOTIFY_ANSWER_KEEP ? len : NOTIFY_ANSWER_KEEP - 1,
              answer, sizeof(answer));
  if (status >= 200 && status < 300)
    v = NOTIFY_DELIVERED;
  else if (status == 408 || status == 429 || status >= 500)
    v = NOTIFY_RETRY;
  else
    v = NOTIFY_REFUSED; /* 4xx, and 3xx: redirects are not followed */
  snprintf(detail, detail_len, "HTTP %ld%s%s", status, answer[0] ? ": " : "", answer);
  return v;
}

static void
http_attempt(const struct notify_settings *s, const struct notify_target *t,
             const struct notify_message *m, const struct notifier *nf, const struct buf *body,
             struct attempt *a)
{
  CURL *e = curl_easy_init();
  struct curl_slist *h = NULL;
  struct resp *r = calloc(1, sizeof(*r));
  char errbuf[CURL_ERROR_SIZE];
  const char *url = nf->url ? nf->url(t) : t->url;
  curl_off_t ra = -1;
  CURLcode cc;
  rb_status rc;

  if (!e || !r) {
    a->cls = AC_RETRY;
    snprintf(a->detail, sizeof(a->detail), "%s",
             e ? "out of memory" : lazylib_why(LAZYLIB_CURL, "out of memory"));
    goto out;
  }
  notify_curl_common(e, s, errbuf);
  notify_curl_cancel(e, a);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "runbookd/" RUNBOOKD_VERSION);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  if (s->ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
  h = curl_slist_append(h, "Content-Type: application/json");
  if (h)
    h = curl_slist_append(h, "Accept: application/json");
  if (h)
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
  rc = h ? RB_OK : RB_ENOMEM;
  if (!rc && nf->headers)
    rc = nf->headers(s, t, m, body, &h);
  if (rc) {
    a->cls = AC_RETRY;
    snprintf(a->detail, sizeof(a->detail), "could not build the request headers");
    goto out;
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  cc = curl_easy_perform(e);
  if (cc != CURLE_OK) {
    notify_classify_curl(cc, a, errbuf);
    goto out;
  }
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
  if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra >= 0
      && (a->status == 429 || a->status == 503))
    a->retry_after_ms = ra > BACKOFF_CAP_MS / 1000 ? BACKOFF_CAP_MS : (long)ra * 1000;
  a->cls = (enum attempt_class)notify_http_answer(a->status, r->data, r->len, a->detail,
                                                  sizeof(a->detail));
out:
  for (struct curl_slist *l = h; l; l = l->next) /* signatures and tokens */
    explicit_bzero(l->data, strlen(l->data));
  curl_slist_free_all(h);
  if (e)
    curl_easy_cleanup(e);
  free(r);
}

/* Replaces every occurrence of secret in s (in place, NUL-terminated
 * within size bytes) by "[redacted]", left to right.  Where the mark makes
 * the text outgrow size, the end is cut; where the mark itself does not
 * fit, the text ends before the secret.  The search goes on after each
 * mark, so a secret that is part of "[redacted]" is replaced once. */
static void
redact(char *s, size_t size, const char *secret)
{
  static const char mark[] = "[redacted]";
  const size_t ml = sizeof(mark) - 1, sl = secret ? strlen(secret) : 0;
  char *p = s;

  if (sl < 4) /* shorter values would mangle ordinary words */
    return;
  while ((p = strstr(p, secret)) != NULL) {
    size_t at = (size_t)(p - s), tail = strlen(p + sl);
    if (at + ml >= size) {
      *p = '\0';
      return;
    }
    if (at + ml + tail >= size)
      tail = size - 1 - at - ml;
    memmove(p + ml, p + sl, tail);
    memcpy(p, mark, ml);
    p[ml + tail] = '\0';
    p += ml;
  }
}

void
notify_scrub(char *s, size_t size, const struct notify_settings *st, const struct notify_target *t)
{
  const char *q;

  redact(s, size, t->routing_key);
  redact(s, size, t->secret);
  redact(s, size, t->token);
  redact(s, size, st->smtp_password);
  if (t->url) {
    /* The path of a webhook URL is its credential (Slack's
     * /services/T../B../XXXX); so is any userinfo or query. */
    q = strstr(t->url, "://");
    q = q ? strchr(q + 3, '/') : NULL;
    if (q && strlen(q) > 1)
      redact(s, size, q);
    redact(s, size, t->url);
  }
}

/* scheme://host[:port] of a URL for log lines, without user info, path or
 * query (where credentials live). */
static void
url_origin(const char *url, char *out, size_t outlen)
{
  const char *p = url ? strstr(url, "://") : NULL;
  const char *host, *end, *at;

  if (!p) {
    snprintf(out, outlen, "-");
    return;
  }
  host = p + 3;
  end = host + strcspn(host, "/?#");
  at = memchr(host, '@', (size_t)(end - host));
  if (at)
    host = at + 1;
  snprintf(out, outlen, "%.*s%.*s", (int)(p + 3 - url), url, (int)(end - host), host);
}

static void
sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Waits ms, asking c every NOTIFY_CANCEL_POLL_MS; 1 when it said stop. */
static int
wait_or_cancel(long ms, struct cancel_check *c)
{
  int64_t end = rb_mono_ns() + (int64_t)ms * 1000000;

  if (!c || !c->fn) {
    sleep_ms(ms);
    return 0;
  }
  for (;;) {
    int64_t left = end - rb_mono_ns();
    if (notify_cancelled(c, 1))
      return 1;
    if (left <= 0)
      return 0;
    sleep_ms(left > (int64_t)NOTIFY_CANCEL_POLL_MS * 1000000 ? NOTIFY_CANCEL_POLL_MS
                                                             : (long)(left / 1000000) + 1);
  }
}

rb_status
notify_send(const struct notify_settings *s, const struct notify_target *t,
            const struct notify_message *m, struct notify_result *res)
{
  return notify_send_until(s, t, m, res, NULL, NULL);
}

rb_status
notify_send_until(const struct notify_settings *s, const struct notify_target *t,
                  const struct notify_message *m, struct notify_result *res,
                  int (*cancel)(void *arg), void *arg)
{
  struct cancel_check cc = { cancel, arg, 0, 0 };
  const struct notifier *nf;
  const char *err = NULL;
  struct attempt a;
  struct buf body;
  char where[256], num[16];
  long backoff;
  rb_status rc;

  memset(res, 0, sizeof(*res));
  if (!s || !t || !m || (unsigned)t->method >= NM_COUNT || (unsigned)m->event >= NE_EVENT_COUNT) {
    snprintf(res->detail, sizeof(res->detail), "no such notification method or event");
    return RB_EINVAL;
  }
  nf = backends[t->method];
  buf_init(&body, 1u << 20);
  rc = nf->check(s, t, m, &err);
  if (!rc)
    rc = nf->build(s, t, m, &body);
  if (rc) {
    snprintf(res->detail, sizeof(res->detail), "%s", err ? err : rb_strerror(rc));
    goto out;
  }
  url_origin(t->method == NM_EMAIL ? s->smtp_url : (nf->url ? nf->url(t) : t->url), where,
             sizeof(where));
  backoff = s->backoff_ms ? (long)s->backoff_ms : 500;
  rc = RB_EUNAVAIL;
  for (unsigned i = 0; i <= s->retries; i++) {
    long wait;
    memset(&a, 0, sizeof(a));
    a.retry_after_ms = -1;
    a.cancel = cancel ? &cc : NULL;
    if (nf->deliver)
      nf->deliver(s, t, m, &body, &a);
    else
      http_attempt(s, t, m, nf, &body, &a);
    notify_scrub(a.detail, sizeof(a.detail), s, t);
    res->attempts = i + 1;
    res->status = a.status;
    snprintf(res->detail, sizeof(res->detail), "%s", a.detail);
    if (a.cls == AC_OK) {
      res->ok = 1;
      rc = RB_OK;
      break;
    }
    if (notify_cancelled(a.cancel, 0)) /* aborted, or asked during the attempt */
      break;
    if (a.cls == AC_FINAL) {
      rc = RB_EINVAL;
      break;
    }
    if (i == s->retries)
      break;
    wait = a.retry_after_ms >= 0 && a.retry_after_ms > backoff ? a.retry_after_ms : backoff;
    if (wait > BACKOFF_CAP_MS)
      wait = BACKOFF_CAP_MS;
    snprintf(num, sizeof(num), "%u", i + 1);
    rblog(LOG_WARN, "notification will be retried", "method", nf->name, "to", where, "attempt", num,
          "error", res->detail, NULL);
    if (wait_or_cancel(wait, a.cancel))
      break;
    backoff = backoff * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : backoff * 2;
  }
  if (cc.hit && rc != RB_OK) {
    /* Stopped on request: not a failure of the receiver. */
    res->cancelled = 1;
    rc = RB_ECONFLICT;
    snprintf(num, sizeof(num), "%u", res->attempts);
    rblog(LOG_INFO, "notification cancelled", "method", nf->name, "to", where, "attempts", num,
          NULL);
    goto out;
  }
  if (rc) {
    snprintf(num, sizeof(num), "%u", res->attempts);
    rblog(LOG_WARN, "notification failed", "method", nf->name, "to", where, "attempts", num,
          "error", res->detail, NULL);
  }
out:
  if (body.data)
    explicit_bzero(body.data, body.len); /* PagerDuty's body holds the key */
  buf_free(&body);
  return rc;
}
