/*
 * config.c - load, validate and reference-count runbookd's configuration.
 *
 * One table lists every option once: its JSON path, its flag, its type and
 * where it lands in struct rb_config (Redis's config.c style).  Loading
 * walks the table for the file, then for the flags, then validates the
 * whole; every problem goes into a list so `check-config` can name them
 * all with file and field.
 */
#include "config.h"
#include "apiauth.h"
#include "rbfile.h"
#include "log.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum opt_type { T_STR, T_BOOL, T_TRIBOOL, T_SIZE, T_UINT, T_I64, T_LOGLEVEL,
                T_LOGFORMAT };

struct opt {
  const char *path;  /* JSON path, dot separated */
  const char *flag;  /* without the leading "--" */
  enum opt_type type;
  size_t off;
  long long min, max;
  int file_relative; /* a path resolved against the config file's folder */
  const char *help;
};

#define O(f) offsetof(struct rb_config, f)
static const struct opt opts[] = {
  { "web.listen_address", "web.listen-address", T_STR, O(listen_address), 0, 0, 0,
    "HTTP listener, host:port" },
  { "web.tls_cert_file", "web.tls-cert-file", T_STR, O(tls_cert_file), 0, 0, 1,
    "PEM certificate; with the key, serve HTTPS" },
  { "web.tls_key_file", "web.tls-key-file", T_STR, O(tls_key_file), 0, 0, 1,
    "PEM private key for --web.tls-cert-file" },
  { "web.insecure_no_auth", "web.insecure-no-auth", T_BOOL, O(insecure_no_auth), 0, 0, 0,
    "allow a non-loopback listener without credentials" },
  { "web.max_body_bytes", "web.max-body-bytes", T_SIZE, O(max_body_bytes), 1024, 1LL << 30, 0,
    "largest request body accepted (413 above)" },
  { "web.max_body_bytes_in_flight", "web.max-body-bytes-in-flight", T_SIZE,
    O(max_body_bytes_in_flight), 1024, 1LL << 40, 0,
    "request body bytes held at once, all connections (503 above)" },
  { "web.max_header_bytes", "web.max-header-bytes", T_SIZE, O(max_header_bytes), 2048, 1 << 20, 0,
    "memory for one request's headers" },
  { "web.max_connections", "web.max-connections", T_UINT, O(max_connections), 1, 100000, 0,
    "concurrent connections" },
  { "web.max_connections_per_ip", "web.max-connections-per-ip", T_UINT, O(max_connections_per_ip), 0, 100000, 0,
    "concurrent connections from one address (0: no limit)" },
  { "web.connection_timeout_seconds", "web.connection-timeout", T_UINT, O(connection_timeout_s), 1, 3600, 0,
    "idle seconds before a connection is closed" },
  { "web.auth.bearer_token_file", "web.auth.bearer-token-file", T_STR, O(bearer_token_file), 0, 0, 1,
    "file holding the webhook's bearer token" },
  { "web.auth.basic_auth.username", "web.auth.basic-username", T_STR, O(basic_username), 0, 0, 0,
    "basic auth user name for the webhook" },
  { "web.auth.basic_auth.password_file", "web.auth.basic-password-file", T_STR, O(basic_password_file), 0, 0, 1,
    "file holding the basic auth password" },
  { "storage.path", "storage.path", T_STR, O(storage_path), 0, 0, 0,
    "embedded SQLite store directory" },
  { "storage.postgres", "storage.postgres", T_STR, O(storage_postgres), 0, 0, 0,
    "PostgreSQL conninfo (instead of SQLite)" },
  /* 2^53-1: the largest integer a JSON number (a double) holds exactly. */
  { "storage.max_bytes", "storage.max-bytes", T_I64, O(storage_max_bytes), 0, 9007199254740991LL, 0,
    "refuse writes (503) once the store is this large (0: no limit; at most 2^53-1)" },
  { "intake.max_alerts", "intake.max-alerts", T_SIZE, O(max_alerts), 1, 1000000, 0,
    "alerts in one webhook" },
  { "intake.max_labels", "intake.max-labels", T_SIZE, O(max_labels), 1, 10000, 0,
    "labels (or annotations) on one alert" },
  { "intake.max_label_name_bytes", "intake.max-label-name-bytes", T_SIZE, O(max_label_name_bytes), 16, 1 << 20, 0,
    "bytes in a label name" },
  { "intake.max_label_value_bytes", "intake.max-label-value-bytes", T_SIZE, O(max_label_value_bytes), 16, 1 << 24, 0,
    "bytes in a label value" },
  { "intake.max_annotation_bytes", "intake.max-annotation-bytes", T_SIZE, O(max_annotation_bytes), 16, 1 << 24, 0,
    "bytes in an annotation value" },
  { "intake.max_json_depth", "intake.max-json-depth", T_UINT, O(max_json_depth), 4, 1000, 0,
    "nesting depth of a webhook body" },
  { "remediation.dir", "remediation.dir", T_STR, O(remediation_dir), 0, 0, 0,
    "remediation plan files" },
  { "remediation.dry_run", "dry-run", T_TRIBOOL, O(dry_run), 0, 0, 0,
    "decide and record everything, change nothing (default: on without a cluster)" },
  { "remediation.workers", "remediation.workers", T_UINT, O(rem_workers), 1, 32, 0,
    "threads that decide remediations" },
  { "remediation.max_concurrent_runs", "remediation.max-concurrent-runs", T_UINT,
    O(rem_max_runs), 1, 1024, 0, "remediation runs executing at once (others wait their turn)" },
  { "remediation.queue_size", "remediation.queue-size", T_UINT, O(rem_queue_size), 1, 100000, 0,
    "remediation decisions waiting for a worker" },
  { "remediation.max_actions_per_minute", "remediation.max-actions-per-minute", T_UINT,
    O(rem_per_minute), 1, 100000, 0, "remediation runs started per minute, all plans" },
  { "remediation.max_actions_per_hour", "remediation.max-actions-per-hour", T_UINT,
    O(rem_per_hour), 1, 10000000, 0, "remediation runs started per hour, all plans" },
  { "remediation.prometheus_url", "remediation.prometheus-url", T_STR, O(prometheus_url), 0, 0, 0,
    "Prometheus for promql steps" },
  { "remediation.postgres_conninfo_file", "remediation.postgres-conninfo-file", T_STR,
    O(pg_conninfo_file), 0, 0, 1, "file holding the libpq conninfo for postgres steps" },
  { "kube.api_url", "kube.api-url", T_STR, O(kube_api_url), 0, 0, 0,
    "Kubernetes API URL (default: in-cluster)" },
  { "kube.token_file", "kube.token-file", T_STR, O(kube_token_file), 0, 0, 1,
    "bearer token file for the Kubernetes API" },
  { "kube.ca_file", "kube.ca-file", T_STR, O(kube_ca_file), 0, 0, 1,
    "CA bundle for the Kubernetes API" },
  { "kube.timeout_seconds", "kube.timeout", T_UINT, O(kube_timeout_s), 1, 300, 0,
    "timeout of one Kubernetes request" },
  { "kube.retries", "kube.retries", T_UINT, O(kube_retries), 0, 10, 0,
    "retries of a Kubernetes request answered 429 or 5xx" },
  { "silences.upstream.url", "silences.upstream-url", T_STR, O(sil_upstream_url), 0, 0, 0,
    "forward silences to this Alertmanager (http:// or https://; unset: off)" },
  { "silences.upstream.bearer_token_file", "silences.upstream-bearer-token-file", T_STR,
    O(sil_upstream_token_file), 0, 0, 1, "file holding a bearer token for the upstream Alertmanager" },
  { "silences.upstream.timeout_seconds", "silences.upstream-timeout", T_UINT,
    O(sil_upstream_timeout_s), 1, 300, 0, "timeout of one request to the upstream Alertmanager" },
  { "silences.upstream.max_attempts", "silences.upstream-max-attempts", T_UINT,
    O(sil_upstream_attempts), 1, 100, 0,
    "tries of one silence change (connection errors and 5xx are retried)" },
  { "silences.upstream.retry_backoff_ms", "silences.upstream-retry-backoff-ms", T_UINT,
    O(sil_upstream_backoff_ms), 10, 600000, 0,
    "delay before the first retry; doubled each time, at most 30 s" },
  { "silences.upstream.queue_size", "silences.upstream-queue-size", T_UINT,
    O(sil_upstream_queue), 1, 1000000, 0, "silence changes waiting to be forwarded" },
  { "log.level", "log.level", T_LOGLEVEL, O(log_level), 0, 0, 0,
    "debug, info, warn or error" },
  { "log.format", "log.format", T_LOGFORMAT, O(log_json), 0, 0, 0,
    "logfmt or json" },
};
#undef O

