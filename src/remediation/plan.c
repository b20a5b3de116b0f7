/*
 * plan.c - load and validate remediation plans (see plan.h).
 *
 * Validation is strict and exhaustive: every problem in every file is
 * reported with its field, because a plan that touches production must be
 * exactly what its author meant.  Guards are enforced here once: scale
 * never below 1 or past the plan's max, delete_pods always bounded, every
 * Deployment and ConfigMap a step names must be in the plan's allow-list.
 */
#include "plan.h"
#include "buf.h"
#include "matcher.h"
#include "payload.h"
#include "rbfile.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[STEP_KIND_COUNT] = {
  "rollout_restart", "scale", "set_resources", "set_env", "patch_configmap",
  "delete_pods", "rollout_undo", "wait_rollout", "http_check", "promql",
  "postgres", "exec",
};

const char *
step_kind_name(enum step_kind k)
{
  return (unsigned)k < STEP_KIND_COUNT ? kind_names[k] : "unknown";
}

int
step_mutates(enum step_kind k)
{
  return k <= STEP_ROLLOUT_UNDO || k == STEP_EXEC;
}

int
kube_valid_label_name(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 63)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i < n - 1))
      return 0;
  }
  return 1;
}

int
kube_valid_subdomain(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  const char *p = s, *dot;

  if (n == 0 || n > 253)
    return 0;
  /* Each dot-separated part is a DNS-1123 label. */
  for (;;) {
    char part[64];
    size_t len;
    dot = strchr(p, '.');
    len = dot ? (size_t)(dot - p) : strlen(p);
    if (len == 0 || len > 63)
      return 0;
    memcpy(part, p, len);
    part[len] = '\0';
    if (!kube_valid_label_name(part))
      return 0;
    if (!dot)
      return 1;
    p = dot + 1;
  }
}

/* Error reporting: "FILE: FIELD" and a message. */
struct ctx {
  const char *file;
  struct config_errors *errs;
  size_t before;
};

static void
problem(struct ctx *c, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
problem(struct ctx *c, const char *field, const char *fmt, ...)
{
  char where[512];
  va_list ap;

  snprintf(where, sizeof(where), "%s: %s", c->file, field);
  va_start(ap, fmt);
  config_errors_vadd(c->errs, where, fmt, ap);
  va_end(ap);
}

static char *
get_str(struct ctx *c, const cJSON *obj, const char *key, const char *field, int required)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char f[256];

  snprintf(f, sizeof(f), "%s%s%s", field, *field ? "." : "", key);
  if (!v || cJSON_IsNull(v)) {
    if (required)
      problem(c, f, "missing");
    return NULL;
  }
  if (!cJSON_IsString(v) || !*v->valuestring) {
    problem(c, f, "must be a non-empty string");
    return NULL;
  }
  return strdup(v->valuestring);
}

/* An integer field within [min, max]; def when absent. */
static long
get_int(struct ctx *c, const cJSON *obj, const char *key, const char *field, long def,
        long min, long max, int *present)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char f[256];

  if (present)
    *present = 0;
  if (!v || cJSON_IsNull(v))
    return def;
  snprintf(f, sizeof(f), "%s%s%s", field, *field ? "." : "", key);
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) {
    problem(c, f, "must be an integer");
    return def;
  }
  if (v->valuedouble < (double)min || v->valuedouble > (double)max) {
    problem(c, f, "must be between %ld and %ld", min, max);
    return def;
  }
  if (present)
    *present = 1;
  return (long)v->valuedouble;
}

static void
free_strv(char **v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    free(v[i]);
  free(v);
}

static char **
get_strv(struct ctx *c, const cJSON *obj, const char *key, const char *field, size_t *n)
{
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
  char f[256];
  char **out;
  size_t i = 0;

  *n = 0;
  if (!arr)
    return NULL;
  snprintf(f, sizeof(f), "%s%s%s", field, *field ? "." : "", key);
  if (!cJSON_IsArray(arr)) {
    problem(c, f, "must be an array of strings");
    return NULL;
  }
  out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*out));
  if (!out)
    return NULL;
  cJSON_ArrayForEach(it, arr) {
    if (!cJSON_IsString(it) || !*it->valuestring) {
      problem(c, f, "element %zu must be a non-empty string", i);
      continue;
    }
    out[i++] = strdup(it->valuestring);
  }
  *n = i;
  return out;
}

