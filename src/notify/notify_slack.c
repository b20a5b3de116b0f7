/*
 * notify_slack.c - Slack incoming webhooks.
 *
 * The message is Block Kit: a header with the incident's title, a section
 * with what happened and the summary, fields for severity, state, level
 * and who is paged, a context line with the reason and the labels, and
 * link buttons to runbookd's web page ("Acknowledge" opens the incident
 * with its ack confirmation; a link cannot POST, and a GET that changed
 * state would be fired by Slack's link unfurling).  `text` carries the
 * same news for notifications and clients that do not render blocks.
 * Slack answers 200 "ok", or 4xx with a short reason (invalid_payload,
 * no_service, channel_is_archived...) that ends up in the result's detail.
 */
#include "notify_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Slack's limits (characters; bytes are a safe bound). */
#define HEADER_MAX 150
#define SECTION_MAX 3000
#define FIELD_MAX 2000

static const char *const emoji[NE_EVENT_COUNT] = {
  [NE_TRIGGER] = ":rotating_light:",          [NE_ESCALATED] = ":arrow_double_up:",
  [NE_PROGRESS] = ":hourglass_flowing_sand:", [NE_ACKNOWLEDGED] = ":eyes:",
  [NE_RESOLVED] = ":white_check_mark:",
};

/* Slack's mrkdwn wants &, < and > escaped, and nothing else. */
static rb_status
mrkdwn_escape(struct buf *b, const char *s)
{
  rb_status rc = RB_OK;
  for (; s && *s && !rc; s++) {
    if (*s == '&')
      rc = buf_puts(b, "&amp;");
    else if (*s == '<')
      rc = buf_puts(b, "&lt;");
    else if (*s == '>')
      rc = buf_puts(b, "&gt;");
    else
      rc = buf_append(b, s, 1);
  }
  return rc;
}

static rb_status
mrkdwn_field(struct buf *b, const char *name, const char *value, int first)
{
  struct buf t;
  rb_status rc;

  buf_init(&t, 0);
  rc = buf_printf(&t, "*%s*\n", name);
  if (!rc)
    rc = mrkdwn_escape(&t, value && *value ? value : "-");
  if (!rc)
    rc = buf_printf(b, "%s{\"type\":\"mrkdwn\",\"text\":", first ? "" : ",");
  if (!rc)
    rc = notify_json_str(b, t.data, FIELD_MAX);
  if (!rc)
    rc = buf_puts(b, "}");
  buf_free(&t);
  return rc;
}

/* "`alertname=HighResponseTime` `namespace=ran-optimization`" */
static rb_status
labels_line(struct buf *b, const char *labels_json)
{
  cJSON *o = NULL;
  const cJSON *it;
  const char *end = NULL;
  rb_status rc = RB_OK;

  if (labels_json)
    o = cJSON_ParseWithLengthOpts(labels_json, strlen(labels_json) + 1, &end, 1);
  if (o && !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    o = NULL;
  }
  cJSON_ArrayForEach(it, o)
  {
    if (rc || !cJSON_IsString(it) || !it->string)
      continue;
    rc = buf_puts(b, b->len ? " `" : "`");
    if (!rc)
      rc = mrkdwn_escape(b, it->string);
    if (!rc)
      rc = buf_puts(b, "=");
    if (!rc)
      rc = mrkdwn_escape(b, it->valuestring);
    if (!rc)
      rc = buf_puts(b, "`");
  }
  cJSON_Delete(o);
  return rc;
}

static rb_status
button(struct buf *b, const char *text, const char *url, const char *action, const char *style)
{
  rb_status rc = buf_puts(b, "{\"type\":\"button\",\"text\":{\"type\":\"plain_text\",\"text\":");
  if (!rc)
    rc = notify_json_str(b, text, 75);
  if (!rc)
    rc = buf_puts(b, "},\"url\":");
  if (!rc)
    rc = notify_json_str(b, url, 3000);
  if (!rc)
    rc = buf_printf(b, ",\"action_id\":\"%s\"", action);
  if (!rc && style)
    rc = buf_printf(b, ",\"style\":\"%s\"", style);
  return rc ? rc : buf_puts(b, "}");
}

