/*
 * kube_build.c - the requests kubectl sends, built as data (see kube.h).
 *
 * Bodies are produced with cJSON so strings are always escaped; names are
 * validated by the caller before they reach a path.
 */
#include "kube.h"
#include "buf.h"
#include "plan.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rb_status
make(struct kube_req *out, const char *method, const char *path, const char *ct, cJSON *body)
{
  memset(out, 0, sizeof(*out));
  out->method = strdup(method);
  out->path = strdup(path);
  if (ct)
    out->content_type = strdup(ct);
  if (body) {
    out->body = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!out->body)
      goto oom;
  }
  if (!out->method || !out->path || (ct && !out->content_type))
    goto oom;
  return RB_OK;
oom:
  kube_req_clear(out);
  return RB_ENOMEM;
}

void
kube_req_clear(struct kube_req *r)
{
  if (!r)
    return;
  free(r->method);
  free(r->path);
  free(r->content_type);
  free(r->body);
  memset(r, 0, sizeof(*r));
}

void
kube_reqs_free(struct kube_req *v, size_t n)
{
  for (size_t i = 0; v && i < n; i++)
    kube_req_clear(&v[i]);
  free(v);
}

void
kube_path_deployment(char *out, size_t n, const char *ns, const char *name)
{
  snprintf(out, n, "/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
}

void
kube_path_scale(char *out, size_t n, const char *ns, const char *name)
{
  snprintf(out, n, "/apis/apps/v1/namespaces/%s/deployments/%s/scale", ns, name);
}

void
kube_path_pod(char *out, size_t n, const char *ns, const char *name)
{
  snprintf(out, n, "/api/v1/namespaces/%s/pods/%s", ns, name);
}

void
kube_path_replicaset(char *out, size_t n, const char *ns, const char *name)
{
  snprintf(out, n, "/apis/apps/v1/namespaces/%s/replicasets/%s", ns, name);
}

static void
url_escape(char *out, size_t n, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < n; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
        || c == '_' || c == '.' || c == '~') {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
}

void
kube_path_pods_selector(char *out, size_t n, const char *ns, const char *selector)
{
  char esc[1024];
  url_escape(esc, sizeof(esc), selector);
  snprintf(out, n, "/api/v1/namespaces/%s/pods?labelSelector=%s", ns, esc);
}

void
kube_path_replicasets_selector(char *out, size_t n, const char *ns, const char *selector)
{
  char esc[1024];
  url_escape(esc, sizeof(esc), selector);
  snprintf(out, n, "/apis/apps/v1/namespaces/%s/replicasets?labelSelector=%s", ns, esc);
}

rb_status
kube_req_get(const char *path, struct kube_req *out)
{
  return make(out, "GET", path, NULL, NULL);
}

/* {"spec":{"template":{...inner...}}} */
static cJSON *
template_patch(cJSON **tmpl)
{
  cJSON *root = cJSON_CreateObject();
  cJSON *spec = cJSON_AddObjectToObject(root, "spec");
  *tmpl = cJSON_AddObjectToObject(spec, "template");
  return root;
}

rb_status
kube_req_restart(const char *ns, const char *name, const char *rfc3339, struct kube_req *out)
{
  char path[512];
  cJSON *tmpl, *root = template_patch(&tmpl);
  cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(tmpl, "metadata"), "annotations");

  cJSON_AddStringToObject(ann, "kubectl.kubernetes.io/restartedAt", rfc3339);
  kube_path_deployment(path, sizeof(path), ns, name);
  return make(out, "PATCH", path, KUBE_CT_STRATEGIC, root);
}

rb_status
kube_req_scale(const char *ns, const char *name, int replicas, struct kube_req *out)
{
  char path[512];
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(cJSON_AddObjectToObject(root, "spec"), "replicas", replicas);
  kube_path_scale(path, sizeof(path), ns, name);
  return make(out, "PATCH", path, KUBE_CT_MERGE, root);
}

static cJSON *
kv_object(const struct kvlist *l)
{
  cJSON *o = cJSON_CreateObject();
  for (size_t i = 0; l && i < l->n; i++)
    cJSON_AddStringToObject(o, l->key[i], l->val[i]);
  return o;
}