static void
kv_free(struct kvlist *l)
{
  free_strv(l->key, l->n);
  free_strv(l->val, l->n);
  memset(l, 0, sizeof(*l));
}

static void
get_kv(struct ctx *c, const cJSON *obj, const char *key, const char *field, struct kvlist *out)
{
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key), *it;
  size_t n;
  char f[256];

  memset(out, 0, sizeof(*out));
  if (!m)
    return;
  snprintf(f, sizeof(f), "%s.%s", field, key);
  if (!cJSON_IsObject(m)) {
    problem(c, f, "must be an object of strings");
    return;
  }
  n = (size_t)cJSON_GetArraySize(m);
  out->key = calloc(n + 1, sizeof(char *));
  out->val = calloc(n + 1, sizeof(char *));
  if (!out->key || !out->val)
    return;
  cJSON_ArrayForEach(it, m) {
    if (!cJSON_IsString(it)) {
      problem(c, f, "%s must be a string (quote numbers: \"%g\")", it->string,
              cJSON_IsNumber(it) ? it->valuedouble : 0.0);
      continue;
    }
    out->key[out->n] = strdup(it->string);
    out->val[out->n] = strdup(it->valuestring);
    out->n++;
  }
}

/* Kubernetes resource quantities: digits with an optional decimal part and
 * one of the suffixes the API accepts. */
static int
valid_quantity(const char *q)
{
  static const char *const suffixes[] = { "", "m", "k", "M", "G", "T", "P", "E",
                                          "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
  const char *p = q;
  if (!isdigit((unsigned char)*p))
    return 0;
  while (isdigit((unsigned char)*p))
    p++;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p))
      return 0;
    while (isdigit((unsigned char)*p))
      p++;
  }
  for (size_t i = 0; i < RB_ARRAY_LEN(suffixes); i++)
    if (strcmp(p, suffixes[i]) == 0)
      return 1;
  return 0;
}

static const char *const known_step_keys[] = {
  "name", "kind", "deployment", "timeout_seconds", "interval_seconds", "replicas", "by",
  "min", "max", "container", "limits", "requests", "env", "configmap", "data",
  "selector", "max_pods", "url", "method", "expect_status", "max_latency_ms", "query",
  "prometheus_url", "op", "threshold", "maintenance", "max_rows", "argv", "comment",
  "optional", "direction", "idempotent"
};

static void
unknown_keys(struct ctx *c, const cJSON *obj, const char *field, const char *const *known,
             size_t n)
{
  const cJSON *it;
  cJSON_ArrayForEach(it, obj) {
    size_t i;
    char f[256];
    for (i = 0; i < n; i++)
      if (strcmp(it->string, known[i]) == 0)
        break;
    if (i == n) {
      snprintf(f, sizeof(f), "%s.%s", field, it->string);
      problem(c, f, "unknown field");
    }
  }
}

static void
step_clear(struct step *s)
{
  free(s->name);
  free(s->deployment);
  free(s->container);
  kv_free(&s->limits);
  kv_free(&s->requests);
  kv_free(&s->env);
  kv_free(&s->data);
  free(s->configmap);
  free(s->selector);
  free(s->url);
  free(s->method);
  free(s->query);
  free(s->prometheus_url);
  free_strv(s->argv, s->argc);
  memset(s, 0, sizeof(*s));
}

static int
in_list(char **v, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(v[i], s) == 0)
      return 1;
  return 0;
}

static int
is_check(enum step_kind k)
{
  return k == STEP_WAIT_ROLLOUT || k == STEP_HTTP_CHECK || k == STEP_PROMQL
         || k == STEP_POSTGRES || k == STEP_EXEC;
}

