/* libFuzzer target: what runbookd reads from the HTTP and SMTP peers it
 * calls, other than Kubernetes and Prometheus (fuzz_kube, fuzz_promql):
 *   - the upstream Alertmanager's answers to a forwarded silence
 *     (silence_fwd_answer: POST /api/v2/silences and its {"silenceID":..},
 *     DELETE /api/v2/silence/{id});
 *   - a notification receiver's HTTP answer (notify_http_answer: Slack,
 *     PagerDuty, webhook and phone receivers), and an SMTP server's reply
 *     lines (notify_smtp_reply), each then scrubbed of the target's secrets
 *     (notify_scrub) as notify_send does before the detail is logged or put
 *     on the timeline.
 * Input: byte 0 picks the reader (low 2 bits), byte 1 the HTTP status from
 * a table; the rest is the answer as received (not NUL-terminated). */
#include "notify.h"
#include "silence.h"
#include "silence_forward.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[16] = { 200, 201, 202, 204, 301, 400, 401, 404,
                                   408, 409, 422, 429, 500, 502, 503, 599 };

/* Secrets as a deployment has them; some shorter than "[redacted]". */
static char url[] = "https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX";
static char routing_key[] = "R0UT1NGKEY0123456789abcdefABCDEF";
static char secret[] = "s3cret";
static char token[] = "tok-1234";
static const char password[] = "hunter2";

static void
upstream_silence(int expire, long status, const char *body, size_t len)
{
  char id[SILENCE_ID_LEN], why[RB_ERRLEN] = "";
  enum silence_fwd_verdict v = silence_fwd_answer(expire, status, body, len, id, why);

  if (v > SFWD_UNKNOWN_ID || !memchr(id, '\0', sizeof(id)) || !memchr(why, '\0', sizeof(why)))
    abort();
  if (id[0] && (v != SFWD_OK || expire || !silence_id_valid(id)))
    abort(); /* an upstream id only from a POST's 2xx, and a valid one */
  if (v == SFWD_OK && !expire && !id[0])
    abort();
  if (v != SFWD_OK && !why[0])
    abort(); /* a failure says what the upstream answered */
  for (const char *p = why; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
      abort(); /* the log line gets printable ASCII only */
}

static void
no_secret_left(const char *text, size_t size, const struct notify_settings *s,
               const struct notify_target *t)
{
  const char *secrets[] = { t->url, strstr(t->url, "/services/"), t->routing_key, t->secret,
                            t->token, s->smtp_password };

  if (!memchr(text, '\0', size))
    abort();
  for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
    if (strstr(text, secrets[i]))
      abort(); /* a secret the receiver echoed reached the detail */
}

static void
receiver(long status, const char *body, size_t len, const struct notify_settings *s,
         const struct notify_target *t)
{
  char detail[sizeof(((struct notify_result *)0)->detail)];
  enum notify_verdict v = notify_http_answer(status, body, len, detail, sizeof(detail));

  if (v != (status >= 200 && status < 300  ? NOTIFY_DELIVERED
            : status == 408 || status == 429 || status >= 500 ? NOTIFY_RETRY
                                                               : NOTIFY_REFUSED))
    abort();
  if (!memchr(detail, '\0', sizeof(detail)) || strncmp(detail, "HTTP ", 5) != 0)
    abort();
  for (const char *p = detail; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      abort(); /* the answer is put on one line */
  notify_scrub(detail, sizeof(detail), s, t);
  no_secret_left(detail, sizeof(detail), s, t);
}

/* The input's lines, each as libcurl hands one to the debug callback. */
static void
smtp_server(const char *in, size_t len, const struct notify_settings *s,
            const struct notify_target *t)
{
  char reply[NOTIFY_SMTP_REPLY_MAX] = "";

  while (len) {
    const char *nl = memchr(in, '\n', len);
    size_t n = nl ? (size_t)(nl - in) + 1 : len;
    char *line = malloc(n); /* exactly the line: ASan sees any overread */
    if (!line)
      return;
    memcpy(line, in, n);
    notify_smtp_reply(line, n, reply);
    free(line);
    if (!memchr(reply, '\0', sizeof(reply)) || (reply[0] && reply[0] != '4' && reply[0] != '5'))
      abort();
    in += n;
    len -= n;
  }
  notify_scrub(reply, sizeof(reply), s, t);
  no_secret_left(reply, sizeof(reply), s, t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct notify_settings s;
  struct notify_target t;
  char *body;
  size_t len;
  long status;

  if (size < 2)
    return 0;
  notify_settings_defaults(&s);
  s.smtp_password = password;
  memset(&t, 0, sizeof(t));
  t.method = NM_WEBHOOK;
  t.url = url;
  t.routing_key = routing_key;
  t.secret = secret;
  t.token = token;
  status = statuses[data[1] & 15];
  len = size - 2;
  body = malloc(len ? len : 1); /* exactly the answer: ASan sees any overread */
  if (!body)
    return 0;
  memcpy(body, data + 2, len);
  switch (data[0] & 3) {
  case 0:
    upstream_silence(0, status, len ? body : NULL, len);
    break;
  case 1:
    upstream_silence(1, status, len ? body : NULL, len);
    break;
  case 2:
    receiver(status, len ? body : NULL, len, &s, &t);
    break;
  default:
    smtp_server(body, len, &s, &t);
  }
  free(body);
  return 0;
}
