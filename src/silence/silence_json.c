/*
 * silence_json.c - silences in Alertmanager API v2's wire format
 * (api/v2/openapi.yaml: PostableSilence in, GettableSilence out) and the
 * matchers' storage form.
 *
 * Decoding keeps go-swagger's two stages, because clients see them: a body
 * that does not decode (not JSON, a field of the wrong type) is a 400; a
 * decoded body missing a required field, or with no matchers, is a 422
 * with go-openapi's code.  Alertmanager's own checks (times, matchers)
 * come after, in silences_set().
 */
#include "silence.h"
#include "matcher.h"
#include "payload.h"
#include "rbtime.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX_DEPTH 16

static rb_status
put_time(struct buf *b, const char *key, int64_t ms)
{
  char t[40];
  return buf_printf(b, "\"%s\":\"%s\"", key, rb_time_fmt_ms(ms, t, sizeof(t)));
}

rb_status
silence_to_json(const struct silence *sil, int64_t now_ms, struct buf *b)
{
  rb_status rc = RB_OK;

  /* The field order is the one Alertmanager's encoder writes. */
  rc |= buf_puts(b, "{\"id\":");
  rc |= buf_json_str(b, sil->id);
  rc |= buf_printf(b, ",\"status\":{\"state\":\"%s\"},",
                   silence_state_name(silence_state(sil, now_ms)));
  rc |= put_time(b, "updatedAt", sil->updated_ms);
  rc |= buf_puts(b, ",\"comment\":");
  rc |= buf_json_str(b, sil->comment);
  rc |= buf_puts(b, ",\"createdBy\":");
  rc |= buf_json_str(b, sil->created_by);
  rc |= buf_puts(b, ",");
  rc |= put_time(b, "endsAt", sil->ends_ms);
  rc |= buf_puts(b, ",\"matchers\":[");
  for (size_t i = 0; i < sil->ms->n; i++) {
    const struct matcher *m = sil->ms->m[i];
    rc |= buf_printf(b, "%s{\"isEqual\":%s,\"isRegex\":%s,\"name\":", i ? "," : "",
                     m->type == MATCHER_EQ || m->type == MATCHER_RE ? "true" : "false",
                     m->type == MATCHER_RE || m->type == MATCHER_NRE ? "true" : "false");
    rc |= buf_json_str(b, m->name);
    rc |= buf_puts(b, ",\"value\":");
    rc |= buf_json_str(b, m->value);
    rc |= buf_puts(b, "}");
  }
  rc |= buf_puts(b, "],");
  rc |= put_time(b, "startsAt", sil->starts_ms);
  rc |= buf_puts(b, "}");
  /* Any failure is the buffer's (out of memory or over its maximum). */
  return rc ? RB_ENOMEM : RB_OK;
}

rb_status
silence_matchers_to_json(const struct matchers *ms, struct buf *b)
{
  rb_status rc = buf_puts(b, "[");

  for (size_t i = 0; !rc && i < ms->n; i++) {
    const struct matcher *m = ms->m[i];
    rc |= buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
    rc |= buf_json_str(b, m->name);
    rc |= buf_puts(b, ",\"value\":");
    rc |= buf_json_str(b, m->value);
    rc |= buf_printf(b, ",\"isRegex\":%s,\"isEqual\":%s}",
                     m->type == MATCHER_RE || m->type == MATCHER_NRE ? "true" : "false",
                     m->type == MATCHER_EQ || m->type == MATCHER_RE ? "true" : "false");
  }
  if (!rc)
    rc = buf_puts(b, "]");
  return rc ? RB_ENOMEM : RB_OK;
}

rb_status
silence_matchers_from_json(const char *json, struct matchers **out, char *err)
{
  cJSON *root = NULL;
  struct matchers *ms = NULL;
  size_t n;
  rb_status rc = RB_EINVAL;

  *out = NULL;
  if (json)
    root = cJSON_ParseWithOpts(json, NULL, 1);
  if (!cJSON_IsArray(root)) {
    snprintf(err, RB_ERRLEN, "matchers: not a JSON array");
    goto out;
  }
  n = (size_t)cJSON_GetArraySize(root);
  ms = calloc(1, sizeof(*ms));
  if (ms)
    ms->m = calloc(n ? n : 1, sizeof(*ms->m));
  if (!ms || !ms->m) {
    snprintf(err, RB_ERRLEN, "out of memory");
    rc = RB_ENOMEM;
    goto out;
  }
  for (cJSON *it = root->child; it; it = it->next) {
    cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
    cJSON *value = cJSON_GetObjectItemCaseSensitive(it, "value");
    cJSON *re = cJSON_GetObjectItemCaseSensitive(it, "isRegex");
    cJSON *eq = cJSON_GetObjectItemCaseSensitive(it, "isEqual");
    char why[RB_ERRLEN];

    if (!cJSON_IsString(name) || !cJSON_IsString(value) || (re && !cJSON_IsBool(re))
        || (eq && !cJSON_IsBool(eq))) {
      snprintf(err, RB_ERRLEN, "matchers[%zu]: malformed", ms->n);
      goto out;
    }
    rc = matcher_from_api(name->valuestring, value->valuestring, cJSON_IsTrue(re),
                          !eq || cJSON_IsTrue(eq), &ms->m[ms->n], why);
    if (rc) {
      snprintf(err, RB_ERRLEN, "matchers[%zu]: %s", ms->n, why);
      goto out;
    }
    ms->n++;
  }
  *out = ms;
  ms = NULL;
  rc = RB_OK;
out:
  matchers_free(ms);
  cJSON_Delete(root);
  return rc;
}