/* {"spec":{"template":{"spec":{"containers":[{"name":C, ...}]}}}} */
static cJSON *
container_patch(const char *container, cJSON **c)
{
  cJSON *tmpl, *root = template_patch(&tmpl);
  cJSON *arr = cJSON_AddArrayToObject(cJSON_AddObjectToObject(tmpl, "spec"), "containers");
  *c = cJSON_CreateObject();
  cJSON_AddStringToObject(*c, "name", container);
  cJSON_AddItemToArray(arr, *c);
  return root;
}

rb_status
kube_req_set_resources(const char *ns, const char *name, const char *container,
                       const struct kvlist *limits, const struct kvlist *requests,
                       struct kube_req *out)
{
  char path[512];
  cJSON *c, *root = container_patch(container, &c);
  cJSON *res = cJSON_AddObjectToObject(c, "resources");

  if (limits && limits->n)
    cJSON_AddItemToObject(res, "limits", kv_object(limits));
  if (requests && requests->n)
    cJSON_AddItemToObject(res, "requests", kv_object(requests));
  kube_path_deployment(path, sizeof(path), ns, name);
  return make(out, "PATCH", path, KUBE_CT_STRATEGIC, root);
}

rb_status
kube_req_set_env(const char *ns, const char *name, const char *container,
                 const struct kvlist *env, struct kube_req *out)
{
  char path[512];
  cJSON *c, *root = container_patch(container, &c);
  cJSON *arr = cJSON_AddArrayToObject(c, "env");

  for (size_t i = 0; i < env->n; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", env->key[i]);
    cJSON_AddStringToObject(e, "value", env->val[i]);
    cJSON_AddItemToArray(arr, e);
  }
  kube_path_deployment(path, sizeof(path), ns, name);
  return make(out, "PATCH", path, KUBE_CT_STRATEGIC, root);
}

rb_status
kube_req_patch_configmap(const char *ns, const char *name, const struct kvlist *data,
                         struct kube_req *out)
{
  char path[512];
  cJSON *root = cJSON_CreateObject();
  cJSON_AddItemToObject(root, "data", kv_object(data));
  snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
  return make(out, "PATCH", path, KUBE_CT_STRATEGIC, root);
}

rb_status
kube_req_delete_pod(const char *ns, const char *pod, struct kube_req *out)
{
  char path[512];
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "kind", "DeleteOptions");
  cJSON_AddStringToObject(root, "apiVersion", "v1");
  cJSON_AddStringToObject(root, "propagationPolicy", "Background");
  kube_path_pod(path, sizeof(path), ns, pod);
  return make(out, "DELETE", path, KUBE_CT_JSON, root);
}

rb_status
kube_req_undo(const char *ns, const char *name, const char *template_json,
              const char *annotations_json, const char *resource_version, struct kube_req *out)
{
  char path[512];
  cJSON *root = cJSON_CreateArray(), *op, *tmpl, *ann;

  tmpl = cJSON_Parse(template_json);
  ann = cJSON_Parse(annotations_json);
  if (!tmpl || !ann) {
    cJSON_Delete(tmpl);
    cJSON_Delete(ann);
    cJSON_Delete(root);
    return RB_EINVAL;
  }
  if (resource_version) {
    /* Applied only to the object as it was read: any write since (a
     * person's, a controller's) fails the test and nothing is replaced. */
    op = cJSON_CreateObject();
    cJSON_AddStringToObject(op, "op", "test");
    cJSON_AddStringToObject(op, "path", "/metadata/resourceVersion");
    cJSON_AddStringToObject(op, "value", resource_version);
    cJSON_AddItemToArray(root, op);
  }
  op = cJSON_CreateObject();
  cJSON_AddStringToObject(op, "op", "replace");
  cJSON_AddStringToObject(op, "path", "/spec/template");
  cJSON_AddItemToObject(op, "value", tmpl);
  cJSON_AddItemToArray(root, op);
  op = cJSON_CreateObject();
  cJSON_AddStringToObject(op, "op", "replace");
  cJSON_AddStringToObject(op, "path", "/metadata/annotations");
  cJSON_AddItemToObject(op, "value", ann);
  cJSON_AddItemToArray(root, op);
  kube_path_deployment(path, sizeof(path), ns, name);
  return make(out, "PATCH", path, KUBE_CT_JSONPATCH, root);
}

