/* Unit tests for kube_build.c (the requests kubectl sends), kubectl's
 * rollout status, and the PromQL comparison. */
#include "buf.h"
#include "checks.h"
#include "kube.h"
#include "plan.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
expect(const struct kube_req *r, const char *method, const char *path, const char *ct,
       const char *body)
{
  cr_assert_str_eq(r->method, method);
  cr_assert_str_eq(r->path, path);
  if (ct)
    cr_assert_str_eq(r->content_type, ct);
  else
    cr_assert_null(r->content_type);
  if (body)
    cr_assert_str_eq(r->body, body);
  else
    cr_assert_null(r->body);
}

Test(kube, restart_is_kubectls_patch)
{
  struct kube_req r;
  cr_assert_eq(kube_req_restart("ran-optimization", "api-gateway", "2026-12-03T15:41:15Z", &r),
               RB_OK);
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/api-gateway",
         "application/strategic-merge-patch+json",
         "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/"
         "restartedAt\":\"2026-12-03T15:41:15Z\"}}}}}");
  kube_req_clear(&r);
}

Test(kube, scale_patches_the_subresource)
{
  struct kube_req r;
  kube_req_scale("ran-optimization", "agentdb", 3, &r);
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/agentdb/scale",
         "application/merge-patch+json", "{\"spec\":{\"replicas\":3}}");
  kube_req_clear(&r);
}

Test(kube, resources_env_configmap_delete)
{
  char *lk[] = { "memory", "cpu" }, *lv[] = { "16Gi", "6000m" };
  char *ek[] = { "NODE_OPTIONS" }, *evv[] = { "--max-old-space-size=10240" };
  char *dk[] = { "QUIC_MAX_IDLE_TIMEOUT" }, *dv[] = { "30000" };
  struct kvlist limits = { lk, lv, 2 }, env = { ek, evv, 1 }, data = { dk, dv, 1 };
  struct kube_req r;

  kube_req_set_resources("ran-optimization", "cognitive-core", "cognitive-core", &limits, NULL,
                         &r);
  /* The body of the seed's `kubectl patch deployment cognitive-core -p ...`. */
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core",
         KUBE_CT_STRATEGIC,
         "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"cognitive-core\","
         "\"resources\":{\"limits\":{\"memory\":\"16Gi\",\"cpu\":\"6000m\"}}}]}}}}");
  kube_req_clear(&r);
  kube_req_set_env("ran-optimization", "cognitive-core", "cognitive-core", &env, &r);
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ran-optimization/deployments/cognitive-core",
         KUBE_CT_STRATEGIC,
         "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"cognitive-core\","
         "\"env\":[{\"name\":\"NODE_OPTIONS\",\"value\":\"--max-old-space-size=10240\"}]}]}}}}");
  kube_req_clear(&r);
  kube_req_patch_configmap("ran-optimization", "agentdb-config", &data, &r);
  expect(&r, "PATCH", "/api/v1/namespaces/ran-optimization/configmaps/agentdb-config",
         KUBE_CT_STRATEGIC, "{\"data\":{\"QUIC_MAX_IDLE_TIMEOUT\":\"30000\"}}");
  kube_req_clear(&r);
  kube_req_delete_pod("ran-optimization", "agentdb-5d9-x", &r);
  expect(&r, "DELETE", "/api/v1/namespaces/ran-optimization/pods/agentdb-5d9-x", KUBE_CT_JSON,
         "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":\"Background\"}");
  kube_req_clear(&r);
}

Test(kube, undo_is_a_json_patch)
{
  struct kube_req r;
  cr_assert_eq(kube_req_undo("ns", "d", "{\"metadata\":{\"labels\":{\"app\":\"d\"}}}",
                             "{\"deployment.kubernetes.io/revision\":\"3\"}", NULL, &r),
               RB_OK);
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", KUBE_CT_JSONPATCH,
         "[{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{\"metadata\":{\"labels\":"
         "{\"app\":\"d\"}}}},{\"op\":\"replace\",\"path\":\"/metadata/annotations\",\"value\":"
         "{\"deployment.kubernetes.io/revision\":\"3\"}}]");
  cr_assert_not(kube_req_has_test(&r));
  kube_req_clear(&r);
  /* With the resourceVersion read: a test op first, so the patch applies
   * only to the object as it was read. */
  cr_assert_eq(kube_req_undo("ns", "d", "{}", "{}", "4711", &r), RB_OK);
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", KUBE_CT_JSONPATCH,
         "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"4711\"},"
         "{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{}},{\"op\":\"replace\","
         "\"path\":\"/metadata/annotations\",\"value\":{}}]");
  cr_assert(kube_req_has_test(&r));
  kube_req_clear(&r);
  cr_assert_eq(kube_req_undo("ns", "d", "{not json", "{}", NULL, &r), RB_EINVAL);
}

