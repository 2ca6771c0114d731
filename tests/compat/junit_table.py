#!/usr/bin/env python3
"""Per-file table from pytest junit XML files: junit_table.py REDIS_DIR EMBER_DIR OUT_DIR.

Each dir holds one <file>.xml per test file (name = test path with '/' -> '__').
Prints a markdown table (passed/failed/skipped per server; errors count as
failed) and writes OUT_DIR/regressions.txt: tests that pass on redis-server but
not on emberkv, with the first line of the failure message, and
OUT_DIR/ember_only_failures.txt: failing on emberkv, skipped on redis-server
(usually version-gated: emberkv reports a newer redis_version).
"""
import os
import sys
import xml.etree.ElementTree as ET


def load(d):
    res = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".xml"):
            continue
        f = name[:-4].replace("__", "/")
        cases = {}
        try:
            root = ET.parse(os.path.join(d, name)).getroot()
        except ET.ParseError:
            res[f] = None  # the run was cut by the per-file timeout
            continue
        for tc in root.iter("testcase"):
            tid = f"{tc.get('classname')}::{tc.get('name')}"
            st, msg = "passed", ""
            for child in tc:
                if child.tag in ("failure", "error"):
                    st, msg = "failed", (child.get("message") or "")
                    break
                if child.tag == "skipped":
                    st, msg = "skipped", (child.get("message") or "")
            cases[tid] = (st, msg.strip().splitlines()[0] if msg.strip() else "")
        res[f] = cases
    return res


def counts(cases):
    if cases is None:
        return "timeout"
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for st, _ in cases.values():
        c[st] += 1
    return f"{c['passed']}/{c['failed']}/{c['skipped']}"


def main():
    rd, ed, out = sys.argv[1:4]
    r, e = load(rd), load(ed)
    files = sorted(set(r) | set(e))
    print("| file | redis-server p/f/s | emberkv p/f/s | pass on redis, not on emberkv |")
    print("|---|---|---|---|")
    tot = {"r": [0, 0, 0], "e": [0, 0, 0], "reg": 0}
    regs, ember_only = [], []
    for f in files:
        rc, ec = r.get(f), e.get(f)
        n = 0
        for tid, (st, _) in (rc or {}).items():
            est = (ec or {}).get(tid, ("missing", "timeout or not collected"))
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
        print(f"| {f} | {counts(rc)} | {counts(ec)} | {n} |")
    t = lambda v: "/".join(map(str, v))
    print(f"| **total** | {t(tot['r'])} | {t(tot['e'])} | {tot['reg']} |")
    with open(os.path.join(out, "regressions.txt"), "w") as fh:
        fh.write("\n".join(regs) + "\n")
    with open(os.path.join(out, "ember_only_failures.txt"), "w") as fh:
        fh.write("\n".join(ember_only) + "\n")


if __name__ == "__main__":
    main()