void
kube_req_to_json(struct buf *b, const struct kube_req *r)
{
  cJSON *body = r->body ? cJSON_Parse(r->body) : NULL;
  char *bs = NULL;

  buf_puts(b, "{\"method\":");
  buf_json_str(b, r->method);
  buf_puts(b, ",\"path\":");
  buf_json_str(b, r->path);
  if (r->content_type) {
    buf_puts(b, ",\"contentType\":");
    buf_json_str(b, r->content_type);
  }
  if (r->body) {
    buf_puts(b, ",\"body\":");
    bs = body ? cJSON_PrintUnformatted(body) : NULL;
    if (bs)
      buf_puts(b, bs);
    else
      buf_json_str(b, r->body);
  }
  buf_puts(b, "}");
  free(bs);
  cJSON_Delete(body);
}

static char *
dup_json_str(const cJSON *o, const char *key)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

rb_status
kube_reqs_from_json(const char *json, struct kube_req **out, size_t *n)
{
  cJSON *arr = cJSON_Parse(json), *it;
  size_t i = 0;

  *out = NULL;
  *n = 0;
  if (!cJSON_IsArray(arr)) {
    cJSON_Delete(arr);
    return RB_EINVAL;
  }
  *out = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(**out));
  if (!*out) {
    cJSON_Delete(arr);
    return RB_ENOMEM;
  }
  cJSON_ArrayForEach(it, arr) {
    struct kube_req *r = &(*out)[i++];
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(it, "body");
    r->method = dup_json_str(it, "method");
    r->path = dup_json_str(it, "path");
    r->content_type = dup_json_str(it, "contentType");
    if (cJSON_IsString(body))
      r->body = strdup(body->valuestring);
    else if (body)
      r->body = cJSON_PrintUnformatted(body);
    if (!r->method || !r->path) {
      *n = i;
      kube_reqs_free(*out, *n);
      *out = NULL;
      *n = 0;
      cJSON_Delete(arr);
      return RB_EINVAL;
    }
  }
  *n = i;
  cJSON_Delete(arr);
  return RB_OK;
}

static long
num(const cJSON *o, const char *key, long def)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  /* Replica counts and generations are int64 in the API; the clamp keeps
   * a hostile answer from overflowing the arithmetic below. */
  return cJSON_IsNumber(v) ? (long)rb_double_clamp(v->valuedouble, -INT32_MAX, INT32_MAX, def)
                           : def;
}

int
kube_rollout_status(const char *deployment_json, char *msg, size_t msglen)
{
  cJSON *d = cJSON_Parse(deployment_json);
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(d, "metadata");
  const cJSON *spec = cJSON_GetObjectItemCaseSensitive(d, "spec");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(d, "status");
  const cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions"), *c;
  const char *name = "";
  long gen, observed, want, updated, replicas, available;
  int ret = 0;

  if (!cJSON_IsObject(d)) {
    snprintf(msg, msglen, "the API returned no Deployment object");
    cJSON_Delete(d);
    return -1;
  }
  if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(meta, "name")))
    name = cJSON_GetObjectItemCaseSensitive(meta, "name")->valuestring;
  gen = num(meta, "generation", 0);
  observed = num(st, "observedGeneration", -1);
  want = num(spec, "replicas", 1);
  updated = num(st, "updatedReplicas", 0);
  replicas = num(st, "replicas", 0);
  available = num(st, "availableReplicas", 0);
  /* The same order of checks as kubectl's DeploymentStatusViewer. */
  if (gen <= observed) {
    cJSON_ArrayForEach(c, conds) {
      const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
      const cJSON *reason = cJSON_GetObjectItemCaseSensitive(c, "reason");
      if (cJSON_IsString(type) && strcmp(type->valuestring, "Progressing") == 0
          && cJSON_IsString(reason)
          && strcmp(reason->valuestring, "ProgressDeadlineExceeded") == 0) {
        snprintf(msg, msglen, "deployment \"%s\" exceeded its progress deadline", name);
        ret = -1;
        goto out;
      }
    }
    if (updated < want)
      snprintf(msg, msglen,
               "Waiting for deployment \"%s\" rollout to finish: %ld out of %ld new replicas "
               "have been updated...", name, updated, want);
    else if (replicas > updated)
      snprintf(msg, msglen,
               "Waiting for deployment \"%s\" rollout to finish: %ld old replicas are pending "
               "termination...", name, replicas - updated);
    else if (available < updated)
      snprintf(msg, msglen,
               "Waiting for deployment \"%s\" rollout to finish: %ld of %ld updated replicas "
               "are available...", name, available, updated);
    else {
      snprintf(msg, msglen, "deployment \"%s\" successfully rolled out", name);
      ret = 1;
    }
  } else {
    snprintf(msg, msglen, "Waiting for deployment spec update to be observed...");
  }
