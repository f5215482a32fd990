#!/usr/bin/env python3
"""Precision and recall of `mlpack scan` and pipreqs on the hand-audited scan corpus.

    bench/scan_score.py CORPUS_DIR RESULTS_DIR

CORPUS_DIR holds corpus.toml (entries, ground truth) and one directory per entry.
RESULTS_DIR holds, per entry DIR, what bench/scan.sh wrote:
  DIR.mlpack-online.json    `mlpack --json scan DIR` (a cache of its own)
  DIR.mlpack-offline.json   `mlpack --json scan DIR --offline` (an empty cache)
  DIR.mlpack-offline-warm.json   the same with the online run's cache (optional)
  DIR.pipreqs.txt           `pipreqs --print --mode no-pin [--scan-notebooks] DIR` (online)
  DIR.pipreqs.rc            its exit status

Found = mlpack's `distributions[]` with `required: true`; pipreqs's printed lines, versions
stripped. Names are normalized (PEP 503). A truth item `a|b` is met by either name, and a
found name counts as correct when it meets some truth item. Micro-averaged over the corpus:
precision = correct found / found, recall = truth items met / truth items.

The row "mlpack online, lazy-only left out" drops the distributions whose every use is lazy
(inside a function or a branch): what a user gets who moves those to `exclude-imports`.
Prints a Markdown report on stdout.
"""
import json
import os
import re
import sys
import tomllib


def norm(name):
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def mlpack_found(doc, drop_lazy_only=False):
    if doc is None:
        return None
    found = set()
    for used in doc.get("distributions", []):
        if not used.get("required"):
            continue
        if drop_lazy_only and all(ev.get("lazy") for ev in used.get("evidence", [])):
            continue
        found.add(norm(used["name"]))
    return found


def pipreqs_found(results, entry):
    rc_path = os.path.join(results, entry + ".pipreqs.rc")
    try:
        with open(rc_path) as f:
            if f.read().strip() != "0":
                return None
        with open(os.path.join(results, entry + ".pipreqs.txt"), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return None
    found = set()
    for line in lines:
        line = line.strip()
        if line and not line.startswith(("#", "INFO", "WARNING")):
            found.add(norm(re.split(r"[=<>~!;\[ ]", line, maxsplit=1)[0]))
    return found


def score(truth, found):
    """(correct found, found, truth met, truth, misses, false positives)."""
    items = [set(norm(n) for n in t.split("|")) for t in truth]
    known = set().union(*items) if items else set()
    correct = {name for name in found if name in known}
    met = [item for item in items if item & found]
    misses = sorted("|".join(sorted(item)) for item in items if not item & found)
    false_positives = sorted(found - known)
    return len(correct), len(found), len(met), len(items), misses, false_positives


def main():
    corpus, results = sys.argv[1:3]
    with open(os.path.join(corpus, "corpus.toml"), "rb") as f:
        projects = tomllib.load(f)["project"]
    tools = {
        "mlpack (online)": lambda e: mlpack_found(load_json(os.path.join(results, e + ".mlpack-online.json"))),
        "mlpack --offline, empty cache": lambda e: mlpack_found(load_json(os.path.join(results, e + ".mlpack-offline.json"))),
        "mlpack --offline, online run's cache": lambda e: mlpack_found(
            load_json(os.path.join(results, e + ".mlpack-offline-warm.json"))),
        "pipreqs (online)": lambda e: pipreqs_found(results, e),
        "mlpack (online), lazy-only left out": lambda e: mlpack_found(
            load_json(os.path.join(results, e + ".mlpack-online.json")), drop_lazy_only=True),
    }
    notebooks = sum(p["kind"] == "notebook" for p in projects)
    truth_total = sum(len(p["truth"]) for p in projects)
    print(f"### scan corpus: {len(projects)} projects ({len(projects) - notebooks} repositories, "
          f"{notebooks} notebooks), {truth_total} required distributions in the ground truth")
    print()
    print("| tool | precision | recall | correct / found | met / truth | projects failed |")
    print("|---|---:|---:|---:|---:|---:|")
    details = {}
    for tool, find in tools.items():
        tp = nf = met = nt = failed = 0
        rows = []
        for p in projects:
            found = find(p["dir"])
            if found is None:
                failed += 1
                found = set()
            c, f, m, t, misses, fps = score(p["truth"], found)
            tp, nf, met, nt = tp + c, nf + f, met + m, nt + t
            rows.append((p["dir"], misses, fps))
        precision = tp / nf if nf else 0.0
        recall = met / nt if nt else 0.0
        print(f"| {tool} | {precision:.3f} | {recall:.3f} | {tp} / {nf} | {met} / {nt} | {failed} |")
        details[tool] = rows
    for tool in ("mlpack (online)", "mlpack --offline, empty cache", "pipreqs (online)"):
        print()
        print(f"#### {tool}: misses and false positives per project")
        print()
        for entry, misses, fps in details[tool]:
            if misses or fps:
                print(f"- `{entry}`: " + "; ".join(
                    part for part in (
                        "missed " + ", ".join(misses) if misses else "",
                        "false positives " + ", ".join(fps) if fps else "",
                    ) if part))


if __name__ == "__main__":
    main()