_Static_assert(RB_ARRAY_LEN(opts) <= RB_CONFIG_MAX_OPTS, "rb_config.opt_src is too small");

/* Objects that may appear in the file (their leaves are in opts[] or are
 * handled by name below). */
static const char *const sections[] = {
  "web", "web.auth", "web.auth.basic_auth", "storage", "intake", "severity",
  "severity.map", "remediation", "kube", "log", "escalation", "api",
  "silences", "silences.upstream",
};

static int saved_argc;
static char **saved_argv;

void
config_remember_flags(int argc, char **argv)
{
  saved_argc = argc;
  saved_argv = argv;
}

void
config_errors_init(struct config_errors *e)
{
  e->head = NULL;
  e->tail = &e->head;
  e->n = 0;
}

void
config_errors_add(struct config_errors *e, const char *where, const char *fmt,
                  ...)
{
  va_list ap;

  va_start(ap, fmt);
  config_errors_vadd(e, where, fmt, ap);
  va_end(ap);
}

void
config_errors_vadd(struct config_errors *e, const char *where, const char *fmt, va_list ap)
{
  struct config_error *ce = calloc(1, sizeof(*ce));
  char msg[512];

  if (!ce)
    return;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  ce->where = strdup(where);
  ce->what = strdup(msg);
  *e->tail = ce;
  e->tail = &ce->next;
  e->n++;
}

void
config_errors_free(struct config_errors *e)
{
  struct config_error *ce, *next;
  for (ce = e->head; ce; ce = next) {
    next = ce->next;
    free(ce->where);
    free(ce->what);
    free(ce);
  }
  config_errors_init(e);
}

/* Prints an option's default value, read from a defaults configuration. */
static void
print_default(const struct rb_config *d, const struct opt *o)
{
  const void *f = (const char *)d + o->off;

  switch (o->type) {
  case T_STR:
    if (*(char *const *)f)
      printf(", default %s", *(char *const *)f);
    break;
  case T_SIZE: printf(", default %zu", *(const size_t *)f); break;
  case T_UINT: printf(", default %u", *(const unsigned *)f); break;
  case T_I64: printf(", default %lld", (long long)*(const int64_t *)f); break;
  case T_BOOL: printf(", default %s", *(const int *)f ? "true" : "false"); break;
  case T_LOGLEVEL: printf(", default info"); break;
  case T_LOGFORMAT: printf(", default logfmt"); break;
  case T_TRIBOOL: break;
  }
}

