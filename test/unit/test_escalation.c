/*
 * Unit tests for the escalation policy (policy.c) and the pure decision
 * (escalate.c): a stepped clock walks every level of every severity of the
 * seed's matrix; ack, unack, resolve, urgent (remediation failed), the
 * "system unavailable" upgrade and the multi-component upgrade; progress
 * updates; a silence's hold (esc_hold); and the policy's parsing and every validation error, named
 * "FILE: escalation.FIELD" (docs/escalation.md).
 */
#include "config.h"
#include "escalation.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S 1000LL               /* ms per second */
#define T0 1700000000000LL     /* the clock starts here (never 0: 0 means "unset") */

/* The seed's matrix (docs/escalation.md), written out independently. */
static const struct {
  unsigned respond_s;
  const char *path[3];
  size_t n_path;
  enum notify_method methods[3];
  size_t n_methods;
} SEED[SEV_COUNT] = {
  [SEV_EMERGENCY] = { 900, { "on-call-engineer", "manager", "director" }, 3,
                      { NM_PHONE, NM_SLACK, NM_EMAIL }, 3 },
  [SEV_CRITICAL] = { 3600, { "l2-support", "system-architect", "cto" }, 3,
                     { NM_SLACK, NM_PHONE, NM_EMAIL }, 3 },
  [SEV_HIGH] = { 4 * 3600, { "l2-support", "team-lead" }, 2, { NM_SLACK, NM_EMAIL }, 2 },
  [SEV_MEDIUM] = { 24 * 3600, { "l1-support", "l2-support" }, 2, { NM_EMAIL, NM_SLACK }, 2 },
  [SEV_LOW] = { 72 * 3600, { "l1-support" }, 1, { NM_EMAIL }, 1 },
};

static char dir[64];
static char cfgfile[128];

static void
setup(void)
{
  snprintf(dir, sizeof(dir), "/tmp/rbescXXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(cfgfile, sizeof(cfgfile), "%s/runbookd.json", dir);
}

static void
teardown(void)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
}

