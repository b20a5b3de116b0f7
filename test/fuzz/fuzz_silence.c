/* libFuzzer target: the PostableSilence decoder (silence_json.c), the body
 * of POST /api/v2/silences, and what follows a body that decodes: the
 * silence set's validation (matchers compiled, times checked), matching,
 * the GettableSilence it answers with (which must be JSON) and the
 * storage form of its matchers (which must decode back to the same
 * matchers). */
#include "matcher.h"
#include "payload.h"
#include "silence.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1796400000000LL /* 2026-12-04T16:00:00Z */

static struct am_kv kv[] = {
  { "alertname", "HighLatency" },
  { "instance", "10.0.0.1:9100" },
  { "severity", "critical" },
};
static const struct am_labels labels = { kv, 3 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct silence_spec sp;
  enum silence_parse_code code = 0;
  struct silences *set = NULL;
  struct silence *sil = NULL;
  struct matchers *back = NULL;
  struct buf out, m1, m2;
  char err[RB_ERRLEN] = "", id[SILENCE_ID_LEN];
  rb_status rc;

  memset(&sp, 0, sizeof(sp));
  buf_init(&out, 0);
  buf_init(&m1, 0);
  buf_init(&m2, 0);
  rc = silence_spec_from_json((const char *)data, size, &sp, &code, err);
  if (rc != RB_OK) {
    /* A refusal names its problem with one of go-openapi's codes. */
    if (!err[0] || (code != SIL_PARSE_BAD && code != SIL_PARSE_REQUIRED
                    && code != SIL_PARSE_MIN_ITEMS))
      abort();
    goto out;
  }
  if (silences_open(NULL, &set, err) != RB_OK)
    abort();
  err[0] = '\0';
  if (silences_set(set, &sp, NOW, id, err) != RB_OK) {
    if (!err[0])
      abort(); /* Alertmanager's validation says why */
    goto out;
  }
  sil = silences_get(set, id);
  if (!sil)
    abort();
  (void)silences_match(set, &labels, NOW, NULL, 0, NULL);
  (void)silence_matches(sil, &labels, NOW);
  if (silence_to_json(sil, NOW, &out))
    abort();
  {
    cJSON *j = cJSON_ParseWithLength(out.data, out.len);
    if (!j)
      abort(); /* the answer must be JSON */
    cJSON_Delete(j);
  }
  if (silence_matchers_to_json(sil->ms, &m1) || silence_matchers_from_json(m1.data, &back, err)
      || silence_matchers_to_json(back, &m2) || strcmp(m1.data, m2.data) != 0)
    abort(); /* the storage form round-trips */

out:
  matchers_free(back);
  silence_drop(sil);
  silences_free(set);
  silence_spec_clear(&sp);
  buf_free(&out);
  buf_free(&m1);
  buf_free(&m2);
  return 0;
}
