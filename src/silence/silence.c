/*
 * silence.c - the set of silences: states by time, matching, and changes
 * written through the store.
 *
 * The set is an array of pointers to immutable, reference-counted
 * silences under a read-write lock.  Readers (silences_match on the alert
 * path, the API's GETs) hold the read lock only while they scan or take
 * references.  A change is built outside the lock, made durable by one
 * store job, and only then swapped in under the write lock; changes are
 * serialised by write_mu so the store and memory see them in one order.
 *
 * The rules (what may be updated in place, how an expiry moves the times,
 * the error messages) follow Alertmanager 0.25's silence/silence.go and
 * api/v2/api.go, so amtool behaves against runbookd as it does against
 * Alertmanager.
 */
#include "silence.h"
#include "log.h"
#include "matcher.h"
#include "payload.h"
#include "rbtime.h"
#include "store.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct silences {
  pthread_rwlock_t lock;    /* guards v and n */
  pthread_mutex_t write_mu; /* one change at a time, store then memory */
  struct store *st;         /* NULL: memory only */
  struct silence **v;
  size_t n, cap;
  silence_hook_fn hook; /* after each change, under write_mu */
  void *hook_arg;
};

static const char *const state_names[] = { "pending", "active", "expired" };

const char *
silence_state_name(enum silence_state s)
{
  return (unsigned)s < RB_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

enum silence_state
silence_state(const struct silence *sil, int64_t now_ms)
{
  if (now_ms < sil->starts_ms)
    return SIL_PENDING;
  if (now_ms >= sil->ends_ms)
    return SIL_EXPIRED;
  return SIL_ACTIVE;
}

int
silence_matches(const struct silence *sil, const struct am_labels *labels, int64_t now_ms)
{
  return silence_state(sil, now_ms) == SIL_ACTIVE && matchers_match(sil->ms, labels);
}

static void
silence_destroy(struct silence *sil)
{
  matchers_free(sil->ms);
  free(sil->created_by);
  free(sil->comment);
  free(sil);
}

void
silence_drop(struct silence *sil)
{
  if (sil && atomic_fetch_sub(&sil->refs, 1) == 1)
    silence_destroy(sil);
}

static struct silence *
silence_ref(struct silence *sil)
{
  atomic_fetch_add(&sil->refs, 1);
  return sil;
}

void
silence_spec_clear(struct silence_spec *sp)
{
  if (!sp)
    return;
  for (size_t i = 0; i < sp->n; i++) {
    free(sp->m[i].name);
    free(sp->m[i].value);
  }
  free(sp->m);
  free(sp->created_by);
  free(sp->comment);
  memset(sp, 0, sizeof(*sp));
}

rb_status
silence_uuid4(char out[SILENCE_ID_LEN])
{
  unsigned char b[16];

  if (RAND_bytes(b, sizeof(b)) != 1)
    return RB_EINTERNAL;
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf(out, SILENCE_ID_LEN,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
           b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return RB_OK;
}

int
silence_id_valid(const char *s)
{
  static const char hexd[] = "0123456789abcdefABCDEF";

  if (!s || strlen(s) != 36)
    return 0;
  for (int i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !strchr(hexd, s[i]))
      return 0;
  }
  return 1;
}

/* model.LabelName.IsValid: silences take Prometheus label names, which do
 * not have the ':' that matcher_new's parser-compatible check allows. */
static int
label_name_valid(const char *s)
{
  if (!s || !*s)
    return 0;
  for (size_t i = 0; s[i]; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
             || (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

/* Builds and validates the matchers of sp (validateSilence's part about
 * matchers).  On RB_OK *out is the caller's. */
static rb_status
build_matchers(const struct silence_spec *sp, struct matchers **out, char *err)
{
  static const struct am_labels none = { NULL, 0 };
  struct matchers *ms;
  char why[RB_ERRLEN];
  int all_empty = 1;
  rb_status rc;

  *out = NULL;
  if (sp->n == 0) {
    snprintf(err, RB_ERRLEN, "silence invalid: at least one matcher required");
    return RB_EINVAL;
  }
  if (sp->n > SILENCE_MAX_MATCHERS) {
    snprintf(err, RB_ERRLEN, "silence invalid: more than %d matchers", SILENCE_MAX_MATCHERS);
    return RB_EINVAL;
  }
  ms = calloc(1, sizeof(*ms));
  if (ms)
    ms->m = calloc(sp->n, sizeof(*ms->m));
  if (!ms || !ms->m) {
    free(ms);
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  for (size_t i = 0; i < sp->n; i++) {
    const struct silence_api_matcher *am = &sp->m[i];
    if (!label_name_valid(am->name)) {
      snprintf(err, RB_ERRLEN,
               "silence invalid: invalid label matcher %zu: invalid label name \"%.200s\"", i,
               am->name ? am->name : "");
      rc = RB_EINVAL;
      goto fail;
    }
    rc = matcher_from_api(am->name, am->value, am->is_regex, am->is_equal, &ms->m[i], why);
    if (rc == RB_ENOMEM) {
      snprintf(err, RB_ERRLEN, "out of memory");
      goto fail;
    }
    if (rc) {
      if (am->is_regex)
        snprintf(
            err, RB_ERRLEN,
            "silence invalid: invalid label matcher %zu: invalid regular expression \"%.80s\": %s",
            i, am->value ? am->value : "", why);
      else
        snprintf(err, RB_ERRLEN, "silence invalid: invalid label matcher %zu: %s", i, why);
      rc = RB_EINVAL;
      goto fail;
    }
    ms->n++;
    /* matchesEmpty in silence.go: only = and =~ can match the empty
     * string; a silence of != or !~ matchers alone is allowed. */
    if ((am->is_equal && !matcher_match(ms->m[i], &none)) || !am->is_equal)
      all_empty = 0;
  }
  if (all_empty) {
    snprintf(err, RB_ERRLEN,
             "silence invalid: at least one matcher must not match the empty string");
    rc = RB_EINVAL;
    goto fail;
  }
  *out = ms;
  return RB_OK;
fail:
  matchers_free(ms);
  return rc;
}

static int
matchers_equal(const struct matchers *a, const struct matchers *b)
{
  if (a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->m[i]->type != b->m[i]->type || strcmp(a->m[i]->name, b->m[i]->name) != 0
        || strcmp(a->m[i]->value, b->m[i]->value) != 0)
      return 0;
  return 1;
}

/* A fresh silence with one reference; takes ms. */
static struct silence *
silence_make(const char *id, struct matchers *ms, int64_t starts, int64_t ends, int64_t updated,
             const char *created_by, const char *comment)
{
  struct silence *sil = calloc(1, sizeof(*sil));

  if (!sil) {
    matchers_free(ms);
    return NULL;
  }
  snprintf(sil->id, sizeof(sil->id), "%s", id);
  sil->ms = ms;
  sil->starts_ms = starts;
  sil->ends_ms = ends;
  sil->updated_ms = updated;
  sil->created_by = strdup(created_by ? created_by : "");
  sil->comment = strdup(comment ? comment : "");
  atomic_init(&sil->refs, 1);
  if (!sil->created_by || !sil->comment) {
    silence_destroy(sil);
    return NULL;
  }
  return sil;
}

/* A copy of prev with other times (the matchers are rebuilt: a struct
 * matchers belongs to one silence). */
static struct silence *
silence_retime(const struct silence *prev, int64_t starts, int64_t ends, int64_t updated)
{
  struct matchers *ms = calloc(1, sizeof(*ms));
  char err[RB_ERRLEN];

  if (ms)
    ms->m = calloc(prev->ms->n ? prev->ms->n : 1, sizeof(*ms->m));
  if (!ms || !ms->m) {
    free(ms);
    return NULL;
  }
  for (size_t i = 0; i < prev->ms->n; i++) {
    const struct matcher *m = prev->ms->m[i];
    if (matcher_new(m->name, m->value, m->type, &ms->m[i], err)) {
      matchers_free(ms);
      return NULL;
    }
    ms->n++;
  }
  return silence_make(prev->id, ms, starts, ends, updated, prev->created_by, prev->comment);
}

/* ---- the store --------------------------------------------------------- */

struct put_job {
  struct silence_row rows[2];
  size_t n;
  int64_t now_ms;
  size_t purged;
};

/* Writes the rows, and deletes the rows past retention: the store keeps
 * what memory keeps, and no more. */
static rb_status
put_rows(struct store *st, void *arg)
{
  struct put_job *j = arg;
  rb_status rc = RB_OK;

  for (size_t i = 0; !rc && i < j->n; i++)
    rc = store_w_silence_put(st, &j->rows[i]);
  if (!rc)
    rc = store_w_silence_purge(st, j->now_ms - SILENCE_RETENTION_MS, &j->purged);
  return rc;
}

static rb_status
row_of(const struct silence *sil, struct silence_row *r)
{
  struct buf b;

  memset(r, 0, sizeof(*r));
  buf_init(&b, 0);
  if (silence_matchers_to_json(sil->ms, &b) || !b.data) {
    buf_free(&b);
    return RB_ENOMEM;
  }
  snprintf(r->id, sizeof(r->id), "%s", sil->id);
  r->matchers_json = buf_steal(&b);
  r->starts_ms = sil->starts_ms;
  r->ends_ms = sil->ends_ms;
  r->updated_ms = sil->updated_ms;
  /* The row borrows the strings; only matchers_json is freed below. */
  r->created_by = sil->created_by;
  r->comment = sil->comment;
  return RB_OK;
}

/* Writes one or two silences in one transaction, and deletes the rows
 * past retention at now_ms.  Called with write_mu. */
static rb_status
persist(struct silences *s, struct silence *a, struct silence *b, int64_t now_ms)
{
  struct put_job j;
  rb_status rc = RB_OK;

  if (!s->st)
    return RB_OK;
  memset(&j, 0, sizeof(j));
  j.now_ms = now_ms;
  if (a && !rc && !(rc = row_of(a, &j.rows[j.n])))
    j.n++;
  if (b && !rc && !(rc = row_of(b, &j.rows[j.n])))
    j.n++;
  if (!rc)
    rc = store_submit(s->st, put_rows, &j);
  for (size_t i = 0; i < j.n; i++)
    free(j.rows[i].matchers_json);
  return rc;
}

/* ---- the set ------------------------------------------------------------ */

/* Index of id, or -1.  Called with the lock (either kind) or write_mu. */
static long
find(const struct silences *s, const char *id)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i]->id, id) == 0)
      return (long)i;
  return -1;
}

static int
retained(const struct silence *sil, int64_t now_ms)
{
  return sil->ends_ms > now_ms - SILENCE_RETENTION_MS;
}

/* Puts sil in place of the silence with its id, or appends it; drops the
 * silences past retention.  Takes the caller's reference.  With write_mu. */
static rb_status
install(struct silences *s, struct silence *sil, int64_t now_ms)
{
  struct silence *old = NULL;
  long i;
  size_t w = 0;

  pthread_rwlock_wrlock(&s->lock);
  if (rb_grow((void **)&s->v, &s->cap, s->n, sizeof(*s->v))) {
    pthread_rwlock_unlock(&s->lock);
    return RB_ENOMEM;
  }
  i = find(s, sil->id);
  if (i >= 0) {
    old = s->v[i];
    s->v[i] = sil;
  } else {
    s->v[s->n++] = sil;
  }
  /* Garbage: expired longer than the retention.  The rows stay in the
   * store and are skipped when it is loaded. */
  for (size_t r = 0; r < s->n; r++) {
    if (retained(s->v[r], now_ms)) {
      s->v[w++] = s->v[r];
    } else {
      silence_drop(s->v[r]);
    }
  }
  s->n = w;
  pthread_rwlock_unlock(&s->lock);
  silence_drop(old);
  return RB_OK;
}

rb_status
silences_open(struct store *st, struct silences **out, char *err)
{
  struct silences *s = calloc(1, sizeof(*s));
  struct silence_row *rows = NULL;
  size_t n = 0, skipped = 0;
  int64_t now = 0;
  rb_status rc = RB_OK;

  *out = NULL;
  if (!s) {
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  pthread_rwlock_init(&s->lock, NULL);
  pthread_mutex_init(&s->write_mu, NULL);
  s->st = st;
  if (st) {
    now = rb_wall_ms();
    rc = store_silences_all(st, &rows, &n);
    if (rc) {
      snprintf(err, RB_ERRLEN, "cannot read silences from the store: %s", rb_strerror(rc));
      goto out;
    }
  }
  for (size_t i = 0; i < n; i++) {
    struct matchers *ms = NULL;
    struct silence *sil;
    char why[RB_ERRLEN];

    if (rows[i].ends_ms <= now - SILENCE_RETENTION_MS)
      continue;
    if (silence_matchers_from_json(rows[i].matchers_json, &ms, why)) {
      /* Skip it rather than refuse to start: one bad row must not keep
       * every other silence (and the daemon) down. */
      rblog(LOG_WARN, "skipping a stored silence whose matchers do not parse", "id", rows[i].id,
            "error", why, NULL);
      skipped++;
      continue;
    }
    sil = silence_make(rows[i].id, ms, rows[i].starts_ms, rows[i].ends_ms, rows[i].updated_ms,
                       rows[i].created_by, rows[i].comment);
    if (!sil || install(s, sil, now)) {
      silence_drop(sil);
      snprintf(err, RB_ERRLEN, "out of memory");
      rc = RB_ENOMEM;
      goto out;
    }
  }
  if (st) {
    char loaded[32], bad[32], purged[32];
    struct put_job j;

    /* Rows past retention are deleted now (and with every later write). */
    memset(&j, 0, sizeof(j));
    j.now_ms = now;
    rc = store_submit(st, put_rows, &j);
    if (rc) {
      snprintf(err, RB_ERRLEN, "cannot delete expired silences from the store: %s",
               rb_strerror(rc));
      goto out;
    }
    snprintf(loaded, sizeof(loaded), "%zu", s->n);
    snprintf(bad, sizeof(bad), "%zu", skipped);
    snprintf(purged, sizeof(purged), "%zu", j.purged);
    rblog(LOG_INFO, "silences loaded", "silences", loaded, "skipped", bad,
          "deleted_past_retention", purged, NULL);
  }
out:
  silence_rows_free(rows, n);
  if (rc) {
    silences_free(s);
    return rc;
  }
  *out = s;
  return RB_OK;
}

void
silences_free(struct silences *s)
{
  if (!s)
    return;
  for (size_t i = 0; i < s->n; i++)
    silence_drop(s->v[i]);
  free(s->v);
  pthread_rwlock_destroy(&s->lock);
  pthread_mutex_destroy(&s->write_mu);
  free(s);
}

int
silences_match(struct silences *s, const struct am_labels *labels, int64_t now_ms, char *id,
               size_t idlen, int64_t *ends_ms)
{
  const struct silence *best = NULL;

  if (!s)
    return 0;
  pthread_rwlock_rdlock(&s->lock);
  for (size_t i = 0; i < s->n; i++) {
    const struct silence *sil = s->v[i];
    if ((!best || sil->ends_ms > best->ends_ms) && silence_matches(sil, labels, now_ms))
      best = sil;
  }
  if (best) {
    if (id && idlen)
      snprintf(id, idlen, "%s", best->id);
    if (ends_ms)
      *ends_ms = best->ends_ms;
  }
  pthread_rwlock_unlock(&s->lock);
  return best != NULL;
}

/* canUpdate in silence.go: whether next may replace prev under prev's id. */
static int
can_update(const struct silence *prev, const struct matchers *ms, int64_t starts, int64_t ends,
           int64_t now_ms)
{
  if (!matchers_equal(prev->ms, ms))
    return 0;
  switch (silence_state(prev, now_ms)) {
  case SIL_ACTIVE:
    return starts == prev->starts_ms && ends >= now_ms;
  case SIL_PENDING:
    return starts >= now_ms;
  default:
    return 0;
  }
}

/* The expired form of sil at now (Expire in silence.go), or NULL when it
 * is expired already.  *oom is set when a copy could not be made. */
static struct silence *
expired_copy(const struct silence *sil, int64_t now_ms, int *oom)
{
  struct silence *e = NULL;

  *oom = 0;
  switch (silence_state(sil, now_ms)) {
  case SIL_ACTIVE:
    e = silence_retime(sil, sil->starts_ms, now_ms, now_ms);
    break;
  case SIL_PENDING:
    e = silence_retime(sil, now_ms, now_ms, now_ms);
    break;
  default:
    return NULL;
  }
  if (!e)
    *oom = 1;
  return e;
}

rb_status
silences_set(struct silences *s, const struct silence_spec *sp, int64_t now_ms,
             char id_out[SILENCE_ID_LEN], char *err)
{
  struct silence *prev = NULL, *sil = NULL, *gone = NULL;
  struct matchers *ms = NULL;
  int64_t starts = sp->starts_ms;
  struct silence *added;
  char id[SILENCE_ID_LEN], prev_id[SILENCE_ID_LEN] = "";
  int oom = 0;
  rb_status rc;

  /* postSilencesHandler's checks come first. */
  if (sp->starts_ms >= sp->ends_ms) {
    snprintf(err, RB_ERRLEN, "Failed to create silence: start time must be before end time");
    return RB_EINVAL;
  }
  if (sp->ends_ms < now_ms) {
    snprintf(err, RB_ERRLEN, "Failed to create silence: end time can't be in the past");
    return RB_EINVAL;
  }
  pthread_mutex_lock(&s->write_mu);
  if (sp->id[0]) {
    long i = find(s, sp->id);
    if (i < 0) {
      snprintf(err, RB_ERRLEN, "silence not found");
      rc = RB_ENOTFOUND;
      goto out;
    }
    prev = s->v[i]; /* stays alive: only this thread (write_mu) removes */
  }
  rc = build_matchers(sp, &ms, err);
  if (rc)
    goto out;
  if (prev && can_update(prev, ms, sp->starts_ms, sp->ends_ms, now_ms)) {
    snprintf(id, sizeof(id), "%s", prev->id);
  } else {
    if (prev) {
      snprintf(prev_id, sizeof(prev_id), "%s", prev->id);
      gone = expired_copy(prev, now_ms, &oom);
      if (oom) {
        rc = RB_ENOMEM;
        snprintf(err, RB_ERRLEN, "out of memory");
        goto out;
      }
    }
    rc = silence_uuid4(id);
    if (rc) {
      snprintf(err, RB_ERRLEN, "cannot generate a silence id (RAND_bytes failed)");
      goto out;
    }
    if (starts < now_ms)
      starts = now_ms;
  }
  sil = silence_make(id, ms, starts, sp->ends_ms, now_ms, sp->created_by, sp->comment);
  ms = NULL;
  if (!sil) {
    rc = RB_ENOMEM;
    snprintf(err, RB_ERRLEN, "out of memory");
    goto out;
  }
  rc = persist(s, gone, sil, now_ms);
  if (rc) {
    snprintf(err, RB_ERRLEN, "cannot store the silence: %s", rb_strerror(rc));
    goto out;
  }
  if (gone) {
    rc = install(s, gone, now_ms);
    if (!rc)
      gone = NULL;
  }
  added = sil;
  if (!rc) {
    rc = install(s, sil, now_ms);
    if (!rc)
      sil = NULL;
  }
  if (rc) {
    snprintf(err, RB_ERRLEN, "out of memory");
    goto out;
  }
  /* added stays alive: only this thread (write_mu) removes silences. */
  if (s->hook)
    s->hook(s->hook_arg, SIL_EV_SET, added, prev_id[0] ? prev_id : NULL);
  snprintf(id_out, SILENCE_ID_LEN, "%s", id);
out:
  pthread_mutex_unlock(&s->write_mu);
  matchers_free(ms);
  silence_drop(sil);
  silence_drop(gone);
  return rc;
}

rb_status
silences_expire(struct silences *s, const char *id, int64_t now_ms, char *err)
{
  struct silence *e;
  long i;
  int oom = 0;
  rb_status rc = RB_OK;

  pthread_mutex_lock(&s->write_mu);
  i = find(s, id);
  if (i < 0) {
    snprintf(err, RB_ERRLEN, "silence not found");
    rc = RB_ENOTFOUND;
    goto out;
  }
  e = expired_copy(s->v[i], now_ms, &oom);
  if (!e) {
    if (oom) {
      snprintf(err, RB_ERRLEN, "out of memory");
      rc = RB_ENOMEM;
    }
    goto out; /* already expired: nothing to do */
  }
  rc = persist(s, e, NULL, now_ms);
  if (rc) {
    snprintf(err, RB_ERRLEN, "cannot store the silence: %s", rb_strerror(rc));
    silence_drop(e);
    goto out;
  }
  rc = install(s, e, now_ms);
  if (rc) {
    snprintf(err, RB_ERRLEN, "out of memory");
    silence_drop(e);
  } else if (s->hook) {
    s->hook(s->hook_arg, SIL_EV_EXPIRE, e, NULL);
  }
out:
  pthread_mutex_unlock(&s->write_mu);
  return rc;
}

struct silence *
silences_get(struct silences *s, const char *id)
{
  struct silence *sil = NULL;
  long i;

  pthread_rwlock_rdlock(&s->lock);
  i = find(s, id);
  if (i >= 0)
    sil = silence_ref(s->v[i]);
  pthread_rwlock_unlock(&s->lock);
  return sil;
}

void
silences_set_hook(struct silences *s, silence_hook_fn fn, void *arg)
{
  pthread_mutex_lock(&s->write_mu);
  s->hook = fn;
  s->hook_arg = arg;
  pthread_mutex_unlock(&s->write_mu);
}

size_t
silences_count(struct silences *s)
{
  size_t n;

  pthread_rwlock_rdlock(&s->lock);
  n = s->n;
  pthread_rwlock_unlock(&s->lock);
  return n;
}

/* CheckSilenceMatchesFilterLabels: each filter matcher has a twin (name,
 * operator, value) among the silence's matchers. */
static int
filter_match(const struct silence *sil, const struct matchers *filter)
{
  for (size_t i = 0; filter && i < filter->n; i++) {
    const struct matcher *f = filter->m[i];
    int found = 0;
    for (size_t j = 0; !found && j < sil->ms->n; j++) {
      const struct matcher *m = sil->ms->m[j];
      found
          = m->type == f->type && strcmp(m->name, f->name) == 0 && strcmp(m->value, f->value) == 0;
    }
    if (!found)
      return 0;
  }
  return 1;
}

struct sorted {
  struct silence *sil;
  int order; /* active 0, pending 1, expired 2 */
};

static int
cmp_i64(int64_t a, int64_t b)
{
  return a < b ? -1 : a > b;
}

static int
cmp_sorted(const void *pa, const void *pb)
{
  const struct sorted *a = pa, *b = pb;
  int c;

  if (a->order != b->order)
    return a->order - b->order;
  switch (a->order) {
  case 0:
    c = cmp_i64(a->sil->ends_ms, b->sil->ends_ms);
    break;
  case 1:
    c = cmp_i64(a->sil->starts_ms, b->sil->starts_ms);
    break;
  default:
    c = cmp_i64(b->sil->ends_ms, a->sil->ends_ms);
  }
  return c ? c : strcmp(a->sil->id, b->sil->id);
}

rb_status
silences_list(struct silences *s, const struct matchers *filter, int64_t now_ms,
              struct silence ***out, size_t *n)
{
  struct sorted *tmp;
  struct silence **v;
  size_t k = 0;

  *out = NULL;
  *n = 0;
  pthread_rwlock_rdlock(&s->lock);
  tmp = calloc(s->n ? s->n : 1, sizeof(*tmp));
  if (!tmp) {
    pthread_rwlock_unlock(&s->lock);
    return RB_ENOMEM;
  }
  for (size_t i = 0; i < s->n; i++) {
    struct silence *sil = s->v[i];
    enum silence_state st;
    if (!retained(sil, now_ms) || !filter_match(sil, filter))
      continue;
    st = silence_state(sil, now_ms);
    tmp[k].sil = silence_ref(sil);
    tmp[k].order = st == SIL_ACTIVE ? 0 : st == SIL_PENDING ? 1 : 2;
    k++;
  }
  pthread_rwlock_unlock(&s->lock);
  if (k)
    qsort(tmp, k, sizeof(*tmp), cmp_sorted);
  v = calloc(k ? k : 1, sizeof(*v));
  if (!v) {
    for (size_t i = 0; i < k; i++)
      silence_drop(tmp[i].sil);
    free(tmp);
    return RB_ENOMEM;
  }
  for (size_t i = 0; i < k; i++)
    v[i] = tmp[i].sil;
  free(tmp);
  *out = v;
  *n = k;
  return RB_OK;
}

void
silence_list_free(struct silence **v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    silence_drop(v[i]);
  free(v);
}
