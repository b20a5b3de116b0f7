/* Unit tests for config.c: defaults, file, flags, validation messages. */
#include "config.h"
#include "escalation.h"

#include <criterion/criterion.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void
setup(void)
{
  snprintf(dir, sizeof(dir), "/tmp/rbcfgXXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
}

static void
write_file(const char *name, const char *text)
{
  char path[256];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static struct rb_config *
load(struct config_errors *e, int argc, char **argv)
{
  config_errors_init(e);
  return config_load(argc, argv, e);
}

static int
has_error(const struct config_errors *e, const char *where, const char *what)
{
  for (const struct config_error *ce = e->head; ce; ce = ce->next)
    if (strstr(ce->where, where) && strstr(ce->what, what))
      return 1;
  return 0;
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults_follow_the_contract)
{
  struct config_errors e;
  struct rb_config *c = load(&e, 0, NULL);
  cr_assert_not_null(c);
  cr_assert_str_eq(c->listen_address, "127.0.0.1:9095");
  cr_assert_str_eq(c->storage_path, "./data");
  cr_assert_str_eq(c->remediation_dir, "./remediation");
  cr_assert_eq(c->dry_run, -1);
  cr_assert_null(c->bearer_token);
  config_drop(c);
}

Test(config, file_then_flags)
{
  struct config_errors e;
  char cfgpath[128], flag[160];
  char *argv[4];
  struct rb_config *c;

  write_file("token", "  s3cret-token\n");
  write_file("pw", "hunter2\n");
  write_file("c.json",
             "{\"web\":{\"listen_address\":\"127.0.0.1:9999\",\"max_body_bytes\":4096,"
             "\"auth\":{\"bearer_token_file\":\"token\",\"basic_auth\":{\"username\":"
             "\"alertmanager\",\"password_file\":\"pw\"}}},"
             "\"severity\":{\"default\":\"low\",\"map\":{\"sev1\":\"emergency\"}},"
             "\"log\":{\"level\":\"debug\",\"format\":\"json\"}}");
  snprintf(cfgpath, sizeof(cfgpath), "--config.file=%s/c.json", dir);
  snprintf(flag, sizeof(flag), "--web.listen-address=127.0.0.1:8888");
  argv[0] = cfgpath;
  argv[1] = flag;
  argv[2] = "--dry-run";
  c = load(&e, 3, argv);
  cr_assert_not_null(c, "%s: %s", e.head ? e.head->where : "", e.head ? e.head->what : "");
  cr_assert_str_eq(c->listen_address, "127.0.0.1:8888"); /* flag wins */
  cr_assert_eq(c->max_body_bytes, 4096);
  cr_assert_str_eq(c->bearer_token, "s3cret-token");     /* trimmed, relative to file */
  cr_assert_str_eq(c->basic_password, "hunter2");
  cr_assert_eq(c->dry_run, 1);
  cr_assert_eq(c->log_json, 1);
  cr_assert_eq(severity_normalise(&c->severity, NULL), SEV_LOW);
  cr_assert_eq(severity_normalise(&c->severity, "sev1"), SEV_EMERGENCY);
  config_drop(c);
}

Test(config, names_every_problem_with_file_and_field)
{
  struct config_errors e;
  char cfgpath[128], where[160];
  char *argv[2];
  struct rb_config *c;

  write_file("bad.json",
             "{\"web\":{\"max_body_bytes\":\"big\",\"threads\":0,\"lisen_address\":\"x\","
             "\"max_connections\":1e300},"
             "\"storage\":{\"path\":5},\"severity\":{\"map\":{\"p1\":\"urgent\"}},"
             "\"log\":{\"format\":\"xml\"}}");
  snprintf(cfgpath, sizeof(cfgpath), "--config.file=%s/bad.json", dir);
  argv[0] = cfgpath;
  argv[1] = "--web.bogus=1";
  c = load(&e, 2, argv);
  cr_assert_null(c);
  snprintf(where, sizeof(where), "%s/bad.json: ", dir);
  cr_assert(has_error(&e, "bad.json: web.max_body_bytes", "must be an integer"));
  cr_assert(has_error(&e, "bad.json: web.max_connections", "must be an integer"));
  cr_assert(has_error(&e, "bad.json: web.threads", "unknown field"));
  cr_assert(has_error(&e, "bad.json: web.lisen_address", "unknown field"));
  cr_assert(has_error(&e, "bad.json: storage.path", "must be a string"));
  cr_assert(has_error(&e, "bad.json: severity.map.p1", "must be one of"));
  cr_assert(has_error(&e, "bad.json: log.format", "logfmt or json"));
  cr_assert(has_error(&e, "--web.bogus", "unknown flag"));
  cr_assert_eq(e.n, 8);
  config_errors_free(&e);
}

Test(config, refuses_remote_listener_without_auth)
{
  struct config_errors e;
  char *argv[] = { "--web.listen-address=0.0.0.0:9095", "--web.insecure-no-auth" };
  struct rb_config *c = load(&e, 1, argv);

  cr_assert_null(c);
  /* Set by a flag, with no file: the flag is named. */
  cr_assert(has_error(&e, "--web.listen-address", "not a loopback address"));
  config_errors_free(&e);
  c = load(&e, 2, argv);
  cr_assert_not_null(c);
  config_drop(c);
}

/* Only a loopback address written as one counts: a name that merely
 * starts with "127." could resolve anywhere. */
Test(config, loopback_is_an_address_not_a_prefix)
{
  static const char *const local[] = { "127.0.0.1:9095", "127.1.2.3:1", "localhost:9095",
                                       "[::1]:9095", "[::ffff:127.0.0.1]:9095" };
  static const char *const remote[] = { "127.0.0.1.nip.io:9095",
                                        "127.example.com:9095",
                                        "[::ffff:10.0.0.1]:9095",
                                        "10.0.0.1:9095",
                                        "[::]:9095",
                                        ":9095" };
  struct config_errors e;
  char flag[128];
  char *argv[] = { flag };

  for (size_t i = 0; i < sizeof(local) / sizeof(*local); i++) {
    struct rb_config *c;
    snprintf(flag, sizeof(flag), "--web.listen-address=%s", local[i]);
    c = load(&e, 1, argv);
    cr_assert_not_null(c, "%s is loopback", local[i]);
    config_drop(c);
  }
  for (size_t i = 0; i < sizeof(remote) / sizeof(*remote); i++) {
    snprintf(flag, sizeof(flag), "--web.listen-address=%s", remote[i]);
    cr_assert_null(load(&e, 1, argv), "%s is not loopback", remote[i]);
    cr_assert(has_error(&e, "--web.listen-address", "not a loopback address"), "%s", remote[i]);
    config_errors_free(&e);
  }
}

Test(config, bodies_in_flight_hold_at_least_one_body)
{
  struct config_errors e;
  char *argv[] = { "--web.max-body-bytes=8192", "--web.max-body-bytes-in-flight=4096" };
  struct rb_config *c = load(&e, 2, argv);

  cr_assert_null(c);
  cr_assert(has_error(&e, "--web.max-body-bytes-in-flight", "at least web.max_body_bytes (8192)"));
  config_errors_free(&e);
  argv[1] = "--web.max-body-bytes-in-flight=8192";
  c = load(&e, 2, argv);
  cr_assert_not_null(c);
  cr_assert_eq(c->max_body_bytes_in_flight, 8192);
  config_drop(c);
}

Test(config, unreadable_and_empty_secrets)
{
  struct config_errors e;
  char a[160], b[160];
  char *argv[3];
  struct rb_config *c;

  write_file("empty", "\n");
  snprintf(a, sizeof(a), "--web.auth.bearer-token-file=%s/nope", dir);
  snprintf(b, sizeof(b), "--web.auth.basic-password-file=%s/empty", dir);
  argv[0] = a;
  argv[1] = b;
  argv[2] = "--web.auth.basic-username=am";
  c = load(&e, 3, argv);
  cr_assert_null(c);
  cr_assert(has_error(&e, "--web.auth.bearer-token-file", "cannot read"));
  cr_assert(has_error(&e, "--web.auth.basic-password-file", "is empty"));
  config_errors_free(&e);
}

Test(config, restart_needed_fields)
{
  struct config_errors e;
  char *a1[] = { "--web.listen-address=127.0.0.1:1" };
  char *a2[] = { "--web.listen-address=127.0.0.1:2" };
  struct rb_config *x = load(&e, 1, a1), *y = load(&e, 1, a2), *z = load(&e, 1, a1);

  cr_assert_str_eq(config_restart_needed(x, y), "web.listen_address");
  cr_assert_null(config_restart_needed(x, z));
  config_drop(x);
  config_drop(y);
  config_drop(z);
}

/* Loads dir/NAME as the config file plus extra flags; errors in e. */
static struct rb_config *
load_file_flags(struct config_errors *e, const char *name, int n, char **extra, int partial)
{
  static char cfgpath[256];
  char *argv[16];

  cr_assert(n < 15);
  snprintf(cfgpath, sizeof(cfgpath), "--config.file=%s/%s", dir, name);
  argv[0] = cfgpath;
  for (int i = 0; i < n; i++)
    argv[i + 1] = extra[i];
  config_errors_init(e);
  return partial ? config_load_partial(n + 1, argv, e) : config_load(n + 1, argv, e);
}

Test(config, dotted_keys_are_unknown_fields)
{
  struct config_errors e;

  write_file("c.json", "{\"storage.path\":\"/x\",\"web\":{\"auth.bearer_token_file\":\"t\"}}");
  cr_assert_null(load_file_flags(&e, "c.json", 0, NULL, 0));
  cr_assert(has_error(&e, "c.json: \"storage.path\"", "unknown field"));
  cr_assert(has_error(&e, "c.json: \"storage.path\"", "{\"storage\": {\"path\": ...}}"));
  cr_assert(has_error(&e, "c.json: web.\"auth.bearer_token_file\"",
                      "{\"auth\": {\"bearer_token_file\": ...}}"));
  cr_assert_eq(e.n, 2);
  config_errors_free(&e);
  /* A dotted section name would have passed as a known section. */
  write_file("c.json", "{\"web.auth\":{}}");
  cr_assert_null(load_file_flags(&e, "c.json", 0, NULL, 0));
  cr_assert(has_error(&e, "\"web.auth\"", "unknown field"));
  config_errors_free(&e);
}

Test(config, duplicate_keys_are_named)
{
  struct config_errors e;

  write_file("c.json",
             "{\"log\":{\"level\":\"debug\",\"level\":\"bogus\",\"level\":\"info\"},"
             "\"web\":{\"max_connections\":5},\"web\":{},"
             "\"escalation\":{\"contacts\":{\"a\":{\"email\":{\"to\":\"a@b\",\"to\":\"c@d\"}}}}}");
  cr_assert_null(load_file_flags(&e, "c.json", 0, NULL, 0));
  cr_assert(has_error(&e, "c.json: log.level", "duplicate key (given 3 times"));
  cr_assert(has_error(&e, "c.json: web", "duplicate key (given 2 times"));
  cr_assert(has_error(&e, "c.json: escalation.contacts.a.email.to", "duplicate key"));
  cr_assert_eq(e.n, 3, "%zu: %s %s", e.n, e.head->where, e.head->what);
  config_errors_free(&e);
}

Test(config, a_section_must_be_an_object)
{
  struct config_errors e;

  write_file("c.json", "{\"web\":5,\"severity\":{\"map\":[\"x\"]},\"log\":{\"level\":{}}}");
  cr_assert_null(load_file_flags(&e, "c.json", 0, NULL, 0));
  cr_assert(has_error(&e, "c.json: web", "must be an object"));
  cr_assert(has_error(&e, "c.json: severity.map", "must be an object"));
  /* A leaf given an object is a wrong type, not an unknown field. */
  cr_assert(has_error(&e, "c.json: log.level", "must be a string"));
  cr_assert_eq(e.n, 3);
  config_errors_free(&e);
}

Test(config, flags_cannot_be_repeated)
{
  struct config_errors e;
  char *a1[] = { "--web.listen-address=127.0.0.1:1", "--web.listen-address", "127.0.0.1:2" };
  char *a2[] = { "--dry-run", "--no-dry-run" };
  char *a3[] = { "--config.file=/a.json", "--config.file=/b.json" };

  cr_assert_null(load(&e, 3, a1));
  cr_assert(has_error(&e, "--web.listen-address", "cannot be repeated"));
  cr_assert_eq(e.n, 1);
  config_errors_free(&e);
  cr_assert_null(load(&e, 2, a2));
  cr_assert(has_error(&e, "--no-dry-run",
                      "cannot be repeated (--dry-run and --no-dry-run are one flag)"));
  cr_assert_eq(e.n, 1);
  config_errors_free(&e);
  cr_assert_null(load(&e, 2, a3));
  cr_assert(has_error(&e, "--config.file", "cannot be repeated"));
  config_errors_free(&e);
}

Test(config, no_flag_takes_no_value)
{
  struct config_errors e;
  char *a1[] = { "--no-dry-run=true" };
  char *a2[] = { "--no-dry-run" };
  char *a3[] = { "--no-web.max-connections" };
  struct rb_config *c;

  cr_assert_null(load(&e, 1, a1));
  cr_assert(has_error(&e, "--no-dry-run", "takes no value"));
  config_errors_free(&e);
  c = load(&e, 1, a2);
  cr_assert_not_null(c);
  cr_assert_eq(c->dry_run, 0);
  config_drop(c);
  cr_assert_null(load(&e, 1, a3)); /* --no- of a flag that is not a boolean */
  cr_assert(has_error(&e, "--no-web.max-connections", "unknown flag"));
  config_errors_free(&e);
}

Test(config, an_unknown_flag_keeps_its_value)
{
  struct config_errors e;
  char *argv[] = { "--bogus", "value", "--also-bogus=1" };

  cr_assert_null(load(&e, 3, argv));
  cr_assert(has_error(&e, "--bogus", "unknown flag"));
  cr_assert(has_error(&e, "--also-bogus", "unknown flag"));
  cr_assert_eq(e.n, 2, "no second error about \"value\"");
  config_errors_free(&e);
}

Test(config, flag_kinds)
{
  cr_assert_eq(config_flag_kind("dry-run"), CONFIG_FLAG_BOOL);
  cr_assert_eq(config_flag_kind("no-dry-run"), CONFIG_FLAG_BOOL);
  cr_assert_eq(config_flag_kind("web.insecure-no-auth=true"), CONFIG_FLAG_BOOL);
  cr_assert_eq(config_flag_kind("config.file"), CONFIG_FLAG_VALUE);
  cr_assert_eq(config_flag_kind("storage.path=/x"), CONFIG_FLAG_VALUE);
  cr_assert_eq(config_flag_kind("no-storage.path"), CONFIG_FLAG_UNKNOWN);
  cr_assert_eq(config_flag_kind("bogus"), CONFIG_FLAG_UNKNOWN);
}

/* A problem is named where its value came from: a flag by its flag, the
 * file by file and JSON path, even with both in use. */
Test(config, problems_name_their_source)
{
  struct config_errors e;
  char *flags[] = { "--web.listen-address=10.0.0.1:9095", "--web.max-body-bytes=4096" };
  struct rb_config *c;

  write_file("c.json", "{\"web\":{\"max_body_bytes_in_flight\":2048},"
                       "\"remediation\":{\"postgres_conninfo_file\":\"missing\"},"
                       "\"log\":{\"level\":\"debug\"}}");
  c = load_file_flags(&e, "c.json", 2, flags, 1);
  cr_assert_not_null(c);
  cr_assert(has_error(&e, "--web.listen-address", "not a loopback address"));
  cr_assert(!has_error(&e, "c.json: web.listen_address", ""));
  cr_assert(has_error(&e, "c.json: web.max_body_bytes_in_flight", "at least web.max_body_bytes"));
  cr_assert(has_error(&e, "c.json: remediation.postgres_conninfo_file", "cannot read"));
  cr_assert_eq(config_source(c, "web.listen_address"), CONFIG_SRC_FLAG);
  cr_assert_eq(config_source(c, "web.max_body_bytes_in_flight"), CONFIG_SRC_FILE);
  cr_assert_eq(config_source(c, "log.level"), CONFIG_SRC_FILE);
  cr_assert_eq(config_source(c, "storage.path"), CONFIG_SRC_DEFAULT);
  cr_assert_eq(config_source(c, "no.such"), -1);
  config_drop(c);
  config_errors_free(&e);
}

/* check-config goes on after problems: the partial configuration keeps
 * what was valid (remediation.dir, the escalation section). */
Test(config, partial_load_keeps_what_it_can)
{
  struct config_errors e;
  struct rb_config *c;
  char plans[160], *none[1];

  snprintf(plans, sizeof(plans), "%s/plans", dir);
  cr_assert_eq(mkdir(plans, 0700), 0);
  {
    char text[512];
    snprintf(text, sizeof(text),
             "{\"web\":{\"max_body_bytes\":\"big\"},\"remediation\":{\"dir\":\"%s\"},"
             "\"escalation\":{\"contacts\":{}}}",
             plans);
    write_file("c.json", text);
  }
  c = load_file_flags(&e, "c.json", 0, none, 1);
  cr_assert_not_null(c);
  cr_assert_eq(e.n, 1);
  cr_assert_eq(c->file_unusable, 0);
  cr_assert_str_eq(c->remediation_dir, plans);
  cr_assert_not_null(c->escalation_json);
  cr_assert_eq(config_source(c, "web.max_body_bytes"), CONFIG_SRC_INVALID);
  config_drop(c);
  config_errors_free(&e);
  write_file("c.json", "{,}");
  c = load_file_flags(&e, "c.json", 0, none, 1);
  cr_assert_not_null(c);
  cr_assert_eq(c->file_unusable, 1);
  config_drop(c);
  config_errors_free(&e);
}

Test(config, an_explicit_remediation_dir_must_exist)
{
  struct config_errors e;
  char flag[200];
  char *argv[] = { flag };
  struct rb_config *c;

  snprintf(flag, sizeof(flag), "--remediation.dir=%s/nope", dir);
  cr_assert_null(load(&e, 1, argv));
  cr_assert(has_error(&e, "--remediation.dir", "No such file or directory"));
  config_errors_free(&e);
  snprintf(flag, sizeof(flag), "--remediation.dir=");
  cr_assert_null(load(&e, 1, argv));
  cr_assert(has_error(&e, "--remediation.dir", "must not be empty"));
  config_errors_free(&e);
  snprintf(flag, sizeof(flag), "--remediation.dir=%s", dir);
  c = load(&e, 1, argv);
  cr_assert_not_null(c);
  config_drop(c);
  /* The default (./remediation) may be missing: no plans, no error. */
  c = load(&e, 0, NULL);
  cr_assert_not_null(c);
  config_drop(c);
}

Test(config, kube_files_must_be_usable)
{
  struct config_errors e;
  char tok[200], ca[200];
  char *argv[] = { tok, ca };

  write_file("c.json", "{\"kube\":{\"token_file\":\"tok\",\"ca_file\":\"ca.pem\"}}");
  write_file("ca.pem", "not a certificate\n");
  cr_assert_null(load_file_flags(&e, "c.json", 0, NULL, 0));
  /* Relative to the config file's folder, like the other files. */
  cr_assert(has_error(&e, "c.json: kube.token_file", "/tok: No such file"));
  cr_assert(has_error(&e, "c.json: kube.ca_file", "holds no PEM certificate"));
  config_errors_free(&e);
  snprintf(tok, sizeof(tok), "--kube.token-file=%s/none", dir);
  snprintf(ca, sizeof(ca), "--kube.ca-file=%s", dir);
  cr_assert_null(load(&e, 2, argv));
  cr_assert(has_error(&e, "--kube.token-file", "No such file"));
  cr_assert(has_error(&e, "--kube.ca-file", "is a directory"));
  config_errors_free(&e);
}

Test(config, tls_files_must_be_pem)
{
  struct config_errors e;
  char cert[200], key[200];
  char *argv[] = { cert, key };

  write_file("cert.pem", "hostname\n");
  snprintf(cert, sizeof(cert), "--web.tls-cert-file=%s/cert.pem", dir);
  snprintf(key, sizeof(key), "--web.tls-key-file=%s", dir);
  cr_assert_null(load(&e, 2, argv));
  cr_assert(has_error(&e, "--web.tls-cert-file", "not a PEM certificate"));
  cr_assert(has_error(&e, "--web.tls-key-file", "is a directory"));
  config_errors_free(&e);
}

Test(config, notifier_ca_files_resolve_against_the_config)
{
  struct config_errors e;
  char file[200];
  struct esc_policy *p;

  snprintf(file, sizeof(file), "%s/c.json", dir);
  write_file("ca.pem", "nope\n");
  config_errors_init(&e);
  p = esc_policy_load("{\"notifiers\":{\"ca_file\":\"ca.pem\",\"smtp\":{\"url\":\"smtp://x:25\","
                      "\"from\":\"a@b\",\"ca_file\":\"missing.pem\"}}}",
                      file, &e);
  cr_assert_null(p);
  cr_assert(has_error(&e, "c.json: escalation.notifiers.ca_file", "/ca.pem holds no PEM"));
  cr_assert(
      has_error(&e, "c.json: escalation.notifiers.smtp.ca_file", "/missing.pem: No such file"));
  config_errors_free(&e);
}

Test(config, storage_max_bytes_documented_maximum)
{
  struct config_errors e;
  struct rb_config *c;

  write_file("c.json", "{\"storage\":{\"max_bytes\":9007199254740991}}");
  c = load_file_flags(&e, "c.json", 0, NULL, 0);
  cr_assert_not_null(c);
  cr_assert_eq(c->storage_max_bytes, 9007199254740991LL);
  config_drop(c);
  write_file("c.json", "{\"storage\":{\"max_bytes\":9007199254740993}}");
  cr_assert_null(load_file_flags(&e, "c.json", 0, NULL, 0));
  cr_assert(has_error(&e, "c.json: storage.max_bytes", "out of range (0 to 9007199254740991)"));
  config_errors_free(&e);
}

/* Every restart-only field that changed is named; fields applied on reload
 * (dry_run, max_body_bytes_in_flight, rate limits) are not. */
Test(config, restart_needed_lists_every_field)
{
  struct config_errors e;
  char *a[] = { "--web.listen-address=127.0.0.1:1" };
  char *b[] = { "--web.listen-address=127.0.0.1:2",
                "--web.max-header-bytes=4096",
                "--web.connection-timeout=5",
                "--kube.api-url=https://k:6443",
                "--kube.timeout=3",
                "--kube.retries=1",
                "--remediation.workers=3",
                "--remediation.max-concurrent-runs=2",
                "--remediation.queue-size=10",
                "--storage.max-bytes=1000000",
                "--dry-run",
                "--web.max-body-bytes-in-flight=536870912",
                "--remediation.max-actions-per-minute=1" };
  struct rb_config *x = load(&e, 1, a), *y = load(&e, RB_ARRAY_LEN(b), b);
  const char *r;

  cr_assert_not_null(x);
  cr_assert_not_null(y, "%s: %s", e.head ? e.head->where : "", e.head ? e.head->what : "");
  r = config_restart_needed(x, y);
  cr_assert_not_null(r);
  cr_assert_str_eq(r, "web.listen_address, web.connection_timeout_seconds, web.max_header_bytes, "
                      "storage.max_bytes, remediation.workers, "
                      "remediation.max_concurrent_runs, remediation.queue_size, kube.api_url, "
                      "kube.timeout_seconds, kube.retries");
  config_drop(x);
  config_drop(y);
}

/* ---- log.c: lines stay valid whatever is logged ---------------------- */

#include "log.h"

#include <fcntl.h>

static char *
log_capture(int json, const char *key, const char *value)
{
  char path[128];
  static char out[256 * 1024];
  int fd;
  ssize_t n;

  snprintf(path, sizeof(path), "%s/log", dir);
  fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  cr_assert(fd >= 0);
  log_setup(LOG_INFO, json);
  log_set_fd(fd);
  rblog(LOG_INFO, "test", key, value, "after", "x", NULL);
  log_set_fd(2);
  log_setup(LOG_INFO, 0);
  n = pread(fd, out, sizeof(out) - 1, 0);
  close(fd);
  cr_assert(n > 0);
  out[n] = '\0';
  return out;
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, a_long_value_is_cut_and_the_line_closed)
{
  size_t big = 100 * 1024;
  char *v = malloc(big + 1), *line;

  cr_assert_not_null(v);
  memset(v, 'a', big);
  v[big] = '\0';
  v[10] = '"'; /* escaped, still counted */
  line = log_capture(1, "detail", v);
  cr_assert(strlen(line) < 9000, "%zu", strlen(line));
  cr_assert(strstr(line, "\xe2\x80\xa6(truncated)\",\"after\":\"x\"}\n"), "%s",
            line + strlen(line) - 80);
  line = log_capture(0, "detail", v);
  cr_assert(strlen(line) < 9000);
  cr_assert(strstr(line, "\xe2\x80\xa6(truncated)\" after=x\n"));
  v[10] = 'a';
  line = log_capture(0, "detail", v); /* bare logfmt value, cut too */
  cr_assert(strstr(line, " detail=aaaa"));
  cr_assert(strstr(line, "a\xe2\x80\xa6(truncated) after=x\n"));
  free(v);
}

Test(log, logfmt_quotes_del_and_bytes_that_are_not_utf8)
{
  char *line = log_capture(0, "k", "a\177b");
  cr_assert(strstr(line, " k=\"a\\u007fb\" after=x\n"), "%s", line);
  line = log_capture(0, "k", "caf\xe9");
  cr_assert(strstr(line, " k=\"caf\\ufffd\" after=x\n"), "%s", line);
  line = log_capture(0, "k", "caf\xc3\xa9"); /* valid UTF-8 stays bare */
  cr_assert(strstr(line, " k=caf\xc3\xa9 after=x\n"), "%s", line);
  line = log_capture(1, "k", "a\x7f\xff");
  cr_assert(strstr(line, "\"k\":\"a\\u007f\\ufffd\""), "%s", line);
}
