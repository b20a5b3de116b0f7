/*
 * notify_phone.c - phone calls through a paging provider's webhook.
 *
 * Providers (Twilio Studio flows, Opsgenie/Squadcast-style callouts, an
 * in-house gateway) differ, so runbookd posts one small JSON document the
 * provider's side turns into a call:
 *   {"to":"+4915112345678","message":"...","incident":"42",
 *    "dedup_key":"...","event":"trigger","severity":"critical",
 *    "delivery_id":"...","link":"..."}
 * message is meant to be read aloud by text-to-speech: plain words, no
 * brackets or label syntax, CamelCase alert names split into words, at
 * most MESSAGE_MAX bytes.  An optional bearer token authenticates us.
 */
#include "notify_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX 320

/* Appends title made speakable: a leading "[SEVERITY]" dropped, '/', '_',
 * '-', ':' and other symbols turned into spaces, "HighResponseTime" into
 * "High Response Time", runs of spaces collapsed. */
static void
speakable(struct buf *b, const char *title)
{
  const unsigned char *p = (const unsigned char *)(title ? title : "");
  int space = 1;
  unsigned char prev = 0;

  while (*p == ' ')
    p++;
  if (*p == '[') {
    const unsigned char *e = (const unsigned char *)strchr((const char *)p, ']');
    if (e)
      p = e + 1;
  }
  for (; *p; prev = *p, p++) {
    unsigned char c = *p;
    if (isalnum(c) || c == '.' || c == ',' || c >= 0x80) {
      if (!space && isupper(c) && islower(prev))
        buf_puts(b, " ");
      buf_append(b, p, 1);
      space = 0;
    } else if (!space) {
      buf_puts(b, " ");
      space = 1;
    }
  }
  while (b->len && b->data[b->len - 1] == ' ')
    b->data[--b->len] = '\0';
}

static const char *
said(enum notify_event e)
{
  switch (e) {
  case NE_ESCALATED:
    return "escalated";
  case NE_PROGRESS:
    return "still open";
  case NE_ACKNOWLEDGED:
    return "acknowledged";
  case NE_RESOLVED:
    return "resolved";
  default:
    return "triggered";
  }
}

rb_status
notify_build_phone(const struct notify_settings *s, const struct notify_target *t,
                   const struct notify_message *m, struct buf *out)
{
  struct buf msg;
  char id[24], link[1024], sev[32];
  rb_status rc;

  if (!t->to || !*t->to || (unsigned)m->event >= NE_EVENT_COUNT)
    return RB_EINVAL;
  buf_init(&msg, 0);
  snprintf(sev, sizeof(sev), "%s", m->severity && *m->severity ? m->severity : "an");
  sev[0] = (char)toupper((unsigned char)sev[0]); /* "Critical incident 42" */
  rc = buf_printf(&msg, "This is runbookd. %s incident %" PRId64 " %s: ", sev, m->incident_id,
                  said(m->event));
  if (!rc)
    speakable(&msg, m->title);
  if (!rc && m->event != NE_ACKNOWLEDGED && m->event != NE_RESOLVED)
    rc = buf_puts(&msg, ". Please acknowledge in runbookd.");
  else if (!rc)
    rc = buf_puts(&msg, ".");
  snprintf(id, sizeof(id), "%" PRId64, m->incident_id);
  if (!rc)
    rc = buf_puts(out, "{\"to\":");
  if (!rc)
    rc = notify_json_str(out, t->to, 0);
  if (!rc)
    rc = buf_puts(out, ",\"message\":");
  if (!rc)
    rc = notify_json_str(out, msg.data, MESSAGE_MAX);
  if (!rc)
    rc = buf_puts(out, ",\"incident\":");
  if (!rc)
    rc = notify_json_str(out, id, 0);
  if (!rc)
    rc = buf_puts(out, ",\"dedup_key\":");
  if (!rc)
    rc = notify_json_str(out, m->dedup_key, 0);
  if (!rc)
    rc = buf_printf(out, ",\"event\":\"%s\",\"severity\":", notify_event_name(m->event));
  if (!rc)
    rc = notify_json_str(out, m->severity, 0);
  if (!rc)
    rc = buf_puts(out, ",\"delivery_id\":");
  if (!rc)
    rc = notify_json_str(out, m->delivery_id, 0);
  notify_incident_link(s, m->incident_id, 1, link, sizeof(link));
  if (!rc && link[0]) {
    rc = buf_puts(out, ",\"link\":");
    if (!rc)
      rc = notify_json_str(out, link, 0);
  }
  if (!rc)
    rc = buf_puts(out, "}");
  buf_free(&msg);
  return rc;
}

/* E.164: '+', then 8 to 15 digits, the first not 0. */
static int
e164(const char *s)
{
  size_t n;
  if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
    return 0;
  n = strspn(s + 1, "0123456789");
  return s[1 + n] == '\0' && n >= 8 && n <= 15;
}

static rb_status
check(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, const char **err)
{
  if (!t->url || !*t->url) {
    *err = "phone target has no provider URL";
    return RB_EINVAL;
  }
  if (!e164(t->to)) {
    *err = "phone target's number is not E.164 (+ and 8 to 15 digits)";
    return RB_EINVAL;
  }
  return RB_OK;
}

static rb_status
build(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, struct buf *out)
{
  return notify_build_phone(s, t, m, out);
}

static rb_status
headers(const struct notify_settings *s, const struct notify_target *t,
        const struct notify_message *m, const struct buf *body, struct curl_slist **h)
{
  return notify_header_bearer(h, t->token);
}

const struct notifier notifier_phone = {
  .name = "phone",
  .check = check,
  .build = build,
  .headers = headers,
};
