/* Unit tests for payload.c, fingerprint.c and utf8.c. */
#include "payload.h"

#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct payload_limits lim = { 1000, 64, 256, 4096, 8192, 32 };

static char *
fixture_body(const char *name)
{
  char path[512];
  FILE *f;
  long n;
  char *text, *out;
  cJSON *root;

  snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
  f = fopen(path, "rb");
  cr_assert_not_null(f, "open %s", path);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  text = calloc(1, (size_t)n + 1);
  cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  root = cJSON_Parse(text);
  out = cJSON_PrintUnformatted(cJSON_GetObjectItem(root, "body"));
  cJSON_Delete(root);
  free(text);
  return out;
}

static rb_status
parse(const char *s, struct am_payload **p, char *err)
{
  return payload_parse(s, strlen(s), &lim, p, err, RB_ERRLEN);
}

Test(payload, grouped_fixture)
{
  char err[RB_ERRLEN];
  struct am_payload *p;
  char *body = fixture_body("grouped-firing-bearer.json");

  cr_assert_eq(parse(body, &p, err), RB_OK, "%s", err);
  cr_assert_str_eq(p->receiver, "hook");
  cr_assert_eq(p->n_alerts, 2);
  cr_assert_eq(p->resolved, 0);
  cr_assert_str_eq(p->alerts[0].fingerprint, "a84b038af1a2bff5");
  cr_assert_eq(p->alerts[0].fingerprint_computed, 0);
  cr_assert_str_eq(am_label(&p->alerts[0].labels, "deployment"), "agentdb");
  cr_assert_null(am_label(&p->alerts[0].labels, "pod"));
  cr_assert_eq(p->alerts[0].starts_at_ns, 1796311182911229529LL);
  cr_assert_eq(p->alerts[0].ends_at_ns, 0);
  cr_assert_str_eq(am_label(&p->common_labels, "severity"), "high");
  payload_free(p);
  free(body);
}

Test(payload, truncated_fixture_records_count)
{
  char err[RB_ERRLEN];
  struct am_payload *p;
  char *body = fixture_body("truncated-basic-auth.json");

  cr_assert_eq(parse(body, &p, err), RB_OK, "%s", err);
  cr_assert_eq(p->truncated_alerts, 2);
  payload_free(p);
  free(body);
}

/* Every fixture's fingerprint is what we compute from its labels. */
Test(payload, fingerprint_matches_alertmanager)
{
  static const char *const names[] = { "grouped-firing-bearer.json",
                                       "grouped-one-resolved-bearer.json",
                                       "single-firing.json", "truncated-basic-auth.json" };
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char err[RB_ERRLEN], fp[17];
    struct am_payload *p;
    char *body = fixture_body(names[i]);
    cr_assert_eq(parse(body, &p, err), RB_OK, "%s", err);
    for (size_t k = 0; k < p->n_alerts; k++) {
      am_fingerprint(&p->alerts[k].labels, fp);
      cr_assert_str_eq(fp, p->alerts[k].fingerprint, "%s alert %zu", names[i], k);
    }
    payload_free(p);
    free(body);
  }
}

Test(payload, computes_missing_fingerprint)
{
  char err[RB_ERRLEN];
  struct am_payload *p;
  const char *s = "{\"version\":\"4\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
                  "\"labels\":{\"severity\":\"warning\",\"namespace\":\"ran-optimization\","
                  "\"deployment\":\"api-gateway\",\"alertname\":\"HighResponseTime\"},"
                  "\"startsAt\":\"2026-12-03T15:18:24.903907723Z\"}]}";

  cr_assert_eq(parse(s, &p, err), RB_OK, "%s", err);
  cr_assert_str_eq(p->alerts[0].fingerprint, "94c2048b04fecb91");
  cr_assert_eq(p->alerts[0].fingerprint_computed, 1);
  payload_free(p);
}

struct bad_case {
  const char *body;
  rb_status st;
  const char *needle; /* must appear in the error */
};

