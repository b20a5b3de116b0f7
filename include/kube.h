/*
 * kube.h - a Kubernetes API client for remediation (libcurl, OpenSSL).
 *
 * Two halves.  The builders (kube_req_*) are pure: they turn a decision
 * into the exact request kubectl would send (method, path, content type,
 * body), so dry-run and `replay` can record precisely what a live run
 * sends.  kube_do() sends one request with the retry policy in one place:
 * connection errors, 429 and 5xx are retried with backoff (Retry-After
 * honoured, capped), everything else is returned to the caller, which
 * handles 409 by reading afresh.  Every call has a timeout.
 */
#ifndef RUNBOOKD_KUBE_H
#define RUNBOOKD_KUBE_H

#include "rb.h"

struct buf;
struct kvlist;
struct kube_client;

#define KUBE_CT_JSON "application/json"
#define KUBE_CT_STRATEGIC "application/strategic-merge-patch+json"
#define KUBE_CT_MERGE "application/merge-patch+json"
#define KUBE_CT_JSONPATCH "application/json-patch+json"

struct kube_req {
  char *method;       /* GET, PATCH, DELETE */
  char *path;         /* absolute path with query, e.g. /apis/apps/v1/... */
  char *content_type; /* NULL for GET */
  char *body;         /* NULL for GET */
};

struct kube_resp {
  long status;        /* HTTP status, 0 when no answer */
  char *body;
  size_t len;
  unsigned attempts;  /* how many times it was sent */
  /* From a Status object in the body (failures), else NULL. */
  char *reason;
  char *message;
};

struct kube_options {
  const char *api_url;    /* NULL: in-cluster from KUBERNETES_SERVICE_HOST */
  const char *token_file; /* NULL: the service account's (in-cluster only) */
  const char *ca_file;
  unsigned timeout_s;     /* per attempt */
  unsigned retries;       /* extra attempts for 429/5xx/no answer */
  unsigned backoff_ms;    /* first backoff; doubles, capped at 10 s */
};

/* Returns RB_ENOTFOUND when no cluster is configured (no URL and not
 * in-cluster): the caller then runs in dry-run.  err (RB_ERRLEN). */
rb_status kube_client_new(const struct kube_options *o, struct kube_client **out, char *err);
void kube_client_free(struct kube_client *c);
const char *kube_client_url(const struct kube_client *c);

/* Sends req.  RB_OK when an HTTP answer came (any status: check
 * resp->status); RB_EUNAVAIL when none did after the retries, or when c is
 * NULL (no cluster configured: nothing is sent, resp->message says so).
 * Thread-safe (each call uses its own curl handle).  resp is the caller's
 * (kube_resp_clear). */
rb_status kube_do(struct kube_client *c, const struct kube_req *req, struct kube_resp *resp);
void kube_resp_clear(struct kube_resp *r);
/* The longest wait between attempts, Retry-After included. */
#define KUBE_BACKOFF_CAP_MS 10000L
/* The wait an answer's header line asks for: line is one header line as
 * libcurl hands it (n bytes, not NUL-terminated).  For "Retry-After:
 * <seconds>", the seconds in milliseconds, at most KUBE_BACKOFF_CAP_MS;
 * -1 for any other line, a Retry-After with an HTTP-date or anything but
 * digits included (kube_do then waits its own backoff). */
long kube_retry_after_ms(const char *line, size_t n);
/* Fills r->reason and r->message from a Status object in a failed answer's
 * body (status >= 300); for a body that is not JSON (a text/plain 429),
 * r->message gets its first line (printable ASCII, at most 200 bytes);
 * leaves them NULL for any other body. */
void kube_status_parse(struct kube_resp *r);
void kube_req_clear(struct kube_req *r);

/* Appends {"method":..,"path":..,"contentType":..,"body":<json or string>}. */
void kube_req_to_json(struct buf *b, const struct kube_req *r);
/* Parses a request list written by kube_req_to_json; RB_EINVAL if it is not. */
rb_status kube_reqs_from_json(const char *json, struct kube_req **out, size_t *n);
void kube_reqs_free(struct kube_req *v, size_t n);

