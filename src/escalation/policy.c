/*
 * policy.c - the escalation policy: the seed's matrix by default,
 * overridden per severity by the "escalation" section of the
 * configuration, with contacts and notifier settings (see escalation.h).
 */
#include "escalation.h"
#include "matcher.h"
#include "rbfile.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The seed's escalation matrix (INTERFACE.md). */
static const struct {
  unsigned respond_s;
  const char *path[3];
  enum notify_method methods[3];
  size_t n_path, n_methods;
} seed[SEV_COUNT] = {
  [SEV_EMERGENCY] = { 900, { "on-call-engineer", "manager", "director" },
                      { NM_PHONE, NM_SLACK, NM_EMAIL }, 3, 3 },
  [SEV_CRITICAL] = { 3600, { "l2-support", "system-architect", "cto" },
                     { NM_SLACK, NM_PHONE, NM_EMAIL }, 3, 3 },
  [SEV_HIGH] = { 14400, { "l2-support", "team-lead" }, { NM_SLACK, NM_EMAIL }, 2, 2 },
  [SEV_MEDIUM] = { 86400, { "l1-support", "l2-support" }, { NM_EMAIL, NM_SLACK }, 2, 2 },
  [SEV_LOW] = { 259200, { "l1-support" }, { NM_EMAIL }, 1, 1 },
};

struct ctx {
  const char *file;
  const char *dir;
  struct config_errors *errs;
};

static void
problem(struct ctx *c, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

static void
problem(struct ctx *c, const char *field, const char *fmt, ...)
{
  char where[512];
  va_list ap;

  snprintf(where, sizeof(where), "%s: escalation.%s", c->file ? c->file : "config", field);
  va_start(ap, fmt);
  config_errors_vadd(c->errs, where, fmt, ap);
  va_end(ap);
}

static unsigned
get_uint(struct ctx *c, const cJSON *o, const char *key, const char *field, unsigned def,
         unsigned min, unsigned max)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  char f[256];
  if (!v)
    return def;
  snprintf(f, sizeof(f), "%s%s%s", field, *field ? "." : "", key);
  if (!cJSON_IsNumber(v) || !rb_double_is_ll(v->valuedouble) || v->valuedouble < min
      || v->valuedouble > max) {
    problem(c, f, "must be an integer from %u to %u", min, max);
    return def;
  }
  return (unsigned)v->valuedouble;
}

static char *
get_str(struct ctx *c, const cJSON *o, const char *key, const char *field)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  char f[256];
  if (!v)
    return NULL;
  snprintf(f, sizeof(f), "%s%s%s", field, *field ? "." : "", key);
  if (!cJSON_IsString(v) || !*v->valuestring) {
    problem(c, f, "must be a non-empty string");
    return NULL;
  }
  return strdup(v->valuestring);
}

/* Reads a secret from the file named by key (relative to the config's
 * folder), trimmed like Alertmanager's credentials files. */
static char *
get_secret(struct ctx *c, const cJSON *o, const char *key, const char *field)
{
  char *name = get_str(c, o, key, field), *path, f[256], err[RB_ERRLEN], *secret;

  if (!name)
    return NULL;
  snprintf(f, sizeof(f), "%s.%s", field, key);
  path = rb_path_join(c->dir, name);
  free(name);
  secret = path ? rb_read_secret(path, err, sizeof(err)) : NULL;
  if (!secret)
    problem(c, f, "%s", path ? err : "out of memory");
  free(path);
  return secret;
}

/* Reads a CA bundle's path from key (relative to the config's folder, like
 * the other files) and checks that it holds a PEM certificate: curl would
 * otherwise fail every delivery. */
static char *
get_ca_file(struct ctx *c, const cJSON *o, const char *key, const char *field)
{
  char *name = get_str(c, o, key, field), *path, f[256], err[RB_ERRLEN];

  if (!name)
    return NULL;
  snprintf(f, sizeof(f), "%s.%s", field, key);
  path = rb_path_join(c->dir, name);
  free(name);
  if (!path)
    problem(c, f, "out of memory");
  else if (rb_check_ca_file(path, err, sizeof(err)))
    problem(c, f, "%s", err);
  return path;
}

