/* fingerprint.c - Alertmanager's label-set fingerprint (FNV-1a 64). */
#include "payload.h"

#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv_add(uint64_t h, const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    h ^= *p;
    h *= FNV_PRIME;
  }
  h ^= 0xff; /* model.SeparatorByte */
  h *= FNV_PRIME;
  return h;
}

void
am_fingerprint(const struct am_labels *ls, char out[17])
{
  uint64_t h = FNV_OFFSET;

  /* Labels are kept sorted by name, which is the order Prometheus hashes. */
  for (size_t i = 0; i < ls->n; i++) {
    h = fnv_add(h, ls->kv[i].name);
    h = fnv_add(h, ls->kv[i].value);
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}
