/* libFuzzer target: the Authorization header check (bearer and basic). */
#include "config.h"
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct rb_config cfg;
  char *h = malloc(size + 1);
  const char *why = NULL;

  if (!h)
    return 0;
  memcpy(h, data, size);
  h[size] = '\0';
  cfg.bearer_token = "s3cret-token";
  cfg.basic_username = "alertmanager";
  cfg.basic_password = "hunter2";
  if (!auth_check_header(&cfg, h, &why) && !why)
    abort(); /* a refusal always says why */
  free(h);
  return 0;
}