static void
unknown_keys(struct ctx *c, const cJSON *o, const char *field, const char *const *known,
             size_t n)
{
  const cJSON *it;
  cJSON_ArrayForEach(it, o) {
    size_t i;
    for (i = 0; i < n; i++)
      if (strcmp(it->string, known[i]) == 0)
        break;
    if (i == n) {
      char f[256];
      snprintf(f, sizeof(f), "%s%s%s", field, *field ? "." : "", it->string);
      if (strchr(it->string, '.'))
        problem(c, f, "unknown field: a key cannot hold a '.'; nest the objects instead");
      else
        problem(c, f, "unknown field");
    }
  }
}

static void
load_contact(struct ctx *c, const cJSON *o, struct esc_contact *ct)
{
  static const char *const keys[] = { "name", "phone", "slack", "email", "pagerduty", "webhook" };
  char field[256];

  snprintf(field, sizeof(field), "contacts.%s", ct->id);
  if (!cJSON_IsObject(o)) {
    problem(c, field, "must be an object of contact methods");
    return;
  }
  unknown_keys(c, o, field, keys, RB_ARRAY_LEN(keys));
  ct->name = get_str(c, o, "name", field);
  if (!ct->name)
    ct->name = strdup(ct->id);
  ct->targets = calloc(NM_COUNT, sizeof(*ct->targets));
  if (!ct->targets)
    return;
  for (int m = 0; m < NM_COUNT; m++) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, notify_method_name((enum notify_method)m));
    struct notify_target *nt = &ct->targets[m];
    char f[300];
    size_t before = c->errs->n;

    if (!t)
      continue;
    snprintf(f, sizeof(f), "%s.%s", field, notify_method_name((enum notify_method)m));
    if (!cJSON_IsObject(t)) {
      problem(c, f, "must be an object");
      continue;
    }
    nt->method = (enum notify_method)m;
    switch (m) {
    case NM_SLACK: {
      static const char *const k[] = { "url_file" };
      unknown_keys(c, t, f, k, 1);
      nt->url = get_secret(c, t, "url_file", f);
      if (!nt->url && c->errs->n == before)
        problem(c, f, "needs url_file (the incoming webhook URL is a secret)");
      break;
    }
    case NM_PAGERDUTY: {
      static const char *const k[] = { "routing_key_file", "url" };
      unknown_keys(c, t, f, k, 2);
      nt->routing_key = get_secret(c, t, "routing_key_file", f);
      nt->url = get_str(c, t, "url", f);
      if (!nt->routing_key && c->errs->n == before)
        problem(c, f, "needs routing_key_file");
      break;
    }
    case NM_WEBHOOK: {
      static const char *const k[] = { "url", "secret_file" };
      unknown_keys(c, t, f, k, 2);
      nt->url = get_str(c, t, "url", f);
      nt->secret = get_secret(c, t, "secret_file", f);
      if ((!nt->url || !nt->secret) && c->errs->n == before)
        problem(c, f, "needs url and secret_file (the HMAC key)");
      break;
    }
    case NM_EMAIL: {
      static const char *const k[] = { "to" };
      unknown_keys(c, t, f, k, 1);
      nt->to = get_str(c, t, "to", f);
      if (!nt->to && c->errs->n == before)
        problem(c, f, "needs to");
      else if (nt->to && !strchr(nt->to, '@'))
        problem(c, f, "to: \"%s\" is not an email address", nt->to);
      break;
    }
    case NM_PHONE: {
      static const char *const k[] = { "url", "to", "secret_file" };
      unknown_keys(c, t, f, k, 3);
      nt->url = get_str(c, t, "url", f);
      nt->to = get_str(c, t, "to", f);
      nt->secret = get_secret(c, t, "secret_file", f);
      if ((!nt->url || !nt->to) && c->errs->n == before)
        problem(c, f, "needs url (the paging provider's webhook) and to (a phone number)");
      break;
    }
    }
    if (nt->url && strncmp(nt->url, "http://", 7) != 0 && strncmp(nt->url, "https://", 8) != 0)
      problem(c, f, "the URL must be http:// or https://");
    ct->has[m] = c->errs->n == before;
  }
}

