/*
 * notify_email.c - email over SMTP with libcurl.
 *
 * smtp:// URLs upgrade with STARTTLS, required unless smtp_require_tls is
 * 0 (and required anyway when a password is configured, so credentials
 * never cross the network in clear); smtps:// is TLS from the start.  The
 * message is RFC 5322 plain text in UTF-8: Date, From, To, Subject
 * (RFC 2047-encoded when it is not ASCII), a Message-ID made from the
 * delivery id (a re-send after a crash has the same one, so mail systems
 * can drop the duplicate) and References to one id per incident, so mail
 * clients thread every message about an incident together.
 *
 * SMTP reverses HTTP's classes: 4xx replies are transient and retried, 5xx
 * are permanent refusals.
 */
#include "notify_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 900 /* RFC 5322 allows 998 */

/* The address inside "Name <addr>", or s itself, into out. */
static void
addr_spec(const char *s, char *out, size_t outlen)
{
  const char *lt = s ? strchr(s, '<') : NULL;
  const char *gt = lt ? strchr(lt, '>') : NULL;

  if (lt && gt)
    snprintf(out, outlen, "%.*s", (int)(gt - lt - 1), lt + 1);
  else
    snprintf(out, outlen, "%s", s ? s : "");
}

/* A plausible address: one '@', something either side, no spaces, no
 * line breaks, no angle brackets. */
static int
addr_ok(const char *a)
{
  const char *at = strchr(a, '@');
  return at && at != a && at[1] && !strchr(at + 1, '@') && !strpbrk(a, " \t\r\n<>\",;");
}

/* Appends a header value with line breaks turned into spaces. */
static rb_status
header_value(struct buf *b, const char *v)
{
  rb_status rc = RB_OK;
  for (; v && *v && !rc; v++)
    rc = buf_append(b, *v == '\r' || *v == '\n' ? " " : v, 1);
  return rc;
}

static int
is_ascii(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
      return 0;
  return 1;
}

/* Subject: as-is when ASCII, else RFC 2047 "=?UTF-8?B?...?=" words of at
 * most 45 raw bytes (cut on UTF-8 boundaries), folded onto lines. */
static rb_status
subject(struct buf *b, const char *s)
{
  struct buf clean;
  rb_status rc;
  size_t i = 0;

  buf_init(&clean, 0);
  rc = header_value(&clean, s);
  if (!rc && clean.len > LINE_MAX_BYTES - 20) {
    size_t n = LINE_MAX_BYTES - 20;
    while (n > 0 && ((unsigned char)clean.data[n] & 0xc0) == 0x80)
      n--;
    clean.len = n;
    clean.data[n] = '\0';
  }
  if (rc || is_ascii(clean.data ? clean.data : "")) {
    if (!rc)
      rc = buf_printf(b, "Subject: %s\r\n", clean.data ? clean.data : "");
    buf_free(&clean);
    return rc;
  }
  rc = buf_puts(b, "Subject:");
  while (!rc && i < clean.len) {
    unsigned char enc[64];
    size_t n = clean.len - i > 45 ? 45 : clean.len - i;
    while (i + n < clean.len && n > 0 && ((unsigned char)clean.data[i + n] & 0xc0) == 0x80)
      n--;
    EVP_EncodeBlock(enc, (const unsigned char *)clean.data + i, (int)n);
    rc = buf_printf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : " ", (const char *)enc);
    i += n;
  }
  if (!rc)
    rc = buf_puts(b, "\r\n");
  buf_free(&clean);
  return rc;
}

/* Appends text as body lines: CRLF ends, lone CRs dropped, lines longer
 * than LINE_MAX_BYTES broken (on a UTF-8 boundary). */
static rb_status
body_text(struct buf *b, const char *text)
{
  size_t col = 0;
  rb_status rc = RB_OK;

  for (const char *p = text ? text : ""; *p && !rc; p++) {
    if (*p == '\r')
      continue;
    if (*p == '\n') {
      rc = buf_puts(b, "\r\n");
      col = 0;
      continue;
    }
    if (col >= LINE_MAX_BYTES && ((unsigned char)*p & 0xc0) != 0x80) {
      rc = buf_puts(b, "\r\n");
      col = 0;
    }
    if (!rc)
      rc = buf_append(b, p, 1);
    col++;
  }
  return rc;
}

static rb_status
body_line(struct buf *b, const char *name, const char *value)
{
  rb_status rc;
  if (!value || !*value)
    return RB_OK;
  rc = buf_printf(b, "%-10s ", name);
  if (!rc)
    rc = body_text(b, value);
  return rc ? rc : buf_puts(b, "\r\n");
}

static void
rfc5322_date(int64_t ms, char *out, size_t outlen)
{
  static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char *const months[]
      = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  gmtime_r(&t, &tm);
  snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A Message-ID local part from any string: letters, digits and . - _ kept. */
static void
id_part(const char *in, char *out, size_t outlen)
{
  size_t n = 0;
  for (; in && *in && n + 1 < outlen; in++) {
    char c = *in;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
        || c == '-' || c == '_')
      out[n++] = c;
  }
  out[n] = '\0';
}