out:
  cJSON_Delete(d);
  return ret;
}

/* ---- kubectl rollout undo, from the API's answers ---------------------- */

cJSON *
kube_jpath(const cJSON *o, const char *a, const char *b, const char *c)
{
  cJSON *r = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b)
    r = cJSON_GetObjectItemCaseSensitive(r, b);
  if (c)
    r = cJSON_GetObjectItemCaseSensitive(r, c);
  return r;
}

/* "k=v,k2=v2" from a Deployment's spec.selector.matchLabels; 0 when there
 * is none or it does not fit in n bytes. */
static int
selector_of(const cJSON *deploy, char *out, size_t n)
{
  const cJSON *ml = kube_jpath(deploy, "spec", "selector", "matchLabels"), *it;
  size_t o = 0;

  out[0] = '\0';
  if (!cJSON_IsObject(ml))
    return 0;
  cJSON_ArrayForEach(it, ml) {
    int w;
    if (!cJSON_IsString(it))
      continue;
    w = snprintf(out + o, n - o, "%s%s=%s", o ? "," : "", it->string, it->valuestring);
    if (w < 0 || (size_t)w >= n - o)
      return 0;
    o += (size_t)w;
  }
  return o > 0;
}

int
kube_undo_selector(const struct cJSON *dep, const char *name, char *sel, size_t n, char *note,
                   size_t notelen)
{
  if (cJSON_IsTrue(kube_jpath(dep, "spec", "paused", NULL))) {
    snprintf(note, notelen,
             "you cannot rollback a paused deployment; resume it first with 'kubectl rollout "
             "resume deployment/%s' and try again", name);
    return 0;
  }
  if (!selector_of(dep, sel, n)) {
    snprintf(note, notelen, "deployment %s has no matchLabels selector", name);
    return 0;
  }
  return 1;
}

static const char *
resource_version_of(const cJSON *obj)
{
  const cJSON *v = kube_jpath(obj, "metadata", "resourceVersion", NULL);
  return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static long
revision_of(const cJSON *obj)
{
  const cJSON *v = kube_jpath(obj, "metadata", "annotations", "deployment.kubernetes.io/revision");
  return cJSON_IsString(v) ? strtol(v->valuestring, NULL, 10) : -1;
}

/* A copy of obj's spec.template without the pod-template-hash label (the
 * ReplicaSet controller's, which kubectl's undo leaves out and ignores
 * when it compares templates); NULL when there is none. */
static cJSON *
template_without_hash(const cJSON *obj)
{
  cJSON *t = cJSON_Duplicate(kube_jpath(obj, "spec", "template", NULL), 1);

  cJSON_DeleteItemFromObjectCaseSensitive(kube_jpath(t, "metadata", "labels", NULL),
                                          "pod-template-hash");
  return t;
}

/* Whether a ReplicaSet is controlled by the object with this uid. */
static int
owned_by(const cJSON *rs, const cJSON *uid)
{
  const cJSON *o;
  int owned = 0;

  cJSON_ArrayForEach(o, kube_jpath(rs, "metadata", "ownerReferences", NULL)) {
    const cJSON *ou = cJSON_GetObjectItemCaseSensitive(o, "uid");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "controller")) && cJSON_IsString(ou)
        && cJSON_IsString(uid) && strcmp(ou->valuestring, uid->valuestring) == 0)
      owned = 1;
  }
  return owned;
}

