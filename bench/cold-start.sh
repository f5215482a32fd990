#!/usr/bin/env bash
# Benchmark the cold start of a big image: from a registry to the first line a Python process
# in the container prints, with nothing of the image on the machine, `mlpack` against
# `docker`, same image, same registry, same run.
#
#   bench/cold-start.sh      # report (markdown) on stdout, progress on stderr
#
# The image: examples/ml/mnist-torch (torch and its CUDA wheels, ~3 GB of gzip layers), copied
# to the work directory and built by mlpack in a throwaway MLPACK_HOME, with the user's
# download cache (XDG_CACHE_HOME as set, else ~/.cache: the wheels are downloaded only when
# it lacks them). Its checked-in lock pins only the Python packages and `--locked` refuses a
# lock without the base's Debian pins; then it is built without `--locked` (which pins the
# base into the copy's lock), as bench/registry.sh does. `mlpack push` (gzip layers, the
# default, so Docker 20.10 can pull them) sends it to Debian's docker-registry, started by
# this script on 127.0.0.1:<free port> (plain HTTP, filesystem storage); the build's store is
# then deleted.
#
# Measured, BENCH_RUNS runs (default 3), median; in each run the three are interleaved and
# the one that goes first rotates; before each, `sync` (untimed), so that none pays for
# writing back what the one before left dirty:
#   * mlpack: a fresh MLPACK_HOME, `mlpack pull REF` (which also unpacks the layers, as
#     `docker pull` does), then `mlpack run --rm --network none REF python3 -c
#     'print(...)'`;
#   * docker: the image removed (`docker rmi`; checked gone), `docker pull REF`, then `docker
#     run --rm --network none REF python3 -c 'print(...)'`;
#   * the floor: `cp` of the registry's blob files of the image (config and layers: the
#     bytes a pull downloads) into a fresh directory + `sync` of the copies (mlpack fsyncs
#     what it stores); and `cat` of the same files to /dev/null (reading them alone).
# "first line" is the wall time from the start of the pull until the container's first line
# of output reached this script; "pull" is the pull command alone. The registry's blobs were
# written moments before, so every reader gets them from the page cache alike.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_MIN_FREE_GB (20: refuses to start with less
# free disk under the work directory: registry 3 GB, one store 9 GB at a time), MLPACK (use
# this binary, do not build), BENCH_REGISTRY_DIR (the registry's storage, kept at the end:
# the build and push are skipped when it already holds the image, for reruns),
# BENCH_KEEP=1 (keep the work directory).
#
# Needs root (docker, mlpack run). Installs docker-registry, jq, curl and time with apt-get
# when missing, and starts `dockerd --bridge=none --iptables=false` when no daemon answers
# (stopped again at the end). At the end it stops the registry and removes the work
# directory (registry storage, stores) and the docker images it pulled. Exits non-zero only
# when setup fails. The setup and timing helpers are bench/lib.sh's.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TIMED_STDIN=/dev/null
RUNS="${BENCH_RUNS:-3}"
MIN_FREE_GB="${BENCH_MIN_FREE_GB:-20}"
EXAMPLE="$REPO/examples/ml/mnist-torch"
LINE="first line from python"

need_bash5
need_root "docker, mlpack run"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a whole number >= 1"
[[ -f "$EXAMPLE/mlpack.toml" ]] || die "no $EXAMPLE/mlpack.toml"

