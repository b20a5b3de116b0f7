/*
 * Unit tests for the notifiers (src/notify): the exact payload of each
 * builder, the severity mapping, signatures, and notify_send() against
 * loopback receivers run by the test itself (a small HTTP server thread):
 * success, 429 with Retry-After, 500 then success, 400 final, a receiver
 * that is down, one that is too slow.  The "e2e" suite is driven by
 * test/integration/test_notify.py, which runs Python receivers (Slack,
 * PagerDuty, signed webhook, phone, an SMTP sink with STARTTLS) and
 * checks what arrived; without its environment those tests skip.
 */
#include "buf.h"
#include "notify.h"
#include "rbtime.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char GOLDEN_SLACK[]
    = "{\"text\":\"Triggered: [CRITICAL] HighResponseTime ran-optimization/api-gateway (inciden"
      "t 42, critical, open) <https://runbookd.example.net/#/incidents/42|Open in runbookd>\",\""
      "blocks\":[{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":\":rotating_li"
      "ght: [CRITICAL] HighResponseTime ran-optimization/api-gateway\",\"emoji\":true}},{\"type"
      "\":\"section\",\"text\":{\"type\":\"mrkdwn\",\"text\":\"*Triggered* \302\267 incident 42"
      " \302\267 escalation: not acknowledged within 1h\\np95 latency 2.3s &gt; 1s for 5m &lt;c"
      "heck&gt;\"}},{\"type\":\"section\",\"fields\":[{\"type\":\"mrkdwn\",\"text\":\"*Severity"
      "*\\ncritical\"},{\"type\":\"mrkdwn\",\"text\":\"*State*\\nopen\"},{\"type\":\"mrkdwn\",\""
      "text\":\"*Level*\\nL2 support\"},{\"type\":\"mrkdwn\",\"text\":\"*Paged*\\nAlice\"}]},{\""
      "type\":\"context\",\"elements\":[{\"type\":\"mrkdwn\",\"text\":\"`alertname=HighResponse"
      "Time` `namespace=ran-optimization` `deployment=api-gateway` `severity=critical`\"}]},{\""
      "type\":\"actions\",\"elements\":[{\"type\":\"button\",\"text\":{\"type\":\"plain_text\","
      "\"text\":\"Acknowledge\"},\"url\":\"https://runbookd.example.net/#/incidents/42/ack\",\""
      "action_id\":\"runbookd_ack\",\"style\":\"primary\"},{\"type\":\"button\",\"text\":{\"typ"
      "e\":\"plain_text\",\"text\":\"Open incident\"},\"url\":\"https://runbookd.example.net/#/"
      "incidents/42\",\"action_id\":\"runbookd_open\"}]}]}";

static const char GOLDEN_PD_TRIGGER[]
    = "{\"routing_key\":\"R0UTINGKEY0123456789abcdef012345\",\"event_action\":\"trigger\",\"ded"
      "up_key\":\"runbookd-3f2a9c1e5b7d0a11-42\",\"payload\":{\"summary\":\"[CRITICAL] HighResp"
      "onseTime ran-optimization/api-gateway\",\"source\":\"api-gateway\",\"severity\":\"critic"
      "al\",\"timestamp\":\"2026-12-03T15:19:42.911Z\",\"component\":\"api-gateway\",\"group\":"
      "\"ran-optimization\",\"class\":\"HighResponseTime\",\"custom_details\":{\"incident\":\"4"
      "2\",\"event\":\"trigger\",\"severity\":\"critical\",\"state\":\"open\",\"level\":\"L2 su"
      "pport\",\"recipient\":\"Alice\",\"reason\":\"escalation: not acknowledged within 1h\",\""
      "summary\":\"p95 latency 2.3s > 1s for 5m <check>\",\"delivery_id\":"
      "\"42-1796311182911-7\",\"l"
      "abels\":{\"alertname\":\"HighResponseTime\",\"namespace\":\"ran-optimization\",\"deploym"
      "ent\":\"api-gateway\",\"severity\":\"critical\"}}},\"client\":\"runbookd\",\"client_url\""
      ":\"https://runbookd.example.net/#/incidents/42\",\"links\":[{\"href\":\"https://runbookd"
      ".example.net/#/incidents/42\",\"text\":\"runbookd incident 42\"}]}";

static const char GOLDEN_PD_ACK[]
    = "{\"routing_key\":\"R0UTINGKEY0123456789abcdef012345\",\"event_action\":\"acknowledge\",\""
      "dedup_key\":\"runbookd-3f2a9c1e5b7d0a11-42\"}";

static const char GOLDEN_WEBHOOK[]
    = "{\"version\":\"1\",\"event\":\"trigger\",\"delivery_id\":\"42-1796311182911-7\","
      "\"dedup_key\""
      ":\"runbookd-3f2a9c1e5b7d0a11-42\",\"at\":\"2026-12-03T15:19:42.911Z\",\"incident\":{\"id"
      "\":\"42\",\"title\":\"[CRITICAL] HighResponseTime ran-optimization/api-gateway\",\"summa"
      "ry\":\"p95 latency 2.3s > 1s for 5m <check>\",\"severity\":\"critical\",\"state\":\"open"
      "\"},\"severity\":\"critical\",\"state\":\"open\",\"page\":{\"level\":\"L2 support\",\"re"
      "cipient\":\"Alice\",\"reason\":\"escalation: not acknowledged within 1h\"},\"labels\":{\""
      "alertname\":\"HighResponseTime\",\"namespace\":\"ran-optimization\",\"deployment\":\"api"
      "-gateway\",\"severity\":\"critical\"},\"links\":{\"incident\":\"https://runbookd.example"
      ".net/#/incidents/42\",\"ack\":\"https://runbookd.example.net/#/incidents/42/ack\",\"api\""
      ":\"https://runbookd.example.net/api/v1/incidents/42\"}}";

static const char GOLDEN_EMAIL[]
    = "Date: Thu, 03 Dec 2026 15:19:42 +0000\r\n"
      "From: runbookd <runbookd@example.net>\r\n"
      "To: <oncall@example.org>\r\n"
      "Message-ID: <runbookd.42-1796311182911-7@example.net>\r\n"
      "References: <runbookd.incident.42@example.net>\r\n"
      "Subject: [runbookd] Triggered: [CRITICAL] HighResponseTime ran-optimization/api-gateway\r"
      "\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "Auto-Submitted: auto-generated\r\n"
      "X-Runbookd-Incident: 42\r\n"
      "X-Runbookd-Event: trigger\r\n"
      "\r\n"
      "Triggered: incident 42\r\n"
      "\r\n"
      "Title:     [CRITICAL] HighResponseTime ran-optimization/api-gateway\r\n"
      "Severity:  critical\r\n"
      "State:     open\r\n"
      "Level:     L2 support\r\n"
      "Paged:     Alice\r\n"
      "Reason:    escalation: not acknowledged within 1h\r\n"
      "\r\n"
      "p95 latency 2.3s > 1s for 5m <check>\r\n"
      "\r\n"
      "Labels:\r\n"
      "  alertname=HighResponseTime\r\n"
      "  namespace=ran-optimization\r\n"
      "  deployment=api-gateway\r\n"
      "  severity=critical\r\n"
      "\r\n"
      "Ack:       https://runbookd.example.net/#/incidents/42/ack\r\n"
      "Incident:  https://runbookd.example.net/#/incidents/42\r\n"
      "\r\n"
      "-- \r\n"
      "runbookd, delivery 42-1796311182911-7\r\n";

