/* libFuzzer target: the label matcher parser and RE2-to-POSIX translation
 * (matcher.c) on arbitrary bytes.  When the input parses, the matchers run
 * against a small label set and are formatted, and the formatted form must
 * parse back to itself (the round trip matcher.h promises). */
#include "matcher.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct am_kv kv[] = {
  { "alertname", "HighLatency" },
  { "instance", "10.0.0.1:9100" },
  { "job", "api" },
  { "note", "line1\nline2 caf\xc3\xa9" },
  { "severity", "critical" },
};
static const struct am_labels labels = { kv, 5 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct matchers *ms = NULL, *again = NULL;
  struct buf b, b2;
  char err[RB_ERRLEN];
  char *s;
  rb_status rc;

  /* The parsers take C strings; stop at the first NUL like a caller would. */
  s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  buf_init(&b, 0);
  buf_init(&b2, 0);

  rc = matchers_parse(s, &ms, err);
  if (rc != RB_OK) {
    if (ms || !err[0])
      abort(); /* a failure must name its problem and leave nothing behind */
    goto out;
  }
  (void)matchers_match(ms, &labels);
  for (size_t i = 0; i < ms->n; i++)
    (void)matcher_match(ms->m[i], &labels);
  if (matchers_format(ms, &b))
    abort();
  if (matchers_parse(b.data, &again, err))
    abort(); /* formatted output must always parse */
  if (again->n != ms->n || matchers_format(again, &b2) || strcmp(b.data, b2.data))
    abort();
  for (size_t i = 0; i < ms->n; i++)
    if (matcher_match(ms->m[i], &labels) != matcher_match(again->m[i], &labels))
      abort();

out:
  matchers_free(ms);
  matchers_free(again);
  buf_free(&b);
  buf_free(&b2);
  free(s);
  return 0;
}
