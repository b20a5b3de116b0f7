/*
 * replay.c - `runbookd replay FILE...`: parse payload files exactly as the
 * webhook does and print, per alert, what runbookd would decide.  Nothing
 * is stored and nothing is sent.
 */
#include "replay.h"
#include "config.h"
#include "escalation.h"
#include "payload.h"
#include "plan.h"
#include "ratelimit.h"
#include "rbfile.h"
#include "rbtime.h"
#include "remediate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A captured delivery wraps the body with its headers; unwrap it. */
static char *
unwrap(char *text, size_t *len)
{
  cJSON *root = cJSON_ParseWithLength(text, *len);
  cJSON *body = cJSON_GetObjectItemCaseSensitive(root, "body");
  char *out;

  if (!cJSON_IsObject(body) || !cJSON_GetObjectItemCaseSensitive(root, "headers")) {
    cJSON_Delete(root);
    return text;
  }
  out = cJSON_PrintUnformatted(body);
  cJSON_Delete(root);
  if (!out)
    return text;
  free(text);
  *len = strlen(out);
  return out;
}

/* What remediation would decide for one firing alert, against the
 * decisions the replay has made so far (hist). */
static void
replay_remediation(const struct rb_config *cfg, const struct plan_set *plans,
                   const struct am_alert *a, int64_t seq, struct rl_history *hist, FILE *out)
{
  enum severity sev = severity_normalise(&cfg->severity, am_label(&a->labels, "severity"));
  const struct plan *p = plan_match(plans, &a->labels, sev);
  const char *ns = am_label(&a->labels, "namespace");
  const char *d;
  struct rl_global g = { cfg->rem_per_minute, cfg->rem_per_hour };
  struct rl_run r;
  char target[320], why[512];
  enum rl_verdict v;

  if (!p) {
    fprintf(out, "    remediation: no plan matches (%zu loaded)\n", plans ? plans->n : 0);
    return;
  }
  fprintf(out, "    remediation: plan %s (%s, %s)\n", p->name, p->runbook ? p->runbook : "",
          p->file);
  d = p->target_deployment ? p->target_deployment : am_label(&a->labels, "deployment");
  if (!ns || !kube_valid_label_name(ns)) {
    fprintf(out, "      refused: %s\n", ns ? "the namespace label is not a valid name"
                                           : "the alert has no namespace label");
    return;
  }
  if (!plan_allows_namespace(p, ns)) {
    fprintf(out, "      refused: namespace %s is not in the plan's allow-list\n", ns);
    return;
  }
  if (!d) {
    const char *pod = am_label(&a->labels, "pod");
    fprintf(out, "      target: %s\n",
            pod && kube_valid_subdomain(pod)
              ? "the Deployment owning the pod (read from the cluster: GET the pod, then its "
                "ReplicaSet); not known without a cluster"
              : "refused: no deployment label and no valid pod label");
    return;
  }
  if (!kube_valid_subdomain(d)) {
    fprintf(out, "      refused: deployment label is not a valid Kubernetes name\n");
    return;
  }
  if (!plan_allows_deployment(p, d)) {
    fprintf(out, "      refused: deployment %s is not in the plan's allow-list\n", d);
    return;
  }
  snprintf(target, sizeof(target), "%s/%s", ns, d);
  v = ratelimit_check(&g, &p->limits, p->name, target, seq, hist, rb_wall_ms(), why,
                      sizeof(why));
  if (v != RL_ALLOW) {
    fprintf(out, "      %s: %s (%s)\n", v == RL_TARGET_BUSY ? "coalesced" : "rate-limited",
            why, rl_verdict_name(v));
    return;
  }
  memset(&r, 0, sizeof(r));
  r.run_id = seq;
  snprintf(r.plan, sizeof(r.plan), "%s", p->name);
  snprintf(r.target, sizeof(r.target), "%s", target);
  r.incident_id = seq;
  r.started_ms = rb_wall_ms();
  rl_history_add(hist, &r);
  fprintf(out, "      runs on %s, limits allow it; steps as a dry run without a cluster:\n",
          target);
  remediation_preview(p, ns, d, out);
}