/* Builders: the requests kubectl sends.  Names must already be valid. */
rb_status kube_req_get(const char *path, struct kube_req *out);
/* kubectl rollout restart: strategic merge of the restartedAt annotation. */
rb_status kube_req_restart(const char *ns, const char *name, const char *rfc3339,
                           struct kube_req *out);
/* kubectl scale: merge patch on the scale subresource. */
rb_status kube_req_scale(const char *ns, const char *name, int replicas, struct kube_req *out);
/* kubectl patch (strategic merge) of one container's resources / env. */
rb_status kube_req_set_resources(const char *ns, const char *name, const char *container,
                                 const struct kvlist *limits, const struct kvlist *requests,
                                 struct kube_req *out);
rb_status kube_req_set_env(const char *ns, const char *name, const char *container,
                           const struct kvlist *env, struct kube_req *out);
/* kubectl patch configmap (strategic merge of data). */
rb_status kube_req_patch_configmap(const char *ns, const char *name, const struct kvlist *data,
                                   struct kube_req *out);
/* kubectl delete pod NAME (one per pod, background propagation). */
rb_status kube_req_delete_pod(const char *ns, const char *pod, struct kube_req *out);
/* kubectl rollout undo: a JSON patch replacing /spec/template and
 * /metadata/annotations (template_json and annotations_json are JSON),
 * preceded, when resource_version is not NULL, by an RFC 6902 test of
 * /metadata/resourceVersion: the API server applies it only to the object
 * as it was read (a failed test is 422, and nothing changes). */
rb_status kube_req_undo(const char *ns, const char *name, const char *template_json,
                        const char *annotations_json, const char *resource_version,
                        struct kube_req *out);

/* Paths. */
void kube_path_deployment(char *out, size_t n, const char *ns, const char *name);
void kube_path_scale(char *out, size_t n, const char *ns, const char *name);
void kube_path_pod(char *out, size_t n, const char *ns, const char *name);
void kube_path_replicaset(char *out, size_t n, const char *ns, const char *name);
/* List paths with a label selector ("app=agentdb,tier=db"), URL-encoded. */
void kube_path_pods_selector(char *out, size_t n, const char *ns, const char *selector);
void kube_path_replicasets_selector(char *out, size_t n, const char *ns, const char *selector);

/* kubectl's rollout status for a Deployment object: 1 done, 0 waiting,
 * -1 failed (progress deadline exceeded); msg gets kubectl's words. */
int kube_rollout_status(const char *deployment_json, char *msg, size_t msglen);

struct cJSON;
/* o.a.b.c (b and c may be NULL for a shorter path), or NULL where the
 * path ends. */
struct cJSON *kube_jpath(const struct cJSON *o, const char *a, const char *b, const char *c);

/* kubectl rollout undo (to the previous revision), decided from the API
 * server's answers as parsed by cJSON.  First the Deployment object dep
 * (named name): 1 with its spec.selector.matchLabels as "k=v,k2=v2" in
 * sel (n bytes), to list its ReplicaSets with; 0 when it is paused or has
 * no such selector (that fits), note (notelen) saying so in kubectl's
 * words. */
int kube_undo_selector(const struct cJSON *dep, const char *name, char *sel, size_t n, char *note,
                       size_t notelen);

enum kube_undo {
  KUBE_UNDO_PATCH = 0, /* *out is the JSON patch to send */
  KUBE_UNDO_REFUSED,   /* no previous revision */
  KUBE_UNDO_NOTHING,   /* the template is already the previous revision's */
  KUBE_UNDO_FAILED     /* out of memory */
};
/* Then the ReplicaSetList rs_list that selector matched: among the
 * ReplicaSets dep controls (an ownerReference with controller true and
 * dep's uid) and that carry a deployment.kubernetes.io/revision, the one
 * before the latest; its template (without pod-template-hash) and
 * annotations go into the request kube_req_undo builds, with a test of
 * dep's resourceVersion, in *out (the caller's to clear; zeroed unless
 * KUBE_UNDO_PATCH).  note (notelen) says what was decided. */
