/* libFuzzer target: what runbookd reads from the Kubernetes API server's
 * answers: a Deployment object's rollout status (kube_rollout_status, as
 * kubectl rollout status does) and a failed request's Status object
 * (kube_status_parse).  The verdict is -1, 0 or 1 and the message a
 * terminated string within its buffer. */
#include "kube.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1), msg[256];
  struct kube_resp r;
  int v;

  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  memset(msg, 'x', sizeof(msg));
  v = kube_rollout_status(s, msg, sizeof(msg));
  if (v < -1 || v > 1 || !memchr(msg, '\0', sizeof(msg)))
    abort();
  memset(&r, 0, sizeof(r));
  r.status = 409;
  r.body = s;
  r.len = size;
  kube_status_parse(&r);
  r.body = NULL; /* s is ours */
  kube_resp_clear(&r);
  free(s);
  return 0;
}
