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

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
print_errors(const struct config_errors *errs)
{
  for (const struct config_error *e = errs->head; e; e = e->next)
    fprintf(stderr, "%s: %s\n", e->where, e->what);
  fprintf(stderr, "%zu problem%s found\n", errs->n, errs->n == 1 ? "" : "s");
  return 1;
}

/* Splits argv as kingpin does: flags may come before or after the command;
 * the first argument that is not a flag is the command and the others are
 * its arguments.  "--flag value" keeps value with its flag unless the flag
 * is a known boolean (config.c's apply_flags pairs them the same way); an
 * unknown flag keeps its value too, so "--bogus value" is one error.  "--"
 * ends the flags.  --help, -h and --version are noted, not kept.  Returns
 * 0, or 2 after printing a usage error. */
static int
split_args(int argc, char **argv, const char **cmd, char **flags, int *nflags, char **pos,
           int *npos, int *help, int *version)
{
  int only_pos = 0;

  *cmd = NULL;
  *nflags = *npos = *help = *version = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
      if (!*cmd)
        *cmd = a;
      else
        pos[(*npos)++] = argv[i];
    } else if (strcmp(a, "--") == 0) {
      only_pos = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      *help = 1;
    } else if (strcmp(a, "--version") == 0) {
      *version = 1;
    } else if (a[1] != '-') {
      fprintf(stderr, "runbookd: unknown short flag %s (see --help)\n", a);
      return 2;
    } else {
      flags[(*nflags)++] = argv[i];
      if (!strchr(a, '=') && config_flag_kind(a + 2) != CONFIG_FLAG_BOOL && i + 1 < argc
          && strncmp(argv[i + 1], "--", 2) != 0)
        flags[(*nflags)++] = argv[++i];
    }
  }
  return 0;
}

/* Removes --NAME=value or "--NAME value" from flags; returns the value
 * (or NULL when absent).  Flags of a subcommand are not the config's.
 * *count gets how many times it was given. */
static const char *
take_flag(const char *name, char **flags, int *nflags, int *count)
{
  size_t n = strlen(name);
  const char *val = NULL;

  *count = 0;
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
      (*count)++;
      memmove(&flags[i], &flags[i + drop], (size_t)(*nflags - i - drop) * sizeof(*flags));
      *nflags -= drop;
      i--;
    }
  }
  return val;
}

/* take_flag for a subcommand: a usage error (2) when it is repeated. */
static int
take_once(const char *cmd, const char *name, char **flags, int *nflags, const char **val)
{
  int count;

  *val = take_flag(name, flags, nflags, &count);
  if (count > 1) {
    fprintf(stderr, "runbookd %s: flag '%s' cannot be repeated\n", cmd, name);
    return 2;
  }
  return 0;
}

/* `runbookd report ID [--format=md|html|json]` and `runbookd stats
 * [--from= --to= --format=json|text]`: read the store directly (read-only,
 * so the daemon may be running) and print to stdout.  Exit 0, 1 on a
 * failure (no such incident, no store), 2 on a usage error. */
