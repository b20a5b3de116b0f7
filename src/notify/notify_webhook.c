/*
 * notify_webhook.c - runbookd's own webhook, signed with HMAC-SHA256.
 *
 * Each attempt carries
 *   X-Runbookd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *   X-Runbookd-Delivery:  <delivery_id>   (the same on every retry and re-send)
 *   X-Runbookd-Event:     trigger|escalated|progress|acknowledged|resolved
 * so a receiver can reject forgeries (the MAC), replays (t too old) and
 * duplicates (the delivery id).  The timestamp is signed with the body,
 * and signed afresh for each attempt, so a retry is never stale.
 */
#include "notify_int.h"
#include "rbtime.h"

#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* hex of HMAC-SHA256(secret, "<t>.<body>") into hex (65 bytes). */
static int
mac_hex(const char *secret, int64_t t, const char *body, size_t len, char *hex)
{
  static const char digits[] = "0123456789abcdef";
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  OSSL_PARAM params[2];
  unsigned char md[32];
  char ts[24];
  size_t mdlen = 0;
  int ok = 0;

  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
  params[1] = OSSL_PARAM_construct_end();
  snprintf(ts, sizeof(ts), "%" PRId64 ".", t);
  if (ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params)
      && EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts))
      && EVP_MAC_update(ctx, (const unsigned char *)body, len)
      && EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) && mdlen == sizeof(md)) {
    for (size_t i = 0; i < mdlen; i++) {
      hex[2 * i] = digits[md[i] >> 4];
      hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    ok = 1;
  }
  OPENSSL_cleanse(md, sizeof(md));
  EVP_MAC_CTX_free(ctx); /* cleanses the key schedule */
  EVP_MAC_free(mac);
  return ok;
}

void
notify_sign(const char *secret, int64_t unix_s, const char *body, size_t len, char *out,
            size_t outlen)
{
  char hex[65];

  if (!out || outlen == 0)
    return;
  out[0] = '\0';
  if (!secret || outlen < NOTIFY_SIG_MAX || !mac_hex(secret, unix_s, body ? body : "", len, hex))
    return;
  snprintf(out, outlen, "t=%" PRId64 ",v1=%s", unix_s, hex);
  OPENSSL_cleanse(hex, sizeof(hex));
}

int
notify_verify(const char *secret, const char *header, const char *body, size_t len, int64_t now_s,
              int64_t tolerance_s)
{
  const char *p;
  char expect[65], *end;
  int64_t t = 0;
  int have_t = 0, ok = 0;

  if (!secret || !header)
    return 0;
  /* Find t= first: the MAC depends on it, whatever the order. */
  for (p = header; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    while (*p == ' ')
      p++;
    if (strncmp(p, "t=", 2) == 0) {
      long long v = strtoll(p + 2, &end, 10);
      if (end == p + 2 || (*end && *end != ',') || have_t)
        return 0;
      t = (int64_t)v;
      have_t = 1;
    }
  }
  if (!have_t || t <= 0 || now_s - t > tolerance_s || t - now_s > tolerance_s)
    return 0;
  if (!mac_hex(secret, t, body ? body : "", len, expect))
    return 0;
  for (p = header; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    while (*p == ' ')
      p++;
    /* Every v1 is checked (several may be sent while a key rotates). */
    if (strncmp(p, "v1=", 3) == 0 && strcspn(p + 3, ",") == 64)
      ok |= CRYPTO_memcmp(p + 3, expect, 64) == 0;
  }
  OPENSSL_cleanse(expect, sizeof(expect));
  return ok;
}

static rb_status
member(struct buf *b, const char *name, const char *v)
{
  rb_status rc = buf_printf(b, ",\"%s\":", name);
  return rc ? rc : notify_json_str(b, v, 0);
}

rb_status
notify_build_webhook(const struct notify_settings *s, const struct notify_message *m,
                     struct buf *out)
{
  char ts[40], id[24], link[1024];
  rb_status rc;

