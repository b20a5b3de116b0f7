/* libFuzzer target: request inputs of runbookd's own API that no other
 * target reads:
 *   - byte 0 even: the body of POST /api/v1/incidents/{id}/ack|unack|
 *     resolve|comment (api_action_body_parse), as received (not
 *     NUL-terminated).  An accepted body is one JSON object and nothing
 *     else; "by" and "comment" fit their bounds and are UTF-8, as they go
 *     to the store, the timeline and the notifications.
 *   - byte 0 odd: the from/to of GET /api/v1/stats (stats_parse_time), a
 *     query argument (a C string). */
#include "http.h"
#include "payload.h"
#include "stats.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
action_body(const char *body, size_t len)
{
  static char by[API_BY_MAX + 1], comment[API_COMMENT_MAX + 1];
  char why[256] = "";
  cJSON *strict;
  char *z;

  if (api_action_body_parse(len ? body : NULL, len, by, comment, why, sizeof(why)) != 0) {
    if (!*why)
      abort(); /* a refusal says why */
    return;
  }
  if (strlen(by) > API_BY_MAX || strlen(comment) > API_COMMENT_MAX
      || utf8_invalid_at(by, strlen(by)) >= 0 || utf8_invalid_at(comment, strlen(comment)) >= 0)
    abort();
  if (!len)
    return;
  /* The body must be exactly one JSON object: no NUL, nothing after it. */
  if (memchr(body, '\0', len))
    abort();
  z = malloc(len + 1);
  if (!z)
    return;
  memcpy(z, body, len);
  z[len] = '\0';
  strict = cJSON_ParseWithOpts(z, NULL, 1);
  if (!cJSON_IsObject(strict))
    abort();
  cJSON_Delete(strict);
  free(z);
}

static void
stats_time(const char *in, size_t len)
{
  char *s = malloc(len + 1);
  int64_t ms = -1;

  if (!s)
    return;
  memcpy(s, in, len);
  s[len] = '\0';
  if (stats_parse_time(s, &ms) == RB_OK && ms < 0)
    abort();
  free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *rest;

  if (size < 1)
    return 0;
  rest = malloc(size > 1 ? size - 1 : 1); /* exactly the rest: ASan sees any overread */
  if (!rest)
    return 0;
  memcpy(rest, data + 1, size - 1);
  if (data[0] & 1)
    stats_time(rest, size - 1);
  else
    action_body(rest, size - 1);
  free(rest);
  return 0;
}
