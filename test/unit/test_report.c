/* Unit tests for the post-incident report (src/report/): fixture incidents
 * written into a temporary store with fixed times, the Markdown and JSON
 * compared byte for byte with golden files (test/golden/), the HTML checked
 * as well-formed and self-contained, and everything from the network
 * escaped.  RUNBOOKD_UPDATE_GOLDEN=1 rewrites the golden files. */
#include "rbtime.h"
#include "report.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#ifndef GOLDEN_DIR
#define GOLDEN_DIR "test/golden"
#endif

static char dir[64];
static struct store *st;
static int64_t base; /* 2026-12-01T00:00:00Z in ms */

static int64_t
T(int h, int m, int s, int ms)
{
  return base + ((int64_t)h * 3600 + m * 60 + s) * 1000 + ms;
}

/* ---- the fixtures ------------------------------------------------------ */

struct ev {
  int64_t at;
  const char *kind, *actor, *detail;
};

static rb_status
add_events(struct store *s, int64_t id, const struct ev *v, size_t n)
{
  rb_status rc = RB_OK;
  for (size_t i = 0; i < n && !rc; i++)
    rc = store_w_append_event(s, id, v[i].at, v[i].kind, v[i].actor, v[i].detail);
  return rc;
}

/* Incident 1: a critical HighCPUUsage, remediation failed at its second
 * step, L2 paged by Slack, the architect's phone failed, acknowledged
 * by alice, resolved by Alertmanager; a silence matched it for a while.
 * Its summary and one label try to inject markup. */