  if ((unsigned)m->event >= NE_EVENT_COUNT)
    return RB_EINVAL;
  snprintf(id, sizeof(id), "%" PRId64, m->incident_id);
  rc = buf_printf(out, "{\"version\":\"1\",\"event\":\"%s\"", notify_event_name(m->event));
  if (!rc)
    rc = member(out, "delivery_id", m->delivery_id);
  if (!rc)
    rc = member(out, "dedup_key", m->dedup_key);
  if (!rc)
    rc = member(out, "at", notify_timestamp(m, ts, sizeof(ts)));
  if (!rc)
    rc = buf_puts(out, ",\"incident\":{\"id\":");
  if (!rc)
    rc = notify_json_str(out, id, 0);
  if (!rc)
    rc = member(out, "title", m->title);
  if (!rc)
    rc = member(out, "summary", m->summary);
  if (!rc)
    rc = member(out, "severity", m->severity);
  if (!rc)
    rc = member(out, "state", m->state);
  if (!rc)
    rc = buf_puts(out, "}");
  if (!rc)
    rc = member(out, "severity", m->severity);
  if (!rc)
    rc = member(out, "state", m->state);
  if (!rc)
    rc = buf_puts(out, ",\"page\":{\"level\":");
  if (!rc)
    rc = notify_json_str(out, m->level, 0);
  if (!rc)
    rc = member(out, "recipient", m->recipient);
  if (!rc)
    rc = member(out, "reason", m->reason);
  if (!rc)
    rc = buf_puts(out, "},\"labels\":");
  if (!rc)
    rc = notify_json_labels(out, m->labels_json);
  if (!rc)
    rc = buf_puts(out, ",\"links\":{");
  notify_incident_link(s, m->incident_id, 0, link, sizeof(link));
  if (!rc && link[0]) {
    rc = buf_puts(out, "\"incident\":");
    if (!rc)
      rc = notify_json_str(out, link, 0);
    notify_incident_link(s, m->incident_id, 1, link, sizeof(link));
    if (!rc)
      rc = member(out, "ack", link);
    /* The API the receiver may call back (POST, with a token). */
    if (!rc) {
      size_t n = strlen(s->external_url);
      while (n > 0 && s->external_url[n - 1] == '/')
        n--;
      snprintf(link, sizeof(link), "%.*s/api/v1/incidents/%" PRId64, (int)n, s->external_url,
               m->incident_id);
      rc = member(out, "api", link);
    }
  }
  return rc ? rc : buf_puts(out, "}}");
}

static rb_status
check(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, const char **err)
{
  if (!t->url || !*t->url) {
    *err = "webhook target has no URL";
    return RB_EINVAL;
  }
  if (!t->secret || !*t->secret) {
    *err = "webhook target has no signing secret";
    return RB_EINVAL;
  }
  return RB_OK;
}

static rb_status
build(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, struct buf *out)
{
  return notify_build_webhook(s, m, out);
}

static rb_status
add(struct curl_slist **h, const char *line)
{
  struct curl_slist *n = curl_slist_append(*h, line);
  if (!n)
    return RB_ENOMEM;
  *h = n;
  return RB_OK;
}

static rb_status
headers(const struct notify_settings *s, const struct notify_target *t,
        const struct notify_message *m, const struct buf *body, struct curl_slist **h)
{
  char sig[NOTIFY_SIG_MAX], line[NOTIFY_SIG_MAX + 64];
  rb_status rc;

  notify_sign(t->secret, rb_wall_ms() / 1000, body->data, body->len, sig, sizeof(sig));
  snprintf(line, sizeof(line), "X-Runbookd-Signature: %s", sig);
  rc = add(h, line);
  OPENSSL_cleanse(line, sizeof(line));
  OPENSSL_cleanse(sig, sizeof(sig));
  if (!rc && m->delivery_id && !strpbrk(m->delivery_id, "\r\n")) {
    snprintf(line, sizeof(line), "X-Runbookd-Delivery: %.100s", m->delivery_id);
    rc = add(h, line);
  }
  if (!rc) {
    snprintf(line, sizeof(line), "X-Runbookd-Event: %s", notify_event_name(m->event));
    rc = add(h, line);
  }
  if (!rc)
    rc = notify_header_bearer(h, t->token);
  return rc;
}

const struct notifier notifier_webhook = {
  .name = "webhook",
  .check = check,
  .build = build,
  .headers = headers,
};
