/*
 * silence.h - silences with Alertmanager's semantics and API v2 wire
 * format, so `amtool silence add|query|expire` pointed at runbookd work
 * unmodified.
 *
 * A silence has matchers (all must match), startsAt and endsAt; it is
 * pending before startsAt, active until endsAt, expired after.  The set is
 * kept in memory (a read-write lock; matching is on hot paths) and every
 * change is written through the store first.  A silenced alert's incident
 * is neither remediated nor paged; remediation and paging each record a
 * "silenced" event when they hold back (docs/silences.md).
 *
 * Times are wall-clock milliseconds.  A silence is active for
 * startsAt <= now < endsAt: expiring one sets endsAt to now, and from that
 * millisecond on it silences nothing (Alertmanager's boundary is inclusive,
 * which only differs in that one millisecond).
 *
 * Expired silences are kept, so `amtool silence query --expired` shows
 * them, until SILENCE_RETENTION_MS after their end (Alertmanager's default
 * --data.retention of 120h); then they leave memory.
 *
 * Threads: every function may run on any thread.  Changes are serialised
 * among themselves (one at a time, store first, then memory) and never
 * block silences_match for longer than swapping a pointer.
 */
#ifndef RUNBOOKD_SILENCE_H
#define RUNBOOKD_SILENCE_H

#include "buf.h"
#include "rb.h"

#include <stdatomic.h>

struct am_labels;
struct matchers;
struct store;
struct silences;

enum silence_state { SIL_PENDING = 0, SIL_ACTIVE, SIL_EXPIRED };

/* "pending", "active", "expired" (the API's status.state). */
const char *silence_state_name(enum silence_state s);

#define SILENCE_ID_LEN 37 /* a UUID's 36 characters and the NUL */
#define SILENCE_RETENTION_MS (120LL * 3600 * 1000)
#define SILENCE_MAX_TEXT 8192 /* bytes of createdBy and of comment */
#define SILENCE_MAX_MATCHERS 64

/* One silence.  Immutable once it is in a set (a change replaces it), and
 * reference counted so that readers can use it outside the lock. */
struct silence {
  char id[SILENCE_ID_LEN];
  struct matchers *ms;
  int64_t starts_ms, ends_ms, updated_ms;
  char *created_by;
  char *comment;
  atomic_int refs;
};

/* The state at now_ms. */
enum silence_state silence_state(const struct silence *sil, int64_t now_ms);
/* Whether sil is active at now_ms and its matchers all match labels. */
int silence_matches(const struct silence *sil, const struct am_labels *labels, int64_t now_ms);
/* Drops a reference (from silences_get/silences_list); accepts NULL. */
void silence_drop(struct silence *sil);

/* One matcher as the API carries it ({name, value, isRegex, isEqual}). */
struct silence_api_matcher {
  char *name;
  char *value;
  int is_regex;
  int is_equal;
};

/* A PostableSilence: what a client asks for.  Strings are owned
 * (silence_spec_clear). */
struct silence_spec {
  char id[SILENCE_ID_LEN]; /* "" for a new silence */
  struct silence_api_matcher *m;
  size_t n;
  int64_t starts_ms, ends_ms;
  char *created_by;
  char *comment;
};

void silence_spec_clear(struct silence_spec *sp);

/* Loads every silence from the store (st may be NULL: memory only, for
 * tests).  Silences past their retention at now are left out.  On RB_OK
 * *out is the caller's (silences_free).  err (RB_ERRLEN) names a row the
 * store holds but that does not parse. */
rb_status silences_open(struct store *st, struct silences **out, char *err);
void silences_free(struct silences *s);

/* Whether an active silence (at now_ms) matches labels: 1 and its id
 * (and end time) when one does.  Thread-safe; no I/O.  id/ends_ms may be
 * NULL.  When several match, the one ending last is named. */
int silences_match(struct silences *s, const struct am_labels *labels, int64_t now_ms, char *id,
                   size_t idlen, int64_t *ends_ms);

/* Creates or updates a silence as Alertmanager 0.25's POST does:
 *   - sp->id set but unknown: RB_ENOTFOUND ("silence not found").
 *   - startsAt must be before endsAt and endsAt not in the past; every
 *     matcher valid (label names [a-zA-Z_][a-zA-Z0-9_]*, regexes that
 *     compile) and not all of them = or =~ matchers that match the empty
 *     string: otherwise RB_EINVAL with Alertmanager's message in err.
 *   - An existing silence is updated in place when its matchers are the
 *     same and the times may change (active: same startsAt and endsAt not
 *     in the past; pending: startsAt not in the past); otherwise it is
 *     expired (unless already) and a new silence with a new id replaces it.
 *   - A startsAt in the past becomes now.
 * The change is durable (one store job) before it is visible.  On RB_OK
 * id_out holds the silence's id.  RB_EUNAVAIL when the store failed. */
