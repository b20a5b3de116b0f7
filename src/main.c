/*
 * main.c - runbookd's command line: the daemon and its subcommands
 * (check-config, replay, report, version, --help).
 */
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "escalation.h"
#include "plan.h"
#include "replay.h"
#include "version.h"

#include <stdio.h>
#include <string.h>

static int
print_errors(const struct config_errors *errs)
{
  for (const struct config_error *e = errs->head; e; e = e->next)
    fprintf(stderr, "%s: %s\n", e->where, e->what);
  fprintf(stderr, "%zu problem%s found\n", errs->n, errs->n == 1 ? "" : "s");
  return 1;
}

/* Splits argv into flags (to the config) and positional arguments. */
static int
split_args(int argc, char **argv, char **flags, int *nflags, char **pos, int *npos)
{
  *nflags = *npos = 0;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "--", 2) == 0) {
      flags[(*nflags)++] = argv[i];
      /* "--flag value" form: keep the value with its flag. */
      if (!strchr(argv[i], '=') && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0
          && !config_flag_is_bool(argv[i] + 2))
        flags[(*nflags)++] = argv[++i];
    } else {
      pos[(*npos)++] = argv[i];
    }
  }
  return 0;
}

int
main(int argc, char **argv)
{
  struct config_errors errs;
  struct rb_config *cfg;
  struct plan_set *plans;
  struct esc_policy *policy;
  const char *cmd = NULL;
  char *flags[256], *pos[256];
  int nflags = 0, npos = 0, rest = argc - 1;
  char **args = argv + 1;

  if (argc > 255) {
    fprintf(stderr, "runbookd: too many arguments\n");
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0
        || strcmp(argv[i], "help") == 0) {
      config_print_help("runbookd");
      return 0;
    }
  }
  if (argc > 1 && argv[1][0] != '-') {
    cmd = argv[1];
    args = argv + 2;
    rest = argc - 2;
  }
  if (cmd && strcmp(cmd, "version") == 0) {
    printf("runbookd, version %s\n", RUNBOOKD_VERSION);
    return 0;
  }
  split_args(rest, args, flags, &nflags, pos, &npos);
  if (cmd && strcmp(cmd, "check-config") != 0 && strcmp(cmd, "replay") != 0
      && strcmp(cmd, "report") != 0) {
    fprintf(stderr, "runbookd: unknown command %s (see --help)\n", cmd);
    return 2;
  }
  if (!cmd && npos) {
    fprintf(stderr, "runbookd: unexpected argument %s (see --help)\n", pos[0]);
    return 2;
  }
  if (cmd && strcmp(cmd, "report") == 0) {
    fprintf(stderr, "runbookd: post-incident reports are not available in this version\n");
    return 2;
  }
  config_remember_flags(nflags, flags);
  config_errors_init(&errs);
  cfg = config_load(nflags, flags, &errs);
  /* Plans are validated with the configuration: check-config names the
   * problems of both. */
  plans = plan_load_dir(cfg ? cfg->remediation_dir : "./remediation", &errs);
  policy = cfg ? esc_policy_load(cfg->escalation_json, cfg->file, &errs) : NULL;
  if (!cfg || !plans || !policy) {
    config_drop(cfg);
    plan_set_drop(plans);
    esc_policy_drop(policy);
    int code = print_errors(&errs);
    config_errors_free(&errs);
    return code;
  }
  if (cmd && strcmp(cmd, "check-config") == 0) {
    printf("%s: configuration is valid; %zu remediation plan%s in %s; paging %s\n",
           cfg->file ? cfg->file : "built-in defaults", plans->n, plans->n == 1 ? "" : "s",
           cfg->remediation_dir,
           policy->enabled ? "on" : "off (no escalation.contacts)");
    config_drop(cfg);
    plan_set_drop(plans);
    esc_policy_drop(policy);
    return 0;
  }
  if (cmd && strcmp(cmd, "replay") == 0) {
    int code = replay_files(cfg, plans, npos, pos, stdout);
    config_drop(cfg);
    plan_set_drop(plans);
    esc_policy_drop(policy);
    return code;
  }
  return daemon_run(cfg, plans, policy);
}