static const char GOLDEN_PHONE[]
    = "{\"to\":\"+4915112345678\",\"message\":\"This is runbookd. Critical incident 42 triggere"
      "d: High Response Time ran optimization api gateway. Please acknowledge in runbookd.\",\""
      "incident\":\"42\",\"dedup_key\":\"runbookd-3f2a9c1e5b7d0a11-42\",\"event\":\"trigger\",\""
      "severity\":\"critical\",\"delivery_id\":\"42-1796311182911-7\",\"link\":\"https://"
      "runbookd.ex"
      "ample.net/#/incidents/42/ack\"}";

#define LABELS                                                                                     \
  "{\"alertname\":\"HighResponseTime\",\"namespace\":\"ran-optimization\",\"deployment\":"         \
  "\"api-gateway\",\"severity\":\"critical\"}"

static struct notify_settings
settings(void)
{
  struct notify_settings s;
  notify_settings_defaults(&s);
  s.external_url = "https://runbookd.example.net/";
  s.smtp_from = "runbookd@example.net";
  return s;
}

static struct notify_message
message(void)
{
  struct notify_message m = { 0 };
  m.event = NE_TRIGGER;
  m.incident_id = 42;
  m.dedup_key = "runbookd-3f2a9c1e5b7d0a11-42";
  m.delivery_id = "42-1796311182911-7";
  m.title = "[CRITICAL] HighResponseTime ran-optimization/api-gateway";
  m.summary = "p95 latency 2.3s > 1s for 5m <check>";
  m.severity = "critical";
  m.state = "open";
  m.level = "L2 support";
  m.recipient = "Alice";
  m.reason = "escalation: not acknowledged within 1h";
  m.labels_json = LABELS;
  m.at_ms = 1796311182911LL; /* 2026-12-03T15:19:42.911Z */
  return m;
}

/* ---- names ---- */

Test(notify, method_and_event_names)
{
  cr_assert_str_eq(notify_method_name(NM_PAGERDUTY), "pagerduty");
  cr_assert_eq(notify_method_parse("Slack"), NM_SLACK);
  cr_assert_eq(notify_method_parse("phone"), NM_PHONE);
  cr_assert_eq(notify_method_parse("pager"), -1);
  cr_assert_eq(notify_method_parse(NULL), -1);
  cr_assert_str_eq(notify_method_name((enum notify_method)99), "unknown");
  cr_assert_str_eq(notify_event_name(NE_ACKNOWLEDGED), "acknowledged");
  cr_assert_str_eq(notify_event_name(NE_EVENT_COUNT), "unknown");
}

Test(notify, pagerduty_severity_mapping)
{
  cr_assert_str_eq(notify_pagerduty_severity("emergency"), "critical");
  cr_assert_str_eq(notify_pagerduty_severity("critical"), "critical");
  cr_assert_str_eq(notify_pagerduty_severity("high"), "error");
  cr_assert_str_eq(notify_pagerduty_severity("medium"), "warning");
  cr_assert_str_eq(notify_pagerduty_severity("low"), "info");
  cr_assert_str_eq(notify_pagerduty_severity("LOW"), "info");
  cr_assert_str_eq(notify_pagerduty_severity("bogus"), "warning");
  cr_assert_str_eq(notify_pagerduty_severity(NULL), "warning");
}

/* ---- payloads, byte for byte ---- */

static void
expect_build(rb_status rc, struct buf *b, const char *golden)
{
  cr_assert_eq(rc, RB_OK);
  cr_assert_str_eq(b->data, golden);
  buf_free(b);
}

Test(payload, slack)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct buf b;
  buf_init(&b, 0);
  expect_build(notify_build_slack(&s, &m, &b), &b, GOLDEN_SLACK);
}

Test(payload, slack_without_external_url_or_ack_after_ack)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct buf b;

  s.external_url = NULL;
  buf_init(&b, 0);
  cr_assert_eq(notify_build_slack(&s, &m, &b), RB_OK);
  cr_assert_null(strstr(b.data, "actions"));
  cr_assert_null(strstr(b.data, "<http"));
  buf_free(&b);

  s = settings();
  m.event = NE_ACKNOWLEDGED;
  m.state = "acked";
  cr_assert_eq(notify_build_slack(&s, &m, &b), RB_OK);
  cr_assert_null(strstr(b.data, "Acknowledge\""), "no ack button once acked");
  cr_assert_not_null(strstr(b.data, "\"Open incident\""));
  cr_assert_not_null(strstr(b.data, ":eyes: "));
  buf_free(&b);
}

Test(payload, slack_header_is_cut_at_150)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  char title[400];
  struct buf b;
  const char *h, *e;

  memset(title, 'x', sizeof(title) - 1);
  title[sizeof(title) - 1] = '\0';
  m.title = title;
  buf_init(&b, 0);
  cr_assert_eq(notify_build_slack(&s, &m, &b), RB_OK);
  h = strstr(b.data, "\"plain_text\",\"text\":\"") + 21;
  e = strchr(h, '"');
  cr_assert_leq(e - h, 150);
  cr_assert_eq(strncmp(e - 3, "...", 3), 0);
  buf_free(&b);
}

Test(payload, pagerduty_trigger)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t
      = { .method = NM_PAGERDUTY, .routing_key = "R0UTINGKEY0123456789abcdef012345" };
  struct buf b;
  buf_init(&b, 0);
  expect_build(notify_build_pagerduty(&s, &t, &m, &b), &b, GOLDEN_PD_TRIGGER);
}

Test(payload, pagerduty_acknowledge_resolve_escalate)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t
      = { .method = NM_PAGERDUTY, .routing_key = "R0UTINGKEY0123456789abcdef012345" };
  struct buf b;

  buf_init(&b, 0);
  m.event = NE_ACKNOWLEDGED;
  expect_build(notify_build_pagerduty(&s, &t, &m, &b), &b, GOLDEN_PD_ACK);
  m.event = NE_RESOLVED;
  expect_build(notify_build_pagerduty(&s, &t, &m, &b), &b,
               "{\"routing_key\":\"R0UTINGKEY0123456789abcdef012345\",\"event_action\":"
               "\"resolve\",\"dedup_key\":\"runbookd-3f2a9c1e5b7d0a11-42\"}");
  /* Escalations and progress re-trigger the same alert. */
  m.event = NE_ESCALATED;
  cr_assert_eq(notify_build_pagerduty(&s, &t, &m, &b), RB_OK);
  cr_assert_not_null(strstr(b.data, "\"event_action\":\"trigger\",\"dedup_key\":"
                                    "\"runbookd-3f2a9c1e5b7d0a11-42\""));
  cr_assert_not_null(strstr(b.data, "\"event\":\"escalated\""));
  buf_free(&b);
}

