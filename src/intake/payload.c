/*
 * payload.c - parse and bound Alertmanager's webhook payload (version 4).
 *
 * The body is checked for UTF-8 and nesting before cJSON parses it, so a
 * 100,000-deep document or invalid bytes get a precise message rather than
 * a generic parse error.  Then each field is copied out with its size
 * checked; the cJSON tree is freed before returning.
 */
#include "payload.h"
#include "rbtime.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The densest body taken: at least this many bytes per JSON value on
 * average (payload_parse). */
#define PAYLOAD_BYTES_PER_VALUE 5

struct ctx {
  const struct payload_limits *lim;
  char *err;
  size_t errlen;
  struct rb_arena *mem; /* where the copies go; NULL: malloc() */
};

/* cJSON allocates through these hooks.  While this thread parses a
 * payload, tree points at the parse tree's arena and cJSON's nodes and
 * strings come from it; otherwise (every other use of cJSON, on any
 * thread) they are malloc() and free(). */
static _Thread_local struct rb_arena *tree;

static void *
tree_malloc(size_t n)
{
  return tree ? rb_arena_alloc(tree, n) : malloc(n);
}

static void
tree_free(void *p)
{
  if (tree && rb_arena_owns(tree, p))
    return; /* freed with the arena */
  free(p);
}

static void
hooks_install(void)
{
  cJSON_Hooks h = { tree_malloc, tree_free };
  cJSON_InitHooks(&h);
}

void
payload_init(void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, hooks_install);
}

static char *
copy_str(struct ctx *c, const char *s)
{
  return c->mem ? rb_arena_strdup(c->mem, s) : strdup(s);
}

static rb_status
fail(struct ctx *c, rb_status st, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static rb_status
fail(struct ctx *c, rb_status st, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
  return st;
}

static int
kv_cmp(const void *a, const void *b)
{
  return strcmp(((const struct am_kv *)a)->name, ((const struct am_kv *)b)->name);
}

void
am_labels_free(struct am_labels *ls)
{
  for (size_t i = 0; i < ls->n; i++) {
    free(ls->kv[i].name);
    free(ls->kv[i].value);
  }
  free(ls->kv);
  ls->kv = NULL;
  ls->n = 0;
}

/* Copies a JSON object of strings into a sorted label set. */
static rb_status
parse_labels(struct ctx *c, const cJSON *obj, const char *field,
             size_t max_value, struct am_labels *out)
{
  const cJSON *it;
  size_t n = 0, i = 0;

  if (!obj || cJSON_IsNull(obj))
    return RB_OK;
  if (!cJSON_IsObject(obj))
    return fail(c, RB_EINVAL, "%s: must be an object of strings", field);
  cJSON_ArrayForEach(it, obj) n++;
  if (n > c->lim->max_labels)
    return fail(c, RB_ETOOBIG, "%s: %zu entries, more than the limit of %zu",
                field, n, c->lim->max_labels);
  if (n == 0)
    return RB_OK;
  out->kv = c->mem ? rb_arena_alloc(c->mem, n * sizeof(*out->kv))
                   : malloc(n * sizeof(*out->kv));
  if (!out->kv)
    return RB_ENOMEM;
  memset(out->kv, 0, n * sizeof(*out->kv));
  cJSON_ArrayForEach(it, obj) {
    size_t nl = strlen(it->string), vl;
    if (nl == 0)
      return fail(c, RB_EINVAL, "%s: empty name", field);
    if (nl > c->lim->max_label_name_bytes)
      return fail(c, RB_ETOOBIG, "%s: a name of %zu bytes is longer than the limit of %zu",
                  field, nl, c->lim->max_label_name_bytes);
    if (!cJSON_IsString(it))
      return fail(c, RB_EINVAL, "%s.%.64s: must be a string", field, it->string);
    vl = strlen(it->valuestring);
    if (vl > max_value)
      return fail(c, RB_ETOOBIG, "%s.%.64s: value of %zu bytes is longer than the limit of %zu",
                  field, it->string, vl, max_value);
    out->kv[i].name = copy_str(c, it->string);
    out->kv[i].value = copy_str(c, it->valuestring);
    out->n = ++i;
    if (!out->kv[i - 1].name || !out->kv[i - 1].value)
      return RB_ENOMEM;
  }
  qsort(out->kv, out->n, sizeof(*out->kv), kv_cmp);
  for (i = 1; i < out->n; i++)
    if (strcmp(out->kv[i - 1].name, out->kv[i].name) == 0)
      return fail(c, RB_EINVAL, "%s.%.64s: duplicate name", field, out->kv[i].name);
  return RB_OK;
}

/* Optional string field; *out stays NULL when absent or null. */
static rb_status
opt_string(struct ctx *c, const cJSON *parent, const char *name,
           const char *field, size_t max, char **out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, name);
  if (!v || cJSON_IsNull(v))
    return RB_OK;
  if (!cJSON_IsString(v))
    return fail(c, RB_EINVAL, "%s: must be a string", field);
  if (strlen(v->valuestring) > max)
    return fail(c, RB_ETOOBIG, "%s: %zu bytes, longer than the limit of %zu", field,
                strlen(v->valuestring), max);
  *out = copy_str(c, v->valuestring);
  return *out ? RB_OK : RB_ENOMEM;
}

