/*
 * silence_forward.c - send silence changes on to an upstream Alertmanager
 * (see silence_forward.h).
 *
 * The hook runs under the silence set's write lock: it only renders the
 * change's body and appends it to a bounded queue.  One worker takes the
 * changes in order and talks to the upstream with libcurl; a change that
 * meets a connection error or a 5xx waits (backoff, interruptible by a
 * stop) and is tried again, and the changes behind it wait their turn so
 * that an expiry never overtakes the create it expires.
 */
#include "silence_forward.h"
#include "buf.h"
#include "lazylib.h"
#include "log.h"
#include "metrics.h"
#include "rbtime.h"
#include "store.h"
#include "version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_CAP_MS 30000
#define MAX_ANSWER 65536

enum op_kind { OP_SET, OP_EXPIRE };

struct fwd_op {
  enum op_kind kind;
  char id[SILENCE_ID_LEN];
  char prev[SILENCE_ID_LEN]; /* the silence a SET replaced, or "" */
  char *fields;              /* a SET's body without "{" and the id */
  struct fwd_op *next;
};

struct id_pair {
  char local[SILENCE_ID_LEN];
  char upstream[SILENCE_ID_LEN];
};

struct silence_fwd {
  char *url; /* without a trailing '/' */
  char *auth_header;
  unsigned timeout_s, max_attempts, backoff_ms;
  size_t queue_max;
  struct store *st;

  pthread_mutex_t mu; /* the queue, the map, the flags */
  pthread_cond_t cv;
  struct fwd_op *head, *tail;
  size_t queued;
  int busy, stopping;
  struct id_pair *map;
  size_t nmap, capmap;
  pthread_t thread;
  int started;
};

/* ---- the id map (with mu) -------------------------------------------- */

static long
map_find(const struct silence_fwd *f, const char *local)
{
  for (size_t i = 0; i < f->nmap; i++)
    if (strcmp(f->map[i].local, local) == 0)
      return (long)i;
  return -1;
}

static void
map_put(struct silence_fwd *f, const char *local, const char *upstream)
{
  long i = map_find(f, local);

  if (i < 0) {
    if (rb_grow((void **)&f->map, &f->capmap, f->nmap, sizeof(*f->map)))
      return;
    i = (long)f->nmap++;
    snprintf(f->map[i].local, sizeof(f->map[i].local), "%s", local);
  }
  snprintf(f->map[i].upstream, sizeof(f->map[i].upstream), "%s", upstream);
}

static void
map_get(struct silence_fwd *f, const char *local, char out[SILENCE_ID_LEN])
{
  long i;

  pthread_mutex_lock(&f->mu);
  i = local && *local ? map_find(f, local) : -1;
  snprintf(out, SILENCE_ID_LEN, "%s", i >= 0 ? f->map[i].upstream : "");
  pthread_mutex_unlock(&f->mu);
}

void
silence_fwd_upstream_id(struct silence_fwd *f, const char *id, char out[SILENCE_ID_LEN])
{
  map_get(f, id, out);
}

/* ---- the queue --------------------------------------------------------- */

static void
op_free(struct fwd_op *op)
{
  if (op) {
    free(op->fields);
    free(op);
  }
}