enum kube_undo kube_undo_decide(const char *ns, const char *name, const struct cJSON *dep,
                                const struct cJSON *rs_list, struct kube_req *out, char *note,
                                size_t notelen);

/* obj's controller (the ownerReference with controller true): 1 with its
 * kind, name and uid copied (truncated to kn, nn, un bytes), else 0. */
int kube_controller(const struct cJSON *obj, char *kind, size_t kn, char *name, size_t nn,
                    char *uid, size_t un);

struct step;
/* A scale step's new count, from the current one: 1 with *want, or 0 when
 * the step must not move the count (it is there already; a positive by at
 * or above max, a negative at or below min; an absolute replicas the other
 * way than its direction).  note (notelen) says what was decided, with the
 * count before. */
int kube_scale_decide(const char *name, long current, const struct step *s, long *want, char *note,
                      size_t notelen);

/* ---- undoing a run's own changes (rollout_undo in on_failure) ----------
 *
 * The Deployment's pod template is recorded before the run's first change
 * of it (the baseline) and after each of its changes (what runbookd
 * wrote); on_failure restores the baseline, and only over runbookd's own
 * last write. */

/* obj's spec.template without the pod-template-hash label (as templates
 * are compared); NULL when there is none.  The caller frees it. */
struct cJSON *kube_template_of(const struct cJSON *obj);

/* The decision: KUBE_UNDO_NOTHING when there is no baseline or no change
 * of runbookd's was applied (written NULL and not uncertain: e.g. its
 * first PATCH failed), or when dep's template is the baseline already;
 * KUBE_UNDO_REFUSED when dep is paused, when dep's template is not the one
 * runbookd last wrote (someone else changed it since), or when runbookd's
 * last change got no answer (uncertain) and the template is not its
 * earlier one; else KUBE_UNDO_PATCH with kube_restore_request's patch.
 * note (notelen) says which. */
enum kube_undo kube_restore_decide(const char *ns, const char *name, const struct cJSON *dep,
                                   const struct cJSON *baseline,
                                   const struct cJSON *baseline_annotations,
                                   const struct cJSON *written, int uncertain, struct kube_req *out,
                                   char *note, size_t notelen);
/* kubectl's undo patch restoring baseline on dep: a test of dep's
 * resourceVersion, /spec/template replaced by baseline, and
 * /metadata/annotations by dep's own kept ones plus baseline_annotations'
 * others (the Deployment's annotations when the baseline was taken). */
rb_status kube_restore_request(const char *ns, const char *name, const struct cJSON *dep,
                               const struct cJSON *baseline,
                               const struct cJSON *baseline_annotations, struct kube_req *out);

/* ---- resuming requests recorded before a restart ----------------------
 *
 * Before a change is sent, what its object looked like is recorded with it
 * (a "guard"); after a restart the object is read again and the request is
 * re-sent only if nothing changed since. */

/* The guard of a request on path, from the object just read there: the
 * Deployment's metadata.generation (its spec), the Scale's spec.replicas,
 * the Pod's uid (a pod of the same name is another pod), or else the
 * object's resourceVersion (ConfigMaps).  NULL when obj has none of it. */
struct cJSON *kube_guard_of(const char *path, const struct cJSON *obj);

enum kube_resume {
  KUBE_RESUME_SEND = 0, /* unchanged since recorded: re-send the request */
  KUBE_RESUME_DONE,     /* applied already (or, for a DELETE, gone): skip it */
  KUBE_RESUME_CHANGED   /* changed by someone else: do not send */
};
/* Decides what to do with recorded request r, given its guard and the
 * object as read now (cur; NULL when the API answered 404).  note
 * (notelen) says why. */
enum kube_resume kube_resume_decide(const struct kube_req *r, const struct cJSON *guard,
                                    const struct cJSON *cur, char *note, size_t notelen);

/* Whether obj already holds every value the strategic-merge or merge patch
 * r sets (named list elements matched by name); 0 for other requests. */
int kube_patch_applied(const struct kube_req *r, const struct cJSON *obj);

/* Whether r is a JSON patch with a test operation (a 422 answer then means
 * the object changed since it was read, like a 409). */
int kube_req_has_test(const struct kube_req *r);

#endif