/* The annotations kubectl's undo keeps: the Deployment's own of the keep
 * list, then the ReplicaSet's others. */
static cJSON *
undo_annotations(const cJSON *dep, const cJSON *prev)
{
  static const char *const keep[] = {
    "kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to",
  };
  cJSON *ann = cJSON_CreateObject();
  const cJSON *own = kube_jpath(dep, "metadata", "annotations", NULL), *it;

  for (size_t i = 0; i < RB_ARRAY_LEN(keep); i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(own, keep[i]);
    if (cJSON_IsString(v))
      cJSON_AddStringToObject(ann, keep[i], v->valuestring);
  }
  cJSON_ArrayForEach(it, kube_jpath(prev, "metadata", "annotations", NULL)) {
    size_t i;
    for (i = 0; i < RB_ARRAY_LEN(keep); i++)
      if (strcmp(it->string, keep[i]) == 0)
        break;
    if (i == RB_ARRAY_LEN(keep) && cJSON_IsString(it))
      cJSON_AddStringToObject(ann, it->string, it->valuestring);
  }
  return ann;
}

cJSON *
kube_template_of(const struct cJSON *obj)
{
  cJSON *t = template_without_hash(obj);
  if (!cJSON_IsObject(t)) {
    cJSON_Delete(t);
    return NULL;
  }
  return t;
}

rb_status
kube_restore_request(const char *ns, const char *name, const struct cJSON *dep,
                     const struct cJSON *baseline, const struct cJSON *baseline_annotations,
                     struct kube_req *out)
{
  cJSON *prev = cJSON_CreateObject(), *ann;
  char *tj, *aj;
  rb_status rc;

  memset(out, 0, sizeof(*out));
  /* kubectl's undo annotations, with the Deployment as it was before the
   * run in the place of the previous revision's ReplicaSet. */
  cJSON_AddItemToObject(cJSON_AddObjectToObject(prev, "metadata"), "annotations",
                        cJSON_IsObject(baseline_annotations)
                            ? cJSON_Duplicate(baseline_annotations, 1)
                            : cJSON_CreateObject());
  ann = undo_annotations(dep, prev);
  tj = cJSON_PrintUnformatted(baseline);
  aj = cJSON_PrintUnformatted(ann);
  rc = tj && aj ? kube_req_undo(ns, name, tj, aj, resource_version_of(dep), out) : RB_ENOMEM;
  free(tj);
  free(aj);
  cJSON_Delete(ann);
  cJSON_Delete(prev);
  return rc;
}

enum kube_undo
kube_restore_decide(const char *ns, const char *name, const struct cJSON *dep,
                    const struct cJSON *baseline, const struct cJSON *baseline_annotations,
                    const struct cJSON *written, int uncertain, struct kube_req *out, char *note,
                    size_t notelen)
{
  cJSON *cur;
  enum kube_undo ret;

  memset(out, 0, sizeof(*out));
  if (!baseline || (!written && !uncertain)) {
    snprintf(note, notelen,
             "runbookd changed nothing in deployment %s's template in this run (no change of "
             "its was applied): nothing to undo",
             name);
    return KUBE_UNDO_NOTHING;
  }
  if (cJSON_IsTrue(kube_jpath(dep, "spec", "paused", NULL))) {
    snprintf(note, notelen,
             "you cannot rollback a paused deployment; resume it first with 'kubectl rollout "
             "resume deployment/%s' and try again",
             name);
    return KUBE_UNDO_REFUSED;
  }
  cur = kube_template_of(dep);
  if (cur && cJSON_Compare(cur, baseline, 1)) {
    snprintf(note, notelen,
             "deployment %s already has the template it had before this run: nothing to undo",
             name);
    ret = KUBE_UNDO_NOTHING;
  } else if (!cur || !written || !cJSON_Compare(cur, written, 1)) {
    if (uncertain && (!written || !cur || !cJSON_Compare(cur, written, 1)))
      snprintf(note, notelen,
               "runbookd's last change to deployment %s got no answer, so whether the template "
               "there now is runbookd's or someone else's cannot be told: not undone",
               name);
    else
      snprintf(note, notelen,
               "deployment %s was changed by someone else since runbookd's last change (its "
               "template is not the one runbookd wrote): not undone",
               name);
    ret = KUBE_UNDO_REFUSED;
  } else {
    snprintf(note, notelen,
             "restoring the template deployment %s had before this run's first change (nobody "
             "changed it since runbookd's last change)",
             name);
    ret = kube_restore_request(ns, name, dep, baseline, baseline_annotations, out)
              ? KUBE_UNDO_FAILED
              : KUBE_UNDO_PATCH;
  }
  cJSON_Delete(cur);
  return ret;
}

