/* Unit tests for plan.c: the shipped plans load; every problem is named. */
#include "payload.h"
#include "plan.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
has_error(const struct config_errors *e, const char *where, const char *what)
{
  for (const struct config_error *ce = e->head; ce; ce = ce->next)
    if (strstr(ce->where, where) && strstr(ce->what, what))
      return 1;
  return 0;
}

static void
dump(const struct config_errors *e)
{
  for (const struct config_error *ce = e->head; ce; ce = ce->next)
    fprintf(stderr, "%s: %s\n", ce->where, ce->what);
}

static struct am_labels
labels(const char *json)
{
  struct am_labels ls;
  cr_assert_eq(am_labels_from_json(json, &ls), RB_OK);
  return ls;
}

Test(plan, shipped_plans_load_and_match)
{
  struct config_errors e;
  struct plan_set *s;
  struct am_labels ls;
  const struct plan *p;

  config_errors_init(&e);
  s = plan_load_dir(REMEDIATION_DIR, &e);
  dump(&e);
  cr_assert_not_null(s);
  cr_assert_eq(s->n, 7);
  ls = labels("{\"alertname\":\"AgentDBSyncLatencyHigh\",\"namespace\":\"ran-optimization\","
              "\"deployment\":\"agentdb\",\"severity\":\"high\"}");
  p = plan_match(s, &ls, SEV_HIGH);
  cr_assert_not_null(p);
  cr_assert_str_eq(p->name, "agentdb-sync-latency");
  cr_assert_eq(p->n_steps, 5);
  cr_assert_eq(p->steps[1].kind, STEP_SCALE);
  cr_assert_eq(p->steps[1].replicas, 3);
  cr_assert_eq(p->on_failure[0].kind, STEP_DELETE_PODS);
  cr_assert_eq(p->on_failure[0].max_pods, 3);
  cr_assert(plan_allows_configmap(p, "agentdb-config"));
  cr_assert_not(plan_allows_deployment(p, "cognitive-core"));
  am_labels_free(&ls);
  /* Runbook 1 is only for critical or worse. */
  ls = labels("{\"alertname\":\"ServiceDown\",\"namespace\":\"ran-optimization\"}");
  cr_assert_null(plan_match(s, &ls, SEV_HIGH));
  cr_assert_str_eq(plan_match(s, &ls, SEV_CRITICAL)->name, "complete-outage");
  am_labels_free(&ls);
  ls = labels("{\"alertname\":\"ServiceDown\",\"namespace\":\"kube-system\"}");
  cr_assert_null(plan_match(s, &ls, SEV_CRITICAL));
  am_labels_free(&ls);
  plan_set_drop(s);
}

