/*
 * kube.c - send requests to the Kubernetes API with libcurl (see kube.h).
 *
 * Credentials: an explicit URL with token and CA files, plain http (for
 * `kubectl proxy`), or in-cluster (KUBERNETES_SERVICE_HOST and the service
 * account's files).  The token file is read at each request, so rotated
 * (bound) service account tokens are picked up.
 */
#include "kube.h"
#include "buf.h"
#include "lazylib.h"
#include "log.h"
#include "rbfile.h"
#include "version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define RESP_MAX (16u << 20)

struct kube_client {
  char *url;
  char *token_file;
  char *ca_file;
  unsigned timeout_s;
  unsigned retries;
  unsigned backoff_ms;
};

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
/* One easy handle per thread, reused: libcurl keeps its connections (and
 * TLS sessions) open between requests, so a step's requests do not each
 * pay a new TCP and TLS handshake with the API server. */
static pthread_key_t handle_key;

static void
handle_free(void *h)
{
  curl_easy_cleanup(h);
}

static void
key_init_once(void)
{
  pthread_key_create(&handle_key, handle_free);
}

static CURL *
thread_handle(void)
{
  CURL *e = pthread_getspecific(handle_key);
  if (e) {
    curl_easy_reset(e);
    return e;
  }
  e = curl_easy_init();
  if (e && pthread_setspecific(handle_key, e) != 0) {
    curl_easy_cleanup(e);
    e = NULL;
  }
  return e;
}

rb_status
kube_client_new(const struct kube_options *o, struct kube_client **out, char *err)
{
  struct kube_client *c;
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  char url[512];

  *out = NULL;
  c = calloc(1, sizeof(*c));
  if (!c)
    return RB_ENOMEM;
  if (o->api_url && *o->api_url) {
    size_t n = strlen(o->api_url);
    c->url = strdup(o->api_url);
    while (n > 0 && c->url[n - 1] == '/')
      c->url[--n] = '\0';
    if (o->token_file)
      c->token_file = strdup(o->token_file);
    if (o->ca_file)
      c->ca_file = strdup(o->ca_file);
  } else if (host && *host) {
    snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
             port && *port ? port : "443");
    c->url = strdup(url);
    c->token_file = strdup(o->token_file ? o->token_file : SA_DIR "/token");
    c->ca_file = strdup(o->ca_file ? o->ca_file : SA_DIR "/ca.crt");
  } else {
    free(c);
    snprintf(err, RB_ERRLEN, "no cluster configured (no --kube.api-url and not in a pod)");
    return RB_ENOTFOUND;
  }
  /* libcurl itself is loaded (and initialised) on its first call
   * (src/util/lazylib.c): only when a cluster is there to talk to. */
  pthread_once(&key_once, key_init_once);
  c->timeout_s = o->timeout_s ? o->timeout_s : 10;
  c->retries = o->retries;
  c->backoff_ms = o->backoff_ms ? o->backoff_ms : 200;
  *out = c;
  return RB_OK;
}

void
kube_client_free(struct kube_client *c)
{
  if (!c)
    return;
  free(c->url);
  free(c->token_file);
  free(c->ca_file);
  free(c);
}

const char *
kube_client_url(const struct kube_client *c)
{
  return c ? c->url : NULL;
}

void
kube_resp_clear(struct kube_resp *r)
{
  if (!r)
    return;
  free(r->body);
  free(r->reason);
  free(r->message);
  memset(r, 0, sizeof(*r));
}

static size_t
on_data(char *p, size_t size, size_t nmemb, void *ud)
{
  struct buf *b = ud;
  size_t n = size * nmemb;
  return buf_append(b, p, n) == RB_OK ? n : 0; /* 0 aborts: over RESP_MAX */
}

struct hdrs {
  long retry_after_ms;
};

long
kube_retry_after_ms(const char *line, size_t n)
{
  static const char name[] = "Retry-After:";
  size_t i = sizeof(name) - 1;
  long ms = 0;

  /* libcurl's header lines are not NUL-terminated: read within n. */
  if (n <= i || strncasecmp(line, name, i) != 0)
    return -1;
  while (i < n && (line[i] == ' ' || line[i] == '\t'))
    i++;
  if (i == n || line[i] < '0' || line[i] > '9')
    return -1; /* an HTTP-date, or nothing: our own backoff */
  for (; i < n && line[i] >= '0' && line[i] <= '9'; i++)
    if (ms < KUBE_BACKOFF_CAP_MS)
      ms = ms * 10 + (line[i] - '0') * 1000L;
  while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
    i++;
  if (i != n)
    return -1;
  return ms > KUBE_BACKOFF_CAP_MS ? KUBE_BACKOFF_CAP_MS : ms;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *ud)
{
  struct hdrs *h = ud;
  size_t n = size * nmemb;
  long ms = kube_retry_after_ms(p, n);

  if (ms >= 0)
    h->retry_after_ms = ms;
  return n;
}