static rb_status
fixture_resolved(struct store *s, void *arg)
{
  struct incident inc;
  struct rem_run run;
  struct silence_row sil;
  rb_status rc;
  const struct ev ev[] = {
    { T(10, 0, 30, 0), "received", "alertmanager", "{\"receiver\":\"hook\"}" },
    { T(10, 0, 30, 100), "plan matched", "runbookd",
      "{\"plan\":\"high-load\",\"runbook\":\"Runbook 4: High Load\",\"steps\":2,\"dryRun\":false}" },
    { T(10, 0, 30, 200), "step started", "runbookd",
      "{\"run\":\"1\",\"plan\":\"high-load\",\"step\":\"scale-out\",\"kind\":\"scale\","
      "\"phase\":\"steps\",\"index\":0,\"namespace\":\"ran-optimization\",\"deployment\":"
      "\"cognitive-core\",\"dryRun\":false,\"note\":\"3 -> 5 replicas\",\"requests\":[{\"method\":"
      "\"PATCH\",\"path\":\"/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core/"
      "scale\",\"contentType\":\"application/merge-patch+json\",\"body\":{\"spec\":{\"replicas\":5}}}]}" },
    { T(10, 0, 30, 400), "step succeeded", "runbookd",
      "{\"run\":\"1\",\"plan\":\"high-load\",\"step\":\"scale-out\",\"kind\":\"scale\","
      "\"phase\":\"steps\",\"index\":0,\"namespace\":\"ran-optimization\",\"deployment\":"
      "\"cognitive-core\",\"dryRun\":false,\"responses\":[{\"method\":\"PATCH\",\"path\":"
      "\"/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core/scale\","
      "\"status\":200,\"attempts\":1}]}" },
    { T(10, 0, 31, 0), "step started", "runbookd",
      "{\"run\":\"1\",\"plan\":\"high-load\",\"step\":\"restart\",\"kind\":\"rollout_restart\","
      "\"phase\":\"steps\",\"index\":1,\"namespace\":\"ran-optimization\",\"deployment\":"
      "\"cognitive-core\",\"dryRun\":false,\"note\":\"\",\"requests\":[{\"method\":\"PATCH\","
      "\"path\":\"/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core\","
      "\"contentType\":\"application/strategic-merge-patch+json\",\"body\":{\"spec\":{"
      "\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":"
      "\"2026-12-01T10:00:31Z\"}}}}}}]}" },
    { T(10, 0, 31, 300), "step failed", "runbookd",
      "{\"run\":\"1\",\"plan\":\"high-load\",\"step\":\"restart\",\"kind\":\"rollout_restart\","
      "\"phase\":\"steps\",\"index\":1,\"namespace\":\"ran-optimization\",\"deployment\":"
      "\"cognitive-core\",\"dryRun\":false,\"responses\":[{\"method\":\"PATCH\",\"path\":"
      "\"/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core\",\"status\":500,"
      "\"attempts\":4,\"reason\":\"InternalError\",\"message\":\"etcdserver: request timed out\"}]}" },
    { T(10, 0, 31, 400), "remediation finished", "runbookd",
      "{\"run\":\"1\",\"plan\":\"high-load\",\"outcome\":\"failed\",\"durationMs\":1300}" },
    { T(10, 0, 31, 400), "escalation requested", "runbookd",
      "{\"reason\":\"remediation plan high-load failed\"}" },
    { T(10, 0, 31, 500), "escalated", "runbookd",
      "{\"reason\":\"remediation plan high-load failed\",\"action\":\"page at once\"}" },
    { T(10, 0, 32, 0), "paged", "runbookd",
      "{\"contact\":\"L2 Support\",\"method\":\"slack\",\"event\":\"trigger\",\"level\":0,"
      "\"attempts\":1,\"status\":200,\"delivery\":\"1-1764583231500-0\",\"reason\":"
      "\"remediation plan high-load failed\",\"detail\":\"ok\"}" },
    { T(10, 4, 0, 0), "escalated", "runbookd",
      "{\"severity\":\"critical\",\"level\":1,\"contact\":\"System Architect\",\"reason\":"
      "\"not acknowledged within 3m30s\"}" },
    { T(10, 4, 1, 0), "page failed", "runbookd",
      "{\"contact\":\"System Architect\",\"method\":\"phone\",\"event\":\"escalated\",\"level\":1,"
      "\"attempts\":3,\"status\":503,\"delivery\":\"1-1764583440000-0\",\"reason\":"
      "\"not acknowledged within 3m30s\",\"detail\":\"HTTP 503 <html>busy</html>\"}" },
    { T(10, 6, 0, 0), "acknowledged", "alice", "{\"comment\":\"looking | *now*\"}" },
    { T(10, 7, 0, 0), "commented", "bob", "{\"comment\":\"rolled back by hand\"}" },
    { T(10, 20, 0, 0), "resolved", "alertmanager",
      "{\"endsAt\":\"2026-12-01T10:19:00Z\",\"receiver\":\"hook\"}" },
  };

  (void)arg;
  memset(&inc, 0, sizeof(inc));
  snprintf(inc.fingerprint, sizeof(inc.fingerprint), "a1b2c3d4e5f60718");
  inc.state = INC_RESOLVED;
  inc.severity = SEV_CRITICAL;
  inc.alertname = "HighCPUUsage";
  inc.namespace_ = "ran-optimization";
  inc.summary = "<script>alert(1)</script> CPU | *90%* [x](http://evil)";
  inc.labels_json = "{\"alertname\":\"HighCPUUsage\",\"deployment\":\"cognitive-core\","
                    "\"namespace\":\"ran-optimization\",\"severity\":\"critical\","
                    "\"team\":\"<img src=x onerror=alert(1)>\"}";
  inc.annotations_json = "{\"summary\":\"<script>alert(1)</script> CPU | *90%* [x](http://evil)\"}";
  inc.starts_at_ns = T(10, 0, 0, 0) * 1000000;
  inc.ends_at_ns = T(10, 19, 0, 0) * 1000000;
  inc.opened_ms = T(10, 0, 30, 0);
  inc.last_seen_ms = T(10, 20, 0, 0);
  inc.acked_ms = T(10, 6, 0, 0);
  inc.acked_by = "alice";
  inc.resolved_ms = T(10, 20, 0, 0);
  inc.resolved_by = "alertmanager";
  inc.deliveries = 4;
  rc = store_w_insert_incident(s, &inc);
  if (rc)
    return rc;
  memset(&run, 0, sizeof(run));
  run.incident_id = inc.id;
  run.plan = "high-load";
  run.namespace_ = "ran-optimization";
  run.deployment = "cognitive-core";
  run.state = RUN_FAILED;
  run.phase = PHASE_DONE;
  run.step_index = 1;
  run.failed = 1;
  run.outcome = "failed";
  run.started_ms = T(10, 0, 30, 100);
  run.updated_ms = run.finished_ms = T(10, 0, 31, 400);
  rc = store_w_run_insert(s, &run);
  if (rc)
    return rc;
  memset(&sil, 0, sizeof(sil));
  snprintf(sil.id, sizeof(sil.id), "0f1e2d3c-4b5a-4697-8877-665544332211");
  sil.matchers_json = "[{\"name\":\"alertname\",\"value\":\"HighCPU.*\",\"isRegex\":true,"
                      "\"isEqual\":true}]";
  sil.starts_ms = T(10, 10, 0, 0);
  sil.ends_ms = T(11, 0, 0, 0);
  sil.updated_ms = T(10, 10, 0, 0);
  sil.created_by = "carol";
  sil.comment = "maintenance <window>";
  rc = store_w_silence_put(s, &sil);
  if (rc)
    return rc;
  return add_events(s, inc.id, ev, RB_ARRAY_LEN(ev));
}