rb_status silences_set(struct silences *s, const struct silence_spec *sp, int64_t now_ms,
                       char id_out[SILENCE_ID_LEN], char *err);

/* Expires a silence at now_ms: an active one ends now, a pending one
 * starts and ends now; an expired one is left as it is (RB_OK, as
 * Alertmanager 0.25 answers).  RB_ENOTFOUND, RB_EUNAVAIL; err. */
rb_status silences_expire(struct silences *s, const char *id, int64_t now_ms, char *err);

/* A reference to one silence (silence_drop), or NULL when unknown. */
struct silence *silences_get(struct silences *s, const char *id);

/* The silences for GET /api/v2/silences: those having, for each filter
 * matcher, a matcher with the same name, operator and value (Alertmanager's
 * CheckSilenceMatchesFilterLabels; filter may be NULL), sorted like
 * Alertmanager: active by endsAt, then pending by startsAt, then expired by
 * endsAt descending (ties by id).  On RB_OK *out is an array of references
 * the caller releases with silence_list_free. */
rb_status silences_list(struct silences *s, const struct matchers *filter, int64_t now_ms,
                        struct silence ***out, size_t *n);
void silence_list_free(struct silence **v, size_t n);

/* Number of silences held (any state). */
size_t silences_count(struct silences *s);

/* What a change did, for a hook (silence_forward.h forwards it upstream). */
enum silence_event {
  SIL_EV_SET = 0, /* created or updated: sil is the new version; prev_id, when
                     not NULL, the silence it replaced (expired) */
  SIL_EV_EXPIRE   /* expired by silences_expire: sil is the expired version */
};
/* Called after a change is durable and visible, under the set's write lock
 * (so hooks see changes in the order they were made).  It must not block
 * nor call back into the set; sil is valid only during the call. */
typedef void (*silence_hook_fn)(void *arg, enum silence_event ev, const struct silence *sil,
                                const char *prev_id);
/* Installs the hook (NULL: none).  Call before other threads use s. */
void silences_set_hook(struct silences *s, silence_hook_fn fn, void *arg);

/* ---- wire format (silence_json.c) ---------------------------------- */

/* Appends a GettableSilence:
 * {"id","status":{"state"},"updatedAt","comment","createdBy","endsAt",
 *  "matchers":[{"isEqual","isRegex","name","value"}],"startsAt"}
 * with times as Alertmanager writes them (2006-01-02T15:04:05.000Z). */
rb_status silence_to_json(const struct silence *sil, int64_t now_ms, struct buf *b);

/* Where a PostableSilence was rejected before Alertmanager's own checks,
 * with go-openapi's codes: a body that is not JSON or has a field of the
 * wrong type (400, answered as 400), a missing required field (602) or an
 * empty matchers list (612), both answered as 422. */
enum silence_parse_code {
  SIL_PARSE_BAD = 400,
  SIL_PARSE_REQUIRED = 602,
  SIL_PARSE_MIN_ITEMS = 612
};

/* Decodes a PostableSilence.  On RB_OK *out is filled (silence_spec_clear).
 * On RB_EINVAL or RB_ETOOBIG *code and err (RB_ERRLEN) say what was
 * wrong, in go-openapi's words ("matchers in body is required").
 * Unknown fields are ignored, as Alertmanager does. */
rb_status silence_spec_from_json(const char *body, size_t len, struct silence_spec *out,
                                 enum silence_parse_code *code, char *err);

/* The storage form of matchers: [{"name","value","isRegex","isEqual"}]. */
rb_status silence_matchers_to_json(const struct matchers *ms, struct buf *b);
/* Decodes the storage form (also accepted: absent isEqual means true).
 * On RB_OK *out is the caller's (matchers_free). */
rb_status silence_matchers_from_json(const char *json, struct matchers **out, char *err);

/* A random (version 4) UUID from OpenSSL's RAND_bytes, lowercase.
 * RB_EINTERNAL when the generator fails. */
rb_status silence_uuid4(char out[SILENCE_ID_LEN]);
/* Whether s is a UUID (8-4-4-4-12 hex digits, any case). */
int silence_id_valid(const char *s);

/* Its HTTP handlers (api_silences.c) are declared in http.h. */

#endif
