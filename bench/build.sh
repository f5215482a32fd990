#!/usr/bin/env bash
# Benchmark `mlpack build` against `docker build` of the equivalent Dockerfile.
#
#   bench/build.sh           # report (markdown) on stdout, progress on stderr
#
# Input: examples/ml/iris-sklearn, copied to a temporary directory (nothing is written into
# the repository). It is locked once with `mlpack lock` and built once without `--locked`
# (which pins the base's Debian packages into the lock), with a throwaway store and cache;
# the lock is exported as a hash-pinned requirements.txt (`mlpack export --format
# requirements`), so both builders install exactly the same wheels:
#
#   * mlpack: `mlpack --json build DIR --locked -t bench-mlpack-iris:latest`;
#   * docker: `docker build --network host` of
#         FROM bench-base:bookworm      # mmdebstrap minbase + python3, python3-pip, ca-certificates
#         RUN pip install --no-cache-dir --break-system-packages --no-deps --require-hashes -r requirements.txt
#         COPY app/ /app                # the project's code, as mlpack's code layer has it
#     (plus the host's CA bundle copied over the base's, because this environment's egress
#     goes through a TLS-intercepting proxy; ~0.2 MB).
#
# Measured (cold runs: BENCH_COLD_RUNS, default 3, median; mlpack and docker interleaved,
# alternating which goes first):
#   * cold build, base already present: mlpack with a store and download cache that already
#     hold the base layer (filled by a cold build of a tiny project with the same base and
#     `requirements = ["six"]`) but none of iris's wheels; docker `build --no-cache` with
#     bench-base:bookworm already imported, pip without a cache;
#   * cold build including the base: mlpack with an empty MLPACK_HOME and XDG_CACHE_HOME;
#     docker: mmdebstrap + `docker import` + the build above;
#   * code-only rebuild: append a comment line to train.py, build again with the caches
#     (BENCH_REBUILD_RUNS, default 3, median): mlpack wall time of the process and the JSON
#     report's `seconds`; docker with its layer cache;
#   * image size: uncompressed (`docker image inspect` Size; mlpack's after `mlpack export` +
#     `docker load`) and compressed (mlpack: sum of the JSON report's layer sizes, zstd and a
#     `--compression gzip` build; docker: its layers gzipped at level 6, about what a push
#     sends), and `python3 -c "import sklearn"` in each image (`docker run --network none`);
#   * mnist-torch (torch and its CUDA wheels, ~3 GB): `mlpack lock` (throwaway cache), then a
#     cold `mlpack build` (empty store and cache; it also pins the base) alone under
#     /usr/bin/time -v: wall time and peak RSS (BENCH_TORCH=0 skips it).
#
# Targets (from the issues): cold build >= 3x faster than docker build (>= 5x with the base
# present, issue 18); code-only rebuild
# < 0.5 s; image no larger than docker's; peak memory < 500 MB for the torch build.
#
# Knobs (environment): BENCH_COLD_RUNS (3), BENCH_REBUILD_RUNS (3), BENCH_TORCH (1),
# BENCH_TORCH_MIN_FREE_GB (20: the torch build is skipped with less free disk),
# BENCH_MIRROR (http://deb.debian.org/debian, mmdebstrap's mirror; mlpack uses the lock's),
# BENCH_KEEP=1 (keep the work directory), MLPACK (use this binary, do not build).
#
# Needs root (mmdebstrap, docker). Installs mmdebstrap, time and jq with apt-get when
# missing, and starts `dockerd --bridge=none --iptables=false` when no daemon answers
# (stopped again at the end). Docker images it creates are removed at the end. That setup,
# the docker base (mmdebstrap + `docker import`), the Dockerfile with the CA bundle and the
# timing helpers are bench/lib.sh's, shared with the other benchmarks.
# Exits non-zero only when setup fails; a failing build or check is reported, not fatal.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COLD_RUNS="${BENCH_COLD_RUNS:-3}"
REBUILD_RUNS="${BENCH_REBUILD_RUNS:-3}"
TORCH="${BENCH_TORCH:-1}"
TORCH_MIN_FREE_GB="${BENCH_TORCH_MIN_FREE_GB:-20}"
MIRROR="${BENCH_MIRROR:-http://deb.debian.org/debian}"
EXAMPLES="$REPO/examples/ml"