/* Incident 2: open, a warning silenced at once, never remediated. */
static rb_status
fixture_open(struct store *s, void *arg)
{
  struct incident inc;
  struct silence_row sil;
  rb_status rc;
  const struct ev ev[] = {
    { T(12, 0, 5, 0), "received", "alertmanager", "{\"receiver\":\"hook\"}" },
    { T(12, 0, 5, 20), "silenced", "runbookd",
      "{\"silence\":\"11111111-2222-4333-8444-555555555555\",\"reason\":\"silenced: no remediation\"}" },
    { T(12, 0, 5, 30), "silenced", "runbookd",
      "{\"silence\":\"11111111-2222-4333-8444-555555555555\",\"effect\":\"not paged while the"
      " silence lasts\"}" },
  };

  (void)arg;
  memset(&inc, 0, sizeof(inc));
  snprintf(inc.fingerprint, sizeof(inc.fingerprint), "00000000000000ff");
  inc.state = INC_OPEN;
  inc.severity = SEV_MEDIUM;
  inc.alertname = "DiskFilling";
  inc.summary = "disk 85% full";
  inc.labels_json = "{\"alertname\":\"DiskFilling\",\"severity\":\"warning\"}";
  inc.annotations_json = "{}";
  inc.starts_at_ns = T(12, 0, 0, 0) * 1000000 + 123456;
  inc.opened_ms = T(12, 0, 5, 0);
  inc.last_seen_ms = T(12, 0, 5, 0);
  inc.deliveries = 1;
  rc = store_w_insert_incident(s, &inc);
  if (rc)
    return rc;
  memset(&sil, 0, sizeof(sil));
  snprintf(sil.id, sizeof(sil.id), "11111111-2222-4333-8444-555555555555");
  sil.matchers_json = "[{\"name\":\"alertname\",\"value\":\"DiskFilling\",\"isRegex\":false,"
                      "\"isEqual\":true}]";
  sil.starts_ms = T(11, 0, 0, 0);
  sil.ends_ms = T(18, 0, 0, 0);
  sil.updated_ms = T(11, 0, 0, 0);
  sil.created_by = "dave";
  sil.comment = "known; ticket OPS-12";
  rc = store_w_silence_put(s, &sil);
  if (rc)
    return rc;
  return add_events(s, inc.id, ev, RB_ARRAY_LEN(ev));
}

