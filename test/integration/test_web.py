#!/usr/bin/env python3
"""The web page's files as HTTP serves them: /, /app.css and /app.js are
the bytes of web/ (embedded at build time, reproducibly), with the right
Content-Type, an ETag that answers 304, Cache-Control: no-cache and a strict
Content-Security-Policy; they need no credentials while the API behind them
keeps its own; the page's sources hold no inline script or style, no
external resource, and the script never parses text as HTML."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rbtest  # noqa: E402

FILES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/app.css": ("app.css", "text/css; charset=utf-8"),
         "/app.js": ("app.js", "text/javascript; charset=utf-8")}


def web(name):
    with open(os.path.join(rbtest.source_dir(), "web", name), "rb") as f:
        return f.read()


def main(t):
    d = t.daemon(start=False)
    d.file("reader", "reader-token-abcdef\n")
    d.write_config({"api": {"tokens": [{"name": "reader", "role": "read", "token_file": "reader"}]}})
    d.start()

    t.section("files, types and headers")
    etags = {}
    for path, (name, ctype) in FILES.items():
        r = d.get(path, auth=False)
        t.eq(r.status, 200, "GET %s without credentials" % path)
        t.eq(r.header("Content-Type"), ctype, "%s Content-Type" % path)
        t.check(r.body == web(name), "%s is web/%s byte for byte" % (path, name),
                "%d vs %d bytes" % (len(r.body), len(web(name))))
        t.eq(r.header("Cache-Control"), "no-cache", "%s revalidates (Cache-Control: no-cache)" % path)
        csp = r.header("Content-Security-Policy") or ""
        t.check(csp.startswith("default-src 'self'") and "unsafe" not in csp
                and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp,
                "%s has a strict Content-Security-Policy" % path, csp)
        t.eq(r.header("X-Content-Type-Options"), "nosniff", "%s: nosniff" % path)
        t.eq(r.header("X-Frame-Options"), "DENY", "%s: not framed" % path)
        et = r.header("ETag") or ""
        t.check(re.fullmatch(r'"[0-9a-f]{16}"', et), "%s has a strong ETag" % path, et)
        etags[path] = et

    t.section("conditional requests")
    for path, et in etags.items():
        r = d.get(path, headers={"If-None-Match": et}, auth=False)
        t.check(r.status == 304 and r.body == b"" and r.header("ETag") == et
                and r.header("Cache-Control") == "no-cache",
                "%s with its ETag: 304, empty, same headers" % path, r)
    r = d.get("/app.js", headers={"If-None-Match": '"0000000000000000", W/%s' % etags["/app.js"]},
              auth=False)
    t.eq(r.status, 304, "a list holding the (weak) ETag: 304")
    r = d.get("/app.js", headers={"If-None-Match": etags["/app.css"]}, auth=False)
    t.eq(r.status, 200, "another file's ETag: 200")
    r = d.get("/app.js", headers={"If-None-Match": "*"}, auth=False)
    t.eq(r.status, 304, "If-None-Match: * answers 304")

    t.section("methods and unknown files")
    r = d.request("HEAD", "/", auth=False)
    t.check(r.status == 200 and r.body == b"" and r.header("Content-Type") == FILES["/"][1],
            "HEAD / is 200 with no body", r)
    r = d.post("/", body=b"x", auth=False)
    t.check(r.status == 405 and "GET" in (r.header("Allow") or ""), "POST / is 405 with Allow", r)
    for p in ("/index.html", "/app.jsx", "/app.js/x", "/web/app.js"):
        t.eq(d.get(p, auth=False).status, 404, "GET %s is 404" % p)

    t.section("the API behind the page keeps its authorization")
    t.eq(d.get("/api/v1/incidents", auth=False).status, 401, "the API without a token: 401")
    r = d.get("/api/v1/incidents", headers=rbtest.bearer("reader-token-abcdef"), auth=False)
    t.eq(r.status, 200, "the API with the token: 200")

    t.section("the page's sources")
    html = web("index.html").decode()
    css = web("app.css").decode()
    js = web("app.js").decode()
    scripts = re.findall(r"<script\b[^>]*>", html)
    t.check(scripts and all('src="/app.js"' in s for s in scripts)
            and len(re.findall(r"<script\b[^>]*>\s*</script>", html)) == len(scripts),
            "no inline script", scripts)
    t.check(not re.search(r"<style\b|\sstyle=", html), "no inline style")
    t.check(not re.search(r"\son[a-z]+=", html), "no inline event handlers")
    t.check(not re.search(r"(src|href)=\"(https?:)?//", html), "no external resource in the HTML")
    t.check(not re.search(r"url\(|@import", css), "no external resource in the CSS")
    ext = [u for u in re.findall(r"https?://[^\s'\"]+", js) if u != "http://www.w3.org/2000/svg"]
    t.check(not ext, "no external URL in the script", ext)
    for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                "new Function", "DOMParser", "createContextualFragment"):
        t.check(bad not in js, "the script never uses %s" % bad)
    t.check("localStorage.setItem(TOKEN_KEY" not in js and "sessionStorage" in js,
            "the token is kept in sessionStorage")
    t.check("'#/incidents/' +" in js and "/ack" in js, "the script routes #/incidents/{id}[/ack]")

    t.section("reproducible embedding")
    cmake = rbtest.which("cmake")
    gen = os.path.join(os.path.dirname(os.path.abspath(rbtest.BIN)), "generated", "web_assets.c")
    if cmake and os.path.exists(gen):
        outs = []
        for _ in range(2):
            tmp = tempfile.mkdtemp(dir=t.tmp)
            p = subprocess.run([cmake, "-DWEB_DIR=" + os.path.join(rbtest.source_dir(), "web"),
                                "-DOUT_DIR=" + tmp, "-DFILES=index.html;app.css;app.js", "-P",
                                os.path.join(rbtest.source_dir(), "web", "embed.cmake")],
                               capture_output=True, text=True, timeout=60)
            t.eq(p.returncode, 0, "web/embed.cmake runs")
            with open(os.path.join(tmp, "web_assets.c"), "rb") as f:
                outs.append(f.read())
            shutil.rmtree(tmp)
        with open(gen, "rb") as f:
            built = f.read()
        t.check(outs[0] == outs[1] == built,
                "the generated source is the same on every run and equals the build's")
        t.check(etags["/app.js"].strip('"').encode() in built, "the ETag is the one built in")
    else:
        t.note("cmake or the build's generated/web_assets.c is missing: embedding not re-run")
    d.stop()


if __name__ == "__main__":
    rbtest.Test("web").run(main)