/* ---- PostableSilence ---------------------------------------------------- */

/* go-openapi reports one error: the first field, in the order its
 * generated validators run (alphabetical). */
static rb_status fail(enum silence_parse_code *code, enum silence_parse_code c, char *err,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static rb_status
fail(enum silence_parse_code *code, enum silence_parse_code c, char *err, const char *fmt, ...)
{
  va_list ap;

  *code = c;
  va_start(ap, fmt);
  vsnprintf(err, RB_ERRLEN, fmt, ap);
  va_end(ap);
  return RB_EINVAL;
}

/* A present, non-null item. */
static cJSON *
item(const cJSON *o, const char *key)
{
  cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNull(v) ? NULL : v;
}

#define PARSE_FAIL "parsing silence body failed, because "

/* A string field of the body: type checked in the decoding stage.  *out
 * stays NULL when it is absent. */
static rb_status
take_string(const cJSON *o, const char *key, const char *where, size_t max, char **out,
            enum silence_parse_code *code, char *err)
{
  cJSON *v = item(o, key);

  *out = NULL;
  if (!v)
    return RB_OK;
  if (!cJSON_IsString(v))
    return fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "%s must be a string", where);
  if (strlen(v->valuestring) > max) {
    *code = SIL_PARSE_BAD;
    snprintf(err, RB_ERRLEN, PARSE_FAIL "%s is longer than %zu bytes", where, max);
    return RB_ETOOBIG;
  }
  *out = strdup(v->valuestring);
  if (!*out)
    return RB_ENOMEM;
  return RB_OK;
}

static rb_status
take_time(const cJSON *o, const char *key, int64_t *out, int *present,
          enum silence_parse_code *code, char *err)
{
  cJSON *v = item(o, key);
  int64_t ns;

  *present = v != NULL;
  if (!v)
    return RB_OK;
  if (!cJSON_IsString(v))
    return fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "%s must be an RFC 3339 time string", key);
  if (rb_time_parse_ns(v->valuestring, &ns))
    return fail(code, SIL_PARSE_BAD, err,
                PARSE_FAIL "%s: cannot parse \"%.64s\" as an RFC 3339 time "
                           "(like 2006-01-02T15:04:05Z, years 1970 to 2261)",
                key, v->valuestring);
  /* Milliseconds: what the store keeps and the API shows.  Round down, so
   * Go's zero time (ns == 0) stays the earliest time. */
  *out = ns / 1000000;
  return RB_OK;
}

rb_status
silence_spec_from_json(const char *body, size_t len, struct silence_spec *out,
                       enum silence_parse_code *code, char *err)
{
  cJSON *root = NULL, *ms, *v;
  const char *end = NULL;
  int has_start = 0, has_end = 0;
  size_t n = 0;
  char why[128];
  rb_status rc;

