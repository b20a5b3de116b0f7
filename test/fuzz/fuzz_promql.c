/* libFuzzer target: the evaluation of a Prometheus query answer
 * (promql_evaluate in checks.c), which reads whatever the Prometheus at
 * remediation.prometheus_url sends back.  The detail it appends goes into
 * the incident's timeline as a JSON object, so it must always be JSON in
 * UTF-8, whatever bytes the answer's error text holds;
 * the verdict is 0 or 1.  The first input byte picks the comparison. */
#include "buf.h"
#include "checks.h"
#include "payload.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct buf d;
  char *s;
  int pass;
  cJSON *j;

  if (size < 1)
    return 0;
  s = malloc(size);
  if (!s)
    return 0;
  memcpy(s, data + 1, size - 1); /* the answer, as a C string */
  s[size - 1] = '\0';
  buf_init(&d, 0);
  buf_puts(&d, "{");
  pass = promql_evaluate(s, (enum cmp_op)(data[0] % 6), 0.5, &d);
  buf_puts(&d, "}");
  if (pass != 0 && pass != 1)
    abort();
  j = cJSON_ParseWithLength(d.data, d.len);
  if (!j || utf8_invalid_at(d.data, d.len) >= 0)
    abort(); /* the timeline detail must be JSON, in UTF-8 */
  cJSON_Delete(j);
  buf_free(&d);
  free(s);
  return 0;
}