static void
write_file(const char *name, const char *text, mode_t mode)
{
  char path[256];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

/* Every contact of the seed's paths, reachable by phone (no secret needed)
 * and email, so every severity of the seed matrix is reachable. */
#define CONTACT(id)                                                                     \
  "\"" id "\":{\"name\":\"" id " person\",\"phone\":{\"url\":\"http://127.0.0.1:9/call\"," \
  "\"to\":\"+15550000\"},\"email\":{\"to\":\"" id "@example.com\"}}"
#define ALL_CONTACTS                                                                     \
  "\"contacts\":{" CONTACT("on-call-engineer") "," CONTACT("manager") "," CONTACT("director") \
  "," CONTACT("l2-support") "," CONTACT("system-architect") "," CONTACT("cto") ","          \
  CONTACT("team-lead") "," CONTACT("l1-support") "}"
#define SMTP "\"notifiers\":{\"smtp\":{\"url\":\"smtp://127.0.0.1:2525\",\"from\":\"rb@example.com\"}}"

static struct esc_policy *
load_ok(const char *json)
{
  struct config_errors errs;
  struct esc_policy *p;
  config_errors_init(&errs);
  p = esc_policy_load(json, cfgfile, &errs);
  if (!p || errs.n)
    cr_assert_fail("policy refused: %s: %s", errs.head ? errs.head->where : "?",
             errs.head ? errs.head->what : "?");
  config_errors_free(&errs);
  return p;
}

/* The seed's matrix with every contact defined; extra is spliced in. */
static struct esc_policy *
seed_policy(const char *extra)
{
  char json[8192];
  snprintf(json, sizeof(json), "{%s%s" ALL_CONTACTS "," SMTP "}", extra ? extra : "",
           extra && *extra ? "," : "");
  return load_ok(json);
}

/* Expects the load to fail with an error at exactly `where` (after the
 * file name) whose message contains `what`. */
static void
expect_error(const char *json, const char *where, const char *what)
{
  struct config_errors errs;
  struct esc_policy *p;
  char want[256];
  int found = 0;

  snprintf(want, sizeof(want), "%s: escalation.%s", cfgfile, where);
  config_errors_init(&errs);
  p = esc_policy_load(json, cfgfile, &errs);
  cr_expect_null(p, "a policy with an error at %s was accepted", where);
  esc_policy_drop(p);
  for (struct config_error *e = errs.head; e; e = e->next)
    if (strcmp(e->where, want) == 0 && (!what || strstr(e->what, what)))
      found = 1;
  if (!found) {
    for (struct config_error *e = errs.head; e; e = e->next)
      cr_log_error("got: %s: %s", e->where, e->what);
    cr_expect(found, "no error \"%s\" containing \"%s\"", want, what ? what : "");
  }
  config_errors_free(&errs);
}

/* Calls esc_due at t and copies the actions. */
static size_t
due(struct esc_state *s, const struct esc_policy *p, int64_t t, struct esc_action *a)
{
  memset(a, 0, sizeof(*a) * ESC_MAX_ACTIONS);
  return esc_due(s, p, t, a);
}

static size_t
count_kind(const struct esc_action *a, size_t n, enum esc_action_kind k)
{
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    c += a[i].kind == k;
  return c;
}

TestSuite(policy, .init = setup, .fini = teardown);
TestSuite(walk, .init = setup, .fini = teardown);

/* ------------------------------------------------------------- policy */

Test(policy, defaults_equal_seed_matrix)
{
  struct config_errors errs;
  struct esc_policy *p;

  config_errors_init(&errs);
  p = esc_policy_load(NULL, cfgfile, &errs);
  cr_assert_not_null(p);
  cr_assert_eq(errs.n, 0);
  cr_expect_eq(p->enabled, 0, "no contacts: paging is off");
  for (int s = 0; s < SEV_COUNT; s++) {
    const struct esc_severity_policy *sp = &p->sev[s];
    cr_expect_eq(sp->respond_s, SEED[s].respond_s, "%s respond", severity_name(s));
    cr_expect_eq(sp->n_path, SEED[s].n_path, "%s path length", severity_name(s));
    for (size_t i = 0; i < SEED[s].n_path && i < sp->n_path; i++)
      cr_expect_str_eq(sp->path[i], SEED[s].path[i], "%s path[%zu]", severity_name(s), i);
    cr_expect_eq(sp->n_methods, SEED[s].n_methods, "%s methods", severity_name(s));
    for (size_t i = 0; i < SEED[s].n_methods && i < sp->n_methods; i++)
      cr_expect_eq(sp->methods[i], SEED[s].methods[i], "%s methods[%zu]", severity_name(s), i);
    cr_expect_eq(sp->repeat_last, 2);
  }
  cr_expect_eq(p->first_page_delay_s, 0);
  cr_expect_eq(p->progress_s, 1800);
  cr_expect_eq(p->unavailable_s, 900);
  cr_expect_not_null(p->unavailable_match);
  cr_expect_eq(p->multi_deployments, 3);
  cr_expect_eq(p->multi_window_s, 600);
  cr_expect_eq(p->notify.timeout_s, 10);
  cr_expect_eq(p->notify.retries, 3);
  cr_expect_eq(p->notify.backoff_ms, 500);
  cr_expect_eq(p->notify.smtp_require_tls, 1);
  esc_policy_drop(p);
  config_errors_free(&errs);

  /* An empty section is the same matrix. */
  p = load_ok("{}");
  for (int s = 0; s < SEV_COUNT; s++)
    cr_expect_eq(p->sev[s].respond_s, SEED[s].respond_s);
  esc_policy_drop(p);

  /* With every contact defined, the matrix is unchanged and paging is on. */
  p = seed_policy(NULL);
  cr_expect_eq(p->enabled, 1);
  cr_expect_eq(p->n_contacts, 8);
  for (int s = 0; s < SEV_COUNT; s++) {
    cr_expect_eq(p->sev[s].respond_s, SEED[s].respond_s);
    cr_expect_eq(p->sev[s].n_path, SEED[s].n_path);
  }
  esc_policy_drop(p);
}

Test(policy, overrides)
{
  struct esc_policy *p;
  const struct esc_contact *c;

  write_file("slack-a", "https://hooks.slack.example/services/T/B/XYZ\n", 0600);
  write_file("hmac-b", "hmac-key-b \n", 0600);
  write_file("pd-b", "routingkey-b", 0600);
  write_file("smtp-pass", "pw\n", 0600);
  p = load_ok("{\"external_url\":\"https://rb.example\",\"first_page_delay_seconds\":30,"
              "\"progress_interval_seconds\":600,"
              "\"unavailable\":{\"after_seconds\":60,\"match\":\"{alertname=\\\"Down\\\"}\"},"
              "\"multi_component\":{\"deployments\":5,\"within_seconds\":120},"
              "\"policy\":{\"critical\":{\"respond_within_seconds\":2,\"path\":[\"a\",\"b\"],"
              "\"methods\":[\"slack\",\"webhook\",\"pagerduty\"],\"repeat_last\":0},"
              "\"high\":{\"respond_within_seconds\":7},"
              "\"emergency\":{\"path\":[\"a\"]},\"medium\":{\"path\":[\"b\"]},"
              "\"low\":{\"path\":[\"b\"],\"methods\":[\"webhook\"]}},"
              "\"contacts\":{\"a\":{\"name\":\"Alice\",\"slack\":{\"url_file\":\"slack-a\"},"
              "\"phone\":{\"url\":\"http://127.0.0.1:9/call\",\"to\":\"+1555\"}},"
              "\"l2-support\":{\"email\":{\"to\":\"l2@example.com\"}},"
              "\"team-lead\":{\"email\":{\"to\":\"tl@example.com\"}},"
              "\"b\":{\"webhook\":{\"url\":\"http://127.0.0.1:9/hook\",\"secret_file\":\"hmac-b\"},"
              "\"pagerduty\":{\"routing_key_file\":\"pd-b\",\"url\":\"http://127.0.0.1:9/pd\"},"
              "\"email\":{\"to\":\"b@example.com\"}}},"
              "\"notifiers\":{\"timeout_seconds\":2,\"retries\":0,\"backoff_ms\":10,"
              "\"smtp\":{\"url\":\"smtp://127.0.0.1:2525\",\"from\":\"rb@example.com\","
              "\"username\":\"rb\",\"password_file\":\"smtp-pass\",\"require_tls\":false}}}");
  cr_expect_eq(p->enabled, 1);
  cr_expect_eq(p->first_page_delay_s, 30);
  cr_expect_eq(p->progress_s, 600);
  cr_expect_eq(p->unavailable_s, 60);
  cr_expect_eq(p->multi_deployments, 5);
  cr_expect_eq(p->multi_window_s, 120);
  cr_expect_str_eq(p->notify.external_url, "https://rb.example");
  cr_expect_eq(p->sev[SEV_CRITICAL].respond_s, 2);
  cr_expect_eq(p->sev[SEV_CRITICAL].n_path, 2);
  cr_expect_str_eq(p->sev[SEV_CRITICAL].path[0], "a");
  cr_expect_str_eq(p->sev[SEV_CRITICAL].path[1], "b");
  cr_expect_eq(p->sev[SEV_CRITICAL].n_methods, 3);
  cr_expect_eq(p->sev[SEV_CRITICAL].methods[0], NM_SLACK);
  cr_expect_eq(p->sev[SEV_CRITICAL].methods[1], NM_WEBHOOK);
  cr_expect_eq(p->sev[SEV_CRITICAL].methods[2], NM_PAGERDUTY);
  cr_expect_eq(p->sev[SEV_CRITICAL].repeat_last, 0);
  /* Partial override: only the field given changes. */
  cr_expect_eq(p->sev[SEV_HIGH].respond_s, 7);
  cr_expect_eq(p->sev[SEV_HIGH].n_path, 2);
  cr_expect_str_eq(p->sev[SEV_HIGH].path[1], "team-lead");
  cr_expect_eq(p->sev[SEV_HIGH].repeat_last, 2);
  cr_expect_eq(p->sev[SEV_EMERGENCY].respond_s, 900);
  cr_expect_eq(p->notify.timeout_s, 2);
  cr_expect_eq(p->notify.retries, 0);
  cr_expect_eq(p->notify.backoff_ms, 10);
  cr_expect_eq(p->notify.smtp_require_tls, 0);
  cr_expect_str_eq(p->notify.smtp_password, "pw", "secret files are trimmed");
  c = esc_contact_find(p, "a");
  cr_assert_not_null(c);
  cr_expect_str_eq(c->name, "Alice");
  cr_expect(c->has[NM_SLACK] && c->has[NM_PHONE] && !c->has[NM_EMAIL]);
  cr_expect_str_eq(c->targets[NM_SLACK].url, "https://hooks.slack.example/services/T/B/XYZ");
  c = esc_contact_find(p, "b");
  cr_assert_not_null(c);
  cr_expect_str_eq(c->name, "b", "the name defaults to the id");
  cr_expect_str_eq(c->targets[NM_WEBHOOK].secret, "hmac-key-b");
  cr_expect_str_eq(c->targets[NM_PAGERDUTY].routing_key, "routingkey-b");
  cr_expect_str_eq(c->targets[NM_PAGERDUTY].url, "http://127.0.0.1:9/pd");
  cr_expect_null(esc_contact_find(p, "nobody"));
  esc_policy_drop(p);
}

Test(policy, unknown_contact_on_a_path)
{
  expect_error("{\"policy\":{\"critical\":{\"path\":[\"l2-support\",\"ghost\"]}}," ALL_CONTACTS
               "," SMTP "}",
               "policy.critical.path[1]", "no contact named \"ghost\"");
  /* A seed path naming a contact that is not configured. */
  expect_error("{\"contacts\":{\"l1-support\":{\"email\":{\"to\":\"l1@example.com\"}}}," SMTP "}",
               "policy.emergency.path[0]", "on-call-engineer");
}

Test(policy, contact_without_the_severitys_methods)
{
  write_file("hmac", "k", 0600);
  /* l1-support has only a webhook; low pages by email only. */
  expect_error("{\"policy\":{\"emergency\":{\"path\":[\"x\"]},\"critical\":{\"path\":[\"x\"]},"
               "\"high\":{\"path\":[\"x\"]},\"medium\":{\"path\":[\"x\"]},"
               "\"low\":{\"path\":[\"l1\"]}},"
               "\"contacts\":{\"x\":{\"phone\":{\"url\":\"http://127.0.0.1:9/c\",\"to\":\"+1\"},"
               "\"email\":{\"to\":\"x@example.com\"}},"
               "\"l1\":{\"webhook\":{\"url\":\"http://127.0.0.1:9/h\",\"secret_file\":\"hmac\"}}},"
               SMTP "}",
               "policy.low.path[0]", "none of this severity's methods");
}

Test(policy, email_without_smtp)
{
  expect_error("{" ALL_CONTACTS "}", "policy.low.path[0]", "notifiers.smtp is not set");
}

Test(policy, bad_method_names)
{
  expect_error("{\"policy\":{\"critical\":{\"methods\":[\"slack\",\"pigeon\"]}}," ALL_CONTACTS
               "," SMTP "}",
               "policy.critical.methods", "unknown method");
  expect_error("{\"policy\":{\"critical\":{\"methods\":[]}}," ALL_CONTACTS "," SMTP "}",
               "policy.critical.methods", NULL);
  expect_error("{\"policy\":{\"critical\":{\"methods\":\"slack\"}}," ALL_CONTACTS "," SMTP "}",
               "policy.critical.methods", NULL);
  /* A contact method that does not exist is an unknown field. */
  expect_error("{\"contacts\":{\"a\":{\"fax\":{\"to\":\"1\"}}}}", "contacts.a.fax",
               "unknown field");
}

Test(policy, unknown_fields)
{
  expect_error("{\"bogus\":1}", "bogus", "unknown field");
  expect_error("{\"policy\":{\"critical\":{\"wait\":1}}}", "policy.critical.wait",
               "unknown field");
  expect_error("{\"policy\":{\"urgent\":{}}}", "policy.urgent", "not a severity");
  expect_error("{\"unavailable\":{\"after\":1}}", "unavailable.after", "unknown field");
  expect_error("{\"multi_component\":{\"n\":1}}", "multi_component.n", "unknown field");
  expect_error("{\"notifiers\":{\"tries\":1}}", "notifiers.tries", "unknown field");
  expect_error("{\"notifiers\":{\"smtp\":{\"url\":\"smtp://h:25\",\"from\":\"a@b\",\"tls\":1}}}",
               "notifiers.smtp.tls", "unknown field");
  expect_error("{\"contacts\":{\"a\":{\"phone\":{\"url\":\"http://h/\",\"to\":\"+1\","
               "\"number\":\"2\"}}}}",
               "contacts.a.phone.number", "unknown field");
  /* Values out of range. */
  expect_error("{\"policy\":{\"critical\":{\"respond_within_seconds\":0}}}",
               "policy.critical.respond_within_seconds", "integer");
  expect_error("{\"policy\":{\"critical\":{\"repeat_last\":-1}}}", "policy.critical.repeat_last",
               "integer");
  expect_error("{\"first_page_delay_seconds\":1.5}", "first_page_delay_seconds", "integer");
  expect_error("{\"policy\":{\"critical\":{\"path\":[]}}}", "policy.critical.path", NULL);
  expect_error("{\"unavailable\":{\"match\":\"{alertname=~\\\"(\\\"}\"}}", "unavailable.match", NULL);
  expect_error("{\"notifiers\":{\"smtp\":{\"url\":\"http://mail:25\",\"from\":\"a@b\"}}}",
               "notifiers.smtp.url", NULL);
  expect_error("{\"contacts\":{\"a\":{\"phone\":{\"url\":\"ftp://h/\",\"to\":\"+1\"}}}}",
               "contacts.a.phone", "http");
  expect_error("{\"contacts\":{\"a\":{\"email\":{\"to\":\"not-an-address\"}}}}",
               "contacts.a.email", "not an email address");
}

Test(policy, unreadable_secret_files)
{
  write_file("empty", "\n  \n", 0600);
  expect_error("{\"contacts\":{\"a\":{\"slack\":{\"url_file\":\"missing\"}}}}",
               "contacts.a.slack.url_file", "cannot read");
  expect_error("{\"contacts\":{\"a\":{\"slack\":{\"url_file\":\"empty\"}}}}",
               "contacts.a.slack.url_file", "is empty");
  expect_error("{\"contacts\":{\"a\":{\"pagerduty\":{\"routing_key_file\":\"missing\"}}}}",
               "contacts.a.pagerduty.routing_key_file", "cannot read");
  expect_error("{\"contacts\":{\"a\":{\"webhook\":{\"url\":\"http://h/\","
               "\"secret_file\":\"/nonexistent/hmac\"}}}}",
               "contacts.a.webhook.secret_file", "cannot read");
  expect_error("{\"contacts\":{\"a\":{\"phone\":{\"url\":\"http://h/\",\"to\":\"+1\","
               "\"secret_file\":\"missing\"}}}}",
               "contacts.a.phone.secret_file", "cannot read");
  expect_error("{\"notifiers\":{\"smtp\":{\"url\":\"smtp://h:25\",\"from\":\"a@b\","
               "\"password_file\":\"missing\"}}}",
               "notifiers.smtp.password_file", "cannot read");
  if (geteuid() != 0) {
    write_file("noperm", "secret", 0000);
    expect_error("{\"contacts\":{\"a\":{\"slack\":{\"url_file\":\"noperm\"}}}}",
                 "contacts.a.slack.url_file", "cannot read");
  }
  /* A method without its secret at all. */
  expect_error("{\"contacts\":{\"a\":{\"slack\":{}}}}", "contacts.a.slack", "url_file");
  expect_error("{\"contacts\":{\"a\":{\"webhook\":{\"url\":\"http://h/\"}}}}", "contacts.a.webhook",
               "secret_file");
}

Test(policy, secrets_are_not_in_error_messages)
{
  struct config_errors errs;
  struct esc_policy *p;
  write_file("slack", "ftp://hooks.example/SECRET-TOKEN-123", 0600);
  config_errors_init(&errs);
  p = esc_policy_load("{\"contacts\":{\"a\":{\"slack\":{\"url_file\":\"slack\"}}}}", cfgfile, &errs);
  cr_expect_null(p);
  cr_expect_gt(errs.n, 0);
  for (struct config_error *e = errs.head; e; e = e->next) {
    cr_expect_null(strstr(e->what, "SECRET-TOKEN"), "secret in: %s", e->what);
    cr_expect_null(strstr(e->where, "SECRET-TOKEN"), "secret in: %s", e->where);
  }
  config_errors_free(&errs);
}

/* ------------------------------------------------------- stepped clock */

/* Every level of every severity of the seed matrix, progress off: the
 * first notice at open, each next level after respond_within, the last
 * level paged again repeat_last times, then exhausted, then nothing. */
Test(walk, every_level_of_every_severity)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");

  for (int sev = 0; sev < SEV_COUNT; sev++) {
    const int64_t R = (int64_t)SEED[sev].respond_s * S;
    const size_t npages = SEED[sev].n_path + 2;
    struct esc_state s;
    struct esc_action a[ESC_MAX_ACTIONS];
    size_t n;

    esc_start(&s, p, 100 + sev, (enum severity)sev, 0, T0);
    cr_expect_eq(s.level, -1);
    cr_expect_eq(s.phase, ESC_ACTIVE);
    cr_expect_eq(esc_next_due(&s), T0, "%s: first notice at open", severity_name(sev));
    cr_expect_eq(due(&s, p, T0 - 1, a), 0);
    for (size_t k = 0; k < npages; k++) {
      int64_t t = T0 + (int64_t)k * R;
      int want_level = k < SEED[sev].n_path ? (int)k : (int)SEED[sev].n_path - 1;
      cr_expect_eq(esc_next_due(&s), t, "%s page %zu due", severity_name(sev), k);
      cr_expect_eq(due(&s, p, t - 1, a), 0, "%s page %zu not early", severity_name(sev), k);
      n = due(&s, p, t, a);
      cr_assert_eq(n, 1, "%s page %zu: %zu actions", severity_name(sev), k, n);
      cr_expect_eq(a[0].kind, EA_PAGE);
      cr_expect_eq(a[0].level, want_level, "%s page %zu level", severity_name(sev), k);
      cr_expect_str_eq(a[0].contact, SEED[sev].path[want_level]);
      cr_expect_not_null(a[0].reason);
      if (k == 0)
        cr_expect_str_eq(a[0].reason, "first notice");
      cr_expect_eq(due(&s, p, t, a), 0, "%s page %zu: once", severity_name(sev), k);
    }
    cr_expect_eq(s.repeats, 2, "%s: the last level paged again repeat_last times",
                 severity_name(sev));
    /* The last repeat has its time too; then exhausted. */
    cr_expect_eq(esc_next_due(&s), T0 + (int64_t)npages * R);
    n = due(&s, p, T0 + (int64_t)npages * R, a);
    cr_assert_eq(n, 1);
    cr_expect_eq(a[0].kind, EA_EXHAUSTED, "%s exhausted", severity_name(sev));
    cr_expect_eq(esc_next_due(&s), 0, "%s: nothing more", severity_name(sev));
    cr_expect_eq(due(&s, p, T0 + 1000 * R, a), 0);
  }
  esc_policy_drop(p);
}