Test(kube, selectors_are_escaped)
{
  char p[512];
  kube_path_pods_selector(p, sizeof(p), "ns", "app=agentdb,tier!=db");
  cr_assert_str_eq(p, "/api/v1/namespaces/ns/pods?labelSelector=app%3Dagentdb%2Ctier%21%3Ddb");
}

Test(kube, requests_round_trip_through_json)
{
  struct kube_req r[2], *back;
  struct buf b;
  size_t n;

  kube_req_scale("ns", "d", 4, &r[0]);
  kube_req_get("/api/v1/namespaces/ns/pods/p", &r[1]);
  buf_init(&b, 0);
  buf_puts(&b, "[");
  kube_req_to_json(&b, &r[0]);
  buf_puts(&b, ",");
  kube_req_to_json(&b, &r[1]);
  buf_puts(&b, "]");
  cr_assert_eq(kube_reqs_from_json(b.data, &back, &n), RB_OK);
  cr_assert_eq(n, 2);
  expect(&back[0], r[0].method, r[0].path, r[0].content_type, r[0].body);
  expect(&back[1], "GET", "/api/v1/namespaces/ns/pods/p", NULL, NULL);
  kube_reqs_free(back, n);
  kube_req_clear(&r[0]);
  kube_req_clear(&r[1]);
  buf_free(&b);
  cr_assert_eq(kube_reqs_from_json("{}", &back, &n), RB_EINVAL);
}

/* libcurl hands header lines without a NUL (its documentation says so):
 * the old reading ran strtol() past the line (found by fuzz_kube) and
 * multiplied whatever it read by 1000 in a long (undefined past
 * LONG_MAX / 1000); an HTTP-date read as 0, a retry with no wait at all. */
Test(kube, retry_after_is_read_within_its_line)
{
  static const char more[] = "Retry-After: 50000\r\n"; /* the line is its first 14 bytes */
  static const char huge[] = "Retry-After: 99999999999999999999999\r\n";
  static const char date[] = "retry-after: Wed, 21 Oct 2026 07:28:00 GMT\r\n";
  static const char spaced[] = "RETRY-AFTER:\t 3 \r\n";

  cr_assert_eq(kube_retry_after_ms(more, 14), 5000);
  cr_assert_eq(kube_retry_after_ms(more, strlen(more)), KUBE_BACKOFF_CAP_MS);
  cr_assert_eq(kube_retry_after_ms(huge, strlen(huge)), KUBE_BACKOFF_CAP_MS);
  cr_assert_eq(kube_retry_after_ms(date, strlen(date)), -1, "an HTTP-date: our own backoff");
  cr_assert_eq(kube_retry_after_ms(spaced, strlen(spaced)), 3000);
  cr_assert_eq(kube_retry_after_ms("Retry-After: 0\r\n", 16), 0);
  cr_assert_eq(kube_retry_after_ms("Retry-After: -5\r\n", 17), -1);
  cr_assert_eq(kube_retry_after_ms("Retry-After: 5x\r\n", 17), -1);
  cr_assert_eq(kube_retry_after_ms("Retry-After:", 12), -1);
  cr_assert_eq(kube_retry_after_ms("Content-Type: application/json\r\n", 32), -1);
}

#define UID "5b1e0c7a-3f2d-4e8b-9a61-0d4c2e7f9b13"

/* A ReplicaSet of revision rev with image tag tag, controlled by uid. */
static void
replicaset(char *out, size_t n, int rev, const char *tag, const char *uid)
{
  snprintf(out, n,
           "{\"metadata\":{\"name\":\"api-gateway-%d\",\"annotations\":{"
           "\"deployment.kubernetes.io/revision\":\"%d\",\"team\":\"edge\"},"
           "\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"api-gateway\",\"uid\":\"%s\","
           "\"controller\":true}]},\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"app\":"
           "\"api-gateway\",\"pod-template-hash\":\"h%d\"}},\"spec\":{\"containers\":[{\"name\":"
           "\"api\",\"image\":\"api-gateway:%s\"}]}}}}",
           rev, rev, uid, rev, tag);
}

