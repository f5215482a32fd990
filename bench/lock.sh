#!/usr/bin/env bash
# Benchmark `mlpack lock` against `uv pip compile` and pip-tools' `pip-compile`.
#
#   bench/lock.sh            # report on stdout, progress on stderr
#
# Inputs (each resolved by all three tools, for one target: CPython 3.11 on Linux x86_64,
# glibc 2.36, i.e. the bookworm base):
#   * iris-sklearn, mnist-torch: the examples under examples/ml, copied to a temporary
#     directory (so no lock is written into the repository). uv and pip-compile get a
#     requirements.in with the same roots as mlpack's lock: its `[inputs] requirements`;
#   * ml-large: `transformers[torch]`, `datasets`, `accelerate`;
#   * airflow: `apache-airflow`;
#   * notebook-stack: `jupyter`, `matplotlib`, `seaborn`, `plotly` (metadata with folded and
#     blank continuation lines, which an earlier mlpack cut short);
#   * sdist-stack: `hydra-core`, `promise`, `docopt`, `fvcore`, `gym` (packages with only an
#     sdist, or depending on one).
#
# Cold: an empty cache for each run (mlpack: a fresh XDG_CACHE_HOME; uv: a fresh
# UV_CACHE_DIR; pip-compile: --rebuild, a fresh --cache-dir and a fresh PIP_CACHE_DIR).
# Warm: the cache the last cold run filled, and no earlier output (mlpack.lock, uv.txt and
# pip-compile.txt are deleted before every run, so no tool gets its previous pins as
# preferences). Warm time is the median of BENCH_WARM_RUNS runs, cold time the median of
# BENCH_COLD_RUNS runs. The three tools' runs are interleaved, so that a busy machine or a
# slow network hurts them alike. uv, pip-tools and the newest pip go into a throwaway
# virtualenv.
#
# The package sets are compared by PEP 503 name and version (mlpack vs uv, mlpack vs
# pip-compile), with what the index says about each differing release (sdist only, no wheel
# for the target, pre-release, requires-python). When mlpack fails where uv does not, it is
# run again with the roots pinned to uv's versions (and then with uv's pre-releases named
# too), so the report shows what in uv's resolution mlpack refuses.
#
# The same upload cutoff for all three: mlpack and uv `--exclude-newer`, pip-compile (which
# has no such flag) `--pip-args --uploaded-prior-to=` when the installed pip has that option
# (pip >= 26), else no cutoff (said in the report). The cutoff is given as an RFC 3339 time,
# because a bare date means the start of the day in UTC to mlpack but a local date to uv.
# pip-compile resolves for the interpreter it runs on (the local python3, whose version and
# glibc are printed next to the target's).
#
# Knobs (environment): BENCH_EXCLUDE_NEWER (default 2026-11-20; a date or an RFC 3339 time),
# BENCH_WARM_RUNS (default 3), BENCH_COLD_RUNS (default 2), BENCH_SLOW_S (default 120: a run
# slower than this is not repeated), BENCH_PIP_COMPILE_TIMEOUT (default 600 s per
# pip-compile run), BENCH_INPUTS (default "iris-sklearn mnist-torch ml-large airflow notebook-stack
# sdist-stack"),
# BENCH_UV_VERSION / BENCH_PIP_TOOLS_VERSION (pin the tools; default newest),
# BENCH_KEEP=1 (keep the work directory, with every lock, output and log),
# MLPACK (use this binary, do not build).
#
# Exits non-zero only when setup fails (python, venv, pip, build); a failing or slow run of
# a tool is reported, not fatal. The mlpack binary and the work directory are set up by
# bench/lib.sh, shared with the other benchmarks.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

EXCLUDE_NEWER="${BENCH_EXCLUDE_NEWER:-2026-11-20}"
WARM_RUNS="${BENCH_WARM_RUNS:-3}"
COLD_RUNS="${BENCH_COLD_RUNS:-2}"
SLOW_S="${BENCH_SLOW_S:-120}"
PC_TIMEOUT="${BENCH_PIP_COMPILE_TIMEOUT:-600}"
INPUTS="${BENCH_INPUTS:-iris-sklearn mnist-torch ml-large airflow notebook-stack sdist-stack}"

need_tools python3 timeout awk
need_bash5

