/*
 * silence_forward.h - forwarding silences to an upstream Alertmanager.
 *
 * When configured (silences.upstream in the configuration), every silence
 * created, updated or expired through runbookd is sent on to an upstream
 * Alertmanager's API v2 after the local change is durable: a create or an
 * update is POST /api/v2/silences (an update carries the upstream id
 * recorded for the silence, or for the silence it replaced), an expiry is
 * DELETE /api/v2/silence/{upstream id}.  The local change has already
 * answered the client; forwarding never changes that answer.
 *
 * One worker thread sends the changes in the order they were made, from a
 * bounded queue (a full queue drops the change and counts it).  Connection
 * errors, timeouts and 5xx answers are retried with exponential backoff up
 * to max_attempts; other answers are final.  Every outcome is counted in
 * runbookd_silence_forward_total{outcome} and failures are logged (the
 * bearer token never is).  The upstream id of each forwarded silence is
 * stored with the silence (silences.upstream_id), so updates and expiries
 * after a restart still reach the right upstream silence; at start, active
 * and pending silences that were never forwarded are queued again.
 */
#ifndef RUNBOOKD_SILENCE_FORWARD_H
#define RUNBOOKD_SILENCE_FORWARD_H

#include "rb.h"
#include "silence.h"

struct store;
struct silence_fwd;

struct silence_fwd_options {
  const char *url;          /* http(s)://host:port[/prefix] of the Alertmanager */
  const char *bearer_token; /* NULL: no Authorization header */
  unsigned timeout_s;       /* one request; 0: 5 */
  unsigned max_attempts;    /* per change, retries included; 0: 5 */
  unsigned backoff_ms;      /* first retry's delay, doubled each time up to 30 s; 0: 1000 */
  size_t queue_size;        /* changes waiting; 0: 1000 */
  struct store *store;      /* where upstream ids are kept; NULL: memory only */
};

/* Loads the recorded upstream ids from the store, queues the active and
 * pending silences never forwarded, and starts the worker.  err
 * (RB_ERRLEN).  The options' strings are copied. */
rb_status silence_fwd_start(const struct silence_fwd_options *o, struct silence_fwd **out,
                            char *err);
/* Stops the worker (a request in flight finishes or times out; changes
 * still queued are dropped and logged).  Accepts NULL. */
void silence_fwd_stop(struct silence_fwd *f);

/* The hook for silences_set_hook (arg is the struct silence_fwd *):
 * queues the change; never blocks on the network. */
void silence_fwd_hook(void *arg, enum silence_event ev, const struct silence *sil,
                      const char *prev_id);

/* Waits (up to timeout_ms) until the queue is empty and the worker idle;
 * 1 when it is.  For tests. */
int silence_fwd_idle(struct silence_fwd *f, int64_t timeout_ms);

/* The upstream id recorded for a local silence id, copied into out
 * ("" when none); for tests and the API. */
void silence_fwd_upstream_id(struct silence_fwd *f, const char *id, char out[SILENCE_ID_LEN]);

/* What the worker makes of one answer of the upstream's silence API. */
enum silence_fwd_verdict {
  SFWD_OK = 0,    /* done (an expiry the upstream had already made counts) */
  SFWD_RETRY,     /* 408, 429, 5xx: try again after a backoff */
  SFWD_FINAL,     /* refused, or a 2xx POST answer without a valid silenceID */
  SFWD_UNKNOWN_ID /* the upstream does not know the silence ("not found") */
};

/* Reads one answer (exposed for tests and fuzzing): expire says whether it
 * answers DELETE /api/v2/silence/{id}, else POST /api/v2/silences; status
 * is the HTTP status (non-zero); body holds the answer's first len bytes as
 * received, not NUL-terminated (NULL when empty).  A POST's 2xx is SFWD_OK
 * only with a valid {"silenceID":...}, copied into upstream_id ("" in
 * every other case).  Otherwise why (RB_ERRLEN) says what the upstream
 * answered, as an excerpt in printable ASCII. */
enum silence_fwd_verdict silence_fwd_answer(int expire, long status, const char *body, size_t len,
                                            char upstream_id[SILENCE_ID_LEN], char *why);

#endif