rb_status
notify_build_email(const struct notify_settings *s, const struct notify_target *t,
                   const struct notify_message *m, struct buf *out)
{
  char from[320], date[64], domain[256], did[128], link[1024];
  const char *at;
  cJSON *labels = NULL;
  const cJSON *it;
  const char *end = NULL;
  rb_status rc;

  if (!t->to || !addr_ok(t->to) || !s->smtp_from || (unsigned)m->event >= NE_EVENT_COUNT)
    return RB_EINVAL;
  addr_spec(s->smtp_from, from, sizeof(from));
  if (!addr_ok(from))
    return RB_EINVAL;
  at = strchr(from, '@');
  snprintf(domain, sizeof(domain), "%s", at + 1);
  rfc5322_date(m->at_ms ? m->at_ms : (int64_t)time(NULL) * 1000, date, sizeof(date));
  id_part(m->delivery_id, did, sizeof(did));
  if (!did[0])
    snprintf(did, sizeof(did), "%" PRId64 ".%s.%" PRId64, m->incident_id,
             notify_event_name(m->event), m->at_ms);

  rc = buf_printf(out, "Date: %s\r\nFrom: ", date);
  if (!rc)
    rc = strchr(s->smtp_from, '<') ? header_value(out, s->smtp_from)
                                   : buf_printf(out, "runbookd <%s>", from);
  if (!rc)
    rc = buf_printf(out, "\r\nTo: <%s>\r\n", t->to);
  if (!rc)
    rc = buf_printf(out,
                    "Message-ID: <runbookd.%s@%s>\r\n"
                    "References: <runbookd.incident.%" PRId64 "@%s>\r\n",
                    did, domain, m->incident_id, domain);
  if (!rc && m->event != NE_TRIGGER)
    rc = buf_printf(out, "In-Reply-To: <runbookd.incident.%" PRId64 "@%s>\r\n", m->incident_id,
                    domain);
  if (!rc) {
    struct buf subj;
    buf_init(&subj, 0);
    rc = buf_printf(&subj, "[runbookd] %s: %s", notify_event_title(m->event),
                    m->title && *m->title ? m->title : "incident");
    if (!rc)
      rc = subject(out, subj.data);
    buf_free(&subj);
  }
  if (!rc)
    rc = buf_printf(out,
                    "MIME-Version: 1.0\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n"
                    "Auto-Submitted: auto-generated\r\n"
                    "X-Runbookd-Incident: %" PRId64 "\r\n"
                    "X-Runbookd-Event: %s\r\n"
                    "\r\n",
                    m->incident_id, notify_event_name(m->event));

  /* body */
  if (!rc)
    rc = buf_printf(out, "%s: incident %" PRId64 "\r\n\r\n", notify_event_title(m->event),
                    m->incident_id);
  if (!rc)
    rc = body_line(out, "Title:", m->title);
  if (!rc)
    rc = body_line(out, "Severity:", m->severity);
  if (!rc)
    rc = body_line(out, "State:", m->state);
  if (!rc)
    rc = body_line(out, "Level:", m->level);
  if (!rc)
    rc = body_line(out, "Paged:", m->recipient);
  if (!rc)
    rc = body_line(out, "Reason:", m->reason);
  if (!rc && m->summary && *m->summary) {
    rc = buf_puts(out, "\r\n");
    if (!rc)
      rc = body_text(out, m->summary);
    if (!rc)
      rc = buf_puts(out, "\r\n");
  }
  if (m->labels_json)
    labels = cJSON_ParseWithLengthOpts(m->labels_json, strlen(m->labels_json) + 1, &end, 1);
  if (labels && !cJSON_IsObject(labels)) {
    cJSON_Delete(labels);
    labels = NULL;
  }
  if (!rc && labels && labels->child)
    rc = buf_puts(out, "\r\nLabels:\r\n");
  cJSON_ArrayForEach(it, labels)
  {
    if (rc || !cJSON_IsString(it) || !it->string)
      continue;
    rc = buf_puts(out, "  ");
    if (!rc)
      rc = body_text(out, it->string);
    if (!rc)
      rc = buf_puts(out, "=");
    if (!rc)
      rc = body_text(out, it->valuestring);
    if (!rc)
      rc = buf_puts(out, "\r\n");
  }
  cJSON_Delete(labels);
  notify_incident_link(s, m->incident_id, 0, link, sizeof(link));
  if (!rc && link[0]) {
    rc = buf_puts(out, "\r\n");
    if (!rc && m->event != NE_ACKNOWLEDGED && m->event != NE_RESOLVED) {
      char ack[1024];
      rc = body_line(out, "Ack:", notify_incident_link(s, m->incident_id, 1, ack, sizeof(ack)));
    }
    if (!rc)
      rc = body_line(out, "Incident:", link);
  }
  if (!rc)
    rc = buf_puts(out, "\r\n-- \r\nrunbookd");
  if (!rc && m->delivery_id && *m->delivery_id) {
    rc = buf_puts(out, ", delivery ");
    if (!rc)
      rc = body_text(out, m->delivery_id);
  }
  return rc ? rc : buf_puts(out, "\r\n");
}