static void
load_severity(struct ctx *c, const cJSON *o, enum severity sev, struct esc_severity_policy *sp)
{
  static const char *const keys[] = { "respond_within_seconds", "path", "methods", "repeat_last" };
  char field[64];
  const cJSON *v, *it;

  snprintf(field, sizeof(field), "policy.%s", severity_name(sev));
  if (!cJSON_IsObject(o)) {
    problem(c, field, "must be an object");
    return;
  }
  unknown_keys(c, o, field, keys, RB_ARRAY_LEN(keys));
  sp->respond_s = get_uint(c, o, "respond_within_seconds", field, sp->respond_s, 1, 30 * 86400);
  sp->repeat_last = get_uint(c, o, "repeat_last", field, sp->repeat_last, 0, 100);
  v = cJSON_GetObjectItemCaseSensitive(o, "path");
  if (v) {
    char f[80];
    snprintf(f, sizeof(f), "%s.path", field);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1
        || cJSON_GetArraySize(v) > ESC_MAX_LEVELS) {
      problem(c, f, "must be 1 to %d contact names", ESC_MAX_LEVELS);
    } else {
      for (size_t i = 0; i < sp->n_path; i++)
        free(sp->path[i]);
      sp->n_path = 0;
      cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it) || !*it->valuestring)
          problem(c, f, "must name contacts");
        else
          sp->path[sp->n_path++] = strdup(it->valuestring);
      }
    }
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "methods");
  if (v) {
    char f[80];
    snprintf(f, sizeof(f), "%s.methods", field);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1 || cJSON_GetArraySize(v) > NM_COUNT) {
      problem(c, f, "must list 1 to %d of phone, slack, email, pagerduty, webhook", NM_COUNT);
    } else {
      sp->n_methods = 0;
      cJSON_ArrayForEach(it, v) {
        int m = cJSON_IsString(it) ? notify_method_parse(it->valuestring) : -1;
        if (m < 0)
          problem(c, f, "unknown method (phone, slack, email, pagerduty, webhook)");
        else
          sp->methods[sp->n_methods++] = (enum notify_method)m;
      }
    }
  }
}

static void
load_notifiers(struct ctx *c, const cJSON *o, struct esc_policy *p)
{
  static const char *const keys[] = { "timeout_seconds", "retries", "backoff_ms", "ca_file",
                                      "smtp" };
  static const char *const skeys[] = { "url", "from", "username", "password_file", "require_tls",
                                       "ca_file" };
  const cJSON *smtp;

  if (!o)
    return;
  if (!cJSON_IsObject(o)) {
    problem(c, "notifiers", "must be an object");
    return;
  }
  unknown_keys(c, o, "notifiers", keys, RB_ARRAY_LEN(keys));
  p->notify.timeout_s = get_uint(c, o, "timeout_seconds", "notifiers", 10, 1, 120);
  p->notify.retries = get_uint(c, o, "retries", "notifiers", 3, 0, 10);
  p->notify.backoff_ms = get_uint(c, o, "backoff_ms", "notifiers", 500, 1, 60000);
  p->ca_file = get_ca_file(c, o, "ca_file", "notifiers");
  smtp = cJSON_GetObjectItemCaseSensitive(o, "smtp");
  if (smtp) {
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(smtp, "require_tls");
    unknown_keys(c, smtp, "notifiers.smtp", skeys, RB_ARRAY_LEN(skeys));
    p->smtp_url = get_str(c, smtp, "url", "notifiers.smtp");
    p->smtp_from = get_str(c, smtp, "from", "notifiers.smtp");
    p->smtp_username = get_str(c, smtp, "username", "notifiers.smtp");
    p->smtp_password = get_secret(c, smtp, "password_file", "notifiers.smtp");
    p->smtp_ca_file = get_ca_file(c, smtp, "ca_file", "notifiers.smtp");
    if (tls && !cJSON_IsBool(tls))
      problem(c, "notifiers.smtp.require_tls", "must be true or false");
    p->notify.smtp_require_tls = !tls || cJSON_IsTrue(tls);
    if (!p->smtp_url || (strncmp(p->smtp_url, "smtp://", 7) != 0
                         && strncmp(p->smtp_url, "smtps://", 8) != 0))
      problem(c, "notifiers.smtp.url", "must be smtp://host:port or smtps://host:port");
    if (!p->smtp_from)
      problem(c, "notifiers.smtp.from", "missing");
  }
}