Test(walk, repeat_last_zero_and_one_level)
{
  struct esc_policy *p = seed_policy(
    "\"progress_interval_seconds\":0,\"policy\":{\"low\":{\"repeat_last\":0},"
    "\"critical\":{\"repeat_last\":5,\"respond_within_seconds\":1}}");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];
  size_t pages = 0;

  esc_start(&s, p, 1, SEV_LOW, 0, T0);
  cr_expect_eq(due(&s, p, T0, a), 1);
  cr_expect_eq(a[0].kind, EA_PAGE);
  cr_expect_eq(due(&s, p, T0 + 72 * 3600 * S, a), 1);
  cr_expect_eq(a[0].kind, EA_EXHAUSTED, "one level, no repeats: exhausted after its window");

  esc_start(&s, p, 2, SEV_CRITICAL, 0, T0);
  for (int64_t t = T0; esc_next_due(&s); t = esc_next_due(&s)) {
    size_t n = due(&s, p, t, a);
    pages += count_kind(a, n, EA_PAGE);
    cr_assert_lt(t, T0 + 100 * S);
  }
  cr_expect_eq(pages, 3 + 5);
  esc_policy_drop(p);
}

Test(walk, first_page_delay)
{
  struct esc_policy *p = seed_policy("\"first_page_delay_seconds\":120,\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 1, SEV_CRITICAL, 0, T0);
  cr_expect_eq(esc_next_due(&s), T0 + 120 * S);
  cr_expect_eq(due(&s, p, T0, a), 0, "not at open");
  cr_expect_eq(due(&s, p, T0 + 120 * S - 1, a), 0);
  cr_assert_eq(due(&s, p, T0 + 120 * S, a), 1);
  cr_expect_eq(a[0].kind, EA_PAGE);
  cr_expect_eq(a[0].level, 0);
  cr_expect_eq(esc_next_due(&s), T0 + 120 * S + 3600 * S, "the next level a window later");
  /* A timer that fires late still pages once and times from when it fired. */
  cr_assert_eq(due(&s, p, T0 + (120 + 3600 + 7) * S, a), 1);
  cr_expect_eq(a[0].level, 1);
  cr_expect_eq(esc_next_due(&s), T0 + (120 + 3600 + 7 + 3600) * S);
  esc_policy_drop(p);
}

/* Progress updates every interval to those paged; none before anyone was
 * paged; they go on while acknowledged, without level pages. */
Test(walk, ack_stops_levels_progress_goes_on)
{
  struct esc_policy *p = seed_policy(NULL); /* progress every 1800 s */
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];
  size_t n, progress = 0, pages = 0;

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  cr_expect_eq(a[0].kind, EA_PAGE);
  cr_expect_eq(esc_next_due(&s), T0 + 1800 * S, "progress before the next level (3600)");
  cr_assert_eq(due(&s, p, T0 + 1800 * S, a), 1);
  cr_expect_eq(a[0].kind, EA_PROGRESS);
  cr_expect_eq(esc_next_due(&s), T0 + 3600 * S);
  /* Level and progress due at the same instant: both. */
  n = due(&s, p, T0 + 3600 * S, a);
  cr_expect_eq(n, 2);
  cr_expect_eq(count_kind(a, n, EA_PAGE), 1);
  cr_expect_eq(count_kind(a, n, EA_PROGRESS), 1);
  cr_expect_eq(s.level, 1);

  esc_ack(&s, T0 + 3700 * S);
  cr_expect_eq(s.phase, ESC_ACKED);
  cr_expect_eq(esc_next_due(&s), T0 + 5400 * S, "only the progress update remains");
  for (int64_t t = esc_next_due(&s); t && t < T0 + 24 * 3600 * S; t = esc_next_due(&s)) {
    n = due(&s, p, t, a);
    pages += count_kind(a, n, EA_PAGE) + count_kind(a, n, EA_EXHAUSTED);
    progress += count_kind(a, n, EA_PROGRESS);
    cr_expect_eq((t - T0) % (1800 * S), 0, "progress every 1800 s");
  }
  cr_expect_eq(pages, 0, "no level page while acknowledged");
  cr_expect_eq(progress, (24 * 3600 - 5400) / 1800);
  cr_expect_eq(s.level, 1, "the level is kept");
  esc_policy_drop(p);
}