need_bash5
need_root "mmdebstrap, docker"
[[ -d "$EXAMPLES/iris-sklearn" ]] || die "no $EXAMPLES/iris-sklearn"

# --- 1. tools ----------------------------------------------------------------------------
missing=()
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
apt_install "${missing[@]}"
need_tools docker python3 awk getent mmdebstrap jq

# Settings that would change what mlpack or pip does; caches are set per run.
unset MLPACK_OFFLINE MLPACK_EXCLUDE_NEWER MLPACK_HOME PIP_FIND_LINKS PIP_NO_INDEX \
  PIP_CONSTRAINT PIP_CACHE_DIR PIP_NO_CACHE_DIR

start_dockerd build
mlpack_binary stale

# docker build does not read the host's /etc/hosts: pass the index hosts' addresses.
docker_hosts pypi.org files.pythonhosted.org

make_work build
snapshot_images
OUR_TAGS=(bench-base:bookworm bench-iris:docker bench-mlpack-iris:latest
  bench-mlpack-iris-gz:latest bench-mlpack-iris-fix:latest)
cleanup() {
  set +e
  docker rmi -f "${OUR_TAGS[@]}" >/dev/null 2>&1
  remove_new_untagged_images
  remove_work
  stop_dockerd
}
trap cleanup EXIT