static void
set_defaults(struct rb_config *c)
{
  c->listen_address = strdup("127.0.0.1:9095");
  c->max_body_bytes = 32u << 20;
  c->max_body_bytes_in_flight = (size_t)256 << 20;
  c->max_header_bytes = 16u << 10;
  c->max_connections = 1024;
  c->max_connections_per_ip = 0;
  c->connection_timeout_s = 30;
  c->storage_path = strdup("./data");
  c->max_alerts = 50000;
  c->max_labels = 256;
  c->max_label_name_bytes = 1024;
  c->max_label_value_bytes = 16384;
  c->max_annotation_bytes = 65536;
  c->max_json_depth = 32;
  severity_map_defaults(&c->severity);
  c->remediation_dir = strdup("./remediation");
  c->rem_workers = 2;
  c->rem_max_runs = 16;
  c->rem_queue_size = 1000;
  c->rem_per_minute = 6;
  c->rem_per_hour = 30;
  c->kube_timeout_s = 10;
  c->kube_retries = 3;
  c->sil_upstream_timeout_s = 5;
  c->sil_upstream_attempts = 5;
  c->sil_upstream_backoff_ms = 1000;
  c->sil_upstream_queue = 1000;
  c->dry_run = -1;
  c->log_level = LOG_INFO;
  c->log_json = 0;
}

static char **
str_field(struct rb_config *c, const struct opt *o)
{
  return (char **)(void *)((char *)c + o->off);
}

/* Sets one option from its textual value (a flag's, or a JSON string's);
 * returns a static message on error. */
static const char *
set_from_text(struct rb_config *c, const struct opt *o, const char *v)
{
  char *end;
  long long n;

  switch (o->type) {
  case T_STR: {
    char **p = str_field(c, o);
    free(*p);
    *p = *v ? strdup(v) : NULL;
    return NULL;
  }
  case T_BOOL:
  case T_TRIBOOL: {
    int b;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
      b = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
      b = 0;
    else
      return "must be true or false";
    *(int *)(void *)((char *)c + o->off) = b;
    return NULL;
  }
  case T_SIZE:
  case T_UINT:
  case T_I64:
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0')
      return "must be an integer";
    if (n < o->min || n > o->max) {
      static _Thread_local char range[96];
      snprintf(range, sizeof(range), "is out of range (%lld to %lld)", o->min, o->max);
      return range;
    }
    if (o->type == T_SIZE)
      *(size_t *)(void *)((char *)c + o->off) = (size_t)n;
    else if (o->type == T_UINT)
      *(unsigned *)(void *)((char *)c + o->off) = (unsigned)n;
    else
      *(int64_t *)(void *)((char *)c + o->off) = (int64_t)n;
    return NULL;
  case T_LOGLEVEL: {
    int l = log_level_parse(v);
    if (l < 0)
      return "must be one of debug, info, warn, error";
    c->log_level = l;
    return NULL;
  }
  case T_LOGFORMAT:
    if (strcmp(v, "json") == 0)
      c->log_json = 1;
    else if (strcmp(v, "logfmt") == 0)
      c->log_json = 0;
    else
      return "must be logfmt or json";
    return NULL;
  }
  return "unsupported option type";
}

static cJSON *
json_path(cJSON *root, const char *path)
{
  char part[64];
  const char *p = path, *dot;
  cJSON *n = root;

  while (n && *p) {
    size_t len;
    dot = strchr(p, '.');
    len = dot ? (size_t)(dot - p) : strlen(p);
    if (len >= sizeof(part))
      return NULL;
    memcpy(part, p, len);
    part[len] = '\0';
    n = cJSON_GetObjectItemCaseSensitive(n, part);
    p = dot ? dot + 1 : p + len;
  }
  return n;
}

static const struct opt *
find_path(const char *path)
{
  for (size_t i = 0; i < RB_ARRAY_LEN(opts); i++)
    if (strcmp(opts[i].path, path) == 0)
      return &opts[i];
  return NULL;
}

/* What a path of the file is: a leaf (an option, or a severity key), a
 * section whose keys are checked here, a section that must be an object
 * but whose keys are free (severity.map's aliases), or one parsed by its
 * own module (escalation, api). */
enum path_kind { PK_UNKNOWN, PK_LEAF, PK_SECTION, PK_MAP, PK_OPAQUE };

static enum path_kind
path_kind(const char *path)
{
  if (strcmp(path, "escalation") == 0 || strcmp(path, "api") == 0)
    return PK_OPAQUE; /* escalation/policy.c, http/apiauth.c */
  if (strcmp(path, "severity.map") == 0)
    return PK_MAP;
  if (strcmp(path, "severity.default") == 0 || strcmp(path, "severity.unknown") == 0
      || find_path(path))
    return PK_LEAF;
  for (size_t i = 0; i < RB_ARRAY_LEN(sections); i++)
    if (strcmp(sections[i], path) == 0)
      return PK_SECTION;
  return PK_UNKNOWN;
}

/* A key holding a '.' is not a path: {"storage.path": "x"} would be
 * ignored.  The message shows the nested form. */
static void
dotted_key(const char *prefix, const char *key, const char *file, struct config_errors *errs)
{
  char where[768], nested[400];
  size_t n = 0, parts = 0;
  const char *k = key;

  for (;;) {
    size_t len = strcspn(k, ".");
    int w = snprintf(nested + n, sizeof(nested) - n, "{\"%.*s\": ", (int)(len < 60 ? len : 60), k);
    n += w > 0 ? (size_t)w : 0;
    parts++;
    if (!k[len] || n >= 200)
      break;
    k += len + 1;
  }
  memcpy(nested + n, "...", 3);
  n += 3;
  while (parts-- > 0 && n + 1 < sizeof(nested))
    nested[n++] = '}';
  nested[n] = '\0';
  snprintf(where, sizeof(where), "%s: %s%s\"%s\"", file, prefix, *prefix ? "." : "", key);
  config_errors_add(errs, where,
                    "unknown field: a key cannot hold a '.'; nest the objects instead: %s", nested);
}

static void
check_unknown(cJSON *obj, const char *prefix, const char *file,
              struct config_errors *errs)
{
  cJSON *it;
  char path[256], where[512];

