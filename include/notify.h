/*
 * notify.h - notifiers: how runbookd reaches people.  One backend per
 * contact method (Slack incoming webhook, PagerDuty Events API v2, a
 * generic webhook signed with HMAC-SHA256, email over SMTP with STARTTLS,
 * phone through a paging provider's webhook), behind one call.
 *
 * notify_send() makes one delivery with the retry policy in one place:
 * timeouts on every attempt, connection errors, 429 and 5xx retried with
 * exponential backoff (Retry-After honoured, capped), 4xx final.  It never
 * logs a secret.  The payload builders are pure so tests can check the
 * exact bytes.  The escalation module chooses methods, falls back to the
 * next one, and records every attempt on the timeline.
 */
#ifndef RUNBOOKD_NOTIFY_H
#define RUNBOOKD_NOTIFY_H

#include "rb.h"

struct buf;

enum notify_method { NM_PHONE = 0, NM_SLACK, NM_EMAIL, NM_PAGERDUTY, NM_WEBHOOK, NM_COUNT };

const char *notify_method_name(enum notify_method m);
/* -1 when unknown. */
int notify_method_parse(const char *s);

/* One way to reach one contact.  Secrets are loaded (not file names). */
struct notify_target {
  enum notify_method method;
  char *url;         /* slack, webhook, phone: the endpoint; pagerduty: the
                        Events API URL (default
                        https://events.pagerduty.com/v2/enqueue) */
  char *routing_key; /* pagerduty integration key */
  char *secret;      /* webhook: the HMAC-SHA256 key */
  char *to;          /* email: address; phone: number (E.164) */
  char *token;       /* phone, webhook: optional bearer token, sent as
                        "Authorization: Bearer <token>" */
};

/* Global settings of the notifiers (from the configuration). */
struct notify_settings {
  unsigned timeout_s;   /* per attempt (default 10) */
  unsigned retries;     /* extra attempts for 429/5xx/no answer (default 3) */
  unsigned backoff_ms;  /* first backoff (default 500), doubles, capped at 30 s */
  const char *smtp_url; /* smtp://host:587 or smtps://host:465 */
  const char *smtp_from;
  const char *smtp_username;
  const char *smtp_password;
  int smtp_require_tls;     /* STARTTLS required on smtp:// (default 1; also
                               required whenever smtp_password is set) */
  const char *smtp_ca_file; /* NULL: ca_file, then the system CAs */
  const char *ca_file;      /* for https endpoints, NULL: system CAs */
  const char *external_url; /* runbookd's own URL, for links */
};

/* Fills s with the defaults above (10 s, 3 retries, 500 ms, STARTTLS
 * required); the strings stay NULL.  notify_send() also reads a zero
 * timeout_s or backoff_ms as the default. */
void notify_settings_defaults(struct notify_settings *s);

enum notify_event {
  NE_TRIGGER = 0, /* first page of a level */
  NE_ESCALATED,   /* the next level is paged */
  NE_PROGRESS,    /* progress update while open */
  NE_ACKNOWLEDGED,
  NE_RESOLVED,
  NE_EVENT_COUNT
};

const char *notify_event_name(enum notify_event e);

struct notify_message {
  enum notify_event event;
  int64_t incident_id;
  const char *dedup_key;   /* stable per incident: "runbookd-<fingerprint>-<id>" */
  const char *delivery_id; /* unique per page; the same on a re-send after a crash */
  const char *title;       /* e.g. "[CRITICAL] HighResponseTime ran-optimization/api-gateway" */
  const char *summary;
  const char *severity;    /* emergency..low */
  const char *state;       /* open, acked, resolved */
  const char *level;       /* "L2 support" */
  const char *recipient;   /* contact name */
  const char *reason;      /* why this page (escalation, remediation failed, ...) */
  const char *labels_json; /* the alert's labels as a JSON object */
  int64_t at_ms;           /* wall time of the page */
};

struct notify_result {
  int ok;
  long status; /* last HTTP status / SMTP code, 0 when none */
  unsigned attempts;
  int cancelled;    /* notify_send_until(): stopped because cancel said so */
  char detail[512]; /* what went wrong, or the provider's answer */
};

/* Sends m to t.  RB_OK when delivered (res->ok), RB_EUNAVAIL when it could
 * not be after the retries (no answer, timeouts, 429, 5xx; SMTP 4xx),
 * RB_EINVAL when the receiver refused it (HTTP 4xx other than 408/429, SMTP
 * 5xx) or the target cannot work (no URL, bad address, no STARTTLS offered
 * when it is required); the other statuses only for our own failures
 * (RB_ENOMEM).  res is always filled: attempts made, the last status, and
 * in detail the reason or the receiver's answer (trimmed, secrets
 * replaced by "[redacted]").  The webhook signature is made afresh for each
 * attempt.  Thread-safe; blocks at most about (retries+1) * timeout +
 * backoffs (each backoff at most 30 s, Retry-After included). */
rb_status notify_send(const struct notify_settings *s, const struct notify_target *t,
                      const struct notify_message *m, struct notify_result *res);