static cJSON *
deployment(const char *tag, const char *extra_spec)
{
  char d[1024];

  snprintf(d, sizeof(d),
           "{\"metadata\":{\"name\":\"api-gateway\",\"uid\":\"" UID "\",\"annotations\":{"
           "\"deployment.kubernetes.io/revision\":\"3\"}},\"spec\":{%s\"selector\":{"
           "\"matchLabels\":{\"app\":\"api-gateway\",\"tier\":\"edge\"}},\"template\":{"
           "\"metadata\":{\"labels\":{\"app\":\"api-gateway\"}},\"spec\":{\"containers\":[{"
           "\"name\":\"api\",\"image\":\"api-gateway:%s\"}]}}}}",
           extra_spec, tag);
  return cJSON_Parse(d);
}

Test(kube, undo_picks_the_previous_revision_the_deployment_owns)
{
  char a[700], b[700], c[700], x[700], list[3200], sel[512], note[512];
  cJSON *dep = deployment("1.8.2", ""), *rsl;
  struct kube_req r;

  cr_assert_eq(kube_undo_selector(dep, "api-gateway", sel, sizeof(sel), note, sizeof(note)), 1);
  cr_assert_str_eq(sel, "app=api-gateway,tier=edge");
  replicaset(a, sizeof(a), 2, "1.8.1", UID);
  replicaset(b, sizeof(b), 3, "1.8.2", UID);
  replicaset(c, sizeof(c), 1, "1.7.9", UID);
  replicaset(x, sizeof(x), 9, "9.9.9", "another-deployments-uid"); /* not ours */
  snprintf(list, sizeof(list), "{\"kind\":\"ReplicaSetList\",\"items\":[%s,%s,%s,%s]}", a, x, b,
           c);
  rsl = cJSON_Parse(list);
  cr_assert_eq(kube_undo_decide("ns", "api-gateway", dep, rsl, &r, note, sizeof(note)),
               KUBE_UNDO_PATCH);
  cr_assert_str_eq(note, "rolling back from revision 3 to revision 2");
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/api-gateway", KUBE_CT_JSONPATCH,
         "[{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{\"metadata\":{\"labels\":"
         "{\"app\":\"api-gateway\"}},\"spec\":{\"containers\":[{\"name\":\"api\",\"image\":"
         "\"api-gateway:1.8.1\"}]}}},{\"op\":\"replace\",\"path\":\"/metadata/annotations\","
         "\"value\":{\"deployment.kubernetes.io/revision\":\"3\",\"team\":\"edge\"}}]");
  kube_req_clear(&r);
  cJSON_Delete(rsl);

  /* Only the current revision: no history. */
  snprintf(list, sizeof(list), "{\"items\":[%s,%s]}", b, x);
  rsl = cJSON_Parse(list);
  cr_assert_eq(kube_undo_decide("ns", "api-gateway", dep, rsl, &r, note, sizeof(note)),
               KUBE_UNDO_REFUSED);
  cr_assert_str_eq(note, "no rollout history found for deployment \"api-gateway\"");
  cr_assert_null(r.body);
  cJSON_Delete(rsl);
  cJSON_Delete(dep);

  /* Already at the previous revision's template (the hash label aside). */
  dep = deployment("1.8.1", "");
  snprintf(list, sizeof(list), "{\"items\":[%s,%s]}", a, b);
  rsl = cJSON_Parse(list);
  cr_assert_eq(kube_undo_decide("ns", "api-gateway", dep, rsl, &r, note, sizeof(note)),
               KUBE_UNDO_NOTHING);
  cr_assert_str_eq(note, "skipped rollback (current template already matches revision 2)");
  cJSON_Delete(rsl);
  cJSON_Delete(dep);
}

Test(kube, undo_refuses_a_paused_or_selectorless_deployment)
{
  char sel[512], note[512];
  cJSON *dep = deployment("1.8.2", "\"paused\":true,");

  cr_assert_eq(kube_undo_selector(dep, "api-gateway", sel, sizeof(sel), note, sizeof(note)), 0);
  cr_assert(strstr(note, "you cannot rollback a paused deployment"), "%s", note);
  cJSON_Delete(dep);
  /* matchLabels that is no object (members without names), or a selector
   * that does not fit: refused, never "(null)=..." or a cut selector. */
  dep = cJSON_Parse("{\"spec\":{\"selector\":{\"matchLabels\":[\"api-gateway\"]}}}");
  cr_assert_eq(kube_undo_selector(dep, "d", sel, sizeof(sel), note, sizeof(note)), 0);
  cr_assert_str_eq(note, "deployment d has no matchLabels selector");
  cJSON_Delete(dep);
  dep = cJSON_Parse("{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"api-gateway\"}}}}");
  cr_assert_eq(kube_undo_selector(dep, "d", sel, 8, note, sizeof(note)), 0);
  cr_assert_eq(kube_undo_selector(dep, "d", sel, 16, note, sizeof(note)), 1);
  cr_assert_str_eq(sel, "app=api-gateway");
  cJSON_Delete(dep);
}

