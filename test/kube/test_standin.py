#!/usr/bin/env python3
"""Tests for the stand-in Kubernetes API server (stdlib unittest).

Each test drives the stand-in over HTTP with the requests kubectl sends
(paths, content types, bodies), and checks the Status objects the real API
server would answer with.  Exit status is non-zero on failure.
"""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import standin  # noqa: E402

SEED = os.path.join(HERE, "ran-optimization.json")
NS = "ran-optimization"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
UA = "kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b"
DEPLOY = "/apis/apps/v1/namespaces/%s/deployments" % NS
RS = "/apis/apps/v1/namespaces/%s/replicasets" % NS
PODS = "/api/v1/namespaces/%s/pods" % NS
CMS = "/api/v1/namespaces/%s/configmaps" % NS


class Client:
    def __init__(self, port, token=None, tls_ctx=None):
        self.port, self.token, self.tls_ctx = port, token, tls_ctx

    def req(self, method, path, body=None, ctype=None, query=None, headers=None, raw=False):
        if self.tls_ctx:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=self.tls_ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        if query:
            path += "?" + urllib.parse.urlencode(query)
        h = {"Accept": "application/json", "User-Agent": UA}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            h["Content-Type"] = ctype or "application/json"
        else:
            data = None
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read().decode()
        hdrs = dict(r.getheaders())
        conn.close()
        if raw:
            return r.status, text, hdrs
        return r.status, (json.loads(text) if text else None), hdrs

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def ok(self, method, path, body=None, ctype=None, query=None, want=200):
        code, obj, _ = self.req(method, path, body, ctype, query)
        if code != want:
            raise AssertionError("%s %s -> %d %s" % (method, path, code, obj))
        return obj

    def admin(self, method, path, body=None):
        return self.req(method, "/_standin/" + path, body)[1]


def status_shape(tc, obj, code, reason, message=None):
    tc.assertEqual(obj["kind"], "Status")
    tc.assertEqual(obj["apiVersion"], "v1")
    tc.assertEqual(obj["metadata"], {})
    tc.assertEqual(obj["status"], "Failure")
    tc.assertEqual(obj["code"], code)
    if reason:
        tc.assertEqual(obj["reason"], reason)
    if message is not None:
        tc.assertEqual(obj["message"], message)


def rollout_status(d):
    """kubectl's DeploymentStatusViewer.Status: (message, done) or raises."""
    st = d.get("status") or {}
    name = d["metadata"]["name"]
    if d["metadata"].get("generation", 0) <= st.get("observedGeneration", 0):
        for c in st.get("conditions") or []:
            if c["type"] == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
                raise RuntimeError('deployment "%s" exceeded its progress deadline' % name)
        want = d["spec"].get("replicas", 1)
        upd = st.get("updatedReplicas", 0)
        if upd < want:
            return ("Waiting for deployment %r rollout to finish: %d out of %d new replicas have been updated..."
                    % (name, upd, want), False)
        if st.get("replicas", 0) > upd:
            return ("Waiting for deployment %r rollout to finish: %d old replicas are pending termination..."
                    % (name, st.get("replicas", 0) - upd), False)
        if st.get("availableReplicas", 0) < upd:
            return ("Waiting for deployment %r rollout to finish: %d of %d updated replicas are available..."
                    % (name, st.get("availableReplicas", 0), upd), False)
        return ('deployment "%s" successfully rolled out' % name, True)
    return ("Waiting for deployment spec update to be observed...", False)


