#!/usr/bin/env bash
# Benchmark `mlpack scan` against pipreqs.
#
#   bench/scan.sh            # report on stdout, progress on stderr
#   BENCH_CORPUS_ONLY=1 bench/scan.sh   # only precision/recall on the scan corpus (minutes)
#
# Findings (precision and recall, bench/scan_score.py): the hand-audited corpus of real ML
# repositories and notebooks in tests/data/scan-corpus (its README has the audit rules):
# `mlpack --json scan DIR` online and with `--offline` (empty cache, and the online run's
# cache), and pipreqs in its default online
# mode, each scored against the same ground truth, with per-project misses and false
# positives.
#
# Timing corpora:
#   * every examples/ml/*/ directory (skipped, with a note, when there are none);
#   * a large real tree (11,000+ .py files): pinned sdists of several big pure-Python
#     projects unpacked side by side, built once into $BENCH_CACHE and reused;
#   * the same tree minus the files CPython's own parser rejects ("py3clean"): pipreqs
#     aborts on the first file it cannot parse, so this is the tree it can be timed on.
#
# Both tools are timed without network: mlpack with `--offline`, pipreqs with
# `--use-local`, and both under a dead HTTP(S) proxy so that a lookup would fail loudly
# rather than be timed. Findings on the examples are compared against pipreqs in its
# default (online) mode, which is what its users get: `--use-local` in a fresh virtualenv
# only reports packages installed in that virtualenv.
#
# Knobs (environment): PIPREQS_VERSION (default 0.5.0), BENCH_RUNS (default 3, best of),
# BENCH_PIPREQS_SLOW_S (default 60: a pipreqs run slower than this is not repeated),
# BENCH_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/mlpack-bench),
# BENCH_EXAMPLES (default <repo>/examples/ml), MLPACK (use this binary, do not build),
# BENCH_CORPUS (default <repo>/tests/data/scan-corpus), BENCH_CORPUS_ONLY (1: score the
# corpus, skip the timing).
#
# Exits non-zero only when setup fails (venv, pip, build, corpus download); slow or
# failing benchmark runs are reported, not fatal.
set -euo pipefail

PIPREQS_VERSION="${PIPREQS_VERSION:-0.5.0}"
RUNS="${BENCH_RUNS:-3}"
PIPREQS_SLOW_S="${BENCH_PIPREQS_SLOW_S:-60}"
CACHE="${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlpack-bench}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXAMPLES="${BENCH_EXAMPLES:-$REPO/examples/ml}"

# The large corpus: exact versions and sdist hashes, so that the tree is the same
# everywhere. 11,242 .py files in all (Django 2774, salt 3690, ansible-core 1547,
# sympy 1490, twisted 1091, networkx 650).
LARGE_SDISTS=(
  "django==5.0.6 --hash=sha256:ff1b61005004e476e0aeea47c7f79b85864c70124030e95146315396f1e7951f"
  "salt==3007.1 --hash=sha256:b933ac4cb3e4b1118b46dada55c9cc6bdc6f0f94b4c92877aec44b25c6a28c9a"
  "ansible-core==2.17.1 --hash=sha256:46449d71bbd17c3ce85fe379721d88d333fd23637b5c3798e83fae5fa38def00"
  "sympy==1.12.1 --hash=sha256:2877b03f998cd8c08f07cd0de5b767119cd3ef40d09f41c30d722f6686b0fb88"
  "twisted==24.3.0 --hash=sha256:6b38b6ece7296b5e122c9eb17da2eeab3d98a198f50ca9efd00fb03e5b4fd4ae"
  "networkx==3.3 --hash=sha256:0c127d8b2f4865f59ae9cb8aafcd60b5c70f3241ebd66f7defad7c4ab90126c9"
)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/scan.sh: %s\n' "$*" >&2; exit 1; }

for tool in python3 tar find awk; do
  command -v "$tool" >/dev/null || die "needs $tool"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mlpack-bench.XXXXXX")"
STAGING=""
cleanup() { rm -rf "$WORK" ${STAGING:+"$STAGING"}; }
trap cleanup EXIT

# --- 1. pipreqs in a throwaway virtualenv ------------------------------------------
log "creating virtualenv in $WORK/venv, installing pipreqs==$PIPREQS_VERSION"
python3 -m venv "$WORK/venv" || die "python3 -m venv failed"
PY="$WORK/venv/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check "pipreqs==$PIPREQS_VERSION" \
  || die "pip install pipreqs==$PIPREQS_VERSION failed"