Test(payload, pagerduty_severity_source_and_limits)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_PAGERDUTY, .routing_key = "k" };
  char title[3000], dedup[300];
  const char *p, *e;
  struct buf b;

  buf_init(&b, 0);
  m.severity = "high";
  m.labels_json = "{\"instance\":\"10.0.0.7:9090\",\"pod\":\"api-1\"}";
  cr_assert_eq(notify_build_pagerduty(&s, &t, &m, &b), RB_OK);
  cr_assert_not_null(strstr(b.data, "\"source\":\"10.0.0.7:9090\",\"severity\":\"error\""));
  cr_assert_null(strstr(b.data, "\"component\""), "no component label, no member");
  buf_reset(&b);

  /* 1024 characters at most, cut on a UTF-8 boundary. */
  for (size_t i = 0; i + 2 < sizeof(title); i += 2)
    memcpy(title + i, "\xc3\xa9", 2); /* é */
  title[sizeof(title) - 1 - (sizeof(title) - 1) % 2] = '\0';
  m.title = title;
  cr_assert_eq(notify_build_pagerduty(&s, &t, &m, &b), RB_OK);
  p = strstr(b.data, "\"summary\":\"") + 11;
  e = strchr(p, '"');
  cr_assert_leq(e - p, 1024);
  cr_assert_eq(strncmp(e - 4, "\xa9...", 4), 0, "ends with a whole character and ...");
  buf_reset(&b);

  memset(dedup, 'd', sizeof(dedup) - 1);
  dedup[sizeof(dedup) - 1] = '\0';
  m.dedup_key = dedup;
  cr_assert_eq(notify_build_pagerduty(&s, &t, &m, &b), RB_EINVAL);
  m.dedup_key = NULL;
  cr_assert_eq(notify_build_pagerduty(&s, &t, &m, &b), RB_EINVAL);
  m = message();
  t.routing_key = NULL;
  cr_assert_eq(notify_build_pagerduty(&s, &t, &m, &b), RB_EINVAL);
  buf_free(&b);
}

Test(payload, webhook)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct buf b;
  buf_init(&b, 0);
  expect_build(notify_build_webhook(&s, &m, &b), &b, GOLDEN_WEBHOOK);
}

Test(payload, webhook_survives_bad_labels_and_bad_utf8)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct buf b;

  buf_init(&b, 0);
  m.labels_json = "{\"a\":\"b\"} trailing";
  m.summary = "bad \xff byte \x01 ctl";
  cr_assert_eq(notify_build_webhook(&s, &m, &b), RB_OK);
  cr_assert_not_null(strstr(b.data, "\"labels\":{}"));
  cr_assert_not_null(strstr(b.data, "\"summary\":\"bad \xef\xbf\xbd byte \\u0001 ctl\""));
  buf_free(&b);
}

Test(payload, email)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_EMAIL, .to = "oncall@example.org" };
  struct buf b;
  buf_init(&b, 0);
  expect_build(notify_build_email(&s, &t, &m, &b), &b, GOLDEN_EMAIL);
}

Test(payload, email_headers_cannot_be_injected_and_utf8_subject_is_encoded)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_EMAIL, .to = "oncall@example.org" };
  struct buf b;

  buf_init(&b, 0);
  m.title = "Disk full\r\nBcc: victim@example.com";
  m.event = NE_RESOLVED;
  cr_assert_eq(notify_build_email(&s, &t, &m, &b), RB_OK);
  cr_assert_not_null(strstr(b.data, "\r\nSubject: [runbookd] Resolved: Disk full  Bcc: "
                                    "victim@example.com\r\n"));
  *strstr(b.data, "\r\n\r\n") = '\0'; /* the header section */
  cr_assert_null(strstr(b.data, "\r\nBcc:"));
  cr_assert_not_null(strstr(b.data, "\r\nIn-Reply-To: <runbookd.incident.42@example.net>\r\n"));
  buf_reset(&b);
  cr_assert_eq(notify_build_email(&s, &t, &m, &b), RB_OK);
  cr_assert_null(strstr(b.data, "Ack:"), "no ack link once resolved");
  buf_reset(&b);

  m.title = "Störung im Kernnetz";
  cr_assert_eq(notify_build_email(&s, &t, &m, &b), RB_OK);
  /* base64("[runbookd] Resolved: Störung im Kernnetz") */
  cr_assert_not_null(strstr(b.data, "\r\nSubject: =?UTF-8?B?W3J1bmJvb2tkXSBSZXNvbHZlZDogU3TDtnJ1"
                                    "bmcgaW0gS2Vybm5ldHo=?=\r\n"),
                     "%s", b.data);
  buf_reset(&b);

  t.to = "oncall@example.org>\r\nRCPT TO:<x@y";
  cr_assert_eq(notify_build_email(&s, &t, &m, &b), RB_EINVAL);
  t.to = "no-at-sign";
  cr_assert_eq(notify_build_email(&s, &t, &m, &b), RB_EINVAL);
  buf_free(&b);
}

Test(payload, email_long_lines_are_broken)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_EMAIL, .to = "oncall@example.org" };
  char summary[5000];
  struct buf b;
  size_t line = 0;

  memset(summary, 'y', sizeof(summary) - 1);
  summary[sizeof(summary) - 1] = '\0';
  m.summary = summary;
  buf_init(&b, 0);
  cr_assert_eq(notify_build_email(&s, &t, &m, &b), RB_OK);
  for (size_t i = 0; i < b.len; i++) {
    if (b.data[i] == '\n') {
      cr_assert(i > 0 && b.data[i - 1] == '\r', "bare LF at %zu", i);
      line = 0;
    } else {
      cr_assert_lt(++line, 999, "line over 998 bytes");
    }
  }
  buf_free(&b);
}

Test(payload, phone)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_PHONE, .to = "+4915112345678" };
  struct buf b;
  buf_init(&b, 0);
  expect_build(notify_build_phone(&s, &t, &m, &b), &b, GOLDEN_PHONE);
}

Test(payload, phone_message_is_short_and_speakable)
{
  struct notify_settings s = settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_PHONE, .to = "+4915112345678" };
  char title[2000];
  struct buf b;
  const char *p, *e;

  memset(title, 'a', sizeof(title) - 1);
  title[sizeof(title) - 1] = '\0';
  m.title = title;
  m.event = NE_RESOLVED;
  buf_init(&b, 0);
  cr_assert_eq(notify_build_phone(&s, &t, &m, &b), RB_OK);
  p = strstr(b.data, "\"message\":\"") + 11;
  e = strchr(p, '"');
  cr_assert_leq(e - p, 320);
  cr_assert_eq(strncmp(p, "This is runbookd. Critical incident 42 resolved: aaa", 52), 0);
  buf_free(&b);
}