/* Appends op (taken) unless the queue is full. */
static void
enqueue(struct silence_fwd *f, struct fwd_op *op)
{
  pthread_mutex_lock(&f->mu);
  if (f->stopping || f->queued >= f->queue_max) {
    pthread_mutex_unlock(&f->mu);
    metrics_silence_forward("dropped");
    rblog(LOG_WARN, "silence not forwarded upstream: the forwarding queue is full", "silence",
          op->id, "operation", op->kind == OP_SET ? "set" : "expire", NULL);
    op_free(op);
    return;
  }
  if (f->tail)
    f->tail->next = op;
  else
    f->head = op;
  f->tail = op;
  f->queued++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

/* The body's fields after the id: matchers (the storage form is the API's
 * Matcher), times, author, comment, and the closing brace. */
static char *
render_fields(const char *matchers_json, int64_t starts_ms, int64_t ends_ms, const char *created_by,
              const char *comment)
{
  struct buf b;
  char ts[40], te[40];

  buf_init(&b, 0);
  rb_time_fmt_ms(starts_ms, ts, sizeof(ts));
  rb_time_fmt_ms(ends_ms, te, sizeof(te));
  if (buf_printf(&b, "\"matchers\":%s,\"startsAt\":\"%s\",\"endsAt\":\"%s\",\"createdBy\":",
                 matchers_json, ts, te)
      || buf_json_str(&b, created_by ? created_by : "") || buf_puts(&b, ",\"comment\":")
      || buf_json_str(&b, comment ? comment : "") || buf_puts(&b, "}")) {
    buf_free(&b);
    return NULL;
  }
  return buf_steal(&b);
}

static struct fwd_op *
op_new(enum op_kind kind, const char *id, const char *prev)
{
  struct fwd_op *op = calloc(1, sizeof(*op));

  if (!op)
    return NULL;
  op->kind = kind;
  snprintf(op->id, sizeof(op->id), "%s", id);
  snprintf(op->prev, sizeof(op->prev), "%s", prev ? prev : "");
  return op;
}

void
silence_fwd_hook(void *arg, enum silence_event ev, const struct silence *sil, const char *prev_id)
{
  struct silence_fwd *f = arg;
  struct fwd_op *op = op_new(ev == SIL_EV_SET ? OP_SET : OP_EXPIRE, sil->id, prev_id);

  if (op && ev == SIL_EV_SET) {
    struct buf m;
    buf_init(&m, 0);
    if (!silence_matchers_to_json(sil->ms, &m) && m.data)
      op->fields
          = render_fields(m.data, sil->starts_ms, sil->ends_ms, sil->created_by, sil->comment);
    buf_free(&m);
    if (!op->fields) {
      op_free(op);
      op = NULL;
    }
  }
  if (!op) {
    metrics_silence_forward("dropped");
    rblog(LOG_ERROR, "silence not forwarded upstream: out of memory", "silence", sil->id, NULL);
    return;
  }
  enqueue(f, op);
}

/* ---- HTTP -------------------------------------------------------------- */

struct answer {
  long status;
  struct buf body;
  char err[CURL_ERROR_SIZE];
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
  struct answer *a = arg;
  size_t len = size * n;

  if (a->body.len + len > MAX_ANSWER)
    return len; /* keep the start only */
  buf_append(&a->body, p, len);
  return len;
}

/* One request.  a->status is 0 when there was no answer (a->err says
 * why). */
static void
request(struct silence_fwd *f, const char *method, const char *path, const char *body,
        struct answer *a)
{
  CURL *e = curl_easy_init();
  struct curl_slist *h = NULL;
  char url[1024];

  a->status = 0;
  a->err[0] = '\0';
  buf_init(&a->body, 0);
  if (!e) {
    snprintf(a->err, sizeof(a->err), "cannot create a curl handle: %s",
             lazylib_why(LAZYLIB_CURL, "out of memory"));
    return;
  }
  snprintf(url, sizeof(url), "%s%s", f->url, path);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "runbookd/" RUNBOOKD_VERSION);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)f->timeout_s);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)(f->timeout_s < 5 ? f->timeout_s : 5));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->err);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  h = curl_slist_append(h, "Accept: application/json");
  if (body) {
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  }
  if (f->auth_header)
    h = curl_slist_append(h, f->auth_header);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  if (curl_easy_perform(e) == CURLE_OK)
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
  else if (!a->err[0])
    snprintf(a->err, sizeof(a->err), "request failed");
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
}

/* Waits ms unless stopped; 1 when stopping. */
static int
pause_ms(struct silence_fwd *f, int64_t ms)
{
  struct timespec ts;
  int stop;

  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&f->mu);
  while (!f->stopping && pthread_cond_timedwait(&f->cv, &f->mu, &ts) == 0)
    ;
  stop = f->stopping;
  pthread_mutex_unlock(&f->mu);
  return stop;
}