Test(walk, no_progress_before_anyone_is_paged)
{
  struct esc_policy *p = seed_policy("\"first_page_delay_seconds\":3000,\"progress_interval_seconds\":60");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  cr_expect_eq(esc_next_due(&s), T0 + 60 * S);
  cr_expect_eq(due(&s, p, T0 + 60 * S, a), 0, "nobody to update yet");
  cr_expect_eq(esc_next_due(&s), T0 + 120 * S);
  esc_policy_drop(p);
}

Test(walk, unack_resumes_with_the_full_window)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_HIGH, 0, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  esc_ack(&s, T0 + 100 * S);
  cr_expect_eq(esc_next_due(&s), 0);
  cr_expect_eq(due(&s, p, T0 + 5 * 3600 * S, a), 0, "acked: the next level is not paged");
  esc_unack(&s, p, T0 + 6 * 3600 * S);
  cr_expect_eq(s.phase, ESC_ACTIVE);
  cr_expect_eq(esc_next_due(&s), T0 + 10 * 3600 * S, "the current level gets its 4 h again");
  cr_expect_eq(due(&s, p, T0 + 10 * 3600 * S - 1, a), 0);
  cr_assert_eq(due(&s, p, T0 + 10 * 3600 * S, a), 1);
  cr_expect_eq(a[0].kind, EA_PAGE);
  cr_expect_eq(a[0].level, 1);
  cr_expect_str_eq(a[0].contact, "team-lead");
  /* unack of an active escalation changes nothing */
  esc_unack(&s, p, T0 + 11 * 3600 * S);
  cr_expect_eq(esc_next_due(&s), T0 + 14 * 3600 * S);
  esc_policy_drop(p);
}

