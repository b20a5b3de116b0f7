#!/usr/bin/env python3
"""deploy/Dockerfile (no Docker engine needed): two stages on debian:12-slim,
CMake builds in the first, and the final image installs only the runtime
libraries, runs as a non-root user, and starts runbookd on 0.0.0.0:9095."""
import json
import re

from common import Failures, path

fail = Failures("dockerfile")
RUNTIME = {"libmicrohttpd12", "libcjson1", "libcurl4", "libssl3", "libpq5", "libsqlite3-0",
           "ca-certificates"}
KNOWN = {"FROM", "RUN", "COPY", "WORKDIR", "USER", "ENV", "ARG", "EXPOSE", "VOLUME",
         "ENTRYPOINT", "CMD", "LABEL", "HEALTHCHECK", "STOPSIGNAL", "SHELL", "ADD"}

with open(path("deploy", "Dockerfile"), encoding="utf-8") as f:
    text = f.read()
logical = re.sub(r"\\\n", " ", text)
stages = []
for line in logical.splitlines():
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    word, _, rest = line.partition(" ")
    fail.check(word.upper() == word and word in KNOWN, f"unknown instruction {word}")
    if word == "FROM":
        stages.append({"from": rest.split()[0], "lines": []})
    elif stages:
        stages[-1]["lines"].append((word, rest.strip()))
    else:
        fail(f"{word} before FROM")

fail.check(len(stages) >= 2, "not a multi-stage build")
fail.check(all(s["from"] == "debian:12-slim" for s in stages), "every stage must be debian:12-slim")
build, final = stages[0], stages[-1]
build_runs = " ".join(r for w, r in build["lines"] if w == "RUN")
fail.check("cmake -S" in build_runs and "cmake --build" in build_runs, "the build stage does not run CMake")


def installed(runs):
    pkgs = set()
    for cmd in re.findall(r"apt-get install ([^&;|]*)", runs):
        pkgs |= {w for w in cmd.split() if not w.startswith("-")}
    return pkgs


final_runs = " ".join(r for w, r in final["lines"] if w == "RUN")
pkgs = installed(final_runs)
fail.check(pkgs == RUNTIME, f"final image packages {sorted(pkgs)} are not the runtime set {sorted(RUNTIME)}")
fail.check("--no-install-recommends" in final_runs and "rm -rf /var/lib/apt/lists" in final_runs,
           "final apt-get must skip recommends and clean its lists")
users = [r for w, r in final["lines"] if w == "USER"]
fail.check(users and users[-1].split(":")[0] not in ("0", "root"), "the final image does not run as non-root")
copies = [r for w, r in final["lines"] if w in ("COPY", "ADD")]
fail.check(copies and all(c.startswith("--from=") for c in copies),
           "the final stage copies only from the build stage")
entry = [r for w, r in final["lines"] if w == "ENTRYPOINT"]
cmd = [r for w, r in final["lines"] if w == "CMD"]
try:
    fail.check(entry and json.loads(entry[-1]) == ["/usr/bin/runbookd"], "ENTRYPOINT is not [\"/usr/bin/runbookd\"]")
    fail.check(cmd and "--web.listen-address=0.0.0.0:9095" in json.loads(cmd[-1]),
               "CMD does not listen on 0.0.0.0:9095")
except ValueError as e:
    fail(f"ENTRYPOINT/CMD must be JSON arrays: {e}")
fail.check(("EXPOSE", "9095") in final["lines"], "EXPOSE 9095 missing")
fail.exit()