def restart_patch(ts="2024-05-01T12:00:00Z"):
    return {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": ts}}}}}


class Base(unittest.TestCase):
    token = None

    def setUp(self):
        self.s = standin.StandIn(state=SEED, token=self.token, seed=7)
        self.port = self.s.start()
        self.k = Client(self.port, self.token)

    def tearDown(self):
        self.s.stop()

    def deploy(self, name):
        return self.k.ok("GET", DEPLOY + "/" + name)

    def owned_rs(self, d):
        sel = ",".join("%s=%s" % kv for kv in d["spec"]["selector"]["matchLabels"].items())
        lst = self.k.ok("GET", RS, query={"labelSelector": sel})
        return [r for r in lst["items"]
                if any(o["uid"] == d["metadata"]["uid"] and o.get("controller")
                       for o in r["metadata"].get("ownerReferences", []))]

    def pods(self, sel):
        return self.k.ok("GET", PODS, query={"labelSelector": sel})["items"]

    def rev(self, o):
        return int(o["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


class DiscoveryAndReads(Base):
    def test_discovery(self):
        v = self.k.ok("GET", "/version")
        self.assertEqual(v["major"], "1")
        self.assertIn("v1", self.k.ok("GET", "/api")["versions"])
        groups = [g["name"] for g in self.k.ok("GET", "/apis")["groups"]]
        self.assertIn("apps", groups)
        res = [r["name"] for r in self.k.ok("GET", "/apis/apps/v1")["resources"]]
        self.assertIn("deployments/scale", res)

    def test_lists_and_objects(self):
        lst = self.k.ok("GET", DEPLOY)
        self.assertEqual(lst["kind"], "DeploymentList")
        self.assertEqual(lst["apiVersion"], "apps/v1")
        self.assertTrue(lst["metadata"]["resourceVersion"].isdigit())
        names = sorted(i["metadata"]["name"] for i in lst["items"])
        self.assertEqual(names, ["agentdb", "api-gateway", "cognitive-core", "swarm-agent", "swarm-coordination"])
        self.assertNotIn("kind", lst["items"][0])  # typed lists carry no per-item kind
        d = self.deploy("cognitive-core")
        self.assertEqual(d["kind"], "Deployment")
        md = d["metadata"]
        for k in ("uid", "resourceVersion", "generation", "creationTimestamp", "labels", "annotations"):
            self.assertIn(k, md)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["name"], "cognitive-core")
        self.assertEqual(self.rev(d), 3)
        self.assertEqual(len(self.owned_rs(d)), 3)
        self.assertEqual(self.k.ok("GET", CMS)["kind"], "ConfigMapList")
        self.assertEqual(self.k.ok("GET", "/api/v1/namespaces/" + NS)["status"]["phase"], "Active")
        sysd = self.k.ok("GET", "/apis/apps/v1/namespaces/kube-system/deployments/coredns")
        self.assertEqual(sysd["status"]["readyReplicas"], 2)
        pods = self.pods("app=agentdb")
        self.assertEqual(len(pods), 1)
        p = pods[0]
        self.assertEqual(p["status"]["phase"], "Running")
        owner = p["metadata"]["ownerReferences"][0]
        self.assertEqual((owner["kind"], owner["controller"]), ("ReplicaSet", True))
        self.assertIn("pod-template-hash", p["metadata"]["labels"])

    def test_selectors(self):
        def names(sel=None, fs=None):
            q = {}
            if sel:
                q["labelSelector"] = sel
            if fs:
                q["fieldSelector"] = fs
            return sorted({p["metadata"]["labels"]["app"] for p in self.k.ok("GET", PODS, query=q)["items"]})
        self.assertEqual(names("app=agentdb"), ["agentdb"])
        self.assertEqual(names("app==agentdb"), ["agentdb"])
        self.assertEqual(names("app in (agentdb, swarm-agent)"), ["agentdb", "swarm-agent"])
        self.assertNotIn("agentdb", names("app!=agentdb"))
        self.assertEqual(len(names("app notin (agentdb,swarm-agent),app.kubernetes.io/part-of")), 3)
        self.assertEqual(names("!app"), [])
        self.assertEqual(names("app,app=api-gateway"), ["api-gateway"])
        self.assertEqual(names(fs="status.phase!=Running"), [])
        d = self.k.ok("GET", DEPLOY, query={"fieldSelector": "metadata.name=agentdb"})
        self.assertEqual([i["metadata"]["name"] for i in d["items"]], ["agentdb"])
        code, obj, _ = self.k.get(PODS, query={"labelSelector": "app in agentdb"})
        self.assertEqual(code, 400)
        status_shape(self, obj, 400, "BadRequest")
        code, obj, _ = self.k.get(DEPLOY, query={"fieldSelector": "spec.replicas=3"})
        self.assertEqual(code, 400)


class KubectlFlows(Base):
    def test_rollout_restart(self):
        before = self.deploy("cognitive-core")
        old_pods = {p["metadata"]["name"] for p in self.pods("app=cognitive-core")}
        resp = self.k.ok("PATCH", DEPLOY + "/cognitive-core", restart_patch(), SMP,
                         query={"fieldManager": "kubectl-rollout"})
        self.assertEqual(resp["metadata"]["generation"], before["metadata"]["generation"] + 1)
        self.assertEqual(resp["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
                         "2024-05-01T12:00:00Z")
        # other template annotations survive the strategic merge
        self.assertEqual(resp["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"], "true")
        d = self.deploy("cognitive-core")
        self.assertGreater(int(d["metadata"]["resourceVersion"]), int(before["metadata"]["resourceVersion"]))
        self.assertEqual(self.rev(d), 4)
        rss = self.owned_rs(d)
        self.assertEqual(len(rss), 4)
        new = [r for r in rss if self.rev(r) == 4][0]
        h = new["metadata"]["labels"]["pod-template-hash"]
        self.assertEqual(new["metadata"]["name"], "cognitive-core-" + h)
        self.assertEqual(new["spec"]["selector"]["matchLabels"]["pod-template-hash"], h)
        ref = new["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["kind"], ref["name"], ref["uid"], ref["controller"]),
                         ("Deployment", "cognitive-core", d["metadata"]["uid"], True))
        self.assertEqual(new["spec"]["replicas"], 2)
        self.assertTrue(all(r["spec"]["replicas"] == 0 for r in rss if r is not new))
        pods = self.pods("app=cognitive-core")
        self.assertEqual(len(pods), 2)
        self.assertFalse({p["metadata"]["name"] for p in pods} & old_pods)
        self.assertTrue(all(p["metadata"]["labels"]["pod-template-hash"] == h for p in pods))
        self.assertEqual(rollout_status(d)[1], True)
        st = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual(st["Progressing"]["reason"], "NewReplicaSetAvailable")
        self.assertEqual(d["status"]["observedGeneration"], d["metadata"]["generation"])

    def test_scale(self):
        sc = self.k.ok("PATCH", DEPLOY + "/agentdb/scale", {"spec": {"replicas": 3}}, MERGE)
        self.assertEqual((sc["kind"], sc["apiVersion"]), ("Scale", "autoscaling/v1"))
        self.assertEqual(sc["spec"]["replicas"], 3)
        d = self.deploy("agentdb")
        self.assertEqual(d["spec"]["replicas"], 3)
        self.assertEqual(d["status"]["readyReplicas"], 3)
        self.assertEqual(self.rev(d), 1)  # scaling is not a new revision
        self.assertEqual(len(self.pods("app=agentdb")), 3)
        g = self.k.ok("GET", DEPLOY + "/agentdb/scale")
        self.assertEqual(g["status"], {"replicas": 3, "selector": "app=agentdb"})
        g["spec"]["replicas"] = 2
        put = self.k.ok("PUT", DEPLOY + "/agentdb/scale", g)
        self.assertEqual(put["spec"]["replicas"], 2)
        self.assertEqual(len(self.pods("app=agentdb")), 2)
        # stale resourceVersion in a PUT /scale
        code, obj, _ = self.k.req("PUT", DEPLOY + "/agentdb/scale", g)
        self.assertEqual(code, 409)
        status_shape(self, obj, 409, "Conflict",
                     'Operation cannot be fulfilled on deployments.apps "agentdb": the object has been modified; '
                     'please apply your changes to the latest version and try again')
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb/scale", {"spec": {"replicas": -1}}, MERGE)
        self.assertEqual(code, 422)
        status_shape(self, obj, 422, "Invalid",
                     'Scale.autoscaling "agentdb" is invalid: spec.replicas: Invalid value: -1: '
                     'must be greater than or equal to 0')
        self.assertEqual(obj["details"]["causes"][0]["field"], "spec.replicas")
        self.assertEqual(obj["details"]["causes"][0]["reason"], "FieldValueInvalid")
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/nope/scale", {"spec": {"replicas": 1}}, MERGE)
        self.assertEqual(code, 404)
        self.assertEqual(obj["message"], 'deployments.apps "nope" not found')

    def test_patch_resources_and_env(self):
        p = {"spec": {"template": {"spec": {"containers": [
            {"name": "cognitive-core", "resources": {"limits": {"memory": "16Gi", "cpu": "6000m"}}}]}}}}
        d = self.k.ok("PATCH", DEPLOY + "/cognitive-core", p, SMP)
        c = d["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(c), 1)
        self.assertEqual(c[0]["resources"], {"limits": {"memory": "16Gi", "cpu": "6000m"},
                                             "requests": {"cpu": "2000m", "memory": "4Gi"}})
        self.assertEqual(c[0]["image"], "ericsson/ran-optimization-sdk:2.0.0")
        self.assertEqual(len(c[0]["env"]), 4)
        self.assertEqual(self.rev(self.deploy("cognitive-core")), 4)
        # env merges by name: NODE_OPTIONS replaced in place, a new var appended
        p = {"spec": {"template": {"spec": {"containers": [{"name": "cognitive-core", "env": [
            {"name": "NODE_OPTIONS", "value": "--max-old-space-size=10240"},
            {"name": "ENABLE_CACHE", "value": "true"}]}]}}}}
        d = self.k.ok("PATCH", DEPLOY + "/cognitive-core", p, SMP)
        env = d["spec"]["template"]["spec"]["containers"][0]["env"]
        self.assertEqual([e["name"] for e in env],
                         ["NODE_ENV", "NODE_OPTIONS", "COGNITIVE_MODE", "AGENTDB_URL", "ENABLE_CACHE"])
        self.assertEqual(env[1]["value"], "--max-old-space-size=10240")
        # $patch: delete on a list element; volumeMounts by mountPath; null deletes a key
        p = {"spec": {"template": {"metadata": {"annotations": {"prometheus.io/port": None}},
                                   "spec": {"containers": [{"name": "cognitive-core",
                                                            "env": [{"name": "ENABLE_CACHE", "$patch": "delete"}],
                                                            "volumeMounts": [{"mountPath": "/etc/cognitive-core",
                                                                              "readOnly": False}]}]}}}}
        d = self.k.ok("PATCH", DEPLOY + "/cognitive-core", p, SMP)
        t = d["spec"]["template"]
        self.assertNotIn("prometheus.io/port", t["metadata"]["annotations"])
        c = t["spec"]["containers"][0]
        self.assertNotIn("ENABLE_CACHE", [e["name"] for e in c["env"]])
        self.assertEqual(c["volumeMounts"][0], {"name": "config", "mountPath": "/etc/cognitive-core",
                                                "readOnly": False})
        self.assertEqual(len(c["volumeMounts"]), 2)
        # a merge patch replaces lists wholesale (RFC 7386)
        d = self.k.ok("PATCH", DEPLOY + "/agentdb", {"spec": {"template": {"spec": {"containers": [
            {"name": "agentdb", "image": "ericsson/agentdb:3.1.3"}]}}}}, MERGE)
        self.assertNotIn("env", d["spec"]["template"]["spec"]["containers"][0])
        # $patch: replace on a list
        d = self.k.ok("PATCH", DEPLOY + "/swarm-agent", {"spec": {"template": {"spec": {"containers": [
            {"name": "swarm-agent", "env": [{"$patch": "replace"}, {"name": "ONLY", "value": "1"}]}]}}}}, SMP)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["env"], [{"name": "ONLY", "value": "1"}])
        # unknown container name adds a container (and fails validation without an image)
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", {"spec": {"template": {"spec": {"containers": [
            {"name": "typo", "resources": {"limits": {"cpu": "1"}}}]}}}}, SMP)
        self.assertEqual(code, 422)
        self.assertEqual(obj["message"], 'Deployment.apps "agentdb" is invalid: '
                                         'spec.template.spec.containers[1].image: Required value')
        # merge key missing
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", {"spec": {"template": {"spec": {"containers": [
            {"image": "x"}]}}}}, SMP)
        self.assertEqual(code, 500)
        self.assertIn("does not contain declared merge key: name", obj["message"])
        # requests above limits, bad quantities
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/swarm-coordination", {"spec": {"template": {"spec": {
            "containers": [{"name": "swarm-coordination", "resources": {"requests": {"memory": "8Gi"}}}]}}}}, SMP)
        self.assertEqual(code, 422)
        self.assertIn("must be less than or equal to memory limit of 4Gi", obj["message"])
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", {"spec": {"template": {"spec": {"containers": [
            {"name": "agentdb", "resources": {"limits": {"memory": "8 GB"}}}]}}}}, SMP)
        self.assertEqual(code, 422)
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", {"spec": {"template": {"spec": {"containers": [
            {"name": "agentdb", "env": [{"name": "N", "value": 5}]}]}}}}, SMP)
        self.assertEqual(code, 422)

    def test_patch_configmap(self):
        before = self.k.ok("GET", CMS + "/agentdb-config")
        cm = self.k.ok("PATCH", CMS + "/agentdb-config",
                       {"data": {"QUIC_MAX_IDLE_TIMEOUT": "30000", "QUIC_INITIAL_MAX_DATA": "1048576"}}, SMP)
        self.assertEqual(cm["data"]["QUIC_MAX_IDLE_TIMEOUT"], "30000")
        self.assertEqual(cm["data"]["QUIC_INITIAL_MAX_DATA"], "1048576")
        self.assertEqual(cm["data"]["SYNC_INTERVAL_MS"], "500")
        self.assertGreater(int(cm["metadata"]["resourceVersion"]), int(before["metadata"]["resourceVersion"]))
        self.assertEqual(cm["metadata"]["uid"], before["metadata"]["uid"])
        cm = self.k.ok("PATCH", CMS + "/cognitive-core-config",
                       {"data": {"DATABASE_POOL_SIZE": "30", "DATABASE_TIMEOUT": "60000", "LOG_LEVEL": None}}, MERGE)
        self.assertEqual(cm["data"]["DATABASE_POOL_SIZE"], "30")
        self.assertNotIn("LOG_LEVEL", cm["data"])
        # the same patch again writes nothing: resourceVersion unchanged
        again = self.k.ok("PATCH", CMS + "/cognitive-core-config", {"data": {"DATABASE_POOL_SIZE": "30"}}, MERGE)
        self.assertEqual(again["metadata"]["resourceVersion"], cm["metadata"]["resourceVersion"])
        # data values must be strings
        code, obj, _ = self.k.req("PATCH", CMS + "/cognitive-core-config", {"data": {"DATABASE_POOL_SIZE": 50}},
                                  SMP)
        self.assertEqual(code, 422)
        status_shape(self, obj, 422, "Invalid")
        # configmap changes do not roll deployments
        self.assertEqual(self.rev(self.deploy("cognitive-core")), 3)

    def test_delete_pods_by_label(self):
        self.k.ok("PATCH", DEPLOY + "/agentdb/scale", {"spec": {"replicas": 3}}, MERGE)
        pods = self.pods("app=agentdb")
        self.assertEqual(len(pods), 3)
        old = {p["metadata"]["name"] for p in pods}
        opts = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        for p in pods:
            obj = self.k.ok("DELETE", PODS + "/" + p["metadata"]["name"], opts)
            self.assertEqual(obj["kind"], "Pod")
            self.assertEqual(obj["metadata"]["name"], p["metadata"]["name"])
            self.assertIn("deletionTimestamp", obj["metadata"])
            self.assertEqual(obj["metadata"]["deletionGracePeriodSeconds"], 30)
        now = self.pods("app=agentdb")
        self.assertEqual(len(now), 3)
        self.assertFalse({p["metadata"]["name"] for p in now} & old)
        self.assertTrue(all(p["status"]["phase"] == "Running" for p in now))
        code, obj, _ = self.k.req("DELETE", PODS + "/" + sorted(old)[0], opts)
        self.assertEqual(code, 404)
        status_shape(self, obj, 404, "NotFound", 'pods "%s" not found' % sorted(old)[0])
        self.assertEqual(obj["details"], {"name": sorted(old)[0], "kind": "pods"})
        # a configmap DELETE answers a Success Status
        cm = self.k.ok("GET", CMS + "/agentdb-config")
        st = self.k.ok("DELETE", CMS + "/agentdb-config", opts)
        self.assertEqual(st, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": {"name": "agentdb-config", "kind": "configmaps",
                                          "uid": cm["metadata"]["uid"]}})
        self.assertEqual(self.k.get(CMS + "/agentdb-config")[0], 404)
        d = self.deploy("agentdb")
        self.assertEqual(d["status"]["availableReplicas"], 3)

    def undo(self, name, to_revision=0):
        """kubectl rollout undo: DeploymentRollbacker.Rollback."""
        d = self.deploy(name)
        rss = self.owned_rs(d)
        by_rev = sorted(rss, key=self.rev)
        target = by_rev[-2] if to_revision == 0 else [r for r in rss if self.rev(r) == to_revision][0]
        tmpl = json.loads(json.dumps(target["spec"]["template"]))
        tmpl["metadata"]["labels"].pop("pod-template-hash")
        skip = {"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision",
                "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
                "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"}
        ann = {k: v for k, v in d["metadata"].get("annotations", {}).items() if k in skip}
        ann.update({k: v for k, v in target["metadata"].get("annotations", {}).items() if k not in skip})
        patch = [{"op": "replace", "path": "/spec/template", "value": tmpl},
                 {"op": "replace", "path": "/metadata/annotations", "value": ann}]
        self.k.ok("PATCH", DEPLOY + "/" + name, patch, JSONPATCH)
        return target

    def test_rollout_undo(self):
        d = self.deploy("cognitive-core")
        self.assertEqual(self.rev(d), 3)
        target = self.undo("cognitive-core")
        self.assertEqual(self.rev(target), 2)
        d = self.deploy("cognitive-core")
        self.assertEqual(self.rev(d), 4)
        env = d["spec"]["template"]["spec"]["containers"][0]["env"]
        self.assertEqual(env[1]["value"], "--max-old-space-size=4096")
        rss = self.owned_rs(d)
        self.assertEqual(len(rss), 3)  # the old ReplicaSet was reused, not copied
        reused = [r for r in rss if r["metadata"]["name"] == target["metadata"]["name"]][0]
        self.assertEqual(self.rev(reused), 4)
        self.assertEqual(reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"], "2")
        self.assertEqual(reused["spec"]["replicas"], 2)
        pods = self.pods("app=cognitive-core")
        self.assertTrue(all(p["metadata"]["ownerReferences"][0]["name"] == reused["metadata"]["name"]
                            for p in pods))
        self.assertEqual(rollout_status(d)[1], True)
        # undo again goes back to revision 3's template, as kubectl does
        self.undo("cognitive-core")
        d = self.deploy("cognitive-core")
        self.assertEqual(self.rev(d), 5)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"],
                         "--max-old-space-size=6144")
        # explicit --to-revision=1
        self.undo("cognitive-core", to_revision=1)
        d = self.deploy("cognitive-core")
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["image"],
                         "ericsson/ran-optimization-sdk:1.9.4")

    def test_json_patch_ops(self):
        path = DEPLOY + "/swarm-agent"
        ops = [{"op": "test", "path": "/spec/replicas", "value": 4},
               {"op": "replace", "path": "/spec/replicas", "value": 5},
               {"op": "add", "path": "/metadata/annotations/example.com~1owner", "value": "sre"},
               {"op": "copy", "from": "/metadata/annotations/example.com~1owner",
                "path": "/metadata/annotations/copied"},
               {"op": "move", "from": "/metadata/annotations/copied", "path": "/metadata/annotations/moved"},
               {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "X", "value": "1"}},
               {"op": "remove", "path": "/spec/template/spec/containers/0/env/0"}]
        d = self.k.ok("PATCH", path, ops, JSONPATCH)
        self.assertEqual(d["spec"]["replicas"], 5)
        self.assertEqual(d["metadata"]["annotations"]["example.com/owner"], "sre")
        self.assertEqual(d["metadata"]["annotations"]["moved"], "sre")
        self.assertNotIn("copied", d["metadata"]["annotations"])
        self.assertEqual([e["name"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]],
                         ["AGENTDB_URL", "X"])
        # a failed test is 422 Invalid with the generic message, and changes nothing
        rv = self.deploy("swarm-agent")["metadata"]["resourceVersion"]
        code, obj, _ = self.k.req("PATCH", path, [{"op": "test", "path": "/spec/replicas", "value": 4},
                                                  {"op": "replace", "path": "/spec/replicas", "value": 1}],
                                  JSONPATCH)
        self.assertEqual(code, 422)
        self.assertEqual(obj, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "the server rejected our request due to an error in our request",
                               "reason": "Invalid", "details": {}, "code": 422})
        self.assertEqual(self.deploy("swarm-agent")["metadata"]["resourceVersion"], rv)
        code, obj, _ = self.k.req("PATCH", path, [{"op": "replace", "path": "/spec/nope", "value": 1}], JSONPATCH)
        self.assertEqual(code, 422)
        code, obj, _ = self.k.req("PATCH", path, {"op": "replace"}, JSONPATCH)
        self.assertEqual(code, 400)

    def test_rollout_status_after_n(self):
        self.k.admin("POST", "rollout", {"namespace": NS, "deployment": "api-gateway", "mode": "after:3"})
        self.k.ok("PATCH", DEPLOY + "/api-gateway", restart_patch(), SMP)
        seen = []
        for _ in range(10):
            msg, done = rollout_status(self.deploy("api-gateway"))
            seen.append(msg)
            if done:
                break
        self.assertEqual(len(seen), 4, seen)
        self.assertTrue(all("Waiting for deployment" in m for m in seen[:3]), seen)
        self.assertIn("successfully rolled out", seen[3])
        # in progress: old pods still there, new ones pending
        self.k.ok("PATCH", DEPLOY + "/api-gateway", restart_patch("2024-05-01T13:00:00Z"), SMP)
        d = self.k.ok("GET", DEPLOY, query={"fieldSelector": "metadata.name=api-gateway"})["items"][0]
        self.assertEqual(d["status"]["replicas"], 6)
        self.assertEqual(d["status"]["updatedReplicas"], 3)
        cond = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual(cond["Progressing"]["reason"], "ReplicaSetUpdated")
        phases = sorted(p["status"]["phase"] for p in self.pods("app=api-gateway"))
        self.assertEqual(phases, ["Pending"] * 3 + ["Running"] * 3)
        self.k.admin("POST", "rollout", {"namespace": NS, "deployment": "api-gateway", "mode": "instant"})
        self.assertTrue(rollout_status(self.deploy("api-gateway"))[1])
        self.assertEqual(len(self.pods("app=api-gateway")), 3)

    def test_rollout_stuck(self):
        self.k.admin("POST", "rollout", {"namespace": NS, "deployment": "cognitive-core", "mode": "stuck"})
        self.k.ok("PATCH", DEPLOY + "/cognitive-core", restart_patch(), SMP)
        for _ in range(3):
            d = self.deploy("cognitive-core")
            with self.assertRaises(RuntimeError) as cm:
                rollout_status(d)
            self.assertIn("exceeded its progress deadline", str(cm.exception))
        cond = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual((cond["Progressing"]["status"], cond["Progressing"]["reason"]),
                         ("False", "ProgressDeadlineExceeded"))
        # stuck:N progresses for N GETs before the deadline passes
        self.k.admin("POST", "rollout", {"namespace": NS, "deployment": "agentdb", "mode": "stuck:2"})
        self.k.ok("PATCH", DEPLOY + "/agentdb", restart_patch(), SMP)
        self.assertFalse(rollout_status(self.deploy("agentdb"))[1])
        self.assertFalse(rollout_status(self.deploy("agentdb"))[1])
        with self.assertRaises(RuntimeError):
            rollout_status(self.deploy("agentdb"))

    def test_paused(self):
        self.k.ok("PATCH", DEPLOY + "/swarm-coordination", {"spec": {"paused": True}}, SMP)
        d0 = self.deploy("swarm-coordination")
        self.k.ok("PATCH", DEPLOY + "/swarm-coordination", restart_patch(), SMP)
        d = self.deploy("swarm-coordination")
        self.assertEqual(len(self.owned_rs(d)), 1)
        self.assertEqual(self.rev(d), self.rev(d0))
        cond = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual((cond["Progressing"]["status"], cond["Progressing"]["reason"]),
                         ("Unknown", "DeploymentPaused"))
        self.assertNotIn("updatedReplicas", d["status"])
        self.assertEqual(d["status"]["availableReplicas"], 3)
        self.k.ok("PATCH", DEPLOY + "/swarm-coordination", {"spec": {"paused": None}}, SMP)
        d = self.deploy("swarm-coordination")
        self.assertEqual(len(self.owned_rs(d)), 2)
        self.assertTrue(rollout_status(d)[1])

    def test_dry_run(self):
        d0 = self.deploy("cognitive-core")
        d = self.k.ok("PATCH", DEPLOY + "/cognitive-core", restart_patch(), SMP, query={"dryRun": "All"})
        self.assertIn("kubectl.kubernetes.io/restartedAt", d["spec"]["template"]["metadata"]["annotations"])
        d1 = self.deploy("cognitive-core")
        self.assertEqual(d1["metadata"]["resourceVersion"], d0["metadata"]["resourceVersion"])
        self.assertEqual(len(self.owned_rs(d1)), 3)
        sc = self.k.ok("PATCH", DEPLOY + "/agentdb/scale", {"spec": {"replicas": 3}}, MERGE,
                       query={"dryRun": "All"})
        self.assertEqual(sc["spec"]["replicas"], 3)
        self.assertEqual(self.deploy("agentdb")["spec"]["replicas"], 1)
        pod = self.pods("app=agentdb")[0]["metadata"]["name"]
        self.k.ok("DELETE", PODS + "/" + pod, query={"dryRun": "All"})
        self.assertEqual(self.k.get(PODS + "/" + pod)[0], 200)
        self.k.ok("PATCH", CMS + "/agentdb-config", {"data": {"A": "1"}}, MERGE, query={"dryRun": "All"})
        self.assertNotIn("A", self.k.ok("GET", CMS + "/agentdb-config")["data"])
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb/scale", {"spec": {"replicas": -3}}, MERGE,
                                  query={"dryRun": "All"})
        self.assertEqual(code, 422)
        code, obj, _ = self.k.req("PATCH", CMS + "/agentdb-config", {"data": {"A": "1"}}, MERGE,
                                  query={"dryRun": "Everything"})
        self.assertEqual(code, 422)