Test(walk, unack_before_the_first_page_pages_at_once)
{
  struct esc_policy *p = seed_policy("\"first_page_delay_seconds\":600,\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  esc_ack(&s, T0 + 10 * S);
  cr_expect_eq(due(&s, p, T0 + 600 * S, a), 0, "acked before the first notice");
  esc_unack(&s, p, T0 + 700 * S);
  cr_expect_eq(esc_next_due(&s), T0 + 700 * S);
  cr_assert_eq(due(&s, p, T0 + 700 * S, a), 1);
  cr_expect_eq(a[0].level, 0);
  esc_policy_drop(p);
}

Test(walk, resolve_ends_everything)
{
  struct esc_policy *p = seed_policy("\"unavailable\":{\"after_seconds\":900}");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_CRITICAL, 1, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  esc_resolve(&s);
  cr_expect_eq(s.phase, ESC_DONE);
  cr_expect_eq(esc_next_due(&s), 0);
  for (int64_t t = T0; t < T0 + 7 * 86400 * S; t += 600 * S)
    cr_expect_eq(due(&s, p, t, a), 0);
  esc_ack(&s, T0 + S);
  esc_unack(&s, p, T0 + 2 * S);
  esc_urgent(&s, T0 + 3 * S);
  cr_expect_eq(s.phase, ESC_DONE, "nothing revives a resolved escalation");
  cr_expect_eq(esc_next_due(&s), 0);
  cr_expect_eq(due(&s, p, T0 + 3 * S, a), 0);
  esc_policy_drop(p);
}

Test(walk, urgent_pages_the_current_level_at_once)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  cr_assert_eq(due(&s, p, T0 + 3600 * S, a), 1);
  cr_expect_eq(s.level, 1);
  esc_urgent(&s, T0 + 4000 * S);
  cr_expect_eq(esc_next_due(&s), T0 + 4000 * S, "at once");
  cr_assert_eq(due(&s, p, T0 + 4000 * S, a), 1);
  cr_expect_eq(a[0].kind, EA_PAGE);
  cr_expect_eq(a[0].level, 1, "the current level, not the next");
  cr_expect_str_eq(a[0].contact, "system-architect");
  cr_expect_not_null(strstr(a[0].reason, "remediation"));
  cr_expect_eq(esc_next_due(&s), T0 + (4000 + 3600) * S, "its time to acknowledge starts again");
  cr_assert_eq(due(&s, p, T0 + 7600 * S, a), 1);
  cr_expect_eq(a[0].level, 2);
  esc_policy_drop(p);
}