/* ---- signatures ---- */

#define BODY "{\"event\":\"trigger\"}"
#define NOW 1796311182

Test(signature, known_vector)
{
  char sig[NOTIFY_SIG_MAX];
  /* printf '1796311182.{}' | openssl dgst -sha256 -hmac s3cret */
  notify_sign("s3cret", NOW, "{}", 2, sig, sizeof(sig));
  cr_assert_str_eq(sig, "t=1796311182,v1=0e78d6fe5aacadf56b0649a51f86a099ae48d8b8549bc304f2154ce7"
                        "910652ff");
}

Test(signature, good)
{
  char sig[NOTIFY_SIG_MAX];
  notify_sign("s3cret", NOW, BODY, strlen(BODY), sig, sizeof(sig));
  cr_assert_eq(notify_verify("s3cret", sig, BODY, strlen(BODY), NOW, 300), 1);
  cr_assert_eq(notify_verify("s3cret", sig, BODY, strlen(BODY), NOW + 299, 300), 1);
}

Test(signature, wrong_secret)
{
  char sig[NOTIFY_SIG_MAX];
  notify_sign("s3cret", NOW, BODY, strlen(BODY), sig, sizeof(sig));
  cr_assert_eq(notify_verify("s3cret2", sig, BODY, strlen(BODY), NOW, 300), 0);
  cr_assert_eq(notify_verify("", sig, BODY, strlen(BODY), NOW, 300), 0);
}

Test(signature, tampered_body)
{
  const char *other = "{\"event\":\"resolved\"}";
  char sig[NOTIFY_SIG_MAX];
  notify_sign("s3cret", NOW, BODY, strlen(BODY), sig, sizeof(sig));
  cr_assert_eq(notify_verify("s3cret", sig, other, strlen(other), NOW, 300), 0);
  cr_assert_eq(notify_verify("s3cret", sig, BODY, strlen(BODY) - 1, NOW, 300), 0);
}

Test(signature, stale_or_future_timestamp)
{
  char sig[NOTIFY_SIG_MAX];
  notify_sign("s3cret", NOW, BODY, strlen(BODY), sig, sizeof(sig));
  cr_assert_eq(notify_verify("s3cret", sig, BODY, strlen(BODY), NOW + 301, 300), 0);
  cr_assert_eq(notify_verify("s3cret", sig, BODY, strlen(BODY), NOW - 301, 300), 0);
}

Test(signature, tampered_timestamp_and_malformed_headers)
{
  char sig[NOTIFY_SIG_MAX], forged[NOTIFY_SIG_MAX + 80];
  notify_sign("s3cret", NOW, BODY, strlen(BODY), sig, sizeof(sig));
  /* The same MAC with a fresher timestamp: the timestamp is signed. */
  snprintf(forged, sizeof(forged), "t=%d,%s", NOW + 100, strchr(sig, ',') + 1);
  cr_assert_eq(notify_verify("s3cret", forged, BODY, strlen(BODY), NOW + 100, 300), 0);
  cr_assert_eq(notify_verify("s3cret", strchr(sig, ',') + 1, BODY, strlen(BODY), NOW, 300), 0);
  cr_assert_eq(notify_verify("s3cret", "t=1796311182", BODY, strlen(BODY), NOW, 300), 0);
  cr_assert_eq(notify_verify("s3cret", "t=abc,v1=00", BODY, strlen(BODY), NOW, 300), 0);
  cr_assert_eq(notify_verify("s3cret", "", BODY, strlen(BODY), NOW, 300), 0);
  cr_assert_eq(notify_verify("s3cret", NULL, BODY, strlen(BODY), NOW, 300), 0);
  /* Two v1 values (a key rotation): one good is enough; order free. */
  snprintf(forged, sizeof(forged), "v1=%064d,t=%d,%s", 0, NOW, strchr(sig, ',') + 1);
  cr_assert_eq(notify_verify("s3cret", forged, BODY, strlen(BODY), NOW, 300), 1);
  /* A short buffer gets an empty string, not a truncated signature. */
  notify_sign("s3cret", NOW, BODY, strlen(BODY), sig, 20);
  cr_assert_str_eq(sig, "");
}

/* ---- reading receivers' answers (fuzz_answers) ---- */

/* A receiver echoing a secret shorter than "[redacted]" again and again:
 * each mark lengthens the detail until it is cut, and the occurrence that
 * then straddled the end made the old cut's length negative (a memmove of
 * nearly SIZE_MAX bytes). */
Test(answer, an_echoed_short_secret_is_redacted_within_the_detail)
{
  struct notify_settings s;
  struct notify_target t = { .method = NM_WEBHOOK, .secret = "s3cret" };
  char body[400], detail[sizeof(((struct notify_result *)0)->detail)];
  size_t n = 0;

  notify_settings_defaults(&s);
  n += (size_t)snprintf(body, sizeof(body), "xx");
  for (int i = 0; i < 60; i++)
    n += (size_t)snprintf(body + n, sizeof(body) - n, "s3cret");
  cr_assert_eq(notify_http_answer(400, body, n, detail, sizeof(detail)), NOTIFY_REFUSED);
  notify_scrub(detail, sizeof(detail), &s, &t);
  cr_assert(memchr(detail, '\0', sizeof(detail)) != NULL);
  cr_assert_null(strstr(detail, "s3cret"), "%s", detail);
  cr_assert_eq(strncmp(detail, "HTTP 400: xx[redacted][redacted]", 32), 0, "%s", detail);
  cr_assert_eq(strlen(detail), 502, "cut before the mark that would not fit: %s", detail);
}

/* A secret that is part of the mark (a token set to "redacted") was found
 * again inside each mark written for it: the scrub never ended. */
Test(answer, a_secret_inside_the_mark_is_replaced_once, .timeout = 10)
{
  struct notify_settings s;
  struct notify_target t = { .method = NM_PHONE, .token = "redacted" };
  char detail[64];

  notify_settings_defaults(&s);
  cr_assert_eq(notify_http_answer(401, "bad token redacted", 18, detail, sizeof(detail)),
               NOTIFY_REFUSED);
  notify_scrub(detail, sizeof(detail), &s, &t);
  cr_assert_str_eq(detail, "HTTP 401: bad token [redacted]");
}

