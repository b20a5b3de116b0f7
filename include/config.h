/*
 * config.h - runbookd's configuration: JSON file, Prometheus-style flags,
 * validation.
 *
 * A struct rb_config is immutable once built.  The daemon keeps the current
 * one behind a reference count (config_hold/config_drop) so a reload swaps
 * it atomically while requests still use the old one.  Flags override the
 * file; the file overrides built-in defaults.  Secrets (bearer token, basic
 * auth password) are read from their files when the configuration is
 * loaded, so a reload also picks up rotated secrets.
 */
#ifndef RUNBOOKD_CONFIG_H
#define RUNBOOKD_CONFIG_H

#include "rb.h"
#include "severity.h"

#include <stdarg.h>
#include <stdatomic.h>

struct api_auth;

/* Where an option got its value (config_source()). */
enum config_source {
  CONFIG_SRC_DEFAULT = 0, /* built in */
  CONFIG_SRC_FILE,        /* the JSON file */
  CONFIG_SRC_FLAG,        /* a command-line flag */
  CONFIG_SRC_INVALID,     /* the file or a flag gave a value that was refused */
};

#define RB_CONFIG_MAX_OPTS 64

struct rb_config {
  atomic_int refs;
  char *file; /* the path it was read from, or NULL for defaults */
  int file_unusable;                         /* the file could not be read or parsed */
  unsigned char opt_src[RB_CONFIG_MAX_OPTS]; /* enum config_source, per option */

  /* web */
  char *listen_address;   /* host:port */
  char *tls_cert_file;    /* both set: HTTPS */
  char *tls_key_file;
  char *tls_cert_pem;     /* contents, loaded */
  char *tls_key_pem;
  int insecure_no_auth;   /* allow a non-loopback listener without auth */
  size_t max_body_bytes;
  size_t max_body_bytes_in_flight; /* all requests' bodies at once */
  size_t max_header_bytes;
  unsigned max_connections;
  unsigned max_connections_per_ip;
  unsigned connection_timeout_s;

  /* web.auth: the webhook's credentials (what Alertmanager's http_config
   * sends). Either or both may be set. */
  char *bearer_token_file;
  char *bearer_token;       /* loaded */
  char *basic_username;
  char *basic_password_file;
  char *basic_password;     /* loaded */

  /* storage */
  char *storage_path;
  char *storage_postgres;
  int64_t storage_max_bytes; /* 0: unlimited */

  /* intake limits */
  size_t max_alerts;
  size_t max_labels;
  size_t max_label_name_bytes;
  size_t max_label_value_bytes;
  size_t max_annotation_bytes;
  unsigned max_json_depth;

  /* severity normalisation */
  struct severity_map severity;

  /* remediation and cluster (used by the remediation module) */
  char *remediation_dir;
  char *kube_api_url;
  char *kube_token_file;
  char *kube_ca_file;
  int dry_run; /* -1: decide (on when no cluster configured) */
  unsigned rem_workers;
  unsigned rem_max_runs;
  unsigned rem_queue_size;
  unsigned rem_per_minute;
  unsigned rem_per_hour;
  char *prometheus_url;
  char *pg_conninfo_file;
  char *pg_conninfo;       /* loaded */
  unsigned kube_timeout_s;
  unsigned kube_retries;

  /* silences.upstream: forward silences to an Alertmanager (NULL url: off) */
  char *sil_upstream_url;
  char *sil_upstream_token_file;
  char *sil_upstream_token; /* loaded */
  unsigned sil_upstream_timeout_s;
  unsigned sil_upstream_attempts;
  unsigned sil_upstream_backoff_ms;
  unsigned sil_upstream_queue;

  /* sections parsed by their own modules: their JSON text, or NULL */
  char *escalation_json;
  char *api_json;
  struct api_auth *api_auth; /* parsed "api" section (never NULL once valid) */

  /* logging */
  int log_level;
  int log_json;
};

/* One problem found while loading; the list is kept in order. */
struct config_error {
  /* "config.json: web.max_body_bytes" when the file set the value (or no
   * flag did and a file is loaded), "--web.listen-address" when a flag set
   * it (or neither did and no file is loaded). */
  char *where;
  char *what;
  struct config_error *next;
};

struct config_errors {
  struct config_error *head, **tail;
  size_t n;
};

void config_errors_init(struct config_errors *e);
void config_errors_add(struct config_errors *e, const char *where,
                       const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
void config_errors_vadd(struct config_errors *e, const char *where, const char *fmt, va_list ap)
  __attribute__((format(printf, 3, 0)));
void config_errors_free(struct config_errors *e);

/* Builds a configuration from defaults, then the JSON file named by
 * --config.file in argv (if any), then the flags in argv.  Every problem is
 * added to errs; the return is NULL when there is at least one.  argv holds
 * only flags, "--flag=value" or "--flag value" (the subcommand and its
 * arguments removed); unknown flags, a flag given twice (a boolean and its
 * --no- form count as one) and --no-X=value are errors.  The file's
 * unknown fields, keys holding a '.', duplicate keys and values of the
 * wrong type are errors.  The caller owns the result (config_drop).  Runs
 * on any thread. */
struct rb_config *config_load(int argc, char **argv, struct config_errors *errs);

/* Like config_load, but hands back what it could build even when there are
 * problems, so check-config can go on to the plans and the escalation
 * policy and name every problem at once: fields with a refused value keep
 * their default, and file_unusable says whether the file's values are
 * missing altogether.  NULL only when out of memory.  Such a configuration
 * is for reporting only: never run with it. */
struct rb_config *config_load_partial(int argc, char **argv, struct config_errors *errs);

/* Where the option at a JSON path ("remediation.dir") got its value (enum
 * config_source), or -1 when no option has that path. */
int config_source(const struct rb_config *c, const char *path);

/* Re-reads the same sources as `prev` was built from (file and the flags
 * remembered in config_remember_flags) for a reload. */
struct rb_config *config_reload(const struct rb_config *prev,
                                struct config_errors *errs);

/* Remembers the command-line flags so a reload applies them again. Called
 * once by main before threads start. */
void config_remember_flags(int argc, char **argv);

struct rb_config *config_hold(struct rb_config *c);
void config_drop(struct rb_config *c);

/* Fields that differ between a and b but that a reload cannot change (the
 * listener, TLS, connection limits, storage, the Kubernetes client, the
 * remediation workers and queues, silence forwarding): every such field
 * name, comma separated ("web.listen_address, kube.api_url"), or NULL when
 * none differs.  The text is the calling thread's until its next call. */
const char *config_restart_needed(const struct rb_config *a,
                                  const struct rb_config *b);

/* What a command-line flag is, given its name without "--" (maybe with
 * "=value"): CONFIG_FLAG_BOOL for a boolean (or its --no- form), which
 * never takes the next argument as its value; CONFIG_FLAG_VALUE for one
 * that takes a value (--config.file included); CONFIG_FLAG_UNKNOWN. */
enum { CONFIG_FLAG_UNKNOWN = -1, CONFIG_FLAG_BOOL = 0, CONFIG_FLAG_VALUE = 1 };
int config_flag_kind(const char *name);

/* Whether a flag name (without "--", maybe with "=value") is boolean,
 * so "--flag next" does not take next as its value. */
int config_flag_is_bool(const char *name);

/* Prints the flag reference for --help. */
void config_print_help(const char *prog);

#endif