  cJSON_ArrayForEach(it, obj) {
    if (strchr(it->string, '.')) {
      dotted_key(prefix, it->string, file, errs);
      continue;
    }
    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
             it->string);
    snprintf(where, sizeof(where), "%s: %s", file, path);
    switch (path_kind(path)) {
    case PK_UNKNOWN:
      config_errors_add(errs, where, "unknown field");
      break;
    case PK_SECTION:
    case PK_MAP:
      if (!cJSON_IsObject(it)) {
        if (!cJSON_IsNull(it))
          config_errors_add(errs, where, "must be an object");
      } else if (path_kind(path) == PK_SECTION) {
        check_unknown(it, path, file, errs);
      }
      break;
    case PK_LEAF:   /* its type is checked where it is read */
    case PK_OPAQUE: /* checked by its module */
      break;
    }
  }
}

struct key_ref {
  const char *name;
  size_t index; /* in the object; for a duplicate, its second occurrence */
  size_t times;
};

static int
key_ref_cmp(const void *a, const void *b)
{
  const struct key_ref *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int
key_ref_index_cmp(const void *a, const void *b)
{
  const struct key_ref *x = a, *y = b;
  return (x->index > y->index) - (x->index < y->index);
}

/* Reports every key given twice in one object, anywhere in the file
 * (escalation and api included): cJSON keeps both and lookups take the
 * first, so {"level":"debug","level":"bogus"} would pass silently.  path
 * (cap bytes) holds the JSON path so far and is restored on return. */
static void
check_duplicates(const cJSON *n, char *path, size_t cap, const char *file,
                 struct config_errors *errs)
{
  size_t plen = strlen(path), count = 0, ndup = 0, i = 0;
  const cJSON *it;

  if (cJSON_IsObject(n)) {
    struct key_ref *keys;
    cJSON_ArrayForEach(it, n) count++;
    keys = count > 1 ? calloc(count, sizeof(*keys)) : NULL;
    if (keys) {
      cJSON_ArrayForEach(it, n) {
        keys[i].name = it->string ? it->string : "";
        keys[i].index = i;
        i++;
      }
      qsort(keys, count, sizeof(*keys), key_ref_cmp);
      /* Each run of equal names leaves one entry (in place: ndup <= j),
       * which is then reported in the file's order. */
      for (size_t j = 0; j < count;) {
        size_t k = j + 1;
        while (k < count && strcmp(keys[k].name, keys[j].name) == 0)
          k++;
        if (k - j > 1) {
          struct key_ref d = { keys[j].name, keys[j + 1].index, k - j };
          keys[ndup++] = d;
        }
        j = k;
      }
      qsort(keys, ndup, sizeof(*keys), key_ref_index_cmp);
      for (size_t j = 0; j < ndup; j++) {
        char where[768];
        snprintf(where, sizeof(where), "%s: %s%s%s", file, path, plen ? "." : "", keys[j].name);
        config_errors_add(errs, where, "duplicate key (given %zu times; give it once)",
                          keys[j].times);
      }
      free(keys);
    }
    cJSON_ArrayForEach(it, n) {
      snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", it->string ? it->string : "");
      check_duplicates(it, path, cap, file, errs);
      path[plen] = '\0';
    }
  } else if (cJSON_IsArray(n)) {
    cJSON_ArrayForEach(it, n) {
      snprintf(path + plen, cap - plen, "[%zu]", i++);
      check_duplicates(it, path, cap, file, errs);
      path[plen] = '\0';
    }
  }
}

static void
load_severity(struct rb_config *c, cJSON *sev, const char *file,
              struct config_errors *errs)
{
  static const char *const keys[] = { "default", "unknown" };
  char where[512];
  cJSON *it;

  for (size_t i = 0; i < RB_ARRAY_LEN(keys); i++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(sev, keys[i]);
    int l;
    if (!v)
      continue;
    snprintf(where, sizeof(where), "%s: severity.%s", file, keys[i]);
    l = cJSON_IsString(v) ? severity_parse(v->valuestring) : -1;
    if (l < 0) {
      config_errors_add(errs, where,
                        "must be one of emergency, critical, high, medium, low");
      continue;
    }
    if (i == 0)
      c->severity.missing = (enum severity)l;
    else
      c->severity.unknown = (enum severity)l;
  }
  if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(sev, "map")))
    return; /* check_unknown() said so */
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(sev, "map")) {
    int l = cJSON_IsString(it) ? severity_parse(it->valuestring) : -1;
    snprintf(where, sizeof(where), "%s: severity.map.%s", file, it->string);
    if (l < 0)
      config_errors_add(errs, where,
                        "must be one of emergency, critical, high, medium, low");
    else if (severity_map_set(&c->severity, it->string, (enum severity)l))
      config_errors_add(errs, where, "too many aliases or alias longer than 31 bytes");
  }
}