PIPREQS="$WORK/venv/bin/pipreqs"
GOT_PIPREQS="$("$PY" -c 'from importlib.metadata import version; print(version("pipreqs"))')"
[[ "$GOT_PIPREQS" == "$PIPREQS_VERSION" ]] || die "got pipreqs $GOT_PIPREQS, wanted $PIPREQS_VERSION"

# --- 2. the mlpack release binary ----------------------------------------------------
if [[ -n "${MLPACK:-}" ]]; then
  [[ -x "$MLPACK" ]] || die "MLPACK=$MLPACK is not executable"
else
  MLPACK="$REPO/target/release/mlpack"
  stale=""
  if [[ -x "$MLPACK" ]]; then
    stale="$(find "$REPO/src" "$REPO/data" "$REPO/templates" "$REPO/Cargo.toml" "$REPO/Cargo.lock" \
      -newer "$MLPACK" -print -quit 2>/dev/null || true)"
  fi
  if [[ ! -x "$MLPACK" || -n "$stale" ]]; then
    log "building mlpack (cargo build --release)${stale:+; newer than the binary: $stale}"
    (cd "$REPO" && cargo build --release) >&2 || die "cargo build --release failed"
  fi
fi

# --- 2b. precision and recall on the hand-audited scan corpus --------------------------
CORPUS="${BENCH_CORPUS:-$REPO/tests/data/scan-corpus}"
[[ -f "$CORPUS/corpus.toml" ]] || die "no corpus.toml in $CORPUS"
mkdir -p "$WORK/corpus"
# One entry per line, from the manifest (python3 >= 3.11 for tomllib).
mapfile -t CORPUS_DIRS < <(python3 -c 'import sys, tomllib
for p in tomllib.load(open(sys.argv[1], "rb"))["project"]: print(p["dir"])' "$CORPUS/corpus.toml") \
  || die "could not read $CORPUS/corpus.toml (python3 >= 3.11 needed)"
log "scan corpus: ${#CORPUS_DIRS[@]} projects in $CORPUS"
for entry in "${CORPUS_DIRS[@]}"; do
  dir="$CORPUS/$entry"
  [[ -d "$dir" ]] || die "corpus entry $entry has no directory"
  # Online with a cache of its own (so the index is really asked), then offline twice: with
  # an empty cache (what CI's e2e test sees) and with the online run's cached verdicts.
  XDG_CACHE_HOME="$WORK/corpus-cache-online" "$MLPACK" --json scan "$dir" \
    > "$WORK/corpus/$entry.mlpack-online.json" 2> "$WORK/corpus/$entry.mlpack-online.err" || true
  XDG_CACHE_HOME="$WORK/corpus-cache-empty" "$MLPACK" --json scan "$dir" --offline \
    > "$WORK/corpus/$entry.mlpack-offline.json" 2> "$WORK/corpus/$entry.mlpack-offline.err" || true
  XDG_CACHE_HOME="$WORK/corpus-cache-online" "$MLPACK" --json scan "$dir" --offline \
    > "$WORK/corpus/$entry.mlpack-offline-warm.json" 2> "$WORK/corpus/$entry.mlpack-offline-warm.err" || true
  # pipreqs as its users run it (online), asking pypi.org directly (see bench_corpus below).
  flags=(--print --mode no-pin --pypi-server https://pypi.org/pypi/)
  [[ -n "$(find "$dir" -name '*.ipynb' -type f -print -quit)" ]] && flags+=(--scan-notebooks)
  rc=0
  timeout 600 "$PIPREQS" "${flags[@]}" "$dir" > "$WORK/corpus/$entry.pipreqs.txt" 2> "$WORK/corpus/$entry.pipreqs.err" || rc=$?
  echo "$rc" > "$WORK/corpus/$entry.pipreqs.rc"
  log "scan corpus: $entry done (pipreqs exit $rc)"
done
CORPUS_REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO" status --porcelain -- src data Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  CORPUS_REV="$CORPUS_REV+dirty"
fi
{
  echo "## scan findings on the corpus (bench/scan.sh)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); mlpack: $("$MLPACK" --version) (rev $CORPUS_REV); pipreqs $GOT_PIPREQS"
  echo "- mlpack: \`mlpack --json scan DIR\` (online, own cache), \`--offline\` with an empty cache and with the online run's cache;" \
    "distributions with \`required: true\`;" \
    "pipreqs: \`pipreqs --print --mode no-pin --pypi-server https://pypi.org/pypi/ [--scan-notebooks] DIR\`"
  echo
  "$PY" "$REPO/bench/scan_score.py" "$CORPUS" "$WORK/corpus"
} > "$WORK/corpus-report.md" || die "scoring the corpus failed"
if [[ "${BENCH_CORPUS_ONLY:-0}" == 1 ]]; then
  cat "$WORK/corpus-report.md"
  exit 0
fi

# --- 3. corpora ----------------------------------------------------------------------
spec_key="$(printf '%s\n' "${LARGE_SDISTS[@]}" | sha256sum | cut -c1-12)"
LARGE="$CACHE/large-tree-$spec_key"
pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
CLEAN="$CACHE/large-tree-$spec_key-py$pyver-clean"

if [[ ! -f "$LARGE/.complete" ]]; then
  log "building the large corpus into $LARGE (once; pip download of 6 sdists takes minutes)"
  mkdir -p "$CACHE/sdists"
  printf '%s\n' "${LARGE_SDISTS[@]}" > "$WORK/large-tree.txt"
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    --require-hashes -r "$WORK/large-tree.txt" -d "$CACHE/sdists" >&2 \
    || die "pip download of the large corpus failed"
  STAGING="$(mktemp -d "$CACHE/staging.XXXXXX")"; staging="$STAGING"
  for spec in "${LARGE_SDISTS[@]}"; do
    name="${spec%%==*}"; rest="${spec#*==}"; version="${rest%% *}"
    # sdist file names vary in case and separator (Django-5.0.6, ansible_core-2.17.1)
    sdist="$(find "$CACHE/sdists" -maxdepth 1 -iname "$(tr '-' '?' <<<"$name")-$version.tar.gz" -print -quit)"
    [[ -n "$sdist" ]] || die "no sdist for $name $version in $CACHE/sdists"
    tar -xzf "$sdist" -C "$staging" || die "could not unpack $sdist"
  done
  printf '%s\n' "${LARGE_SDISTS[@]}" > "$staging/.complete"
  rm -rf "$LARGE"
  mv "$staging" "$LARGE"
  STAGING=""
fi

if [[ ! -f "$CLEAN/.complete" ]]; then
  log "building $CLEAN: the large tree minus files CPython $pyver cannot parse"
  rm -rf "$CLEAN"
  cp -al "$LARGE" "$CLEAN.tmp" 2>/dev/null || cp -a "$LARGE" "$CLEAN.tmp"
  # Exactly what pipreqs does with a file: open(encoding="utf-8").read(), ast.parse.
  "$PY" - "$CLEAN.tmp" > "$CLEAN.tmp/.removed" <<'EOF' || die "parse check failed"
import ast, os, sys
root = sys.argv[1]
for d, dirs, files in os.walk(root):
    dirs.sort()
    for f in sorted(files):
        if f.endswith(".py"):
            p = os.path.join(d, f)
            try:
                with open(p, encoding="utf-8") as fh:
                    ast.parse(fh.read())
            except Exception as e:
                print("%s\t%s" % (os.path.relpath(p, root), type(e).__name__))
EOF
  cut -f1 "$CLEAN.tmp/.removed" | while IFS= read -r rel; do rm -f -- "$CLEAN.tmp/$rel"; done
  touch "$CLEAN.tmp/.complete"
  mv "$CLEAN.tmp" "$CLEAN"
fi

count_files() { find "$1" \( -name '*.py' -o -name '*.ipynb' \) -type f | wc -l | tr -d ' '; }
LARGE_COUNT="$(count_files "$LARGE")"
CLEAN_COUNT="$(count_files "$CLEAN")"
log "large tree: $LARGE_COUNT .py/.ipynb files ($LARGE); clean copy: $CLEAN_COUNT"
(( LARGE_COUNT >= 10000 )) || die "the large tree has only $LARGE_COUNT files"

# --- 4. timing -----------------------------------------------------------------------
# No network for the timed runs: a lookup would hit a dead proxy and fail, not be timed.
offline_env=(env http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9
  no_proxy= NO_PROXY=)

# run_timed OUT ERR CMD...: one run; sets T_REAL (wall s), T_CPU (user+sys s), RC.
run_timed() {
  local out="$1" err="$2" tf="$WORK/time.txt" user sys; shift 2
  RC=0
  { time { "$@" > "$out" 2> "$err" || RC=$?; }; } 2> "$tf"
  read -r T_REAL user sys < "$tf"
  T_CPU="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')"
}

# measure NAME SLOW_S CMD...: run CMD up to $RUNS times, stdout/stderr of the first run
# kept in $WORK/NAME.out / .err. Sets BEST and BEST_CPU (wall and CPU seconds of the
# fastest run), NRUNS, RC (first run's exit code). A run slower than SLOW_S is not
# repeated; a failing run is not repeated.
measure() {
  local name="$1" slow="$2" i; shift 2
  run_timed "$WORK/$name.out" "$WORK/$name.err" "$@"
  BEST="$T_REAL"; BEST_CPU="$T_CPU"; NRUNS=1
  if (( RC != 0 )) || awk -v t="$BEST" -v s="$slow" 'BEGIN { exit !(t > s) }'; then
    return 0
  fi
  local first_rc="$RC"
  for (( i = 1; i < RUNS; i++ )); do
    run_timed /dev/null /dev/null "$@"
    if awk -v t="$T_REAL" -v b="$BEST" 'BEGIN { exit !(t < b) }'; then
      BEST="$T_REAL"; BEST_CPU="$T_CPU"
    fi
    NRUNS=$((NRUNS + 1))
  done
  RC="$first_rc"
}

warm_cache() { find "$1" \( -name '*.py' -o -name '*.ipynb' \) -type f -print0 | xargs -0 -r cat > /dev/null; }

TIMEFORMAT='%R %U %S'
# Other work on the machine skews wall-clock numbers: account for the CPU time spent
# during the benchmark by processes other than this script's children.
cpu_busy_s() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2+$3+$4+$7+$8+$9) / hz }' /proc/stat; }
# `times` must run in this shell (a $(...) subshell would see none of our children).
children_cpu_s() {
  times > "$WORK/times.txt"
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.2f", u[1]*60 + u[2] + s[1]*60 + s[2] }' "$WORK/times.txt"
}
BUSY_START="$(cpu_busy_s)"; children_cpu_s > "$WORK/children0"; WALL_START="$EPOCHREALTIME"
# corpus kind dir files mlpack_s mlpack_runs pipreqs_s pipreqs_runs pipreqs_rc pipreqs_flags mlpack_cpu_s pipreqs_cpu_s
RESULTS="$WORK/results.tsv"
: > "$RESULTS"

