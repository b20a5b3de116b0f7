#!/usr/bin/env python3
"""PostgreSQL steps against a real PostgreSQL 15 (Debian postgresql) started
here: initdb in a temporary directory (as the postgres user when run as
root), listening on 127.0.0.1 with a free port.  Read-only diagnostics put
their rows on the timeline; a write from a non-maintenance step fails and
changes nothing (however it is phrased); VACUUM ANALYZE runs only in a
maintenance step; max_rows, the statement timeout and optional diagnostics
behave as documented (docs/remediation.md, step kind `postgres`).  Exit 77
without PostgreSQL."""

import atexit
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

NS = rbtest.KUBE_NS


def pg_bindir():
    for v in ("15", "16", "17", "14", "13"):
        d = "/usr/lib/postgresql/%s/bin" % v
        if os.access(os.path.join(d, "initdb"), os.X_OK) and \
                os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    return None


class Postgres:
    def __init__(self, t, bindir):
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.dir = tempfile.mkdtemp(prefix="rbpg-")
        os.chmod(self.dir, 0o755)
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.port = rbtest.free_port()
        self.started = False
        atexit.register(self.stop)
        self.run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-sync", "--no-instructions")
        self.run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w",
                 "-t", "60", "-o", "-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off"
                 % (self.port, self.dir), "start")
        self.started = True

    def run(self, prog, *args, check=True, timeout=90):
        argv = [os.path.join(self.bindir, prog)] + list(args)
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, cwd=self.dir, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed: %s" % (prog, p.stdout.decode("utf-8", "replace")))
        return p.stdout.decode("utf-8", "replace")

    def sql(self, q):
        """Runs q as the superuser; returns the unaligned output."""
        return self.run("psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                        "-c", q).strip()

    def conninfo(self):
        return "host=127.0.0.1 port=%d user=postgres dbname=postgres" % self.port

    def stop(self):
        if self.started:
            self.started = False
            self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop",
                     check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def plan(name, steps, **extra):
    p = {"name": name, "match": ['alertname="%s"' % name],
         "target": {"deployment": "cognitive-core"},
         "allow": {"namespaces": [NS], "deployments": ["cognitive-core"]},
         "steps": steps, "limits": {"cooldown_seconds": 0, "max_per_hour": 100,
                                    "max_per_day": 100, "breaker_failures": 100}}
    p.update(extra)
    return p


def pgstep(query, **kw):
    s = {"kind": "postgres", "query": query}
    s.update(kw)
    return s


# Writes a non-maintenance step attempts at run time: the READ ONLY
# transaction refuses them.
WRITES = [
    ("insert", "INSERT INTO rb_t VALUES (2)"),
    ("create", "CREATE TABLE rb_evil (i int)"),
    ("cte-delete", "WITH x AS (DELETE FROM rb_t RETURNING *) SELECT count(*) FROM x"),
]
# Ways out of the read-only session, and maintenance without
# "maintenance": true: check-config refuses these plans outright.
REFUSED_AT_LOAD = [
    ("begin-read-write", "BEGIN READ WRITE; INSERT INTO rb_t VALUES (3); COMMIT",
     "one statement per postgres step"),
    ("start-transaction", "START TRANSACTION READ WRITE; INSERT INTO rb_t VALUES (4); COMMIT",
     "one statement per postgres step"),
    ("set-off", "SET default_transaction_read_only = off; INSERT INTO rb_t VALUES (5)",
     "one statement per postgres step"),
    ("vacuum", "VACUUM ANALYZE rb_t", "vacuum is maintenance"),
]


def body(t):
    bindir = pg_bindir()
    if not bindir:
        rbtest.log("SKIP: PostgreSQL (initdb, pg_ctl) is not installed")
        sys.exit(rbtest.SKIP)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            rbtest.log("SKIP: running as root without a postgres user")
            sys.exit(rbtest.SKIP)
    t0 = time.monotonic()
    pg = Postgres(t, bindir)
    t.note("PostgreSQL on 127.0.0.1:%d in %.1fs" % (pg.port, time.monotonic() - t0))
    pg.sql("CREATE TABLE rb_t (i int); INSERT INTO rb_t VALUES (1)")
    t.eq(pg.sql("SELECT count(*) FROM rb_t"), "1", "the test table holds 1 row")

    k = rbtest.StandIn(t)
    ps = [
        plan("pg-count", [pgstep("SELECT count(*) AS connections FROM pg_stat_activity")]),
        plan("pg-states", [pgstep("SELECT state, count(*) AS connections FROM "
                                  "pg_stat_activity GROUP BY state ORDER BY 2 DESC")]),
        plan("pg-maxrows", [pgstep("SELECT n FROM generate_series(1, 50) AS n", max_rows=5)]),
        plan("pg-timeout", [pgstep("SELECT pg_sleep(10)", timeout_seconds=1)]),
        plan("pg-optional", [pgstep("SELECT * FROM no_such_table", optional=True),
                             {"kind": "rollout_restart"}]),
        plan("pg-maint", [pgstep("VACUUM ANALYZE rb_t", maintenance=True)]),
    ] + [plan("pg-w-" + n, [pgstep(q)]) for n, q in WRITES]
    pd = rbtest.write_plans(t, "plans", ps)
    ci = t.write("pg-conninfo", pg.conninfo() + "\n")
    d = t.daemon(args=rbtest.remediation_args(k, pd, extra=[
        "--remediation.postgres-conninfo-file=" + ci,
        "--remediation.max-actions-per-minute=1000"]))

    def run(name):
        iid, _ = rbtest.fire(d, name, {"namespace": NS})
        fin = rbtest.wait_finished(d, iid, 30) or {}
        ev = [e for e in rbtest.events(d, iid) if e["kind"] in ("step succeeded", "step failed")
              and e["detail"].get("kind") == "postgres"]
        return iid, fin, ev

    t.section("read-only diagnostics")
    iid, fin, ev = run("pg-count")
    t.eq(fin.get("outcome"), "succeeded", "pg_stat_activity count: succeeded")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    rows = res.get("rows") or [[None]]
    t.check(ev and ev[0]["kind"] == "step succeeded" and res.get("columns") == ["connections"]
            and res.get("rowCount") == 1 and str(rows[0][0]).isdigit()
            and int(rows[0][0]) >= 1 and res.get("maintenance") is False,
            "pg_stat_activity count: the row is on the timeline (%s)" % rows[0][0], ev)
    iid, fin, ev = run("pg-states")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(fin.get("outcome") == "succeeded" and res.get("columns") == ["state", "connections"]
            and res.get("rowCount", 0) >= 1 and any(r[0] == "active" for r in res.get("rows", [])),
            "the shipped plan 03's connection query: rows by state", res)
    iid, fin, ev = run("pg-maxrows")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(res.get("rowCount") == 50 and res.get("rows") == [["1"], ["2"], ["3"], ["4"], ["5"]],
            "max_rows: 50 rows counted, the first 5 recorded", res)
    t0 = time.monotonic()
    iid, fin, ev = run("pg-timeout")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(fin.get("outcome") == "failed" and "statement timeout" in res.get("error", ""),
            "timeout_seconds 1: pg_sleep(10) cancelled by the statement timeout", res)
    t.check(time.monotonic() - t0 < 8, "timeout: did not wait 10 s")
    iid, fin, ev = run("pg-optional")
    t.check(fin.get("outcome") == "succeeded" and ev and ev[0]["kind"] == "step failed"
            and "no_such_table" in ev[0]["detail"].get("result", {}).get("error", ""),
            "optional diagnostic: its failure is recorded, the plan goes on", ev)
    t.check([r for r in k.requests() if r["method"] == "PATCH"],
            "optional diagnostic: the next step (restart) ran")

    t.section("plans that would leave the read-only session are refused by check-config")
    bad = rbtest.write_plans(t, "bad-plans",
                             [plan("pg-x-" + n, [pgstep(q)]) for n, q, _ in REFUSED_AT_LOAD])
    out = subprocess.run([rbtest.BIN, "check-config", "--remediation.dir=" + bad],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, timeout=30)
    text = out.stdout.decode("utf-8", "replace")
    t.eq(out.returncode, 1, "check-config refuses them (exit 1)")
    for n, q, why in REFUSED_AT_LOAD:
        t.check(("pg-x-" + n) in text and why in text, "refused %r: %s" % (q, why), text)

    t.section("writes from non-maintenance steps fail")
    for n, q in WRITES:
        iid, fin, ev = run("pg-w-" + n)
        res = ev[0]["detail"].get("result", {}) if ev else {}
        t.check(fin.get("outcome") == "failed" and ev and ev[0]["kind"] == "step failed",
                "non-maintenance %r: step failed" % q,
                (ev and ev[0]["kind"], res.get("error") or res.get("command")))
        t.check("read-only transaction" in res.get("error", ""),
                "non-maintenance %r: refused as a read-only transaction" % n,
                res.get("error") or res.get("command"))
    t.eq(pg.sql("SELECT string_agg(i::text, ',' ORDER BY i) FROM rb_t"), "1",
         "no write reached the table (still the single row 1)")
    t.eq(pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'rb_evil'"), "0",
         "no table was created")
    t.eq(pg.sql("SELECT coalesce(vacuum_count, 0) + coalesce(analyze_count, 0) FROM "
                "pg_stat_user_tables WHERE relname = 'rb_t'"), "0",
         "no VACUUM or ANALYZE ran from a non-maintenance step")

    t.section("maintenance step")
    counts = "SELECT vacuum_count || ',' || analyze_count FROM pg_stat_user_tables " \
             "WHERE relname = 'rb_t'"
    v0, a0 = (int(x) for x in pg.sql(counts).split(","))
    iid, fin, ev = run("pg-maint")
    res = ev[0]["detail"].get("result", {}) if ev else {}
    t.check(fin.get("outcome") == "succeeded" and res.get("command") == "VACUUM"
            and res.get("maintenance") is True,
            "maintenance VACUUM ANALYZE: succeeded", res)
    t.check(rbtest.wait_for(lambda: pg.sql(
        "SELECT vacuum_count > %d AND analyze_count > %d FROM pg_stat_user_tables "
        "WHERE relname = 'rb_t'" % (v0, a0)) == "t", 10, interval=0.3),
        "maintenance VACUUM ANALYZE: PostgreSQL counted the vacuum and the analyze")
    d.stop()
    k.stop()
    pg.stop()


if __name__ == "__main__":
    rbtest.Test("remediation_postgres").run(body)