static void
load_file(struct rb_config *c, const char *file, struct config_errors *errs)
{
  const char *err = NULL, *end = NULL;
  char *text, *dir = NULL, where[512];
  cJSON *root;

  text = rb_read_file(file, 4u << 20, NULL, &err);
  if (!text) {
    config_errors_add(errs, file, "cannot read: %s", err);
    c->file_unusable = 1;
    return;
  }
  root = cJSON_ParseWithOpts(text, &end, 1);
  if (!root || !cJSON_IsObject(root)) {
    size_t off = end ? (size_t)(end - text) : 0;
    config_errors_add(errs, file, "not a JSON object (error near byte %zu)", off);
    cJSON_Delete(root);
    free(text);
    c->file_unusable = 1;
    return;
  }
  dir = rb_dirname(file);
  where[0] = '\0';
  check_duplicates(root, where, sizeof(where), file, errs);
  check_unknown(root, "", file, errs);
  for (size_t i = 0; i < RB_ARRAY_LEN(opts); i++) {
    const struct opt *o = &opts[i];
    cJSON *v = json_path(root, o->path);
    const char *msg = NULL;
    char num[64];

    if (!v || cJSON_IsNull(v))
      continue;
    snprintf(where, sizeof(where), "%s: %s", file, o->path);
    if (o->type == T_BOOL || o->type == T_TRIBOOL) {
      if (!cJSON_IsBool(v))
        msg = "must be true or false";
      else
        msg = set_from_text(c, o, cJSON_IsTrue(v) ? "true" : "false");
    } else if (o->type == T_SIZE || o->type == T_UINT || o->type == T_I64) {
      if (!cJSON_IsNumber(v) || !rb_double_is_ll(v->valuedouble))
        msg = "must be an integer";
      else {
        snprintf(num, sizeof(num), "%lld", (long long)v->valuedouble);
        msg = set_from_text(c, o, num);
      }
    } else if (!cJSON_IsString(v)) {
      msg = "must be a string";
    } else if (o->file_relative && *v->valuestring) {
      char *abs = rb_path_join(dir, v->valuestring);
      msg = abs ? set_from_text(c, o, abs) : "out of memory";
      free(abs);
    } else {
      msg = set_from_text(c, o, v->valuestring);
    }
    c->opt_src[i] = msg ? CONFIG_SRC_INVALID : CONFIG_SRC_FILE;
    if (msg)
      config_errors_add(errs, where, "%s", msg);
  }
  if (cJSON_IsObject(json_path(root, "severity")))
    load_severity(c, json_path(root, "severity"), file, errs);
  /* Sections with their own parsers keep their JSON text. */
  if (json_path(root, "escalation")) {
    free(c->escalation_json);
    c->escalation_json = cJSON_PrintUnformatted(json_path(root, "escalation"));
  }
  if (json_path(root, "api")) {
    free(c->api_json);
    c->api_json = cJSON_PrintUnformatted(json_path(root, "api"));
  }
  free(dir);
  cJSON_Delete(root);
  free(text);
}

static const struct opt *
find_flag(const char *name, size_t len)
{
  for (size_t i = 0; i < RB_ARRAY_LEN(opts); i++)
    if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0)
      return &opts[i];
  return NULL;
}

static int
is_boolish(const struct opt *o)
{
  return o->type == T_BOOL || o->type == T_TRIBOOL;
}

int
config_flag_kind(const char *name)
{
  size_t len = strcspn(name, "=");
  const struct opt *o = find_flag(name, len);

  if (len == 11 && strncmp(name, "config.file", 11) == 0)
    return CONFIG_FLAG_VALUE;
  if (o)
    return is_boolish(o) ? CONFIG_FLAG_BOOL : CONFIG_FLAG_VALUE;
  if (len > 3 && strncmp(name, "no-", 3) == 0 && (o = find_flag(name + 3, len - 3))
      && is_boolish(o))
    return CONFIG_FLAG_BOOL;
  return CONFIG_FLAG_UNKNOWN;
}

int
config_flag_is_bool(const char *name)
{
  return config_flag_kind(name) == CONFIG_FLAG_BOOL;
}

/* The separate value of "--flag value": the next argument unless there is
 * none or it is a flag itself (main.c pairs them the same way). */
static const char *
next_value(int argc, char **argv, int *i)
{
  if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
    return argv[++*i];
  return NULL;
}

/* Walks argv.  pass 0 finds --config.file; pass 1 applies the rest.  As in
 * kingpin, a flag may be given once: a boolean and its --no- form count as
 * the same flag. */
static void
apply_flags(struct rb_config *c, int argc, char **argv, int pass,
            struct config_errors *errs)
{
  unsigned char seen[RB_CONFIG_MAX_OPTS] = { 0 };
  int seen_file = 0;

  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *name, *eq, *val = NULL, *msg;
    const struct opt *o;
    size_t len;
    int neg = 0;
    char where[256];

    if (strncmp(a, "--", 2) != 0) {
      if (pass == 1)
        config_errors_add(errs, a, "unexpected argument");
      continue;
    }
    name = a + 2;
    eq = strchr(name, '=');
    len = eq ? (size_t)(eq - name) : strlen(name);
    if (len == 11 && strncmp(name, "config.file", 11) == 0) {
      val = eq ? eq + 1 : next_value(argc, argv, &i);
      if (pass == 0) {
        if (seen_file++)
          config_errors_add(errs, "--config.file", "cannot be repeated");
        else if (!val || !*val)
          config_errors_add(errs, "--config.file", "needs a path");
        else {
          free(c->file);
          c->file = strdup(val);
        }
      }
      continue;
    }
    o = find_flag(name, len);
    if (!o && len > 3 && strncmp(name, "no-", 3) == 0) {
      o = find_flag(name + 3, len - 3);
      if (o && !is_boolish(o))
        o = NULL;
      neg = 1;
    }
    snprintf(where, sizeof(where), "--%.*s", (int)len, name);
    if (!o) {
      /* "--bogus value": the value goes with the flag, as main.c paired
       * them, not on as an argument of its own. */
      if (!eq)
        next_value(argc, argv, &i);
      if (pass == 1)
        config_errors_add(errs, where, "unknown flag (see --help)");
      continue;
    }
    if (eq)
      val = eq + 1;
    else if (is_boolish(o))
      val = neg ? "false" : "true";
    else
      val = next_value(argc, argv, &i);
    if (pass == 0)
      continue;
    if (seen[o - opts]++) {
      if (neg || is_boolish(o))
        config_errors_add(errs, where, "cannot be repeated (--%s and --no-%s are one flag)",
                          o->flag, o->flag);
      else
        config_errors_add(errs, where, "cannot be repeated");
      continue;
    }
    if (neg && eq) {
      config_errors_add(errs, where, "takes no value: write --%.*s alone, or --%s=true|false",
                        (int)len, name, o->flag);
      c->opt_src[o - opts] = CONFIG_SRC_INVALID;
      continue;
    }
    if (!val) {
      config_errors_add(errs, where, "needs a value");
      c->opt_src[o - opts] = CONFIG_SRC_INVALID;
      continue;
    }
    msg = set_from_text(c, o, val);
    c->opt_src[o - opts] = msg ? CONFIG_SRC_INVALID : CONFIG_SRC_FLAG;
    if (msg)
      config_errors_add(errs, where, "%s", msg);
  }
}