# --- 1. tools ----------------------------------------------------------------------------
missing=()
[[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
[[ -x /usr/bin/time ]] || missing+=(time)
apt_install "${missing[@]}"
need_tools docker jq curl python3 awk

# Settings that would change what mlpack does; homes are set per command.
unset MLPACK_OFFLINE MLPACK_EXCLUDE_NEWER MLPACK_HOME

start_dockerd cold-start
mlpack_binary always

make_work cold-start
free_gb="$(df -BG --output=avail "$WORK" | awk 'NR == 2 { print $1 + 0 }')"
((free_gb >= MIN_FREE_GB)) || { rm -rf "$WORK"; die "${free_gb} GB free under $WORK, fewer than BENCH_MIN_FREE_GB=$MIN_FREE_GB"; }
REG_ROOT="${BENCH_REGISTRY_DIR:-$WORK/registry}"
REG_PID=""
R=""
cleanup() {
  set +e
  if [[ -n "$REG_PID" ]]; then kill "$REG_PID"; wait "$REG_PID" 2>/dev/null; fi
  [[ -n "$R" ]] && docker rmi "$R/bench/cold-start:v1" >/dev/null 2>&1
  remove_work
  stop_dockerd
}
trap cleanup EXIT

# --- 2. helpers --------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# ratio A B: B / A ("2.50x"), "-" unless both are numbers > 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", b / a; else print "-" }'; }
count() { grep -c -e "$1" "$2" 2>/dev/null || true; }
# since START: seconds from START (an EPOCHREALTIME) to now.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
# first_line START NAME CMD...: runs CMD (stdin /dev/null, under /usr/bin/time -v), its
# stdout in logs/NAME.out, stderr in logs/NAME.err; sets FIRST (seconds from START until its
# first line of output arrived, "-" when none did) and RC.
first_line() {
  local start="$1" name="$2"; shift 2
  rm -f "$WORK/logs/$name.first"
  set +e
  /usr/bin/time -v -o "$WORK/logs/$name.rusage" "$@" </dev/null 2>"$WORK/logs/$name.err" \
    | { if IFS= read -r line; then echo "$EPOCHREALTIME" >"$WORK/logs/$name.first"; printf '%s\n' "$line"; fi; cat; } \
      >"$WORK/logs/$name.out"
  RC="${PIPESTATUS[0]}"
  set -e
  FIRST=-
  [[ -s "$WORK/logs/$name.first" ]] \
    && FIRST="$(awk -v a="$start" -v b="$(cat "$WORK/logs/$name.first")" 'BEGIN { printf "%.3f", b - a }')"
  return 0
}

# --- 3. the registry ---------------------------------------------------------------------
log "work directory $WORK, registry storage $REG_ROOT"
for attempt in 1 2 3; do
  PORT="$(free_port)"
  mkdir -p "$REG_ROOT"
  cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REG_ROOT
http:
  addr: 127.0.0.1:$PORT
EOF
  /usr/bin/docker-registry serve "$WORK/registry.yml" >>"$WORK/logs/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    kill -0 "$REG_PID" 2>/dev/null || break
    sleep 0.1
  done
  if curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1; then break; fi
  kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=""
  ((attempt < 3)) || die "docker-registry did not come up: $(errline "$WORK/logs/registry.log")"
done
R="127.0.0.1:$PORT"
REF="$R/bench/cold-start:v1"
REG_VERSION="$(/usr/bin/docker-registry --version 2>/dev/null | awk '{print $NF}')"
reg_blob() { local hex="${1#sha256:}"; echo "$REG_ROOT/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"; }

# --- 4. the image ------------------------------------------------------------------------
manifest() {
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/bench/cold-start/manifests/v1"
}
BUILD_NOTE=""
if manifest >"$WORK/manifest.json" 2>/dev/null; then
  BUILD_NOTE="the image was already in BENCH_REGISTRY_DIR ($REG_ROOT): not built again"
  log "$BUILD_NOTE"
else
  cp -r "$EXAMPLE" "$WORK/project"
  rm -rf "$WORK/project/outputs"
  log "mlpack build --locked (mnist-torch; download cache ${XDG_CACHE_HOME:-$HOME/.cache}/mlpack)"
  timed build env MLPACK_HOME="$WORK/build-home" "$MLPACK" --json build "$WORK/project" --locked -t bench-cold-start:v1
  how="\`mlpack build --locked\`"
  if [[ $RC -ne 0 ]] && grep -q 'forbids changing the lock' "$WORK/logs/build.err"; then
    log "--locked refused the lock (no base pins); building without --locked"
    timed build env MLPACK_HOME="$WORK/build-home" "$MLPACK" --json build "$WORK/project" -t bench-cold-start:v1
    how="\`mlpack build\` (not --locked: the checked-in lock has no base pins)"
  fi
  [[ $RC -eq 0 ]] || die "the build failed (exit $RC): $(errline "$WORK/logs/build.err")"
  BUILD_NOTE="$how: ${T}s, then"
  log "mlpack push bench-cold-start:v1 $REF"
  timed push env MLPACK_HOME="$WORK/build-home" "$MLPACK" push bench-cold-start:v1 "$REF"
  [[ $RC -eq 0 ]] || die "the push failed (exit $RC): $(errline "$WORK/logs/push.err")"
  BUILD_NOTE+=" \`mlpack push\` (gzip, the default): ${T}s; the build's store deleted"
  rm -rf "$WORK/build-home" "$WORK/project"
  manifest >"$WORK/manifest.json" || die "the registry has no manifest for $REF after the push"
fi
BLOBS=()
for d in $(jq -r '.config.digest, .layers[].digest' "$WORK/manifest.json"); do BLOBS+=("$(reg_blob "$d")"); done
IMAGE_BYTES="$(jq '[.layers[].size] + [.config.size] | add' "$WORK/manifest.json")"
LAYERS="$(jq -r '[.layers[] | "\(.size / 1e6 * 10 | round / 10) MB"] | join(", ")' "$WORK/manifest.json")"

host_facts
FS="$(findmnt -n -o FSTYPE,OPTIONS -T "$WORK" | awk '{print $1 " (" $2 ")"}')"
echo "# mlpack cold-start benchmark (registry to the first line of Python)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(machine), kernel $(uname -r), cgroup $CGROUP; work directory on $FS"
echo "- mlpack: $MLPACK_VERSION ($MLPACK; $(mlpack_origin))"
echo "- docker: $(docker_versions), storage driver $(docker info -f '{{.Driver}}' 2>/dev/null), $(command -v unpigz >/dev/null && echo "unpigz installed" || echo "no unpigz (docker decompresses with Go's gzip)"); registry: Debian docker-registry $REG_VERSION on $R (plain HTTP, filesystem storage)"
echo "- image: mnist-torch, $(mb "$IMAGE_BYTES") MB of blobs (gzip layers: $LAYERS); $BUILD_NOTE"
echo "- runs: $RUNS, the three interleaved (the first rotates per run), median"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- 5. the measurements -----------------------------------------------------------------
PY=(python3 -c "print('$LINE', flush=True)")
declare -a M_PULL=() M_FIRST=() D_PULL=() D_FIRST=() C_CP=() C_CAT=() ROWS=() NOTES=()
for r in $(seq "$RUNS"); do
  order=()
  mp=- mf=- dp=- df=- cc=- ca=-
  while read -r tool; do
    order+=("$tool")
    sync
    case "$tool" in
      mlpack)
        home="$WORK/home"
        rm -rf "$home"
        start="$EPOCHREALTIME"
        timed "pull-mlpack-$r" env MLPACK_HOME="$home" "$MLPACK" pull "$REF"
        if [[ $RC -eq 0 ]]; then
          mp="$T"; M_PULL+=("$T")
          first_line "$start" "run-mlpack-$r" env MLPACK_HOME="$home" "$MLPACK" run --rm --network none "$REF" "${PY[@]}"
          if [[ $RC -eq 0 && "$FIRST" != - ]]; then
            mf="$FIRST"; M_FIRST+=("$FIRST")
            NOTES+=("- run $r mlpack: pull CPU $(cpu "pull-mlpack-$r") s, peak RSS $RSS MB; store + unpacked layers $(mb "$(du -sb "$home" | cut -f1)") MB")
          else mf=FAIL; NOTES+=("- run $r: **mlpack run FAILED** (exit $RC): $(errline "$WORK/logs/run-mlpack-$r.err")"); fi
        else mp=FAIL; NOTES+=("- run $r: **mlpack pull FAILED** (exit $RC): $(errline "$WORK/logs/pull-mlpack-$r.err")"); fi
        rm -rf "$home"
        ;;
      docker)
        docker rmi "$REF" >/dev/null 2>&1 || true
        if docker image inspect "$REF" >/dev/null 2>&1; then die "docker still has $REF"; fi
        start="$EPOCHREALTIME"
        timed "pull-docker-$r" docker pull "$REF"
        if [[ $RC -eq 0 ]]; then
          dp="$T"; D_PULL+=("$T")
          first_line "$start" "run-docker-$r" docker run --rm --network none "$REF" "${PY[@]}"
          if [[ $RC -eq 0 && "$FIRST" != - ]]; then
            df="$FIRST"; D_FIRST+=("$FIRST")
            NOTES+=("- run $r docker: $(count 'Pull complete' "$WORK/logs/pull-docker-$r.out") layers pulled, $(count 'Already exists' "$WORK/logs/pull-docker-$r.out") already there")
          else df=FAIL; NOTES+=("- run $r: **docker run FAILED** (exit $RC): $(errline "$WORK/logs/run-docker-$r.err")"); fi
        else dp=FAIL; NOTES+=("- run $r: **docker pull FAILED** (exit $RC): $(errline "$WORK/logs/pull-docker-$r.err")"); fi
        docker rmi "$REF" >/dev/null 2>&1 || true
        ;;
      copy)
        rm -rf "$WORK/copy"; mkdir -p "$WORK/copy"
        # shellcheck disable=SC2016  # expanded by the inner bash
        timed "copy-$r" bash -c 'dst="$1"; shift; for f in "$@"; do h="${f%/data}"; cp "$f" "$dst/${h##*/}" || exit 1; done; sync "$dst"/*' _ "$WORK/copy" "${BLOBS[@]}"
        if [[ $RC -eq 0 ]]; then cc="$T"; C_CP+=("$T"); else cc=FAIL; fi
        rm -rf "$WORK/copy"
        timed "cat-$r" cat "${BLOBS[@]}"
        if [[ $RC -eq 0 ]]; then ca="$T"; C_CAT+=("$T"); else ca=FAIL; fi
        ;;
    esac
  done < <(rotate "$((r - 1))" mlpack docker copy)
  log "run $r ($(IFS=,; echo "${order[*]}")): mlpack pull $mp first line $mf; docker pull $dp first line $df; cp+sync $cc; cat $ca"
  ROWS+=("| $r | $(IFS=,; echo "${order[*]}") | $mp | $mf | $dp | $df | $cc | $ca |")
