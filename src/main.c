/*
 * main.c - runbookd's command line: the daemon and its subcommands
 * (check-config, replay, report, stats, version, --help).
 */
#include "config.h"
#include "payload.h"
#include "daemon.h"
#include "log.h"
#include "escalation.h"
#include "plan.h"
#include "rbtime.h"
#include "replay.h"
#include "report.h"
#include "stats.h"
#include "store.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
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

/* Removes --NAME=value or "--NAME value" from flags; returns the value
 * (or NULL when absent).  Flags of a subcommand are not the config's. */
static const char *
take_flag(const char *name, char **flags, int *nflags)
{
  size_t n = strlen(name);
  const char *val = NULL;

  for (int i = 0; i < *nflags; i++) {
    int drop = 0;
    if (strncmp(flags[i], "--", 2) != 0 || strncmp(flags[i] + 2, name, n) != 0)
      continue;
    if (flags[i][2 + n] == '=') {
      val = flags[i] + 3 + n;
      drop = 1;
    } else if (flags[i][2 + n] == '\0') {
      val = i + 1 < *nflags && strncmp(flags[i + 1], "--", 2) != 0 ? flags[i + 1] : "";
      drop = val[0] ? 2 : 1;
    }
    if (drop) {
      memmove(&flags[i], &flags[i + drop], (size_t)(*nflags - i - drop) * sizeof(*flags));
      *nflags -= drop;
      i--;
    }
  }
  return val;
}

/* `runbookd report ID [--format=md|html|json]` and `runbookd stats
 * [--from= --to= --format=json|text]`: read the store directly (read-only,
 * so the daemon may be running) and print to stdout.  Exit 0, 1 on a
 * failure (no such incident, no store), 2 on a usage error. */
static int
read_command(const char *cmd, int nflags, char **flags, int npos, char **pos)
{
  int is_report = strcmp(cmd, "report") == 0;
  const char *format = take_flag("format", flags, &nflags);
  const char *from = is_report ? NULL : take_flag("from", flags, &nflags);
  const char *to = is_report ? NULL : take_flag("to", flags, &nflags);
  struct config_errors errs;
  struct rb_config *cfg;
  struct store_options so;
  struct store *st = NULL;
  char err[RB_ERRLEN], *end = NULL;
  long long id = 0;
  int64_t now = rb_wall_ms(), from_ms, to_ms = now;
  int f = REPORT_MD, text = 1, code = 1;
  struct buf b;
  rb_status rc;

  if (is_report) {
    if (npos != 1 || !*pos[0] || (id = strtoll(pos[0], &end, 10)) <= 0 || *end) {
      fprintf(stderr, "usage: runbookd report ID [--format=md|html|json]\n");
      return 2;
    }
    if (format && (f = report_format_parse(format)) < 0) {
      fprintf(stderr, "runbookd report: --format must be md, html or json\n");
      return 2;
    }
  } else {
    if (npos) {
      fprintf(stderr, "usage: runbookd stats [--from=T] [--to=T] [--format=json|text]\n");
      return 2;
    }
    if (format && strcmp(format, "json") != 0 && strcmp(format, "text") != 0) {
      fprintf(stderr, "runbookd stats: --format must be json or text\n");
      return 2;
    }
    text = !format || strcmp(format, "text") == 0;
    if (to && stats_parse_time(to, &to_ms)) {
      fprintf(stderr, "runbookd stats: --to must be an RFC 3339 time or unix seconds\n");
      return 2;
    }
    from_ms = to_ms - 7LL * 24 * 3600 * 1000;
    if (from && stats_parse_time(from, &from_ms)) {
      fprintf(stderr, "runbookd stats: --from must be an RFC 3339 time or unix seconds\n");
      return 2;
    }
    if (from_ms >= to_ms) {
      fprintf(stderr, "runbookd stats: --from must be before --to\n");
      return 2;
    }
  }
  config_errors_init(&errs);
  cfg = config_load(nflags, flags, &errs);
  if (!cfg) {
    code = print_errors(&errs);
    config_errors_free(&errs);
    return code;
  }
  config_errors_free(&errs);
  memset(&so, 0, sizeof(so));
  so.sqlite_dir = cfg->storage_path;
  so.read_only = 1;
  rc = store_open(&so, &st, err);
  if (rc) {
    fprintf(stderr, "runbookd %s: %s\n", cmd, err);
    config_drop(cfg);
    return 1;
  }
  buf_init(&b, 0);
  if (is_report) {
    rc = report_build(st, (int64_t)id, (enum report_format)f, now, &b);
  } else {
    struct stats s;
    rc = stats_compute(st, from_ms, to_ms, now, &s);
    if (!rc)
      rc = text ? stats_to_text(&s, &b) : stats_to_json(&s, &b);
    stats_clear(&s);
  }
  if (rc == RB_ENOTFOUND)
    fprintf(stderr, "runbookd report: no incident %lld in %s\n", id, cfg->storage_path);
  else if (rc)
    fprintf(stderr, "runbookd %s: %s\n", cmd, rb_strerror(rc));
  else if (fwrite(b.data ? b.data : "", 1, b.len, stdout) == b.len && fflush(stdout) == 0)
    code = 0;
  buf_free(&b);
  store_close(st);
  config_drop(cfg);
  return code;
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

  payload_init(); /* before any thread uses cJSON */
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
      && strcmp(cmd, "report") != 0 && strcmp(cmd, "stats") != 0) {
    fprintf(stderr, "runbookd: unknown command %s (see --help)\n", cmd);
    return 2;
  }
  if (!cmd && npos) {
    fprintf(stderr, "runbookd: unexpected argument %s (see --help)\n", pos[0]);
    return 2;
  }
  if (cmd && (strcmp(cmd, "report") == 0 || strcmp(cmd, "stats") == 0))
    return read_command(cmd, nflags, flags, npos, pos);
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
    int code = replay_files(cfg, plans, policy, npos, pos, stdout);
    config_drop(cfg);
    plan_set_drop(plans);
    esc_policy_drop(policy);
    return code;
  }
  return daemon_run(cfg, plans, policy);
}