Test(kube, rollout_status_like_kubectl)
{
  char msg[256];
  cr_assert_eq(kube_rollout_status("{\"metadata\":{\"name\":\"d\",\"generation\":3},"
                                   "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":2}}",
                                   msg, sizeof(msg)), 0);
  cr_assert_str_eq(msg, "Waiting for deployment spec update to be observed...");
  cr_assert_eq(kube_rollout_status("{\"metadata\":{\"name\":\"d\",\"generation\":3},"
                                   "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":3,"
                                   "\"updatedReplicas\":1,\"replicas\":2}}", msg, sizeof(msg)), 0);
  cr_assert(strstr(msg, "1 out of 2 new replicas have been updated"), "%s", msg);
  cr_assert_eq(kube_rollout_status("{\"metadata\":{\"name\":\"d\",\"generation\":3},"
                                   "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":3,"
                                   "\"updatedReplicas\":2,\"replicas\":3}}", msg, sizeof(msg)), 0);
  cr_assert(strstr(msg, "1 old replicas are pending termination"), "%s", msg);
  cr_assert_eq(kube_rollout_status("{\"metadata\":{\"name\":\"d\",\"generation\":3},"
                                   "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":3,"
                                   "\"updatedReplicas\":2,\"replicas\":2,\"availableReplicas\":2}}",
                                   msg, sizeof(msg)), 1);
  cr_assert_str_eq(msg, "deployment \"d\" successfully rolled out");
  cr_assert_eq(kube_rollout_status("{\"metadata\":{\"name\":\"d\",\"generation\":3},"
                                   "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":3,"
                                   "\"conditions\":[{\"type\":\"Progressing\",\"status\":\"False\","
                                   "\"reason\":\"ProgressDeadlineExceeded\"}]}}", msg, sizeof(msg)), -1);
  cr_assert(strstr(msg, "exceeded its progress deadline"), "%s", msg);
  cr_assert_eq(kube_rollout_status("nope", msg, sizeof(msg)), -1);
  /* Numbers no replica count can be (found by fuzz_kube: converting them
   * to long was undefined): clamped, the answer still kubectl's. */
  cr_assert_eq(kube_rollout_status("{\"metadata\":{\"name\":\"d\",\"generation\":1e300},"
                                   "\"spec\":{\"replicas\":1e300},\"status\":{\"observedGeneration\":"
                                   "1e999,\"updatedReplicas\":-1e300,\"replicas\":1e300}}",
                                   msg, sizeof(msg)), 0);
  cr_assert(strstr(msg, "-2147483647 out of 2147483647 new replicas"), "%s", msg);
}

Test(promql, compares_every_sample)
{
  struct buf b;
  const char *two = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                    "{\"metric\":{},\"value\":[1,\"0.8\"]},{\"metric\":{},\"value\":[1,\"0.6\"]}]}}";
  buf_init(&b, 0);
  cr_assert_eq(promql_evaluate(two, CMP_GE, 0.5, &b), 1);
  cr_assert_eq(promql_evaluate(two, CMP_GE, 0.7, &b), 0);
  cr_assert_eq(promql_evaluate(two, CMP_LT, 2, &b), 1);
  cr_assert_eq(promql_evaluate("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                               "\"result\":[]}}", CMP_LT, 2, &b), 0);
  cr_assert(strstr(b.data, "no samples"), "%s", b.data);
  buf_reset(&b);
  cr_assert_eq(promql_evaluate("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
                               "\"result\":[1,\"3\"]}}", CMP_EQ, 3, &b), 1);
  cr_assert_eq(promql_evaluate("{\"status\":\"error\",\"error\":\"parse error\"}", CMP_EQ, 3, &b), 0);
  cr_assert(strstr(b.data, "parse error"), "%s", b.data);
  /* Values JSON has no number for are written as Prometheus spells them
   * (found by fuzz_promql: "+Inf" made the timeline detail invalid JSON). */
  buf_reset(&b);
  cr_assert_eq(promql_evaluate("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
                               "\"result\":[1,\"+Inf\"]}}", CMP_GT, 0.5, &b), 1);
  cr_assert(strstr(b.data, "\"values\":[\"+Inf\"]"), "%s", b.data);
  buf_reset(&b);
  cr_assert_eq(promql_evaluate("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                               "\"result\":[{\"value\":[1,\"NaN\"]},{\"value\":[1,\"-Inf\"]},"
                               "{\"value\":[1,\"0.1\"]}]}}", CMP_LT, 0.5, &b), 0);
  cr_assert(strstr(b.data, "\"values\":[\"NaN\",\"-Inf\",0.1]"), "%s", b.data);
  buf_free(&b);
}