void
kube_status_parse(struct kube_resp *r)
{
  cJSON *o;
  const cJSON *kind, *v;

  if (!r->body || r->status < 300)
    return;
  o = cJSON_ParseWithLength(r->body, r->len);
  kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
  if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(o, "reason");
    if (cJSON_IsString(v))
      r->reason = strdup(v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(o, "message");
    if (cJSON_IsString(v))
      r->message = strdup(v->valuestring);
  } else if (!o && r->len) {
    /* Not JSON: a text answer (the API Priority and Fairness filter's
     * 429, a proxy's error page), its first line, printable ASCII only,
     * at most 200 bytes. */
    size_t n = 0;
    char *m = malloc(201);
    for (size_t i = 0; m && i < r->len && n < 200; i++) {
      unsigned char ch = (unsigned char)r->body[i];
      if (ch == '\n' || ch == '\r')
        break;
      m[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    while (m && n && m[n - 1] == ' ')
      n--;
    if (m && n) {
      m[n] = '\0';
      r->message = m;
    } else {
      free(m);
    }
  }
  cJSON_Delete(o);
}

static void
sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static rb_status
attempt(struct kube_client *c, const struct kube_req *req, struct kube_resp *resp,
        struct hdrs *h, char *errbuf)
{
  CURL *e = thread_handle();
  struct curl_slist *hl = NULL;
  struct buf body;
  char url[4096], auth[8300], ct[128], tokerr[RB_ERRLEN];
  char *token;
  CURLcode cc;

  if (!e) {
    snprintf(errbuf, CURL_ERROR_SIZE, "%s", lazylib_why(LAZYLIB_CURL, "out of memory"));
    return RB_ENOMEM;
  }
  buf_init(&body, RESP_MAX);
  snprintf(url, sizeof(url), "%s%s", c->url, req->path);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)c->timeout_s);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)(c->timeout_s < 5 ? c->timeout_s : 5));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "runbookd/" RUNBOOKD_VERSION);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  if (c->ca_file)
    curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
  hl = curl_slist_append(hl, "Accept: application/json");
  token = c->token_file ? rb_read_secret(c->token_file, tokerr, sizeof(tokerr)) : NULL;
  if (token) {
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    hl = curl_slist_append(hl, auth);
    explicit_bzero(auth, sizeof(auth));
    explicit_bzero(token, strlen(token));
    free(token);
  }
  if (req->body) {
    snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type ? req->content_type
                                                                    : KUBE_CT_JSON);
    hl = curl_slist_append(hl, ct);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
  cc = curl_easy_perform(e);
  for (struct curl_slist *l = hl; l; l = l->next) /* curl's copy of the token */
    explicit_bzero(l->data, strlen(l->data));
  curl_slist_free_all(hl);
  if (cc == CURLE_OK) {
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->len = body.len;
    resp->body = buf_steal(&body);
  } else if (!errbuf[0]) {
    snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
  }
  buf_free(&body);
  return cc == CURLE_OK ? RB_OK : RB_EUNAVAIL;
}

rb_status
kube_do(struct kube_client *c, const struct kube_req *req, struct kube_resp *resp)
{
  long backoff = c->backoff_ms;
  char errbuf[CURL_ERROR_SIZE];
  rb_status rc = RB_EUNAVAIL;

  memset(resp, 0, sizeof(*resp));
  if (!c) {
    /* No cluster configured: nothing can be sent (callers check first;
     * this keeps a missed check from crashing the daemon). */
    resp->message = strdup("no cluster configured");
    return RB_EUNAVAIL;
  }
  for (unsigned i = 0; i <= c->retries; i++) {
    struct hdrs h = { -1 };
    errbuf[0] = '\0';
    kube_resp_clear(resp);
    resp->attempts = i + 1;
    rc = attempt(c, req, resp, &h, errbuf);
    if (rc == RB_OK && resp->status != 429 && resp->status < 500)
      break;
    if (i == c->retries)
      break;
    {
      long wait = backoff;
      if (rc == RB_OK && h.retry_after_ms >= 0)
        wait = h.retry_after_ms;
      if (wait > KUBE_BACKOFF_CAP_MS)
        wait = KUBE_BACKOFF_CAP_MS;
      rblog(LOG_WARN, "kubernetes request will be retried", "method", req->method, "path",
            req->path, "error", rc == RB_OK ? "server busy or failing" : errbuf, NULL);
      sleep_ms(wait);
      backoff = backoff * 2 > KUBE_BACKOFF_CAP_MS ? KUBE_BACKOFF_CAP_MS : backoff * 2;
    }
  }
  if (rc != RB_OK) {
    resp->message = strdup(errbuf[0] ? errbuf : "no answer");
    return rc;
  }
  kube_status_parse(resp);
  return RB_OK;
}