Test(walk, urgent_before_anyone_is_paged_pages_the_first_level)
{
  struct esc_policy *p = seed_policy("\"first_page_delay_seconds\":600,\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_HIGH, 0, T0);
  esc_urgent(&s, T0 + 5 * S);
  cr_assert_eq(due(&s, p, T0 + 5 * S, a), 1);
  cr_expect_eq(a[0].kind, EA_PAGE);
  cr_expect_eq(a[0].level, 0);
  cr_expect_str_eq(a[0].contact, "l2-support");
  cr_expect_eq(esc_next_due(&s), T0 + 5 * S + 4 * 3600 * S);
  cr_expect_eq(due(&s, p, T0 + 600 * S, a), 0, "the delayed first notice is not sent again");
  esc_policy_drop(p);
}

Test(walk, urgent_when_acked_is_a_progress_update)
{
  struct esc_policy *p = seed_policy(NULL);
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];
  size_t n;

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  esc_ack(&s, T0 + 10 * S);
  esc_urgent(&s, T0 + 20 * S);
  n = due(&s, p, T0 + 20 * S, a);
  cr_expect_eq(n, 1);
  cr_expect_eq(a[0].kind, EA_PROGRESS, "those paged hear of it; nobody is re-paged");
  cr_expect_eq(s.phase, ESC_ACKED);
  esc_policy_drop(p);
}