Test(names, kubernetes_names)
{
  cr_assert(kube_valid_label_name("ran-optimization"));
  cr_assert_not(kube_valid_label_name("Ran"));
  cr_assert_not(kube_valid_label_name("-a"));
  cr_assert_not(kube_valid_label_name("a-"));
  cr_assert_not(kube_valid_label_name("../etc"));
  cr_assert_not(kube_valid_label_name(""));
  cr_assert(kube_valid_subdomain("cognitive-core-7d9f-a"));
  cr_assert(kube_valid_subdomain("a.b.c"));
  cr_assert_not(kube_valid_subdomain("a/b"));
  cr_assert_not(kube_valid_subdomain("a..b"));
  cr_assert_not(kube_valid_subdomain("a b"));
  cr_assert_not(kube_valid_subdomain("%2F"));
}

/* ---- resuming recorded requests ---------------------------------------- */

#define DEPP "/apis/apps/v1/namespaces/ns/deployments/d"

static cJSON *
dep_at(int generation, const char *restarted, const char *pool)
{
  char d[1024];
  snprintf(d, sizeof(d),
           "{\"metadata\":{\"name\":\"d\",\"generation\":%d,\"resourceVersion\":\"%d00\","
           "\"uid\":\"u-1\"},\"spec\":{\"replicas\":2,\"template\":{\"metadata\":{"
           "\"annotations\":{\"kubectl.kubernetes.io/restartedAt\":\"%s\"}},\"spec\":{"
           "\"containers\":[{\"name\":\"side\",\"image\":\"s:1\"},{\"name\":\"c\",\"image\":"
           "\"c:1\",\"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"POOL\",\"value\":"
           "\"%s\"}]}]}}}}",
           generation, generation, restarted, pool);
  return cJSON_Parse(d);
}

Test(kube, guards_record_what_a_resume_compares)
{
  cJSON *dep = dep_at(7, "t0", "20"), *g;
  cJSON *scale = cJSON_Parse("{\"kind\":\"Scale\",\"metadata\":{\"resourceVersion\":\"9\"},"
                             "\"spec\":{\"replicas\":8}}");
  cJSON *pod = cJSON_Parse("{\"metadata\":{\"uid\":\"p-1\",\"resourceVersion\":\"5\"}}");
  cJSON *cm = cJSON_Parse("{\"metadata\":{\"resourceVersion\":\"42\"},\"data\":{}}");
  char *t;

  g = kube_guard_of(DEPP, dep);
  t = cJSON_PrintUnformatted(g);
  cr_assert_str_eq(t, "{\"path\":\"" DEPP "\",\"generation\":7}");
  free(t);
  cJSON_Delete(g);
  g = kube_guard_of(DEPP "/scale", scale);
  t = cJSON_PrintUnformatted(g);
  cr_assert_str_eq(t, "{\"path\":\"" DEPP "/scale\",\"replicas\":8}");
  free(t);
  cJSON_Delete(g);
  g = kube_guard_of("/api/v1/namespaces/ns/pods/p", pod);
  t = cJSON_PrintUnformatted(g);
  cr_assert_str_eq(t, "{\"path\":\"/api/v1/namespaces/ns/pods/p\",\"uid\":\"p-1\"}");
  free(t);
  cJSON_Delete(g);
  g = kube_guard_of("/api/v1/namespaces/ns/configmaps/c", cm);
  t = cJSON_PrintUnformatted(g);
  cr_assert_str_eq(t, "{\"path\":\"/api/v1/namespaces/ns/configmaps/c\",\"resourceVersion\":"
                      "\"42\"}");
  free(t);
  cJSON_Delete(g);
  /* Nothing to compare with: no guard. */
  cr_assert_null(kube_guard_of(DEPP, pod));
  cJSON_Delete(dep);
  cJSON_Delete(scale);
  cJSON_Delete(pod);
  cJSON_Delete(cm);
}