int
config_source(const struct rb_config *c, const char *path)
{
  const struct opt *o = find_path(path);
  return o ? c->opt_src[o - opts] : -1;
}

/* Where a field's problem is, for messages: its flag when a flag set it,
 * else the file and its JSON path when a file is loaded (the file set it,
 * or it is where the value would go), else its flag. */
static void
field_where(const struct rb_config *c, const char *path, char *out, size_t n)
{
  const struct opt *o = find_path(path);
  int src = o ? c->opt_src[o - opts] : CONFIG_SRC_DEFAULT;

  if (o && (src == CONFIG_SRC_FLAG || !c->file))
    snprintf(out, n, "--%s", o->flag);
  else if (c->file)
    snprintf(out, n, "%s: %s", c->file, path);
  else
    snprintf(out, n, "%s", path);
}

/* Whether a listen address's host is a loopback address written as one
 * (127.0.0.0/8, ::1, ::ffff:127.x.y.z) or "localhost".  Any other name is
 * not: it could resolve anywhere. */
static int
host_is_loopback(const char *addr)
{
  const char *colon = strrchr(addr, ':');
  size_t hl = colon ? (size_t)(colon - addr) : strlen(addr);
  char host[256];
  struct in_addr a4;
  struct in6_addr a6;

  if (hl >= sizeof(host))
    return 0;
  memcpy(host, addr, hl);
  host[hl] = '\0';
  if (strcmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
    host[hl - 1] = '\0';
    if (inet_pton(AF_INET6, host + 1, &a6) != 1)
      return 0;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
      return 1;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
  }
  return 0;
}

static char *
load_secret(const struct rb_config *c, const char *path, const char *field,
            struct config_errors *errs)
{
  char where[512], err[RB_ERRLEN];
  char *s = rb_read_secret(path, err, sizeof(err));

  if (!s) {
    field_where(c, field, where, sizeof(where));
    config_errors_add(errs, where, "%s", err);
  }
  return s;
}