static int
read_command(const char *cmd, int nflags, char **flags, int npos, char **pos)
{
  int is_report = strcmp(cmd, "report") == 0;
  const char *format = NULL, *from = NULL, *to = NULL;
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

  if (take_once(cmd, "format", flags, &nflags, &format)
      || (!is_report && take_once(cmd, "from", flags, &nflags, &from))
      || (!is_report && take_once(cmd, "to", flags, &nflags, &to)))
    return 2;
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
      fprintf(stderr,
              "runbookd stats: unexpected argument %s\n"
              "usage: runbookd stats [--from=T] [--to=T] [--format=json|text]\n",
              pos[0]);
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

/* Config problems at the daemon's start: plain lines, or JSON log lines
 * when the configuration asked for --log.format=json. */
static int
report_start_errors(const struct rb_config *cfg, const struct config_errors *errs)
{
  char n[32];

  if (!cfg || !cfg->log_json)
    return print_errors(errs);
  log_setup(LOG_INFO, 1);
  for (const struct config_error *e = errs->head; e; e = e->next)
    rblog(LOG_ERROR, "configuration problem", "where", e->where, "problem", e->what, NULL);
  snprintf(n, sizeof(n), "%zu", errs->n);
  rblog(LOG_ERROR, "runbookd failed to start: invalid configuration", "problems", n, NULL);
  return 1;
}

/* Whether the remediation directory is the default one and is missing:
 * then there are no plans, which is worth a warning (set explicitly, a
 * missing directory is a configuration error, config.c). */
static int
default_plans_dir_missing(const struct rb_config *cfg)
{
  struct stat st;
  return config_source(cfg, "remediation.dir") == CONFIG_SRC_DEFAULT && cfg->remediation_dir
         && stat(cfg->remediation_dir, &st) != 0 && errno == ENOENT;
}

int
main(int argc, char **argv)
{
  struct config_errors errs;
  struct rb_config *cfg;
  struct plan_set *plans = NULL;
  struct esc_policy *policy = NULL;
  const char *cmd = NULL;
  char *flags[260], *pos[256], file_flag[4096 + 16];
  int nflags = 0, npos = 0, help = 0, version = 0, check, code, src;

  payload_init(); /* before any thread uses cJSON */
  if (argc > 255) {
    fprintf(stderr, "runbookd: too many arguments\n");
    return 2;
  }
  if ((code = split_args(argc, argv, &cmd, flags, &nflags, pos, &npos, &help, &version)))
    return code;
  if (help || (cmd && strcmp(cmd, "help") == 0)) {
    config_print_help("runbookd");
    return 0;
  }
  if (version || (cmd && strcmp(cmd, "version") == 0)) {
    if (npos || nflags) {
      fprintf(stderr, "runbookd version: unexpected argument %s (it takes none)\n",
              npos ? pos[0] : flags[0]);
      return 2;
    }
    printf("runbookd, version %s\n", RUNBOOKD_VERSION);
    return 0;
  }
  if (cmd && strcmp(cmd, "check-config") != 0 && strcmp(cmd, "replay") != 0
      && strcmp(cmd, "report") != 0 && strcmp(cmd, "stats") != 0) {
    fprintf(stderr, "runbookd: unknown command %s (see --help)\n", cmd);
    return 2;
  }
  if (cmd && (strcmp(cmd, "report") == 0 || strcmp(cmd, "stats") == 0))
    return read_command(cmd, nflags, flags, npos, pos);
  check = cmd && strcmp(cmd, "check-config") == 0;
  if (check && npos > 1) {
    fprintf(stderr,
            "runbookd check-config: unexpected argument %s "
            "(usage: runbookd check-config [flags] [FILE])\n",
            pos[1]);
    return 2;
  }
  if (check && npos == 1) {
    /* `check-config FILE`, as `promtool check config FILE`. */
    for (int i = 0; i < nflags; i++)
      if (strncmp(flags[i], "--config.file", 13) == 0
          && (flags[i][13] == '=' || flags[i][13] == '\0')) {
        fprintf(stderr,
                "runbookd check-config: both FILE (%s) and --config.file given; "
                "give one\n",
                pos[0]);
        return 2;
      }
    if (!*pos[0] || strlen(pos[0]) > 4096) {
      fprintf(stderr, "runbookd check-config: FILE must be a path\n");
      return 2;
    }
    snprintf(file_flag, sizeof(file_flag), "--config.file=%s", pos[0]);
    flags[nflags++] = file_flag;
    npos = 0;
  }
  /* Nothing but the command itself takes arguments (replay its files). */
  if (!check && (!cmd || strcmp(cmd, "replay") != 0) && npos) {
    fprintf(stderr, "runbookd: unexpected argument %s (see --help)\n", pos[0]);
    return 2;
  }
  config_remember_flags(nflags, flags);
  config_errors_init(&errs);
  /* Everything is checked even when the configuration has problems, so
   * check-config names them all: the plans of the configured directory and
   * the escalation policy too, unless the file that would name them could
   * not be read. */
  cfg = config_load_partial(nflags, flags, &errs);
  if (cfg) {
    src = config_source(cfg, "remediation.dir");
    if (cfg->remediation_dir && src != CONFIG_SRC_INVALID
        && (!cfg->file_unusable || src == CONFIG_SRC_FLAG))
      plans = plan_load_dir(cfg->remediation_dir, &errs);
    if (!cfg->file_unusable)
      policy = esc_policy_load(cfg->escalation_json, cfg->file, &errs);
  }
  if (errs.n || !cfg || !plans || !policy) {
    code = cmd ? print_errors(&errs) : report_start_errors(cfg, &errs);
    config_drop(cfg);
    plan_set_drop(plans);
    esc_policy_drop(policy);
    config_errors_free(&errs);
    return code;
  }
  config_errors_free(&errs);
  if (check) {
    if (default_plans_dir_missing(cfg))
      fprintf(stderr,
              "warning: %s does not exist: no remediation plans "
              "(remediation.dir, --remediation.dir)\n",
              cfg->remediation_dir);
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
    code = replay_files(cfg, plans, policy, npos, pos, stdout);
    config_drop(cfg);
    plan_set_drop(plans);
    esc_policy_drop(policy);
    return code;
  }
  if (default_plans_dir_missing(cfg)) {
    log_setup((enum log_level)cfg->log_level, cfg->log_json);
    rblog(LOG_WARN, "the remediation directory does not exist: no remediation plans", "dir",
          cfg->remediation_dir, NULL);
  }
  return daemon_run(cfg, plans, policy);
}
