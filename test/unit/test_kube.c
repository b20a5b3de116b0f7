/* Unit tests for kube_build.c (the requests kubectl sends), kubectl's
 * rollout status, and the PromQL comparison. */
#include "buf.h"
#include "checks.h"
#include "kube.h"
#include "plan.h"

#include <criterion/criterion.h>
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
                             "{\"deployment.kubernetes.io/revision\":\"3\"}", &r),
               RB_OK);
  expect(&r, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/d", KUBE_CT_JSONPATCH,
         "[{\"op\":\"replace\",\"path\":\"/spec/template\",\"value\":{\"metadata\":{\"labels\":"
         "{\"app\":\"d\"}}}},{\"op\":\"replace\",\"path\":\"/metadata/annotations\",\"value\":"
         "{\"deployment.kubernetes.io/revision\":\"3\"}}]");
  kube_req_clear(&r);
  cr_assert_eq(kube_req_undo("ns", "d", "{not json", "{}", &r), RB_EINVAL);
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