static int
stopping(struct silence_fwd *f)
{
  int s;
  pthread_mutex_lock(&f->mu);
  s = f->stopping;
  pthread_mutex_unlock(&f->mu);
  return s;
}

struct upstream_job {
  const char *id, *upstream;
};

static rb_status
put_upstream(struct store *st, void *arg)
{
  struct upstream_job *j = arg;
  return store_w_silence_upstream(st, j->id, j->upstream);
}

static void
record(struct silence_fwd *f, const char *id, const char *upstream)
{
  struct upstream_job j = { id, upstream };
  rb_status rc;

  pthread_mutex_lock(&f->mu);
  map_put(f, id, upstream);
  pthread_mutex_unlock(&f->mu);
  if (f->st && (rc = store_submit(f->st, put_upstream, &j)) != RB_OK)
    rblog(LOG_WARN, "cannot store the upstream id of a forwarded silence", "silence", id,
          "upstream_id", upstream, "error", rb_strerror(rc), NULL);
}

/* A short, printable excerpt of an answer (len bytes, not NUL-terminated)
 * for the log: at most 200 bytes, anything but printable ASCII a space. */
static void
excerpt(const char *body, size_t len, char *out, size_t n)
{
  size_t o = 0;

  for (size_t i = 0; body && i < len && o + 1 < n && o < 200; i++) {
    unsigned char c = (unsigned char)body[i];
    out[o++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
  }
  out[o] = '\0';
}

enum silence_fwd_verdict
silence_fwd_answer(int expire, long status, const char *body, size_t len,
                   char upstream_id[SILENCE_ID_LEN], char *why)
{
  enum silence_fwd_verdict r;
  char snippet[256];

  upstream_id[0] = '\0';
  excerpt(body, len, snippet, sizeof(snippet));
  if (status >= 200 && status < 300) {
    r = SFWD_OK;
    if (!expire) {
      cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
      const cJSON *sid = cJSON_GetObjectItemCaseSensitive(j, "silenceID");
      if (cJSON_IsString(sid) && silence_id_valid(sid->valuestring)) {
        snprintf(upstream_id, SILENCE_ID_LEN, "%s", sid->valuestring);
      } else {
        snprintf(why, RB_ERRLEN, "answer %ld without a silenceID: %s", status, snippet);
        r = SFWD_FINAL;
      }
      cJSON_Delete(j);
    }
  } else if (expire && strstr(snippet, "already expired")) {
    r = SFWD_OK; /* 0.25 answers 500 for a silence expired there already */
  } else if ((status == 404 || (status == 500 && expire)) && strstr(snippet, "not found")) {
    snprintf(why, RB_ERRLEN, "upstream %ld: %s", status, snippet);
    r = SFWD_UNKNOWN_ID;
  } else {
    snprintf(why, RB_ERRLEN, "upstream %ld: %s", status, snippet);
    r = status >= 500 || status == 429 || status == 408 ? SFWD_RETRY : SFWD_FINAL;
  }
  return r;
}

/* One attempt at a change.  why (RB_ERRLEN) says what went wrong. */
static enum silence_fwd_verdict
attempt(struct silence_fwd *f, const struct fwd_op *op, const char *upstream, char *why)
{
  struct answer a;
  char path[128], sid[SILENCE_ID_LEN];
  enum silence_fwd_verdict r;

  if (op->kind == OP_SET) {
    struct buf b;
    buf_init(&b, 0);
    if (*upstream)
      buf_printf(&b, "{\"id\":\"%s\",%s", upstream, op->fields);
    else
      buf_printf(&b, "{%s", op->fields);
    if (!b.data) {
      snprintf(why, RB_ERRLEN, "out of memory");
      return SFWD_RETRY;
    }
    request(f, "POST", "/api/v2/silences", b.data, &a);
    buf_free(&b);
  } else {
    snprintf(path, sizeof(path), "/api/v2/silence/%s", upstream);
    request(f, "DELETE", path, NULL, &a);
  }
  if (a.status == 0) {
    snprintf(why, RB_ERRLEN, "%s", a.err);
    r = SFWD_RETRY;
  } else {
    r = silence_fwd_answer(op->kind == OP_EXPIRE, a.status, a.body.data, a.body.len, sid, why);
    if (r == SFWD_OK && sid[0])
      record(f, op->id, sid);
  }
  buf_free(&a.body);
  return r;
}

static void
process(struct silence_fwd *f, const struct fwd_op *op)
{
  const char *what = op->kind == OP_SET ? "set" : "expire";
  char upstream[SILENCE_ID_LEN], why[RB_ERRLEN] = "", n[16];
  int64_t delay = f->backoff_ms;
  unsigned tries = 0;

  map_get(f, op->id, upstream);
  if (!*upstream && op->kind == OP_SET)
    map_get(f, op->prev, upstream); /* the silence this one replaced */
  if (!*upstream && op->kind == OP_EXPIRE) {
    metrics_silence_forward("skipped");
    rblog(LOG_INFO, "silence expiry not forwarded: the silence never reached the upstream",
          "silence", op->id, NULL);
    return;
  }
  for (;;) {
    enum silence_fwd_verdict r = attempt(f, op, upstream, why);
    tries++;
    if (r == SFWD_OK) {
      char now[SILENCE_ID_LEN];
      metrics_silence_forward("ok");
      map_get(f, op->id, now);
      rblog(LOG_DEBUG, "silence forwarded upstream", "silence", op->id, "operation", what,
            "upstream_id", op->kind == OP_SET ? now : upstream, NULL);
      return;
    }
    if (r == SFWD_UNKNOWN_ID && op->kind == OP_SET && *upstream) {
      /* The upstream lost the silence (a restart without its data):
       * create it afresh. */
      rblog(LOG_WARN, "upstream does not know the silence any more; creating it again", "silence",
            op->id, "upstream_id", upstream, NULL);
      upstream[0] = '\0';
      continue;
    }
    snprintf(n, sizeof(n), "%u", tries);
    if (r != SFWD_RETRY) {
      metrics_silence_forward("rejected");
      rblog(LOG_ERROR, "silence forwarding refused by the upstream Alertmanager", "silence", op->id,
            "operation", what, "url", f->url, "error", why, NULL);
      return;
    }
    if (tries >= f->max_attempts) {
      metrics_silence_forward("failed");
      rblog(LOG_ERROR, "silence forwarding failed; giving up", "silence", op->id, "operation", what,
            "url", f->url, "attempts", n, "error", why, NULL);
      return;
    }
    metrics_silence_forward("retry");
    rblog(LOG_WARN, "silence forwarding failed; retrying", "silence", op->id, "operation", what,
          "url", f->url, "attempt", n, "error", why, NULL);
    if (pause_ms(f, delay))
      return;
    delay = delay * 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : delay * 2;
  }
}

static void *
worker(void *arg)
{
  struct silence_fwd *f = arg;

  rb_thread_name("rb-silence-fwd");

  for (;;) {
    struct fwd_op *op;

    pthread_mutex_lock(&f->mu);
    while (!f->head && !f->stopping)
      pthread_cond_wait(&f->cv, &f->mu);
    if (f->stopping) {
      pthread_mutex_unlock(&f->mu);
      break;
    }
    op = f->head;
    f->head = op->next;
    if (!f->head)
      f->tail = NULL;
    f->queued--;
    f->busy = 1;
    pthread_mutex_unlock(&f->mu);

    process(f, op);
    op_free(op);

    pthread_mutex_lock(&f->mu);
    f->busy = 0;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (stopping(f))
      break;
  }
  return NULL;
}

int
silence_fwd_idle(struct silence_fwd *f, int64_t timeout_ms)
{
  int64_t end = rb_mono_ns() / 1000000 + timeout_ms;
  int idle;

  for (;;) {
    pthread_mutex_lock(&f->mu);
    idle = !f->head && !f->busy;
    pthread_mutex_unlock(&f->mu);
    if (idle || rb_mono_ns() / 1000000 >= end)
      return idle;
    struct timespec ts = { 0, 5 * 1000000L };
    nanosleep(&ts, NULL);
  }
}

/* ---- start and stop ------------------------------------------------------ */

/* Recorded ids, and the active or pending silences never forwarded. */
static rb_status
load(struct silence_fwd *f, char *err)
{
  struct silence_row *rows = NULL;
  size_t n = 0, requeued = 0;
  int64_t now = rb_wall_ms();
  rb_status rc;

  if (!f->st)
    return RB_OK;
  rc = store_silences_all(f->st, &rows, &n);
  if (rc) {
    snprintf(err, RB_ERRLEN, "cannot read silences from the store: %s", rb_strerror(rc));
    return rc;
  }
  for (size_t i = 0; i < n; i++) {
    const struct silence_row *r = &rows[i];
    if (r->upstream_id[0]) {
      map_put(f, r->id, r->upstream_id);
    } else if (r->ends_ms > now) {
      struct fwd_op *op = op_new(OP_SET, r->id, NULL);
      if (op)
        op->fields
            = render_fields(r->matchers_json, r->starts_ms, r->ends_ms, r->created_by, r->comment);
      if (!op || !op->fields) {
        op_free(op);
        continue;
      }
      enqueue(f, op);
      requeued++;
    }
  }
  silence_rows_free(rows, n);
  if (requeued) {
    char c[32];
    snprintf(c, sizeof(c), "%zu", requeued);
    rblog(LOG_INFO, "silences not yet forwarded upstream queued again", "silences", c, NULL);
  }
  return RB_OK;
}

rb_status
silence_fwd_start(const struct silence_fwd_options *o, struct silence_fwd **out, char *err)
{
  struct silence_fwd *f = calloc(1, sizeof(*f));
  size_t len;
  rb_status rc;

  *out = NULL;
  if (!f || !o->url) {
    free(f);
    snprintf(err, RB_ERRLEN, o->url ? "out of memory" : "no upstream URL");
    return o->url ? RB_ENOMEM : RB_EINVAL;
  }
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->url = strdup(o->url);
  if (f->url) {
    len = strlen(f->url);
    while (len && f->url[len - 1] == '/')
      f->url[--len] = '\0';
  }
  if (o->bearer_token && *o->bearer_token
      && asprintf(&f->auth_header, "Authorization: Bearer %s", o->bearer_token) < 0)
    f->auth_header = NULL;
  f->timeout_s = o->timeout_s ? o->timeout_s : 5;
  f->max_attempts = o->max_attempts ? o->max_attempts : 5;
  f->backoff_ms = o->backoff_ms ? o->backoff_ms : 1000;
  f->queue_max = o->queue_size ? o->queue_size : 1000;
  f->st = o->store;
  if (!f->url || (o->bearer_token && *o->bearer_token && !f->auth_header)) {
    silence_fwd_stop(f);
    snprintf(err, RB_ERRLEN, "out of memory");
    return RB_ENOMEM;
  }
  rc = load(f, err);
  if (rc) {
    silence_fwd_stop(f);
    return rc;
  }
  if (pthread_create(&f->thread, NULL, worker, f) != 0) {
    silence_fwd_stop(f);
    snprintf(err, RB_ERRLEN, "cannot start the silence forwarding thread");
    return RB_EINTERNAL;
  }
  f->started = 1;
  rblog(LOG_INFO, "silences are forwarded upstream", "url", f->url, NULL);
  *out = f;
  return RB_OK;
}

void
silence_fwd_stop(struct silence_fwd *f)
{
  size_t left = 0;

  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  f->stopping = 1;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  if (f->started)
    pthread_join(f->thread, NULL);
  while (f->head) {
    struct fwd_op *op = f->head;
    f->head = op->next;
    op_free(op);
    left++;
  }
  if (left) {
    char c[32];
    snprintf(c, sizeof(c), "%zu", left);
    rblog(LOG_WARN, "stopping with silence changes not forwarded upstream", "changes", c, NULL);
  }
  if (f->auth_header) {
    explicit_bzero(f->auth_header, strlen(f->auth_header));
    free(f->auth_header);
  }
  free(f->url);
  free(f->map);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f);
}