# A bare date means its first instant in UTC (what mlpack does with one); pass the same
# instant to every tool.
if [[ "$EXCLUDE_NEWER" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
  CUTOFF="${EXCLUDE_NEWER}T00:00:00Z"
else
  CUTOFF="$EXCLUDE_NEWER"
fi

# Settings that would change what a tool does or where it caches; the index settings
# (PIP_INDEX_URL, UV_INDEX_URL) are left alone since all three tools read them.
unset MLPACK_OFFLINE MLPACK_EXCLUDE_NEWER UV_CACHE_DIR UV_NO_CACHE UV_EXCLUDE_NEWER \
  UV_OFFLINE UV_PRERELEASE UV_CONSTRAINT UV_OVERRIDE PIP_FIND_LINKS PIP_NO_INDEX \
  PIP_CACHE_DIR PIP_NO_CACHE_DIR PIP_CONSTRAINT PIP_PRE PIP_ONLY_BINARY PIP_NO_BINARY \
  PIP_UPLOADED_PRIOR_TO

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mlpack-lock-bench.XXXXXX")"
trap remove_work EXIT

# --- 1. mlpack ------------------------------------------------------------------------
mlpack_binary stale

# --- 2. uv and pip-tools in a throwaway virtualenv ---------------------------------------
log "creating virtualenv in $WORK/venv, installing uv and pip-tools"
python3 -m venv "$WORK/venv" || die "python3 -m venv failed"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip >&2 || die "pip install --upgrade pip failed"
"$VPY" -m pip install --quiet \
  "uv${BENCH_UV_VERSION:+==$BENCH_UV_VERSION}" \
  "pip-tools${BENCH_PIP_TOOLS_VERSION:+==$BENCH_PIP_TOOLS_VERSION}" >&2 \
  || die "pip install uv pip-tools failed"
UV="$WORK/venv/bin/uv"
PIP_COMPILE="$WORK/venv/bin/pip-compile"
[[ -x "$UV" && -x "$PIP_COMPILE" ]] || die "uv or pip-compile missing after install"

UV_PLATFORM=x86_64-manylinux_2_36
"$UV" pip compile --help | grep -- "$UV_PLATFORM" >/dev/null \
  || die "this uv has no --python-platform $UV_PLATFORM"
PIP_CUTOFF_ARGS=()
if "$VPY" -m pip install --help | grep -- '--uploaded-prior-to' >/dev/null; then
  PIP_CUTOFF_ARGS=(--pip-args "--uploaded-prior-to=$CUTOFF")
  PIP_CUTOFF_NOTE="pip --uploaded-prior-to=$CUTOFF (through --pip-args)"
else
  PIP_CUTOFF_NOTE="none (this pip has no --uploaded-prior-to; pip-compile has no cutoff flag)"
fi

MLPACK_VERSION="$("$MLPACK" --version)"
UV_VERSION="$("$UV" --version)"
PC_VERSION="$("$PIP_COMPILE" --version)"
PIP_VERSION="$("$VPY" -m pip --version | awk '{print $1, $2}')"
PY_VERSION="$("$VPY" -c 'import platform; print(platform.python_version())')"
GLIBC="$(ldd --version 2>/dev/null | awk 'NR == 1 {print $NF}' || true)"
CPU="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"

echo "# mlpack lock benchmark"
echo
echo "date:          $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine:       $(nproc) CPUs, ${CPU:-unknown CPU}, $(uname -sm)"
COMMIT="$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
echo "mlpack:        $MLPACK_VERSION ($MLPACK; source tree $COMMIT)"
echo "uv:            $UV_VERSION"
echo "pip-compile:   $PC_VERSION, $PIP_VERSION, on local CPython $PY_VERSION, glibc ${GLIBC:-?}"
echo "target:        CPython 3.11 (3.11.2), Linux x86_64, glibc 2.36 (uv: --python-platform $UV_PLATFORM)"
echo "cutoff:        mlpack/uv --exclude-newer $CUTOFF; pip-compile: $PIP_CUTOFF_NOTE"
echo "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the start (1, 5, 15 min)"
echo "runs:          cold: median of $COLD_RUNS (empty caches), warm: median of $WARM_RUNS (cache kept, output deleted);"
echo "               a run over ${SLOW_S}s is not repeated; pip-compile capped at ${PC_TIMEOUT}s a run"
echo

# --- 3. timing helpers -----------------------------------------------------------------
RESULTS="$WORK/results.tsv"   # input tool phase run seconds rc
: >"$RESULTS"

# timed LOG CMD...: runs CMD with its output in LOG; sets T (seconds) and RC. (Not
# bench/lib.sh's timed: no /usr/bin/time, stdout and stderr together in LOG.)
timed() {
  local out="$1"; shift
  local start="$EPOCHREALTIME"
  set +e
  "$@" >"$out" 2>&1
  RC=$?
  set -e
  T="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
}

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

slow() { awk -v t="$1" -v s="$SLOW_S" 'BEGIN { exit !(t > s) }'; }

# one_run INPUT TOOL PHASE RUN: one timed run of run_<tool> PHASE CACHE LOG (which reads
# $IN, the input's directory). A cold run gets an empty cache; a warm run the cache of the
# tool's last cold run. Sets DONE[tool]=1 when the tool should not be run again in this
# phase (it failed, or was slower than BENCH_SLOW_S), FAILED[tool]=1 when it failed cold.
one_run() {
  local input="$1" tool="$2" phase="$3" run="$4"
  if [[ "$phase" == cold ]]; then
    CACHE[$tool]="$IN/cache-$tool-cold-$run"
    rm -rf "${CACHE[$tool]}"; mkdir -p "${CACHE[$tool]}"
  fi
  "run_$tool" "$phase" "${CACHE[$tool]}" "$IN/$tool-$phase-$run.log"
  record "$input" "$tool" "$phase" "$run" "$T" "$RC"
  log "$input: $tool $phase run $run: ${T}s (exit $RC)"
  if [[ "$RC" -ne 0 ]] || slow "$T"; then DONE[$tool]=1; fi
  if [[ "$RC" -ne 0 && "$phase" == cold ]]; then FAILED[$tool]=1; fi
  return 0
}

run_mlpack() {
  local phase="$1" cache="$2" out="$3"
  rm -f "$IN/proj/mlpack.lock"
  timed "$out" env XDG_CACHE_HOME="$cache" "$MLPACK" lock "$IN/proj" \
    --python 3.11 --exclude-newer "$CUTOFF"
  if [[ "$RC" -eq 0 && -f "$IN/proj/mlpack.lock" ]]; then
    cp "$IN/proj/mlpack.lock" "$IN/mlpack.lock"
  else
    cp "$out" "$IN/mlpack.error"
  fi
}

run_uv() {
  local phase="$1" cache="$2" out="$3"
  rm -f "$IN/uv.txt"
  timed "$out" env UV_CACHE_DIR="$cache" "$UV" pip compile "$IN/requirements.in" \
    --python-version "$PY_TARGET" --python-platform "$UV_PLATFORM" \
    --exclude-newer "$CUTOFF" --no-header -o "$IN/uv.txt"
}

run_pip_compile() {
  local phase="$1" cache="$2" out="$3" rebuild=()
  [[ "$phase" == cold ]] && rebuild=(--rebuild)
  rm -f "$IN/pip-compile.txt"
  # Run from the input's directory: pip-compile writes paths relative to it.
  timed "$out" env -C "$IN" PIP_CACHE_DIR="$cache/pip" timeout "$PC_TIMEOUT" \
    "$PIP_COMPILE" --quiet --strip-extras --allow-unsafe "${rebuild[@]}" \
    --cache-dir "$cache/pip-tools" "${PIP_CUTOFF_ARGS[@]}" \
    --output-file pip-compile.txt requirements.in
}

# --- 4. the inputs -----------------------------------------------------------------------
explicit_input() {
  # explicit_input DIR REQUIREMENT...: a project with only explicit requirements.
  local dir="$1"; shift
  local quoted
  quoted="$(printf '"%s", ' "$@")"
  mkdir -p "$dir"
  printf '[python]\nversion = "3.11"\nrequirements = [%s]\n' "${quoted%, }" >"$dir/mlpack.toml"
}

for input in $INPUTS; do
  IN="$WORK/inputs/$input"
  mkdir -p "$IN"
  case "$input" in
    iris-sklearn | mnist-torch | notebook-xgboost)
      [[ -d "$REPO/examples/ml/$input" ]] || die "no examples/ml/$input"
      cp -r "$REPO/examples/ml/$input" "$IN/proj"
      rm -f "$IN/proj/mlpack.lock"
      roots=()
      ;;
    ml-large)
      roots=("transformers[torch]" datasets accelerate)
      explicit_input "$IN/proj" "${roots[@]}"
      ;;
    airflow)
      roots=(apache-airflow)
      explicit_input "$IN/proj" "${roots[@]}"
      ;;
    notebook-stack)
      roots=(jupyter matplotlib seaborn plotly)
      explicit_input "$IN/proj" "${roots[@]}"
      ;;
    sdist-stack)
      roots=(hydra-core promise docopt fvcore gym)
      explicit_input "$IN/proj" "${roots[@]}"
      ;;
    *) die "unknown input $input (BENCH_INPUTS)" ;;
  esac
  : >"$IN/roots.txt"
  if ((${#roots[@]})); then printf '%s\n' "${roots[@]}" >"$IN/roots.txt"; fi

  # The runs are interleaved (cold: mlpack, uv, pip-compile, then again; warm likewise) so
  # that a change in the machine's load or the network falls on all three alike.
  declare -A CACHE=() DONE=() FAILED=()
  TOOLS=(mlpack)
  for phase in cold warm; do
    runs="$COLD_RUNS"; [[ "$phase" == warm ]] && runs="$WARM_RUNS"
    DONE=()
    for ((run = 1; run <= runs; run++)); do
      for tool in "${TOOLS[@]}"; do
        [[ -n "${DONE[$tool]:-}" || -n "${FAILED[$tool]:-}" ]] && continue
        one_run "$input" "$tool" "$phase" "$run"
      done
      if [[ "$phase" == cold && "$run" -eq 1 ]]; then
        # The roots for uv and pip-compile: the lock's [inputs] requirements, else (when
        # mlpack failed) the input's own list.
        if [[ -f "$IN/mlpack.lock" ]]; then
          "$VPY" - "$IN/mlpack.lock" >"$IN/requirements.in" <<'EOF_PY'
import sys, tomllib
lock = tomllib.load(open(sys.argv[1], "rb"))
for line in lock.get("inputs", {}).get("requirements", []):
    print(line.split("  #", 1)[0].strip())
EOF_PY
          PY_TARGET="$("$VPY" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["target"]["python-full"])' "$IN/mlpack.lock")"
        else
          cp "$IN/roots.txt" "$IN/requirements.in"
          PY_TARGET=3.11.2
        fi
        if [[ -s "$IN/requirements.in" ]]; then
          TOOLS=(mlpack uv pip_compile)
          for tool in uv pip_compile; do one_run "$input" "$tool" cold 1; done
        else
          log "$input: no roots (mlpack failed on an example); uv and pip-compile skipped"
        fi
      fi
    done
  done

  # When mlpack failed where uv did not, resolve again (with the cache of the first cold
  # run) with the roots pinned to uv's versions: the error then names what mlpack cannot
  # take in uv's resolution, rather than where its backtracking ended. If that fails too and
  # uv's resolution has pre-releases, once more with those named as requirements (which is
  # how mlpack lets a pre-release in).
  if [[ -f "$IN/mlpack.error" && -f "$IN/uv.txt" && -s "$IN/roots.txt" ]]; then
    "$VPY" - "$IN/roots.txt" "$IN/uv.txt" "$IN" <<'EOF_PY'
import re, sys
from packaging.utils import canonicalize_name
from packaging.version import Version
pins = {}
for line in open(sys.argv[2]):
    m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)", line)
    if m:
        pins[canonicalize_name(m.group(1))] = m.group(3)
roots = []
for root in open(sys.argv[1]).read().split():
    name = canonicalize_name(root.split("[")[0])
    roots.append(f"{root}=={pins[name]}" if name in pins else root)
pre = [f"{n}=={v}" for n, v in sorted(pins.items()) if Version(v).is_prerelease]
open(f"{sys.argv[3]}/diag-1.reqs", "w").write("\n".join(roots) + "\n")
if pre:
    open(f"{sys.argv[3]}/diag-2.reqs", "w").write("\n".join(roots + pre) + "\n")
EOF_PY
    for variant in 1 2; do
      [[ -f "$IN/diag-$variant.reqs" ]] || continue
      mapfile -t reqs <"$IN/diag-$variant.reqs"
      explicit_input "$IN/diag-$variant" "${reqs[@]}"
      log "$input: mlpack failed; again with ${reqs[*]}"
      timed "$IN/diag-$variant.log" env XDG_CACHE_HOME="$IN/cache-mlpack-cold-1" "$MLPACK" lock \
        "$IN/diag-$variant" --python 3.11 --exclude-newer "$CUTOFF"
      echo "$RC $T" >"$IN/diag-$variant.rc"
      if [[ -f "$IN/diag-$variant/mlpack.lock" ]]; then
        cp "$IN/diag-$variant/mlpack.lock" "$IN/diag-$variant.lock"
      fi
      [[ "$RC" -eq 0 ]] && break
    done
  fi
done

# --- 5. report -------------------------------------------------------------------------
cat >"$WORK/report.py" <<'EOF'
"""The table, the package-set differences and what explains each."""
import json
import os
import re
import statistics
import sys
import tomllib
import urllib.request
from datetime import datetime
from pathlib import Path

from packaging import tags
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

work, cutoff, pc_timeout = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
CUTOFF_T = datetime.fromisoformat(cutoff.replace("Z", "+00:00"))


def before_cutoff(f):
    t = f.get("upload-time")
    return not t or datetime.fromisoformat(t.replace("Z", "+00:00")) <= CUTOFF_T
inputs = sys.argv[4].split()
TOOLS = ["mlpack", "uv", "pip_compile"]
LABEL = {"mlpack": "mlpack", "uv": "uv", "pip_compile": "pip-compile"}

runs = {}
for line in (work / "results.tsv").read_text().splitlines():
    inp, tool, phase, _run, secs, rc = line.split("\t")
    runs.setdefault((inp, tool, phase), []).append((float(secs), int(rc)))


def timing(inp, tool, phase):
    """(median seconds or None, cell text)."""
    rs = runs.get((inp, tool, phase))
    if not rs:
        return None, "-"
    failed = [(s, rc) for s, rc in rs if rc != 0]
    if failed:
        secs, rc = failed[0]
        if tool == "pip_compile" and rc in (124, 137):
            return None, f"timeout (>{pc_timeout:.0f})"
        return None, f"FAIL {secs:.2f} (exit {rc})"
    med = statistics.median(s for s, _ in rs)
    mark = "" if len(rs) > 1 else "¹"
    return med, f"{med:.2f}{mark}"


def lock_set(path):
    lock = tomllib.load(open(path, "rb"))
    return {canonicalize_name(p["name"]): p["version"] for p in lock.get("packages", [])}, lock


REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def txt_set(path):
    """name -> version, and name -> 'via' lines, from a pip-compile-style output."""
    pins, via, current = {}, {}, None
    for line in path.read_text().splitlines():
        m = REQ.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            pins[current] = m.group(3)
            via[current] = []
        elif current and line.strip().startswith("#"):
            text = line.strip().lstrip("#").strip()
            text = text.removeprefix("via").strip()
            if text:
                via[current].append(text)
    return pins, via


def ratio(a, b):
    return f"{a / b:.1f}x" if a and b else "-"


# --- the table
rows, sets = [], {}
for inp in inputs:
    d = work / "inputs" / inp
    n = {}
    if (d / "mlpack.lock").exists() and not (d / "mlpack.error").exists():
        sets[(inp, "mlpack")], _ = lock_set(d / "mlpack.lock")
    for tool, name in (("uv", "uv.txt"), ("pip_compile", "pip-compile.txt")):
        ok = runs.get((inp, tool, "warm")) or runs.get((inp, tool, "cold"))
        if (d / name).exists() and ok and all(rc == 0 for _, rc in ok):
            sets[(inp, tool)] = txt_set(d / name)[0]
    t = {(tool, ph): timing(inp, tool, ph) for tool in TOOLS for ph in ("cold", "warm")}
    for tool in TOOLS:
        if not any((inp, tool, ph) in runs for ph in ("cold", "warm")):
            continue
        vs_uv = vs_pc = ""
        if tool == "mlpack":
            vs_uv = " / ".join(ratio(t[("mlpack", ph)][0], t[("uv", ph)][0]) for ph in ("cold", "warm"))
            vs_pc = " / ".join(ratio(t[("pip_compile", ph)][0], t[("mlpack", ph)][0]) for ph in ("cold", "warm"))
        count = len(sets[(inp, tool)]) if (inp, tool) in sets else "-"
        rows.append([inp, LABEL[tool], t[(tool, "cold")][1], t[(tool, "warm")][1], vs_uv, vs_pc, str(count)])

head = ["input", "tool", "cold s", "warm s", "mlpack/uv (cold / warm)", "pip-compile/mlpack (cold / warm)", "packages"]
print("## Times (seconds, median)\n")
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print("\n¹ one run only (slower than the repeat threshold, or a failure).")

# --- differences and their causes
PLATS = [f"manylinux_2_{m}_x86_64" for m in range(36, 4, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
SUPPORTED = set(tags.cpython_tags((3, 11), ["cp311"], PLATS)) | set(
    tags.compatible_tags((3, 11), "cp311", PLATS))
_pages = {}
INDEX = (os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple").rstrip("/")


def files_of(name, version):
    """The index's files of one release (PEP 691 JSON), or an error text."""
    if name not in _pages:
        try:
            req = urllib.request.Request(f"{INDEX}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                _pages[name] = json.load(r)
        except Exception as e:  # noqa: BLE001 - a note, not a failure
            _pages[name] = {"error": str(e)}
    page = _pages[name]
    if "error" in page:
        return page["error"]
    out = []
    for f in page.get("files", []):
        fn = f["filename"]
        try:
            if fn.endswith(".whl"):
                v = parse_wheel_filename(fn)[1]
            elif fn.endswith((".tar.gz", ".zip")):
                v = parse_sdist_filename(fn)[1]
            else:
                continue
        except Exception:  # noqa: BLE001 - unparsable names are not candidates anyway
            continue
        if v == Version(version):
            out.append(f)
    return out


def facts(name, version):
    """What the index says about one release, for the target."""
    files = files_of(name, version)
    if isinstance(files, str):
        return [f"(index: {files})"]
    kept = [f for f in files if before_cutoff(f)]
    wheels = [f for f in kept if f["filename"].endswith(".whl")]
    fit = [f for f in wheels if set(parse_wheel_filename(f["filename"])[3]) & SUPPORTED]
    out = []
    if not files:
        out.append("not on the index")
    elif not kept:
        out.append("every file uploaded after the cutoff")
    elif not wheels:
        out.append("sdist only (mlpack uses wheels only)")
    elif not fit:
        out.append("no wheel for cp311/manylinux_2_36 x86_64 (has: "
                   + ", ".join(sorted({f["filename"].split("-", 2)[-1] for f in wheels}))[:200] + ")")
    else:
        out.append(f"{len(fit)} fitting wheel(s)")
    if Version(version).is_prerelease:
        out.append("a pre-release")
    if kept and all(f.get("yanked") for f in kept):
        out.append("yanked")
    rps = sorted({f.get("requires-python") for f in fit or kept if f.get("requires-python")})
    if rps:
        out.append("requires-python " + " | ".join(rps))
    return out


def why_mlpack(lock, name):
    for p in lock.get("packages", []):
        if canonicalize_name(p["name"]) == name:
            return "; ".join(p.get("why", []))
    return ""


def compare(inp, other):
    d = work / "inputs" / inp
    a = sets[(inp, "mlpack")]
    b = sets[(inp, other)]
    _, lock = lock_set(d / "mlpack.lock")
    via = txt_set(d / ("uv.txt" if other == "uv" else "pip-compile.txt"))[1]
    diffs = []
    for name in sorted(set(a) | set(b)):
        va, vb = a.get(name), b.get(name)
        if va == vb:
            continue
        if va and vb:
            line = f"- `{name}`: mlpack {va}, {LABEL[other]} {vb}"
        elif va:
            line = f"- `{name}` {va} only in mlpack (why: {why_mlpack(lock, name)})"
        else:
            line = f"- `{name}` {vb} only in {LABEL[other]} (via: {', '.join(via.get(name, [])) or '?'})"
        notes = []
        if va and vb:
            notes.append(f"mlpack's why: {why_mlpack(lock, name)}; {LABEL[other]}'s via: {', '.join(via.get(name, [])) or '?'}")
        for tool, v in (("mlpack", va), (LABEL[other], vb)):
            if v:
                f = facts(name, v)
                if f:
                    notes.append(f"{tool}'s {v}: " + ", ".join(f))
        diffs.append(line + ("\n  - " + "\n  - ".join(notes) if notes else ""))
    return diffs


print("\n## Package sets: mlpack vs uv (names PEP 503-normalized)\n")
for inp in inputs:
    d = work / "inputs" / inp
    if (d / "mlpack.error").exists() or (inp, "mlpack") not in sets:
        print(f"### {inp}: mlpack failed\n")
        err = (d / "mlpack.error").read_text() if (d / "mlpack.error").exists() else "(no output)"
        lines = err.splitlines()
        print("```")
        for l in lines[:25]:
            print(l if len(l) <= 400 else l[:400] + f" … ({len(l)} chars)")
        if len(lines) > 25:
            print(f"… ({len(lines)} lines in all)")
        print("```")
        if (inp, "uv") in sets:
            pre = sorted(f"{n} {v}" for n, v in sets[(inp, "uv")].items() if Version(v).is_prerelease)
            top = [f"{n} {sets[(inp, 'uv')][n]}" for n in sorted(sets[(inp, "uv")])
                   if any(canonicalize_name(r.split("[")[0]) == n for r in (d / "requirements.in").read_text().split())]
            print(f"\nuv resolved {len(sets[(inp, 'uv')])} packages; its roots: {', '.join(top) or '?'}")
            if pre:
                print(f"pre-releases in uv's resolution (mlpack allows them only when asked): {', '.join(pre)}")
        for variant, what in ((1, "the roots pinned to uv's versions"),
                              (2, "the roots pinned and uv's pre-releases named as requirements")):
            if not (d / f"diag-{variant}.log").exists():
                continue
            reqs = ", ".join((d / f"diag-{variant}.reqs").read_text().split())
            rc, secs = (d / f"diag-{variant}.rc").read_text().split()
            print(f"\nmlpack again, with {what} ({reqs}): exit {rc} in {float(secs):.2f}s"
                  " (with the cache of the first cold run)")
            if rc != "0":
                err = (d / f"diag-{variant}.log").read_text()
                lines = err.splitlines()
                print("```")
                for l in lines[:12]:
                    print(l if len(l) <= 400 else l[:400] + f" … ({len(l)} chars)")
                if len(lines) > 12:
                    print(f"… ({len(lines)} lines in all)")
                print("```")
            elif (d / f"diag-{variant}.lock").exists():
                diag, _ = lock_set(d / f"diag-{variant}.lock")
                uvs = sets.get((inp, "uv"), {})
                delta = sorted(n for n in set(diag) | set(uvs) if diag.get(n) != uvs.get(n))
                print("then mlpack resolves " + (f"exactly uv's set ({len(diag)} packages)" if not delta else
                      "with differences: " + ", ".join(f"{n} {diag.get(n, '-')} vs uv {uvs.get(n, '-')}" for n in delta)))
        # Exact versions the errors call unusable: say what PyPI knows about them.
        named = sorted(set(re.findall(r"no usable version of `([^`]+)` matches ([0-9][^\s,]*) and", err)))
        for name, v in named[:10]:
            print(f"- `{name}` {v}: " + (", ".join(facts(name, v)) or "a final release with a fitting wheel"))
        print()
        continue
    if (inp, "uv") not in sets:
        print(f"### {inp}: no uv resolution to compare\n")
        continue
    diffs = compare(inp, "uv")
    print(f"### {inp}: " + ("identical" if not diffs else f"{len(diffs)} difference(s)") + "\n")
    for line in diffs:
        print(line)
    if diffs:
        print()

print("\n## Package sets: mlpack vs pip-compile\n")
for inp in inputs:
    if (inp, "mlpack") not in sets or (inp, "pip_compile") not in sets:
        print(f"- {inp}: not compared (a tool failed or timed out)")
        continue
    diffs = compare(inp, "pip_compile")
    print(f"- {inp}: " + ("identical" if not diffs else f"{len(diffs)} difference(s)"))
    for line in diffs:
        print("  " + line.replace("\n", "\n  "))
EOF

log "report"
echo "load average:  $(cut -d' ' -f1-3 /proc/loadavg) at the end of the runs"
echo
"$VPY" "$WORK/report.py" "$WORK" "$CUTOFF" "$PC_TIMEOUT" "$INPUTS"
