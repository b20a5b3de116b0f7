/*
 * checks.h - the read-only steps and verifications of remediation plans:
 * an HTTP check, a PromQL instant query compared to a threshold, a
 * PostgreSQL query through libpq, and exec (argv, never a shell).
 *
 * Each function makes one attempt, bounded by timeout_s, appends a JSON
 * object describing what it saw to detail, and returns 1 (passed) or 0.
 * The engine repeats http and promql checks until they pass or their
 * window closes.  Safe on any thread.
 */
#ifndef RUNBOOKD_CHECKS_H
#define RUNBOOKD_CHECKS_H

#include "plan.h"
#include "rb.h"

struct buf;

int check_http(const char *method, const char *url, int expect_status,
               unsigned max_latency_ms, unsigned timeout_s, struct buf *detail);

/* Queries base_url's /api/v1/query; passes when there is at least one
 * sample and every sample satisfies `value op threshold`. */
int check_promql(const char *base_url, const char *query, enum cmp_op op, double threshold,
                 unsigned timeout_s, struct buf *detail);
/* The same comparison on a Prometheus API answer (exposed for tests). */
int promql_evaluate(const char *answer_json, enum cmp_op op, double threshold,
                    struct buf *detail);

/* Runs query with libpq.  Unless maintenance is set the session is read
 * only, so a diagnostic can never change data.  Rows (at most max_rows,
 * values truncated) go into the detail. */
int check_postgres(const char *conninfo, const char *query, int maintenance,
                   unsigned max_rows, unsigned timeout_s, struct buf *detail);

/* Runs argv[0] (absolute path) with envp, no shell, killing it after
 * timeout_s; passes on exit status 0.  Output (4 KiB at most) goes into
 * the detail. */
int check_exec(char *const *argv, char *const *envp, unsigned timeout_s, struct buf *detail);

const char *cmp_op_name(enum cmp_op op);

#endif
