/*
 * replay.c - `runbookd replay FILE...`: parse payload files exactly as the
 * webhook does and print, per alert, what runbookd would decide.  Nothing
 * is stored and nothing is sent.
 */
#include "replay.h"
#include "config.h"
#include "payload.h"
#include "rbtime.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp(const char *path, size_t max, size_t *len, const char **err)
{
  FILE *f = fopen(path, "rb");
  char *data;

  if (!f) {
    *err = strerror(errno);
    return NULL;
  }
  data = malloc(max + 1);
  if (!data) {
    fclose(f);
    *err = "out of memory";
    return NULL;
  }
  *len = fread(data, 1, max + 1, f);
  fclose(f);
  if (*len > max) {
    free(data);
    *err = "larger than web.max_body_bytes";
    return NULL;
  }
  data[*len] = '\0';
  return data;
}

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

static int
replay_one(const struct rb_config *cfg, const char *path, FILE *out)
{
  struct payload_limits lim = { cfg->max_alerts, cfg->max_labels, cfg->max_label_name_bytes,
                                cfg->max_label_value_bytes, cfg->max_annotation_bytes,
                                cfg->max_json_depth };
  struct am_payload *p = NULL;
  const char *err = NULL;
  char perr[RB_ERRLEN], ts[48];
  size_t len = 0;
  char *text = slurp(path, cfg->max_body_bytes, &len, &err);

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
    fprintf(out, "    remediation: %s\n",
            a->resolved ? "none (resolved alerts never start steps)"
                        : "no remediation plans in this version: none");
  }
  payload_free(p);
  free(text);
  return 0;
}

int
replay_files(const struct rb_config *cfg, const struct plan_set *plans, int n, char **files,
             FILE *out)
{
  int code = 0;

  if (n == 0) {
    fprintf(stderr, "runbookd replay: name at least one payload file\n");
    return 2;
  }
  for (int i = 0; i < n; i++)
    code |= replay_one(cfg, files[i], out);
  return code;
}
