/* libFuzzer target: the webhook payload parser (payload.c, utf8.c,
 * fingerprint.c, time.c) on arbitrary bytes, with the default limits. */
#include "payload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const struct payload_limits lim = { 50000, 256, 1024, 16384, 65536, 32 };
  struct am_payload *p = NULL;
  char err[RB_ERRLEN];
  rb_status rc;

  rc = payload_parse((const char *)data, size, &lim, &p, err, sizeof(err));
  if (rc == RB_OK) {
    /* Exercise what the incident layer reads. */
    for (size_t i = 0; i < p->n_alerts; i++) {
      char fp[17];
      am_fingerprint(&p->alerts[i].labels, fp);
      (void)am_label(&p->alerts[i].labels, "severity");
    }
    payload_free(p);
  } else if (p || !err[0]) {
    abort(); /* a failure must name its problem and leave nothing behind */
  }
  return 0;
}