enum kube_undo
kube_undo_decide(const char *ns, const char *name, const struct cJSON *dep,
                 const struct cJSON *rs_list, struct kube_req *out, char *note, size_t notelen)
{
  const cJSON *it, *uid, *latest = NULL, *prev = NULL;
  long latest_rev = -1, prev_rev = -1;
  cJSON *tmpl, *cur, *ann;
  char *tj, *aj;
  int same;
  enum kube_undo ret = KUBE_UNDO_PATCH;

  memset(out, 0, sizeof(*out));
  uid = kube_jpath(dep, "metadata", "uid", NULL);
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rs_list, "items")) {
    long rev;
    if (!owned_by(it, uid) || (rev = revision_of(it)) < 0)
      continue;
    if (rev > latest_rev) {
      prev_rev = latest_rev;
      prev = latest;
      latest_rev = rev;
      latest = it;
    } else if (rev > prev_rev) {
      prev_rev = rev;
      prev = it;
    }
  }
  if (!prev) {
    snprintf(note, notelen, "no rollout history found for deployment \"%s\"", name);
    return KUBE_UNDO_REFUSED;
  }
  /* Templates are the same when they differ only in pod-template-hash. */
  tmpl = template_without_hash(prev);
  cur = template_without_hash(dep);
  same = cJSON_Compare(tmpl, cur, 1);
  cJSON_Delete(cur);
  if (same) {
    cJSON_Delete(tmpl);
    snprintf(note, notelen, "skipped rollback (current template already matches revision %ld)",
             prev_rev);
    return KUBE_UNDO_NOTHING;
  }
  ann = undo_annotations(dep, prev);
  tj = cJSON_PrintUnformatted(tmpl);
  aj = cJSON_PrintUnformatted(ann);
  snprintf(note, notelen, "rolling back from revision %ld to revision %ld", latest_rev, prev_rev);
  if (!tj || !aj || kube_req_undo(ns, name, tj, aj, resource_version_of(dep), out))
    ret = KUBE_UNDO_FAILED;
  free(tj);
  free(aj);
  cJSON_Delete(tmpl);
  cJSON_Delete(ann);
  return ret;
}

/* ---- resuming recorded requests ---------------------------------------- */

int
kube_req_has_test(const struct kube_req *r)
{
  cJSON *ops, *op;
  int found = 0;

  if (!r->content_type || strcmp(r->content_type, KUBE_CT_JSONPATCH) != 0 || !r->body)
    return 0;
  ops = cJSON_Parse(r->body);
  cJSON_ArrayForEach(op, ops)
  {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(op, "op");
    if (cJSON_IsString(o) && strcmp(o->valuestring, "test") == 0)
      found = 1;
  }
  cJSON_Delete(ops);
  return found;
}

/* Whether obj already holds every value patch sets (strategic merge or
 * merge patch): maps by key, a null deletes (the key must be absent),
 * lists of objects with a "name" by name (the strategic merge keys of
 * containers and env), other lists and scalars whole. */