Test(answer, classes_and_one_line)
{
  char detail[512];

  cr_assert_eq(notify_http_answer(202, "{\"status\":\"success\"}", 20, detail, sizeof(detail)),
               NOTIFY_DELIVERED);
  cr_assert_str_eq(detail, "HTTP 202: {\"status\":\"success\"}");
  cr_assert_eq(notify_http_answer(429, NULL, 0, detail, sizeof(detail)), NOTIFY_RETRY);
  cr_assert_str_eq(detail, "HTTP 429");
  cr_assert_eq(notify_http_answer(302, "moved", 5, detail, sizeof(detail)), NOTIFY_REFUSED);
  /* Read within its length (not NUL-terminated), up to a NUL, on one line. */
  cr_assert_eq(notify_http_answer(400, "  no_service\r\n\tnow\x01!\0hidden", 26, detail, 6),
               NOTIFY_REFUSED);
  cr_assert_str_eq(detail, "HTTP ");
  notify_http_answer(400, "  no_service\r\n\tnow\x01!\0hidden", 26, detail, sizeof(detail));
  cr_assert_str_eq(detail, "HTTP 400: no_service now!");
  notify_http_answer(500, "okay", 2, detail, sizeof(detail));
  cr_assert_str_eq(detail, "HTTP 500: ok");
}

Test(answer, smtp_error_reply_lines_are_kept)
{
  char last[NOTIFY_SMTP_REPLY_MAX] = "", line[300];

  notify_smtp_reply("250 2.1.0 Ok\r\n", 14, last);
  cr_assert_str_eq(last, "");
  notify_smtp_reply("550 5.1.1 <a@example.net>: User unknown\r\nXX", 41, last);
  cr_assert_str_eq(last, "550 5.1.1 <a@example.net>: User unknown");
  notify_smtp_reply("421\n", 4, last); /* too short to be a reply */
  cr_assert_str_eq(last, "550 5.1.1 <a@example.net>: User unknown");
  memset(line, 'x', sizeof(line));
  memcpy(line, "451 ", 4);
  notify_smtp_reply(line, sizeof(line), last);
  cr_assert_eq(strlen(last), NOTIFY_SMTP_REPLY_MAX - 1);
  cr_assert_eq(strncmp(last, "451 xxx", 7), 0);
}

/* ---- a loopback HTTP receiver ---- */

struct reply {
  int status;
  const char *headers; /* extra header lines, each ending in \r\n */
  const char *body;
  int delay_ms; /* before answering */
};

#define MAX_REPLIES 8

struct receiver {
  int fd, port;
  pthread_t thread;
  pthread_mutex_t lock;
  struct reply replies[MAX_REPLIES];
  int n;
  int served;
  char *requests[MAX_REPLIES];
  int64_t at_ms[MAX_REPLIES];
};

static void
sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static char *
read_request(int c)
{
  struct buf b;
  char chunk[4096];
  long want = -1;

  buf_init(&b, 1 << 20);
  for (int i = 0; i < 1000; i++) {
    struct pollfd p = { c, POLLIN, 0 };
    ssize_t n;
    char *hdr_end;
    if (poll(&p, 1, 5000) <= 0)
      break;
    n = recv(c, chunk, sizeof(chunk), 0);
    if (n <= 0)
      break;
    buf_append(&b, chunk, (size_t)n);
    hdr_end = strstr(b.data, "\r\n\r\n");
    if (hdr_end && want < 0) {
      const char *cl = strcasestr(b.data, "\r\nContent-Length:");
      want = (hdr_end - b.data) + 4 + (cl && cl < hdr_end ? strtol(cl + 17, NULL, 10) : 0);
    }
    if (want >= 0 && (long)b.len >= want)
      break;
  }
  return buf_steal(&b);
}

static void *
serve(void *arg)
{
  struct receiver *r = arg;

  for (int i = 0; i < r->n; i++) {
    struct pollfd p = { r->fd, POLLIN, 0 };
    struct reply *rp = &r->replies[i];
    char head[1024];
    int c;

    if (poll(&p, 1, 20000) <= 0)
      break;
    c = accept(r->fd, NULL, NULL);
    if (c < 0)
      break;
    pthread_mutex_lock(&r->lock);
    r->requests[i] = read_request(c);
    r->at_ms[i] = rb_mono_ns() / 1000000;
    r->served = i + 1;
    pthread_mutex_unlock(&r->lock);
    if (rp->delay_ms)
      sleep_ms(rp->delay_ms);
    snprintf(head, sizeof(head),
             "HTTP/1.1 %d Whatever\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n%s\r\n",
             rp->status, strlen(rp->body ? rp->body : ""), rp->headers ? rp->headers : "");
    send(c, head, strlen(head), MSG_NOSIGNAL);
    if (rp->body)
      send(c, rp->body, strlen(rp->body), MSG_NOSIGNAL);
    close(c);
  }
  return NULL;
}

static int
listen_loopback(int *port)
{
  struct sockaddr_in a = { 0 };
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

  cr_assert_geq(fd, 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(fd, 16), 0);
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static struct receiver *
receiver_start(const struct reply *replies, int n)
{
  struct receiver *r = calloc(1, sizeof(*r));
  r->fd = listen_loopback(&r->port);
  memcpy(r->replies, replies, (size_t)n * sizeof(*replies));
  r->n = n;
  pthread_mutex_init(&r->lock, NULL);
  pthread_create(&r->thread, NULL, serve, r);
  return r;
}

/* Stops the thread (shutdown wakes its poll on the listening socket) and
 * frees what it recorded. */
static void
receiver_free(struct receiver *r)
{
  shutdown(r->fd, SHUT_RDWR);
  pthread_join(r->thread, NULL);
  close(r->fd);
  for (int i = 0; i < MAX_REPLIES; i++)
    free(r->requests[i]);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static int
receiver_served(struct receiver *r)
{
  int n;
  pthread_mutex_lock(&r->lock);
  n = r->served;
  pthread_mutex_unlock(&r->lock);
  return n;
}

/* A port nothing listens on: bound, then closed. */
static int
dead_port(void)
{
  int port, fd = listen_loopback(&port);
  close(fd);
  return port;
}

static const char *
body_of(const char *req)
{
  const char *p = strstr(req, "\r\n\r\n");
  return p ? p + 4 : "";
}

/* The value of a header in a raw request, into out. */
static char *
header_of(const char *req, const char *name, char *out, size_t outlen)
{
  char key[128];
  const char *p, *e;

  snprintf(key, sizeof(key), "\r\n%s:", name);
  out[0] = '\0';
  p = strcasestr(req, key);
  if (!p)
    return out;
  p += strlen(key);
  while (*p == ' ')
    p++;
  e = strstr(p, "\r\n");
  snprintf(out, outlen, "%.*s", (int)(e - p), p);
  return out;
}

static struct notify_settings
fast_settings(void)
{
  struct notify_settings s = settings();
  s.timeout_s = 2;
  s.retries = 3;
  s.backoff_ms = 50;
  return s;
}

static int64_t
mono_ms(void)
{
  return rb_mono_ns() / 1000000;
}

/* ---- notify_send ---- */

Test(send, slack_delivered)
{
  struct reply rp[] = { { 200, NULL, "ok", 0 } };
  struct receiver *r = receiver_start(rp, 1);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  char url[128], h[256];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T000/B000/XXXXSECRET", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_OK);
  cr_assert_eq(res.ok, 1);
  cr_assert_eq(res.status, 200);
  cr_assert_eq(res.attempts, 1);
  cr_assert_str_eq(res.detail, "HTTP 200: ok");
  cr_assert_eq(strncmp(r->requests[0], "POST /services/T000/B000/XXXXSECRET HTTP/1.1\r\n", 46), 0);
  cr_assert_str_eq(header_of(r->requests[0], "Content-Type", h, sizeof(h)), "application/json");
  cr_assert_str_eq(body_of(r->requests[0]), GOLDEN_SLACK);
  receiver_free(r);
}

Test(send, webhook_signed_and_headers)
{
  struct reply rp[] = { { 204, NULL, NULL, 0 } };
  struct receiver *r = receiver_start(rp, 1);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_WEBHOOK, .secret = "hmac-key-1" };
  struct notify_result res;
  char url[128], sig[256], h[256];
  const char *body;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_OK);
  body = body_of(r->requests[0]);
  cr_assert_str_eq(body, GOLDEN_WEBHOOK);
  header_of(r->requests[0], "X-Runbookd-Signature", sig, sizeof(sig));
  cr_assert_eq(notify_verify("hmac-key-1", sig, body, strlen(body), rb_wall_ms() / 1000, 60), 1,
               "%s", sig);
  cr_assert_eq(notify_verify("other-key", sig, body, strlen(body), rb_wall_ms() / 1000, 60), 0);
  cr_assert_str_eq(header_of(r->requests[0], "X-Runbookd-Delivery", h, sizeof(h)),
                   "42-1796311182911-7");
  cr_assert_str_eq(header_of(r->requests[0], "X-Runbookd-Event", h, sizeof(h)), "trigger");
  cr_assert_str_eq(header_of(r->requests[0], "Authorization", h, sizeof(h)), "");
  receiver_free(r);
}

