/*
 * severity.h - the seed's five severity levels and the normalisation of an
 * alert's `severity` label to them.
 */
#ifndef RUNBOOKD_SEVERITY_H
#define RUNBOOKD_SEVERITY_H

#include "rb.h"

enum severity {
  SEV_EMERGENCY = 0,
  SEV_CRITICAL,
  SEV_HIGH,
  SEV_MEDIUM,
  SEV_LOW,
  SEV_COUNT
};

#define SEVERITY_MAP_MAX 32

/* A label value (compared case-insensitively) and the level it means. */
struct severity_map {
  struct {
    char name[32];
    enum severity level;
  } alias[SEVERITY_MAP_MAX];
  size_t n;
  enum severity missing;  /* no severity label */
  enum severity unknown;  /* a value nothing maps */
};

/* Fills m with the defaults: the five names themselves, warning->medium,
 * info->low, error->high, page->critical; missing and unknown -> medium. */
void severity_map_defaults(struct severity_map *m);

/* Adds or replaces an alias. RB_ETOOBIG when full, RB_EINVAL on a long name. */
rb_status severity_map_set(struct severity_map *m, const char *name,
                           enum severity level);

/* Normalises a label value (NULL when the label is missing). */
enum severity severity_normalise(const struct severity_map *m,
                                 const char *value);

const char *severity_name(enum severity s);
/* Parses one of the five level names; -1 when it is none of them. */
int severity_parse(const char *s);

#endif