Test(plan, names_every_problem)
{
  static const char text[] =
    "{\"name\":\"Bad_Name\",\"match\":[\"alertname=~\\\"(\\\"\", \"{}\"],\"severities\":[\"urgent\"],"
    "\"allow\":{\"namespaces\":[\"Kube System\"],\"deployments\":[\"web\"]},"
    "\"target\":{\"deployment\":\"db\"},"
    "\"steps\":["
    "{\"kind\":\"scale\",\"replicas\":0,\"max\":3},"
    "{\"kind\":\"scale\",\"by\":2},"
    "{\"kind\":\"delete_pods\",\"selector\":\"app=web\"},"
    "{\"kind\":\"set_resources\",\"container\":\"web\",\"limits\":{\"memory\":\"lots\",\"gpu\":\"1\"}},"
    "{\"kind\":\"patch_configmap\",\"configmap\":\"secret-cm\",\"data\":{\"a\":\"b\"}},"
    "{\"kind\":\"rollout_restart\",\"deployment\":\"other\"},"
    "{\"kind\":\"exec\",\"argv\":[\"sh\",\"-c\",\"rm -rf /\"]},"
    "{\"kind\":\"promql\",\"query\":\"up\",\"op\":\"~\",\"threshold\":\"1\"},"
    "{\"kind\":\"teleport\"},"
    "{\"kind\":\"rollout_restart\",\"optional\":true,\"colour\":\"red\"}],"
    "\"verify\":[{\"kind\":\"rollout_undo\"}],"
    "\"limits\":{\"max_per_hour\":5,\"max_per_day\":2,\"bogus\":1}}";
  struct config_errors e;
  struct plan p;

  config_errors_init(&e);
  cr_assert_eq(plan_parse("bad.json", text, &p, &e), RB_EINVAL);
  dump(&e);
  cr_assert(has_error(&e, "bad.json: name", "lowercase"));
  cr_assert(has_error(&e, "bad.json: match[0]", ""));
  cr_assert(has_error(&e, "bad.json: match[1]", "matches every alert"));
  cr_assert(has_error(&e, "bad.json: severities", "urgent"));
  cr_assert(has_error(&e, "bad.json: allow.namespaces", "not a valid namespace"));
  cr_assert(has_error(&e, "bad.json: target.deployment", "not in allow.deployments"));
  cr_assert(has_error(&e, "bad.json: steps[0].replicas", "between 1 and"));
  cr_assert(has_error(&e, "bad.json: steps[1]", "needs max"));
  cr_assert(has_error(&e, "bad.json: steps[2]", "needs max_pods"));
  cr_assert(has_error(&e, "bad.json: steps[3]", "not a Kubernetes quantity"));
  cr_assert(has_error(&e, "bad.json: steps[3]", "unknown resource"));
  cr_assert(has_error(&e, "bad.json: steps[4]", "not in allow.configmaps"));
  cr_assert(has_error(&e, "bad.json: steps[5].deployment", "not in allow.deployments"));
  cr_assert(has_error(&e, "bad.json: steps[6].argv", "absolute path"));
  cr_assert(has_error(&e, "bad.json: steps[7]", "op \"~\""));
  cr_assert(has_error(&e, "bad.json: steps[7]", "numeric threshold"));
  cr_assert(has_error(&e, "bad.json: steps[8].kind", "unknown step kind"));
  cr_assert(has_error(&e, "bad.json: steps[9].optional", "only checks"));
  cr_assert(has_error(&e, "bad.json: steps[9].colour", "unknown field"));
  cr_assert(has_error(&e, "bad.json: verify[0]", "cannot be a verification"));
  cr_assert(has_error(&e, "bad.json: limits.max_per_day", "below max_per_hour"));
  cr_assert(has_error(&e, "bad.json: limits.bogus", "unknown field"));
  plan_clear(&p);
  config_errors_free(&e);
}

Test(plan, allow_list_is_required)
{
  struct config_errors e;
  struct plan p;
  config_errors_init(&e);
  cr_assert_eq(plan_parse("x.json",
                          "{\"name\":\"x\",\"match\":[\"a=\\\"b\\\"\"],"
                          "\"steps\":[{\"kind\":\"rollout_restart\"}]}",
                          &p, &e),
               RB_EINVAL);
  cr_assert(has_error(&e, "x.json: allow", "must list the namespaces"));
  plan_clear(&p);
  config_errors_free(&e);
}

Test(plan, missing_directory_is_empty)
{
  struct config_errors e;
  struct plan_set *s;
  config_errors_init(&e);
  s = plan_load_dir("/nonexistent/runbookd-plans", &e);
  cr_assert_not_null(s);
  cr_assert_eq(s->n, 0);
  plan_set_drop(s);
}