static void
set_defaults(struct esc_policy *p)
{
  for (int s = 0; s < SEV_COUNT; s++) {
    p->sev[s].respond_s = seed[s].respond_s;
    p->sev[s].n_path = seed[s].n_path;
    for (size_t i = 0; i < seed[s].n_path; i++)
      p->sev[s].path[i] = strdup(seed[s].path[i]);
    p->sev[s].n_methods = seed[s].n_methods;
    memcpy(p->sev[s].methods, seed[s].methods, sizeof(seed[s].methods));
    p->sev[s].repeat_last = 2;
  }
  p->progress_s = 1800;
  p->unavailable_s = 900;
  p->multi_deployments = 3;
  p->multi_window_s = 600;
  p->notify.timeout_s = 10;
  p->notify.retries = 3;
  p->notify.backoff_ms = 500;
  p->notify.smtp_require_tls = 1;
}

static void
wire_settings(struct esc_policy *p)
{
  p->notify.smtp_url = p->smtp_url;
  p->notify.smtp_from = p->smtp_from;
  p->notify.smtp_username = p->smtp_username;
  p->notify.smtp_password = p->smtp_password;
  p->notify.smtp_ca_file = p->smtp_ca_file;
  p->notify.ca_file = p->ca_file;
  p->notify.external_url = p->external_url;
}