static void
parse_step(struct ctx *c, const struct plan *p, const cJSON *o, const char *field,
           int verify, struct step *s)
{
  static const char *const ops[] = { "<", "<=", ">", ">=", "==", "!=" };
  char *kind;
  int present;

  memset(s, 0, sizeof(*s));
  if (!cJSON_IsObject(o)) {
    problem(c, field, "must be an object");
    return;
  }
  unknown_keys(c, o, field, known_step_keys, RB_ARRAY_LEN(known_step_keys));
  kind = get_str(c, o, "kind", field, 1);
  if (!kind)
    return;
  s->kind = STEP_KIND_COUNT;
  for (int k = 0; k < STEP_KIND_COUNT; k++)
    if (strcmp(kind, kind_names[k]) == 0)
      s->kind = (enum step_kind)k;
  if (s->kind == STEP_KIND_COUNT) {
    char f[256];
    snprintf(f, sizeof(f), "%s.kind", field);
    problem(c, f, "unknown step kind \"%s\" (rollout_restart, scale, set_resources, "
                  "set_env, patch_configmap, delete_pods, rollout_undo, wait_rollout, "
                  "http_check, promql, postgres, exec)", kind);
    free(kind);
    return;
  }
  free(kind);
  if (verify && !is_check(s->kind)) {
    problem(c, field, "%s changes the cluster and cannot be a verification "
                      "(use wait_rollout, http_check, promql, postgres or exec)",
            kind_names[s->kind]);
  }
  s->name = get_str(c, o, "name", field, 0);
  if (!s->name)
    s->name = strdup(kind_names[s->kind]);
  s->deployment = get_str(c, o, "deployment", field, 0);
  if (s->deployment) {
    char f[256];
    snprintf(f, sizeof(f), "%s.deployment", field);
    if (!kube_valid_subdomain(s->deployment))
      problem(c, f, "\"%s\" is not a valid Kubernetes name", s->deployment);
    else if (!in_list(p->allow_deployments, p->n_allow_deployments, s->deployment))
      problem(c, f, "\"%s\" is not in allow.deployments", s->deployment);
  }
  s->timeout_s = (unsigned)get_int(c, o, "timeout_seconds", field,
                                   s->kind == STEP_WAIT_ROLLOUT ? 300 : 10, 1, 3600, NULL);
  s->interval_s = (unsigned)get_int(c, o, "interval_seconds", field, 2, 1, 600, NULL);
  {
    const cJSON *opt = cJSON_GetObjectItemCaseSensitive(o, "optional");
    char f[256];
    snprintf(f, sizeof(f), "%s.optional", field);
    if (opt && !cJSON_IsBool(opt))
      problem(c, f, "must be true or false");
    s->optional = cJSON_IsTrue(opt);
    if (s->optional && step_mutates(s->kind) && s->kind != STEP_EXEC)
      problem(c, f, "only checks and diagnostics can be optional, not cluster changes");
  }

  {
    const cJSON *idem = cJSON_GetObjectItemCaseSensitive(o, "idempotent");
    char f[256];
    snprintf(f, sizeof(f), "%s.idempotent", field);
    if (idem && !cJSON_IsBool(idem))
      problem(c, f, "must be true or false");
    else if (idem && s->kind != STEP_EXEC)
      problem(c, f, "only exec steps can be marked idempotent");
    s->idempotent = cJSON_IsTrue(idem);
  }

  switch (s->kind) {
  case STEP_SCALE: {
    int has_by;
    s->replicas = (int)get_int(c, o, "replicas", field, 0, 1, 1000, &s->has_replicas);
    s->by = (int)get_int(c, o, "by", field, 0, -1000, 1000, &has_by);
    s->min_replicas = (int)get_int(c, o, "min", field, 1, 1, 1000, NULL);
    s->max_replicas = (int)get_int(c, o, "max", field, 0, 1, 1000, &present);
    if (s->has_replicas == has_by)
      problem(c, field, "scale needs exactly one of replicas (absolute) or by (relative)");
    if (!present)
      problem(c, field, "scale needs max (the most replicas this plan may set)");
    else if (s->max_replicas < s->min_replicas)
      problem(c, field, "max must not be below min");
    else if (s->has_replicas && (s->replicas > s->max_replicas || s->replicas < s->min_replicas))
      problem(c, field, "replicas %d is outside min %d and max %d", s->replicas,
              s->min_replicas, s->max_replicas);
    if (has_by && s->by == 0)
      problem(c, field, "by must not be 0");
    {
      char *dir = get_str(c, o, "direction", field, 0);
      if (dir) {
        if (strcmp(dir, "up") == 0)
          s->direction = SCALE_UP;
        else if (strcmp(dir, "down") == 0)
          s->direction = SCALE_DOWN;
        else if (strcmp(dir, "any") == 0)
          s->direction = SCALE_ANY;
        else
          problem(c, field, "direction \"%s\" is not up, down or any", dir);
        if (has_by)
          problem(c, field, "direction goes with replicas; by's sign is its direction");
        free(dir);
      }
    }
    break;
  }
  case STEP_SET_RESOURCES:
    s->container = get_str(c, o, "container", field, 1);
    get_kv(c, o, "limits", field, &s->limits);
    get_kv(c, o, "requests", field, &s->requests);
    if (s->limits.n + s->requests.n == 0)
      problem(c, field, "set_resources needs limits or requests");
    for (int pass = 0; pass < 2; pass++) {
      struct kvlist *l = pass ? &s->requests : &s->limits;
      for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->key[i], "cpu") != 0 && strcmp(l->key[i], "memory") != 0
            && strcmp(l->key[i], "ephemeral-storage") != 0)
          problem(c, field, "%s.%s: unknown resource (cpu, memory, ephemeral-storage)",
                  pass ? "requests" : "limits", l->key[i]);
        else if (!valid_quantity(l->val[i]))
          problem(c, field, "%s.%s: \"%s\" is not a Kubernetes quantity",
                  pass ? "requests" : "limits", l->key[i], l->val[i]);
      }
    }
    break;
  case STEP_SET_ENV:
    s->container = get_str(c, o, "container", field, 1);
    get_kv(c, o, "env", field, &s->env);
    if (s->env.n == 0)
      problem(c, field, "set_env needs env");
    break;
  case STEP_PATCH_CONFIGMAP:
    s->configmap = get_str(c, o, "configmap", field, 1);
    get_kv(c, o, "data", field, &s->data);
    if (s->data.n == 0)
      problem(c, field, "patch_configmap needs data");
    if (s->configmap && !in_list(p->allow_configmaps, p->n_allow_configmaps, s->configmap))
      problem(c, field, "configmap \"%s\" is not in allow.configmaps", s->configmap);
    else if (s->configmap && !kube_valid_subdomain(s->configmap))
      problem(c, field, "configmap \"%s\" is not a valid Kubernetes name", s->configmap);
    break;
  case STEP_DELETE_PODS:
    s->selector = get_str(c, o, "selector", field, 1);
    s->max_pods = (int)get_int(c, o, "max_pods", field, 0, 1, 100, &present);
    if (!present)
      problem(c, field, "delete_pods needs max_pods (the most pods it may delete)");
    break;
  case STEP_HTTP_CHECK:
    s->url = get_str(c, o, "url", field, 1);
    if (s->url && strncmp(s->url, "http://", 7) != 0 && strncmp(s->url, "https://", 8) != 0)
      problem(c, field, "url must be http:// or https://");
    s->method = get_str(c, o, "method", field, 0);
    if (s->method && strcmp(s->method, "GET") != 0 && strcmp(s->method, "POST") != 0
        && strcmp(s->method, "HEAD") != 0)
      problem(c, field, "method must be GET, POST or HEAD");
    s->expect_status = (int)get_int(c, o, "expect_status", field, 200, 100, 599, NULL);
    s->max_latency_ms = (unsigned)get_int(c, o, "max_latency_ms", field, 0, 0, 600000, NULL);
    break;
  case STEP_PROMQL: {
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(o, "op");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(o, "threshold");
    s->query = get_str(c, o, "query", field, 1);
    s->prometheus_url = get_str(c, o, "prometheus_url", field, 0);
    s->op = CMP_GE;
    if (!cJSON_IsString(op)) {
      problem(c, field, "promql needs op (<, <=, >, >=, ==, !=)");
    } else {
      size_t i;
      for (i = 0; i < RB_ARRAY_LEN(ops); i++)
        if (strcmp(op->valuestring, ops[i]) == 0)
          break;
      if (i == RB_ARRAY_LEN(ops))
        problem(c, field, "op \"%s\" is not one of <, <=, >, >=, ==, !=", op->valuestring);
      else
        s->op = (enum cmp_op)i;
    }
    if (!cJSON_IsNumber(th))
      problem(c, field, "promql needs a numeric threshold");
    else
      s->threshold = th->valuedouble;
    break;
  }
  case STEP_POSTGRES: {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "maintenance");
    s->query = get_str(c, o, "query", field, 1);
    s->maintenance = cJSON_IsTrue(m);
    if (m && !cJSON_IsBool(m))
      problem(c, field, "maintenance must be true or false");
    s->max_rows = (unsigned)get_int(c, o, "max_rows", field, 20, 1, 1000, NULL);
    if (s->query && !s->maintenance) {
      /* PostgreSQL runs these even in a read-only transaction: they must
       * be asked for explicitly. */
      static const char *const maint[] = { "vacuum", "analyze", "analyse", "reindex",
                                           "cluster", "refresh", "checkpoint" };
      const char *q = s->query;
      char word[16];
      size_t n = 0;
      while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '(')
        q++;
      while (n < sizeof(word) - 1 && isalpha((unsigned char)q[n])) {
        word[n] = (char)tolower((unsigned char)q[n]);
        n++;
      }
      word[n] = '\0';
      for (size_t i = 0; i < RB_ARRAY_LEN(maint); i++)
        if (strcmp(word, maint[i]) == 0)
          problem(c, field, "%s is maintenance: set \"maintenance\": true to allow it",
                  maint[i]);
      if (strchr(s->query, ';') && strchr(s->query, ';')[strspn(strchr(s->query, ';') + 1, " \t\n") + 1])
        problem(c, field, "one statement per postgres step");
    }
    break;
  }
  case STEP_EXEC: {
    char f[256];
    s->argv = get_strv(c, o, "argv", field, &s->argc);
    snprintf(f, sizeof(f), "%s.argv", field);
    if (s->argc == 0)
      problem(c, f, "exec needs argv (a program and its arguments; no shell)");
    else if (s->argv[0][0] != '/')
      problem(c, f, "the program must be an absolute path");
    break;
  }
  default:
    break;
  }
}