static int
contains(const cJSON *obj, const cJSON *patch)
{
  const cJSON *it;

  if (cJSON_IsObject(patch)) {
    if (!cJSON_IsObject(obj))
      return 0;
    cJSON_ArrayForEach(it, patch)
    {
      const cJSON *have = cJSON_GetObjectItemCaseSensitive(obj, it->string);
      if (it->string[0] == '$')
        return 0; /* a directive: not judged here */
      if (cJSON_IsNull(it) ? have != NULL : !contains(have, it))
        return 0;
    }
    return 1;
  }
  if (cJSON_IsArray(patch) && cJSON_IsArray(obj)) {
    int named = cJSON_GetArraySize(patch) > 0;
    cJSON_ArrayForEach(it, patch)
    {
      if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "name")))
        named = 0;
    }
    if (!named)
      return cJSON_Compare(obj, patch, 1);
    cJSON_ArrayForEach(it, patch)
    {
      const char *nm = cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring;
      const cJSON *o, *match = NULL;
      cJSON_ArrayForEach(o, obj)
      {
        const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (cJSON_IsString(on) && strcmp(on->valuestring, nm) == 0)
          match = o;
      }
      if (!match || !contains(match, it))
        return 0;
    }
    return 1;
  }
  return obj && cJSON_Compare(obj, patch, 1);
}

int
kube_patch_applied(const struct kube_req *r, const struct cJSON *obj)
{
  cJSON *patch;
  int ok;

  if (strcmp(r->method, "PATCH") != 0 || !r->content_type || !r->body
      || (strcmp(r->content_type, KUBE_CT_STRATEGIC) != 0
          && strcmp(r->content_type, KUBE_CT_MERGE) != 0))
    return 0; /* a JSON patch or a delete: not judged from the object */
  patch = cJSON_Parse(r->body);
  ok = cJSON_IsObject(patch) && contains(obj, patch);
  cJSON_Delete(patch);
  return ok;
}

static int
path_ends_with(const char *path, const char *suffix)
{
  size_t n = strlen(path), m = strlen(suffix);
  return n >= m && strcmp(path + n - m, suffix) == 0;
}

cJSON *
kube_guard_of(const char *path, const struct cJSON *obj)
{
  cJSON *g = cJSON_CreateObject();
  const cJSON *v;

  cJSON_AddStringToObject(g, "path", path);
  if (path_ends_with(path, "/scale")) {
    v = kube_jpath(obj, "spec", "replicas", NULL);
    if (cJSON_IsNumber(v))
      cJSON_AddNumberToObject(g, "replicas", v->valuedouble);
  } else if (strstr(path, "/deployments/")) {
    v = kube_jpath(obj, "metadata", "generation", NULL);
    if (cJSON_IsNumber(v))
      cJSON_AddNumberToObject(g, "generation", v->valuedouble);
  } else if (strstr(path, "/pods/")) {
    v = kube_jpath(obj, "metadata", "uid", NULL);
    if (cJSON_IsString(v))
      cJSON_AddStringToObject(g, "uid", v->valuestring);
  } else {
    v = kube_jpath(obj, "metadata", "resourceVersion", NULL);
    if (cJSON_IsString(v))
      cJSON_AddStringToObject(g, "resourceVersion", v->valuestring);
  }
  if (cJSON_GetArraySize(g) < 2) {
    cJSON_Delete(g); /* the object says nothing to compare with later */
    return NULL;
  }
  return g;
}