Test(send, phone_bearer_token)
{
  struct reply rp[] = { { 202, NULL, "{\"call\":\"queued\"}", 0 } };
  struct receiver *r = receiver_start(rp, 1);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_PHONE, .to = "+4915112345678", .token = "tok-123" };
  struct notify_result res;
  char url[128], h[256];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/call", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_OK);
  cr_assert_str_eq(header_of(r->requests[0], "Authorization", h, sizeof(h)), "Bearer tok-123");
  cr_assert_str_eq(body_of(r->requests[0]), GOLDEN_PHONE);
  cr_assert_str_eq(res.detail, "HTTP 202: {\"call\":\"queued\"}");
  receiver_free(r);
}

Test(send, retry_after_429_is_honoured)
{
  struct reply rp[] = { { 429, "Retry-After: 1\r\n", "slow down", 0 },
                        { 202, NULL, "{\"status\":\"success\"}", 0 } };
  struct receiver *r = receiver_start(rp, 2);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t
      = { .method = NM_PAGERDUTY, .routing_key = "R0UTINGKEY0123456789abcdef012345" };
  struct notify_result res;
  char url[128];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/enqueue", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_OK);
  cr_assert_eq(res.attempts, 2);
  cr_assert_eq(res.status, 202);
  cr_assert_geq(r->at_ms[1] - r->at_ms[0], 950, "waited %lld ms, not Retry-After's 1 s",
                (long long)(r->at_ms[1] - r->at_ms[0]));
  cr_assert_str_eq(body_of(r->requests[0]), body_of(r->requests[1]), "the same event re-sent");
  receiver_free(r);
}

Test(send, server_error_then_success)
{
  struct reply rp[]
      = { { 500, NULL, "oops", 0 }, { 502, NULL, "bad gateway", 0 }, { 200, NULL, "ok", 0 } };
  struct receiver *r = receiver_start(rp, 3);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  char url[128];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_OK);
  cr_assert_eq(res.attempts, 3);
  /* 50 ms, then 100 ms: the backoff doubles. */
  cr_assert_geq(r->at_ms[1] - r->at_ms[0], 45);
  cr_assert_geq(r->at_ms[2] - r->at_ms[1], 95);
  receiver_free(r);
}

Test(send, client_error_is_final_with_the_answer)
{
  struct reply rp[] = { { 400, NULL,
                          "{\"status\":\"invalid event\",\"errors\":[\"bad key "
                          "R0UTINGKEY0123456789abcdef012345\"]}\n\n",
                          0 },
                        { 200, NULL, "ok", 0 } };
  struct receiver *r = receiver_start(rp, 2);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t
      = { .method = NM_PAGERDUTY, .routing_key = "R0UTINGKEY0123456789abcdef012345" };
  struct notify_result res;
  char url[128];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/enqueue", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_EINVAL);
  cr_assert_eq(res.ok, 0);
  cr_assert_eq(res.attempts, 1);
  cr_assert_eq(res.status, 400);
  cr_assert_str_eq(res.detail,
                   "HTTP 400: {\"status\":\"invalid event\",\"errors\":[\"bad key [redacted]\"]}");
  sleep_ms(100);
  cr_assert_eq(receiver_served(r), 1, "no retry after a 4xx");
  receiver_free(r);
}

Test(send, secrets_in_the_url_are_redacted)
{
  struct reply rp[] = { { 404, NULL, "no_service for /services/T0/B0/S3CR3TPATH", 0 } };
  struct receiver *r = receiver_start(rp, 1);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  char url[128];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T0/B0/S3CR3TPATH", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_EINVAL);
  cr_assert_null(strstr(res.detail, "S3CR3T"), "%s", res.detail);
  cr_assert_str_eq(res.detail, "HTTP 404: no_service for [redacted]");
  receiver_free(r);
}

Test(send, receiver_down)
{
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_WEBHOOK, .secret = "k3y-value" };
  struct notify_result res;
  char url[128];
  int64_t t0;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", dead_port());
  t.url = url;
  t0 = mono_ms();
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_EUNAVAIL);
  cr_assert_eq(res.ok, 0);
  cr_assert_eq(res.attempts, 4);
  cr_assert_eq(res.status, 0);
  cr_assert_not_null(strcasestr(res.detail, "connect"), "%s", res.detail);
  /* 50 + 100 + 200 ms of backoff, and no waiting for timeouts. */
  cr_assert_geq(mono_ms() - t0, 340);
  cr_assert_lt(mono_ms() - t0, 3000);
}