static void
parse_steps(struct ctx *c, const struct plan *p, const cJSON *root, const char *key,
            int verify, struct step **out, size_t *n)
{
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, key), *it;
  size_t i = 0;

  *out = NULL;
  *n = 0;
  if (!arr)
    return;
  if (!cJSON_IsArray(arr)) {
    problem(c, key, "must be an array of steps");
    return;
  }
  *out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**out));
  if (!*out)
    return;
  cJSON_ArrayForEach(it, arr) {
    char field[64];
    snprintf(field, sizeof(field), "%s[%zu]", key, i);
    parse_step(c, p, it, field, verify, &(*out)[i]);
    i++;
  }
  *n = i;
}

static const char *const known_plan_keys[] = {
  "name", "description", "runbook", "match", "severities", "allow", "target", "steps",
  "verify", "on_failure", "limits", "comment",
};

rb_status
plan_parse(const char *file, const char *text, struct plan *p, struct config_errors *errs)
{
  struct ctx c = { file, errs, errs->n };
  const cJSON *v, *allow, *lim;
  cJSON *root;
  char **sev;
  size_t n;

  memset(p, 0, sizeof(*p));
  p->file = strdup(file);
  root = cJSON_Parse(text);
  if (!cJSON_IsObject(root)) {
    problem(&c, "(file)", "not a JSON object");
    cJSON_Delete(root);
    return RB_EINVAL;
  }
  unknown_keys(&c, root, "(plan)", known_plan_keys, RB_ARRAY_LEN(known_plan_keys));
  p->name = get_str(&c, root, "name", "", 1);
  if (p->name && !kube_valid_subdomain(p->name))
    problem(&c, "name", "must be lowercase letters, digits and '-' (it names metrics)");
  p->description = get_str(&c, root, "description", "", 0);
  p->runbook = get_str(&c, root, "runbook", "", 0);

  v = cJSON_GetObjectItemCaseSensitive(root, "match");
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
    problem(&c, "match", "must be a non-empty array of Alertmanager matchers");
  } else {
    const cJSON *it;
    size_t i = 0;
    p->match = calloc((size_t)cJSON_GetArraySize(v), sizeof(*p->match));
    cJSON_ArrayForEach(it, v) {
      char err[RB_ERRLEN], field[32];
      snprintf(field, sizeof(field), "match[%zu]", i);
      if (!cJSON_IsString(it))
        problem(&c, field, "must be a string such as alertname=\"HighResponseTime\"");
      else if (matchers_parse(it->valuestring, &p->match[p->n_match], err) != RB_OK)
        problem(&c, field, "%s", err);
      else if (p->match[p->n_match]->n == 0) {
        /* An empty list matches every alert: never what a plan means. */
        problem(&c, field, "matches every alert; name at least one label");
        matchers_free(p->match[p->n_match]);
        p->match[p->n_match] = NULL;
      } else
        p->n_match++;
      i++;
    }
  }
  sev = get_strv(&c, root, "severities", "", &n);
  for (size_t i = 0; i < n; i++) {
    int l = severity_parse(sev[i]);
    if (l < 0)
      problem(&c, "severities", "\"%s\" is not one of emergency, critical, high, medium, low",
              sev[i]);
    else
      p->severities |= 1 << l;
  }
  free_strv(sev, n);

  allow = cJSON_GetObjectItemCaseSensitive(root, "allow");
  if (!cJSON_IsObject(allow)) {
    problem(&c, "allow", "missing: a plan must list the namespaces and deployments it may touch");
  } else {
    static const char *const ak[] = { "namespaces", "deployments", "configmaps" };
    unknown_keys(&c, allow, "allow", ak, RB_ARRAY_LEN(ak));
    p->allow_namespaces = get_strv(&c, allow, "namespaces", "allow", &p->n_allow_namespaces);
    p->allow_deployments = get_strv(&c, allow, "deployments", "allow", &p->n_allow_deployments);
    p->allow_configmaps = get_strv(&c, allow, "configmaps", "allow", &p->n_allow_configmaps);
    if (p->n_allow_namespaces == 0)
      problem(&c, "allow.namespaces", "must name at least one namespace");
    if (p->n_allow_deployments == 0)
      problem(&c, "allow.deployments", "must name at least one deployment");
    for (size_t i = 0; i < p->n_allow_namespaces; i++)
      if (!kube_valid_label_name(p->allow_namespaces[i]))
        problem(&c, "allow.namespaces", "\"%s\" is not a valid namespace name",
                p->allow_namespaces[i]);
    for (size_t i = 0; i < p->n_allow_deployments; i++)
      if (!kube_valid_subdomain(p->allow_deployments[i]))
        problem(&c, "allow.deployments", "\"%s\" is not a valid Kubernetes name",
                p->allow_deployments[i]);
  }

  v = cJSON_GetObjectItemCaseSensitive(root, "target");
  if (v) {
    static const char *const tk[] = { "deployment" };
    if (!cJSON_IsObject(v)) {
      problem(&c, "target", "must be an object such as {\"deployment\": \"cognitive-core\"}");
    } else {
      unknown_keys(&c, v, "target", tk, RB_ARRAY_LEN(tk));
      p->target_deployment = get_str(&c, v, "deployment", "target", 1);
      if (p->target_deployment
          && !in_list(p->allow_deployments, p->n_allow_deployments, p->target_deployment))
        problem(&c, "target.deployment", "\"%s\" is not in allow.deployments",
                p->target_deployment);
    }
  }
  parse_steps(&c, p, root, "steps", 0, &p->steps, &p->n_steps);
  parse_steps(&c, p, root, "verify", 1, &p->verify, &p->n_verify);
  parse_steps(&c, p, root, "on_failure", 0, &p->on_failure, &p->n_on_failure);
  if (p->n_steps == 0)
    problem(&c, "steps", "a plan needs at least one step");

  lim = cJSON_GetObjectItemCaseSensitive(root, "limits");
  if (lim && !cJSON_IsObject(lim))
    problem(&c, "limits", "must be an object");
  {
    static const char *const lk[] = { "max_attempts_per_incident", "cooldown_seconds",
                                      "max_per_hour", "max_per_day", "breaker_failures",
                                      "breaker_reset_seconds" };
    if (cJSON_IsObject(lim))
      unknown_keys(&c, lim, "limits", lk, RB_ARRAY_LEN(lk));
    p->limits.max_attempts_per_incident =
      (unsigned)get_int(&c, lim, "max_attempts_per_incident", "limits", 1, 1, 10, NULL);
    p->limits.cooldown_s = (unsigned)get_int(&c, lim, "cooldown_seconds", "limits", 900, 0,
                                             86400, NULL);
    p->limits.max_per_hour = (unsigned)get_int(&c, lim, "max_per_hour", "limits", 3, 1, 1000,
                                               NULL);
    p->limits.max_per_day = (unsigned)get_int(&c, lim, "max_per_day", "limits", 7, 1, 10000,
                                              NULL);
    p->limits.breaker_failures = (unsigned)get_int(&c, lim, "breaker_failures", "limits", 3, 1,
                                                   100, NULL);
    p->limits.breaker_reset_s = (unsigned)get_int(&c, lim, "breaker_reset_seconds", "limits",
                                                  3600, 60, 7 * 86400, NULL);
    if (p->limits.max_per_day < p->limits.max_per_hour)
      problem(&c, "limits.max_per_day", "must not be below max_per_hour");
  }
  cJSON_Delete(root);
  return errs->n == c.before ? RB_OK : RB_EINVAL;
}

