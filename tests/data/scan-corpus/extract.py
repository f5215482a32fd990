#!/usr/bin/env python3
"""Rebuild one corpus entry from a git snapshot of its repository.

    extract.py GIT_DIR COMMIT [SUBPATH[,SUBPATH...]] DEST

Copies every `.py` and `.ipynb` file of COMMIT (under SUBPATH when given; SUBPATH may
also name a single file) into DEST, keeping paths relative to SUBPATH (relative to the
repository root when several SUBPATHs are given). A SUBPATH ending in `.txt` (a
requirements file a notebook's `pip install -r` names) is copied as is. Notebooks are
stripped to what the scan reads: each cell's `cell_type` and `source` (outputs,
execution counts and metadata dropped), as valid nbformat 4.4 so that other tools
(nbconvert, used by pipreqs) read them too.
"""
import json
import os
import subprocess
import sys


def git(git_dir, *args):
    return subprocess.run(["git", "--git-dir", git_dir, *args], check=True,
                          capture_output=True).stdout


def strip(raw):
    nb = json.loads(raw)
    cells = []
    for c in nb.get("cells", []):
        src = c.get("source", "")
        cell = {"cell_type": c["cell_type"], "metadata": {}, "source": src}
        if c["cell_type"] == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    out = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    return (json.dumps(out, indent=1, ensure_ascii=False) + "\n").encode()


def main():
    if len(sys.argv) == 4:
        git_dir, commit, dest = sys.argv[1:]
        sub = ""
    else:
        git_dir, commit, sub, dest = sys.argv[1:]
    subs = sub.split(",") if sub else ["."]
    names = git(git_dir, "ls-tree", "-r", "--name-only", "-z", commit, "--", *subs)
    if len(subs) > 1:
        sub = ""
    for name in names.decode().split("\0"):
        if not name.endswith((".py", ".ipynb")) and not (name and name in subs):
            continue
        if sub and name == sub:
            rel = os.path.basename(name)
        else:
            rel = os.path.relpath(name, sub) if sub else name
        data = git(git_dir, "show", f"{commit}:{name}")
        if name.endswith(".ipynb"):
            data = strip(data)
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