/* notify_send(), stopping early when cancel(arg) returns non-zero: it is
 * asked before every retry, every NOTIFY_CANCEL_POLL_MS of a backoff wait,
 * and during an attempt from libcurl's progress callback (at most every
 * NOTIFY_CANCEL_POLL_MS; libcurl calls it about once a second while a
 * receiver is silent), which aborts the attempt; an attempt already
 * answered 2xx counts as delivered.  Cancelled: RB_ECONFLICT with
 * res->cancelled set, res->attempts the attempts made and the last answer
 * kept.  cancel NULL: notify_send().  cancel runs on the calling thread and
 * may block briefly (a store read). */
#define NOTIFY_CANCEL_POLL_MS 200
rb_status notify_send_until(const struct notify_settings *s, const struct notify_target *t,
                            const struct notify_message *m, struct notify_result *res,
                            int (*cancel)(void *arg), void *arg);

/* Payload builders (exposed for tests): pure, appending to out; RB_EINVAL
 * when the target lacks what the method needs.  Slack: text + blocks with
 * an Acknowledge and an Open button to the web page; PagerDuty: an Events
 * API v2 event (trigger for trigger/escalated/progress); webhook: runbookd's
 * own JSON; email: a whole RFC 5322 message with CRLF line ends; phone:
 * {to, message, incident, dedup_key, ...} with a short speakable message. */
rb_status notify_build_slack(const struct notify_settings *s, const struct notify_message *m,
                             struct buf *out);
rb_status notify_build_pagerduty(const struct notify_settings *s, const struct notify_target *t,
                                 const struct notify_message *m, struct buf *out);
rb_status notify_build_webhook(const struct notify_settings *s, const struct notify_message *m,
                               struct buf *out);
rb_status notify_build_email(const struct notify_settings *s, const struct notify_target *t,
                             const struct notify_message *m, struct buf *out);
rb_status notify_build_phone(const struct notify_settings *s, const struct notify_target *t,
                             const struct notify_message *m, struct buf *out);
/* PagerDuty's severity for one of ours: emergency and critical ->
 * "critical", high -> "error", medium -> "warning", low -> "info"; anything
 * else -> "warning" (what an unknown severity normalises to).  Static. */
const char *notify_pagerduty_severity(const char *severity);

/* Room for a signature header value, NUL included. */
#define NOTIFY_SIG_MAX 96

/* "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>" for the
 * X-Runbookd-Signature header; receivers reject a bad signature, and a
 * timestamp too old (replay).  out gets "" when secret is NULL or outlen is
 * under NOTIFY_SIG_MAX. */
void notify_sign(const char *secret, int64_t unix_s, const char *body, size_t len, char *out,
                 size_t outlen);
/* Checks a signature header against body at time now_s: 1 when one of its
 * v1= values is the HMAC of "<t>.<body>" (compared in constant time) and t
 * is within tolerance_s of now_s (either way), else 0. */
int notify_verify(const char *secret, const char *header, const char *body, size_t len,
                  int64_t now_s, int64_t tolerance_s);

/* ---- what notify_send reads from receivers (exposed for tests and
 * fuzzing; pure) ---- */

/* Bytes of a receiver's HTTP answer that are kept and read. */
#define NOTIFY_ANSWER_KEEP 4096
/* Room for the last SMTP error reply line, NUL included. */
#define NOTIFY_SMTP_REPLY_MAX 201

enum notify_verdict {
  NOTIFY_DELIVERED = 0, /* 2xx */
  NOTIFY_RETRY,         /* transient: 408, 429, 5xx */
  NOTIFY_REFUSED        /* other 4xx, and 3xx (redirects are not followed) */
};

/* Classifies a receiver's HTTP answer by its status, and writes into
 * detail "HTTP <status>: <answer>" where <answer> is the body on one line:
 * at most its first NOTIFY_ANSWER_KEEP - 1 bytes, up to a NUL, whitespace
 * runs collapsed, control bytes dropped, about 400 bytes at most (cut with
 * "...").  body holds len bytes, not NUL-terminated; NULL when empty.  The
 * detail still holds whatever secret the receiver echoed: notify_scrub()
 * it before it goes anywhere. */
enum notify_verdict notify_http_answer(long status, const char *body, size_t len, char *detail,
                                       size_t detail_len);

/* Keeps an SMTP server's 4xx/5xx reply line: line is one line the server
 * sent (len bytes as libcurl's debug callback hands them, not
 * NUL-terminated); when it is an error reply, its first 200 bytes without
 * the line end go into last (NOTIFY_SMTP_REPLY_MAX bytes); any other line
 * leaves last as it is. */
void notify_smtp_reply(const char *line, size_t len, char *last);

/* Replaces in text (NUL-terminated within size bytes) every occurrence of
 * t's routing key, signing secret and token, of s's SMTP password, and of
 * t's URL and its path, by "[redacted]"; values under 4 bytes are left
 * alone (they would mangle ordinary words).  When the text grows past
 * size, its end is cut. */
void notify_scrub(char *text, size_t size, const struct notify_settings *s,
                  const struct notify_target *t);

/* Frees the strings of t (wiping the secrets) and zeroes it; NULL is fine. */
void notify_target_clear(struct notify_target *t);

#endif