/* ServiceDown-like: still open after unavailable_s becomes an emergency and
 * the emergency path is paged from its first level. */
Test(walk, unavailable_upgrades_to_emergency)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];
  size_t n;

  esc_start(&s, p, 7, SEV_CRITICAL, 1, T0);
  cr_expect_eq(s.unavailable_due_ms, T0 + 900 * S);
  cr_assert_eq(due(&s, p, T0, a), 1);
  cr_expect_str_eq(a[0].contact, "l2-support");
  cr_expect_eq(esc_next_due(&s), T0 + 900 * S, "the upgrade is the next thing due");
  cr_expect_eq(due(&s, p, T0 + 900 * S - 1, a), 0);
  n = due(&s, p, T0 + 900 * S, a);
  cr_assert_eq(n, 2);
  cr_expect_eq(a[0].kind, EA_UPGRADE);
  cr_expect_eq(a[1].kind, EA_PAGE);
  cr_expect_eq(a[1].level, 0);
  cr_expect_str_eq(a[1].contact, "on-call-engineer", "the emergency path from its first level");
  cr_expect_eq(s.severity, SEV_EMERGENCY);
  cr_expect_eq(s.unavailable_due_ms, 0);
  /* Then the emergency path's own windows (900 s). */
  cr_expect_eq(esc_next_due(&s), T0 + 1800 * S);
  cr_assert_eq(due(&s, p, T0 + 1800 * S, a), 1);
  cr_expect_str_eq(a[0].contact, "manager");
  cr_assert_eq(due(&s, p, T0 + 2700 * S, a), 1);
  cr_expect_str_eq(a[0].contact, "director");
  esc_policy_drop(p);
}

Test(walk, unavailable_not_for_emergencies_nor_other_alerts_nor_resolved)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_EMERGENCY, 1, T0);
  cr_expect_eq(s.unavailable_due_ms, 0, "already an emergency");
  esc_start(&s, p, 8, SEV_HIGH, 0, T0);
  cr_expect_eq(s.unavailable_due_ms, 0, "not an unavailability alert");
  esc_start(&s, p, 9, SEV_HIGH, 1, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  esc_resolve(&s);
  cr_expect_eq(due(&s, p, T0 + 900 * S, a), 0, "resolved in time: no upgrade");
  esc_policy_drop(p);
}

Test(walk, multi_component_upgrade)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  cr_assert_eq(due(&s, p, T0 + 3600 * S, a), 1);
  esc_upgrade(&s, p, T0 + 3700 * S);
  cr_expect_eq(s.severity, SEV_EMERGENCY);
  cr_expect_eq(esc_next_due(&s), T0 + 3700 * S, "paged at once");
  cr_assert_eq(due(&s, p, T0 + 3700 * S, a), 1);
  cr_expect_eq(a[0].level, 0);
  cr_expect_str_eq(a[0].contact, "on-call-engineer");
  cr_expect_eq(esc_next_due(&s), T0 + (3700 + 900) * S);
  cr_expect(esc_paged_has(&s, "on-call-engineer"));
  esc_policy_drop(p);
}

