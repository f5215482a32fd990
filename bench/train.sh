#!/usr/bin/env bash
# Benchmark a warm `mlpack train` against the same training on the host and with docker.
#
#   bench/train.sh           # report (markdown) on stdout, progress on stderr
#
# Input: examples/ml/iris-sklearn, copied to a temporary directory (nothing is written into
# the repository), with its checked-in mlpack.lock (Python packages and the base's Debian
# packages pinned), so every mlpack command here runs with --locked. mlpack gets a throwaway
# MLPACK_HOME and, unless BENCH_CACHE names one, a throwaway XDG_CACHE_HOME: the download
# cache is not shared with the test suite's (target/mlpack-test-cache), because `mlpack
# train` also writes its dataset fingerprint cache there and the tests may be writing to it
# at the same time; the cost is an untimed first build that downloads ~100 MB.
# `mlpack export --format requirements` turns the lock into a hash-pinned requirements.txt,
# so all three install exactly the same wheels:
#
#   * mlpack: `mlpack train --locked DIR`, after one untimed `mlpack train --locked` that
#     builds the image (Debian base + wheels; needs PyPI and the Debian mirror) and fills the
#     fingerprint cache. Each run gets a new outputs/<run-id>/.
#   * bare Python: a venv of the host's python3 (BENCH_PYTHON; must be 3.11, the lock's
#     target) with `pip install --no-cache-dir --require-hashes --no-deps -r requirements.txt`
#     (pip byte-compiles on install), then `DATA_DIR=DIR/data OUTPUT_DIR=<new dir>
#     VENV/bin/python train.py` in the project copy.
#   * docker: `docker build --network host` of
#         FROM bench-train-base:bookworm  # mmdebstrap minbase + python3, python3-pip, ca-certificates
#         COPY bench-ca.crt ...           # the host's CA bundle (TLS-intercepting proxy here)
#         RUN pip install --no-cache-dir --break-system-packages --no-deps --require-hashes -r requirements.txt
#         WORKDIR /app
#         COPY app/ /app                  # what mlpack's code layer holds (data/ is mounted)
#         CMD ["python3", "train.py"]
#     (bench/lib.sh's docker_context, as in build.sh), built once cold (untimed), then each run is
#     `docker build` with its layer cache followed by `docker run --rm --network none
#     -v DIR/data:/data:ro -v <new dir>:/outputs IMAGE`, timed together (from the start of the
#     build to the exit of the run).
#
# Measured: wall time of each whole command, from start to exit, BENCH_RUNS (default 5) runs
# per tool, interleaved (one run of each per iteration; the tool that goes first rotates),
# median. For mlpack also its build step ("Built ... in Xs" on stderr) and the container's
# time from run.json (`seconds`); CPU user+sys from /usr/bin/time. Every run's metrics.json
# is checked (accuracy printed: the three should agree).
#
# Then where the time goes. Images built by mlpack contain no .pyc files and every container
# starts from a fresh upper dir, so `mlpack train` mounts bytecode caches with
# PYTHONPYCACHEPREFIX: the libraries' ($XDG_CACHE_HOME/mlpack/pycache/<hash of the layers below
# the code>, at /var/cache/mlpack/pycache) and the code's (pycache-code/<digest>, over
# <prefix>/app); the untimed first train fills them.
# BENCH_SPLIT_RUNS (default 3) runs of each variant, interleaved (rotating), median:
#   * `python3 -c "import sklearn.ensemble, pandas"`: under `mlpack run --rm IMAGE` with
#     that bytecode cache mounted as train mounts it, without it (compile, write the .pyc
#     into the upper dir, delete them at --rm), and without it with `python3 -B` (compile,
#     write nothing); under `docker run --rm --network none` (pip's .pyc in the image); in
#     the venv as installed, with an empty `-X pycache_prefix` (compile + write) and with an
#     empty prefix plus PYTHONDONTWRITEBYTECODE=1 (compile only). Each prints the import
#     statement's own time and the instant it finished; "tail" is from there to the exit of
#     the command (python's exit + container teardown);
#   * `mlpack run --rm IMAGE true` (the container alone);
#   * train.py the same ways: `mlpack run --rm` with train's mounts, workdir and bytecode
#     cache, without the cache, without it and `-B`; the venv as installed, with an empty
#     prefix, with an empty prefix + PYTHONDONTWRITEBYTECODE=1;
#   * the first run of an image (what the cache does not cover): `mlpack train --locked`
#     after deleting the image's bytecode cache directory, and after a code-only edit (a
#     comment appended to train.py: new code layer, new digest, so a new, empty cache),
#     against `docker build` + `docker run` after the same edit (interleaved).
# Also: the .pyc files in mlpack's image and the size of the per-image bytecode cache.
#
# Targets (from the issue): a warm `mlpack train` at most 0.3 s slower than bare Python, and
# faster than `docker build && docker run`.
#
# Knobs (environment): BENCH_RUNS (5), BENCH_SPLIT_RUNS (3), BENCH_PYTHON (python3),
# BENCH_CACHE (XDG_CACHE_HOME for mlpack, default throwaway), BENCH_MIRROR
# (http://deb.debian.org/debian, mmdebstrap's mirror; mlpack uses the lock's), BENCH_KEEP=1
# (keep the work directory), MLPACK (use this binary, do not build).
#
# Needs root (mmdebstrap, docker, mlpack's runtime). Installs mmdebstrap, time and jq with
# apt-get when missing, and starts `dockerd --bridge=none --iptables=false` when no daemon
# answers (stopped again at the end). The docker images it creates are removed at the end.
# That setup, the docker base (mmdebstrap + `docker import`), the Dockerfile with the CA
# bundle and the timing helpers are bench/lib.sh's, shared with the other benchmarks.
# Exits non-zero only when setup fails; a failing run is reported, not fatal.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-5}"
SPLIT_RUNS="${BENCH_SPLIT_RUNS:-3}"
PY="${BENCH_PYTHON:-python3}"
MIRROR="${BENCH_MIRROR:-http://deb.debian.org/debian}"
EXAMPLE="$REPO/examples/ml/iris-sklearn"
BASE_TAG=bench-train-base:bookworm
DOCKER_TAG=bench-train-iris:docker

