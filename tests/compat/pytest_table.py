#!/usr/bin/env python3
"""Per-file table from pytest logs: pytest_table.py REDIS_DIR EMBER_DIR OUT_DIR.

Each dir holds one <file>.log per test file (name = test path with '/' ->
'__'), the output of `pytest -v --tb=line`: the per-test PASSED/FAILED/ERROR/
SKIPPED/XFAIL lines give the outcomes (also for a run cut by the per-file
timeout: the tests it reached); the failure messages come from <file>.xml
(--junitxml; absent when the run was cut). (--tb=line: pytest's long
tracebacks of the asyncio tests cost ~0.3 s of CPU per failure.)
Prints a markdown table (passed/failed/skipped per server; errors count as
failed) and writes OUT_DIR/regressions.txt: tests that pass on redis-server but
not on emberkv, with the first line of the failure message, and
OUT_DIR/ember_only_failures.txt: failing on emberkv, skipped on redis-server
(usually version-gated: emberkv reports a newer redis_version).
"""
import os
import sys
import re
import xml.etree.ElementTree as ET


STATUS = re.compile(r"^(tests/\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
SUMMARY = re.compile(r"^(FAILED|ERROR) (tests/\S+::\S+)(?: - (.*))?$")
MAP = {"PASSED": "passed", "XPASS": "passed", "FAILED": "failed", "ERROR": "failed",
       "SKIPPED": "skipped", "XFAIL": "skipped"}


def load(d):
    res = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        f = name[:-4].replace("__", "/")
        cases, msgs, cut = {}, {}, True
        for ln in open(os.path.join(d, name), errors="replace"):
            ln = ln.rstrip("\n")
            m = STATUS.match(ln)
            if m:
                st = MAP[m.group(2)]
                # a test can report twice (call FAILED, teardown ERROR): worst wins
                if cases.get(m.group(1)) != "failed":
                    cases[m.group(1)] = st
                continue
            m = SUMMARY.match(ln)
            if m and m.group(3):
                msgs[m.group(2)] = m.group(3)
            if re.match(r"^=+ .*\bin [0-9.]+s", ln):
                cut = False
        xml = os.path.join(d, name[:-4] + ".xml")
        if os.path.exists(xml):
            try:
                for tc in ET.parse(xml).getroot().iter("testcase"):
                    for child in tc:
                        if child.tag in ("failure", "error"):
                            mod = f.replace("/", ".")
                            cls = tc.get("classname", "")[len(mod) + 1 :].replace(".", "::")
                            tid = f"{f}.py::{cls + '::' if cls else ''}{tc.get('name')}"
                            m = (child.get("message") or "").strip()
                            if m:
                                msgs[tid] = m.splitlines()[0]
            except ET.ParseError:
                pass
        out = {t: (st, msgs.get(t, "")) for t, st in cases.items()}
        res[f] = (out, cut)
    return res


def counts(entry):
    if entry is None:
        return "-"
    cases, cut = entry
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for st, _ in cases.values():
        c[st] += 1
    return f"{c['passed']}/{c['failed']}/{c['skipped']}" + (" (cut by timeout)" if cut else "")


def main():
    rd, ed, out = sys.argv[1:4]
    r, e = load(rd), load(ed)
    files = sorted(set(r) | set(e))
    print("| file | redis-server p/f/s | emberkv p/f/s | pass on redis, not on emberkv |")
    print("|---|---|---|---|")
    tot = {"r": [0, 0, 0], "e": [0, 0, 0], "reg": 0}
    regs, ember_only = [], []
    for f in files:
        rc, ec = (r.get(f) or ({}, 0))[0], (e.get(f) or ({}, 0))[0]
        n = 0
        for tid, (st, _) in (rc or {}).items():
            est = (ec or {}).get(tid, ("missing", "not reached (per-file timeout)"))
            if st == "passed" and est[0] != "passed":
                n += 1
                regs.append(f"{tid}\t{est[0]}\t{est[1][:300]}")
        for tid, (st, msg) in (ec or {}).items():
            if st == "failed" and (rc or {}).get(tid, ("",))[0] == "skipped":
                ember_only.append(f"{tid}\t{msg[:300]}")
        for k, cs in (("r", rc), ("e", ec)):
            for st, _ in (cs or {}).values():
                tot[k][["passed", "failed", "skipped"].index(st)] += 1
        tot["reg"] += n
        print(f"| {f} | {counts(r.get(f))} | {counts(e.get(f))} | {n} |")
    t = lambda v: "/".join(map(str, v))
    print(f"| **total** | {t(tot['r'])} | {t(tot['e'])} | {tot['reg']} |")
    with open(os.path.join(out, "regressions.txt"), "w") as fh:
        fh.write("\n".join(regs) + "\n")
    with open(os.path.join(out, "ember_only_failures.txt"), "w") as fh:
        fh.write("\n".join(ember_only) + "\n")


if __name__ == "__main__":
    main()