Test(kube, a_resume_resends_only_what_nobody_changed)
{
  cJSON *before = dep_at(7, "t0", "20"), *g = kube_guard_of(DEPP, before), *now;
  struct kube_req restart, env, del, undo;
  char *ek[] = { "POOL" }, *ev[] = { "50" };
  struct kvlist kv = { ek, ev, 1 };
  char note[512];

  kube_req_restart("ns", "d", "t1", &restart);
  kube_req_set_env("ns", "d", "c", &kv, &env);
  kube_req_undo("ns", "d", "{}", "{}", "700", &undo);
  /* Unchanged: re-send. */
  cr_assert_eq(kube_resume_decide(&restart, g, before, note, sizeof(note)), KUBE_RESUME_SEND);
  cr_assert(strstr(note, "unchanged"), "%s", note);
  /* The restart was applied before the crash (the controller bumped the
   * generation): it holds the recorded restartedAt, so it is not sent. */
  now = dep_at(8, "t1", "20");
  cr_assert_eq(kube_resume_decide(&restart, g, now, note, sizeof(note)), KUBE_RESUME_DONE);
  cr_assert(strstr(note, "was applied"), "%s", note);
  /* ... but the env patch (not applied) must not be sent over a change. */
  cr_assert_eq(kube_resume_decide(&env, g, now, note, sizeof(note)), KUBE_RESUME_CHANGED);
  cr_assert(strstr(note, "generation 7, now 8"), "%s", note);
  cJSON_Delete(now);
  /* A person's hotfix meanwhile: the restart is not re-sent either. */
  now = dep_at(8, "t0", "20");
  cr_assert_eq(kube_resume_decide(&restart, g, now, note, sizeof(note)), KUBE_RESUME_CHANGED);
  cr_assert(strstr(note, "someone else changed it"), "%s", note);
  /* A JSON patch is never judged applied from the object. */
  cr_assert_eq(kube_resume_decide(&undo, g, now, note, sizeof(note)), KUBE_RESUME_CHANGED);
  cJSON_Delete(now);
  /* env applied: matched by name, the other container and env entries
   * aside. */
  now = dep_at(9, "t0", "50");
  cr_assert_eq(kube_resume_decide(&env, g, now, note, sizeof(note)), KUBE_RESUME_DONE);
  /* Gone: a PATCH is not sent; no guard: nothing can be told. */
  cr_assert_eq(kube_resume_decide(&env, g, NULL, note, sizeof(note)), KUBE_RESUME_CHANGED);
  cr_assert(strstr(note, "no longer exists"), "%s", note);
  cr_assert_eq(kube_resume_decide(&restart, NULL, before, note, sizeof(note)), KUBE_RESUME_CHANGED);
  cr_assert(strstr(note, "without the state of its object"), "%s", note);
  cJSON_Delete(now);
  cJSON_Delete(g);

  /* Pods: the same pod (uid) is deleted again, a gone one is done, a new
   * pod of the same name is not touched. */
  kube_req_delete_pod("ns", "p", &del);
  {
    cJSON *pod = cJSON_Parse("{\"metadata\":{\"uid\":\"p-1\"}}");
    cJSON *other = cJSON_Parse("{\"metadata\":{\"uid\":\"p-2\"}}");
    cJSON *pg = kube_guard_of(del.path, pod);
    cr_assert_eq(kube_resume_decide(&del, pg, pod, note, sizeof(note)), KUBE_RESUME_SEND);
    cr_assert_eq(kube_resume_decide(&del, pg, NULL, note, sizeof(note)), KUBE_RESUME_DONE);
    cr_assert_eq(kube_resume_decide(&del, pg, other, note, sizeof(note)), KUBE_RESUME_CHANGED);
    cJSON_Delete(pod);
    cJSON_Delete(other);
    cJSON_Delete(pg);
  }
  /* Scale: unchanged, applied, or scaled by someone else. */
  {
    struct kube_req sc;
    cJSON *s2 = cJSON_Parse("{\"spec\":{\"replicas\":2}}");
    cJSON *s3 = cJSON_Parse("{\"spec\":{\"replicas\":3}}");
    cJSON *s8 = cJSON_Parse("{\"spec\":{\"replicas\":8}}");
    cJSON *sg;
    kube_req_scale("ns", "d", 3, &sc);
    sg = kube_guard_of(sc.path, s2);
    cr_assert_eq(kube_resume_decide(&sc, sg, s2, note, sizeof(note)), KUBE_RESUME_SEND);
    cr_assert_eq(kube_resume_decide(&sc, sg, s3, note, sizeof(note)), KUBE_RESUME_DONE);
    cr_assert_eq(kube_resume_decide(&sc, sg, s8, note, sizeof(note)), KUBE_RESUME_CHANGED);
    cJSON_Delete(s2);
    cJSON_Delete(s3);
    cJSON_Delete(s8);
    cJSON_Delete(sg);
    kube_req_clear(&sc);
  }
  cJSON_Delete(before);
  kube_req_clear(&restart);
  kube_req_clear(&env);
  kube_req_clear(&del);
  kube_req_clear(&undo);
}

/* ---- rollout_undo in on_failure: the run's own changes ---------------- */