need_bash5
need_root "mmdebstrap, docker, mlpack run"
[[ -f "$EXAMPLE/mlpack.lock" ]] || die "no $EXAMPLE/mlpack.lock"
for n in "$RUNS" "$SPLIT_RUNS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS and BENCH_SPLIT_RUNS must be whole numbers >= 1"
done

# --- 1. tools ----------------------------------------------------------------------------
missing=()
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
apt_install "${missing[@]}"
need_tools docker "$PY" awk getent mmdebstrap jq
PY_VERSION="$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
[[ "$PY_VERSION" == 3.11.* ]] || die "$PY is Python $PY_VERSION; the lock's wheels are for 3.11 (set BENCH_PYTHON)"

# Settings that would change what mlpack, pip or python do.
unset MLPACK_OFFLINE MLPACK_EXCLUDE_NEWER MLPACK_HOME PIP_FIND_LINKS PIP_NO_INDEX \
  PIP_CONSTRAINT PIP_CACHE_DIR PIP_NO_CACHE_DIR PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX \
  PYTHONPATH PYTHONHOME VIRTUAL_ENV

start_dockerd train
mlpack_binary always

# docker build does not read the host's /etc/hosts: pass the index hosts' addresses.
docker_hosts pypi.org files.pythonhosted.org

make_work train
HOME_DIR="$WORK/home"
CACHE="${BENCH_CACHE:-$WORK/cache}"
CACHE_NOTE="$([[ -n "${BENCH_CACHE:-}" ]] && echo "BENCH_CACHE=$BENCH_CACHE" || echo "throwaway")"
IRIS="$WORK/iris"
VENV="$WORK/venv"
DOCKER_IDS=()
cleanup() {
  set +e
  local id
  for id in $(docker image inspect -f '{{.Id}}' "$DOCKER_TAG" "$BASE_TAG" 2>/dev/null); do DOCKER_IDS+=("$id"); done
  docker rmi -f "$DOCKER_TAG" "$BASE_TAG" >/dev/null 2>&1
  # Images our builds made that lost their tag (none expected: warm builds give the same ID).
  for id in "${DOCKER_IDS[@]}"; do docker rmi "$id" >/dev/null 2>&1; done
  remove_work
  stop_dockerd
}
trap cleanup EXIT

# --- 2. helpers --------------------------------------------------------------------------
# timed (here with stdin from /dev/null), cpu, median, calc, errline and rotate are
# bench/lib.sh's.
TIMED_STDIN=/dev/null
accuracy() { jq -r '.accuracy // "?"' "$1/metrics.json" 2>/dev/null || echo "no metrics.json"; }

# --- 3. the inputs -----------------------------------------------------------------------
log "work directory $WORK"
cp -r "$EXAMPLE" "$IRIS"
rm -rf "$IRIS/outputs"
mkdir -p "$HOME_DIR" "$CACHE"
M_ENV=(env MLPACK_HOME="$HOME_DIR" XDG_CACHE_HOME="$CACHE")

