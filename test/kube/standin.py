#!/usr/bin/env python3
"""A stand-in Kubernetes API server for runbookd's tests (Python 3 stdlib only).

It serves the paths, content types, Status objects and error codes of the
real kube-apiserver for the few resources runbookd touches (apps/v1
Deployments with their /scale subresource, ReplicaSets, v1 Pods, ConfigMaps,
Namespaces), applies the three patch types the way the API server does, and
simulates the deployment and ReplicaSet controllers synchronously.  A
non-Kubernetes admin API under /_standin/ lets tests inspect the requests
received, inject faults and choose how rollouts converge.  See README.md.

Command line:
    python3 standin.py --listen 127.0.0.1:0 [--state FILE.json] [--token T]
                       [--tls-cert C --tls-key K]
prints "standin listening port=NNNNN" once it accepts connections and stops
on SIGTERM/SIGINT.

In process:
    s = StandIn(state="ran-optimization.json", token=None)
    port = s.start(); ...; s.stop()
"""

import argparse
import copy
import datetime
import http.server
import json
import random
import re
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from decimal import Decimal, InvalidOperation

# --------------------------------------------------------------------------
# Resource table

RESOURCES = {
    "deployments": {"group": "apps", "version": "v1", "kind": "Deployment"},
    "replicasets": {"group": "apps", "version": "v1", "kind": "ReplicaSet"},
    "pods": {"group": "", "version": "v1", "kind": "Pod"},
    "configmaps": {"group": "", "version": "v1", "kind": "ConfigMap"},
    "namespaces": {"group": "", "version": "v1", "kind": "Namespace"},
}


def api_version(res):
    r = RESOURCES[res]
    return r["group"] + "/" + r["version"] if r["group"] else r["version"]


def qualified(res):
    """schema.GroupResource.String(): "deployments.apps", "pods"."""
    g = RESOURCES[res]["group"]
    return res + "." + g if g else res


def qualified_kind(res):
    """schema.GroupKind.String(): "Deployment.apps", "ConfigMap"."""
    g = RESOURCES[res]["group"]
    k = RESOURCES[res]["kind"]
    return k + "." + g if g else k


PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]
SUPPORTED_PATCH_TYPES = PATCH_TYPES[:3]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
# Annotations the deployment controller does not copy from a Deployment to
# its ReplicaSets (deployment_util.annotationsToSkip).
ANNOTATIONS_TO_SKIP = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}
SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
NODE_NAME = "standin-node-1"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# Status objects (k8s.io/apimachinery/pkg/api/errors)

class ApiError(Exception):
    def __init__(self, status, headers=None):
        super().__init__(status.get("message", ""))
        self.status = status
        self.code = status.get("code", 500)
        self.headers = headers or {}


def status_obj(code, reason, message, details=None, status="Failure"):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": status}
    if message:
        s["message"] = message
    if reason:
        s["reason"] = reason
    if details is not None:
        s["details"] = details
    if code:
        s["code"] = code
    return s


def res_details(res, name=None, **extra):
    d = {}
    if name:
        d["name"] = name
    if RESOURCES[res]["group"]:
        d["group"] = RESOURCES[res]["group"]
    d["kind"] = res
    d.update(extra)
    return d


def err_not_found(res, name):
    return ApiError(status_obj(404, "NotFound", '%s "%s" not found' % (qualified(res), name),
                               res_details(res, name)))


def err_already_exists(res, name):
    return ApiError(status_obj(409, "AlreadyExists", '%s "%s" already exists' % (qualified(res), name),
                               res_details(res, name)))


CONFLICT_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def err_conflict(res, name, why=CONFLICT_MODIFIED):
    return ApiError(status_obj(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": %s' % (qualified(res), name, why),
                               res_details(res, name)))


class FieldError:
    """k8s.io/apimachinery/pkg/util/validation/field.Error."""

    def __init__(self, typ, field, value=None, detail=""):
        self.typ, self.field, self.value, self.detail = typ, field, value, detail

    def body(self):
        if self.typ == "FieldValueRequired":
            return "Required value" + (": " + self.detail if self.detail else "")
        if self.typ == "FieldValueDuplicate":
            return "Duplicate value: %s" % go_value(self.value)
        if self.typ == "FieldValueNotSupported":
            return "Unsupported value: %s: %s" % (go_value(self.value), self.detail)
        if self.typ == "FieldValueForbidden":
            return "Forbidden: " + self.detail
        return "Invalid value: %s: %s" % (go_value(self.value), self.detail)

    def __str__(self):
        return "%s: %s" % (self.field, self.body())


def go_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "map[string]string{%s}" % ", ".join(
            "%s:%s" % (json.dumps(k), json.dumps(x) if isinstance(x, str) else json.dumps(x))
            for k, x in sorted(v.items()))
    return json.dumps(v)


def err_invalid(kind_str, group, kind, name, errors):
    causes = [{"reason": e.typ, "message": e.body(), "field": e.field} for e in errors]
    if len(errors) == 1:
        agg = str(errors[0])
    else:
        agg = "[" + ", ".join(str(e) for e in errors) + "]"
    details = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details["causes"] = causes
    return ApiError(status_obj(422, "Invalid", '%s "%s" is invalid: %s' % (kind_str, name, agg), details))


def err_invalid_res(res, name, errors):
    return err_invalid(qualified_kind(res), RESOURCES[res]["group"], RESOURCES[res]["kind"], name, errors)


def err_bad_request(message):
    return ApiError(status_obj(400, "BadRequest", message))


def err_generic(code):
    """NewGenericServerResponse with an empty resource (what go-restful and the
    JSON-patch failure path produce)."""
    table = {
        400: ("BadRequest", "the server rejected our request for an unknown reason"),
        404: ("NotFound", "the server could not find the requested resource"),
        405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
        422: ("Invalid", "the server rejected our request due to an error in our request"),
        503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504: ("Timeout", "the server was unable to return a response in the time allotted, "
                         "but may still be processing the request"),
        429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    }
    reason, msg = table[code]
    return ApiError(status_obj(code, reason, msg, {}))


def err_unsupported_media(accepted):
    return ApiError(status_obj(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media types include: "
                               + ", ".join(accepted)))


def err_unauthorized():
    return ApiError(status_obj(401, "Unauthorized", "Unauthorized"))


def err_internal(message):
    return ApiError(status_obj(500, "InternalError", "Internal error occurred: " + message,
                               {"causes": [{"message": message}]}))


def err_unknown_500(message):
    """A non-Status error converted by ErrorToAPIStatus: code 500, no reason."""
    return ApiError(status_obj(500, "", message))


def err_too_many(retry_after):
    return ApiError(status_obj(429, "TooManyRequests", "Too many requests, please try again later.",
                               {"retryAfterSeconds": retry_after}),
                    {"Retry-After": str(retry_after)})


def err_timeout():
    return ApiError(status_obj(504, "Timeout",
                               "Timeout: request did not complete within requested timeout - context deadline exceeded",
                               {}))


def err_unavailable(message="the server is currently unable to handle the request"):
    return ApiError(status_obj(503, "ServiceUnavailable", message, {}))


def go_json_error(text, exc):
    """encoding/json's wording for the syntax error Python found."""
    pos = getattr(exc, "pos", None)
    msg = getattr(exc, "msg", "")
    if pos is None or pos >= len(text) or "Unterminated" in msg:
        return "unexpected end of JSON input"
    c = text[pos]
    ch = "'\\''" if c == "'" else "'%s'" % c
    if msg.startswith("Expecting property name"):
        return "invalid character %s looking for beginning of object key string" % ch
    if msg.startswith("Expecting ',' delimiter"):
        return "invalid character %s after object key:value pair" % ch
    if msg.startswith("Expecting ':' delimiter"):
        return "invalid character %s after object key" % ch
    if msg.startswith("Extra data"):
        return "invalid character %s after top-level value" % ch
    return "invalid character %s looking for beginning of value" % ch


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError as e:
        raise err_bad_request(go_json_error(text, e))


# --------------------------------------------------------------------------
# Quantities (k8s.io/apimachinery/pkg/api/resource)