/* The paged set covers every contact paged, for the resolution notice,
 * by id, in the order they were first paged, each once. */
Test(walk, paged_has_everyone_paged_by_id)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];
  const char *c;
  size_t i = 0;

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  cr_expect_null(esc_paged_next(&s, NULL), "nobody paged yet");
  for (int64_t t = T0; esc_next_due(&s); t = esc_next_due(&s))
    due(&s, p, t, a);
  for (c = esc_paged_next(&s, NULL); c; c = esc_paged_next(&s, c), i++) {
    cr_assert_lt(i, 3);
    cr_expect_str_eq(c, SEED[SEV_CRITICAL].path[i]);
  }
  cr_expect_eq(i, 3, "three contacts, the last one paged again counted once");
  cr_expect(esc_paged_has(&s, "cto"));
  cr_expect_not(esc_paged_has(&s, "l1-support"));
  esc_policy_drop(p);
}

/* The list is bounded: a contact that does not fit is refused, the others
 * stay. */
Test(walk, paged_list_is_bounded)
{
  struct esc_state s;
  char id[200];
  int added = 0;

  memset(&s, 0, sizeof(s));
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "%0150d", i);
    added += esc_paged_add(&s, id) == 0;
  }
  cr_expect_eq(added, ESC_PAGED_BYTES / 151);
  cr_expect_leq(s.paged_len, sizeof(s.paged));
  cr_expect_eq(esc_paged_add(&s, "short"), 0, "a short id still fits");
  cr_expect(esc_paged_has(&s, "short"));
}

/* A row from before ids were kept: its bits, read against the current
 * contacts, once. */
Test(walk, paged_from_a_legacy_mask)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;

  memset(&s, 0, sizeof(s));
  s.legacy_mask = 1u << 1 | 1u << 3;
  esc_paged_from_mask(&s, p);
  cr_expect_eq(s.legacy_mask, 0);
  cr_expect_str_eq(esc_paged_next(&s, NULL), p->contacts[1].id);
  cr_expect_str_eq(esc_paged_next(&s, esc_paged_next(&s, NULL)), p->contacts[3].id);
  esc_policy_drop(p);
}

/* A silence holds every due time until a moment; later and unset ones
 * stay; once past it, the decision is the one that was due. */
Test(walk, hold_moves_only_earlier_due_times)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":1800,"
                                     "\"unavailable\":{\"after_seconds\":900}");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_CRITICAL, 1, T0);
  esc_hold(&s, T0 + 60 * S);
  cr_expect_eq(s.level_due_ms, T0 + 60 * S, "the first notice waits");
  cr_expect_eq(s.progress_due_ms, T0 + 1800 * S, "a later due time stays");
  cr_expect_eq(s.unavailable_due_ms, T0 + 900 * S);
  cr_expect_eq(esc_next_due(&s), T0 + 60 * S);
  cr_expect_eq(due(&s, p, T0 + 59 * S, a), 0);
  esc_hold(&s, T0 + 1000 * S);
  cr_expect_eq(s.level_due_ms, T0 + 1000 * S);
  cr_expect_eq(s.unavailable_due_ms, T0 + 1000 * S);
  cr_expect_eq(s.progress_due_ms, T0 + 1800 * S);
  cr_expect_eq(due(&s, p, T0 + 999 * S, a), 0, "nothing before the hold ends");
  cr_assert_eq(due(&s, p, T0 + 1000 * S, a), 2, "then the upgrade and its first page");
  cr_expect_eq(a[0].kind, EA_UPGRADE);
  cr_expect_eq(a[1].kind, EA_PAGE);
  esc_ack(&s, T0 + 1001 * S);
  esc_hold(&s, T0 + 2000 * S);
  cr_expect_eq(s.level_due_ms, 0, "an unset due time stays unset");
  cr_expect_eq(s.unavailable_due_ms, 0);
  esc_policy_drop(p);
}

/* A "page at once" held back (by a silence) and then acknowledged is
 * answered: unack resumes with the usual window, no remediation page. */
Test(walk, ack_answers_a_held_urgent_page)
{
  struct esc_policy *p = seed_policy("\"progress_interval_seconds\":0");
  struct esc_state s;
  struct esc_action a[ESC_MAX_ACTIONS];

  esc_start(&s, p, 7, SEV_CRITICAL, 0, T0);
  cr_assert_eq(due(&s, p, T0, a), 1);
  esc_urgent(&s, T0 + 10 * S);
  esc_hold(&s, T0 + 60 * S);
  esc_ack(&s, T0 + 20 * S);
  cr_expect_eq(s.urgent, 0);
  esc_unack(&s, p, T0 + 30 * S);
  cr_expect_eq(due(&s, p, T0 + 60 * S, a), 0, "no remediation page after the ack");
  cr_assert_eq(due(&s, p, T0 + 3630 * S, a), 1);
  cr_expect_eq(a[0].level, 1, "the next level after the full window");
  esc_policy_drop(p);
}
