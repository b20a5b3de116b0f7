/*
 * notify_int.h - what the notifier backends share inside src/notify; not
 * part of the public interface (that is include/notify.h).
 *
 * Each backend (notify_slack.c, notify_pagerduty.c, notify_webhook.c,
 * notify_email.c, notify_phone.c) fills one struct notifier; notify.c holds
 * the table, the HTTP transport and the retry policy.
 */
#ifndef RUNBOOKD_NOTIFY_INT_H
#define RUNBOOKD_NOTIFY_INT_H

#include "buf.h"
#include "notify.h"

#include <curl/curl.h>

/* The outcome of one attempt, classified by the transport. */
enum attempt_class {
  AC_OK = NOTIFY_DELIVERED, /* delivered */
  AC_RETRY = NOTIFY_RETRY,  /* transient: no answer, timeout, 429, 5xx (SMTP 4xx) */
  AC_FINAL = NOTIFY_REFUSED /* refused (HTTP 4xx, SMTP 5xx) or misconfigured: do not retry */
};

/* notify_send_until()'s cancel check, asked at most every
 * NOTIFY_CANCEL_POLL_MS (see notify_curl_cancel). */
struct cancel_check {
  int (*fn)(void *arg);
  void *arg;
  int64_t next_ns; /* monotonic time of the next question */
  int hit;         /* fn said stop */
};

struct attempt {
  enum attempt_class cls;
  long status;         /* HTTP status or last SMTP reply code, 0 when none */
  long retry_after_ms; /* from Retry-After, -1 when absent */
  char detail[512];    /* what happened, secrets scrubbed by the caller */
  struct cancel_check *cancel; /* NULL: the attempt runs to its end */
};

struct notifier {
  const char *name;
  /* Checks the target before any attempt; a static message through err. */
  rb_status (*check)(const struct notify_settings *s, const struct notify_target *t,
                     const struct notify_message *m, const char **err);
  /* Builds the body (the same bytes on every attempt). */
  rb_status (*build)(const struct notify_settings *s, const struct notify_target *t,
                     const struct notify_message *m, struct buf *out);
  /* Adds per-attempt HTTP headers (signatures, tokens); may be NULL.  The
   * caller wipes and frees the list. */
  rb_status (*headers)(const struct notify_settings *s, const struct notify_target *t,
                       const struct notify_message *m, const struct buf *body,
                       struct curl_slist **h);
  /* Makes one attempt itself instead of an HTTP POST to t->url (email). */
  void (*deliver)(const struct notify_settings *s, const struct notify_target *t,
                  const struct notify_message *m, const struct buf *body, struct attempt *a);
  /* The URL to POST to when there is no deliver(); NULL means t->url. */
  const char *(*url)(const struct notify_target *t);
};

extern const struct notifier notifier_slack;
extern const struct notifier notifier_pagerduty;
extern const struct notifier notifier_webhook;
extern const struct notifier notifier_email;
extern const struct notifier notifier_phone;

/* Appends s as a JSON string of at most max bytes of content (0: no limit),
 * cut on a UTF-8 boundary and ended with "..." when cut; invalid UTF-8 and
 * control bytes become U+FFFD or escapes, so the output is always valid
 * JSON.  NULL is written as "". */
rb_status notify_json_str(struct buf *b, const char *s, size_t max);

/* Appends labels_json re-serialised (so a malformed value cannot break the
 * payload); "{}" when it is NULL or not a JSON object. */
rb_status notify_json_labels(struct buf *b, const char *labels_json);

/* The value of one label from labels_json into out ("" when absent);
 * returns out. */
char *notify_label(const char *labels_json, const char *name, char *out, size_t outlen);

/* "<external_url>/#/incidents/<id>" (ack != 0: ".../ack") into out; ""
 * when no external URL is configured.  Returns out. */
char *notify_incident_link(const struct notify_settings *s, int64_t id, int ack, char *out,
                           size_t outlen);

/* "Triggered", "Escalated", ... for people. */
const char *notify_event_title(enum notify_event e);

/* "2026-12-03T15:19:42.911Z" for m->at_ms (or now when 0). */
char *notify_timestamp(const struct notify_message *m, char *out, size_t outlen);

/* Common easy-handle options: timeouts, no redirects, CA, no signals. */
void notify_curl_common(CURL *e, const struct notify_settings *s, char *errbuf);

/* When a->cancel is set, makes the transfer on e ask it (at most every
 * NOTIFY_CANCEL_POLL_MS) and abort when it says stop. */
void notify_curl_cancel(CURL *e, struct attempt *a);

/* 1 when c says stop (asked at most every NOTIFY_CANCEL_POLL_MS unless
 * force); 0 with c NULL. */
int notify_cancelled(struct cancel_check *c, int force);

/* Appends "Authorization: Bearer <token>" to *h when token is set (and
 * has no line break); the caller wipes the list. */
rb_status notify_header_bearer(struct curl_slist **h, const char *token);

/* Sets a->cls from a curl result with no usable reply. */
void notify_classify_curl(CURLcode cc, struct attempt *a, const char *errbuf);

#endif