Test(payload, rejects_with_named_problem)
{
  static const struct bad_case cases[] = {
    { "", RB_EINVAL, "empty body" },
    { "{\"status\":\"firing\",\"alerts\":[", RB_EINVAL, "malformed JSON" },
    { "[]", RB_EINVAL, "must be a JSON object" },
    { "{\"alerts\":[]}", RB_EINVAL, "status: missing" },
    { "{\"status\":\"bogus\",\"alerts\":[]}", RB_EINVAL, "status: must be" },
    { "{\"status\":\"firing\"}", RB_EINVAL, "alerts: missing" },
    { "{\"status\":\"firing\",\"alerts\":{}}", RB_EINVAL, "alerts: must be an array" },
    { "{\"version\":\"3\",\"status\":\"firing\",\"alerts\":[]}", RB_EINVAL, "version" },
    { "{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"startsAt\":"
      "\"2026-12-03T15:18:24Z\"}]}", RB_EINVAL, "alerts[0].labels: missing" },
    { "{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":1},"
      "\"startsAt\":\"2026-12-03T15:18:24Z\"}]}", RB_EINVAL, "alerts[0].labels.a: must be a string" },
    { "{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"b\"}}]}",
      RB_EINVAL, "alerts[0].startsAt: missing" },
    { "{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"b\"},"
      "\"startsAt\":\"yesterday\"}]}", RB_EINVAL, "not an RFC 3339" },
    { "{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"b\"},"
      "\"startsAt\":\"2026-12-03T15:18:24Z\",\"fingerprint\":\"xyz\"}]}", RB_EINVAL,
      "fingerprint" },
    { "{\"status\":\"firing\",\"alerts\":[]} x", RB_EINVAL, "after the JSON document" },
    { "{\"status\":\"firing\",\"alerts\":[],\"truncatedAlerts\":-1}", RB_EINVAL,
      "truncatedAlerts" },
    { "{\"status\":\"firing\",\"alerts\":[\"x\"]}", RB_EINVAL, "alerts[0]: must be an object" },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char err[RB_ERRLEN];
    struct am_payload *p = NULL;
    rb_status st = payload_parse(cases[i].body, strlen(cases[i].body), &lim, &p, err,
                                 sizeof(err));
    cr_assert_eq(st, cases[i].st, "case %zu: got %d (%s)", i, st, err);
    cr_assert_null(p);
    cr_assert(strstr(err, cases[i].needle), "case %zu: '%s' lacks '%s'", i, err,
              cases[i].needle);
  }
}

Test(payload, deep_nesting_is_refused_before_parsing)
{
  size_t n = 100000;
  char *s = malloc(2 * n + 1), err[RB_ERRLEN];
  struct am_payload *p;

  memset(s, '[', n);
  memset(s + n, ']', n);
  s[2 * n] = '\0';
  cr_assert_eq(payload_parse(s, 2 * n, &lim, &p, err, sizeof(err)), RB_EINVAL);
  cr_assert(strstr(err, "nested deeper than 32"), "%s", err);
  free(s);
}

Test(payload, invalid_utf8_is_named)
{
  const char s[] = "{\"status\":\"firing\",\"receiver\":\"\xc3\x28\",\"alerts\":[]}";
  char err[RB_ERRLEN];
  struct am_payload *p;

  cr_assert_eq(payload_parse(s, sizeof(s) - 1, &lim, &p, err, sizeof(err)), RB_EINVAL);
  cr_assert(strstr(err, "not valid UTF-8 (byte 31)"), "%s", err);
}

Test(payload, limits_give_too_big)
{
  char err[RB_ERRLEN];
  struct am_payload *p;
  size_t big = 5000;
  char *v = malloc(big + 1), *s = malloc(big + 256);

  memset(v, 'x', big);
  v[big] = '\0';
  snprintf(s, big + 256,
           "{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"%s\"},"
           "\"startsAt\":\"2026-12-03T15:18:24Z\"}]}", v);
  cr_assert_eq(parse(s, &p, err), RB_ETOOBIG);
  cr_assert(strstr(err, "alerts[0].labels.a: value of 5000 bytes is longer than the limit of 4096"),
            "%s", err);
  free(v);
  free(s);
}