static void
validate(struct rb_config *c, struct config_errors *errs)
{
  char where[512];
  const char *colon;
  int have_auth;

  field_where(c, "web.listen_address", where, sizeof(where));
  colon = c->listen_address ? strrchr(c->listen_address, ':') : NULL;
  if (!colon || !colon[1] || strtol(colon + 1, NULL, 10) < 0
      || strtol(colon + 1, NULL, 10) > 65535
      || strspn(colon + 1, "0123456789") != strlen(colon + 1))
    config_errors_add(errs, where, "must be host:port with a port 0-65535 (0: any free port)");

  if (c->max_body_bytes_in_flight < c->max_body_bytes) {
    field_where(c, "web.max_body_bytes_in_flight", where, sizeof(where));
    config_errors_add(errs, where, "must be at least web.max_body_bytes (%zu)",
                      c->max_body_bytes);
  }

  if (!!c->tls_cert_file != !!c->tls_key_file) {
    field_where(c, c->tls_cert_file ? "web.tls_key_file" : "web.tls_cert_file",
                where, sizeof(where));
    config_errors_add(errs, where,
                      "TLS needs both a certificate and a key file (web.tls_cert_file and "
                      "web.tls_key_file)");
  } else if (c->tls_cert_file) {
    const char *err = NULL;
    c->tls_cert_pem = rb_read_file(c->tls_cert_file, 1u << 20, NULL, &err);
    if (!c->tls_cert_pem) {
      field_where(c, "web.tls_cert_file", where, sizeof(where));
      config_errors_add(errs, where, "cannot read %s: %s", c->tls_cert_file, err);
    }
    c->tls_key_pem = rb_read_file(c->tls_key_file, 1u << 20, NULL, &err);
    if (!c->tls_key_pem) {
      field_where(c, "web.tls_key_file", where, sizeof(where));
      config_errors_add(errs, where, "cannot read %s: %s", c->tls_key_file, err);
    }
    /* What the listener will be given must be a certificate and its key:
     * check-config says so rather than the start. */
    if (c->tls_cert_pem || c->tls_key_pem) {
      char cerr[256], kerr[256];
      if (rb_check_tls_pair(c->tls_cert_pem, c->tls_key_pem, cerr, kerr, sizeof(cerr))) {
        if (cerr[0]) {
          field_where(c, "web.tls_cert_file", where, sizeof(where));
          config_errors_add(errs, where, "%s: %s", c->tls_cert_file, cerr);
        }
        if (kerr[0]) {
          field_where(c, "web.tls_key_file", where, sizeof(where));
          config_errors_add(errs, where, "%s: %s", c->tls_key_file, kerr);
        }
      }
    }
  }

  if (c->bearer_token_file)
    c->bearer_token = load_secret(c, c->bearer_token_file,
                                  "web.auth.bearer_token_file", errs);
  if (c->basic_password_file || c->basic_username) {
    if (!c->basic_username || !c->basic_password_file) {
      field_where(c, c->basic_username ? "web.auth.basic_auth.password_file"
                                       : "web.auth.basic_auth.username",
                  where, sizeof(where));
      config_errors_add(errs, where, "basic auth needs both username and password_file");
    } else if (strchr(c->basic_username, ':')) {
      field_where(c, "web.auth.basic_auth.username", where, sizeof(where));
      config_errors_add(errs, where, "must not contain ':'");
    } else {
      c->basic_password = load_secret(c, c->basic_password_file,
                                      "web.auth.basic_auth.password_file", errs);
    }
  }
  have_auth = c->bearer_token_file || c->basic_password_file;
  if (c->listen_address && !have_auth && !c->insecure_no_auth
      && !host_is_loopback(c->listen_address)) {
    field_where(c, "web.listen_address", where, sizeof(where));
    config_errors_add(errs, where,
                      "%s is not a loopback address and no web.auth credentials "
                      "are configured; configure web.auth, listen on loopback "
                      "(web.listen_address) or pass --web.insecure-no-auth",
                      c->listen_address);
  }
  if (!c->storage_path || !*c->storage_path) {
    field_where(c, "storage.path", where, sizeof(where));
    config_errors_add(errs, where, "must not be empty");
  }
  if (c->storage_postgres) {
    field_where(c, "storage.postgres", where, sizeof(where));
    config_errors_add(errs, where,
                      "the PostgreSQL store is not available in this version; "
                      "use storage.path (SQLite)");
  }
  c->api_auth = apiauth_load(c->api_json, c->file, errs);
  if (c->pg_conninfo_file)
    c->pg_conninfo = load_secret(c, c->pg_conninfo_file, "remediation.postgres_conninfo_file",
                                 errs);
  if (c->prometheus_url && strncmp(c->prometheus_url, "https://", 8) != 0
      && strncmp(c->prometheus_url, "http://", 7) != 0) {
    field_where(c, "remediation.prometheus_url", where, sizeof(where));
    config_errors_add(errs, where, "must be an http:// or https:// URL");
  }
  if (c->kube_api_url && strncmp(c->kube_api_url, "https://", 8) != 0
      && strncmp(c->kube_api_url, "http://", 7) != 0) {
    field_where(c, "kube.api_url", where, sizeof(where));
    config_errors_add(errs, where, "must be an http:// or https:// URL");
  }
  /* The Kubernetes client reads the token at each request and the CA
   * bundle at each connection; files set but unusable are errors now, not
   * failed remediations later. */
  if (c->kube_token_file) {
    char *tok = load_secret(c, c->kube_token_file, "kube.token_file", errs);
    if (tok) {
      explicit_bzero(tok, strlen(tok));
      free(tok);
    }
  }
  if (c->kube_ca_file) {
    char err[RB_ERRLEN];
    if (rb_check_ca_file(c->kube_ca_file, err, sizeof(err))) {
      field_where(c, "kube.ca_file", where, sizeof(where));
      config_errors_add(errs, where, "%s", err);
    }
  }
  if (!c->remediation_dir) {
    field_where(c, "remediation.dir", where, sizeof(where));
    config_errors_add(errs, where, "must not be empty");
  } else if (config_source(c, "remediation.dir") == CONFIG_SRC_FILE
             || config_source(c, "remediation.dir") == CONFIG_SRC_FLAG) {
    /* Set explicitly, a directory that is not there is a mistake (a
     * missing ConfigMap mount); the default ./remediation may be absent. */
    struct stat st;
    field_where(c, "remediation.dir", where, sizeof(where));
    if (stat(c->remediation_dir, &st) != 0)
      config_errors_add(errs, where, "cannot use %s: %s", c->remediation_dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
      config_errors_add(errs, where, "%s is not a directory", c->remediation_dir);
  }
  if (c->sil_upstream_url
      && ((strncmp(c->sil_upstream_url, "https://", 8) != 0
           && strncmp(c->sil_upstream_url, "http://", 7) != 0)
          || strlen(c->sil_upstream_url) > 900)) {
    field_where(c, "silences.upstream.url", where, sizeof(where));
    config_errors_add(errs, where, "must be an http:// or https:// URL (at most 900 bytes)");
  }
  if (c->sil_upstream_token_file) {
    if (!c->sil_upstream_url) {
      field_where(c, "silences.upstream.bearer_token_file", where, sizeof(where));
      config_errors_add(errs, where, "needs silences.upstream.url");
    } else {
      c->sil_upstream_token = load_secret(c, c->sil_upstream_token_file,
                                          "silences.upstream.bearer_token_file", errs);
    }
  }
}

struct rb_config *
config_load_partial(int argc, char **argv, struct config_errors *errs)
{
  struct rb_config *c = calloc(1, sizeof(*c));

  if (!c) {
    config_errors_add(errs, "config", "out of memory");
    return NULL;
  }
  atomic_init(&c->refs, 1);
  set_defaults(c);
  apply_flags(c, argc, argv, 0, errs);
  if (c->file)
    load_file(c, c->file, errs);
  apply_flags(c, argc, argv, 1, errs);
  validate(c, errs);
  return c;
}

struct rb_config *
config_load(int argc, char **argv, struct config_errors *errs)
{
  size_t before = errs->n;
  struct rb_config *c = config_load_partial(argc, argv, errs);

  if (c && errs->n != before) {
    config_drop(c);
    return NULL;
  }
  return c;
}

struct rb_config *
config_reload(const struct rb_config *prev, struct config_errors *errs)
{
  (void)prev;
  return config_load(saved_argc, saved_argv, errs);
}

struct rb_config *
config_hold(struct rb_config *c)
{
  if (c)
    atomic_fetch_add(&c->refs, 1);
  return c;
}

static void
wipe_free(char *s)
{
  if (s) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

void
config_drop(struct rb_config *c)
{
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
    return;
  for (size_t i = 0; i < RB_ARRAY_LEN(opts); i++)
    if (opts[i].type == T_STR)
      free(*str_field(c, &opts[i]));
  free(c->file);
  free(c->escalation_json);
  free(c->api_json);
  apiauth_free(c->api_auth);
  wipe_free(c->tls_key_pem);
  free(c->tls_cert_pem);
  wipe_free(c->bearer_token);
  wipe_free(c->basic_password);
  wipe_free(c->pg_conninfo);
  wipe_free(c->sil_upstream_token);
  free(c);
}

static int
str_differs(const char *a, const char *b)
{
  if (!a || !b)
    return a != b;
  return strcmp(a, b) != 0;
}

/* Appends name to the list in out (n bytes) when changed. */
static void
note_change(char *out, size_t n, int changed, const char *name)
{
  size_t len = strlen(out);
  if (changed && len + 1 < n)
    snprintf(out + len, n - len, "%s%s", len ? ", " : "", name);
}

const char *
config_restart_needed(const struct rb_config *a, const struct rb_config *b)
{
  static _Thread_local char out[1024];

  out[0] = '\0';
  /* The listener: libmicrohttpd takes these once, at start (http/server.c). */
  note_change(out, sizeof(out), str_differs(a->listen_address, b->listen_address),
              "web.listen_address");
  note_change(out, sizeof(out), str_differs(a->tls_cert_pem, b->tls_cert_pem), "web.tls_cert_file");
  note_change(out, sizeof(out), str_differs(a->tls_key_pem, b->tls_key_pem), "web.tls_key_file");
  note_change(out, sizeof(out), a->max_connections != b->max_connections, "web.max_connections");
  note_change(out, sizeof(out), a->max_connections_per_ip != b->max_connections_per_ip,
              "web.max_connections_per_ip");
  note_change(out, sizeof(out), a->connection_timeout_s != b->connection_timeout_s,
              "web.connection_timeout_seconds");
  note_change(out, sizeof(out), a->max_header_bytes != b->max_header_bytes, "web.max_header_bytes");
  /* The store: opened once (daemon.c), its size limit set then. */
  note_change(out, sizeof(out), str_differs(a->storage_path, b->storage_path), "storage.path");
  note_change(out, sizeof(out), str_differs(a->storage_postgres, b->storage_postgres),
              "storage.postgres");
  note_change(out, sizeof(out), a->storage_max_bytes != b->storage_max_bytes, "storage.max_bytes");
  /* The remediation engine's threads and queue, made at start
   * (engine_start); its plans, rate limits, prometheus_url and
   * postgres_conninfo_file are reloaded. */
  note_change(out, sizeof(out), a->rem_workers != b->rem_workers, "remediation.workers");
  note_change(out, sizeof(out), a->rem_max_runs != b->rem_max_runs,
              "remediation.max_concurrent_runs");
  note_change(out, sizeof(out), a->rem_queue_size != b->rem_queue_size, "remediation.queue_size");
  /* The Kubernetes client, made at start (kube_client_new); it re-reads
   * the token file's contents at each request. */
  note_change(out, sizeof(out), str_differs(a->kube_api_url, b->kube_api_url), "kube.api_url");
  note_change(out, sizeof(out), str_differs(a->kube_token_file, b->kube_token_file),
              "kube.token_file");
  note_change(out, sizeof(out), str_differs(a->kube_ca_file, b->kube_ca_file), "kube.ca_file");
  note_change(out, sizeof(out), a->kube_timeout_s != b->kube_timeout_s, "kube.timeout_seconds");
  note_change(out, sizeof(out), a->kube_retries != b->kube_retries, "kube.retries");
  /* Silence forwarding, started once (silence_fwd_start). */
  note_change(out, sizeof(out), str_differs(a->sil_upstream_url, b->sil_upstream_url),
              "silences.upstream.url");
  note_change(out, sizeof(out), str_differs(a->sil_upstream_token, b->sil_upstream_token),
              "silences.upstream.bearer_token_file");
  note_change(out, sizeof(out), a->sil_upstream_timeout_s != b->sil_upstream_timeout_s,
              "silences.upstream.timeout_seconds");
  note_change(out, sizeof(out), a->sil_upstream_attempts != b->sil_upstream_attempts,
              "silences.upstream.max_attempts");
  note_change(out, sizeof(out), a->sil_upstream_backoff_ms != b->sil_upstream_backoff_ms,
              "silences.upstream.retry_backoff_ms");
  note_change(out, sizeof(out), a->sil_upstream_queue != b->sil_upstream_queue,
              "silences.upstream.queue_size");
  return out[0] ? out : NULL;
}

void
config_print_help(const char *prog)
{
  printf(
      "usage: %s [flags]                 run the daemon\n"
      "       %s check-config [flags] [FILE]   validate configuration (FILE: as --config.file),\n"
      "                                   name every problem, exit 1 on any\n"
      "       %s replay [flags] FILE...  show what Alertmanager payload files would cause\n"
      "       %s report [flags] ID [--format=md|html|json]   post-incident report\n"
      "       %s stats [flags] [--from=T --to=T --format=text|json]   MTTD, MTTA, MTTR, "
      "availability\n"
      "       %s version\n\n"
      "Flags go before or after the command, as --flag=value or --flag value; each at\n"
      "most once.  A boolean is --flag or --no-flag (which takes no value).\n\n"
      "flags (each also settable in the JSON config file at the path shown):\n"
      "  --config.file=PATH\n      JSON configuration file\n",
      prog, prog, prog, prog, prog, prog);
  struct rb_config d;

  memset(&d, 0, sizeof(d));
  set_defaults(&d);
  for (size_t i = 0; i < RB_ARRAY_LEN(opts); i++) {
    int boolish = opts[i].type == T_BOOL || opts[i].type == T_TRIBOOL;
    printf("  --%s%s\n      %s [%s", opts[i].flag, boolish ? "" : "=VALUE", opts[i].help,
           opts[i].path);
    print_default(&d, &opts[i]);
    printf("]\n");
  }
  for (size_t i = 0; i < RB_ARRAY_LEN(opts); i++)
    if (opts[i].type == T_STR)
      free(*str_field(&d, &opts[i]));
  printf("  -h, --help\n      this text\n"
         "  --version\n      the version, as `%s version`\n",
         prog);
}