class Errors(Base):
    def test_not_found(self):
        code, obj, hdrs = self.k.get(DEPLOY + "/x")
        self.assertEqual(code, 404)
        self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        self.assertEqual(obj, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": 'deployments.apps "x" not found', "reason": "NotFound",
                               "details": {"name": "x", "group": "apps", "kind": "deployments"}, "code": 404})
        code, obj, _ = self.k.get(CMS + "/x")
        self.assertEqual(obj["message"], 'configmaps "x" not found')
        self.assertEqual(obj["details"], {"name": "x", "kind": "configmaps"})
        code, obj, _ = self.k.get("/api/v1/namespaces/nope")
        self.assertEqual(obj["message"], 'namespaces "nope" not found')
        code, obj, _ = self.k.get("/apis/apps/v1/namespaces/%s/statefulsets" % NS)
        self.assertEqual(code, 404)
        status_shape(self, obj, 404, "NotFound", "the server could not find the requested resource")
        # a missing namespace simply has no objects in lists
        self.assertEqual(self.k.ok("GET", "/api/v1/namespaces/nope/pods")["items"], [])

    def test_already_exists_and_create(self):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "agentdb-config"}, "data": {}}
        code, obj, _ = self.k.req("POST", CMS, body)
        self.assertEqual(code, 409)
        status_shape(self, obj, 409, "AlreadyExists", 'configmaps "agentdb-config" already exists')
        body["metadata"]["name"] = "fresh"
        obj = self.k.ok("POST", CMS, body, want=201)
        self.assertEqual(obj["metadata"]["namespace"], NS)
        code, obj, _ = self.k.req("POST", "/api/v1/namespaces/nope/configmaps", body)
        self.assertEqual(code, 404)
        self.assertEqual(obj["message"], 'namespaces "nope" not found')

    def test_conflict_on_stale_resource_version(self):
        d = self.deploy("agentdb")
        stale = d["metadata"]["resourceVersion"]
        self.k.ok("PATCH", DEPLOY + "/agentdb", restart_patch(), SMP)
        for ctype in (SMP, MERGE):
            code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb",
                                      {"metadata": {"resourceVersion": stale}, "spec": {"replicas": 2}}, ctype)
            self.assertEqual(code, 409)
            self.assertEqual(obj, {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": 'Operation cannot be fulfilled on deployments.apps "agentdb": the object has been '
                           'modified; please apply your changes to the latest version and try again',
                "reason": "Conflict", "details": {"name": "agentdb", "group": "apps", "kind": "deployments"},
                "code": 409})
        d["spec"]["replicas"] = 2
        code, obj, _ = self.k.req("PUT", DEPLOY + "/agentdb", d)
        self.assertEqual(code, 409)
        # with the fresh resourceVersion it goes through
        fresh = self.deploy("agentdb")
        fresh["spec"]["replicas"] = 2
        self.assertEqual(self.k.ok("PUT", DEPLOY + "/agentdb", fresh)["spec"]["replicas"], 2)
        cm = self.k.ok("GET", CMS + "/agentdb-config")
        self.k.ok("PATCH", CMS + "/agentdb-config", {"data": {"A": "1"}}, MERGE)
        code, obj, _ = self.k.req("PATCH", CMS + "/agentdb-config",
                                  {"metadata": {"resourceVersion": cm["metadata"]["resourceVersion"]},
                                   "data": {"A": "2"}}, MERGE)
        self.assertEqual(code, 409)
        self.assertEqual(obj["message"].split(":")[0], 'Operation cannot be fulfilled on configmaps "agentdb-config"')

    def test_invalid(self):
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", {"spec": {"replicas": -1}}, SMP)
        self.assertEqual(code, 422)
        self.assertEqual(obj, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'Deployment.apps "agentdb" is invalid: spec.replicas: Invalid value: -1: '
                       'must be greater than or equal to 0',
            "reason": "Invalid",
            "details": {"name": "agentdb", "group": "apps", "kind": "Deployment",
                        "causes": [{"reason": "FieldValueInvalid",
                                    "message": "Invalid value: -1: must be greater than or equal to 0",
                                    "field": "spec.replicas"}]},
            "code": 422})
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb",
                                  {"spec": {"selector": {"matchLabels": {"app": "other"}}}}, MERGE)
        self.assertEqual(code, 422)
        self.assertIn("field is immutable", obj["message"])

    def test_bad_request(self):
        for ctype in (SMP, MERGE, JSONPATCH):
            code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", '{"spec": {', ctype)
            self.assertEqual(code, 400, ctype)
            status_shape(self, obj, 400, "BadRequest")
        code, obj, _ = self.k.req("POST", CMS, "{nope")
        self.assertEqual(code, 400)

    def test_unsupported_media_type(self):
        code, obj, hdrs = self.k.req("PATCH", DEPLOY + "/agentdb", {"spec": {"replicas": 2}}, "application/json")
        self.assertEqual(code, 415)
        self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        self.assertEqual(obj, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the body of the request was in an unknown format - accepted media types include: "
                       "application/json-patch+json, application/merge-patch+json, "
                       "application/strategic-merge-patch+json, application/apply-patch+yaml",
            "reason": "UnsupportedMediaType", "code": 415})
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", "spec: {}", "application/apply-patch+yaml")
        self.assertEqual(code, 415)
        # charset parameters are fine
        self.k.ok("PATCH", DEPLOY + "/agentdb", {"spec": {"replicas": 2}}, MERGE + "; charset=utf-8")

    def test_method_not_allowed(self):
        for m, p in (("POST", DEPLOY + "/agentdb"), ("DELETE", DEPLOY + "/agentdb/scale"),
                     ("DELETE", "/api/v1/namespaces/" + NS), ("PUT", DEPLOY)):
            code, obj, _ = self.k.req(m, p, {} if m in ("POST", "PUT") else None)
            self.assertEqual(code, 405, (m, p))
            status_shape(self, obj, 405, "MethodNotAllowed",
                         "the server does not allow this method on the requested resource")

    def test_faults(self):
        f = self.k.admin("POST", "faults", {"method": "PATCH", "path": "/deployments/agentdb$", "status": 500,
                                            "times": 2})
        self.assertEqual(f["times"], 2)
        for _ in range(2):
            code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", restart_patch(), SMP)
            self.assertEqual(code, 500)
            status_shape(self, obj, 500, "InternalError", "Internal error occurred: etcdserver: request timed out")
            self.assertEqual(obj["details"], {"causes": [{"message": "etcdserver: request timed out"}]})
        self.assertEqual(self.rev(self.deploy("agentdb")), 1)  # failures changed nothing; GET not matched
        self.k.ok("PATCH", DEPLOY + "/agentdb", restart_patch(), SMP)
        self.assertEqual(self.rev(self.deploy("agentdb")), 2)

        self.k.admin("POST", "faults", {"path": "/agentdb", "status": 429, "times": 1, "retry_after": 3})
        code, obj, hdrs = self.k.get(DEPLOY + "/agentdb")
        self.assertEqual(code, 429)
        self.assertEqual(hdrs["Retry-After"], "3")
        self.assertEqual(obj, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "Too many requests, please try again later.",
                               "reason": "TooManyRequests", "details": {"retryAfterSeconds": 3}, "code": 429})
        self.k.admin("POST", "faults", {"method": "PATCH", "path": "agentdb", "status": 409})
        code, obj, _ = self.k.req("PATCH", DEPLOY + "/agentdb", restart_patch("x"), SMP)
        self.assertEqual(code, 409)
        self.assertEqual(obj["reason"], "Conflict")
        self.assertEqual(obj["details"], {"name": "agentdb", "group": "apps", "kind": "deployments"})
        self.k.admin("POST", "faults", [{"path": "agentdb", "status": 503}, {"path": "agentdb", "status": 504}])
        code, obj, _ = self.k.get(DEPLOY + "/agentdb")
        self.assertEqual((code, obj["reason"]), (503, "ServiceUnavailable"))
        code, obj, _ = self.k.get(DEPLOY + "/agentdb")
        self.assertEqual((code, obj["reason"], obj["message"]),
                         (504, "Timeout",
                          "Timeout: request did not complete within requested timeout - context deadline exceeded"))
        self.k.admin("POST", "faults", {"path": "agentdb", "delay_ms": 300})
        t0 = time.monotonic()
        self.k.ok("GET", DEPLOY + "/agentdb")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.k.admin("POST", "faults", {"path": "agentdb", "status": 500, "times": -1})
        self.assertEqual(self.k.get(DEPLOY + "/agentdb")[0], 500)
        self.assertEqual(self.k.get(DEPLOY + "/agentdb")[0], 500)
        self.k.admin("DELETE", "faults")
        self.assertEqual(self.k.get(DEPLOY + "/agentdb")[0], 200)
        self.k.admin("POST", "faults", {"path": "agentdb", "status": 429, "plain": True})
        code, text, hdrs = self.k.req("GET", DEPLOY + "/agentdb", raw=True)
        self.assertEqual((code, text.strip()), (429, "Too many requests, please try again later."))
        self.assertEqual(self.k.admin("POST", "faults", {"path": "x", "status": 302}), {"error": self.k.admin(
            "POST", "faults", {"path": "x", "status": 302})["error"]})
        log = self.k.admin("GET", "requests?path=agentdb&method=GET")
        self.assertIn(500, [r["code"] for r in log])
        self.assertTrue(any(r.get("fault") for r in log))

    def test_request_log(self):
        self.k.admin("DELETE", "requests")
        self.k.ok("PATCH", DEPLOY + "/agentdb/scale", {"spec": {"replicas": 3}}, MERGE)
        self.k.get(DEPLOY + "/nope")
        log = self.k.admin("GET", "requests")
        self.assertEqual(len(log), 2)
        r = log[0]
        self.assertEqual((r["method"], r["path"], r["code"]), ("PATCH", DEPLOY + "/agentdb/scale", 200))
        self.assertEqual(r["headers"]["Content-Type"], MERGE)
        self.assertEqual(r["headers"]["User-Agent"], UA)
        self.assertEqual(json.loads(r["body"]), {"spec": {"replicas": 3}})
        self.assertEqual(log[1]["code"], 404)
        self.assertEqual(self.k.admin("GET", "requests?since=%d" % r["seq"]), [log[1]])

    def test_admin_objects_and_reset(self):
        dump = self.k.admin("GET", "objects?namespace=kube-system")
        self.assertEqual([d["metadata"]["name"] for d in dump["deployments"]], ["coredns"])
        self.assertEqual(len(dump["pods"]), 2)
        more = {"deployments": [{"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
                                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                          "template": {"metadata": {"labels": {"app": "web"}},
                                                       "spec": {"containers": [{"name": "web",
                                                                                "image": "nginx:1.25"}]}}}}],
                "configmaps": [{"metadata": {"name": "web", "namespace": "default"}, "data": {"a": "b"}}],
                "rollout": {"default/web": "after:1"}}
        out = self.k.admin("POST", "objects", more)
        self.assertEqual(out["loaded"], {"deployments": 1, "configmaps": 1})
        self.assertEqual(len(self.k.ok("GET", "/api/v1/namespaces/default/pods")["items"]), 2)
        self.assertEqual(self.k.admin("GET", "rollout")["default/web"]["mode"], "after:1")
        self.k.admin("POST", "reset")
        self.assertEqual(self.k.get("/apis/apps/v1/namespaces/default/deployments/web")[0], 404)
        self.assertEqual(self.rev(self.deploy("cognitive-core")), 3)