static cJSON *
dep_tmpl(const char *image, const char *mem, const char *extra_meta)
{
  char d[1024];
  snprintf(d, sizeof(d),
           "{\"metadata\":{\"name\":\"d\",\"resourceVersion\":\"77\",\"annotations\":{"
           "\"deployment.kubernetes.io/revision\":\"5\"%s}},\"spec\":{\"template\":{"
           "\"metadata\":{\"labels\":{\"app\":\"d\"}},\"spec\":{\"containers\":[{\"name\":"
           "\"c\",\"image\":\"%s\",\"resources\":{\"limits\":{\"memory\":\"%s\"}}}]}}}}",
           extra_meta, image, mem);
  return cJSON_Parse(d);
}

Test(kube, undo_in_on_failure_restores_the_runs_baseline_only_over_its_own_write)
{
  cJSON *before = dep_tmpl("app:1", "4Gi", ",\"team\":\"core\"");
  cJSON *ours = dep_tmpl("app:1", "16Gi", "");
  cJSON *theirs = dep_tmpl("app:2-hotfix", "16Gi", "");
  cJSON *base = kube_template_of(before), *written = kube_template_of(ours);
  const cJSON *bann = kube_jpath(before, "metadata", "annotations", NULL);
  struct kube_req r;
  char note[512];

  /* Nothing of runbookd's was applied (its first PATCH failed): a person's
   * release stays, whatever the revisions say. */
  cr_assert_eq(kube_restore_decide("ns", "d", theirs, base, bann, NULL, 0, &r, note, sizeof(note)),
               KUBE_UNDO_NOTHING);
  cr_assert(strstr(note, "changed nothing"), "%s", note);
  cr_assert_eq(kube_restore_decide("ns", "d", theirs, NULL, NULL, NULL, 0, &r, note, sizeof(note)),
               KUBE_UNDO_NOTHING);
  /* Its change is there and nobody else's: the baseline comes back, with
   * a test of the resourceVersion read and kubectl's annotations. */
  cr_assert_eq(kube_restore_decide("ns", "d", ours, base, bann, written, 0, &r, note, sizeof(note)),
               KUBE_UNDO_PATCH);
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", KUBE_CT_JSONPATCH,
         "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"77\"},"
         "{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{\"metadata\":{\"labels\":"
         "{\"app\":\"d\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"app:1\","
         "\"resources\":{\"limits\":{\"memory\":\"4Gi\"}}}]}}},{\"op\":\"replace\",\"path\":"
         "\"/metadata/annotations\",\"value\":{\"deployment.kubernetes.io/revision\":\"5\","
         "\"team\":\"core\"}}]");
  kube_req_clear(&r);
  /* Someone changed it after runbookd's last write: refused. */
  cr_assert_eq(
      kube_restore_decide("ns", "d", theirs, base, bann, written, 0, &r, note, sizeof(note)),
      KUBE_UNDO_REFUSED);
  cr_assert(strstr(note, "changed by someone else"), "%s", note);
  cr_assert_null(r.body);
  /* Already back at the baseline: nothing. */
  cr_assert_eq(
      kube_restore_decide("ns", "d", before, base, bann, written, 0, &r, note, sizeof(note)),
      KUBE_UNDO_NOTHING);
  cr_assert(strstr(note, "already has the template"), "%s", note);
  /* Its last change got no answer: the template there may be anyone's. */
  cr_assert_eq(kube_restore_decide("ns", "d", ours, base, bann, NULL, 1, &r, note, sizeof(note)),
               KUBE_UNDO_REFUSED);
  cr_assert(strstr(note, "got no answer"), "%s", note);
  /* ... unless the template is still its earlier, known write. */
  cr_assert_eq(kube_restore_decide("ns", "d", ours, base, bann, written, 1, &r, note, sizeof(note)),
               KUBE_UNDO_PATCH);
  kube_req_clear(&r);
  cJSON_Delete(before);
  cJSON_Delete(ours);
  cJSON_Delete(theirs);
  cJSON_Delete(base);
  cJSON_Delete(written);
}

/* ---- scale: one way only ------------------------------------------------ */