log "mlpack: first (untimed) train --locked: builds the image"
timed m-first "${M_ENV[@]}" "$MLPACK" train --locked "$IRIS"
[[ "$RC" -eq 0 ]] || die "the first mlpack train --locked failed (exit $RC): $(errline "$WORK/logs/m-first.err")"
M_FIRST_T="$T"
M_FIRST_BUILD="$(sed -n 's/^Built .* in \([0-9.]*\)s$/\1/p' "$WORK/logs/m-first.err" | tail -n1)"
FIRST_RUN_DIR="$IRIS/outputs/$(sed -n 's/^Training run \([^:]*\):.*/\1/p' "$WORK/logs/m-first.err" | tail -n1)"
IMAGE_DIGEST="$(jq -r .image.digest "$FIRST_RUN_DIR/run.json")"
IMAGE_REF="$(jq -r .image.reference "$FIRST_RUN_DIR/run.json")"
log "mlpack: first train ${M_FIRST_T}s (build ${M_FIRST_BUILD}s), image $IMAGE_REF $IMAGE_DIGEST"

"$MLPACK" -q export --format requirements --dir "$IRIS" -o "$WORK/requirements.txt" \
  || die "mlpack export --format requirements failed"
PKGS="$(grep -c '^[A-Za-z0-9]' "$WORK/requirements.txt")"
PINS="$(grep -o '^[A-Za-z0-9._-]*==[^ ]*' "$WORK/requirements.txt" | grep -E '^(numpy|pandas|scikit-learn|scipy)==' | paste -sd' ')"

log "venv: $PY -m venv + pip install --require-hashes ($PKGS packages)"
timed venv "$PY" -m venv "$VENV"
[[ "$RC" -eq 0 ]] || die "$PY -m venv failed: $(errline "$WORK/logs/venv.err")"
VENV_T="$T"
timed pip "$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps -r "$WORK/requirements.txt"
[[ "$RC" -eq 0 ]] || die "pip install --require-hashes failed: $(errline "$WORK/logs/pip.err")"
PIP_T="$T"
VENV_PYC="$(find "$VENV" -name '*.pyc' -type f | wc -l)"