# --- 2. helpers --------------------------------------------------------------------------
# timed, cpu, median, calc, mb and errline are bench/lib.sh's.
# layer_summary JSON: "base 3.04s (new), python 4.57s (new), code 0.00s (new)"
layer_summary() {
  jq -r '[.layers[] | "\(.description | split(" ")[0]) \(.seconds * 100 | round / 100)s (\(if .reused then "reused" else "new" end))"] | join(", ")' "$1"
}
mlpack_build() { # NAME HOME CACHE DIR [ARGS...]
  local name="$1" home="$2" cache="$3" dir="$4"; shift 4
  timed "$name" env MLPACK_HOME="$home" XDG_CACHE_HOME="$cache" "$MLPACK" --json build "$dir" --locked "$@"
  if [[ "$RC" -ne 0 ]]; then log "$name: mlpack build failed (exit $RC): $(errline "$WORK/logs/$name.err")"; fi
}
docker_build() { # NAME [ARGS...]
  local name="$1"; shift
  timed "$name" docker build --network host "${ADD_HOSTS[@]}" "$@" -t bench-iris:docker "$WORK/ctx"
  if [[ "$RC" -ne 0 ]]; then log "$name: docker build failed (exit $RC): $(errline "$WORK/logs/$name.err")"; fi
}
IMPORT_PY='import time; t = time.perf_counter(); import sklearn; print(sklearn.__version__, "%.2f" % (time.perf_counter() - t))'
import_check() { # IMAGE [RUNNER...] -> sets IMPORT ("ok 1.9.1" or "FAIL: last line"); RUNNER defaults to docker
  local image="$1" out; shift
  local runner=("$@"); [[ ${#runner[@]} -gt 0 ]] || runner=(docker)
  set +e
  out="$("${runner[@]}" run --rm --network none "$image" python3 -c "$IMPORT_PY" 2>&1)"
  local rc=$?
  set -e
  if [[ $rc -eq 0 ]]; then IMPORT="ok (scikit-learn $(tail -n1 <<<"$out" | awk '{print $1 ", first import " $2 " s"}'))"
  else IMPORT="FAIL: $(grep -v '^\s*$' <<<"$out" | tail -n 1 | cut -c1-200)"; fi
}

# --- 3. the inputs -----------------------------------------------------------------------
log "work directory $WORK"
cp -r "$EXAMPLES/iris-sklearn" "$WORK/iris"
rm -f "$WORK/iris/mlpack.lock"
# `mlpack lock` pins the Python packages; the base's Debian packages are pinned by the first
# `mlpack build` (the timed builds run with --locked, so they resolve and pin nothing).
timed iris-lock env MLPACK_HOME="$WORK/lock-home" XDG_CACHE_HOME="$WORK/lock-cache" "$MLPACK" lock "$WORK/iris"
[[ "$RC" -eq 0 ]] || die "mlpack lock of iris-sklearn failed: $(errline "$WORK/logs/iris-lock.err")"
IRIS_LOCK_T="$T"
timed iris-pin env MLPACK_HOME="$WORK/lock-home" XDG_CACHE_HOME="$WORK/lock-cache" "$MLPACK" --json build "$WORK/iris"
[[ "$RC" -eq 0 ]] || die "first mlpack build of iris-sklearn (pinning the base) failed: $(errline "$WORK/logs/iris-pin.err")"
IRIS_PIN_T="$T"
rm -rf "$WORK/lock-home" "$WORK/lock-cache"

mkdir -p "$WORK/ctx/app"
"$MLPACK" -q export --format requirements --dir "$WORK/iris" -o "$WORK/ctx/requirements.txt" \
  || die "mlpack export --format requirements failed"
IRIS_PKGS="$(grep -c '^[A-Za-z0-9]' "$WORK/ctx/requirements.txt")"
# The code as mlpack's code layer holds it: everything but the datasets (data/ is mounted).
(cd "$WORK/iris" && cp -r README.md mlpack.toml mlpack.lock ./*.py "$WORK/ctx/app/")
docker_context "$WORK/ctx" bench-base:bookworm

# A tiny project with the same base, to fill a store and cache with just the base.
mkdir -p "$WORK/warm"
cat >"$WORK/warm/mlpack.toml" <<'EOF'
[project]
name = "bench-warm"

[python]
version = "3.11"
requirements = ["six"]
EOF
echo 'print("warm")' >"$WORK/warm/main.py"

host_facts
echo "# mlpack build benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(machine)"
echo "- mlpack: $MLPACK_VERSION ($MLPACK; source tree $COMMIT)"
echo "- docker: $(docker_versions) (legacy builder unless buildx is installed), $(mmdebstrap --version)"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- input: examples/ml/iris-sklearn, $IRIS_PKGS locked packages (\`mlpack lock\` ${IRIS_LOCK_T}s cold, then a first \`mlpack build\` that pins the base into the lock ${IRIS_PIN_T}s cold; neither is part of any time below, which are all \`build --locked\`); docker installs the exported hash-pinned requirements.txt (\`pip install --no-deps --require-hashes\`), so both install the same wheels"
echo "- runs: cold: median of $COLD_RUNS (mlpack and docker interleaved), code-only rebuild: median of $REBUILD_RUNS"
echo

# --- 4. cold builds ----------------------------------------------------------------------
declare -a M_FULL M_PRESENT D_DEB D_IMPORT D_BUILD D_TOTAL M_FULL_RSS
COLD_ROWS=()
BASE_REUSED_ALL=1

run_mlpack_cold() { # RUN
  local r="$1"
  local d="$WORK/m-full-$r"
  rm -rf "$d"; mkdir -p "$d/home" "$d/cache"
  mlpack_build "m-full-$r" "$d/home" "$d/cache" "$WORK/iris" -t bench-mlpack-iris:latest
  MF_T="$T" MF_RC="$RC" MF_RSS="$RSS"
  MF_JSON_S="$( [[ $RC -eq 0 ]] && jq -r '.seconds * 1000 | round / 1000' "$WORK/logs/m-full-$r.out" || echo -)"
  MF_LAYERS="$( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/m-full-$r.out" || errline "$WORK/logs/m-full-$r.err")"
  log "run $r: mlpack cold incl. base: ${MF_T}s (exit $MF_RC; $MF_LAYERS)"

  d="$WORK/m-present-$r"
  rm -rf "$d"; mkdir -p "$d/home" "$d/cache"
  timed "m-warm-$r" env MLPACK_HOME="$d/home" XDG_CACHE_HOME="$d/cache" "$MLPACK" --json build "$WORK/warm"
  [[ "$RC" -eq 0 ]] || die "cold build of the tiny warm-up project failed: $(errline "$WORK/logs/m-warm-$r.err")"
  MW_T="$T"
  mlpack_build "m-present-$r" "$d/home" "$d/cache" "$WORK/iris" -t bench-mlpack-iris:latest
  MP_T="$T" MP_RC="$RC" MP_RSS="$RSS"
  MP_JSON_S="$( [[ $RC -eq 0 ]] && jq -r '.seconds * 1000 | round / 1000' "$WORK/logs/m-present-$r.out" || echo -)"
  MP_LAYERS="$( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/m-present-$r.out" || errline "$WORK/logs/m-present-$r.err")"
  if [[ $RC -ne 0 || "$(jq -r '.layers[0].reused' "$WORK/logs/m-present-$r.out")" != true ]]; then
    BASE_REUSED_ALL=0
  fi
  log "run $r: mlpack cold, base present: ${MP_T}s (exit $MP_RC; $MP_LAYERS; warm-up ${MW_T}s)"
  rm -rf "$d"
  [[ "$r" -eq 1 ]] || rm -rf "$WORK/m-full-$r"
}

run_docker_cold() { # RUN
  local r="$1"
  docker rmi -f bench-iris:docker bench-base:bookworm >/dev/null 2>&1 || true
  make_base "-$r" bench-base:bookworm
  DD_T="$D_DEB_T" DI_T="$D_IMPORT_T"
  docker_build "d-build-$r" --no-cache
  DB_T="$T" DB_RC="$RC"
  log "run $r: docker: mmdebstrap ${DD_T}s, import ${DI_T}s, build --no-cache ${DB_T}s (exit $DB_RC)"
}

for r in $(seq "$COLD_RUNS"); do
  if ((r % 2)); then run_mlpack_cold "$r"; run_docker_cold "$r"
  else run_docker_cold "$r"; run_mlpack_cold "$r"; fi
  M_FULL+=("$MF_T"); M_PRESENT+=("$MP_T"); M_FULL_RSS+=("$MF_RSS")
  D_DEB+=("$DD_T"); D_IMPORT+=("$DI_T"); D_BUILD+=("$DB_T")
  D_TOTAL+=("$(calc '%.3f' "$DD_T + $DI_T + $DB_T")")
  [[ $MF_RC -eq 0 && $MP_RC -eq 0 && $DB_RC -eq 0 ]] || COLD_FAILED=1
  COLD_ROWS+=("| $r | $MF_T ($MF_JSON_S) | $(cpu "m-full-$r") | $MF_RSS | $MP_T ($MP_JSON_S) | $DD_T | $DI_T | $DB_T | ${D_TOTAL[-1]} |")
  COLD_LAYER_NOTES+=("- run $r: mlpack cold incl. base: $MF_LAYERS; base present: $MP_LAYERS")
done

MF_MED="$(median "${M_FULL[@]}")"; MP_MED="$(median "${M_PRESENT[@]}")"
DB_MED="$(median "${D_BUILD[@]}")"; DT_MED="$(median "${D_TOTAL[@]}")"
DD_MED="$(median "${D_DEB[@]}")"; DI_MED="$(median "${D_IMPORT[@]}")"

# --- 5. image size and import check (before the rebuilds change train.py) -----------------
H1="$WORK/m-full-1/home"; C1="$WORK/m-full-1/cache"
M_COMPRESSED="$(jq '[.layers[].size] | add' "$WORK/logs/m-full-1.out" 2>/dev/null || echo 0)"
# The first import under mlpack's own runtime, in the store the cold build wrote.
import_check bench-mlpack-iris:latest env MLPACK_HOME="$H1" "$MLPACK"; M_RUN_IMPORT="$IMPORT"
timed m-export env MLPACK_HOME="$H1" "$MLPACK" export bench-mlpack-iris:latest -o "$WORK/mlpack-iris.tar"
M_EXPORT_T="$T"
M_UNCOMPRESSED=0; M_IMPORT="not checked (export failed: $(errline "$WORK/logs/m-export.err"))"
if [[ "$RC" -eq 0 ]] && docker load -i "$WORK/mlpack-iris.tar" >/dev/null; then
  M_UNCOMPRESSED="$(docker image inspect -f '{{.Size}}' bench-mlpack-iris:latest)"
  import_check bench-mlpack-iris:latest; M_IMPORT="$IMPORT"
fi
rm -f "$WORK/mlpack-iris.tar"
D_UNCOMPRESSED="$(docker image inspect -f '{{.Size}}' bench-iris:docker 2>/dev/null || echo 0)"
D_BASE_SIZE="$(docker image inspect -f '{{.Size}}' bench-base:bookworm 2>/dev/null || echo 0)"
import_check bench-iris:docker; D_IMPORT="$IMPORT"
layer_sizes() { docker history --no-trunc --human=false --format '{{.Size}}\t{{.CreatedBy}}' "$1" \
  | awk -F'\t' '$1 > 0 { printf "%s%.1f MB (%s)", sep, $1 / 1e6, substr($2, 1, 60); sep = "; " }'; }
M_LAYER_SIZES="$(layer_sizes bench-mlpack-iris:latest 2>/dev/null || echo -)"
D_LAYER_SIZES="$(layer_sizes bench-iris:docker 2>/dev/null || echo -)"

# Compressed: docker's layers gzipped at level 6; mlpack's with --compression gzip.
D_GZIP="$(docker save bench-iris:docker | python3 -c '
import sys, tarfile, zlib
total = 0
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
    for member in tar:
        if member.isfile() and member.name.endswith("layer.tar"):
            f = tar.extractfile(member)
            c = zlib.compressobj(6, zlib.DEFLATED, 31)
            while chunk := f.read(1 << 20):
                total += len(c.compress(chunk))
            total += len(c.flush())
print(total)' || echo 0)"
# Where a cold build's time goes: the same build in a fresh store with run 1's download cache
# (every .deb and wheel already downloaded), i.e. unpacking, tarring, compressing, hashing.
# --offline proves nothing is fetched. Repeated BENCH_COLD_RUNS times, median.
declare -a NODL_T
NODL_RUNS=()
for i in $(seq "$COLD_RUNS"); do
  rm -rf "$WORK/nodl-home"
  mlpack_build "m-nodl-$i" "$WORK/nodl-home" "$C1" "$WORK/iris" -t bench-mlpack-iris:latest --offline
  if [[ $RC -eq 0 ]]; then
    NODL_T+=("$T")
    NODL_RUNS+=("${T}s (CPU $(cpu "m-nodl-$i") s user+sys, peak RSS ${RSS} MB; $(layer_summary "$WORK/logs/m-nodl-$i.out"))")
  else NODL_RUNS+=("FAILED: $(errline "$WORK/logs/m-nodl-$i.err")"); fi
done
NODL_NOTE="median $(median "${NODL_T[@]}")s wall; runs: $(printf '%s; ' "${NODL_RUNS[@]}")"
rm -rf "$WORK/nodl-home"
log "mlpack cold store, warm download cache: $NODL_NOTE"
# (A fresh store, the download cache of run 1: the layer cache is keyed without the compression.)
mlpack_build m-gzip "$WORK/gz-home" "$C1" "$WORK/iris" -t bench-mlpack-iris-gz:latest --compression gzip
M_GZIP="$( [[ $RC -eq 0 ]] && jq '[.layers[].size] | add' "$WORK/logs/m-gzip.out" || echo 0)"
rm -rf "$WORK/gz-home"
# The same build in run 1's store, which holds the zstd layers: which media types come out?
mlpack_build m-gzip-same-store "$H1" "$C1" "$WORK/iris" -t bench-mlpack-iris-gz:latest --compression gzip
GZIP_REUSE_NOTE="$( [[ $RC -eq 0 ]] && env MLPACK_HOME="$H1" "$MLPACK" --json inspect bench-mlpack-iris-gz:latest \
  | jq -r '[.manifest.layers[].mediaType | sub("application/vnd.oci.image.layer.v1."; "")] | join(", ")' || echo "build failed")"
# What docker's pip layer holds that mlpack's does not: byte-compiled .pyc files.
PYC_SH='find /usr/local/lib/python3.11/dist-packages -name "*.pyc" -type f -exec du -cb {} + | awk "/total\$/ {s += \$1} END {print s + 0}"'
D_PYC="$(docker run --rm --network none bench-iris:docker sh -c "$PYC_SH" 2>/dev/null || echo 0)"
M_PYC="$(env MLPACK_HOME="$H1" "$MLPACK" run --rm --network none bench-mlpack-iris:latest sh -c "$PYC_SH" 2>/dev/null || echo 0)"
log "sizes: mlpack $(mb "$M_UNCOMPRESSED") MB ($(mb "$M_COMPRESSED") MB zstd, $(mb "$M_GZIP") MB gzip), docker $(mb "$D_UNCOMPRESSED") MB ($(mb "$D_GZIP") MB gzip)"
log "import sklearn: mlpack: $M_IMPORT; docker: $D_IMPORT"

# When mlpack's image cannot import sklearn, see whether adding libstdc++6 to the base (the
# C++ runtime manylinux wheels expect from the system) is all it takes.
FIX_NOTE=""
if [[ "$M_IMPORT" == FAIL* ]]; then
  cp -r "$WORK/iris" "$WORK/iris-fix"
  rm -f "$WORK/iris-fix/mlpack.lock"
  printf '\n[base]\npackages = ["libstdc++6"]\n' >>"$WORK/iris-fix/mlpack.toml"
  timed m-fix env MLPACK_HOME="$H1" XDG_CACHE_HOME="$C1" "$MLPACK" --json build "$WORK/iris-fix" -t bench-mlpack-iris-fix:latest
  if [[ "$RC" -eq 0 ]] && env MLPACK_HOME="$H1" "$MLPACK" -q export bench-mlpack-iris-fix:latest -o "$WORK/fix.tar" \
      && docker load -i "$WORK/fix.tar" >/dev/null; then
    import_check bench-mlpack-iris-fix:latest
    FIX_SIZE="$(docker image inspect -f '{{.Size}}' bench-mlpack-iris-fix:latest)"
    same="$(cmp -s <("$MLPACK" export --format requirements --dir "$WORK/iris" 2>/dev/null | grep -v '^#') \
      <("$MLPACK" export --format requirements --dir "$WORK/iris-fix" 2>/dev/null | grep -v '^#') && echo "the same" || echo "DIFFERENT")"
    FIX_NOTE="with \`[base] packages = [\"libstdc++6\"]\` added to a copy of the project (python packages $same): import $IMPORT; image $(mb "$FIX_SIZE") MB uncompressed, base layer $(jq -r '.layers[0].size / 1e6 * 10 | round / 10' "$WORK/logs/m-fix.out") MB zstd"
  else
    FIX_NOTE="the libstdc++6 variant did not build or load: $(errline "$WORK/logs/m-fix.err")"
  fi
  rm -f "$WORK/fix.tar"
  log "fix check: $FIX_NOTE"
fi

# --- 6. code-only rebuilds ---------------------------------------------------------------
declare -a MR_T MR_S DR_T
MR_NOTE=""
for i in $(seq "$REBUILD_RUNS"); do
  echo "# bench: code-only change $i" >>"$WORK/iris/train.py"
  echo "# bench: code-only change $i" >>"$WORK/ctx/app/train.py"
  mlpack_build "m-rebuild-$i" "$H1" "$C1" "$WORK/iris" -t bench-mlpack-iris:latest
  if [[ $RC -eq 0 ]]; then
    MR_T+=("$T"); MR_S+=("$(jq -r '.seconds' "$WORK/logs/m-rebuild-$i.out")")
    MR_NOTE="$(layer_summary "$WORK/logs/m-rebuild-$i.out")"
  else MR_NOTE="FAILED: $(errline "$WORK/logs/m-rebuild-$i.err")"; fi
  docker_build "d-rebuild-$i"
  if [[ $RC -eq 0 ]]; then DR_T+=("$T"); fi
  DR_CACHED="$(grep -c 'Using cache' "$WORK/logs/d-rebuild-$i.out" || true)"
  log "rebuild $i: mlpack ${MR_T[*]: -1}s wall; docker ${T}s, exit $RC ($DR_CACHED steps from cache)"
done
MR_MED="$(median "${MR_T[@]}")"; MRS_MED="$(median "${MR_S[@]}")"; DR_MED="$(median "${DR_T[@]}")"
rm -rf "$WORK/m-full-1"

# --- 7. mnist-torch: mlpack alone --------------------------------------------------------
TORCH_ROW=""; TORCH_NOTES=()
if [[ "$TORCH" == 1 ]]; then
  free_gb="$(df -BG --output=avail "$WORK" | awk 'NR == 2 { print $1 + 0 }')"
  if ((free_gb < TORCH_MIN_FREE_GB)); then
    TORCH_NOTES+=("- skipped: ${free_gb} GB free under $WORK, fewer than BENCH_TORCH_MIN_FREE_GB=$TORCH_MIN_FREE_GB")
  else
    cp -r "$EXAMPLES/mnist-torch" "$WORK/mnist"
    rm -f "$WORK/mnist/mlpack.lock"
    timed t-lock env MLPACK_HOME="$WORK/t-lock-home" XDG_CACHE_HOME="$WORK/t-lock-cache" "$MLPACK" lock "$WORK/mnist"
    T_LOCK_T="$T" T_LOCK_RSS="$RSS" T_LOCK_RC="$RC"
    rm -rf "$WORK/t-lock-home" "$WORK/t-lock-cache"
    if [[ "$T_LOCK_RC" -ne 0 ]]; then
      TORCH_NOTES+=("- mlpack lock failed (exit $T_LOCK_RC): $(errline "$WORK/logs/t-lock.err")")
    else
      log "mnist-torch: locked in ${T_LOCK_T}s; cold build (downloads ~3 GB)"
      mkdir -p "$WORK/t/home" "$WORK/t/cache"
      # Not --locked: the lock has the Python pins only, so this build also pins the base.
      timed t-build env MLPACK_HOME="$WORK/t/home" XDG_CACHE_HOME="$WORK/t/cache" "$MLPACK" --json build "$WORK/mnist" -t bench-mlpack-mnist:latest
      T_T="$T" T_RSS="$RSS" T_RC="$RC"
      T_STORE="$(du -sb "$WORK/t/home" | cut -f1)"; T_CACHE="$(du -sb "$WORK/t/cache" | cut -f1)"
      if [[ "$T_RC" -eq 0 ]]; then
        T_JSON_S="$(jq -r '.seconds * 1000 | round / 1000' "$WORK/logs/t-build.out")"
        T_LAYERS="$(jq -r '[.layers[] | "\(.description | .[0:60]): \(.size / 1e6 * 10 | round / 10) MB, \(.seconds * 100 | round / 100)s"] | join("; ")' "$WORK/logs/t-build.out")"
        T_SIZE="$(jq '[.layers[].size] | add' "$WORK/logs/t-build.out")"
        T_PKGS="$(grep -c '^\[\[packages\]\]' "$WORK/mnist/mlpack.lock" || true)"
        TORCH_NOTES+=("- mnist-torch: $T_PKGS locked packages (mlpack lock: ${T_LOCK_T}s, peak RSS ${T_LOCK_RSS} MB, not part of the build time); image $(mb "$T_SIZE") MB compressed (zstd); store $(mb "$T_STORE") MB, download cache $(mb "$T_CACHE") MB after the build")
        TORCH_NOTES+=("- mnist-torch layers: $T_LAYERS")
        TORCH_NOTES+=("- mnist-torch: process wall ${T_T}s, JSON \`seconds\` $T_JSON_S, \`pinned_base\` $(jq -r .pinned_base "$WORK/logs/t-build.out") (the build pinned the base into the lock: fetched the Debian index); /usr/bin/time: $(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Percent of CPU/ {p=$2} END {printf "user %ss, sys %ss, %s CPU", u, s, p}' "$WORK/logs/t-build.rusage")")
      else
        TORCH_NOTES+=("- mnist-torch: mlpack build FAILED (exit $T_RC) after ${T_T}s: $(errline "$WORK/logs/t-build.err")")
      fi
      log "mnist-torch: ${T_T}s, peak RSS ${T_RSS} MB (exit $T_RC)"
      rm -rf "$WORK/t"
    fi
  fi
fi

# --- 8. report ---------------------------------------------------------------------------
verdict() { awk -v c="$1" 'BEGIN { print (c ? "PASS" : "**MISS**") }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", b / a; else print "-" }'; }

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "### Summary"
echo
echo "| measurement | mlpack | docker | docker/mlpack | target | result |"
echo "|---|---:|---:|---:|---|---|"
echo "| cold build, base already present (s) | $MP_MED | $DB_MED | $(ratio "$MP_MED" "$DB_MED") | >= 5x faster (issue 18) | $(verdict "$(awk -v a="$MP_MED" -v b="$DB_MED" 'BEGIN { print (a > 0 && b / a >= 5) }')") |"
echo "| cold build including the base (s) | $MF_MED | $DT_MED | $(ratio "$MF_MED" "$DT_MED") | >= 3x faster | $(verdict "$(awk -v a="$MF_MED" -v b="$DT_MED" 'BEGIN { print (a > 0 && b / a >= 3) }')") |"
echo "| the base alone (s) | $(calc '%.3f' "$MF_MED - $MP_MED") (difference of the two rows above) | $(calc '%.3f' "$DD_MED + $DI_MED") (mmdebstrap $DD_MED + import $DI_MED) | $(ratio "$(calc '%.3f' "$MF_MED - $MP_MED")" "$(calc '%.3f' "$DD_MED + $DI_MED")") | - | - |"
echo "| code-only rebuild (s, wall) | $MR_MED (JSON \`seconds\` $MRS_MED) | $DR_MED | $(ratio "$MR_MED" "$DR_MED") | < 0.5 s | $(verdict "$(awk -v a="$MR_MED" 'BEGIN { print (a != "-" && a < 0.5) }')") |"
echo "| image size, uncompressed (MB) | $(mb "$M_UNCOMPRESSED") | $(mb "$D_UNCOMPRESSED") | $(ratio "$M_UNCOMPRESSED" "$D_UNCOMPRESSED") | no larger than docker's | $(verdict "$(awk -v a="$M_UNCOMPRESSED" -v b="$D_UNCOMPRESSED" 'BEGIN { print (a > 0 && a <= b) }')") |"
echo "| image size, compressed (MB) | $(mb "$M_COMPRESSED") zstd / $(mb "$M_GZIP") gzip | $(mb "$D_GZIP") gzip -6 | $(ratio "$M_GZIP" "$D_GZIP") (gzip) | - | - |"
echo "| \`import sklearn\` in the image (\`docker run\`) | $M_IMPORT | $D_IMPORT | | works | $(verdict "$([[ "$M_IMPORT" == ok* ]] && echo 1 || echo 0)") |"
echo "| \`import sklearn\` under \`mlpack run\` | $M_RUN_IMPORT | - | | works | $(verdict "$([[ "$M_RUN_IMPORT" == ok* ]] && echo 1 || echo 0)") |"
if [[ "$TORCH" == 1 && -n "${T_T:-}" ]]; then
  echo "| mnist-torch cold build (s) | $T_T $( [[ $T_RC -eq 0 ]] || echo "(FAILED, exit $T_RC)") | - | | - | - |"
  echo "| mnist-torch peak RSS (MB) | $T_RSS | - | | < 500 MB | $(verdict "$(awk -v a="$T_RSS" -v rc="$T_RC" 'BEGIN { print (rc == 0 && a < 500) }')") |"
fi
echo
echo "### Cold runs (seconds, wall; mlpack's JSON \`seconds\` in parentheses)"
echo
echo "| run | mlpack incl. base | its CPU s user+sys | its peak RSS MB | mlpack base present | mmdebstrap | docker import | docker build --no-cache | docker incl. base |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${COLD_ROWS[@]}"
echo
printf '%s\n' "${COLD_LAYER_NOTES[@]}"
[[ "$BASE_REUSED_ALL" == 1 ]] && echo "- the base-present builds all reused the base layer from the warm-up project's store" \
  || echo "- **a base-present build did not reuse the base layer** (see the layers above)"
echo "- mlpack with an empty store but run 1's download cache, \`--offline\` (nothing to download; the rest of a cold build incl. base): $NODL_NOTE"
echo "- docker base: bench-base:bookworm, $(mb "$D_BASE_SIZE") MB (mmdebstrap tarball $(mb "${BASE_TAR_BYTES:-0}") MB); mlpack's base layer is its first layer below"
echo
echo "### Sizes and rebuilds"
echo
echo "- mlpack layers (uncompressed, docker history): $M_LAYER_SIZES"
echo "- docker layers (uncompressed, docker history): $D_LAYER_SIZES"
echo "- mlpack export (docker-archive) took ${M_EXPORT_T}s"
echo "- .pyc files in the packages layer: docker's pip layer $(mb "$D_PYC") MB (pip byte-compiles on install, timestamp-based), mlpack's $(mb "$M_PYC") MB (compiled at build time, PEP 552 unchecked-hash)"
echo "- \`mlpack build --compression gzip\` in a store that already holds the zstd layers gives layers: $GZIP_REUSE_NOTE (the compressed gzip size above comes from a fresh store)"
[[ -n "$FIX_NOTE" ]] && echo "- mlpack image cannot import sklearn; $FIX_NOTE"
echo "- code-only rebuilds: mlpack walls ${MR_T[*]:-none}, JSON seconds ${MR_S[*]:-none}; last: $MR_NOTE"
echo "- code-only rebuilds: docker walls ${DR_T[*]:-none} (legacy builder; pip step from its layer cache)"
echo
if [[ "$TORCH" == 1 ]]; then
  echo "### mnist-torch (mlpack only)"
  echo
  printf '%s\n' "${TORCH_NOTES[@]}"
  echo
fi
