#!/usr/bin/env python3
"""Per-unit table from Redis Tcl test-suite logs: tcl_table.py REDIS_DIR EMBER_DIR OUT_DIR.

Counts [ok] / [err] (an [exception], a test-client "*** [TIMEOUT]" or a unit
cut by the per-unit timeout counts as one err) / [ignore]+[skip] per unit; "ok on redis, not on emberkv" compares test
names (as a multiset). OUT_DIR/regressions.txt lists those tests with
emberkv's [err] text when there is one.
"""
import collections
import os
import re
import sys

LINE = re.compile(r"^\[(ok|err|skip|ignore|exception|timeout)\]: (.*)$")


def load(d):
    res = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        unit = name[:-4].replace("__", "/")
        c = collections.Counter()
        ok = collections.Counter()
        errs = {}
        lines = open(os.path.join(d, name), errors="replace").read().splitlines()
        for i, ln in enumerate(lines):
            if ln.startswith("*** [TIMEOUT]"):
                # the test client got no reply for --timeout seconds
                c["err"] += 1
                errs["(test client timeout)"] = "no reply within the client timeout"
                continue
            m = LINE.match(ln)
            if not m:
                continue
            kind, rest = m.groups()
            if kind == "ok":
                c["ok"] += 1
                ok[re.sub(r" \(\d+ ms\)$", "", rest)] += 1
            elif kind in ("err", "exception", "timeout"):
                c["err"] += 1
                tname = re.sub(r" in tests/\S+$", "", rest)
                errs[tname] = " | ".join(lines[i + 1 : i + 3])[:300]
            else:
                c["skip"] += 1
        res[unit] = (c, ok, errs)
    return res


def main():
    rd, ed, out = sys.argv[1:4]
    r, e = load(rd), load(ed)
    print("| unit | redis-server ok/err/skip | emberkv ok/err/skip | ok on redis, not on emberkv |")
    print("|---|---|---|---|")
    tr, te, treg = collections.Counter(), collections.Counter(), 0
    regs = []
    for u in sorted(set(r) | set(e), key=lambda u: (u.startswith("integration"), u)):
        rc, rok, _ = r.get(u, (collections.Counter(), collections.Counter(), {}))
        ec, eok, eerr = e.get(u, (collections.Counter(), collections.Counter(), {}))
        missing = rok - eok
        n = sum(missing.values())
        for t in sorted(missing):
            regs.append(f"{u}\t{t}\t{eerr.get(t, 'not reached (unit aborted or earlier error in its block)')}")
        tr.update(rc)
        te.update(ec)
        treg += n
        f = lambda c: f"{c['ok']}/{c['err']}/{c['skip']}"
        print(f"| {u} | {f(rc)} | {f(ec)} | {n} |")
    f = lambda c: f"{c['ok']}/{c['err']}/{c['skip']}"
    print(f"| **total** | {f(tr)} | {f(te)} | {treg} |")
    with open(os.path.join(out, "regressions.txt"), "w") as fh:
        fh.write("\n".join(regs) + "\n")


if __name__ == "__main__":
    main()