static void
setup(void)
{
  struct store_options o = { .sqlite_dir = dir };
  char err[RB_ERRLEN];
  int64_t ns;

  snprintf(dir, sizeof(dir), "/tmp/rbrepXXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  cr_assert_eq(rb_time_parse_ns("2026-12-01T00:00:00Z", &ns), RB_OK);
  base = ns / 1000000;
  cr_assert_eq(store_open(&o, &st, err), RB_OK, "%s", err);
  cr_assert_eq(store_submit(st, fixture_resolved, NULL), RB_OK);
  cr_assert_eq(store_submit(st, fixture_open, NULL), RB_OK);
}

static void
teardown(void)
{
  char cmd[128];
  store_close(st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
}

TestSuite(report, .init = setup, .fini = teardown);

/* ---- helpers -------------------------------------------------------------- */

static char *
render(int64_t id, enum report_format f, int64_t now)
{
  struct buf b;
  buf_init(&b, 0);
  cr_assert_eq(report_build(st, id, f, now, &b), RB_OK);
  cr_assert_not_null(b.data);
  return buf_steal(&b);
}

static char *
slurp(const char *path)
{
  FILE *f = fopen(path, "rb");
  char *data;
  long n;

  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = calloc(1, (size_t)n + 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  return data;
}

static void
golden(const char *name, const char *got)
{
  char path[512], *want;

  snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
  if (getenv("RUNBOOKD_UPDATE_GOLDEN")) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(got, f);
    fclose(f);
  }
  want = slurp(path);
  cr_assert_not_null(want, "no golden file %s (RUNBOOKD_UPDATE_GOLDEN=1 writes it)", path);
  if (strcmp(want, got) != 0) {
    size_t i = 0;
    while (want[i] && want[i] == got[i])
      i++;
    cr_assert_fail("%s differs at byte %zu:\n--- want: %.120s\n--- got:  %.120s", name, i,
                   want + i, got + i);
  }
  free(want);
}

/* A strict XML-ish check: every element closed in order, attributes
 * quoted, no stray '<' or '&' in text.  Returns NULL or what is wrong. */
static const char *
well_formed(const char *s, char *why, size_t len)
{
  const char *stack[256];
  size_t sl[256], depth = 0;
  const char *p = s;

  while (*p) {
    if (*p == '&') {
      const char *semi = strchr(p, ';');
      if (!semi || semi - p > 8 || semi == p + 1) {
        snprintf(why, len, "bare & at %ld", (long)(p - s));
        return why;
      }
      p = semi + 1;
      continue;
    }
    if (*p != '<') {
      if (*p == '>') {
        snprintf(why, len, "bare > at %ld", (long)(p - s));
        return why;
      }
      p++;
      continue;
    }
    if (strncmp(p, "<!DOCTYPE", 9) == 0) {
      p = strchr(p, '>');
      if (!p)
        return "unterminated doctype";
      p++;
      continue;
    }
    if (p[1] == '/') {
      const char *q = p + 2, *e = q;
      while (isalnum((unsigned char)*e))
        e++;
      if (*e != '>' || !depth || sl[depth - 1] != (size_t)(e - q)
          || strncmp(stack[depth - 1], q, (size_t)(e - q)) != 0) {
        snprintf(why, len, "unexpected </%.*s> at %ld (open: %.*s)", (int)(e - q), q,
                 (long)(p - s), depth ? (int)sl[depth - 1] : 0, depth ? stack[depth - 1] : "");
        return why;
      }
      depth--;
      p = e + 1;
      continue;
    }
    {
      const char *q = p + 1, *e = q;
      while (isalnum((unsigned char)*e))
        e++;
      if (e == q) {
        snprintf(why, len, "bare < at %ld", (long)(p - s));
        return why;
      }
      p = e;
      /* attributes: name="value" */
      for (;;) {
        while (*p == ' ' || *p == '\n')
          p++;
        if (*p == '>' || (p[0] == '/' && p[1] == '>'))
          break;
        while (isalnum((unsigned char)*p) || *p == '-' || *p == ':')
          p++;
        if (p[0] != '=' || p[1] != '"') {
          snprintf(why, len, "unquoted attribute at %ld", (long)(p - s));
          return why;
        }
        p = strchr(p + 2, '"');
        if (!p)
          return "unterminated attribute";
        p++;
      }
      if (*p == '/') {
        p += 2;
        continue;
      }
      p++;
      if (depth == RB_ARRAY_LEN(stack))
        return "too deep";
      stack[depth] = q;
      sl[depth++] = (size_t)(e - q);
      /* <style> content is CSS: skip to its end tag. */
      if (e - q == 5 && strncmp(q, "style", 5) == 0) {
        const char *end = strstr(p, "</style>");
        if (!end)
          return "unterminated style";
        p = end;
      }
    }
  }
  if (depth) {
    snprintf(why, len, "unclosed <%.*s>", (int)sl[depth - 1], stack[depth - 1]);
    return why;
  }
  return NULL;
}

static int
contains_ci(const char *hay, const char *needle)
{
  size_t n = strlen(needle);
  for (const char *p = hay; *p; p++)
    if (strncasecmp(p, needle, n) == 0)
      return 1;
  return 0;
}

/* ---- tests -------------------------------------------------------------- */

Test(report, golden_markdown_and_json)
{
  char *md = render(1, REPORT_MD, T(13, 0, 0, 0));
  char *js = render(1, REPORT_JSON, T(13, 0, 0, 0));
  char *md2 = render(2, REPORT_MD, T(12, 30, 0, 0));
  char *js2 = render(2, REPORT_JSON, T(12, 30, 0, 0));

  golden("report-resolved.md", md);
  golden("report-resolved.json", js);
  golden("report-open.md", md2);
  golden("report-open.json", js2);
  free(md);
  free(js);
  free(md2);
  free(js2);
}

Test(report, resolved_report_ignores_the_clock)
{
  for (int f = 0; f < REPORT_FORMAT_COUNT; f++) {
    char *a = render(1, (enum report_format)f, T(13, 0, 0, 0));
    char *b = render(1, (enum report_format)f, T(23, 59, 0, 0) + 86400000LL * 30);
    cr_assert_str_eq(a, b, "format %d depends on now for a resolved incident", f);
    free(a);
    free(b);
  }
}

Test(report, times_as_documented)
{
  struct incident inc;
  struct report_times t;

  cr_assert_eq(store_get(st, 1, &inc), RB_OK);
  report_times_compute(&inc, T(10, 6, 0, 0), &t);
  cr_assert_eq(t.ttd_ms, 30000);          /* 10:00:00 -> received 10:00:30 */
  cr_assert_eq(t.tta_ms, 330000);         /* 10:00:30 -> ack 10:06:00 */
  cr_assert_eq(t.ttr_ms, 19 * 60000);     /* 10:00:00 -> endsAt 10:19:00 */
  cr_assert(t.end_is_ends_at);
  incident_clear(&inc);

  /* A resolution notification seen first: no detection time; an endsAt
   * after the resolution's receipt is not believed. */
  memset(&inc, 0, sizeof(inc));
  inc.state = INC_RESOLVED;
  inc.starts_at_ns = T(1, 0, 0, 0) * 1000000;
  inc.ends_at_ns = T(3, 0, 0, 0) * 1000000;
  inc.opened_ms = inc.resolved_ms = T(2, 0, 0, 0);
  inc.resolved_by = "alertmanager";
  report_times_compute(&inc, 0, &t);
  cr_assert(t.missed_firing);
  cr_assert_eq(t.ttd_ms, -1);
  cr_assert_eq(t.tta_ms, -1);
  cr_assert_eq(t.ttr_ms, 3600000);
  cr_assert(!t.end_is_ends_at);
}

Test(report, json_parses_and_has_the_sections)
{
  char *js = render(1, REPORT_JSON, 0);
  cJSON *o = cJSON_Parse(js);
  const cJSON *tl, *steps;

  cr_assert_not_null(o, "report JSON does not parse");
  tl = cJSON_GetObjectItem(o, "timeline");
  cr_assert_eq(cJSON_GetArraySize(tl), 15);
  steps = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "remediation"), 0), "steps");
  cr_assert_eq(cJSON_GetArraySize(steps), 2);
  cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(steps, 1), "outcome")->valuestring,
                   "failed");
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "paging"), "pages")),
               2);
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "silences")), 1);
  cr_assert_not_null(cJSON_GetObjectItem(o, "rootCause"));
  cr_assert_null(cJSON_GetObjectItem(o, "asOf"));
  cJSON_Delete(o);
  free(js);
}