void
plan_clear(struct plan *p)
{
  if (!p)
    return;
  free(p->file);
  free(p->name);
  free(p->description);
  free(p->runbook);
  free(p->target_deployment);
  for (size_t i = 0; i < p->n_match; i++)
    matchers_free(p->match[i]);
  free(p->match);
  free_strv(p->allow_namespaces, p->n_allow_namespaces);
  free_strv(p->allow_deployments, p->n_allow_deployments);
  free_strv(p->allow_configmaps, p->n_allow_configmaps);
  for (size_t i = 0; i < p->n_steps; i++)
    step_clear(&p->steps[i]);
  for (size_t i = 0; i < p->n_verify; i++)
    step_clear(&p->verify[i]);
  for (size_t i = 0; i < p->n_on_failure; i++)
    step_clear(&p->on_failure[i]);
  free(p->steps);
  free(p->verify);
  free(p->on_failure);
  memset(p, 0, sizeof(*p));
}

static int
plan_cmp(const void *a, const void *b)
{
  const struct plan *x = a, *y = b;
  return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

struct plan_set *
plan_load_dir(const char *dir, struct config_errors *errs)
{
  struct plan_set *s = calloc(1, sizeof(*s));
  size_t before = errs->n, cap = 0;
  struct dirent **names = NULL;
  int n;

  if (!s)
    return NULL;
  atomic_init(&s->refs, 1);
  n = scandir(dir, &names, NULL, alphasort);
  if (n < 0) {
    if (errno != ENOENT)
      config_errors_add(errs, dir, "cannot read the remediation directory: %s", strerror(errno));
    return errs->n == before ? s : (plan_set_drop(s), NULL);
  }
  for (int i = 0; i < n; i++) {
    const char *nm = names[i]->d_name;
    size_t len = strlen(nm);
    char path[4096];
    const char *err = NULL;
    char *text;

    if (nm[0] == '.' || len < 6 || strcmp(nm + len - 5, ".json") != 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, nm);
    text = rb_read_file(path, 1u << 20, NULL, &err);
    if (!text) {
      config_errors_add(errs, path, "cannot read: %s", err);
      continue;
    }
    if (rb_grow((void **)&s->plans, &cap, s->n, sizeof(*s->plans))) {
      config_errors_add(errs, path, "out of memory");
      free(text);
      continue;
    }
    plan_parse(path, text, &s->plans[s->n++], errs);
    free(text);
  }
  for (int i = 0; i < n; i++)
    free(names[i]);
  free(names);
  if (s->n)
    qsort(s->plans, s->n, sizeof(*s->plans), plan_cmp);
  for (size_t i = 1; i < s->n; i++)
    if (s->plans[i].name && s->plans[i - 1].name
        && strcmp(s->plans[i].name, s->plans[i - 1].name) == 0) {
      char where[4200];
      snprintf(where, sizeof(where), "%s: name", s->plans[i].file);
      config_errors_add(errs, where, "plan name \"%s\" is also used by %s", s->plans[i].name,
                        s->plans[i - 1].file);
    }
  if (errs->n != before) {
    plan_set_drop(s);
    return NULL;
  }
  return s;
}

struct plan_set *
plan_set_hold(struct plan_set *s)
{
  if (s)
    atomic_fetch_add(&s->refs, 1);
  return s;
}

void
plan_set_drop(struct plan_set *s)
{
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  for (size_t i = 0; i < s->n; i++)
    plan_clear(&s->plans[i]);
  free(s->plans);
  free(s);
}

const struct plan *
plan_match(const struct plan_set *s, const struct am_labels *labels, enum severity sev)
{
  for (size_t i = 0; s && i < s->n; i++) {
    const struct plan *p = &s->plans[i];
    size_t k;
    if (p->severities && !(p->severities & (1 << sev)))
      continue;
    for (k = 0; k < p->n_match; k++)
      if (!matchers_match(p->match[k], labels))
        break;
    if (k == p->n_match)
      return p;
  }
  return NULL;
}

int
plan_allows_namespace(const struct plan *p, const char *ns)
{
  return in_list(p->allow_namespaces, p->n_allow_namespaces, ns);
}

int
plan_allows_deployment(const struct plan *p, const char *name)
{
  return in_list(p->allow_deployments, p->n_allow_deployments, name);
}

int
plan_allows_configmap(const struct plan *p, const char *name)
{
  return in_list(p->allow_configmaps, p->n_allow_configmaps, name);
}

/* Adds "\nKIND NS/NAME\n" to b unless it is there. */
static void
add_object(struct buf *b, const char *kind, const char *ns, const char *name)
{
  char e[600];

  snprintf(e, sizeof(e), "\n%s %s/%s\n", kind, ns, name);
  if (!b->data || !strstr(b->data, e))
    buf_puts(b, e + 1); /* the list ends with a newline already */
}

static void
list_objects(struct buf *b, const struct plan *p, const struct step *v, size_t n, const char *ns,
             const char *target)
{
  for (size_t i = 0; i < n; i++) {
    const struct step *s = &v[i];
    switch (s->kind) {
    case STEP_ROLLOUT_RESTART:
    case STEP_SCALE:
    case STEP_SET_RESOURCES:
    case STEP_SET_ENV:
    case STEP_ROLLOUT_UNDO:
      add_object(b, "deployment", ns, s->deployment ? s->deployment : target);
      break;
    case STEP_PATCH_CONFIGMAP:
      if (s->configmap)
        add_object(b, "configmap", ns, s->configmap);
      break;
    case STEP_DELETE_PODS:
      /* Its selector may match the pods of any allowed Deployment. */
      for (size_t k = 0; k < p->n_allow_deployments; k++)
        add_object(b, "deployment", ns, p->allow_deployments[k]);
      break;
    default:
      break;
    }
  }
}

char *
plan_objects(const struct plan *p, const char *ns, const char *target)
{
  struct buf b;

  buf_init(&b, 0);
  buf_puts(&b, "\n");
  add_object(&b, "deployment", ns, target);
  if (p) {
    list_objects(&b, p, p->steps, p->n_steps, ns, target);
    list_objects(&b, p, p->on_failure, p->n_on_failure, ns, target);
  }
  return buf_steal(&b);
}
