#!/usr/bin/env python3
"""Generate data/stdlib.tsv: Python standard-library top-level module names
for CPython 3.8 through 3.15, with the first and last version (in that range)
that ships each one.

mlpack's import scanner uses the table to tell stdlib imports from third-party
ones for a given target Python version.

Source: the PyPI package ``stdlib-list`` (pinned below), installed into a
throw-away virtualenv under the system temp dir. Its per-version lists are
reduced to top-level names (the part before the first dot), normalised (see
EXCLUDE, BACKFILL and the gap check below) and, for versions the package does
not ship, derived from the previous version plus the hand-kept DERIVED table.

Usage (Python >= 3.8; needs PyPI access unless --venv points at an env that
already has stdlib-list installed):

    python3 scripts/gen-stdlib.py            # (re)write data/stdlib.tsv
    python3 scripts/gen-stdlib.py --check    # exit 1 if data/stdlib.tsv is stale

The output is deterministic: no timestamps, sorted by module name.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

STDLIB_LIST_PIN = "stdlib-list==0.12.0"

# Target range, oldest first.
VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]

# Definition used: a module is "stdlib" for version V if it is in CPython V's
# sys.stdlib_module_names (cross-platform: Windows-/macOS-only modules count),
# plus "__main__" (always importable, never a PyPI distribution). stdlib-list's
# 3.10+ lists are exactly that. Its 3.8 and 3.9 lists were instead produced by
# listing one Linux installation, so they carry CPython's test modules and
# build artefacts and miss platform-specific modules; the tables below fix that.

# Never emitted, in any version. The test/example modules are the ones
# CPython's Tools/build/generate_stdlib_module_names.py leaves out of
# sys.stdlib_module_names ("Test modules are excluded").
EXCLUDE = {
    # CPython test packages/modules (IGNORE set of generate_stdlib_module_names.py)
    "test",
    "__hello__",
    "__phello__",
    "_ctypes_test",
    "_testbuffer",
    "_testcapi",
    "_testconsole",
    "_testimportmultiple",
    "_testinternalcapi",
    "_testmultiphase",
    "_xxsubinterpreters",
    "_xxtestfuzz",
    "xxlimited",
    "xxlimited_35",
    "xxsubtype",
    # Artefact of the conda installation stdlib-list's 3.9 list was taken from
    # (lib/libpython3.* picked up as a module "lib").
    "lib",
}
# Build-specific names such as _sysconfigdata_x86_64_conda_linux_gnu.
EXCLUDE_PREFIXES = ("_sysconfigdata_",)

# Modules missing from stdlib-list's Linux-generated 3.8/3.9 lists although
# CPython had them (they appear from its cross-platform 3.10 list on).
_PLATFORM_ONLY = {
    "nt",  # Windows counterpart of posix; always existed
    "_winapi",  # Windows, since 3.3 (used by subprocess, multiprocessing)
    "_overlapped",  # Windows, since 3.4 (asyncio proactor)
    "_msi",  # Windows, msilib backend since 2.5; removed with msilib in 3.13 (PEP 594)
    "_scproxy",  # macOS, urllib proxy settings; since 2.x
}
BACKFILL = {
    "3.8": set(_PLATFORM_ONLY),
    # _zoneinfo: C accelerator shipped with zoneinfo in 3.9 (PEP 615); the
    # 3.9 list lacks all extension modules (see ALLOW_GAPS_IN).
    "3.9": set(_PLATFORM_ONLY) | {"_zoneinfo"},
}

# stdlib-list's 3.9 list comes from an install without lib-dynload, so ~40
# extension modules (_asyncio, _csv, _ctypes, _json, pyexpat, ...) are missing
# from it although present in 3.8 and 3.10. A module present before and after
# a version but absent in it is filled in for that version only if the
# version is listed here; a gap anywhere else aborts the run (a module that
# leaves the stdlib and comes back would not fit the first/last format).
ALLOW_GAPS_IN = {"3.9"}

# Versions stdlib-list may not ship: derived from the previous version's set.
# Each change is checked against "What's New" / CPython's
# Python/stdlib_module_names.h. When stdlib-list does ship the version, the
# derivation is still computed and compared with it (mismatches are reported),
# which keeps this table honest.
DERIVED = {
    "3.14": {
        # What's New in Python 3.14 ("New modules" and private helpers visible
        # in sys.stdlib_module_names).
        "add": {
            "annotationlib",  # PEP 649/749, deferred evaluation of annotations
            "compression",  # PEP 784, compression package (compression.zstd, ...)
            "_zstd",  # PEP 784, C backend of compression.zstd
            "_hmac",  # HACL*-based HMAC accelerator (hmac module)
            "_remote_debugging",  # PEP 768, safe external debugger interface
            "_types",  # C helper for the types module
            "_py_warnings",  # pure-Python warnings implementation split out
            "_ast_unparse",  # ast.unparse implementation moved out of ast
        },
        "remove": {
            "_compression",  # moved into compression._common._streams (PEP 784)
        },
    },
    "3.15": {
        # Python 3.15 is in development: provisional. Checked against What's
        # New in Python 3.15 and CPython main's stdlib_module_names.h
        # (3.15.0a2+ era).
        "add": {
            "profiling",  # PEP 799, profiling.tracing / profiling.sampling
            "_math_integer",  # PEP 791, implementation of math.integer
        },
        "remove": {
            # Deprecated since 3.11 (re._compiler/_constants/_parser replace
            # them); removed in 3.15, gh-105456.
            "sre_compile",
            "sre_constants",
            "sre_parse",
        },
    },
}

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "data" / "stdlib.tsv"

DUMP_PROGRAM = r"""
import json, sys
from stdlib_list import short_versions, stdlib_list
wanted = json.loads(sys.argv[1])
out = {v: sorted(stdlib_list(v)) for v in wanted if v in short_versions}
print(json.dumps(out))
"""


def log(msg):
    print("gen-stdlib: " + msg, file=sys.stderr)


def venv_python(venv):
    for rel in ("bin/python", "Scripts/python.exe"):
        p = Path(venv) / rel
        if p.exists():
            return str(p)
    raise SystemExit("gen-stdlib: no python in virtualenv %s" % venv)


def has_stdlib_list(python):
    r = subprocess.run(
        [python, "-c", "import stdlib_list"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return r.returncode == 0


def load_lists(venv_arg):
    """Return {version: [dotted module names]} for the versions stdlib-list ships."""
    with tempfile.TemporaryDirectory(prefix="gen-stdlib-") as tmp:
        venv = venv_arg or os.path.join(tmp, "venv")
        if not venv_arg or not Path(venv).exists():
            log("creating virtualenv %s" % venv)
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        python = venv_python(venv)
        if not venv_arg or not has_stdlib_list(python):
            log("installing %s" % STDLIB_LIST_PIN)
            subprocess.run(
                [
                    python, "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", STDLIB_LIST_PIN,
                ],
                check=True,
            )
        ver = subprocess.run(
            [python, "-c",
             "from importlib.metadata import version; print(version('stdlib-list'))"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        if "==" in STDLIB_LIST_PIN and ver != STDLIB_LIST_PIN.split("==")[1]:
            raise SystemExit(
                "gen-stdlib: venv has stdlib-list %s, want %s" % (ver, STDLIB_LIST_PIN)
            )
        out = subprocess.run(
            [python, "-c", DUMP_PROGRAM, json.dumps(VERSIONS)],
            check=True, capture_output=True, text=True,
        ).stdout
    return ver, json.loads(out)


def top_level(names):
    result = set()
    for name in names:
        top = name.split(".", 1)[0].strip()
        if not top or top in EXCLUDE or top.startswith(EXCLUDE_PREFIXES):
            continue
        result.add(top)
    return result


def build(lists):
    """Return ({version: set(top-level names)}, notes) for every version in VERSIONS."""
    sets = {}
    notes = []
    shipped = [v for v in VERSIONS if v in lists]
    derived = [v for v in VERSIONS if v not in lists]
    if not shipped or shipped[0] != VERSIONS[0]:
        raise SystemExit("gen-stdlib: stdlib-list lacks %s" % VERSIONS[0])

    for i, v in enumerate(VERSIONS):
        if v in lists:
            s = top_level(lists[v])
            extra = BACKFILL.get(v, set()) - s
            if extra:
                notes.append("%s: backfilled %s" % (v, " ".join(sorted(extra))))
            s |= BACKFILL.get(v, set())
        else:
            if v not in DERIVED:
                raise SystemExit(
                    "gen-stdlib: stdlib-list lacks %s and DERIVED has no entry" % v
                )
            prev = sets[VERSIONS[i - 1]]
            s = (prev - DERIVED[v]["remove"]) | DERIVED[v]["add"]
            missing = DERIVED[v]["remove"] - prev
            if missing:
                raise SystemExit(
                    "gen-stdlib: DERIVED[%s] removes absent %s" % (v, sorted(missing))
                )
            notes.append("%s: derived from %s (+%d -%d)" % (
                v, VERSIONS[i - 1], len(DERIVED[v]["add"]), len(DERIVED[v]["remove"])))
        sets[v] = s

    # Validate DERIVED entries against stdlib-list where it ships the version.
    for v, change in sorted(DERIVED.items()):
        if v in lists and v in VERSIONS and VERSIONS.index(v) > 0:
            prev = sets[VERSIONS[VERSIONS.index(v) - 1]]
            predicted = (prev - change["remove"]) | change["add"]
            if predicted != sets[v]:
                log("WARNING: DERIVED[%s] disagrees with stdlib-list: "
                    "table-only %s, list-only %s" % (
                        v, sorted(predicted - sets[v]), sorted(sets[v] - predicted)))
            else:
                notes.append("%s: DERIVED table matches stdlib-list" % v)

    # Gaps: present in an earlier and a later version but not in between.
    everything = set().union(*sets.values())
    filled = {}
    for mod in sorted(everything):
        idx = [i for i, v in enumerate(VERSIONS) if mod in sets[v]]
        for i in range(idx[0], idx[-1] + 1):
            v = VERSIONS[i]
            if mod not in sets[v]:
                if v not in ALLOW_GAPS_IN:
                    raise SystemExit(
                        "gen-stdlib: %s is absent in %s but present before and "
                        "after; not expressible as first/last" % (mod, v))
                filled.setdefault(v, []).append(mod)
                sets[v].add(mod)
    for v in sorted(filled, key=VERSIONS.index):
        notes.append("%s: gap-filled %d modules: %s" % (
            v, len(filled[v]), " ".join(filled[v])))
    return sets, notes, derived


def cross_check_local(sets):
    v = "%d.%d" % sys.version_info[:2]
    if v not in sets or not hasattr(sys, "stdlib_module_names"):
        return
    local = set(sys.stdlib_module_names)
    table = sets[v]
    log("cross-check with this interpreter's sys.stdlib_module_names (%s): "
        "table-only %s, interpreter-only %s" % (
            v, sorted(table - local) or "none", sorted(local - table) or "none"))


def render(sets, ver, derived):
    rows = []
    for mod in sorted(set().union(*sets.values())):
        present = [v for v in VERSIONS if mod in sets[v]]
        rows.append("%s\t%s\t%s" % (mod, present[0], present[-1]))
    derived_txt = ", ".join(derived) if derived else "none"
    header = [
        "# Python standard-library top-level module names, CPython %s..%s."
        % (VERSIONS[0], VERSIONS[-1]),
        "# Source: PyPI package stdlib-list %s (per-version lists), reduced to"
        % ver,
        "#   top-level names; versions it lacks (%s) derived from the previous"
        % derived_txt,
        "#   version plus the commented DERIVED table in scripts/gen-stdlib.py.",
        "# Definition: CPython's sys.stdlib_module_names (all platforms) plus",
        "#   __main__; CPython test modules (test, _testcapi, xxsubtype, ...) excluded.",
        "# 3.15 is a development version: its row set is provisional.",
        "# Generated by: python3 scripts/gen-stdlib.py   (do not edit by hand)",
        "# Columns (tab-separated): module, first, last = first and last version in",
        "#   %s..%s that ships the module; it is stdlib for every version between."
        % (VERSIONS[0], VERSIONS[-1]),
    ]
    return "\n".join(header + rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if --output differs from a fresh run")
    ap.add_argument("--venv", help="reuse (or create) this virtualenv instead of a temp one")
    args = ap.parse_args()

    ver, lists = load_lists(args.venv)
    log("stdlib-list %s ships %s" % (ver, ", ".join(v for v in VERSIONS if v in lists)))
    sets, notes, derived = build(lists)
    for n in notes:
        log(n)
    cross_check_local(sets)
    text = render(sets, ver, derived)

    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            log("%s is out of date" % args.output)
            return 1
        log("%s is up to date" % args.output)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", newline="\n") as f:
        f.write(text)
    log("wrote %s (%d modules)" % (args.output, text.count("\n") - len(
        [l for l in text.splitlines() if l.startswith("#")])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