QUANTITY_RE = re.compile(r"^([+-]?[0-9]*\.?[0-9]*)((?:[KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
SUFFIX = {"": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10 ** 3, "M": 10 ** 6,
          "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30,
          "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
QUANTITY_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def parse_quantity(q):
    if isinstance(q, (int, float)) and not isinstance(q, bool):
        return Decimal(str(q))
    if not isinstance(q, str):
        return None
    m = QUANTITY_RE.match(q)
    if not m or m.group(1) in ("", "+", "-", ".") or m.group(1).count(".") > 1:
        return None
    try:
        num = Decimal(m.group(1))
    except InvalidOperation:
        return None
    suf = m.group(2) or ""
    if suf[:1] in ("e", "E"):
        return num * (Decimal(10) ** int(suf[1:]))
    return num * Decimal(SUFFIX[suf])


# --------------------------------------------------------------------------
# Label and field selectors (k8s.io/apimachinery/pkg/labels)

LABEL_TOKEN = r"[A-Za-z0-9][-A-Za-z0-9_./]*"


def split_selector(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def parse_label_selector(s):
    """Returns a list of (key, op, values). op in =, !=, in, notin, exists, !exists."""
    reqs = []
    for part in split_selector(s or ""):
        p = part.strip()
        m = re.match(r"^!\s*(%s)$" % LABEL_TOKEN, p)
        if m:
            reqs.append((m.group(1), "!exists", []))
            continue
        m = re.match(r"^(%s)\s+(in|notin)\s*\(([^()]*)\)$" % LABEL_TOKEN, p)
        if m:
            vals = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = re.match(r"^(%s)\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)$" % LABEL_TOKEN, p)
        if m:
            reqs.append((m.group(1), "!=" if m.group(2) == "!=" else "=", [m.group(3)]))
            continue
        m = re.match(r"^(%s)$" % LABEL_TOKEN, p)
        if m:
            reqs.append((m.group(1), "exists", []))
            continue
        raise err_bad_request("unable to parse requirement: found '%s', expected: in, notin, =, ==, !=, gt, lt" % p)
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "=" and not (has and v == vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and not (has and v in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
    return True


def selector_matches(sel, labels):
    """metav1.LabelSelector (matchLabels + matchExpressions)."""
    if not sel:
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return bool(sel.get("matchLabels") or sel.get("matchExpressions"))


def selector_string(sel):
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op in ("In", "NotIn"):
            parts.append("%s %s (%s)" % (e["key"], op.lower(), ",".join(e.get("values") or [])))
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(parts)


FIELD_SELECTORS = {
    "pods": ["metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
             "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP",
             "status.nominatedNodeName"],
}


def parse_field_selector(res, s):
    reqs = []
    for part in split_selector(s or ""):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not m:
            raise err_bad_request("invalid selector: '%s'; can't understand '%s'" % (s, part))
        field = m.group(1)
        allowed = FIELD_SELECTORS.get(res, ["metadata.name", "metadata.namespace"])
        if field not in allowed:
            raise err_bad_request('"%s" is not a known field selector: only "%s"'
                                  % (field, '", "'.join(["metadata.name", "metadata.namespace"])))
        reqs.append((field, m.group(2) != "!=", m.group(3)))
    return reqs


def fields_match(reqs, obj):
    for field, eq, val in reqs:
        cur = obj
        for p in field.split("."):
            cur = cur.get(p) if isinstance(cur, dict) else None
        cur = "" if cur is None else str(cur)
        if (cur == val) != eq:
            return False
    return True


# --------------------------------------------------------------------------
# Patches

class PatchError(Exception):
    def __init__(self, apierr):
        super().__init__(apierr.status.get("message"))
        self.apierr = apierr


# RFC 7386
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


# RFC 6902 (evanphx/json-patch semantics)
class JsonPatchFailed(Exception):
    pass


def pointer_tokens(p):
    if p == "":
        return []
    if not isinstance(p, str) or not p.startswith("/"):
        raise JsonPatchFailed("JSON pointer must be empty or start with a \"/\": %r" % p)
    return [t.replace("~1", "/").replace("~0", "~") for t in p[1:].split("/")]


def _container(doc, tokens, path):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list) and re.match(r"^(0|[1-9][0-9]*)$", t) and int(t) < len(cur):
            cur = cur[int(t)]
        else:
            raise JsonPatchFailed("doc is missing path: \"%s\": missing value" % path)
    if not isinstance(cur, (dict, list)):
        raise JsonPatchFailed("doc is missing path: \"%s\": missing value" % path)
    return cur


def _index(lst, t, path, allow_end=False):
    if allow_end and t == "-":
        return len(lst)
    if not re.match(r"^(0|[1-9][0-9]*)$", t):
        raise JsonPatchFailed("Unable to access invalid index: %s" % t)
    i = int(t)
    if i > len(lst) or (i == len(lst) and not allow_end):
        raise JsonPatchFailed("Unable to access invalid index: %d" % i)
    return i


def jp_get(doc, path):
    tokens = pointer_tokens(path)
    if not tokens:
        return doc
    c = _container(doc, tokens, path)
    t = tokens[-1]
    if isinstance(c, dict):
        if t not in c:
            raise JsonPatchFailed("doc is missing key: %s: missing value" % path)
        return c[t]
    return c[_index(c, t, path)]


def jp_remove(doc, path, op="remove"):
    tokens = pointer_tokens(path)
    if not tokens:
        raise JsonPatchFailed("%s operation does not apply: doc is missing path: %s" % (op, path))
    c = _container(doc, tokens, path)
    t = tokens[-1]
    if isinstance(c, dict):
        if t not in c:
            raise JsonPatchFailed("%s operation does not apply: doc is missing key: %s: missing value" % (op, path))
        return c.pop(t)
    return c.pop(_index(c, t, path))


def jp_add(doc, path, value, replace=False):
    tokens = pointer_tokens(path)
    if not tokens:
        return value
    c = _container(doc, tokens, path)
    t = tokens[-1]
    if isinstance(c, dict):
        if replace and t not in c:
            raise JsonPatchFailed("replace operation does not apply: doc is missing key: %s: missing value" % path)
        c[t] = value
    else:
        if replace:
            c[_index(c, t, path)] = value
        else:
            c.insert(_index(c, t, path, allow_end=True), value)
    return doc


def json_patch(doc, ops):
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict):
            raise JsonPatchFailed("Unexpected kind: <nil>")
        kind = op.get("op")
        path = op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise JsonPatchFailed("%s operation does not apply: value is missing" % kind if kind != "test"
                                  else "testing value %s failed: value is missing" % path)
        if kind == "add":
            doc = jp_add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            jp_remove(doc, path)
        elif kind == "replace":
            doc = jp_add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind == "move":
            frm = op.get("from")
            if isinstance(frm, str) and isinstance(path, str) and path.startswith(frm + "/"):
                raise JsonPatchFailed("move operation does not apply: from is a prefix of path")
            v = jp_remove(doc, frm, "move")
            doc = jp_add(doc, path, v)
        elif kind == "copy":
            v = jp_get(doc, op.get("from"))
            doc = jp_add(doc, path, copy.deepcopy(v))
        elif kind == "test":
            try:
                cur = jp_get(doc, path)
            except JsonPatchFailed:
                raise JsonPatchFailed("testing value %s failed: test failed" % path)
            if _canon(cur) != _canon(op["value"]):
                raise JsonPatchFailed("testing value %s failed: test failed" % path)
        else:
            raise JsonPatchFailed("Unexpected kind: %s" % kind)
    return doc


# Strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch), with
# the patchMergeKey/patchStrategy tags of the core and apps types we serve.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "ports": "containerPort", "imagePullSecrets": "name", "hostAliases": "ip",
    "ownerReferences": "uid", "conditions": "type", "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name", "schedulingGates": "name",
}
PRIMITIVE_MERGE_LISTS = {"finalizers"}
_DELETE = object()


def _smp_err(code_or_err, msg=None):
    if isinstance(code_or_err, ApiError):
        return PatchError(code_or_err)
    if code_or_err == 400:
        return PatchError(err_bad_request(msg))
    return PatchError(err_unknown_500(msg))


def go_map(m):
    if isinstance(m, dict):
        return "map[" + " ".join("%s:%s" % (k, go_map(v)) for k, v in sorted(m.items())) + "]"
    if isinstance(m, list):
        return "[" + " ".join(go_map(v) for v in m) + "]"
    return str(m)


def strip_directives(v):
    if isinstance(v, dict):
        if v.get("$patch") == "delete":
            return _DELETE
        out = {}
        for k, x in v.items():
            if k.startswith("$"):
                continue
            if x is None:
                continue
            s = strip_directives(x)
            if s is not _DELETE:
                out[k] = s
        return out
    if isinstance(v, list):
        return [strip_directives(x) for x in v if not (isinstance(x, dict) and "$patch" in x and len(x) == 1)]
    return v


def smp_map(orig, patch, path=()):
    directive = patch.get("$patch")
    if directive == "replace":
        return strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise _smp_err(400, "Unknown patch type: %s in map: %s" % (directive, go_map(patch)))
    result = dict(orig) if isinstance(orig, dict) else {}
    later = []
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            later.append((k, v))
            continue
        if v is None:
            result.pop(k, None)
            continue
        ov = result.get(k)
        if isinstance(v, dict):
            m = smp_map(ov if isinstance(ov, dict) else {}, v, path + (k,))
            if m is _DELETE:
                result.pop(k, None)
            else:
                result[k] = m
        elif isinstance(v, list):
            result[k] = smp_list(ov if isinstance(ov, list) else [], v, k, path)
        else:
            result[k] = v
    for k, v in later:
        field = k.split("/", 1)[1]
        if not isinstance(v, list):
            raise _smp_err(400, "invalid patch format for primitive list")
        if field in result and isinstance(result[field], list):
            result[field] = [x for x in result[field] if x not in v]
    for k, order in patch.items():
        if k.startswith("$setElementOrder/") and isinstance(order, list):
            field = k.split("/", 1)[1]
            lst = result.get(field)
            if isinstance(lst, list):
                result[field] = _apply_order(lst, order, MERGE_KEYS.get(field))
    retain = patch.get("$retainKeys")
    if retain is not None:
        if not isinstance(retain, list):
            raise _smp_err(400, "invalid patch format for retainKeys")
        for key in list(result):
            if key not in retain:
                del result[key]
    return result


def _apply_order(lst, order, mk):
    """$setElementOrder: listed elements first, in the given order; others after."""
    def key(x):
        return x.get(mk) if (mk and isinstance(x, dict)) else x
    wanted = [key(o) for o in order]
    listed = [x for w in wanted for x in lst if key(x) == w]
    return listed + [x for x in lst if key(x) not in wanted]


def smp_list(orig, patch, field, path):
    mk = MERGE_KEYS.get(field)
    if field == "ports" and "containers" not in path and "initContainers" not in path \
            and "ephemeralContainers" not in path:
        mk = None
    if mk is None:
        if field in PRIMITIVE_MERGE_LISTS:
            out = list(orig)
            for x in patch:
                if x not in out:
                    out.append(x)
            return out
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            return [strip_directives(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        return [strip_directives(x) for x in patch]
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [strip_directives(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    result = copy.deepcopy(orig)
    for e in patch:
        if not isinstance(e, dict):
            raise _smp_err(400, "unable to find api field in struct %s for the json field %q" % (field, field))
        if e.get("$patch") == "delete":
            if mk not in e:
                raise _smp_err(500, "map: %s does not contain declared merge key: %s" % (go_map(e), mk))
            result = [x for x in result if not (isinstance(x, dict) and x.get(mk) == e[mk])]
            continue
        if mk not in e:
            raise _smp_err(500, "map: %s does not contain declared merge key: %s" % (go_map(e), mk))
        for i, x in enumerate(result):
            if isinstance(x, dict) and x.get(mk) == e[mk]:
                m = smp_map(x, e, path + (field,))
                result[i] = m
                break
        else:
            m = smp_map({}, e, path + (field,))
            if m is not _DELETE:
                result.append(m)
    return result


def strategic_merge_patch(doc, patch):
    if not isinstance(patch, dict):
        raise _smp_err(400, "json: cannot unmarshal %s into Go value of type map[string]interface {}"
                       % ("array" if isinstance(patch, list) else "number" if isinstance(patch, (int, float))
                          else "string"))
    out = smp_map(doc, patch)
    if out is _DELETE:
        return {}
    return out


# --------------------------------------------------------------------------
# Defaulting and validation

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            c.setdefault("resources", {})
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            img = c.get("image") or ""
            if "imagePullPolicy" not in c:
                tag = img.rsplit("/", 1)[-1]
                c["imagePullPolicy"] = "Always" if (":" not in tag or tag.endswith(":latest")) and "@" not in img \
                    else "IfNotPresent"
            for p in c.get("ports") or []:
                if isinstance(p, dict):
                    p.setdefault("protocol", "TCP")
    for v in spec.get("volumes") or []:
        if isinstance(v, dict) and isinstance(v.get("configMap"), dict):
            v["configMap"].setdefault("defaultMode", 420)


def default_deployment(d):
    spec = d.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strat = spec.setdefault("strategy", {})
    strat.setdefault("type", "RollingUpdate")
    if strat["type"] == "RollingUpdate":
        ru = strat.setdefault("rollingUpdate", {})
        ru.setdefault("maxUnavailable", "25%")
        ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    tmpl = spec.setdefault("template", {})
    tmpl.setdefault("metadata", {})
    tmpl["metadata"].setdefault("creationTimestamp", None)
    default_pod_spec(tmpl.setdefault("spec", {}))


def _type_errors(obj, res):
    """Type errors the real server finds while decoding into Go structs."""
    errs = []

    def want(v, t, field):
        if v is not None and not isinstance(v, t) or (t is int and isinstance(v, bool)):
            tn = {str: "string", int: "int32", dict: "object", list: "array", bool: "bool"}[t]
            errs.append("json: cannot unmarshal %s into Go struct field %s of type %s"
                        % (type(v).__name__.replace("str", "string").replace("dict", "object")
                           .replace("list", "array").replace("int", "number").replace("float", "number"),
                           field, tn))

    md = obj.get("metadata") or {}
    for f in ("labels", "annotations"):
        for k, v in (md.get(f) or {}).items():
            want(v, str, "ObjectMeta.metadata.%s" % f)
    if res == "configmaps":
        for k, v in (obj.get("data") or {}).items():
            want(v, str, "ConfigMap.data")
    if res in ("deployments", "replicasets"):
        spec = obj.get("spec") or {}
        want(spec.get("replicas"), int, "%sSpec.spec.replicas" % RESOURCES[res]["kind"])
        for k, v in ((spec.get("template") or {}).get("metadata") or {}).get("annotations", {}).items():
            want(v, str, "ObjectMeta.spec.template.metadata.annotations")
        pod_spec = (spec.get("template") or {}).get("spec") or {}
    elif res == "pods":
        pod_spec = obj.get("spec") or {}
    else:
        pod_spec = {}
    for c in pod_spec.get("containers") or []:
        for e in (c.get("env") or []) if isinstance(c, dict) else []:
            if isinstance(e, dict):
                want(e.get("value"), str, "EnvVar.spec.template.spec.containers.env.value")
    return errs


def validate_containers(containers, base, errs, key="containers"):
    if not containers:
        if key == "containers":
            errs.append(FieldError("FieldValueRequired", base))
        return
    seen = set()
    for i, c in enumerate(containers):
        p = "%s[%d]" % (base, i)
        if not isinstance(c, dict):
            errs.append(FieldError("FieldValueInvalid", p, c, "must be an object"))
            continue
        name = c.get("name")
        if not name:
            errs.append(FieldError("FieldValueRequired", p + ".name"))
        elif not isinstance(name, str) or not DNS1123_LABEL.match(name) or len(name) > 63:
            errs.append(FieldError("FieldValueInvalid", p + ".name", name,
                                   "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                                   "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                                   "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"))
        elif name in seen:
            errs.append(FieldError("FieldValueDuplicate", p + ".name", name))
        seen.add(name)
        if not c.get("image"):
            errs.append(FieldError("FieldValueRequired", p + ".image"))
        for j, e in enumerate(c.get("env") or []):
            if not isinstance(e, dict) or not e.get("name"):
                errs.append(FieldError("FieldValueRequired", "%s.env[%d].name" % (p, j)))
        res = c.get("resources") or {}
        vals = {}
        for kind in ("limits", "requests"):
            for rname, q in (res.get(kind) or {}).items():
                v = parse_quantity(q)
                if v is None:
                    errs.append(FieldError("FieldValueInvalid", "%s.resources.%s[%s]" % (p, kind, rname), q,
                                           QUANTITY_MSG))
                    continue
                if v < 0:
                    errs.append(FieldError("FieldValueInvalid", "%s.resources.%s[%s]" % (p, kind, rname), q,
                                           "must be greater than or equal to 0"))
                vals[(kind, rname)] = (v, q)
        for (kind, rname), (v, q) in vals.items():
            if kind == "requests" and ("limits", rname) in vals and v > vals[("limits", rname)][0]:
                errs.append(FieldError("FieldValueInvalid", "%s.resources.requests" % p, q,
                                       "must be less than or equal to %s limit of %s"
                                       % (rname, vals[("limits", rname)][1])))
        for j, port in enumerate(c.get("ports") or []):
            cp = port.get("containerPort") if isinstance(port, dict) else None
            if not isinstance(cp, int) or not 1 <= cp <= 65535:
                errs.append(FieldError("FieldValueInvalid", "%s.ports[%d].containerPort" % (p, j), cp,
                                       "must be between 1 and 65535, inclusive"))


def validate_meta(obj, errs, create):
    md = obj.get("metadata") or {}
    name = md.get("name")
    if create:
        if not name:
            errs.append(FieldError("FieldValueRequired", "metadata.name", detail="name or generateName is required"))
        elif not DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            errs.append(FieldError("FieldValueInvalid", "metadata.name", name,
                                   "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                   "characters, '-' or '.', and must start and end with an alphanumeric character "
                                   "(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                                   "(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"))


def validate(res, obj, old=None):
    """Returns an ApiError (422 Invalid) or None."""
    name = (obj.get("metadata") or {}).get("name", "")
    terrs = _type_errors(obj, res)
    if terrs:
        return err_invalid("", "", "", "", [FieldError("FieldValueInvalid", "patch", go_map(obj), terrs[0])]) \
            if old is not None else err_bad_request(terrs[0])
    errs = []
    validate_meta(obj, errs, old is None)
    if res in ("deployments", "replicasets"):
        spec = obj.get("spec") or {}
        r = spec.get("replicas")
        if isinstance(r, int) and r < 0:
            errs.append(FieldError("FieldValueInvalid", "spec.replicas", r, "must be greater than or equal to 0"))
        sel = spec.get("selector")
        if not sel:
            errs.append(FieldError("FieldValueRequired", "spec.selector"))
        else:
            tl = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not selector_matches(sel, tl):
                errs.append(FieldError("FieldValueInvalid", "spec.template.metadata.labels", tl,
                                       "`selector` does not match template `labels`"))
        if old is not None and (old.get("spec") or {}).get("selector") != sel and res == "deployments":
            errs.append(FieldError("FieldValueInvalid", "spec.selector", sel, "field is immutable"))
        pspec = (spec.get("template") or {}).get("spec") or {}
        validate_containers(pspec.get("containers"), "spec.template.spec.containers", errs)
        validate_containers(pspec.get("initContainers"), "spec.template.spec.initContainers", errs,
                            "initContainers")
    elif res == "pods":
        pspec = obj.get("spec") or {}
        validate_containers(pspec.get("containers"), "spec.containers", errs)
    elif res == "configmaps":
        for k in list((obj.get("data") or {}).keys()) + list((obj.get("binaryData") or {}).keys()):
            if not CONFIG_KEY.match(k) or len(k) > 253:
                errs.append(FieldError("FieldValueInvalid", "data[%s]" % k, k,
                                       "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                                       "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation "
                                       "is '[-._a-zA-Z0-9]+')"))
    if errs:
        return err_invalid_res(res, name, errs)
    return None


# --------------------------------------------------------------------------
# Misc helpers

def fnv32a(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def template_without_hash(t):
    t = copy.deepcopy(t or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(a, b):
    return _canon(template_without_hash(a)) == _canon(template_without_hash(b))


def _canon(x):
    return json.dumps(x, sort_keys=True, separators=(",", ":"))


def pod_template_hash(template, collision=0):
    data = _canon(template_without_hash(template)).encode()
    if collision:
        data += str(collision).encode()
    return "".join(SAFE_ALPHANUMS[ord(c) % len(SAFE_ALPHANUMS)] for c in str(fnv32a(data)))


def rand_suffix(rng, n=5):
    return "".join(rng.choice(SAFE_ALPHANUMS) for _ in range(n))


def int_or_percent(v, total, round_up):
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.endswith("%"):
        pct = int(v[:-1])
        q = total * pct
        return -(-q // 100) if round_up else q // 100
    return int(v) if isinstance(v, str) and v.isdigit() else 0


def revision_of(obj):
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


META_ORDER = ["name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
              "finalizers"]


def ordered(obj, with_type=True):
    """Field order as the API server writes it."""
    out = {}
    if with_type:
        for k in ("kind", "apiVersion"):
            if k in obj:
                out[k] = obj[k]
    md = obj.get("metadata")
    if isinstance(md, dict):
        m = {k: md[k] for k in META_ORDER if k in md}
        m.update({k: v for k, v in md.items() if k not in m})
        out["metadata"] = m
    for k, v in obj.items():
        if k not in out and (with_type or k not in ("kind", "apiVersion")):
            out[k] = v
    return out


# --------------------------------------------------------------------------
# The cluster: objects, the controllers, faults, request log

class Cluster:
    def __init__(self, seed=None):
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.reset()

    def reset(self):
        with self.lock:
            self.rv = 1000
            self.objs = {r: {} for r in RESOURCES}
            self.modes = {}      # (ns, name) -> "instant" | "after:N" | "stuck" | "stuck:N"
            self.rollouts = {}   # (ns, name) -> {"remaining": int|None, "stuck": bool, "stuck_in": int|None}
            self.requests = []
            self.req_seq = 0
            self.faults = []
            self.fault_seq = 0

    # ---- basics
    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def get(self, res, ns, name):
        return self.objs[res].get((ns if res != "namespaces" else "", name))

    def put(self, res, obj):
        md = obj["metadata"]
        md["resourceVersion"] = self.next_rv()
        self.objs[res][(md.get("namespace", "") if res != "namespaces" else "", md["name"])] = obj
        return obj

    def remove(self, res, ns, name):
        return self.objs[res].pop((ns if res != "namespaces" else "", name), None)

    def new_meta(self, md, ns):
        md = copy.deepcopy(md or {})
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        if ns is not None:
            md["namespace"] = ns
        for k in ("resourceVersion", "generation", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "managedFields", "selfLink"):
            md.pop(k, None)
        return md

    def ensure_namespace(self, ns):
        if not self.get("namespaces", "", ns):
            self.put("namespaces", {"kind": "Namespace", "apiVersion": "v1",
                                    "metadata": {"name": ns, "uid": str(uuid.uuid4()),
                                                 "creationTimestamp": now_rfc3339(),
                                                 "labels": {"kubernetes.io/metadata.name": ns}},
                                    "spec": {"finalizers": ["kubernetes"]},
                                    "status": {"phase": "Active"}})

    # ---- loading state
    def load(self, state):
        """state: {"namespaces":[...], "deployments":[...], "configmaps":[...],
        "pods":[...], "rollout": {"ns/name": mode}}.  A deployment may carry
        "history": [template, ...] of earlier pod templates, rolled out in
        order before its own spec.template."""
        with self.lock:
            counts = {}
            for ns in state.get("namespaces") or []:
                self.ensure_namespace(ns if isinstance(ns, str) else ns["metadata"]["name"])
            for key, mode in (state.get("rollout") or {}).items():
                ns, name = key.split("/", 1)
                self.set_mode(ns, name, mode)
            for cm in state.get("configmaps") or []:
                self.create("configmaps", cm["metadata"].get("namespace", "default"), cm, allow_exists=True)
                counts["configmaps"] = counts.get("configmaps", 0) + 1
            for pod in state.get("pods") or []:
                self.create("pods", pod["metadata"].get("namespace", "default"), pod, allow_exists=True)
                counts["pods"] = counts.get("pods", 0) + 1
            for d in state.get("deployments") or []:
                d = copy.deepcopy(d)
                history = d.pop("history", None) or []
                ns = d["metadata"].get("namespace", "default")
                final = copy.deepcopy(d["spec"]["template"])
                key = (ns, d["metadata"]["name"])
                saved = self.modes.get(key)
                self.modes[key] = "instant"
                if history:
                    d["spec"]["template"] = copy.deepcopy(history[0])
                self.create("deployments", ns, d, allow_exists=True)
                for t in history[1:] + ([final] if history else []):
                    cur = copy.deepcopy(self.get("deployments", ns, d["metadata"]["name"]))
                    cur["spec"]["template"] = copy.deepcopy(t)
                    self.update("deployments", ns, cur["metadata"]["name"], cur)
                if saved is None:
                    del self.modes[key]
                else:
                    self.modes[key] = saved
                counts["deployments"] = counts.get("deployments", 0) + 1
            return counts

    def dump(self, ns=None):
        with self.lock:
            out = {"resourceVersion": str(self.rv)}
            for res in RESOURCES:
                items = [self.typed(res, o) for (n, _), o in sorted(self.objs[res].items())
                         if ns is None or n == ns or (res == "namespaces" and o["metadata"]["name"] == ns)]
                out[res] = items
            out["rollout"] = {"%s/%s" % k: v for k, v in sorted(self.modes.items())}
            return out

    def typed(self, res, obj):
        o = copy.deepcopy(obj)
        o["kind"] = RESOURCES[res]["kind"]
        o["apiVersion"] = api_version(res)
        return ordered(o)

    # ---- generic operations
    def list(self, res, ns, label_sel=None, field_sel=None):
        reqs = parse_label_selector(label_sel) if label_sel else []
        freqs = parse_field_selector(res, field_sel) if field_sel else []
        with self.lock:
            items = []
            for (n, _), o in sorted(self.objs[res].items()):
                if ns is not None and n != ns:
                    continue
                if not labels_match(reqs, o["metadata"].get("labels")):
                    continue
                if not fields_match(freqs, o):
                    continue
                items.append(ordered(copy.deepcopy(o), with_type=False))
            if res == "deployments" and ns is not None:
                for f, eq, v in freqs:
                    if f == "metadata.name" and eq:
                        self.count_get(ns, v)
            return {"kind": RESOURCES[res]["kind"] + "List", "apiVersion": api_version(res),
                    "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    def read(self, res, ns, name):
        with self.lock:
            o = self.get(res, ns, name)
            if o is None:
                raise err_not_found(res, name)
            out = self.typed(res, o)
            if res == "deployments":
                self.count_get(ns, name)
            return out

    def create(self, res, ns, body, dry=False, allow_exists=False):
        with self.lock:
            if not isinstance(body, dict):
                raise err_bad_request("Object 'Kind' is missing in '%s'" % json.dumps(body))
            if ns is not None and res != "namespaces":
                if self.get("namespaces", "", ns) is None:
                    if allow_exists:
                        self.ensure_namespace(ns)
                    else:
                        raise err_not_found("namespaces", ns)
            obj = copy.deepcopy(body)
            md = obj.setdefault("metadata", {})
            if not md.get("name") and md.get("generateName"):
                md["name"] = md["generateName"] + rand_suffix(self.rng)
            if md.get("namespace") and ns is not None and md["namespace"] != ns:
                raise err_bad_request("the namespace of the provided object does not match the namespace sent on "
                                      "the request")
            name = md.get("name", "")
            if self.get(res, ns, name) is not None:
                if allow_exists:
                    return self.typed(res, self.get(res, ns, name))
                raise err_already_exists(res, name)
            obj["metadata"] = self.new_meta(md, ns if res != "namespaces" else None)
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
            if res == "deployments":
                default_deployment(obj)
                obj.pop("status", None)
                obj["metadata"]["generation"] = 1
            elif res == "pods":
                default_pod_spec(obj.setdefault("spec", {}))
                obj.setdefault("status", {"phase": "Pending", "qosClass": "BestEffort"})
            elif res == "replicasets":
                obj["metadata"]["generation"] = 1
            e = validate(res, obj)
            if e:
                raise e
            if dry:
                return self.typed(res, obj)
            self.put(res, obj)
            out = self.typed(res, obj)
            if res == "deployments":
                self.start_rollout(ns, name)
                self.sync_deployment(ns, name)
            elif res == "replicasets":
                self.sync_replicaset(ns, name)
            return out

    def update(self, res, ns, name, new, dry=False):
        """PUT semantics (also the tail of PATCH). Returns the written object."""
        with self.lock:
            cur = self.get(res, ns, name)
            if cur is None:
                raise err_not_found(res, name)
            if not isinstance(new, dict):
                raise err_bad_request("Object 'Kind' is missing in '%s'" % json.dumps(new))
            new = copy.deepcopy(new)
            md = new.get("metadata")
            if not isinstance(md, dict):
                md = new["metadata"] = {}
            if md.get("name") not in (None, name):
                raise err_bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                      % (md.get("name"), name))
            if md.get("namespace") not in (None, "", ns) and res != "namespaces":
                raise err_bad_request("the namespace of the provided object does not match the namespace sent on "
                                      "the request")
            rv = md.get("resourceVersion")
            if rv not in (None, "") and rv != cur["metadata"]["resourceVersion"]:
                raise err_conflict(res, name)
            new.pop("kind", None)
            new.pop("apiVersion", None)
            for k in ("name", "namespace", "uid", "creationTimestamp", "generation", "resourceVersion",
                      "deletionTimestamp", "deletionGracePeriodSeconds"):
                if k in cur["metadata"]:
                    md[k] = cur["metadata"][k]
                else:
                    md.pop(k, None)
            md.pop("managedFields", None)
            md.pop("selfLink", None)
            if res in ("deployments", "replicasets"):
                if "status" in cur:
                    new["status"] = copy.deepcopy(cur["status"])
                else:
                    new.pop("status", None)
            if res == "deployments":
                default_deployment(new)
            elif res == "pods":
                default_pod_spec(new.setdefault("spec", {}))
                new["status"] = copy.deepcopy(cur.get("status", {}))
            e = validate(res, new, old=cur)
            if e:
                raise e
            spec_changed = _canon(new.get("spec")) != _canon(cur.get("spec"))
            if res in ("deployments", "replicasets") and spec_changed:
                md["generation"] = cur["metadata"].get("generation", 1) + 1
            if _canon(new) == _canon(cur):
                return self.typed(res, cur)  # no-op: the server does not write
            if dry:
                return self.typed(res, new)
            self.put(res, new)
            out = self.typed(res, new)
            if res == "deployments":
                if spec_changed:
                    self.start_rollout(ns, name)
                self.sync_deployment(ns, name)
            elif res == "replicasets":
                self.sync_replicaset(ns, name)
            return out

    def patch(self, res, ns, name, ctype, body_text, dry=False, sub=None):
        with self.lock:
            cur = self.get(res, ns, name)
            if cur is None:
                raise err_not_found(res, name)
            if sub == "scale":
                doc = self.scale_of(cur)
            else:
                doc = self.typed(res, cur)
            try:
                if ctype == "application/json-patch+json":
                    try:
                        ops = json.loads(body_text)
                    except ValueError as e:
                        raise err_bad_request(go_json_error(body_text, e))
                    if not isinstance(ops, list):
                        raise err_bad_request("json: cannot unmarshal %s into Go value of type jsonpatch.Patch"
                                              % ("object" if isinstance(ops, dict) else "string"))
                    try:
                        patched = json_patch(doc, ops)
                    except JsonPatchFailed:
                        raise err_generic(422)
                elif ctype == "application/merge-patch+json":
                    try:
                        p = json.loads(body_text)
                    except ValueError:
                        raise err_bad_request("Invalid JSON Patch")
                    patched = merge_patch(doc, p)
                else:
                    p = parse_json(body_text)
                    patched = strategic_merge_patch(doc, p)
            except PatchError as e:
                raise e.apierr
            if not isinstance(patched, dict):
                raise err_invalid("", "", "", "", [FieldError("FieldValueInvalid", "patch", go_map(patched),
                                                              "Object 'Kind' is missing")])
            if sub == "scale":
                return self.apply_scale(ns, name, cur, patched, dry)
            return self.update(res, ns, name, patched, dry=dry)

    def delete(self, res, ns, name, opts, dry=False):
        with self.lock:
            cur = self.get(res, ns, name)
            if cur is None:
                raise err_not_found(res, name)
            pre = (opts or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != cur["metadata"]["uid"]:
                raise err_conflict(res, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                   % (pre["uid"], cur["metadata"]["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != cur["metadata"]["resourceVersion"]:
                raise err_conflict(res, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                   "ResourceVersion in object meta: %s"
                                   % (pre["resourceVersion"], cur["metadata"]["resourceVersion"]))
            if res == "pods":
                out = copy.deepcopy(cur)
                grace = (opts or {}).get("gracePeriodSeconds")
                if grace is None:
                    grace = cur.get("spec", {}).get("terminationGracePeriodSeconds", 30)
                if grace:
                    out["metadata"]["deletionTimestamp"] = (datetime.datetime.now(datetime.timezone.utc)
                                                            + datetime.timedelta(seconds=grace)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ")
                    out["metadata"]["deletionGracePeriodSeconds"] = grace
                if dry:
                    return self.typed(res, out)
                out["metadata"]["resourceVersion"] = self.next_rv()
                self.remove(res, ns, name)
                self.sync_owner_chain(ns, cur)
                return self.typed(res, out)
            if dry:
                return status_obj(0, "", "", res_details(res, name, uid=cur["metadata"]["uid"]), status="Success")
            self.remove(res, ns, name)
            self.next_rv()
            policy = (opts or {}).get("propagationPolicy", "Background")
            if res in ("deployments", "replicasets") and policy != "Orphan":
                self.cascade(cur)
            if res == "deployments":
                self.rollouts.pop((ns, name), None)
            return status_obj(0, "", "", res_details(res, name, uid=cur["metadata"]["uid"]), status="Success")

    def cascade(self, owner):
        uid = owner["metadata"]["uid"]
        for res in ("replicasets", "pods"):
            for key, o in list(self.objs[res].items()):
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or []):
                    del self.objs[res][key]
                    self.next_rv()
                    if res == "replicasets":
                        self.cascade(o)

    # ---- scale subresource
    def scale_of(self, d):
        md = d["metadata"]
        st = d.get("status") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md["uid"],
                             "resourceVersion": md["resourceVersion"],
                             "creationTimestamp": md["creationTimestamp"]},
                "spec": {"replicas": d["spec"].get("replicas", 1)},
                "status": {"replicas": st.get("replicas", 0),
                           "selector": selector_string(d["spec"].get("selector") or {})}}

    def apply_scale(self, ns, name, cur, scale, dry):
        if not isinstance(scale, dict) or not isinstance(scale.get("spec", {}), dict):
            raise err_bad_request("Object 'Kind' is missing")
        md = scale.get("metadata") or {}
        if md.get("name") not in (None, name):
            raise err_bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                  % (md.get("name"), name))
        r = (scale.get("spec") or {}).get("replicas", 0)
        if r is None:
            r = 0
        if not isinstance(r, int) or isinstance(r, bool):
            raise err_bad_request("json: cannot unmarshal %s into Go struct field ScaleSpec.spec.replicas of type "
                                  "int32" % type(r).__name__.replace("str", "string"))
        if r < 0:
            raise err_invalid("Scale.autoscaling", "autoscaling", "Scale", name,
                              [FieldError("FieldValueInvalid", "spec.replicas", r,
                                          "must be greater than or equal to 0")])
        rv = md.get("resourceVersion")
        if rv not in (None, "") and rv != cur["metadata"]["resourceVersion"]:
            raise err_conflict("deployments", name)
        new = copy.deepcopy(cur)
        new["spec"]["replicas"] = r
        new["metadata"].pop("resourceVersion", None)
        self.update("deployments", ns, name, new, dry=dry)
        d = self.get("deployments", ns, name)
        if dry:
            d = copy.deepcopy(d)
            d["spec"]["replicas"] = r
        return self.scale_of(d)

    # ---- rollout modes
    def set_mode(self, ns, name, mode):
        if not re.match(r"^(instant|after:[0-9]+|stuck(:[0-9]+)?)$", mode or ""):
            raise ValueError("mode must be instant, after:N, stuck or stuck:N")
        with self.lock:
            self.modes[(ns, name)] = mode
            st = self.rollouts.get((ns, name))
            if st and (st["remaining"] is not None or st["stuck"]):
                if mode == "instant":
                    self.finish_rollout(ns, name)
                elif mode.startswith("stuck"):
                    self.rollouts[(ns, name)] = self._rollout_state(mode)
                    self.touch_status(ns, name)
                else:
                    self.rollouts[(ns, name)] = self._rollout_state(mode)

    @staticmethod
    def _rollout_state(mode):
        if mode.startswith("after:"):
            n = int(mode.split(":")[1])
            return {"remaining": n if n > 0 else None, "stuck": False, "stuck_in": None}
        if mode.startswith("stuck"):
            n = int(mode.split(":")[1]) if ":" in mode else 0
            return {"remaining": None, "stuck": n == 0, "stuck_in": n if n > 0 else None, "rolling": True}
        return {"remaining": None, "stuck": False, "stuck_in": None}

    def start_rollout(self, ns, name):
        mode = self.modes.get((ns, name), "instant")
        self.rollouts[(ns, name)] = self._rollout_state(mode)

    def rolling(self, ns, name):
        st = self.rollouts.get((ns, name))
        return bool(st and (st["remaining"] is not None or st["stuck"] or st.get("rolling")))

    def finish_rollout(self, ns, name):
        self.rollouts[(ns, name)] = {"remaining": None, "stuck": False, "stuck_in": None}
        self.sync_deployment(ns, name)

    def count_get(self, ns, name):
        st = self.rollouts.get((ns, name))
        if not st:
            return
        if st["remaining"] is not None:
            st["remaining"] -= 1
            if st["remaining"] <= 0:
                self.finish_rollout(ns, name)
        elif st.get("stuck_in") is not None:
            st["stuck_in"] -= 1
            if st["stuck_in"] <= 0:
                st["stuck_in"] = None
                st["stuck"] = True
                self.touch_status(ns, name)

    def touch_status(self, ns, name):
        if self.get("deployments", ns, name) is not None:
            self.sync_deployment(ns, name)

    # ---- controllers
    def sync_owner_chain(self, ns, pod):
        """Wake the ReplicaSet (and its Deployment) that owned a pod."""
        rs_name = self.controller_of(pod)
        rs = self.get("replicasets", ns, rs_name) if rs_name else None
        if rs is None:
            return
        d_name = self.controller_of(rs)
        if d_name and self.get("deployments", ns, d_name) is not None:
            self.sync_deployment(ns, d_name)
        else:
            self.sync_replicaset(ns, rs_name)

    def controller_of(self, obj):
        for r in obj["metadata"].get("ownerReferences") or []:
            if r.get("controller"):
                return r.get("name")
        return None

    def owned(self, res, ns, owner):
        uid = owner["metadata"]["uid"]
        return [o for (n, _), o in sorted(self.objs[res].items())
                if n == ns and any(r.get("uid") == uid and r.get("controller")
                                   for r in o["metadata"].get("ownerReferences") or [])]

    def sync_deployment(self, ns, name):
        d = self.get("deployments", ns, name)
        if d is None:
            return
        d = copy.deepcopy(d)
        before = _canon(d)
        spec = d["spec"]
        desired = spec.get("replicas", 1)
        rss = self.owned("replicasets", ns, d)
        tmpl = spec.get("template") or {}
        new_rs = next((rs for rs in rss if equal_ignore_hash(rs["spec"]["template"], tmpl)), None)
        paused = bool(spec.get("paused"))
        rolling = self.rolling(ns, name)
        changed_rs = []
        if not paused:
            others = [rs for rs in rss if rs is not new_rs]
            max_old = max([revision_of(rs) for rs in others] or [0])
            if new_rs is None:
                new_rs = self.new_replicaset(d, max_old + 1)
            else:
                new_rs = copy.deepcopy(new_rs)
                ann = new_rs["metadata"].setdefault("annotations", {})
                old_rev = revision_of(new_rs)
                if old_rev <= max_old:
                    ann[REVISION] = str(max_old + 1)
                    if old_rev:
                        hist = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                        hist.append(str(old_rev))
                        ann[REVISION_HISTORY] = ",".join(hist)
            ann = new_rs["metadata"].setdefault("annotations", {})
            for k, v in (d["metadata"].get("annotations") or {}).items():
                if k not in ANNOTATIONS_TO_SKIP:
                    ann[k] = v
            surge = int_or_percent(((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", "25%"),
                                   desired, True)
            ann[DESIRED_REPLICAS] = str(desired)
            ann[MAX_REPLICAS] = str(desired + surge)
            new_rs["spec"]["replicas"] = desired
            changed_rs.append(new_rs)
            for rs in rss:
                if rs["metadata"]["name"] == new_rs["metadata"]["name"]:
                    continue
                if not rolling and rs["spec"].get("replicas", 0) != 0:
                    rs = copy.deepcopy(rs)
                    rs["spec"]["replicas"] = 0
                    changed_rs.append(rs)
            d["metadata"].setdefault("annotations", {})[REVISION] = new_rs["metadata"]["annotations"][REVISION]
        else:
            active = [rs for rs in rss if rs["spec"].get("replicas", 0) > 0]
            if len(active) == 1 and active[0]["spec"]["replicas"] != desired:
                rs = copy.deepcopy(active[0])
                rs["spec"]["replicas"] = desired
                changed_rs.append(rs)
        for rs in changed_rs:
            key = (ns, rs["metadata"]["name"])
            old = self.objs["replicasets"].get(key)
            if old is None or _canon(old) != _canon(rs):
                if old is not None and _canon(old.get("spec")) != _canon(rs.get("spec")):
                    rs["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
                self.put("replicasets", rs)
        for rs in self.owned("replicasets", ns, d):
            is_new = new_rs is not None and rs["metadata"]["name"] == new_rs["metadata"]["name"]
            self.sync_replicaset(ns, rs["metadata"]["name"], ready=not (is_new and rolling))
        self.cleanup_history(ns, d)
        d["status"] = self.deployment_status(ns, d, new_rs, paused)
        if _canon(d) != before:
            self.put("deployments", d)

    def new_replicaset(self, d, revision):
        ns = d["metadata"]["namespace"]
        tmpl = copy.deepcopy(d["spec"]["template"])
        collision = 0
        while True:
            h = pod_template_hash(tmpl, collision)
            name = "%s-%s" % (d["metadata"]["name"], h)
            if self.get("replicasets", ns, name) is None:
                break
            collision += 1
        tmpl.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        sel = copy.deepcopy(d["spec"]["selector"])
        sel.setdefault("matchLabels", {})[HASH_LABEL] = h
        ann = {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k not in ANNOTATIONS_TO_SKIP}
        ann[REVISION] = str(revision)
        md = self.new_meta({"name": name, "labels": dict(tmpl["metadata"]["labels"]), "annotations": ann,
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                                 "name": d["metadata"]["name"], "uid": d["metadata"]["uid"],
                                                 "controller": True, "blockOwnerDeletion": True}]}, ns)
        md["generation"] = 1
        return {"metadata": md,
                "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0) or 0,
                         "selector": sel, "template": tmpl},
                "status": {"replicas": 0}}

    def sync_replicaset(self, ns, name, ready=None):
        rs = self.get("replicasets", ns, name)
        if rs is None:
            return
        pods = self.owned("pods", ns, rs)
        want = rs["spec"].get("replicas", 0)
        if ready is None:
            ready = all(p.get("status", {}).get("phase") == "Running" for p in pods) if pods else True
        for p in pods[want:] if len(pods) > want else []:
            self.remove("pods", ns, p["metadata"]["name"])
            self.next_rv()
        pods = pods[:want]
        for _ in range(want - len(pods)):
            pods.append(self.new_pod(rs, ready))
        for p in pods:
            running = p["status"].get("phase") == "Running"
            if ready and not running:
                p = copy.deepcopy(p)
                p["status"] = self.pod_status(p, True)
                self.put("pods", p)
        pods = self.owned("pods", ns, rs)
        n = len(pods)
        nready = sum(1 for p in pods if p["status"].get("phase") == "Running")
        st = {"replicas": n}
        if n:
            st["fullyLabeledReplicas"] = n
        if nready:
            st["readyReplicas"] = nready
            st["availableReplicas"] = nready
        st["observedGeneration"] = rs["metadata"].get("generation", 1)
        if _canon(rs.get("status")) != _canon(st):
            rs = copy.deepcopy(rs)
            rs["status"] = st
            self.put("replicasets", rs)

    def pod_status(self, pod, ready):
        ts = now_rfc3339()
        cs = []
        for c in pod["spec"].get("containers") or []:
            s = {"name": c.get("name"), "ready": ready, "restartCount": 0, "image": c.get("image"),
                 "imageID": "", "started": ready}
            if ready:
                s["imageID"] = "docker-pullable://%s@sha256:%064x" % (c.get("image"), fnv32a(
                    str(c.get("image")).encode()))
                s["containerID"] = "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex
                s["state"] = {"running": {"startedAt": ts}}
            else:
                s["state"] = {"waiting": {"reason": "ContainerCreating"}}
            cs.append(s)
        cond = "True" if ready else "False"
        return {"phase": "Running" if ready else "Pending",
                "conditions": [{"type": "Initialized", "status": "True", "lastProbeTime": None,
                                "lastTransitionTime": ts},
                               {"type": "Ready", "status": cond, "lastProbeTime": None, "lastTransitionTime": ts},
                               {"type": "ContainersReady", "status": cond, "lastProbeTime": None,
                                "lastTransitionTime": ts},
                               {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                "lastTransitionTime": ts}],
                "hostIP": "10.0.0.11", "podIP": "10.244.%d.%d" % (self.rng.randint(0, 3), self.rng.randint(2, 254)),
                "startTime": ts, "containerStatuses": cs, "qosClass": qos_class(pod["spec"])}

    def new_pod(self, rs, ready):
        tmpl = rs["spec"]["template"]
        ns = rs["metadata"]["namespace"]
        gen = rs["metadata"]["name"] + "-"
        while True:
            name = gen + rand_suffix(self.rng)
            if self.get("pods", ns, name) is None:
                break
        md = self.new_meta({"name": name, "generateName": gen,
                            "labels": dict((tmpl.get("metadata") or {}).get("labels") or {}),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                 "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"],
                                                 "controller": True, "blockOwnerDeletion": True}]}, ns)
        ann = (tmpl.get("metadata") or {}).get("annotations")
        if ann:
            md["annotations"] = dict(ann)
        spec = copy.deepcopy(tmpl.get("spec") or {})
        spec["nodeName"] = NODE_NAME
        spec.setdefault("serviceAccountName", "default")
        pod = {"metadata": md, "spec": spec}
        pod["status"] = self.pod_status(pod, ready)
        self.put("pods", pod)
        return pod

    def cleanup_history(self, ns, d):
        limit = d["spec"].get("revisionHistoryLimit", 10)
        rss = self.owned("replicasets", ns, d)
        cur_rev = revision_of(d)
        old = sorted([rs for rs in rss if rs["spec"].get("replicas", 0) == 0 and rs["status"].get("replicas", 0) == 0
                      and revision_of(rs) != cur_rev], key=revision_of)
        for rs in old[:max(0, len(old) - limit)]:
            self.remove("replicasets", ns, rs["metadata"]["name"])
            self.next_rv()

    def deployment_status(self, ns, d, new_rs, paused):
        desired = d["spec"].get("replicas", 1)
        rss = self.owned("replicasets", ns, d)
        total = ready = updated = 0
        for rs in rss:
            pods = self.owned("pods", ns, rs)
            total += len(pods)
            r = sum(1 for p in pods if p["status"].get("phase") == "Running")
            ready += r
            if new_rs is not None and rs["metadata"]["name"] == new_rs["metadata"]["name"]:
                updated = len(pods)
        st = {"observedGeneration": d["metadata"].get("generation", 1)}
        if total:
            st["replicas"] = total
        if updated:
            st["updatedReplicas"] = updated
        if ready:
            st["readyReplicas"] = ready
            st["availableReplicas"] = ready
        if desired - ready > 0:
            st["unavailableReplicas"] = desired - ready
        old = {c["type"]: c for c in (d.get("status") or {}).get("conditions") or []}
        ts = now_rfc3339()
        max_unavail = int_or_percent(((d["spec"].get("strategy") or {}).get("rollingUpdate") or {})
                                     .get("maxUnavailable", "25%"), desired, False)
        if ready >= desired - max_unavail:
            avail = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            avail = ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        rs_name = new_rs["metadata"]["name"] if new_rs is not None else None
        rst = self.rollouts.get((ns, d["metadata"]["name"])) or {}
        if paused:
            prog = ("Unknown", "DeploymentPaused", "Deployment is paused")
        elif rst.get("stuck"):
            prog = ("False", "ProgressDeadlineExceeded", 'ReplicaSet "%s" has timed out progressing.' % rs_name)
        elif self.rolling(ns, d["metadata"]["name"]):
            prog = ("True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % rs_name)
        else:
            prog = ("True", "NewReplicaSetAvailable", 'ReplicaSet "%s" has successfully progressed.' % rs_name)

        def cond(typ, t):
            c = {"type": typ, "status": t[0], "lastUpdateTime": ts, "lastTransitionTime": ts, "reason": t[1],
                 "message": t[2]}
            o = old.get(typ)
            if o and o.get("status") == t[0]:
                c["lastTransitionTime"] = o.get("lastTransitionTime", ts)
                if o.get("reason") == t[1] and o.get("message") == t[2]:
                    c["lastUpdateTime"] = o.get("lastUpdateTime", ts)
            return c
        st["conditions"] = [cond("Available", avail), cond("Progressing", prog)]
        return st

    # ---- admin: faults and request log
    def add_fault(self, f):
        if not isinstance(f, dict):
            raise ValueError("fault must be an object")
        status = f.get("status")
        if status is not None and status not in (400, 401, 403, 404, 409, 422, 429, 500, 503, 504):
            raise ValueError("status must be one of 400 401 403 404 409 422 429 500 503 504")
        if status is None and not f.get("delay_ms"):
            raise ValueError("a fault needs a status or a delay_ms")
        re.compile(f.get("path", ""))
        with self.lock:
            self.fault_seq += 1
            fault = {"id": self.fault_seq, "method": (f.get("method") or "*").upper(), "path": f.get("path", ""),
                     "status": status, "times": int(f.get("times", 1)), "delay_ms": int(f.get("delay_ms", 0)),
                     "retry_after": int(f.get("retry_after", 1)), "message": f.get("message"),
                     "plain": bool(f.get("plain", False)), "hits": 0}
            self.faults.append(fault)
            return dict(fault)

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f["times"] == 0:
                    continue
                if f["method"] not in ("*", method):
                    continue
                if not re.search(f["path"], path):
                    continue
                if f["times"] > 0:
                    f["times"] -= 1
                f["hits"] += 1
                return dict(f)
        return None

    def record(self, entry):
        with self.lock:
            self.req_seq += 1
            entry["seq"] = self.req_seq
            self.requests.append(entry)


def qos_class(spec):
    cs = spec.get("containers") or []
    res = [c.get("resources") or {} for c in cs]
    if not any(r.get("limits") or r.get("requests") for r in res):
        return "BestEffort"
    for r in res:
        lim, req = r.get("limits") or {}, r.get("requests") or {}
        for k in ("cpu", "memory"):
            if k not in lim or (k in req and parse_quantity(req[k]) != parse_quantity(lim[k])):
                return "Burstable"
    return "Guaranteed"


def fault_error(f, path):
    """The Status a real server sends for the injected code."""
    code = f["status"]
    msg = f.get("message")
    m = re.match(r"^/apis?/(?:apps/)?v1/namespaces/[^/]+/([a-z]+)/([^/?]+)", path)
    res, name = (m.group(1), m.group(2)) if m and m.group(1) in RESOURCES else (None, None)
    if code == 409:
        if res:
            e = err_conflict(res, name)
        else:
            e = ApiError(status_obj(409, "Conflict", "Operation cannot be fulfilled: " + CONFLICT_MODIFIED, {}))
    elif code == 429:
        e = err_too_many(f.get("retry_after", 1))
    elif code == 500:
        e = err_internal(msg or "etcdserver: request timed out")
        msg = None
    elif code == 503:
        e = err_unavailable()
    elif code == 504:
        e = err_timeout()
    elif code == 401:
        e = err_unauthorized()
    elif code == 403:
        e = ApiError(status_obj(403, "Forbidden",
                                '%s "%s" is forbidden: User "system:serviceaccount:runbookd:runbookd" cannot patch '
                                'resource "%s" in API group "%s"' % (qualified(res), name, res,
                                                                     RESOURCES[res]["group"])
                                if res else "forbidden: User \"system:anonymous\" cannot get path \"%s\"" % path,
                                res_details(res, name) if res else {}))
    elif code == 404:
        e = err_not_found(res, name) if res else err_generic(404)
    elif code == 422:
        e = err_generic(422)
    else:
        e = err_bad_request(msg or "the server rejected our request for an unknown reason")
        msg = None
    if msg:
        e.status["message"] = msg
    return e


# --------------------------------------------------------------------------
# HTTP

DISCOVERY_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-standin", "gitCommit": "0" * 40,
                     "gitTreeState": "clean", "buildDate": "2024-04-17T17:27:03Z", "goVersion": "go1.22.2",
                     "compiler": "gc", "platform": "linux/amd64"}


def resource_list(group_version, resources):
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _rl(name, kind, verbs, namespaced=True, short=None, group=None, version=None):
    r = {"name": name, "singularName": "" if "/" in name else kind.lower(), "namespaced": namespaced, "kind": kind,
         "verbs": verbs}
    if group:
        r["group"] = group
        r["version"] = version
    if short:
        r["shortNames"] = short
    return r


ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CORE_RESOURCES = resource_list("v1", [
    _rl("configmaps", "ConfigMap", ALL_VERBS, short=["cm"]),
    _rl("namespaces", "Namespace", ["get", "list"], namespaced=False, short=["ns"]),
    _rl("pods", "Pod", ALL_VERBS, short=["po"]),
])
APPS_RESOURCES = resource_list("apps/v1", [
    _rl("deployments", "Deployment", ALL_VERBS, short=["deploy"]),
    _rl("deployments/scale", "Scale", ["get", "patch", "update"], group="autoscaling", version="v1"),
    _rl("replicasets", "ReplicaSet", ALL_VERBS, short=["rs"]),
])

NS_PATH = re.compile(r"^/api/v1/namespaces(?:/([^/]+))?/?$")
CORE_PATH = re.compile(r"^/api/v1/(?:namespaces/([^/]+)/)?(pods|configmaps)(?:/([^/]+))?/?$")
APPS_PATH = re.compile(r"^/apis/apps/v1/(?:namespaces/([^/]+)/)?(deployments|replicasets)"
                       r"(?:/([^/]+)(?:/(scale|status))?)?/?$")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.standin.verbose:
            sys.stderr.write("standin: " + (fmt % args) + "\n")

    # -- plumbing
    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body, headers=None, ctype="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode()
        entry = getattr(self, "_entry", None)
        if entry is not None:
            # Before the answer goes out: whoever reads the log after seeing
            # the answer sees it handled, with its code.
            entry["code"] = code
            entry["done"] = True
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self._code = code

    def send_error_status(self, e):
        self.send(e.code, e.status, e.headers)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_OPTIONS(self):
        self.dispatch()

    def dispatch(self):
        standin = self.server.standin
        cluster = standin.cluster
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path.startswith("/_standin/"):
            try:
                self.admin(path, query, body)
            except ValueError as e:
                self.send(400, {"error": str(e)})
            return
        self._code = 0
        entry = {"method": self.command, "path": path, "query": url.query,
                 "headers": {h: self.headers.get(h) for h in ("Content-Type", "Authorization", "Accept",
                                                               "User-Agent") if self.headers.get(h) is not None},
                 "body": body.decode("utf-8", "replace"), "time": time.time(), "code": 0,
                 "done": False}
        # Logged on arrival, so the log is in arrival order and never misses a
        # request that was already answered; the code is filled in after.
        cluster.record(entry)
        self._entry = entry
        try:
            try:
                if standin.token is not None:
                    auth = self.headers.get("Authorization") or ""
                    if auth != "Bearer " + standin.token:
                        raise err_unauthorized()
                fault = cluster.take_fault(self.command, path)
                if fault:
                    entry["fault"] = fault["id"]
                    if fault["delay_ms"]:
                        time.sleep(fault["delay_ms"] / 1000.0)
                    if fault["status"]:
                        e = fault_error(fault, path)
                        if fault["plain"] and fault["status"] == 429:
                            self.send(429, b"Too many requests, please try again later.\n", e.headers,
                                      ctype="text/plain; charset=utf-8")
                            return
                        raise e
                code, obj, headers = self.route(path, query, body)
                self.send(code, obj, headers)
            except ApiError as e:
                self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            entry["code"] = self._code
            entry["done"] = True
            self._entry = None

    # -- Kubernetes API
    def route(self, path, query, body_bytes):
        cluster = self.server.standin.cluster
        m = self.command
        if m == "HEAD":
            m = "GET"
        if path in ("/version", "/version/"):
            return self.only(m, "GET") or (200, DISCOVERY_VERSION, None)
        if path == "/api":
            return self.only(m, "GET") or (200, {"kind": "APIVersions", "versions": ["v1"],
                                                 "serverAddressByClientCIDRs": [
                                                     {"clientCIDR": "0.0.0.0/0",
                                                      "serverAddress": "%s:%d" % self.server.server_address[:2]}]},
                                           None)
        if path == "/apis":
            gv = lambda g, v: {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v}],
                               "preferredVersion": {"groupVersion": "%s/%s" % (g, v), "version": v}}
            return self.only(m, "GET") or (200, {"kind": "APIGroupList", "apiVersion": "v1",
                                                 "groups": [gv("apps", "v1"), gv("autoscaling", "v1")]}, None)
        if path == "/api/v1":
            return self.only(m, "GET") or (200, CORE_RESOURCES, None)
        if path == "/apis/apps/v1":
            return self.only(m, "GET") or (200, APPS_RESOURCES, None)
        if path == "/apis/apps":
            return self.only(m, "GET") or (200, {"kind": "APIGroup", "apiVersion": "v1", "name": "apps",
                                                 "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                                                 "preferredVersion": {"groupVersion": "apps/v1",
                                                                      "version": "v1"}}, None)
        q = {k: v[-1] for k, v in query.items()}
        if q.get("watch") in ("1", "true"):
            raise err_bad_request("watch is not supported by the stand-in API server")
        dry = self.dry_run(query)
        mt = NS_PATH.match(path)
        if mt:
            name = mt.group(1)
            if m != "GET":
                raise err_generic(405)
            if name:
                return 200, cluster.read("namespaces", "", name), None
            return 200, cluster.list("namespaces", None, q.get("labelSelector"), q.get("fieldSelector")), None
        mt = CORE_PATH.match(path) or APPS_PATH.match(path)
        if not mt:
            raise err_generic(404)
        ns, res, name = mt.group(1), mt.group(2), mt.group(3)
        sub = mt.group(4) if mt.re is APPS_PATH else None
        if ns is None and (name is not None or m not in ("GET",)):
            if name is not None:
                raise err_generic(404)
            raise err_generic(405)
        if name is None:
            if m == "GET":
                return 200, cluster.list(res, ns, q.get("labelSelector"), q.get("fieldSelector")), None
            if m == "POST":
                body = self.json_body(body_bytes)
                return 201, cluster.create(res, ns, body, dry=dry), None
            raise err_generic(405)
        if sub == "status":
            if m != "GET":
                raise err_generic(405)
            return 200, cluster.read(res, ns, name), None
        if sub == "scale":
            if m == "GET":
                with cluster.lock:
                    d = cluster.get(res, ns, name)
                    if d is None:
                        raise err_not_found(res, name)
                    return 200, cluster.scale_of(d), None
            if m == "PUT":
                body = self.json_body(body_bytes)
                with cluster.lock:
                    d = cluster.get(res, ns, name)
                    if d is None:
                        raise err_not_found(res, name)
                    return 200, cluster.apply_scale(ns, name, d, body, dry), None
            if m == "PATCH":
                return 200, cluster.patch(res, ns, name, self.patch_type(), body_bytes.decode("utf-8", "replace"),
                                          dry=dry, sub="scale"), None
            raise err_generic(405)
        if m == "GET":
            return 200, cluster.read(res, ns, name), None
        if m == "PUT":
            body = self.json_body(body_bytes)
            return 200, cluster.update(res, ns, name, body, dry=dry), None
        if m == "PATCH":
            return 200, cluster.patch(res, ns, name, self.patch_type(), body_bytes.decode("utf-8", "replace"),
                                      dry=dry), None
        if m == "DELETE":
            opts = {}
            if body_bytes.strip():
                opts = self.json_body(body_bytes)
                if not isinstance(opts, dict):
                    raise err_bad_request("json: cannot unmarshal array into Go value of type v1.DeleteOptions")
            for k in ("gracePeriodSeconds", "propagationPolicy"):
                if k in q:
                    opts[k] = int(q[k]) if k == "gracePeriodSeconds" and q[k].lstrip("-").isdigit() else q[k]
            pol = opts.get("propagationPolicy")
            if pol not in (None, "Orphan", "Background", "Foreground"):
                raise err_invalid("DeleteOptions.meta.k8s.io", "meta.k8s.io", "DeleteOptions", "",
                                  [FieldError("FieldValueNotSupported", "propagationPolicy", pol,
                                              'supported values: "Foreground", "Background", "Orphan", "nil"')])
            if opts.get("dryRun") is not None:
                dry = dry or self.dry_run({"dryRun": opts["dryRun"] if isinstance(opts["dryRun"], list)
                                           else [opts["dryRun"]]})
            out = cluster.delete(res, ns, name, opts, dry=dry)
            return 200, out, None
        raise err_generic(405)

    @staticmethod
    def only(m, allowed):
        if m != allowed:
            raise err_generic(405)
        return None

    def json_body(self, b):
        text = b.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError as e:
            raise err_bad_request("json: " + go_json_error(text, e)
                                  if text.strip() else "couldn't get version/kind; json parse error: unexpected end "
                                                       "of JSON input")

    def patch_type(self):
        ct = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ct == "application/apply-patch+yaml":
            raise err_unsupported_media(SUPPORTED_PATCH_TYPES)
        if ct not in SUPPORTED_PATCH_TYPES:
            raise err_unsupported_media(PATCH_TYPES)
        return ct

    @staticmethod
    def dry_run(query):
        vals = query.get("dryRun")
        if not vals:
            return False
        for v in vals:
            if v != "All":
                raise err_invalid("PatchOptions.meta.k8s.io", "meta.k8s.io", "PatchOptions", "",
                                  [FieldError("FieldValueNotSupported", "dryRun", v, 'supported values: "All"')])
        return True

    # -- admin API
    def admin(self, path, query, body):
        standin = self.server.standin
        cluster = standin.cluster
        m = self.command
        q = {k: v[-1] for k, v in query.items()}

        def js():
            if not body.strip():
                return {}
            try:
                return json.loads(body)
            except ValueError as e:
                raise ValueError("bad JSON: %s" % e)

        if path == "/_standin/requests":
            if m == "GET":
                with cluster.lock:
                    items = list(cluster.requests)
                if "method" in q:
                    items = [r for r in items if r["method"] == q["method"].upper()]
                if "path" in q:
                    items = [r for r in items if re.search(q["path"], r["path"])]
                if "since" in q:
                    items = [r for r in items if r["seq"] > int(q["since"])]
                return self.send(200, items)
            if m == "DELETE":
                with cluster.lock:
                    n = len(cluster.requests)
                    cluster.requests = []
                return self.send(200, {"cleared": n})
        elif path == "/_standin/faults":
            if m == "POST":
                spec = js()
                specs = spec if isinstance(spec, list) else [spec]
                added = [cluster.add_fault(s) for s in specs]
                return self.send(201, added if isinstance(spec, list) else added[0])
            if m == "GET":
                with cluster.lock:
                    return self.send(200, [dict(f) for f in cluster.faults])
            if m == "DELETE":
                with cluster.lock:
                    n = len(cluster.faults)
                    cluster.faults = []
                return self.send(200, {"cleared": n})
        elif path == "/_standin/rollout":
            if m == "POST":
                spec = js()
                if not spec.get("namespace") or not spec.get("deployment"):
                    raise ValueError("namespace and deployment are required")
                cluster.set_mode(spec["namespace"], spec["deployment"], spec.get("mode", "instant"))
                return self.send(200, {"namespace": spec["namespace"], "deployment": spec["deployment"],
                                       "mode": spec.get("mode", "instant")})
            if m == "GET":
                with cluster.lock:
                    return self.send(200, {"%s/%s" % k: {"mode": cluster.modes.get(k, "instant"),
                                                         "rolling": cluster.rolling(*k),
                                                         **cluster.rollouts.get(k, {})}
                                           for k in sorted(set(cluster.modes) | set(cluster.rollouts))})
        elif path == "/_standin/objects":
            if m == "GET":
                return self.send(200, cluster.dump(q.get("namespace")))
            if m == "POST":
                try:
                    counts = cluster.load(js())
                except ApiError as e:
                    return self.send(e.code, e.status)
                except (KeyError, TypeError, AttributeError) as e:
                    raise ValueError("bad state: %r" % e)
                return self.send(200, {"loaded": counts, "resourceVersion": str(cluster.rv)})
        elif path == "/_standin/reset":
            if m == "POST":
                standin.reset()
                return self.send(200, {"reset": True, "resourceVersion": str(cluster.rv)})
        else:
            return self.send(404, {"error": "no such admin endpoint: " + path})
        return self.send(405, {"error": "method not allowed"})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if self.standin.verbose:
            super().handle_error(request, client_address)


def load_state(state):
    if state is None:
        return None
    if isinstance(state, dict):
        return copy.deepcopy(state)
    with open(state) as f:
        return json.load(f)


class StandIn:
    """The stand-in API server, startable in process.

    StandIn(state=None|dict|path, token=None, host="127.0.0.1", port=0,
            tls_cert=None, tls_key=None, seed=None, verbose=False)
    .start() -> port (serves in a daemon thread); .stop()
    .url ("http://127.0.0.1:PORT" or https), .port, .cluster (the Cluster)
    """

    def __init__(self, state=None, token=None, host="127.0.0.1", port=0, tls_cert=None, tls_key=None, seed=None,
                 verbose=False):
        self.initial_state = load_state(state)
        self.token = token
        self.host, self.req_port = host, port
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.verbose = verbose
        self.cluster = Cluster(seed)
        self.httpd = None
        self.thread = None
        self.port = None
        if self.initial_state:
            self.cluster.load(self.initial_state)

    def reset(self):
        self.cluster.reset()
        if self.initial_state:
            self.cluster.load(self.initial_state)

    @property
    def url(self):
        scheme = "https" if self.tls_cert else "http"
        return "%s://%s:%d" % (scheme, self.host, self.port)

    def bind(self):
        self.httpd = _Server((self.host, self.req_port), Handler)
        self.httpd.standin = self
        if self.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        return self.port

    def start(self):
        if self.httpd is None:
            self.bind()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="standin", daemon=True)
        self.thread.start()
        return self.port

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.thread is not None:
            self.thread.join(5)
            self.thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Stand-in Kubernetes API server for runbookd's tests")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0 picks a free one)")
    ap.add_argument("--state", help="JSON file with the initial objects")
    ap.add_argument("--token", help="require 'Authorization: Bearer TOKEN'")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--seed", type=int, help="seed for generated names")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    host, _, port = a.listen.rpartition(":")
    s = StandIn(state=a.state, token=a.token, host=host or "127.0.0.1", port=int(port),
                tls_cert=a.tls_cert, tls_key=a.tls_key, seed=a.seed, verbose=a.verbose)
    s.bind()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    s.start()
    print("standin listening port=%d" % s.port, flush=True)
    while not done.wait(0.5):
        pass
    s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