Test(send, slow_receiver_times_out)
{
  struct reply rp[] = { { 200, NULL, "ok", 4000 }, { 200, NULL, "ok", 4000 } };
  struct receiver *r = receiver_start(rp, 2);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  char url[128];
  int64_t t0;

  s.timeout_s = 1;
  s.retries = 1;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", r->port);
  t.url = url;
  t0 = mono_ms();
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_EUNAVAIL);
  cr_assert_eq(res.attempts, 2);
  cr_assert_not_null(strcasestr(res.detail, "timed out"), "%s", res.detail);
  cr_assert_geq(mono_ms() - t0, 2000);
  cr_assert_lt(mono_ms() - t0, 3500, "each attempt bounded by the timeout");
  receiver_free(r);
}

Test(send, redirect_is_not_followed)
{
  struct reply rp[] = { { 302, "Location: http://127.0.0.1:1/elsewhere\r\n", "", 0 } };
  struct receiver *r = receiver_start(rp, 1);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  char url[128];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", r->port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_EINVAL);
  cr_assert_eq(res.status, 302);
  cr_assert_eq(res.attempts, 1);
  receiver_free(r);
}

Test(send, misconfigured_targets_make_no_attempt)
{
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_result res;
  struct notify_target slack = { .method = NM_SLACK };
  struct notify_target hook = { .method = NM_WEBHOOK, .url = "http://127.0.0.1:1/" };
  struct notify_target pd = { .method = NM_PAGERDUTY };
  struct notify_target phone
      = { .method = NM_PHONE, .url = "http://127.0.0.1:1/", .to = "0151 1234" };
  struct notify_target mail = { .method = NM_EMAIL, .to = "oncall@example.org" };
  struct notify_target ftp = { .method = NM_SLACK, .url = "ftp://127.0.0.1/x" };

  cr_assert_eq(notify_send(&s, &slack, &m, &res), RB_EINVAL);
  cr_assert_str_eq(res.detail, "slack target has no webhook URL");
  cr_assert_eq(res.attempts, 0);
  cr_assert_eq(notify_send(&s, &hook, &m, &res), RB_EINVAL);
  cr_assert_str_eq(res.detail, "webhook target has no signing secret");
  cr_assert_eq(notify_send(&s, &pd, &m, &res), RB_EINVAL);
  cr_assert_str_eq(res.detail, "pagerduty target has no routing key");
  cr_assert_eq(notify_send(&s, &phone, &m, &res), RB_EINVAL);
  cr_assert_eq(notify_send(&s, &mail, &m, &res), RB_EINVAL);
  cr_assert_str_eq(res.detail, "email needs an smtp:// or smtps:// server URL");
  cr_assert_eq(notify_send(&s, &ftp, &m, &res), RB_EINVAL);
  cr_assert_eq(res.attempts, 1);
  cr_assert_eq(res.ok, 0);
}

/* ---- notify_send_until: a cancel check ---- */

struct stopper {
  struct receiver *r;
  int after_served; /* say stop once the receiver answered this many; -1 never */
  int64_t after_ms; /* or once this monotonic time passed; 0 never */
  int asked;
};

static int
stop_when(void *arg)
{
  struct stopper *c = arg;
  c->asked++;
  if (c->after_served >= 0 && receiver_served(c->r) >= c->after_served)
    return 1;
  return c->after_ms && mono_ms() >= c->after_ms;
}

/* Cancelled during the backoff: no second attempt, and no waiting out the
 * 2 s backoff. */
Test(send, cancel_stops_retries_during_the_backoff)
{
  struct reply rp[] = { { 503, NULL, "busy", 0 }, { 503, NULL, "busy", 0 } };
  struct receiver *r = receiver_start(rp, 2);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  struct stopper c = { r, 1, 0, 0 };
  char url[128];
  int64_t t0;

  s.backoff_ms = 2000;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", r->port);
  t.url = url;
  t0 = mono_ms();
  cr_assert_eq(notify_send_until(&s, &t, &m, &res, stop_when, &c), RB_ECONFLICT);
  cr_expect_eq(res.cancelled, 1);
  cr_expect_eq(res.ok, 0);
  cr_expect_eq(res.attempts, 1);
  cr_expect_eq(res.status, 503, "the last answer is kept");
  cr_expect_lt(mono_ms() - t0, 1000, "the backoff was not waited out");
  cr_expect_eq(receiver_served(r), 1);
  receiver_free(r);
}

/* Cancelled while the receiver has not answered yet: the attempt is
 * aborted at libcurl's next progress call (about once a second while
 * nothing moves), not after the 10 s timeout. */
Test(send, cancel_aborts_an_attempt_in_progress)
{
  struct reply rp[] = { { 200, NULL, "ok", 4000 } };
  struct receiver *r = receiver_start(rp, 1);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  struct stopper c = { r, -1, 0, 0 };
  char url[128];
  int64_t t0;

  s.timeout_s = 10;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", r->port);
  t.url = url;
  t0 = mono_ms();
  c.after_ms = t0 + 300;
  cr_assert_eq(notify_send_until(&s, &t, &m, &res, stop_when, &c), RB_ECONFLICT);
  cr_expect_eq(res.cancelled, 1);
  cr_expect_eq(res.attempts, 1);
  cr_expect_lt(mono_ms() - t0, 2500, "%lld ms", (long long)(mono_ms() - t0));
  receiver_free(r);
}

/* A check that never says stop changes nothing: retried, then delivered. */
Test(send, cancel_that_never_stops_is_notify_send)
{
  struct reply rp[] = { { 500, NULL, "oops", 0 }, { 200, NULL, "ok", 0 } };
  struct receiver *r = receiver_start(rp, 2);
  struct notify_settings s = fast_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  struct stopper c = { r, -1, 0, 0 };
  char url[128];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", r->port);
  t.url = url;
  cr_assert_eq(notify_send_until(&s, &t, &m, &res, stop_when, &c), RB_OK);
  cr_expect_eq(res.ok, 1);
  cr_expect_eq(res.cancelled, 0);
  cr_expect_eq(res.attempts, 2);
  cr_expect_gt(c.asked, 0, "asked before the retry");
  receiver_free(r);
}

Test(send, target_clear_accepts_null_and_zeroes)
{
  struct notify_target t = { .method = NM_WEBHOOK };
  t.url = strdup("http://x/");
  t.secret = strdup("s");
  t.token = strdup("t");
  notify_target_clear(&t);
  cr_assert_null(t.url);
  cr_assert_null(t.secret);
  notify_target_clear(NULL);
}

/* ---- e2e: driven by test/integration/test_notify.py ---- */

static int
env_port(const char *name)
{
  const char *v = getenv(name);
  if (!v || !*v)
    cr_skip_test("%s not set: run through test/integration/test_notify.py", name);
  return atoi(v);
}

static struct notify_settings
e2e_settings(void)
{
  struct notify_settings s = settings();
  s.timeout_s = 5;
  s.retries = 2;
  s.backoff_ms = 100;
  return s;
}