  memset(out, 0, sizeof(*out));
  *code = SIL_PARSE_BAD;
  if (!body || json_only_space(body, len))
    return fail(code, SIL_PARSE_REQUIRED, err, "silence in body is required");
  if (json_scan(body, len, BODY_MAX_DEPTH, NULL, why, sizeof(why)))
    return fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "the body is not acceptable JSON: %s", why);
  root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (root && end) {
    size_t at = (size_t)(end - body);
    if (at < len && !json_only_space(end, len - at)) {
      cJSON_Delete(root);
      return fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "of data after the JSON value (at byte %zu)",
                  at);
    }
  }
  if (!root) {
    size_t at = end && end >= body ? (size_t)(end - body) : 0;
    return fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "the body is not valid JSON (at byte %zu)",
                at);
  }
  if (cJSON_IsNull(root)) {
    cJSON_Delete(root);
    return fail(code, SIL_PARSE_REQUIRED, err, "silence in body is required");
  }
  if (!cJSON_IsObject(root)) {
    rc = fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "the body must be a JSON object (a silence)");
    goto out;
  }

  /* Decoding: types. */
  v = item(root, "id");
  if (v && !cJSON_IsString(v)) {
    rc = fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "id must be a string");
    goto out;
  }
  if (v) {
    if (strlen(v->valuestring) < SILENCE_ID_LEN)
      snprintf(out->id, sizeof(out->id), "%s", v->valuestring);
    else
      snprintf(out->id, sizeof(out->id), "!"); /* no silence has it */
  }
  rc = take_string(root, "comment", "comment", SILENCE_MAX_TEXT, &out->comment, code, err);
  if (!rc)
    rc = take_string(root, "createdBy", "createdBy", SILENCE_MAX_TEXT, &out->created_by, code, err);
  if (!rc)
    rc = take_time(root, "startsAt", &out->starts_ms, &has_start, code, err);
  if (!rc)
    rc = take_time(root, "endsAt", &out->ends_ms, &has_end, code, err);
  if (rc)
    goto out;
  ms = item(root, "matchers");
  if (ms && !cJSON_IsArray(ms)) {
    rc = fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "matchers must be an array");
    goto out;
  }
  n = ms ? (size_t)cJSON_GetArraySize(ms) : 0;
  if (n > SILENCE_MAX_MATCHERS) {
    *code = SIL_PARSE_BAD;
    snprintf(err, RB_ERRLEN, PARSE_FAIL "more than %d matchers", SILENCE_MAX_MATCHERS);
    rc = RB_ETOOBIG;
    goto out;
  }
  out->m = calloc(n ? n : 1, sizeof(*out->m));
  if (!out->m) {
    rc = RB_ENOMEM;
    goto out;
  }
  for (cJSON *it = ms ? ms->child : NULL; it; it = it->next) {
    struct silence_api_matcher *m = &out->m[out->n];
    char where[48];
    cJSON *re, *eq;
    size_t i = out->n;

    if (!cJSON_IsObject(it)) {
      rc = fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "matchers[%zu] must be an object", i);
      goto out;
    }
    out->n++;
    snprintf(where, sizeof(where), "matchers[%zu].name", i);
    rc = take_string(it, "name", where, MATCHER_MAX_NAME, &m->name, code, err);
    snprintf(where, sizeof(where), "matchers[%zu].value", i);
    if (!rc)
      rc = take_string(it, "value", where, MATCHER_MAX_VALUE, &m->value, code, err);
    if (rc)
      goto out;
    re = item(it, "isRegex");
    eq = item(it, "isEqual");
    if ((re && !cJSON_IsBool(re)) || (eq && !cJSON_IsBool(eq))) {
      rc = fail(code, SIL_PARSE_BAD, err, PARSE_FAIL "matchers[%zu].%s must be true or false", i,
                re && !cJSON_IsBool(re) ? "isRegex" : "isEqual");
      goto out;
    }
    m->is_regex = re ? cJSON_IsTrue(re) : -1; /* -1: absent, checked below */
    m->is_equal = eq ? cJSON_IsTrue(eq) : 1;  /* Alertmanager's default */
  }

  /* Validation: required fields, in go-openapi's order. */
  if (!out->comment) {
    rc = fail(code, SIL_PARSE_REQUIRED, err, "comment in body is required");
  } else if (!out->created_by) {
    rc = fail(code, SIL_PARSE_REQUIRED, err, "createdBy in body is required");
  } else if (!has_end) {
    rc = fail(code, SIL_PARSE_REQUIRED, err, "endsAt in body is required");
  } else if (!ms) {
    rc = fail(code, SIL_PARSE_REQUIRED, err, "matchers in body is required");
  } else if (out->n == 0) {
    rc = fail(code, SIL_PARSE_MIN_ITEMS, err, "matchers in body should have at least 1 items");
  } else {
    for (size_t i = 0; !rc && i < out->n; i++) {
      if (out->m[i].is_regex < 0)
        rc = fail(code, SIL_PARSE_REQUIRED, err, "matchers.%zu.isRegex in body is required", i);
      else if (!out->m[i].name)
        rc = fail(code, SIL_PARSE_REQUIRED, err, "matchers.%zu.name in body is required", i);
      else if (!out->m[i].value)
        rc = fail(code, SIL_PARSE_REQUIRED, err, "matchers.%zu.value in body is required", i);
    }
    if (!rc && !has_start)
      rc = fail(code, SIL_PARSE_REQUIRED, err, "startsAt in body is required");
  }
out:
  cJSON_Delete(root);
  if (rc == RB_ENOMEM) {
    *code = SIL_PARSE_BAD;
    snprintf(err, RB_ERRLEN, "out of memory");
  }
  if (rc)
    silence_spec_clear(out);
  return rc;
}