Test(kube, a_scale_step_moves_the_count_one_way_only)
{
  struct step s;
  long want = -1;
  char note[512];

  memset(&s, 0, sizeof(s));
  s.min_replicas = 1;
  s.max_replicas = 3;
  /* The audit's case: 8 replicas, by +1, max 3 must not become 3. */
  s.by = 1;
  cr_assert_eq(kube_scale_decide("agentdb", 8, &s, &want, note, sizeof(note)), 0);
  cr_assert(strstr(note, "has 8 replicas, at or above this step's max 3"), "%s", note);
  cr_assert_eq(kube_scale_decide("agentdb", 3, &s, &want, note, sizeof(note)), 0);
  cr_assert_eq(kube_scale_decide("agentdb", 2, &s, &want, note, sizeof(note)), 1);
  cr_assert_eq(want, 3);
  s.by = 5;
  cr_assert_eq(kube_scale_decide("agentdb", 1, &s, &want, note, sizeof(note)), 1);
  cr_assert_eq(want, 3);
  cr_assert_str_eq(note, "agentdb had 1 replicas; +5 within 1..3 gives 3");
  /* Negative: never raises (a count below max is not pushed up to it). */
  s.by = -1;
  s.min_replicas = 2;
  cr_assert_eq(kube_scale_decide("agentdb", 1, &s, &want, note, sizeof(note)), 0);
  cr_assert(strstr(note, "at or below this step's min 2"), "%s", note);
  cr_assert_eq(kube_scale_decide("agentdb", 8, &s, &want, note, sizeof(note)), 1);
  cr_assert_eq(want, 7);
  s.by = -10;
  cr_assert_eq(kube_scale_decide("agentdb", 8, &s, &want, note, sizeof(note)), 1);
  cr_assert_eq(want, 2);
  /* Absolute: up by default, down or any when the plan says so; the count
   * before is in the note. */
  s.by = 0;
  s.has_replicas = 1;
  s.replicas = 3;
  s.max_replicas = 3;
  cr_assert_eq(kube_scale_decide("agentdb", 8, &s, &want, note, sizeof(note)), 0);
  cr_assert(strstr(note, "only raises"), "%s", note);
  cr_assert_eq(kube_scale_decide("agentdb", 1, &s, &want, note, sizeof(note)), 1);
  cr_assert_eq(want, 3);
  cr_assert_str_eq(note, "agentdb had 1 replicas; set to 3");
  cr_assert_eq(kube_scale_decide("agentdb", 3, &s, &want, note, sizeof(note)), 0);
  s.direction = SCALE_DOWN;
  cr_assert_eq(kube_scale_decide("agentdb", 1, &s, &want, note, sizeof(note)), 0);
  cr_assert_eq(kube_scale_decide("agentdb", 8, &s, &want, note, sizeof(note)), 1);
  cr_assert_eq(want, 3);
  s.direction = SCALE_ANY;
  cr_assert_eq(kube_scale_decide("agentdb", 1, &s, &want, note, sizeof(note)), 1);
  cr_assert_eq(kube_scale_decide("agentdb", 8, &s, &want, note, sizeof(note)), 1);
}

Test(kube, the_controller_of_an_object)
{
  cJSON *sts = cJSON_Parse("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"Node\",\"name\":\"n\","
                           "\"uid\":\"x\"},{\"kind\":\"StatefulSet\",\"name\":\"db-backup\","
                           "\"uid\":\"u-9\",\"controller\":true}]}}");
  cJSON *none = cJSON_Parse("{\"metadata\":{\"ownerReferences\":[{\"kind\":\"ReplicaSet\","
                            "\"name\":\"r\",\"controller\":false}]}}");
  char kind[64], name[64], uid[64];

  cr_assert_eq(kube_controller(sts, kind, sizeof(kind), name, sizeof(name), uid, sizeof(uid)), 1);
  cr_assert_str_eq(kind, "StatefulSet");
  cr_assert_str_eq(name, "db-backup");
  cr_assert_str_eq(uid, "u-9");
  cr_assert_eq(kube_controller(none, kind, sizeof(kind), name, sizeof(name), uid, sizeof(uid)), 0);
  cr_assert_str_eq(kind, "");
  cJSON_Delete(sts);
  cJSON_Delete(none);
}

Test(kube, a_text_answer_is_the_message)
{
  struct kube_resp r;
  char plain[] = "Too many requests, please try again later.\n";
  char bin[] = "\x01\x02";

  memset(&r, 0, sizeof(r));
  r.status = 429;
  r.body = plain;
  r.len = strlen(plain);
  kube_status_parse(&r);
  cr_assert_null(r.reason);
  cr_assert_str_eq(r.message, "Too many requests, please try again later.");
  free(r.message);
  r.message = NULL;
  /* Control bytes are not copied as they are. */
  r.body = bin;
  r.len = 2;
  kube_status_parse(&r);
  cr_assert_str_eq(r.message, "??");
  free(r.message);
  /* A success keeps no message. */
  r.message = NULL;
  r.status = 200;
  r.body = plain;
  r.len = strlen(plain);
  kube_status_parse(&r);
  cr_assert_null(r.message);
}
