/*
 * checks.c - HTTP, PromQL, PostgreSQL and exec steps (see checks.h).
 */
#include "checks.h"
#include "buf.h"
#include "rbtime.h"
#include "version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const op_names[] = { "<", "<=", ">", ">=", "==", "!=" };

const char *
cmp_op_name(enum cmp_op op)
{
  return (unsigned)op < RB_ARRAY_LEN(op_names) ? op_names[op] : "?";
}

static int
compare(double v, enum cmp_op op, double t)
{
  switch (op) {
  case CMP_LT: return v < t;
  case CMP_LE: return v <= t;
  case CMP_GT: return v > t;
  case CMP_GE: return v >= t;
  case CMP_EQ: return v == t;
  case CMP_NE: return v != t;
  }
  return 0;
}

static size_t
sink(char *p, size_t size, size_t nmemb, void *ud)
{
  struct buf *b = ud;
  size_t n = size * nmemb;
  return buf_append(b, p, n) == RB_OK ? n : 0;
}

/* One GET/POST/HEAD with libcurl; body into out (bounded). */
static CURLcode
fetch(const char *method, const char *url, unsigned timeout_s, long *status, double *secs,
      struct buf *out)
{
  CURL *e = curl_easy_init();
  CURLcode cc;

  if (!e)
    return CURLE_OUT_OF_MEMORY;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)timeout_s);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "runbookd/" RUNBOOKD_VERSION);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  else if (strcmp(method, "POST") == 0)
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
  cc = curl_easy_perform(e);
  *status = 0;
  *secs = 0;
  if (cc == CURLE_OK) {
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, secs);
  }
  curl_easy_cleanup(e);
  return cc;
}

int
check_http(const char *method, const char *url, int expect_status, unsigned max_latency_ms,
           unsigned timeout_s, struct buf *detail)
{
  struct buf body;
  long status;
  double secs;
  CURLcode cc;
  int pass;

  buf_init(&body, 64 * 1024);
  cc = fetch(method ? method : "GET", url, timeout_s, &status, &secs, &body);
  buf_free(&body);
  buf_puts(detail, "{\"url\":");
  buf_json_str(detail, url);
  if (cc != CURLE_OK) {
    buf_puts(detail, ",\"error\":");
    buf_json_str(detail, curl_easy_strerror(cc));
    buf_puts(detail, "}");
    return 0;
  }
  pass = status == expect_status && (!max_latency_ms || secs * 1000.0 <= max_latency_ms);
  buf_printf(detail, ",\"status\":%ld,\"expectStatus\":%d,\"latencyMs\":%.1f", status,
             expect_status, secs * 1000.0);
  if (max_latency_ms)
    buf_printf(detail, ",\"maxLatencyMs\":%u", max_latency_ms);
  buf_printf(detail, ",\"passed\":%s}", pass ? "true" : "false");
  return pass;
}

/* A sample value as JSON: a number when finite, else a string as
 * Prometheus spells it ("NaN", "+Inf", "-Inf"), which JSON has no number
 * for (the detail goes into the timeline as JSON). */
static void
put_value(struct buf *b, double d)
{
  if (isnan(d))
    buf_puts(b, "\"NaN\"");
  else if (isinf(d))
    buf_puts(b, d > 0 ? "\"+Inf\"" : "\"-Inf\"");
  else {
    /* The shortest of 15 or 17 digits that reads back as the same value. */
    char num[32];
    snprintf(num, sizeof(num), "%.15g", d);
    if (strtod(num, NULL) != d)
      snprintf(num, sizeof(num), "%.17g", d);
    buf_puts(b, num);
  }
}