Test(report, html_is_well_formed_self_contained_and_escaped)
{
  for (int64_t id = 1; id <= 2; id++) {
    char *h = render(id, REPORT_HTML, T(12, 30, 0, 0));
    char why[256];
    const char *bad = well_formed(h, why, sizeof(why));

    cr_assert_null(bad, "incident %lld: %s", (long long)id, bad);
    cr_assert(!contains_ci(h, "<script"), "a script element");
    cr_assert(!contains_ci(h, " src=\""), "an external resource");
    cr_assert(!contains_ci(h, "href=\"http"), "an external link");
    cr_assert(!contains_ci(h, "@import"), "an imported style sheet");
    cr_assert(!contains_ci(h, "url(http"), "an external url()");
    cr_assert(!contains_ci(h, "<link"), "a link element");
    cr_assert(strstr(h, "<svg xmlns=\"http://www.w3.org/2000/svg\""), "the SVG chart");
    cr_assert(strstr(h, "@media print"), "a print style");
    if (id == 1) {
      cr_assert(strstr(h, "&lt;script&gt;alert(1)&lt;/script&gt;"), "the summary escaped");
      cr_assert(strstr(h, "&lt;img src=x onerror=alert(1)&gt;"), "the label escaped");
      /* Outcomes have words, not only colours. */
      cr_assert(strstr(h, "S2 FAILED"));
      cr_assert(strstr(h, "P2 FAILED"));
      cr_assert(strstr(h, ">RESOLVED<"));
      cr_assert(strstr(h, ">ACK<"));
    }
    free(h);
  }
}