enum kube_resume
kube_resume_decide(const struct kube_req *r, const struct cJSON *guard, const struct cJSON *cur,
                   char *note, size_t notelen)
{
  static const char *const keys[] = { "generation", "replicas", "uid", "resourceVersion" };
  const cJSON *want = NULL, *have = NULL;
  const char *key = NULL;

  for (size_t i = 0; i < RB_ARRAY_LEN(keys) && !want; i++) {
    want = cJSON_GetObjectItemCaseSensitive(guard, keys[i]);
    key = keys[i];
  }
  if (!want) {
    snprintf(note, notelen,
             "%s %s was recorded without the state of its object, so whether it changed "
             "since cannot be told",
             r->method, r->path);
    return KUBE_RESUME_CHANGED;
  }
  if (!cur) {
    if (strcmp(r->method, "DELETE") == 0) {
      snprintf(note, notelen, "%s is gone already", r->path);
      return KUBE_RESUME_DONE;
    }
    snprintf(note, notelen, "%s no longer exists", r->path);
    return KUBE_RESUME_CHANGED;
  }
  if (strcmp(key, "generation") == 0)
    have = kube_jpath(cur, "metadata", "generation", NULL);
  else if (strcmp(key, "replicas") == 0)
    have = kube_jpath(cur, "spec", "replicas", NULL);
  else if (strcmp(key, "uid") == 0)
    have = kube_jpath(cur, "metadata", "uid", NULL);
  else
    have = kube_jpath(cur, "metadata", "resourceVersion", NULL);
  if (have && cJSON_Compare(have, want, 1)) {
    snprintf(note, notelen, "%s unchanged since it was recorded (%s)", r->path, key);
    return KUBE_RESUME_SEND;
  }
  if (kube_patch_applied(r, cur)) {
    snprintf(note, notelen, "%s already holds what the recorded %s sets: it was applied", r->path,
             r->method);
    return KUBE_RESUME_DONE;
  }
  {
    char w[64], h[64];
    if (cJSON_IsNumber(want))
      snprintf(w, sizeof(w), "%.0f", want->valuedouble);
    else
      snprintf(w, sizeof(w), "%.60s", cJSON_IsString(want) ? want->valuestring : "?");
    if (cJSON_IsNumber(have))
      snprintf(h, sizeof(h), "%.0f", have->valuedouble);
    else
      snprintf(h, sizeof(h), "%.60s", cJSON_IsString(have) ? have->valuestring : "none");
    snprintf(note, notelen,
             "%s changed since the request was recorded (%s %s, now %s) and does not hold "
             "what it sets: someone else changed it",
             r->path, key, w, h);
  }
  return KUBE_RESUME_CHANGED;
}

/* ---- scale ------------------------------------------------------------- */

int
kube_scale_decide(const char *name, long current, const struct step *s, long *want, char *note,
                  size_t notelen)
{
  long w;

  if (s->has_replicas) {
    w = s->replicas;
    if (w == current) {
      snprintf(note, notelen, "%s has %ld replicas already: nothing to do", name, current);
      return 0;
    }
    if (w < current && s->direction == SCALE_UP) {
      snprintf(note, notelen,
               "%s has %ld replicas, more than %ld: this step only raises the count "
               "(direction up), so nothing is done",
               name, current, w);
      return 0;
    }
    if (w > current && s->direction == SCALE_DOWN) {
      snprintf(note, notelen,
               "%s has %ld replicas, fewer than %ld: this step only lowers the count "
               "(direction down), so nothing is done",
               name, current, w);
      return 0;
    }
    snprintf(note, notelen, "%s had %ld replicas; set to %ld", name, current, w);
    *want = w;
    return 1;
  }
  if (s->by > 0) {
    if (current >= s->max_replicas) {
      snprintf(note, notelen,
               "%s has %ld replicas, at or above this step's max %d: a positive by never "
               "lowers the count, so nothing is done",
               name, current, s->max_replicas);
      return 0;
    }
    w = current + s->by < s->max_replicas ? current + s->by : s->max_replicas;
    if (w < s->min_replicas)
      w = s->min_replicas;
  } else {
    if (current <= s->min_replicas) {
      snprintf(note, notelen,
               "%s has %ld replicas, at or below this step's min %d: a negative by never "
               "raises the count, so nothing is done",
               name, current, s->min_replicas);
      return 0;
    }
    w = current + s->by > s->min_replicas ? current + s->by : s->min_replicas;
  }
  snprintf(note, notelen, "%s had %ld replicas; %+d within %d..%d gives %ld", name, current, s->by,
           s->min_replicas, s->max_replicas, w);
  *want = w;
  return 1;
}

/* ---- owners ------------------------------------------------------------- */

int
kube_controller(const struct cJSON *obj, char *kind, size_t kn, char *name, size_t nn, char *uid,
                size_t un)
{
  const cJSON *o;

  kind[0] = name[0] = uid[0] = '\0';
  cJSON_ArrayForEach(o, kube_jpath(obj, "metadata", "ownerReferences", NULL))
  {
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "uid");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "controller")) && cJSON_IsString(k)
        && cJSON_IsString(n)) {
      snprintf(kind, kn, "%s", k->valuestring);
      snprintf(name, nn, "%s", n->valuestring);
      snprintf(uid, un, "%s", cJSON_IsString(u) ? u->valuestring : "");
      return 1;
    }
  }
  return 0;
}
