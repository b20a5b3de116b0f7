/* Unit tests for config.c: defaults, file, flags, validation messages. */
#include "config.h"

#include <criterion/criterion.h>
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
  cr_assert(has_error(&e, "web.listen_address", "not a loopback address"));
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
    cr_assert(has_error(&e, "web.listen_address", "not a loopback address"), "%s", remote[i]);
    config_errors_free(&e);
  }
}

Test(config, bodies_in_flight_hold_at_least_one_body)
{
  struct config_errors e;
  char *argv[] = { "--web.max-body-bytes=8192", "--web.max-body-bytes-in-flight=4096" };
  struct rb_config *c = load(&e, 2, argv);

  cr_assert_null(c);
  cr_assert(has_error(&e, "web.max_body_bytes_in_flight", "at least web.max_body_bytes (8192)"));
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
  cr_assert(has_error(&e, "web.auth.bearer_token_file", "cannot read"));
  cr_assert(has_error(&e, "web.auth.basic_auth.password_file", "is empty"));
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
