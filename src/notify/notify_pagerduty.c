/*
 * notify_pagerduty.c - PagerDuty Events API v2 (POST /v2/enqueue).
 *
 * trigger, escalated and progress send event_action "trigger" with the
 * incident's dedup_key: PagerDuty opens one alert and appends later
 * triggers to its log, so a re-send after a crash opens nothing new.
 * acknowledged and resolved send "acknowledge" and "resolve" with only
 * routing_key, dedup_key and event_action, as the API documents.  Our five
 * severities map onto PagerDuty's four (notify_pagerduty_severity).
 * PagerDuty answers 202 with {"status":"success","dedup_key":...}, 400 for
 * an invalid event, 429 when throttled; 5xx are retried.
 */
#include "notify_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_URL "https://events.pagerduty.com/v2/enqueue"
#define SUMMARY_MAX 1024
#define DEDUP_MAX 255

static const char *
action_of(enum notify_event e)
{
  if (e == NE_ACKNOWLEDGED)
    return "acknowledge";
  if (e == NE_RESOLVED)
    return "resolve";
  return "trigger";
}

/* Appends ,"name":"value" when a label has a value: the first label of
 * names that is set. */
static rb_status
label_member(struct buf *b, const char *member, const char *labels_json, const char *const *names,
             const char *fallback)
{
  char v[512];

  v[0] = '\0';
  for (; *names && !v[0]; names++)
    notify_label(labels_json, *names, v, sizeof(v));
  if (!v[0] && fallback)
    snprintf(v, sizeof(v), "%s", fallback);
  if (!v[0])
    return RB_OK;
  rb_status rc = buf_printf(b, ",\"%s\":", member);
  return rc ? rc : notify_json_str(b, v, 0);
}

static rb_status
str_member(struct buf *b, const char *name, const char *v)
{
  rb_status rc = buf_printf(b, ",\"%s\":", name);
  return rc ? rc : notify_json_str(b, v, 0);
}

rb_status
notify_build_pagerduty(const struct notify_settings *s, const struct notify_target *t,
                       const struct notify_message *m, struct buf *out)
{
  static const char *const source[] = { "instance", "pod", "service", "job", "deployment", NULL };
  static const char *const component[] = { "deployment", "service", "container", "job", NULL };
  static const char *const group[] = { "namespace", "cluster", NULL };
  static const char *const class[] = { "alertname", NULL };
  char ts[40], open[1024], id[24];
  rb_status rc;

  if (!t->routing_key || !*t->routing_key || !m->dedup_key || !*m->dedup_key
      || strlen(m->dedup_key) > DEDUP_MAX)
    return RB_EINVAL;
  rc = buf_puts(out, "{\"routing_key\":");
  if (!rc)
    rc = notify_json_str(out, t->routing_key, 0);
  if (!rc)
    rc = buf_printf(out, ",\"event_action\":\"%s\",\"dedup_key\":", action_of(m->event));
  if (!rc)
    rc = notify_json_str(out, m->dedup_key, 0);
  if (rc || m->event == NE_ACKNOWLEDGED || m->event == NE_RESOLVED)
    return rc ? rc : buf_puts(out, "}");

  rc = buf_puts(out, ",\"payload\":{\"summary\":");
  if (!rc)
    rc = notify_json_str(out, m->title && *m->title ? m->title : m->summary, SUMMARY_MAX);
  if (!rc)
    rc = label_member(out, "source", m->labels_json, source, "runbookd");
  if (!rc)
    rc = buf_printf(out, ",\"severity\":\"%s\",\"timestamp\":\"%s\"",
                    notify_pagerduty_severity(m->severity), notify_timestamp(m, ts, sizeof(ts)));
  if (!rc)
    rc = label_member(out, "component", m->labels_json, component, NULL);
  if (!rc)
    rc = label_member(out, "group", m->labels_json, group, NULL);
  if (!rc)
    rc = label_member(out, "class", m->labels_json, class, NULL);

  snprintf(id, sizeof(id), "%" PRId64, m->incident_id);
  if (!rc)
    rc = buf_puts(out, ",\"custom_details\":{\"incident\":");
  if (!rc)
    rc = notify_json_str(out, id, 0);
  if (!rc)
    rc = buf_printf(out, ",\"event\":\"%s\"", notify_event_name(m->event));
  if (!rc)
    rc = str_member(out, "severity", m->severity);
  if (!rc)
    rc = str_member(out, "state", m->state);
  if (!rc)
    rc = str_member(out, "level", m->level);
  if (!rc)
    rc = str_member(out, "recipient", m->recipient);
  if (!rc)
    rc = str_member(out, "reason", m->reason);
  if (!rc)
    rc = str_member(out, "summary", m->summary);
  if (!rc)
    rc = str_member(out, "delivery_id", m->delivery_id);
  if (!rc)
    rc = buf_puts(out, ",\"labels\":");
  if (!rc)
    rc = notify_json_labels(out, m->labels_json);
  if (!rc)
    rc = buf_puts(out, "}}");

  if (!rc)
    rc = buf_puts(out, ",\"client\":\"runbookd\"");
  notify_incident_link(s, m->incident_id, 0, open, sizeof(open));
  if (!rc && open[0]) {
    rc = str_member(out, "client_url", open);
    if (!rc)
      rc = buf_puts(out, ",\"links\":[{\"href\":");
    if (!rc)
      rc = notify_json_str(out, open, 0);
    if (!rc)
      rc = buf_printf(out, ",\"text\":\"runbookd incident %" PRId64 "\"}]", m->incident_id);
  }
  return rc ? rc : buf_puts(out, "}");
}

static rb_status
check(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, const char **err)
{
  if (!t->routing_key || !*t->routing_key) {
    *err = "pagerduty target has no routing key";
    return RB_EINVAL;
  }
  if (!m->dedup_key || !*m->dedup_key || strlen(m->dedup_key) > DEDUP_MAX) {
    *err = "pagerduty needs a dedup_key of 1 to 255 characters";
    return RB_EINVAL;
  }
  return RB_OK;
}

static rb_status
build(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, struct buf *out)
{
  return notify_build_pagerduty(s, t, m, out);
}

static const char *
url(const struct notify_target *t)
{
  return t->url && *t->url ? t->url : DEFAULT_URL;
}

const struct notifier notifier_pagerduty = {
  .name = "pagerduty",
  .check = check,
  .build = build,
  .url = url,
};