done

m_pull="$(median "${M_PULL[@]}")"; m_first="$(median "${M_FIRST[@]}")"
d_pull="$(median "${D_PULL[@]}")"; d_first="$(median "${D_FIRST[@]}")"
c_cp="$(median "${C_CP[@]}")"; c_cat="$(median "${C_CAT[@]}")"
echo "| seconds, median of $RUNS | mlpack | docker | docker/mlpack |"
echo "|---|---:|---:|---:|"
echo "| pull (\`pull REF\`; both also unpack) | $m_pull | $d_pull | $(ratio "$m_pull" "$d_pull") |"
echo "| first line of Python (pull, then \`run --rm --network none REF python3 -c ...\`) | $m_first | $d_first | $(ratio "$m_first" "$d_first") |"
echo "| first line / plain copy of the blobs (\`cp\` + \`sync\`, $c_cp s) | $(ratio "$c_cp" "$m_first") | $(ratio "$c_cp" "$d_first") | |"
echo "| first line / reading the blobs (\`cat\` to /dev/null, $c_cat s) | $(ratio "$c_cat" "$m_first") | $(ratio "$c_cat" "$d_first") | |"
echo
echo "| run | order | mlpack pull | mlpack first line | docker pull | docker first line | cp+sync | cat |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${NOTES[@]}"
echo
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "${BENCH_REGISTRY_DIR:-}" ]]; then log "kept the registry's storage $REG_ROOT (BENCH_REGISTRY_DIR)"; fi