Test(utf8, validator)
{
  cr_assert_eq(utf8_invalid_at("plain", 5), -1);
  cr_assert_eq(utf8_invalid_at("\xe2\x82\xac", 3), -1);        /* euro sign */
  cr_assert_eq(utf8_invalid_at("\xf0\x9f\x98\x80", 4), -1);    /* emoji */
  cr_assert_eq(utf8_invalid_at("a\xc0\xaf", 3), 1);            /* overlong */
  cr_assert_eq(utf8_invalid_at("\xed\xa0\x80", 3), 0);         /* surrogate */
  cr_assert_eq(utf8_invalid_at("ab\xe2\x82", 4), 2);           /* truncated */
  cr_assert_eq(utf8_invalid_at("\xf4\x90\x80\x80", 4), 0);     /* > U+10FFFF */
}

Test(json_scan, counts_outside_strings)
{
  struct json_scan js;
  char err[128];

  cr_assert_eq(json_scan("{\"a\":[1,{\"b\":2}]}", 17, 10, &js, err, sizeof(err)), 0);
  cr_assert_eq(js.depth, 3);
  cr_assert_eq(js.values, 5); /* the object, the array, a comma, the inner object, one */
  cr_assert_eq(json_scan("{\"a\":\"[[[[,,\"}", 14, 10, &js, err, sizeof(err)), 0);
  cr_assert_eq(js.depth, 1);
  cr_assert_eq(js.values, 2);
  cr_assert_eq(json_scan("[[[[[", 5, 3, &js, err, sizeof(err)), -1);
  cr_assert(strstr(err, "nested deeper than 3 levels (byte 3)"), "%s", err);
}

/* A NUL, escaped or raw, would cut a C string short: two different label
 * values would become one. */
Test(json_scan, refuses_nul_and_raw_control_characters)
{
  char err[128];

  cr_assert_eq(json_scan("{\"a\":\"x\\u0000y\"}", 16, 8, NULL, err, sizeof(err)), -1);
  cr_assert(strstr(err, "\\u0000 (NUL) in a string at byte 7"), "%s", err);
  cr_assert_eq(json_scan("{\"a\":\"x\0y\"}", 11, 8, NULL, err, sizeof(err)), -1);
  cr_assert(strstr(err, "NUL byte at byte 7"), "%s", err);
  cr_assert_eq(json_scan("{\"a\":\"x\ty\"}", 11, 8, NULL, err, sizeof(err)), -1);
  cr_assert(strstr(err, "unescaped control character U+0009 in a string at byte 7"), "%s", err);
  cr_assert_eq(json_scan("{\"a\":\"\xc0\xaf\"}", 10, 8, NULL, err, sizeof(err)), -1);
  cr_assert(strstr(err, "not valid UTF-8 (byte 6)"), "%s", err);
  /* Escaped: a backslash before "u0000", a tab, a line break; white space
   * between tokens. */
  cr_assert_eq(json_scan("{\"a\":\"\\\\u0000\\t\\n\"}", 19, 8, NULL, err, sizeof(err)), 0, "%s",
               err);
  cr_assert_eq(json_scan("{\n\t\"a\" : 1\r\n}", 13, 8, NULL, err, sizeof(err)), 0, "%s", err);
}

Test(payload, nul_in_a_label_is_refused)
{
  char err[RB_ERRLEN];
  struct am_payload *p;
  static const char body[]
      = "{\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"alertname\":"
        "\"Nul\\u0000A\"},\"startsAt\":\"2026-12-03T15:18:24Z\"}]}";

  cr_assert_eq(parse(body, &p, err), RB_EINVAL);
  cr_assert(strstr(err, "body: \\u0000 (NUL) in a string at byte"), "%s", err);
}

/* "[0,0,0,...]" in an unknown field would make a 64-byte node of every two
 * bytes of body. */
Test(payload, dense_body_is_refused_before_parsing)
{
  char err[RB_ERRLEN];
  struct am_payload *p;
  size_t n = 100000, at;
  char *s = malloc(2 * n + 128);

  at = (size_t)sprintf(s, "{\"status\":\"firing\",\"alerts\":[],\"x\":[");
  for (size_t i = 0; i < n; i++) {
    s[at++] = '0';
    s[at++] = ',';
  }
  strcpy(s + at - 1, "]}");
  cr_assert_eq(parse(s, &p, err), RB_ETOOBIG);
  cr_assert(strstr(err, "JSON values in") && strstr(err, "more than one per 5 bytes"), "%s", err);
  free(s);
}