static rb_status
parse_status(struct ctx *c, const cJSON *parent, const char *field, int *resolved)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, "status");
  if (!v)
    return fail(c, RB_EINVAL, "%s: missing", field);
  if (!cJSON_IsString(v))
    return fail(c, RB_EINVAL, "%s: must be a string", field);
  if (strcmp(v->valuestring, "firing") == 0)
    *resolved = 0;
  else if (strcmp(v->valuestring, "resolved") == 0)
    *resolved = 1;
  else
    return fail(c, RB_EINVAL, "%s: must be \"firing\" or \"resolved\"", field);
  return RB_OK;
}

static rb_status
parse_time(struct ctx *c, const cJSON *parent, const char *name,
           const char *field, int required, int64_t *out)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(parent, name);
  *out = 0;
  if (!v || cJSON_IsNull(v))
    return required ? fail(c, RB_EINVAL, "%s: missing", field) : RB_OK;
  if (!cJSON_IsString(v))
    return fail(c, RB_EINVAL, "%s: must be an RFC 3339 timestamp string", field);
  if (rb_time_parse_ns(v->valuestring, out))
    return fail(c, RB_EINVAL, "%s: \"%.40s\" is not an RFC 3339 timestamp", field,
                v->valuestring);
  if (required && *out == 0)
    return fail(c, RB_EINVAL, "%s: must not be the zero time", field);
  return RB_OK;
}

