/*
 * replay.h - `runbookd replay FILE...`: show what Alertmanager payload
 * files would cause, touching nothing.
 */
#ifndef RUNBOOKD_REPLAY_H
#define RUNBOOKD_REPLAY_H

#include <stdio.h>

struct rb_config;
struct plan_set;
struct esc_policy;

/* Reads each file (a bare webhook body, or a captured delivery
 * {"headers":{...},"body":{...}}), parses it as the webhook would and
 * prints each alert's identity, normalised severity and the decisions that
 * follow: remediation (plans, steps, requests, limits) and paging.  Returns 0, or 1 when a file could not be read or parsed. */
int replay_files(const struct rb_config *cfg, const struct plan_set *plans,
                 const struct esc_policy *policy, int n, char **files, FILE *out);

#endif