bench_corpus() {   # bench_corpus LABEL KIND DIR
  local label="$1" kind="$2" dir="$3" id flags m_best m_runs m_cpu
  id="$(tr -c 'A-Za-z0-9\n' '_' <<<"$label")"
  warm_cache "$dir"
  log "$label: mlpack ($RUNS runs)"
  measure "$id.mlpack" 1e9 "${offline_env[@]}" "$MLPACK" --json scan "$dir" --offline
  (( RC == 0 )) || die "mlpack scan failed on $dir (see below)
$(tail -5 "$WORK/$id.mlpack.err")"
  m_best="$BEST"; m_runs="$NRUNS"; m_cpu="$BEST_CPU"
  "$MLPACK" scan "$dir" --format requirements --offline > "$WORK/$id.mlpack.req" 2>/dev/null || true
  flags=(--print --mode no-pin --use-local)
  if [[ -n "$(find "$dir" -name '*.ipynb' -type f -print -quit)" ]]; then
    flags+=(--scan-notebooks)
  fi
  log "$label: pipreqs ${flags[*]} (up to $RUNS runs; one if slower than ${PIPREQS_SLOW_S}s)"
  measure "$id.pipreqs" "$PIPREQS_SLOW_S" "${offline_env[@]}" "$PIPREQS" "${flags[@]}" "$dir"
  log "$label: mlpack ${m_best}s, pipreqs ${BEST}s (rc $RC)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$kind" "$dir" "$(count_files "$dir")" \
    "$m_best" "$m_runs" "$BEST" "$NRUNS" "$RC" "${flags[*]}" "$m_cpu" "$BEST_CPU" >> "$RESULTS"
  if [[ "$kind" == example ]]; then
    # Findings: pipreqs as its users run it (PyPI lookups for what is not installed locally).
    # Its default server, pypi.python.org, only redirects to pypi.org (and does not resolve
    # in some sandboxes), so ask pypi.org directly: same JSON API, same answers.
    local online=(--print --mode no-pin --pypi-server https://pypi.org/pypi/)
    [[ " ${flags[*]} " == *" --scan-notebooks "* ]] && online+=(--scan-notebooks)
    log "$label: pipreqs ${online[*]} (online, for findings)"
    measure "$id.pipreqs_online" 0 "$PIPREQS" "${online[@]}" "$dir"
    printf '%s\t%s\t%s\n' "$BEST" "$RC" "${online[*]}" > "$WORK/$id.pipreqs_online.meta"
  fi
}

shopt -s nullglob
example_dirs=("$EXAMPLES"/*/)
shopt -u nullglob
for d in "${example_dirs[@]}"; do
  d="${d%/}"
  bench_corpus "$(basename "$d")" example "$d"
done
bench_corpus "large-tree" large "$LARGE"
bench_corpus "large-tree-py3clean" large "$CLEAN"

# --- 5. report -----------------------------------------------------------------------
children_cpu_s > "$WORK/children1"
FOREIGN="$(awk -v b0="$BUSY_START" -v b1="$(cpu_busy_s)" -v c0="$(cat "$WORK/children0")" -v c1="$(cat "$WORK/children1")" \
  -v w0="$WALL_START" -v w1="$EPOCHREALTIME" -v n="$(nproc)" \
  'BEGIN { f = (b1 - b0) - (c1 - c0); if (f < 0) f = 0; printf "%.1f %.1f %.0f", f, w1 - w0, 100 * f / ((w1 - w0) * n) }')"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO" status --porcelain -- src data Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
  REV="$REV+dirty"
fi

WORK="$WORK" RESULTS="$RESULTS" EXAMPLES="$EXAMPLES" LARGE="$LARGE" CLEAN="$CLEAN" \
DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" NPROC="$(nproc)" CPU="$CPU" REV="$REV" \
FOREIGN="$FOREIGN" MLPACK_VERSION="$("$MLPACK" --version)" \
PIPREQS_VERSION="$GOT_PIPREQS" PYVER="$("$PY" --version)" RUNS="$RUNS" \
N_EXAMPLES="${#example_dirs[@]}" \
"$PY" - <<'EOF'
import json, os, re

env = os.environ
work = env["WORK"]

def norm(name):
    return re.sub(r"[-_.]+", "-", name.strip()).lower()

def ident(label):
    return re.sub(r"[^A-Za-z0-9]", "_", label)

def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""

def mlpack_findings(label):
    required, optional, unresolved = set(), set(), set()
    for line in read(os.path.join(work, ident(label) + ".mlpack.req")).splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith("#"):
            required.add(norm(line))
        elif m := re.match(r"#\s*unresolved import `([^`]+)`", line):
            unresolved.add(norm(m.group(1)))
        elif m := re.match(r"#\s*(\S+)\s+\(optional", line):
            optional.add(norm(m.group(1)))
    return required, optional, unresolved

def pipreqs_findings(path):
    out = set()
    for line in read(path).splitlines():
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith("INFO"):
            out.add(norm(re.split(r"[=<>~!; ]", line, 1)[0]))
    return out

def pipreqs_failure(path):
    err = read(path)
    failed = re.findall(r"Failed on file: (.*)", err)
    last = [l for l in err.strip().splitlines() if l.strip()]
    return failed[-1] if failed else None, last[-1] if last else ""

rows = [line.rstrip("\n").split("\t") for line in open(env["RESULTS"]) if line.strip()]

print("## scan (bench/scan.sh)")
print()
print(f"- date: {env['DATE']}")
foreign_s, bench_wall, foreign_pct = env["FOREIGN"].split()
print(f"- machine: {env['NPROC']} CPUs, {env['CPU']}; other processes used {foreign_s} CPU-s "
      f"({foreign_pct}% of the machine) during the {bench_wall}s of timed runs")
if int(foreign_pct) > 5:
    print("- **the machine was busy with other work during this run: wall-clock numbers may be inflated; "
          "the CPU seconds below are less affected**")
print(f"- mlpack: {env['MLPACK_VERSION']} (release build, rev {env['REV']})")
print(f"- pipreqs: {env['PIPREQS_VERSION']} on {env['PYVER']}")
print(f"- timing: best of {env['RUNS']} wall-clock runs (page cache warmed first); a pipreqs run over "
      f"the slow limit is run once. No network: mlpack `--json scan DIR --offline`; pipreqs flags per row.")
print()
print("| corpus | files | mlpack s | pipreqs s | pipreqs/mlpack | only mlpack found | only pipreqs found |")
print("|---|---:|---:|---:|---:|---|---|")
notes = []
for label, kind, d, files, m_s, m_runs, p_s, p_runs, p_rc, p_flags, m_cpu, p_cpu in rows:
    doc = json.loads(read(os.path.join(work, ident(label) + ".mlpack.out")) or "{}")
    scanned = doc.get("files_scanned", "?")
    files_col = f"{scanned}" if str(scanned) == files else f"{scanned} ({files} on disk)"
    m = float(m_s)
    if p_rc == "0":
        p_col = f"{float(p_s):.2f}" + (" (1 run)" if p_runs == "1" and env["RUNS"] != "1" else "")
        ratio = f"{float(p_s) / m:.0f}x" if m > 0 else "-"
    else:
        failed, last = pipreqs_failure(os.path.join(work, ident(label) + ".pipreqs.err"))
        p_col = f"failed after {float(p_s):.2f}"
        ratio = "-"
        notes.append(f"pipreqs failed on `{label}` (exit {p_rc}) at `{os.path.relpath(failed, d) if failed else '?'}`: {last}")
    only_m = only_p = "-"
    if kind == "example":
        required, optional, unresolved = mlpack_findings(label)
        meta = read(os.path.join(work, ident(label) + ".pipreqs_online.meta")).strip().split("\t")
        online = pipreqs_findings(os.path.join(work, ident(label) + ".pipreqs_online.out"))
        if len(meta) == 3 and meta[1] == "0":
            only_m = ", ".join(sorted(required - online)) or "none"
            marks = []
            for name in sorted(online - required):
                tag = " (mlpack: optional)" if name in optional else " (mlpack: unresolved)" if name in unresolved else ""
                marks.append(name + tag)
            only_p = ", ".join(marks) or "none"
        else:
            only_m = only_p = "? (pipreqs online run failed)"
            failed, last = pipreqs_failure(os.path.join(work, ident(label) + ".pipreqs_online.err"))
            notes.append(f"pipreqs (online) failed on `{label}`: {last}")
        if len(meta) == 3:
            o_s, o_rc, o_flags = meta
            notes.append(f"`{label}`: mlpack found {', '.join(sorted(required)) or 'nothing'}"
                         + (f"; optional {', '.join(sorted(optional))}" if optional else "")
                         + (f"; unresolved {', '.join(sorted(unresolved))}" if unresolved else "")
                         + f". pipreqs `{o_flags}` (online, {float(o_s):.2f}s, exit {o_rc}) found "
                         + (", ".join(sorted(online)) or "nothing") + ".")
            if "network problems" in read(os.path.join(work, ident(label) + ".pipreqs_online.err")):
                notes.append(f"`{label}`: pipreqs reported PyPI lookups that failed (\"does not exist or network problems\").")
    print(f"| {label} | {files_col} | {m:.3f} | {p_col} | {ratio} | {only_m} | {only_p} |")

print()
print("pipreqs flags (timed rows): " + "; ".join(sorted({f"`pipreqs {r[9]} DIR`" for r in rows})))
print()
for label, kind, d, files, m_s, m_runs, p_s, p_runs, p_rc, p_flags, m_cpu, p_cpu in rows:
    if kind != "large":
        continue
    doc = json.loads(read(os.path.join(work, ident(label) + ".mlpack.out")) or "{}")
    scanned = doc.get("files_scanned", 0)
    warnings = doc.get("warnings", [])
    print(f"- `{label}` ({d}): mlpack `--offline` scanned {scanned} files in {float(m_s):.3f}s = "
          f"{scanned / float(m_s):,.0f} files/s (CPU {float(m_cpu):.2f}s user+sys); "
          + (f"pipreqs CPU {float(p_cpu):.2f}s user+sys; " if p_rc == "0" else "")
          + f"{len(doc.get('distributions', []))} distributions, "
          f"{len(doc.get('unresolved', []))} unresolved imports, {len(warnings)} warnings")
    for w in warnings[:10]:
        print(f"  - warning: {w.get('path', '?')}: {w.get('message', w)}")
removed = read(os.path.join(env["CLEAN"], ".removed")).strip().splitlines()
if removed:
    print(f"- `large-tree-py3clean` = `large-tree` minus {len(removed)} file(s) that CPython's `ast.parse` rejects:")
    for line in removed:
        print("  - " + line.replace("\t", ": "))
if env["N_EXAMPLES"] == "0":
    print(f"- no example projects under {env['EXAMPLES']}: only the large tree was benchmarked.")
for n in notes:
    print("- " + n)
EOF
echo
cat "$WORK/corpus-report.md"