static int
is_hex16(const char *s)
{
  if (strlen(s) != 16)
    return 0;
  for (int i = 0; i < 16; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0;
  return 1;
}

static rb_status
parse_alert(struct ctx *c, const cJSON *a, size_t idx, struct am_alert *out)
{
  char field[64];
  const cJSON *fp;
  rb_status rc;

  if (!cJSON_IsObject(a))
    return fail(c, RB_EINVAL, "alerts[%zu]: must be an object", idx);
  snprintf(field, sizeof(field), "alerts[%zu].status", idx);
  if ((rc = parse_status(c, a, field, &out->resolved)))
    return rc;
  snprintf(field, sizeof(field), "alerts[%zu].labels", idx);
  if (!cJSON_GetObjectItemCaseSensitive(a, "labels"))
    return fail(c, RB_EINVAL, "%s: missing", field);
  if ((rc = parse_labels(c, cJSON_GetObjectItemCaseSensitive(a, "labels"), field,
                         c->lim->max_label_value_bytes, &out->labels)))
    return rc;
  if (out->labels.n == 0)
    return fail(c, RB_EINVAL, "%s: must not be empty", field);
  snprintf(field, sizeof(field), "alerts[%zu].annotations", idx);
  if ((rc = parse_labels(c, cJSON_GetObjectItemCaseSensitive(a, "annotations"),
                         field, c->lim->max_annotation_bytes, &out->annotations)))
    return rc;
  snprintf(field, sizeof(field), "alerts[%zu].startsAt", idx);
  if ((rc = parse_time(c, a, "startsAt", field, 1, &out->starts_at_ns)))
    return rc;
  snprintf(field, sizeof(field), "alerts[%zu].endsAt", idx);
  if ((rc = parse_time(c, a, "endsAt", field, 0, &out->ends_at_ns)))
    return rc;
  snprintf(field, sizeof(field), "alerts[%zu].generatorURL", idx);
  if ((rc = opt_string(c, a, "generatorURL", field, c->lim->max_annotation_bytes,
                       &out->generator_url)))
    return rc;
  fp = cJSON_GetObjectItemCaseSensitive(a, "fingerprint");
  if (fp && !cJSON_IsNull(fp) && !(cJSON_IsString(fp) && fp->valuestring[0] == '\0')) {
    if (!cJSON_IsString(fp) || !is_hex16(fp->valuestring))
      return fail(c, RB_EINVAL, "alerts[%zu].fingerprint: must be 16 lowercase hex digits",
                  idx);
    memcpy(out->fingerprint, fp->valuestring, 17);
  } else {
    am_fingerprint(&out->labels, out->fingerprint);
    out->fingerprint_computed = 1;
  }
  return RB_OK;
}

rb_status
payload_parse(const char *body, size_t len, const struct payload_limits *lim,
              struct am_payload **out, char *err, size_t errlen)
{
  struct ctx c = { lim, err, errlen, NULL };
  struct am_payload *p = NULL;
  struct rb_arena nodes;
  /* A single-alert delivery's tree (about 4 KB) fits here. */
  _Alignas(16) char stack[16384];
  const char *end = NULL;
  cJSON *root = NULL;
  const cJSON *v, *alerts, *a;
  struct json_scan scan;
  char why[128];
  size_t i = 0, n;
  rb_status rc = RB_OK;

  *out = NULL;
  err[0] = '\0';
  if (len == 0)
    return fail(&c, RB_EINVAL, "empty body");
  if (json_scan(body, len, lim->max_depth, &scan, why, sizeof(why)))
    return fail(&c, RB_EINVAL, "body: %s", why);
  /* Each value is a 64-byte node of the parse tree, whatever its size in
   * the body: "[0,0,0,...]" would cost 32 times its length.  An
   * Alertmanager payload has a value per 20 bytes or more (a label is
   * "name":"value",); one per PAYLOAD_BYTES_PER_VALUE bounds the tree at
   * about 13 times the body, plus the copied strings. */
  if (scan.values > len / PAYLOAD_BYTES_PER_VALUE + 1024)
    return fail(&c, RB_ETOOBIG,
                "body: %zu JSON values in %zu bytes, more than one per %d bytes: "
                "no Alertmanager payload is that dense",
                scan.values, len, PAYLOAD_BYTES_PER_VALUE);
  payload_init();
  /* A node is 64 bytes, and names and values are copied: a few times the
   * body's size for an Alertmanager payload. */
  rb_arena_init(&nodes, stack, sizeof(stack), len < SIZE_MAX / 4 ? len * 3 : len);
  tree = &nodes;
  root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!root) {
    tree = NULL;
    rb_arena_free(&nodes);
    size_t off = end ? (size_t)(end - body) : 0;
    if (scan.open)
      return fail(&c, RB_EINVAL,
                  "malformed JSON: the body ends (after %zu bytes) before the document "
                  "does, with %u strings, arrays or objects left open: was it cut short?",
                  len, scan.open);
    return fail(&c, RB_EINVAL, "malformed JSON near byte %zu", off);
  }
  /* Only whitespace may follow the document. */
  for (end = end ? end : body + len; end < body + len; end++) {
    if (*end != ' ' && *end != '\n' && *end != '\r' && *end != '\t' && *end != '\0') {
      rc = fail(&c, RB_EINVAL, "unexpected data after the JSON document at byte %zu",
                (size_t)(end - body));
      goto out;
    }
  }
  if (!cJSON_IsObject(root)) {
    rc = fail(&c, RB_EINVAL, "body must be a JSON object");
    goto out;
  }
  v = cJSON_GetObjectItemCaseSensitive(root, "version");
  if (v && !(cJSON_IsString(v) && strcmp(v->valuestring, "4") == 0)) {
    rc = fail(&c, RB_EINVAL, "version: only Alertmanager webhook payload version \"4\" is supported");
    goto out;
  }
  p = calloc(1, sizeof(*p));
  if (!p) {
    rc = RB_ENOMEM;
    goto out;
  }
  /* The copies are parts of the body, and an array entry per alert. */
  rb_arena_init(&p->mem, NULL, 0, len + len / 2 + 1024);
  c.mem = &p->mem;
  if ((rc = parse_status(&c, root, "status", &p->resolved)))
    goto out;
  /* These only inform (the timeline shows them): as long as an annotation
   * may be. */
  if ((rc = opt_string(&c, root, "receiver", "receiver", lim->max_annotation_bytes, &p->receiver))
      || (rc
          = opt_string(&c, root, "groupKey", "groupKey", lim->max_annotation_bytes, &p->group_key))
      || (rc = opt_string(&c, root, "externalURL", "externalURL", lim->max_annotation_bytes,
                          &p->external_url)))
    goto out;
  v = cJSON_GetObjectItemCaseSensitive(root, "truncatedAlerts");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15
        || v->valuedouble != (double)(int64_t)v->valuedouble) {
      rc = fail(&c, RB_EINVAL, "truncatedAlerts: must be a non-negative integer");
      goto out;
    }
    p->truncated_alerts = (int64_t)v->valuedouble;
  }
  if ((rc = parse_labels(&c, cJSON_GetObjectItemCaseSensitive(root, "groupLabels"),
                         "groupLabels", lim->max_label_value_bytes, &p->group_labels))
      || (rc = parse_labels(&c, cJSON_GetObjectItemCaseSensitive(root, "commonLabels"),
                            "commonLabels", lim->max_label_value_bytes, &p->common_labels))
      || (rc = parse_labels(&c, cJSON_GetObjectItemCaseSensitive(root, "commonAnnotations"),
                            "commonAnnotations", lim->max_annotation_bytes,
                            &p->common_annotations)))
    goto out;
  alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
  if (!alerts) {
    rc = fail(&c, RB_EINVAL, "alerts: missing");
    goto out;
  }
  if (!cJSON_IsArray(alerts)) {
    rc = fail(&c, RB_EINVAL, "alerts: must be an array");
    goto out;
  }
  n = (size_t)cJSON_GetArraySize(alerts);
  if (n > lim->max_alerts) {
    rc = fail(&c, RB_ETOOBIG, "alerts: %zu alerts, more than the limit of %zu", n,
              lim->max_alerts);
    goto out;
  }
  if (n) {
    p->alerts = rb_arena_alloc(&p->mem, n * sizeof(*p->alerts));
    if (!p->alerts) {
      rc = RB_ENOMEM;
      goto out;
    }
    memset(p->alerts, 0, n * sizeof(*p->alerts));
  }
  cJSON_ArrayForEach(a, alerts) {
    p->n_alerts = i + 1;
    if ((rc = parse_alert(&c, a, i, &p->alerts[i])))
      goto out;
    i++;
  }