/* Who would be paged for a firing alert, and how (escalation.h). */
static void
replay_paging(const struct esc_policy *pol, enum severity sev, FILE *out)
{
  const struct esc_severity_policy *sp = &pol->sev[sev];

  if (!pol->enabled) {
    fprintf(out, "    paging: off (no escalation.contacts configured)\n");
    return;
  }
  fprintf(out, "    paging (%s): ", severity_name(sev));
  for (size_t l = 0; l < sp->n_path; l++) {
    const struct esc_contact *ct = esc_contact_find(pol, sp->path[l]);
    if (l)
      fprintf(out, ", then after %us without an ack ", sp->respond_s);
    else if (pol->first_page_delay_s)
      fprintf(out, "after %us ", pol->first_page_delay_s);
    else
      fprintf(out, "at once ");
    fprintf(out, "%s by", ct ? ct->name : sp->path[l]);
    for (size_t m = 0; m < sp->n_methods; m++)
      if (ct && ct->has[sp->methods[m]])
        fprintf(out, " %s", notify_method_name(sp->methods[m]));
  }
  if (sp->repeat_last)
    fprintf(out, "; the last level again up to %u times", sp->repeat_last);
  fprintf(out, "\n");
}

static int
replay_one(const struct rb_config *cfg, const struct plan_set *plans,
           const struct esc_policy *pol, const char *path,
           struct rl_history *hist, int64_t *seq, FILE *out)
{
  struct payload_limits lim = { cfg->max_alerts, cfg->max_labels, cfg->max_label_name_bytes,
                                cfg->max_label_value_bytes, cfg->max_annotation_bytes,
                                cfg->max_json_depth };
  struct am_payload *p = NULL;
  const char *err = NULL;
  char perr[RB_ERRLEN], ts[48];
  size_t len = 0;
  char *text = rb_read_file(path, cfg->max_body_bytes, &len, &err);

  if (!text) {
    fprintf(out, "%s: cannot read: %s\n", path, err);
    return 1;
  }
  text = unwrap(text, &len);
  if (payload_parse(text, len, &lim, &p, perr, sizeof(perr)) != RB_OK) {
    fprintf(out, "%s: the webhook would refuse this payload: %s\n", path, perr);
    free(text);
    return 1;
  }
  fprintf(out, "%s: receiver=%s status=%s alerts=%zu truncatedAlerts=%lld groupKey=%s\n",
          path, p->receiver ? p->receiver : "", p->resolved ? "resolved" : "firing",
          p->n_alerts, (long long)p->truncated_alerts, p->group_key ? p->group_key : "");
  for (size_t i = 0; i < p->n_alerts; i++) {
    const struct am_alert *a = &p->alerts[i];
    const char *sev = am_label(&a->labels, "severity");
    fprintf(out,
            "  alert %zu: %s fingerprint=%s%s alertname=%s severity=%s (label %s)"
            " namespace=%s deployment=%s startsAt=%s\n",
            i, a->resolved ? "resolved" : "firing", a->fingerprint,
            a->fingerprint_computed ? " (computed)" : "",
            am_label(&a->labels, "alertname") ? am_label(&a->labels, "alertname") : "-",
            severity_name(severity_normalise(&cfg->severity, sev)), sev ? sev : "missing",
            am_label(&a->labels, "namespace") ? am_label(&a->labels, "namespace") : "-",
            am_label(&a->labels, "deployment") ? am_label(&a->labels, "deployment") : "-",
            rb_time_fmt_ns(a->starts_at_ns, ts, sizeof(ts)));
    fprintf(out, "    incident: %s\n",
            a->resolved ? "closes the open incident of this fingerprint"
                        : "opens an incident, or counts a repeat of the open one");
    if (a->resolved)
      fprintf(out, "    remediation: none (resolved alerts never start steps)\n");
    else {
      replay_remediation(cfg, plans, a, ++*seq, hist, out);
      if (pol)
        replay_paging(pol, severity_normalise(&cfg->severity, am_label(&a->labels, "severity")),
                      out);
    }
  }
  payload_free(p);
  free(text);
  return 0;
}

int
replay_files(const struct rb_config *cfg, const struct plan_set *plans,
             const struct esc_policy *pol, int n, char **files, FILE *out)
{
  struct rl_history hist = { NULL, 0, 0 };
  int64_t seq = 0;
  int code = 0;

  if (n == 0) {
    fprintf(stderr, "runbookd replay: name at least one payload file\n");
    return 2;
  }
  fprintf(out, "replay: %zu remediation plan%s from %s; nothing is stored or sent\n",
          plans ? plans->n : 0, plans && plans->n == 1 ? "" : "s", cfg->remediation_dir);
  for (int i = 0; i < n; i++)
    code |= replay_one(cfg, plans, pol, files[i], &hist, &seq, out);
  rl_history_free(&hist);
  return code;
}