static rb_status
check(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, const char **err)
{
  char from[320];

  if (!s->smtp_url
      || (strncmp(s->smtp_url, "smtp://", 7) != 0 && strncmp(s->smtp_url, "smtps://", 8) != 0)) {
    *err = "email needs an smtp:// or smtps:// server URL";
    return RB_EINVAL;
  }
  if (!t->to || !addr_ok(t->to)) {
    *err = "email target's address is not valid";
    return RB_EINVAL;
  }
  addr_spec(s->smtp_from, from, sizeof(from));
  if (!s->smtp_from || !addr_ok(from)) {
    *err = "email needs a valid sender (smtp_from)";
    return RB_EINVAL;
  }
  return RB_OK;
}

static rb_status
build(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, struct buf *out)
{
  return notify_build_email(s, t, m, out);
}

struct upload {
  const char *p;
  size_t left;
};

static size_t
on_read(char *dst, size_t size, size_t nmemb, void *ud)
{
  struct upload *u = ud;
  size_t n = size * nmemb;

  if (n > u->left)
    n = u->left;
  memcpy(dst, u->p, n);
  u->p += n;
  u->left -= n;
  return n;
}

void
notify_smtp_reply(const char *line, size_t len, char *last)
{
  size_t n = len;

  while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
    n--;
  /* A reply line is three digits, then a space or '-' (RFC 5321 4.2). */
  if (n < 4 || (line[0] != '4' && line[0] != '5') || line[1] < '0' || line[1] > '9'
      || line[2] < '0' || line[2] > '9' || (line[3] != ' ' && line[3] != '-'))
    return;
  if (n > NOTIFY_SMTP_REPLY_MAX - 1)
    n = NOTIFY_SMTP_REPLY_MAX - 1;
  memcpy(last, line, n);
  last[n] = '\0';
}

/* Keeps the server's last 4xx/5xx reply line (only what the server says:
 * our side, with AUTH, is never looked at). */
static int
on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *ud)
{
  if (type == CURLINFO_HEADER_IN)
    notify_smtp_reply(data, size, ud);
  return 0;
}

static void
deliver(const struct notify_settings *s, const struct notify_target *t,
        const struct notify_message *m, const struct buf *body, struct attempt *a)
{
  CURL *e = curl_easy_init();
  struct curl_slist *rcpt = NULL;
  struct upload u = { body->data, body->len };
  char errbuf[CURL_ERROR_SIZE], from[330], to[330], addr[320];
  char reply[NOTIFY_SMTP_REPLY_MAX] = "";
  long tls;
  CURLcode cc;

  if (!e) {
    a->cls = AC_RETRY;
    snprintf(a->detail, sizeof(a->detail), "out of memory");
    return;
  }
  addr_spec(s->smtp_from, addr, sizeof(addr));
  snprintf(from, sizeof(from), "<%s>", addr);
  snprintf(to, sizeof(to), "<%s>", t->to);
  rcpt = curl_slist_append(NULL, to);
  notify_curl_common(e, s, errbuf);
  notify_curl_cancel(e, a);
  curl_easy_setopt(e, CURLOPT_URL, s->smtp_url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  tls = s->smtp_require_tls || (s->smtp_password && *s->smtp_password) ? CURLUSESSL_ALL
                                                                       : CURLUSESSL_TRY;
  curl_easy_setopt(e, CURLOPT_USE_SSL, tls);
  if (s->smtp_ca_file || s->ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, s->smtp_ca_file ? s->smtp_ca_file : s->ca_file);
  if (s->smtp_username && *s->smtp_username)
    curl_easy_setopt(e, CURLOPT_USERNAME, s->smtp_username);
  if (s->smtp_password && *s->smtp_password)
    curl_easy_setopt(e, CURLOPT_PASSWORD, s->smtp_password);
  curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(e, CURLOPT_READDATA, &u);
  curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt(e, CURLOPT_DEBUGDATA, reply);
  curl_easy_setopt(e, CURLOPT_VERBOSE, 1L); /* feeds on_debug; nothing is printed */
  cc = rcpt ? curl_easy_perform(e) : CURLE_OUT_OF_MEMORY;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
  if (cc == CURLE_OK) {
    a->cls = AC_OK;
    snprintf(a->detail, sizeof(a->detail), "SMTP %ld: accepted", a->status);
  } else {
    notify_classify_curl(cc, a, errbuf);
    if (a->cls == AC_RETRY && a->status >= 500 && a->status < 600)
      a->cls = AC_FINAL; /* a permanent refusal: bad recipient, policy */
    if (a->status >= 400) {
      char d[sizeof(a->detail)];
      if (reply[0])
        snprintf(d, sizeof(d), "SMTP %s (%s)", reply, a->detail);
      else
        snprintf(d, sizeof(d), "SMTP %ld: %s", a->status, a->detail);
      snprintf(a->detail, sizeof(a->detail), "%s", d);
    }
  }
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(e);
}

const struct notifier notifier_email = {
  .name = "email",
  .check = check,
  .build = build,
  .deliver = deliver,
};
