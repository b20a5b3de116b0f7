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

struct rb_config {
  atomic_int refs;
  char *file; /* the path it was read from, or NULL for defaults */

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
  char *where; /* "config.json: web.max_body_bytes" or "--web.listen-address" */
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
 * only flags (the subcommand removed); unknown flags are errors.  The caller
 * owns the result (config_drop).  Runs on any thread. */
struct rb_config *config_load(int argc, char **argv, struct config_errors *errs);

/* Re-reads the same sources as `prev` was built from (file and the flags
 * remembered in config_remember_flags) for a reload. */
struct rb_config *config_reload(const struct rb_config *prev,
                                struct config_errors *errs);

/* Remembers the command-line flags so a reload applies them again. Called
 * once by main before threads start. */
void config_remember_flags(int argc, char **argv);

struct rb_config *config_hold(struct rb_config *c);
void config_drop(struct rb_config *c);

/* Fields that a reload cannot change (listener, TLS, storage); returns the
 * first field name that differs, or NULL. */
const char *config_restart_needed(const struct rb_config *a,
                                  const struct rb_config *b);

/* Whether a flag name (without "--", maybe with "=value") is boolean,
 * so "--flag next" does not take next as its value. */
int config_flag_is_bool(const char *name);

/* Prints the flag reference for --help. */
void config_print_help(const char *prog);

#endif