log "docker: mmdebstrap + import $BASE_TAG"
make_base "" "$BASE_TAG"
DOCKER_IDS+=("$(docker image inspect -f '{{.Id}}' "$BASE_TAG")")
mkdir -p "$WORK/ctx/app"
cp "$WORK/requirements.txt" "$WORK/ctx/requirements.txt"
# The code as mlpack's code layer holds it: everything but the dataset (data/ is mounted).
(cd "$EXAMPLE" && cp -r README.md mlpack.toml mlpack.lock ./*.py "$WORK/ctx/app/")
docker_context "$WORK/ctx" "$BASE_TAG"
DOCKER_BUILD=(docker build --network host "${ADD_HOSTS[@]}" -t "$DOCKER_TAG" "$WORK/ctx")
log "docker: cold build (untimed)"
timed d-cold "${DOCKER_BUILD[@]}"
[[ "$RC" -eq 0 ]] || die "the cold docker build failed: $(errline "$WORK/logs/d-cold.err")"
D_COLD_T="$T"
DOCKER_IDS+=("$(docker image inspect -f '{{.Id}}' "$DOCKER_TAG")")
D_STEPS="$(grep -c '^Step ' "$WORK/logs/d-cold.out" || true)"
D_PYC="$(docker run --rm --network none "$DOCKER_TAG" python3 -c '
import os
print(sum(f.endswith(".pyc") for _, _, fs in os.walk("/usr/local/lib/python3.11/dist-packages") for f in fs))' 2>/dev/null || echo "?")"
D_PY_VERSION="$(docker run --rm --network none "$DOCKER_TAG" python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || echo "?")"

host_facts
echo "# mlpack train benchmark (warm)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(machine), kernel $(uname -r), cgroup $CGROUP"
echo "- mlpack: $MLPACK_VERSION ($MLPACK; $(mlpack_origin)); MLPACK_HOME throwaway, XDG_CACHE_HOME $CACHE_NOTE"
echo "- docker: $(docker_versions) ($(docker buildx version >/dev/null 2>&1 && echo "buildx installed" || echo "legacy builder")), $(mmdebstrap --version)"
echo "- python: host venv $PY_VERSION ($(command -v "$PY")); mlpack's and docker's image: Debian's $D_PY_VERSION"
echo "- input: examples/ml/iris-sklearn with its checked-in mlpack.lock, $PKGS packages ($PINS); everyone installs the hash-pinned requirements exported from it"
echo "- untimed setup: first \`mlpack train --locked\` ${M_FIRST_T}s (its build ${M_FIRST_BUILD}s, downloads included; it fills the bytecode cache); venv ${VENV_T}s + pip install ${PIP_T}s ($VENV_PYC .pyc files in the venv); docker base: mmdebstrap ${D_DEB_T}s + import ${D_IMPORT_T}s, cold \`docker build\` ${D_COLD_T}s ($D_STEPS steps; $D_PYC .pyc files in its site-packages)"
echo "- runs: $RUNS per tool, interleaved (the first tool rotates per iteration); overhead split: $SPLIT_RUNS per variant, interleaved"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- 4. the timed runs -------------------------------------------------------------------
declare -a M_T M_BUILD M_RUN M_REST B_T D_PAIR D_B D_R
ROWS=()
FAILS=()
ACCS=()
run_mlpack() { # I
  local i="$1" id dir
  timed "m-train-$i" "${M_ENV[@]}" "$MLPACK" train --locked "$IRIS"
  if [[ $RC -ne 0 ]]; then FAILS+=("mlpack run $i: exit $RC: $(errline "$WORK/logs/m-train-$i.err")"); R_M="FAIL"; return; fi
  M_T+=("$T")
  local built; built="$(sed -n 's/^Built .* in \([0-9.]*\)s$/\1/p' "$WORK/logs/m-train-$i.err" | tail -n1)"
  id="$(sed -n 's/^Training run \([^:]*\):.*/\1/p' "$WORK/logs/m-train-$i.err" | tail -n1)"
  dir="$IRIS/outputs/$id"
  local secs; secs="$(jq -r '.seconds * 1000 | round / 1000' "$dir/run.json" 2>/dev/null || echo -)"
  M_BUILD+=("${built:--}"); M_RUN+=("$secs")
  M_REST+=("$(calc '%.3f' "$T - ${built:-0} - ${secs/-/0}")")
  ACCS+=("mlpack $(accuracy "$dir")")
  R_M="$T | ${built:--} | $secs | $(cpu "m-train-$i")"
}
run_bare() { # I
  local i="$1" out="$WORK/bare-out/$1"
  mkdir -p "$out"
  timed "b-train-$i" env -C "$IRIS" DATA_DIR="$IRIS/data" OUTPUT_DIR="$out" "$VENV/bin/python" train.py
  if [[ $RC -ne 0 ]]; then FAILS+=("bare run $i: exit $RC: $(errline "$WORK/logs/b-train-$i.err")"); R_B="FAIL"; return; fi
  B_T+=("$T"); ACCS+=("bare $(accuracy "$out")")
  R_B="$T | $(cpu "b-train-$i")"
}
run_docker() { # I
  local i="$1" out="$WORK/docker-out/$1" start="$EPOCHREALTIME" tb cached
  mkdir -p "$out"
  timed "d-build-$i" "${DOCKER_BUILD[@]}"
  if [[ $RC -ne 0 ]]; then FAILS+=("docker build $i: exit $RC: $(errline "$WORK/logs/d-build-$i.err")"); R_D="FAIL | | |"; return; fi
  tb="$T"
  cached="$(grep -c -e 'Using cache' -e 'CACHED' "$WORK/logs/d-build-$i.out" || true)"
  timed "d-run-$i" docker run --rm --network none -v "$IRIS/data:/data:ro" -v "$out:/outputs" "$DOCKER_TAG"
  if [[ $RC -ne 0 ]]; then FAILS+=("docker run $i: exit $RC: $(errline "$WORK/logs/d-run-$i.err")"); R_D="FAIL | $tb | |"; return; fi
  D_B+=("$tb"); D_R+=("$T")
  D_PAIR+=("$(awk -v a="$start" -v b="$T_END" 'BEGIN { printf "%.3f", b - a }')")
  ACCS+=("docker $(accuracy "$out")")
  R_D="${D_PAIR[-1]} | $tb ($cached/$D_STEPS steps cached) | $T"
}

for i in $(seq "$RUNS"); do
  order=()
  while read -r tool; do
    "run_$tool" "$i"; order+=("$tool")
  done < <(rotate "$((i - 1))" mlpack bare docker)
  log "run $i/$RUNS ($(IFS=,; echo "${order[*]}")): mlpack $R_M; bare $R_B; docker $R_D"
  ROWS+=("| $i | $(IFS=,; echo "${order[*]}") | $R_M | $R_B | $R_D |")
done