static rb_status
e2e_http(enum notify_method method, const char *path, enum notify_event ev,
         struct notify_result *res, unsigned timeout_s)
{
  int port = env_port("NOTIFY_E2E_HTTP");
  struct notify_settings s = e2e_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = method };
  char url[256];

  if (timeout_s)
    s.timeout_s = timeout_s;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  t.url = url;
  t.routing_key = "R0UTINGKEY0123456789abcdef012345";
  t.secret = getenv("NOTIFY_E2E_SECRET");
  t.to = "+4915112345678";
  t.token = method == NM_PHONE ? "phone-token-xyz" : NULL;
  m.event = ev;
  m.state = ev == NE_ACKNOWLEDGED ? "acked" : ev == NE_RESOLVED ? "resolved" : "open";
  m.at_ms = rb_wall_ms();
  return notify_send(&s, &t, &m, res);
}

Test(e2e, slack)
{
  struct notify_result res;
  cr_assert_eq(e2e_http(NM_SLACK, "/slack/services/T1/B1/SLACKSECRET", NE_TRIGGER, &res, 0), RB_OK,
               "%s", res.detail);
  cr_assert_str_eq(res.detail, "HTTP 200: ok");
}

Test(e2e, pagerduty_lifecycle)
{
  struct notify_result res;
  cr_assert_eq(e2e_http(NM_PAGERDUTY, "/pagerduty/v2/enqueue", NE_TRIGGER, &res, 0), RB_OK, "%s",
               res.detail);
  cr_assert_eq(res.status, 202);
  cr_assert_eq(e2e_http(NM_PAGERDUTY, "/pagerduty/v2/enqueue", NE_ACKNOWLEDGED, &res, 0), RB_OK,
               "%s", res.detail);
  cr_assert_eq(e2e_http(NM_PAGERDUTY, "/pagerduty/v2/enqueue", NE_RESOLVED, &res, 0), RB_OK, "%s",
               res.detail);
}

Test(e2e, webhook_signed)
{
  struct notify_result res;
  cr_assert_eq(e2e_http(NM_WEBHOOK, "/hook", NE_ESCALATED, &res, 0), RB_OK, "%s", res.detail);
}

Test(e2e, webhook_forged_is_refused)
{
  int port = env_port("NOTIFY_E2E_HTTP");
  struct notify_settings s = e2e_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_WEBHOOK, .secret = "not-the-shared-secret" };
  struct notify_result res;
  char url[256];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook-forged", port);
  t.url = url;
  m.at_ms = rb_wall_ms();
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_EINVAL);
  cr_assert_eq(res.status, 401);
  cr_assert_eq(res.attempts, 1);
}

Test(e2e, phone)
{
  struct notify_result res;
  cr_assert_eq(e2e_http(NM_PHONE, "/phone", NE_TRIGGER, &res, 0), RB_OK, "%s", res.detail);
}

Test(e2e, retry_after_then_success)
{
  struct notify_result res;
  int64_t t0 = mono_ms();
  cr_assert_eq(e2e_http(NM_SLACK, "/flaky429", NE_TRIGGER, &res, 0), RB_OK, "%s", res.detail);
  cr_assert_eq(res.attempts, 2);
  cr_assert_geq(mono_ms() - t0, 950);
}

Test(e2e, server_error_then_success)
{
  struct notify_result res;
  cr_assert_eq(e2e_http(NM_SLACK, "/flaky500", NE_TRIGGER, &res, 0), RB_OK, "%s", res.detail);
  cr_assert_eq(res.attempts, 2);
}

Test(e2e, bad_request_is_final)
{
  struct notify_result res;
  cr_assert_eq(e2e_http(NM_SLACK, "/bad400", NE_TRIGGER, &res, 0), RB_EINVAL);
  cr_assert_eq(res.attempts, 1);
  cr_assert_str_eq(res.detail, "HTTP 400: invalid_payload");
}

Test(e2e, slow_receiver)
{
  struct notify_result res;
  int64_t t0 = mono_ms();
  cr_assert_eq(e2e_http(NM_SLACK, "/slow", NE_TRIGGER, &res, 1), RB_EUNAVAIL);
  cr_assert_eq(res.attempts, 3);
  cr_assert_lt(mono_ms() - t0, 6000);
}

Test(e2e, receiver_down)
{
  int port = env_port("NOTIFY_E2E_DOWN");
  struct notify_settings s = e2e_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_SLACK };
  struct notify_result res;
  char url[256];
  int64_t t0 = mono_ms();

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/slack", port);
  t.url = url;
  cr_assert_eq(notify_send(&s, &t, &m, &res), RB_EUNAVAIL);
  cr_assert_eq(res.attempts, 3);
  cr_assert_lt(mono_ms() - t0, 3000);
}

static rb_status
e2e_mail(const char *port_env, const char *to, struct notify_result *res)
{
  int port = env_port(port_env);
  struct notify_settings s = e2e_settings();
  struct notify_message m = message();
  struct notify_target t = { .method = NM_EMAIL };
  char url[256], rcpt[128];

  snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
  snprintf(rcpt, sizeof(rcpt), "%s", to);
  t.to = rcpt;
  s.smtp_url = url;
  s.smtp_from = "runbookd <runbookd@example.net>";
  s.smtp_username = getenv("NOTIFY_E2E_SMTP_USER");
  s.smtp_password = getenv("NOTIFY_E2E_SMTP_PASS");
  s.smtp_ca_file = getenv("NOTIFY_E2E_SMTP_CA");
  s.smtp_require_tls = 1;
  m.title = "[CRITICAL] Störung: HighResponseTime ran-optimization/api-gateway";
  m.at_ms = rb_wall_ms();
  return notify_send(&s, &t, &m, res);
}

Test(e2e, email_starttls)
{
  struct notify_result res;
  cr_assert_eq(e2e_mail("NOTIFY_E2E_SMTP", "oncall@example.org", &res), RB_OK, "%s", res.detail);
  cr_assert_eq(res.status, 250);
  cr_assert_eq(res.attempts, 1);
}

Test(e2e, email_temporary_failure_is_retried)
{
  struct notify_result res;
  cr_assert_eq(e2e_mail("NOTIFY_E2E_SMTP", "tempfail@example.org", &res), RB_OK, "%s", res.detail);
  cr_assert_eq(res.attempts, 2);
}

Test(e2e, email_rejected_recipient_is_final)
{
  struct notify_result res;
  cr_assert_eq(e2e_mail("NOTIFY_E2E_SMTP", "nobody@example.org", &res), RB_EINVAL, "%s",
               res.detail);
  cr_assert_eq(res.status, 550);
  cr_assert_eq(res.attempts, 1);
  cr_assert_null(strstr(res.detail, getenv("NOTIFY_E2E_SMTP_PASS")));
}

Test(e2e, email_without_starttls_is_refused)
{
  struct notify_result res;
  cr_assert_eq(e2e_mail("NOTIFY_E2E_SMTP_PLAIN", "oncall@example.org", &res), RB_EINVAL, "%s",
               res.detail);
  cr_assert_eq(res.attempts, 1);
}