rb_status
notify_build_slack(const struct notify_settings *s, const struct notify_message *m, struct buf *out)
{
  struct buf t;
  char open[1024], ack[1024], hdr[HEADER_MAX * 2];
  const char *title = m->title && *m->title ? m->title : "runbookd incident";
  int can_ack = m->event != NE_ACKNOWLEDGED && m->event != NE_RESOLVED
                && (!m->state || strcmp(m->state, "open") == 0);
  rb_status rc;

  if ((unsigned)m->event >= NE_EVENT_COUNT)
    return RB_EINVAL;
  notify_incident_link(s, m->incident_id, 0, open, sizeof(open));
  notify_incident_link(s, m->incident_id, 1, ack, sizeof(ack));
  buf_init(&t, 0);

  /* text: the notification line, with the link when there is one. */
  rc = buf_printf(&t, "%s: ", notify_event_title(m->event));
  if (!rc)
    rc = mrkdwn_escape(&t, title);
  if (!rc)
    rc = buf_printf(&t, " (incident %" PRId64 ", %s, %s)", m->incident_id,
                    m->severity ? m->severity : "unknown", m->state ? m->state : "open");
  if (!rc && open[0])
    rc = buf_printf(&t, " <%s|Open in runbookd>", open);
  if (!rc)
    rc = buf_puts(out, "{\"text\":");
  if (!rc)
    rc = notify_json_str(out, t.data, SECTION_MAX);

  /* header */
  snprintf(hdr, sizeof(hdr), "%s %s", emoji[m->event], title);
  if (!rc)
    rc = buf_puts(out, ",\"blocks\":[{\"type\":\"header\",\"text\":{\"type\":\"plain_text\","
                       "\"text\":");
  if (!rc)
    rc = notify_json_str(out, hdr, HEADER_MAX);
  if (!rc)
    rc = buf_puts(out, ",\"emoji\":true}}");

  /* what happened, and the summary */
  buf_reset(&t);
  if (!rc)
    rc = buf_printf(&t, "*%s* · incident %" PRId64, notify_event_title(m->event), m->incident_id);
  if (!rc && m->reason && *m->reason) {
    rc = buf_puts(&t, " · ");
    if (!rc)
      rc = mrkdwn_escape(&t, m->reason);
  }
  if (!rc && m->summary && *m->summary) {
    rc = buf_puts(&t, "\n");
    if (!rc)
      rc = mrkdwn_escape(&t, m->summary);
  }
  if (!rc)
    rc = buf_puts(out, ",{\"type\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":");
  if (!rc)
    rc = notify_json_str(out, t.data, SECTION_MAX);
  if (!rc)
    rc = buf_puts(out, "}}");

  /* fields */
  if (!rc)
    rc = buf_puts(out, ",{\"type\":\"section\",\"fields\":[");
  if (!rc)
    rc = mrkdwn_field(out, "Severity", m->severity, 1);
  if (!rc)
    rc = mrkdwn_field(out, "State", m->state, 0);
  if (!rc)
    rc = mrkdwn_field(out, "Level", m->level, 0);
  if (!rc)
    rc = mrkdwn_field(out, "Paged", m->recipient, 0);
  if (!rc)
    rc = buf_puts(out, "]}");

  /* labels */
  buf_reset(&t);
  if (!rc)
    rc = labels_line(&t, m->labels_json);
  if (!rc && t.len) {
    rc = buf_puts(out, ",{\"type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",\"text\":");
    if (!rc)
      rc = notify_json_str(out, t.data, SECTION_MAX);
    if (!rc)
      rc = buf_puts(out, "}]}");
  }

  /* buttons */
  if (!rc && open[0]) {
    rc = buf_puts(out, ",{\"type\":\"actions\",\"elements\":[");
    if (!rc && can_ack) {
      rc = button(out, "Acknowledge", ack, "runbookd_ack", "primary");
      if (!rc)
        rc = buf_puts(out, ",");
    }
    if (!rc)
      rc = button(out, "Open incident", open, "runbookd_open", NULL);
    if (!rc)
      rc = buf_puts(out, "]}");
  }
  if (!rc)
    rc = buf_puts(out, "]}");
  buf_free(&t);
  return rc;
}

static rb_status
check(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, const char **err)
{
  if (!t->url || !*t->url) {
    *err = "slack target has no webhook URL";
    return RB_EINVAL;
  }
  return RB_OK;
}

static rb_status
build(const struct notify_settings *s, const struct notify_target *t,
      const struct notify_message *m, struct buf *out)
{
  return notify_build_slack(s, m, out);
}

const struct notifier notifier_slack = {
  .name = "slack",
  .check = check,
  .build = build,
};