M_MED="$(median "${M_T[@]}")"; B_MED="$(median "${B_T[@]}")"; D_MED="$(median "${D_PAIR[@]}")"
MB_MED="$(median "${M_BUILD[@]}")"; MR_MED="$(median "${M_RUN[@]}")"; MX_MED="$(median "${M_REST[@]}")"
DB_MED="$(median "${D_B[@]}")"; DR_MED="$(median "${D_R[@]}")"

# --- 5. where the time goes: bytecode ---------------------------------------------------
IMPORT_PY='import time; t = time.perf_counter(); import sklearn.ensemble, pandas; print("import %.3f end %.6f" % (time.perf_counter() - t, time.time()))'
MOUNTS=(-v "$IRIS/data:/data:ro" -w /app)
# The bytecode cache as `mlpack train` mounts it (src/train/job.rs: pycache_mounts). An image
# with its libraries' bytecode (every image built since issue 18) gets only the code's cache,
# over /app/__pycache__; an older one gets the libraries' cache (keyed by the layers below the
# code layer) under PYTHONPYCACHEPREFIX.
first_dir() { find "$1" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n1 || true; }
PYCACHE_DIR="$(first_dir "$CACHE/mlpack/pycache")"
if [[ -n "$PYCACHE_DIR" ]]; then
  PYCACHE=(-v "$PYCACHE_DIR:/var/cache/mlpack/pycache" -e PYTHONPYCACHEPREFIX=/var/cache/mlpack/pycache)
else
  PYCACHE_DIR="$(first_dir "$CACHE/mlpack/pycache-code")"
  [[ -n "$PYCACHE_DIR" ]] || die "no bytecode cache under $CACHE/mlpack/pycache or pycache-code after the first train"
  PYCACHE=(-v "$PYCACHE_DIR:/app/__pycache__")
fi
PYCACHE_SIZE="$(find "$PYCACHE_DIR" -name '*.pyc' -type f | wc -l) files, $(du -sb "$PYCACHE_DIR" | awk '{printf "%.1f MB", $1 / 1e6}')"
IMAGE_PYC="$("${M_ENV[@]}" "$MLPACK" run --rm "$IMAGE_DIGEST" python3 -B -c '
import os
n = size = 0
for d, _, files in os.walk("/usr"):
    for f in files:
        if f.endswith(".pyc"):
            n += 1
            size += os.path.getsize(os.path.join(d, f))
print("%d files, %.1f MB" % (n, size / 1e6))' 2>/dev/null </dev/null || echo "?")"
# split_run NAME I CMD...: timed; records wall, and for the import variants python's own
# import time and the tail (python's "end" instant to the command's exit).
declare -A S_T S_IMP S_TAIL
split_run() {
  local name="$1" i="$2"; shift 2
  timed "s-$name-$i" "$@"
  if [[ $RC -ne 0 ]]; then FAILS+=("$name $i: exit $RC: $(errline "$WORK/logs/s-$name-$i.err")"); return; fi
  S_T[$name]+="$T "
  local line; line="$({ grep '^import ' "$WORK/logs/s-$name-$i.out" || true; } | tail -n1)"
  if [[ -n "$line" ]]; then
    S_IMP[$name]+="$(awk '{print $2}' <<<"$line") "
    S_TAIL[$name]+="$(awk -v e="$T_END" '{printf "%.3f", e - $4}' <<<"$line") "
  fi
}
fresh() { mktemp -d "$WORK/pycache.XXXXXX"; }
SPLIT=(mi-cache mi-none mi-B di vi-warm vi-write vi-compile true mt-cache mt-none mt-B vt-warm vt-write vt-compile)
split_one() { # NAME I
  local name="$1" i="$2" out="$WORK/split-out/$1-$2"
  mkdir -p "$out"
  local M_RUN=("${M_ENV[@]}" "$MLPACK" run --rm)
  local V_TRAIN=(env -C "$IRIS" DATA_DIR="$IRIS/data" OUTPUT_DIR="$out")
  case "$name" in
    mi-cache) split_run "$name" "$i" "${M_RUN[@]}" "${PYCACHE[@]}" "$IMAGE_DIGEST" python3 -c "$IMPORT_PY" ;;
    mi-none) split_run "$name" "$i" "${M_RUN[@]}" "$IMAGE_DIGEST" python3 -c "$IMPORT_PY" ;;
    mi-B) split_run "$name" "$i" "${M_RUN[@]}" "$IMAGE_DIGEST" python3 -B -c "$IMPORT_PY" ;;
    di) split_run "$name" "$i" docker run --rm --network none "$DOCKER_TAG" python3 -c "$IMPORT_PY" ;;
    vi-warm) split_run "$name" "$i" "$VENV/bin/python" -c "$IMPORT_PY" ;;
    vi-write) split_run "$name" "$i" "$VENV/bin/python" -X pycache_prefix="$(fresh)" -c "$IMPORT_PY" ;;
    vi-compile) split_run "$name" "$i" env PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -X pycache_prefix="$(fresh)" -c "$IMPORT_PY" ;;
    true) split_run "$name" "$i" "${M_RUN[@]}" "$IMAGE_DIGEST" true ;;
    mt-cache) split_run "$name" "$i" "${M_RUN[@]}" "${MOUNTS[@]}" -v "$out:/outputs" "${PYCACHE[@]}" "$IMAGE_DIGEST" python3 train.py ;;
    mt-none) split_run "$name" "$i" "${M_RUN[@]}" "${MOUNTS[@]}" -v "$out:/outputs" "$IMAGE_DIGEST" python3 train.py ;;
    mt-B) split_run "$name" "$i" "${M_RUN[@]}" "${MOUNTS[@]}" -v "$out:/outputs" "$IMAGE_DIGEST" python3 -B train.py ;;
    vt-warm) split_run "$name" "$i" "${V_TRAIN[@]}" "$VENV/bin/python" train.py ;;
    vt-write) split_run "$name" "$i" "${V_TRAIN[@]}" "$VENV/bin/python" -X pycache_prefix="$(fresh)" train.py ;;
    vt-compile) split_run "$name" "$i" "${V_TRAIN[@]}" PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -X pycache_prefix="$(fresh)" train.py ;;
  esac
}
for i in $(seq "$SPLIT_RUNS"); do
  while read -r name; do split_one "$name" "$i"; done < <(rotate "$((i - 1))" "${SPLIT[@]}")
  log "split $i/$SPLIT_RUNS: $(for n in "${SPLIT[@]}"; do printf '%s %s; ' "$n" "$(awk '{print $NF}' <<<"${S_T[$n]:-}")"; done)"