int
promql_evaluate(const char *answer, enum cmp_op op, double threshold, struct buf *detail)
{
  cJSON *root = cJSON_Parse(answer);
  const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(data, "resultType");
  const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result"), *it;
  int pass = 1, samples = 0;

  buf_printf(detail, "\"op\":\"%s\",\"threshold\":", cmp_op_name(op));
  put_value(detail, threshold);
  if (!cJSON_IsString(status) || strcmp(status->valuestring, "success") != 0) {
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    buf_puts(detail, ",\"error\":");
    buf_json_str(detail, cJSON_IsString(err) ? err->valuestring : "not a Prometheus answer");
    cJSON_Delete(root);
    return 0;
  }
  buf_puts(detail, ",\"values\":[");
  if (cJSON_IsString(type) && strcmp(type->valuestring, "scalar") == 0) {
    const cJSON *v = cJSON_GetArrayItem(result, 1);
    double d = cJSON_IsString(v) ? strtod(v->valuestring, NULL) : NAN;
    put_value(detail, d);
    samples = 1;
    pass = !isnan(d) && compare(d, op, threshold);
  } else {
    cJSON_ArrayForEach(it, result) {
      const cJSON *pair = cJSON_GetObjectItemCaseSensitive(it, "value");
      const cJSON *v = cJSON_GetArrayItem(pair, 1);
      double d = cJSON_IsString(v) ? strtod(v->valuestring, NULL) : NAN;
      if (samples < 20) {
        if (samples)
          buf_puts(detail, ",");
        put_value(detail, d);
      }
      samples++;
      if (isnan(d) || !compare(d, op, threshold))
        pass = 0;
    }
  }
  buf_printf(detail, "],\"samples\":%d", samples);
  if (samples == 0) {
    pass = 0;
    buf_puts(detail, ",\"error\":\"the query returned no samples\"");
  }
  cJSON_Delete(root);
  return pass;
}

int
check_promql(const char *base_url, const char *query, enum cmp_op op, double threshold,
             unsigned timeout_s, struct buf *detail)
{
  struct buf body;
  char *esc, url[8192];
  long status;
  double secs;
  CURLcode cc;
  int pass = 0;
  size_t n = strlen(base_url);

  while (n && base_url[n - 1] == '/')
    n--;
  esc = curl_easy_escape(NULL, query, 0);
  snprintf(url, sizeof(url), "%.*s/api/v1/query?query=%s", (int)n, base_url, esc ? esc : "");
  curl_free(esc);
  buf_init(&body, 4u << 20);
  cc = fetch("GET", url, timeout_s, &status, &secs, &body);
  buf_puts(detail, "{\"query\":");
  buf_json_str(detail, query);
  buf_puts(detail, ",\"prometheus\":");
  buf_json_str(detail, base_url);
  if (cc != CURLE_OK) {
    buf_puts(detail, ",\"error\":");
    buf_json_str(detail, curl_easy_strerror(cc));
  } else {
    buf_printf(detail, ",\"status\":%ld,", status);
    pass = promql_evaluate(body.data ? body.data : "", op, threshold, detail);
  }
  buf_printf(detail, ",\"passed\":%s}", pass ? "true" : "false");
  buf_free(&body);
  return pass;
}