Test(report, markdown_escapes_network_text)
{
  char *md = render(1, REPORT_MD, 0);
  cr_assert(strstr(md, "\\<script\\>alert(1)\\</script\\> CPU \\| \\*90%\\* \\[x\\](http://evil)"));
  cr_assert(strstr(md, "\\<img src=x onerror=alert(1)\\>"), "the label escaped");
  free(md);
}

Test(report, unknown_incident_and_formats)
{
  struct buf b;
  buf_init(&b, 0);
  cr_assert_eq(report_build(st, 99, REPORT_MD, 0, &b), RB_ENOTFOUND);
  buf_free(&b);
  cr_assert_eq(report_format_parse("md"), REPORT_MD);
  cr_assert_eq(report_format_parse("markdown"), REPORT_MD);
  cr_assert_eq(report_format_parse("html"), REPORT_HTML);
  cr_assert_eq(report_format_parse("json"), REPORT_JSON);
  cr_assert_eq(report_format_parse("pdf"), -1);
  cr_assert_eq(report_format_parse(NULL), -1);
  cr_assert_str_eq(report_format_type(REPORT_HTML), "text/html; charset=utf-8");
}

static rb_status
many_pages(struct store *s, void *arg)
{
  rb_status rc = RB_OK;
  (void)arg;
  for (int i = 0; i < 500 && !rc; i++)
    rc = store_w_append_event(s, 2, T(12, 1, 0, i), "page failed", "runbookd",
                              "{\"contact\":\"L1\",\"method\":\"email\",\"event\":\"progress\","
                              "\"level\":0,\"attempts\":1,\"status\":0}");
  return rc;
}

Test(report, chart_lanes_are_capped)
{
  char *h, why[256];
  cr_assert_eq(store_submit(st, many_pages, NULL), RB_OK);
  h = render(2, REPORT_HTML, T(12, 30, 0, 0));
  cr_assert_null(well_formed(h, why, sizeof(why)), "%s", why);
  cr_assert(strstr(h, "Not drawn: 100 more paging marks"), "the chart says what it left out");
  free(h);
}