done
smed() { # NAME [T|IMP|TAIL]
  local -n arr="S_${2:-T}"
  # shellcheck disable=SC2086 # space-separated values
  median ${arr[$1]:-}
}

# The first run of an image: the bytecode cache emptied; a code-only edit (mlpack: new code
# layer, new digest, new cache; docker: the COPY layer again) for both tools.
declare -a F_COLD F_EDIT F_EDIT_BUILD F_DOCKER F_DOCKER_BUILD F_DOCKER_RUN
LAST_DIGEST="$IMAGE_DIGEST"
first_mlpack() { # NAME I: mlpack train; appends its wall to the array NAME
  local -n into="$1"
  F_BUILT=""
  timed "f-$1-$2" "${M_ENV[@]}" "$MLPACK" train --locked "$IRIS"
  if [[ $RC -ne 0 ]]; then FAILS+=("$1 $2: exit $RC: $(errline "$WORK/logs/f-$1-$2.err")"); return; fi
  into+=("$T")
  local id; id="$(sed -n 's/^Training run \([^:]*\):.*/\1/p' "$WORK/logs/f-$1-$2.err" | tail -n1)"
  LAST_DIGEST="$(jq -r .image.digest "$IRIS/outputs/$id/run.json")"
  ACCS+=("mlpack $(accuracy "$IRIS/outputs/$id")")
  F_BUILT="$(sed -n 's/^Built .* in \([0-9.]*\)s$/\1/p' "$WORK/logs/f-$1-$2.err" | tail -n1)"
}
for i in $(seq "$SPLIT_RUNS"); do
  rm -rf "$CACHE/mlpack/pycache" "$CACHE/mlpack/pycache-code"
  first_mlpack F_COLD "$i"
  echo "# bench: code-only change $i" >>"$IRIS/train.py"
  echo "# bench: code-only change $i" >>"$WORK/ctx/app/train.py"
  for tool in $(rotate "$((i - 1))" mlpack docker); do
    if [[ $tool == mlpack ]]; then
      before="$LAST_DIGEST"
      first_mlpack F_EDIT "$i"
      F_EDIT_BUILD+=("${F_BUILT:--}")
      [[ "$LAST_DIGEST" != "$before" ]] || FAILS+=("code edit $i: the image digest did not change")
    else
      out="$WORK/docker-out/edit-$i"; mkdir -p "$out"
      start="$EPOCHREALTIME"
      timed "f-d-build-$i" "${DOCKER_BUILD[@]}"
      if [[ $RC -ne 0 ]]; then FAILS+=("docker build after the edit $i: exit $RC: $(errline "$WORK/logs/f-d-build-$i.err")"); continue; fi
      DOCKER_IDS+=("$(docker image inspect -f '{{.Id}}' "$DOCKER_TAG")")
      tb="$T"
      timed "f-d-run-$i" docker run --rm --network none -v "$IRIS/data:/data:ro" -v "$out:/outputs" "$DOCKER_TAG"
      if [[ $RC -ne 0 ]]; then FAILS+=("docker run after the edit $i: exit $RC: $(errline "$WORK/logs/f-d-run-$i.err")"); continue; fi
      F_DOCKER_BUILD+=("$tb"); F_DOCKER_RUN+=("$T")
      F_DOCKER+=("$(awk -v a="$start" -v b="$T_END" 'BEGIN { printf "%.3f", b - a }')")
      ACCS+=("docker $(accuracy "$out")")
    fi
  done
  log "first runs $i/$SPLIT_RUNS: mlpack, cache emptied ${F_COLD[-1]:-FAIL}; after a code edit: mlpack ${F_EDIT[-1]:-FAIL} (build ${F_EDIT_BUILD[-1]:--}), docker build+run ${F_DOCKER[-1]:-FAIL}"