Test(plan, scale_direction)
{
  static const char text[]
      = "{\"name\":\"s\",\"match\":[\"a=\\\"b\\\"\"],"
        "\"allow\":{\"namespaces\":[\"ns\"],\"deployments\":[\"web\"]},"
        "\"target\":{\"deployment\":\"web\"},\"steps\":["
        "{\"kind\":\"scale\",\"replicas\":3,\"max\":3},"
        "{\"kind\":\"scale\",\"replicas\":1,\"max\":3,\"direction\":\"down\"},"
        "{\"kind\":\"scale\",\"replicas\":2,\"max\":3,\"direction\":\"any\"}]}";
  static const char bad[]
      = "{\"name\":\"s\",\"match\":[\"a=\\\"b\\\"\"],"
        "\"allow\":{\"namespaces\":[\"ns\"],\"deployments\":[\"web\"]},"
        "\"target\":{\"deployment\":\"web\"},\"steps\":["
        "{\"kind\":\"scale\",\"replicas\":3,\"max\":3,\"direction\":\"sideways\"},"
        "{\"kind\":\"scale\",\"by\":1,\"max\":3,\"direction\":\"down\"}]}";
  struct config_errors e;
  struct plan p;

  config_errors_init(&e);
  cr_assert_eq(plan_parse("s.json", text, &p, &e), RB_OK);
  cr_assert_eq(p.steps[0].direction, SCALE_UP); /* the default: never lowers */
  cr_assert_eq(p.steps[1].direction, SCALE_DOWN);
  cr_assert_eq(p.steps[2].direction, SCALE_ANY);
  plan_clear(&p);
  config_errors_free(&e);
  config_errors_init(&e);
  cr_assert_eq(plan_parse("s.json", bad, &p, &e), RB_EINVAL);
  dump(&e);
  cr_assert(has_error(&e, "s.json: steps[0]", "\"sideways\" is not up, down or any"));
  cr_assert(has_error(&e, "s.json: steps[1]", "by's sign is its direction"));
  plan_clear(&p);
  config_errors_free(&e);
}

Test(plan, objects_a_plan_may_change)
{
  struct config_errors e;
  struct plan_set *s;
  char *o;

  config_errors_init(&e);
  s = plan_load_dir(REMEDIATION_DIR, &e);
  cr_assert_not_null(s);
  for (size_t i = 0; i < s->n; i++) {
    const struct plan *p = &s->plans[i];
    o = plan_objects(p, "ran-optimization", p->target_deployment ? p->target_deployment : "x");
    if (strcmp(p->name, "complete-outage") == 0)
      cr_assert_str_eq(o, "\ndeployment ran-optimization/api-gateway\n"
                          "deployment ran-optimization/cognitive-core\n"
                          "deployment ran-optimization/swarm-coordination\n");
    if (strcmp(p->name, "agentdb-sync-latency") == 0)
      cr_assert_str_eq(o, "\ndeployment ran-optimization/agentdb\n"
                          "configmap ran-optimization/agentdb-config\n");
    free(o);
  }
  o = plan_objects(NULL, "ns", "d");
  cr_assert_str_eq(o, "\ndeployment ns/d\n");
  free(o);
  plan_set_drop(s);
  config_errors_free(&e);
}

Test(plan, idempotent_is_for_exec)
{
  static const char text[] =
    "{\"name\":\"s\",\"match\":[\"a=\\\"b\\\"\"],"
    "\"allow\":{\"namespaces\":[\"ns\"],\"deployments\":[\"web\"]},"
    "\"target\":{\"deployment\":\"web\"},\"steps\":["
    "{\"kind\":\"exec\",\"argv\":[\"/bin/true\"],\"idempotent\":true},"
    "{\"kind\":\"exec\",\"argv\":[\"/bin/true\"]},"
    "{\"kind\":\"rollout_restart\",\"idempotent\":true},"
    "{\"kind\":\"exec\",\"argv\":[\"/bin/true\"],\"idempotent\":\"yes\"}]}";
  struct config_errors e;
  struct plan p;

  config_errors_init(&e);
  cr_assert_eq(plan_parse("i.json", text, &p, &e), RB_EINVAL);
  dump(&e);
  cr_assert_eq(p.steps[0].idempotent, 1);
  cr_assert_eq(p.steps[1].idempotent, 0);
  cr_assert(has_error(&e, "i.json: steps[2].idempotent", "only exec steps"));
  cr_assert(has_error(&e, "i.json: steps[3].idempotent", "must be true or false"));
  plan_clear(&p);
  config_errors_free(&e);
}