struct esc_policy *
esc_policy_load(const char *json, const char *file, struct config_errors *errs)
{
  static const char *const keys[] = { "external_url", "first_page_delay_seconds",
                                      "progress_interval_seconds", "unavailable",
                                      "multi_component", "policy", "contacts", "notifiers" };
  struct esc_policy *p = calloc(1, sizeof(*p));
  size_t before = errs->n;
  char *dir = NULL, errbuf[RB_ERRLEN];
  struct ctx c = { file, NULL, errs };
  cJSON *root = NULL;
  const cJSON *v, *it;

  if (!p)
    return NULL;
  atomic_init(&p->refs, 1);
  set_defaults(p);
  if (matchers_parse("{alertname=\"ServiceDown\"}", &p->unavailable_match, errbuf) != RB_OK)
    p->unavailable_match = NULL;
  dir = rb_dirname(file);
  c.dir = dir;
  if (json) {
    root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
      problem(&c, "(section)", "must be an object");
      goto out;
    }
    unknown_keys(&c, root, "", keys, RB_ARRAY_LEN(keys));
    p->external_url = get_str(&c, root, "external_url", "");
    p->first_page_delay_s = get_uint(&c, root, "first_page_delay_seconds", "", 0, 0, 86400);
    p->progress_s = get_uint(&c, root, "progress_interval_seconds", "", 1800, 0, 86400);
    v = cJSON_GetObjectItemCaseSensitive(root, "unavailable");
    if (v) {
      static const char *const uk[] = { "after_seconds", "match" };
      unknown_keys(&c, v, "unavailable", uk, 2);
      p->unavailable_s = get_uint(&c, v, "after_seconds", "unavailable", 900, 0, 86400);
      it = cJSON_GetObjectItemCaseSensitive(v, "match");
      if (it) {
        matchers_free(p->unavailable_match);
        p->unavailable_match = NULL;
        if (!cJSON_IsString(it)
            || matchers_parse(it->valuestring, &p->unavailable_match, errbuf) != RB_OK)
          problem(&c, "unavailable.match", "%s",
                  cJSON_IsString(it) ? errbuf : "must be a matcher list string");
      }
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "multi_component");
    if (v) {
      static const char *const mk[] = { "deployments", "within_seconds" };
      unknown_keys(&c, v, "multi_component", mk, 2);
      p->multi_deployments = get_uint(&c, v, "deployments", "multi_component", 3, 0, 1000);
      p->multi_window_s = get_uint(&c, v, "within_seconds", "multi_component", 600, 1, 86400);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "contacts");
    if (v && !cJSON_IsObject(v)) {
      problem(&c, "contacts", "must be an object of contacts");
    } else if (v) {
      p->contacts = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*p->contacts));
      cJSON_ArrayForEach(it, v) {
        struct esc_contact *ct = &p->contacts[p->n_contacts++];
        ct->id = strdup(it->string);
        load_contact(&c, it, ct);
      }
      if (p->n_contacts > 32)
        problem(&c, "contacts", "at most 32 contacts");
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "policy");
    if (v && !cJSON_IsObject(v)) {
      problem(&c, "policy", "must be an object keyed by severity");
    } else if (v) {
      cJSON_ArrayForEach(it, v) {
        int sev = severity_parse(it->string);
        if (sev < 0) {
          char f[128];
          snprintf(f, sizeof(f), "policy.%s", it->string);
          problem(&c, f, "not a severity (emergency, critical, high, medium, low)");
          continue;
        }
        load_severity(&c, it, (enum severity)sev, &p->sev[sev]);
      }
    }
    load_notifiers(&c, cJSON_GetObjectItemCaseSensitive(root, "notifiers"), p);
  }
  p->enabled = p->n_contacts > 0;
  /* Every level of every path must be a contact reachable by one of the
   * severity's methods. */
  for (int s = 0; p->enabled && s < SEV_COUNT; s++) {
    for (size_t l = 0; l < p->sev[s].n_path; l++) {
      const struct esc_contact *ct = esc_contact_find(p, p->sev[s].path[l]);
      char f[128];
      int reachable = 0;
      snprintf(f, sizeof(f), "policy.%s.path[%zu]", severity_name((enum severity)s), l);
      if (!ct) {
        problem(&c, f, "no contact named \"%s\" in escalation.contacts", p->sev[s].path[l]);
        continue;
      }
      for (size_t m = 0; m < p->sev[s].n_methods; m++)
        reachable |= ct->has[p->sev[s].methods[m]];
      if (!reachable)
        problem(&c, f, "contact \"%s\" has none of this severity's methods", ct->id);
      for (size_t m = 0; m < p->sev[s].n_methods; m++)
        if (p->sev[s].methods[m] == NM_EMAIL && ct->has[NM_EMAIL] && !p->smtp_url)
          problem(&c, f, "contact \"%s\" has email, but escalation.notifiers.smtp is not set",
                  ct->id);
    }
  }
  wire_settings(p);
out:
  cJSON_Delete(root);
  free(dir);
  if (errs->n != before) {
    esc_policy_drop(p);
    return NULL;
  }
  return p;
}

const struct esc_contact *
esc_contact_find(const struct esc_policy *p, const char *id)
{
  for (size_t i = 0; p && i < p->n_contacts; i++)
    if (strcmp(p->contacts[i].id, id) == 0)
      return &p->contacts[i];
  return NULL;
}

struct esc_policy *
esc_policy_hold(struct esc_policy *p)
{
  if (p)
    atomic_fetch_add(&p->refs, 1);
  return p;
}

static void
wipe(char *s)
{
  if (s) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

void
esc_policy_drop(struct esc_policy *p)
{
  if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
    return;
  for (int s = 0; s < SEV_COUNT; s++)
    for (size_t i = 0; i < p->sev[s].n_path; i++)
      free(p->sev[s].path[i]);
  for (size_t i = 0; i < p->n_contacts; i++) {
    free(p->contacts[i].id);
    free(p->contacts[i].name);
    for (int m = 0; p->contacts[i].targets && m < NM_COUNT; m++)
      notify_target_clear(&p->contacts[i].targets[m]);
    free(p->contacts[i].targets);
  }
  free(p->contacts);
  matchers_free(p->unavailable_match);
  free(p->smtp_url);
  free(p->smtp_from);
  free(p->smtp_username);
  wipe(p->smtp_password);
  free(p->smtp_ca_file);
  free(p->ca_file);
  free(p->external_url);
  free(p);
}