done

# --- 6. report ---------------------------------------------------------------------------
verdict() { [[ "$1" == 1 ]] && echo "MET" || echo "**MISSED**"; }
OVER="$(calc '%.3f' "$M_MED - $B_MED")"
RATIO="$(awk -v m="$M_MED" -v d="$D_MED" 'BEGIN { if (m > 0) printf "%.2f", d / m; else print "-" }')"
OVER_OK="$(awk -v o="$OVER" 'BEGIN { print (o <= 0.3) ? 1 : 0 }')"
FASTER_OK="$(awk -v m="$M_MED" -v d="$D_MED" 'BEGIN { print (m > 0 && m < d) ? 1 : 0 }')"
((${#M_T[@]} == RUNS && ${#B_T[@]} == RUNS && ${#D_PAIR[@]} == RUNS)) || { OVER_OK=0; FASTER_OK=0; }

echo "### Summary (seconds, wall, median of $RUNS)"
echo
echo "| measurement | seconds | target | result |"
echo "|---|---:|---|---|"
echo "| \`mlpack train --locked\` (warm) | $M_MED | | |"
echo "| bare \`python train.py\` (host venv) | $B_MED | | |"
echo "| \`docker build\` + \`docker run\` (warm) | $D_MED | | |"
echo "| mlpack train over bare Python | +$OVER | <= 0.3 s | $(verdict "$OVER_OK") |"
echo "| docker pair / mlpack train | ${RATIO}x | > 1 (mlpack faster) | $(verdict "$FASTER_OK") |"
echo
echo "- mlpack train, median parts: build step (\"Built ... in\") $MB_MED s, container (run.json \`seconds\`) $MR_MED s, the rest (start, lock and fingerprint checks, record) $MX_MED s"
echo "- docker, median parts: \`docker build\` (all cached) $DB_MED s, \`docker run\` $DR_MED s"
echo
echo "### Runs (seconds, wall; CPU user+sys from /usr/bin/time)"
echo
echo "| run | order | mlpack train | its build | its run.json seconds | its CPU | bare python | its CPU | docker build+run | docker build | docker run |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
echo "### Where the time goes (seconds, median of $SPLIT_RUNS)"
echo
echo "The image holds $IMAGE_PYC of .pyc under /usr (counted with \`python3 -B\`); this image's bytecode cache ($PYCACHE_DIR, filled by the first train) holds $PYCACHE_SIZE."
echo
echo "\`import sklearn.ensemble, pandas\` (\"import\": python's own time for the import statement; \"tail\": from its end to the exit of the command, i.e. python's exit plus container teardown):"
echo
echo "| variant | wall | import | tail |"
echo "|---|---:|---:|---:|"
echo "| \`mlpack run --rm IMAGE true\` (the container alone) | $(smed true) | - | - |"
echo "| \`mlpack run --rm\` + the image's bytecode cache, as train mounts it | $(smed mi-cache) | $(smed mi-cache IMP) | $(smed mi-cache TAIL) |"
echo "| \`mlpack run --rm\`, no cache (compile, write into the upper dir, delete at --rm) | $(smed mi-none) | $(smed mi-none IMP) | $(smed mi-none TAIL) |"
echo "| \`mlpack run --rm\`, no cache, \`python3 -B\` (compile, write nothing) | $(smed mi-B) | $(smed mi-B IMP) | $(smed mi-B TAIL) |"
echo "| \`docker run --rm --network none\` (pip's .pyc in the image) | $(smed di) | $(smed di IMP) | $(smed di TAIL) |"
echo "| venv, as installed (.pyc present) | $(smed vi-warm) | $(smed vi-warm IMP) | $(smed vi-warm TAIL) |"
echo "| venv, empty \`-X pycache_prefix\` (compile + write) | $(smed vi-write) | $(smed vi-write IMP) | $(smed vi-write TAIL) |"
echo "| venv, empty prefix + PYTHONDONTWRITEBYTECODE=1 (compile only) | $(smed vi-compile) | $(smed vi-compile IMP) | $(smed vi-compile TAIL) |"
echo
echo "\`train.py\` (wall):"
echo
echo "| variant | wall |"
echo "|---|---:|"
echo "| \`mlpack train --locked\` (warm; the runs above) | $M_MED |"
echo "| \`mlpack run --rm\` with train's mounts and the image's bytecode cache | $(smed mt-cache) |"
echo "| the same without the cache | $(smed mt-none) |"
echo "| the same without the cache, \`python3 -B\` | $(smed mt-B) |"
echo "| venv \`python train.py\` (.pyc present) | $(smed vt-warm) |"
echo "| venv, empty pycache prefix (compile + write) | $(smed vt-write) |"
echo "| venv, empty prefix + PYTHONDONTWRITEBYTECODE=1 (compile only) | $(smed vt-compile) |"
echo
VT_WARM="$(smed vt-warm)"; VT_COMP="$(smed vt-compile)"; MT_CACHE="$(smed mt-cache)"; MT_NONE="$(smed mt-none)"; MT_B="$(smed mt-B)"
if [[ "$VT_WARM$VT_COMP$MT_CACHE$MT_NONE$MT_B$M_MED$B_MED" != *-* ]]; then
  echo "Differences of the medians above (different runs, so only roughly additive):"
  echo
  echo "| part | seconds |"
  echo "|---|---:|"
  echo "| warm \`mlpack train\` − bare python | $OVER |"
  echo "| of which: \`mlpack train\` around its container (train − mlpack run with the cache) | $(calc '%.3f' "$M_MED - $MT_CACHE") |"
  echo "| of which: the container, and Debian's python vs the host's (mlpack run with the cache − venv) | $(calc '%.3f' "$MT_CACHE - $VT_WARM") |"
  echo "| what the bytecode cache saves per run (mlpack run without − with) | $(calc '%.3f' "$MT_NONE - $MT_CACHE") |"
  echo "| of which: compiling (venv compile-only − venv as installed) | $(calc '%.3f' "$VT_COMP - $VT_WARM") |"
  echo "| of which: writing the .pyc into the upper dir and deleting them at --rm (mlpack run without the cache − the same with \`-B\`) | $(calc '%.3f' "$MT_NONE - $MT_B") |"
  echo
fi
echo "### The first run of an image (seconds, wall, median of $SPLIT_RUNS)"
echo
F_COLD_MED="$(median "${F_COLD[@]}")"; F_EDIT_MED="$(median "${F_EDIT[@]}")"; F_DOCKER_MED="$(median "${F_DOCKER[@]}")"
echo "| variant | seconds | docker build+run after the same edit | docker / mlpack |"
echo "|---|---:|---:|---:|"
echo "| \`mlpack train --locked\`, the image's bytecode cache deleted first | $F_COLD_MED | | |"
echo "| code-only edit (a comment appended to train.py), then \`mlpack train --locked\` (its build: $(median "${F_EDIT_BUILD[@]}") s) | $F_EDIT_MED | $F_DOCKER_MED (build $(median "${F_DOCKER_BUILD[@]}"), run $(median "${F_DOCKER_RUN[@]}")) | $(awk -v m="$F_EDIT_MED" -v d="$F_DOCKER_MED" 'BEGIN { if (m > 0 && d > 0) printf "%.2fx", d / m; else print "-" }') |"
echo
echo "- runs: cache deleted: ${F_COLD[*]:-none}; after an edit: mlpack ${F_EDIT[*]:-none}, docker ${F_DOCKER[*]:-none}"
echo "- accuracy in every metrics.json of this benchmark: $(printf '%s\n' "${ACCS[@]}" | sort | uniq -c | awk '{c = $1; $1 = ""; printf "%s%s x%d", sep, substr($0, 2), c; sep = ", "}')"
((${#FAILS[@]})) && printf -- '- FAILED: %s\n' "${FAILS[@]}"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