out:
  cJSON_Delete(root); /* frees nothing the arena holds */
  tree = NULL;
  rb_arena_free(&nodes);
  if (rc) {
    if (rc == RB_ENOMEM && !err[0])
      snprintf(err, errlen, "out of memory");
    payload_free(p);
    return rc;
  }
  *out = p;
  return RB_OK;
}

int
json_only_space(const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
      return 0;
  return 1;
}

void
payload_free(struct am_payload *p)
{
  if (!p)
    return;
  rb_arena_free(&p->mem);
  free(p);
}

const char *
am_label(const struct am_labels *ls, const char *name)
{
  size_t lo = 0, hi = ls->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(ls->kv[mid].name, name);
    if (c == 0)
      return ls->kv[mid].value;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

rb_status
am_labels_from_json(const char *json, struct am_labels *out)
{
  static const struct payload_limits lim = { 1, 10000, 1 << 20, 1 << 24, 1 << 24, 4 };
  char err[RB_ERRLEN];
  struct ctx c = { &lim, err, sizeof(err), NULL };
  cJSON *root = cJSON_Parse(json ? json : "");
  rb_status rc;

  memset(out, 0, sizeof(*out));
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return RB_EINVAL;
  }
  rc = parse_labels(&c, root, "labels", lim.max_label_value_bytes, out);
  cJSON_Delete(root);
  if (rc)
    am_labels_free(out);
  return rc;
}