int
check_postgres(const char *conninfo, const char *query, int maintenance, unsigned max_rows,
               unsigned timeout_s, struct buf *detail)
{
  const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
  char ct[16], opt[64];
  const char *vals[4];
  PGconn *c;
  PGresult *r = NULL;
  int pass = 0;

  snprintf(ct, sizeof(ct), "%u", timeout_s < 2 ? 2 : timeout_s);
  vals[0] = ct;
  vals[1] = "runbookd";
  vals[2] = conninfo;
  vals[3] = NULL;
  buf_puts(detail, "{\"query\":");
  buf_json_str(detail, query);
  buf_printf(detail, ",\"maintenance\":%s", maintenance ? "true" : "false");
  if (!conninfo) {
    buf_puts(detail, ",\"error\":\"no PostgreSQL configured (remediation.postgres_conninfo_file)\"}");
    return 0;
  }
  c = PQconnectdbParams(keys, vals, 1); /* dbname may hold a full conninfo */
  if (PQstatus(c) != CONNECTION_OK) {
    buf_puts(detail, ",\"error\":");
    buf_json_str(detail, PQerrorMessage(c));
    goto out;
  }
  snprintf(opt, sizeof(opt), "SET statement_timeout = %u", timeout_s * 1000);
  PQclear(PQexec(c, opt));
  if (!maintenance) {
    /* Diagnostics can never write: one statement (the extended protocol
     * refuses more), inside a READ ONLY transaction that is rolled back. */
    r = PQexec(c, "BEGIN TRANSACTION READ ONLY");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      buf_puts(detail, ",\"error\":");
      buf_json_str(detail, PQresultErrorMessage(r));
      goto out;
    }
    PQclear(r);
  }
  r = PQexecParams(c, query, 0, NULL, NULL, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    buf_puts(detail, ",\"error\":");
    buf_json_str(detail, PQresultErrorMessage(r));
    if (!maintenance)
      PQclear(PQexec(c, "ROLLBACK"));
    goto out;
  }
  if (!maintenance)
    PQclear(PQexec(c, "ROLLBACK"));
  pass = 1;
  buf_puts(detail, ",\"command\":");
  buf_json_str(detail, PQcmdStatus(r));
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    int rows = PQntuples(r), cols = PQnfields(r);
    buf_printf(detail, ",\"rowCount\":%d,\"columns\":[", rows);
    for (int j = 0; j < cols; j++) {
      buf_puts(detail, j ? "," : "");
      buf_json_str(detail, PQfname(r, j));
    }
    buf_puts(detail, "],\"rows\":[");
    for (int i = 0; i < rows && i < (int)max_rows; i++) {
      buf_puts(detail, i ? ",[" : "[");
      for (int j = 0; j < cols; j++) {
        char cell[257];
        snprintf(cell, sizeof(cell), "%s", PQgetvalue(r, i, j));
        buf_puts(detail, j ? "," : "");
        if (PQgetisnull(r, i, j))
          buf_puts(detail, "null");
        else
          buf_json_str(detail, cell);
      }
      buf_puts(detail, "]");
    }
    buf_puts(detail, "]");
  }
out:
  buf_printf(detail, ",\"passed\":%s}", pass ? "true" : "false");
  PQclear(r);
  PQfinish(c);
  return pass;
}

int
check_exec(char *const *argv, char *const *envp, unsigned timeout_s, struct buf *detail)
{
  int pipefd[2], status = 0, pass = 0, timed_out = 0;
  char out[4097];
  size_t got = 0;
  int64_t deadline = rb_mono_ns() + (int64_t)timeout_s * 1000000000;
  pid_t pid;

  buf_puts(detail, "{\"argv\":[");
  for (size_t i = 0; argv[i]; i++) {
    buf_puts(detail, i ? "," : "");
    buf_json_str(detail, argv[i]);
  }
  buf_puts(detail, "]");
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    buf_printf(detail, ",\"error\":\"pipe: %s\",\"passed\":false}", strerror(errno));
    return 0;
  }
  pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    buf_printf(detail, ",\"error\":\"fork: %s\",\"passed\":false}", strerror(errno));
    return 0;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* the daemon blocks signals */
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    setpgid(0, 0);
    execve(argv[0], argv, envp);
    _exit(127);
  }
  close(pipefd[1]);
  for (;;) {
    int64_t left = (deadline - rb_mono_ns()) / 1000000;
    struct pollfd pfd = { pipefd[0], POLLIN, 0 };
    ssize_t n;
    if (left <= 0) {
      timed_out = 1;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      break;
    }
    if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
      continue;
    if (got < sizeof(out) - 1) {
      n = read(pipefd[0], out + got, sizeof(out) - 1 - got);
    } else {
      char sinkbuf[512];
      n = read(pipefd[0], sinkbuf, sizeof(sinkbuf));
      if (n > 0)
        continue;
    }
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(pipefd[0]);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  out[got] = '\0';
  /* buf_json_str() escapes control characters and turns bytes that are not
   * UTF-8 into U+FFFD; only a NUL would cut the output short. */
  for (size_t i = 0; i < got; i++)
    if (out[i] == '\0')
      out[i] = '?';
  if (timed_out)
    buf_printf(detail, ",\"error\":\"killed after %us\"", timeout_s);
  else if (WIFEXITED(status))
    buf_printf(detail, ",\"exitStatus\":%d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    buf_printf(detail, ",\"signal\":%d", WTERMSIG(status));
  pass = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  buf_puts(detail, ",\"output\":");
  buf_json_str(detail, out);
  buf_printf(detail, ",\"passed\":%s}", pass ? "true" : "false");
  return pass;
}
