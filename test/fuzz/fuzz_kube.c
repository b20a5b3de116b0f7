/* libFuzzer target: what runbookd reads from the Kubernetes API server's
 * answers: a Deployment object's rollout status (kube_rollout_status, as
 * kubectl rollout status does), a failed request's Status object
 * (kube_status_parse), an answer's Retry-After header line
 * (kube_retry_after_ms), and rollout undo's reading of the Deployment and
 * of the ReplicaSetList its selector matches (kube_undo_selector,
 * kube_undo_decide).  The input up to its first NUL is the Deployment (and
 * the Status object), what follows that NUL the ReplicaSetList; the whole
 * input is also the header line.  The verdicts stay in their ranges, the
 * messages are terminated strings within their buffers, and an undo's
 * patch is JSON. */
#include "kube.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
retry_after(const uint8_t *data, size_t size)
{
  char *line = malloc(size ? size : 1); /* exactly the line: ASan sees any overread */
  long ms;

  if (!line)
    return;
  memcpy(line, data, size);
  ms = kube_retry_after_ms(line, size);
  if (ms < -1 || ms > KUBE_BACKOFF_CAP_MS)
    abort();
  free(line);
}

static void
undo(const char *deployment, const char *rs_list)
{
  cJSON *dep = cJSON_Parse(deployment), *rsl = NULL, *patch;
  char sel[512], note[512], path[1024];
  struct kube_req req;
  enum kube_undo v;

  memset(note, 'x', sizeof(note));
  if (!kube_undo_selector(dep, "api-gateway", sel, sizeof(sel), note, sizeof(note))) {
    if (!memchr(note, '\0', sizeof(note)) || !note[0])
      abort(); /* a refusal says why */
    goto out;
  }
  if (!memchr(sel, '\0', sizeof(sel)) || !sel[0])
    abort();
  kube_path_replicasets_selector(path, sizeof(path), "ran-optimization", sel);
  rsl = cJSON_Parse(rs_list);
  memset(note, 'x', sizeof(note));
  v = kube_undo_decide("ran-optimization", "api-gateway", dep, rsl, &req, note, sizeof(note));
  if (v > KUBE_UNDO_FAILED || !memchr(note, '\0', sizeof(note)))
    abort();
  if (v == KUBE_UNDO_PATCH) {
    patch = cJSON_Parse(req.body);
    if (strcmp(req.method, "PATCH") != 0 || cJSON_GetArraySize(patch) != 2)
      abort(); /* the template and the annotations, replaced */
    cJSON_Delete(patch);
  } else if (req.method || req.body) {
    abort();
  }
  kube_req_clear(&req);
out:
  cJSON_Delete(dep);
  cJSON_Delete(rsl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1), msg[256];
  struct kube_resp r;
  size_t first;
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
  retry_after(data, size);
  first = strlen(s);
  undo(s, first < size ? s + first + 1 : "");
  free(s);
  return 0;
}