class Auth(Base):
    token = "s3cret"

    def test_token(self):
        self.k.ok("GET", DEPLOY + "/agentdb")
        for tok in (None, "wrong"):
            c = Client(self.port, tok)
            code, obj, _ = c.get(DEPLOY + "/agentdb")
            self.assertEqual(code, 401)
            self.assertEqual(obj, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        # the admin API needs no token
        self.assertEqual(Client(self.port).admin("GET", "requests")[-1]["code"], 401)


class CommandLine(unittest.TestCase):
    def run_cli(self, extra, client_kw=None):
        p = subprocess.Popen([sys.executable, os.path.join(HERE, "standin.py"), "--listen", "127.0.0.1:0",
                              "--state", SEED] + extra, stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            self.assertRegex(line, r"^standin listening port=\d+\n$")
            port = int(line.strip().split("=")[1])
            c = Client(port, **(client_kw or {}))
            self.assertEqual(c.ok("GET", DEPLOY + "/agentdb")["metadata"]["name"], "agentdb")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(10)
            p.stdout.close()
        self.assertEqual(rc, 0)

    def test_cli_http_with_token(self):
        self.run_cli(["--token", "abc"], {"token": "abc"})

    @unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
    def test_cli_https(self):
        with tempfile.TemporaryDirectory() as td:
            cert, key = os.path.join(td, "c.pem"), os.path.join(td, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                            "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            ctx = ssl.create_default_context(cafile=cert)
            self.run_cli(["--tls-cert", cert, "--tls-key", key], {"tls_ctx": ctx})


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=1)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
