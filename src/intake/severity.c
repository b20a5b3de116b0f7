/* severity.c - normalise alert severities to the seed's five levels. */
#include "severity.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[SEV_COUNT] = {
  "emergency", "critical", "high", "medium", "low"
};

const char *
severity_name(enum severity s)
{
  return (unsigned)s < SEV_COUNT ? level_names[s] : "unknown";
}

int
severity_parse(const char *s)
{
  for (int i = 0; s && i < SEV_COUNT; i++)
    if (strcasecmp(s, level_names[i]) == 0)
      return i;
  return -1;
}

rb_status
severity_map_set(struct severity_map *m, const char *name, enum severity level)
{
  if (strlen(name) >= sizeof(m->alias[0].name) || !*name)
    return RB_EINVAL;
  for (size_t i = 0; i < m->n; i++) {
    if (strcasecmp(m->alias[i].name, name) == 0) {
      m->alias[i].level = level;
      return RB_OK;
    }
  }
  if (m->n == SEVERITY_MAP_MAX)
    return RB_ETOOBIG;
  snprintf(m->alias[m->n].name, sizeof(m->alias[0].name), "%s", name);
  m->alias[m->n].level = level;
  m->n++;
  return RB_OK;
}

void
severity_map_defaults(struct severity_map *m)
{
  memset(m, 0, sizeof(*m));
  for (int i = 0; i < SEV_COUNT; i++)
    severity_map_set(m, level_names[i], (enum severity)i);
  severity_map_set(m, "warning", SEV_MEDIUM);
  severity_map_set(m, "info", SEV_LOW);
  severity_map_set(m, "error", SEV_HIGH);
  severity_map_set(m, "page", SEV_CRITICAL);
  m->missing = SEV_MEDIUM;
  m->unknown = SEV_MEDIUM;
}

enum severity
severity_normalise(const struct severity_map *m, const char *value)
{
  if (!value || !*value)
    return m->missing;
  for (size_t i = 0; i < m->n; i++)
    if (strcasecmp(m->alias[i].name, value) == 0)
      return m->alias[i].level;
  return m->unknown;
}
