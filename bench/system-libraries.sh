#!/usr/bin/env bash
# Benchmark `mlpack build`'s system libraries (the Debian packages that wheels need but do not
# bundle) against the Docker user's way of adding them.
#
#   bench/system-libraries.sh     # report (markdown) on stdout, progress on stderr
#
# Input: a project made in a temporary directory (nothing is written into the repository):
#     [python] requirements = ["opencv-python", "lightgbm"]    [base] image = "debian:bookworm"
# and a train.py doing `import cv2, lightgbm`. It is locked once with `mlpack lock`, then built
# once, untimed, without `--locked` (it pins the base's and the system libraries' Debian
# packages into the lock and fills the shared download cache: every .deb, wheel and Debian
# index). From that lock come
#   * the pinned lock, and the same lock with its `[system-libraries]` section removed (the
#     "unpinned" lock: a build with it scans the wheels and pins again);
#   * the Debian package names the wheels need (`system_libraries[].package` of the build's
#     JSON report), which the Dockerfile installs with apt-get;
#   * a hash-pinned requirements.txt (`mlpack export --format requirements`), so both builders
#     install exactly the same wheels.
#
# Timed per run (BENCH_RUNS, default 3, median; the tools are interleaved and which one goes
# first alternates). "Download cache warm" is the shared XDG_CACHE_HOME above: every wheel and
# .deb and the Debian indexes (Packages, Contents-amd64; InRelease is fetched again every time).
#   * mlpack, scan + pin, fresh store: empty MLPACK_HOME, download cache warm, unpinned lock,
#     `mlpack --json build` (it scans the wheels' ELF DT_NEEDED, reads the Contents index, pins);
#   * mlpack, scan + pin, base in the store: the same with an MLPACK_HOME that already holds the
#     base layer (a copy of the store of an untimed build of a tiny project with the same base
#     and `requirements = ["six"]`), like docker's base present;
#   * mlpack, pinned, fresh store: empty MLPACK_HOME, download cache warm, pinned lock,
#     `build --locked` (no scan);
#   * mlpack, scan + pin alone: in the warm store left by the first row, the unpinned lock again,
#     `build`: every layer is reused, so the time is the scan + pin plus the build's fixed cost;
#     then a warm rebuild with the pins (`build --locked`, no scan). The difference of the two is
#     the scan + pin;
#   * mlpack, scan + pin, base in the store, EMPTY download cache (BENCH_NETWORK=1, the default):
#     like the second row but downloading the wheels, the .debs and the indexes, as docker does;
#   * docker: `docker build --no-cache --network host` with the base already imported:
#         FROM bench-syslibs-base:bookworm   # mmdebstrap minbase + python3, python3-pip, ca-certificates
#         COPY bench-ca.crt ...              # the host's CA bundle (TLS-intercepting proxy here)
#         RUN apt-get update && apt-get install -y --no-install-recommends <packages> \
#             && rm -rf /var/lib/apt/lists/*
#         RUN pip install --no-cache-dir --break-system-packages --no-deps --require-hashes -r requirements.txt
#         COPY app/ /app
#     It downloads everything (apt lists, .debs, wheels) every time: no cache.
#
# Checked: `python3 -c "import cv2, lightgbm; print(...)"` in mlpack's image (`mlpack run --rm`)
# and in docker's (`docker run --rm --network none`), and in mlpack's image loaded into docker
# (`mlpack export` + `docker load`); also, untimed, a docker image without the apt-get line
# (BENCH_TRIAL=1, the default), to show the error a Docker user starts the trial loop from,
# and that loop replayed in one container of it to count its rounds (import, install the
# package that ships the library the error names, import again).
# Sizes: mlpack's compressed (sum of the JSON report's layer sizes, zstd) and uncompressed
# (`docker image inspect` Size after `mlpack export` + `docker load`); docker's uncompressed.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_NETWORK (1), BENCH_TRIAL (1), BENCH_MIRROR
# (http://deb.debian.org/debian, mmdebstrap's mirror; mlpack uses the lock's), BENCH_KEEP=1
# (keep the work directory), MLPACK (use this binary, do not build).
#
# Needs root (mmdebstrap, docker, mlpack run). Installs mmdebstrap, time and jq with apt-get when
# missing, and starts `dockerd --bridge=none --iptables=false` when no daemon answers (stopped
# again at the end). Docker images it creates are removed at the end. That setup, the docker
# base (mmdebstrap + `docker import`), the Dockerfile with the CA bundle and the timing
# helpers are bench/lib.sh's, shared with the other benchmarks.
# Exits non-zero only when setup fails; a failing build or check is reported, not fatal.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
NETWORK="${BENCH_NETWORK:-1}"
TRIAL="${BENCH_TRIAL:-1}"
MIRROR="${BENCH_MIRROR:-http://deb.debian.org/debian}"

need_bash5
need_root "mmdebstrap, docker, mlpack run"

# --- 1. tools ----------------------------------------------------------------------------
missing=()
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
apt_install "${missing[@]}"
need_tools docker awk getent mmdebstrap jq

# Settings that would change what mlpack or pip does; caches are set per run.
unset MLPACK_OFFLINE MLPACK_EXCLUDE_NEWER MLPACK_HOME PIP_FIND_LINKS PIP_NO_INDEX \
  PIP_CONSTRAINT PIP_CACHE_DIR PIP_NO_CACHE_DIR

start_dockerd syslibs
mlpack_binary stale
if ((MLPACK_GIVEN)); then MLPACK="$(cd "$(dirname "$MLPACK")" && pwd)/$(basename "$MLPACK")"; fi

# docker build does not read the host's /etc/hosts: pass the hosts' addresses.
docker_hosts pypi.org files.pythonhosted.org deb.debian.org

make_work syslibs
snapshot_images
BASE_TAG=bench-syslibs-base:bookworm
D_TAG=bench-syslibs:docker
D_TRIAL_TAG=bench-syslibs-noapt:docker
M_TAG=bench-mlpack-syslibs:latest
OUR_TAGS=("$BASE_TAG" "$D_TAG" "$D_TRIAL_TAG" "$M_TAG")
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
ratio() { if [[ "$1" == - || "$2" == - ]]; then echo -; else calc '%.2fx' "$2 / $1"; fi; } # ratio MLPACK OTHER
# layer_summary JSON: "base 3.04s (new), system 2.10s (new), python 4.57s (new), code 0.00s (new)"
layer_summary() {
  jq -r '[.layers[] | "\(.description | split(" ")[0] | rtrimstr(":")) \(.seconds * 100 | round / 100)s (\(if .reused then "reused" else "new" end))"] | join(", ")' "$1"
}
# json_field NAME FILTER: jq FILTER over logs/NAME.out, "-" when the build failed.
json_field() { if [[ -s "$WORK/logs/$1.out" ]]; then jq -r "$2" "$WORK/logs/$1.out" 2>/dev/null || echo -; else echo -; fi; }
syslib_seconds() { json_field "$1" '[.layers[] | select(.description | startswith("system libraries")) | .seconds] | if length == 0 then "-" else (.[0] * 1000 | round / 1000) end'; }
# The build's seconds outside every layer (locking checks, the scan + pin, the manifest).
outside_layers() { json_field "$1" '(.seconds - ([.layers[].seconds] | add)) * 1000 | round / 1000'; }
mlpack_build() { # NAME HOME CACHE [ARGS...]: a build of $WORK/proj
  local name="$1" home="$2" cache="$3"; shift 3
  timed "$name" env MLPACK_HOME="$home" XDG_CACHE_HOME="$cache" "$MLPACK" --json build "$WORK/proj" -t "$M_TAG" "$@"
  if [[ "$RC" -ne 0 ]]; then log "$name: mlpack build failed (exit $RC): $(errline "$WORK/logs/$name.err")"; fi
}
docker_build() { # NAME TAG CONTEXT [ARGS...]
  local name="$1" tag="$2" ctx="$3"; shift 3
  timed "$name" docker build --network host "${ADD_HOSTS[@]}" "$@" -t "$tag" "$ctx"
  if [[ "$RC" -ne 0 ]]; then log "$name: docker build failed (exit $RC): $(errline "$WORK/logs/$name.err")"; fi
}
IMPORT_PY='import cv2, lightgbm; print(cv2.__version__, lightgbm.__version__)'
# check_result RC OUTPUT -> "ok (opencv 4.x, lightgbm 4.y)" or "FAIL: last line"
check_result() {
  if [[ "$1" -eq 0 ]]; then tail -n1 <<<"$2" | awk '{print "ok (cv2 " $1 ", lightgbm " $2 ")"}'
  else echo "FAIL: $(grep -v '^\s*$' <<<"$2" | tail -n 1 | cut -c1-200)"; fi
}
docker_import_check() { # IMAGE
  local out rc
  set +e; out="$(docker run --rm --network none "$1" python3 -c "$IMPORT_PY" 2>&1)"; rc=$?; set -e
  check_result "$rc" "$out"
}
# unpin LOCK > OUT: the lock without its [system-libraries] tables.
unpin() {
  awk '/^\[\[?[A-Za-z]/ { skip = ($0 ~ /^\[\[?system-libraries[].]/) } !skip' "$1"
}
# syslib_packages LOCK: "COUNT SIZE_BYTES" of [[system-libraries.packages]].
syslib_packages() {
  awk '/^\[\[?[A-Za-z]/ { in_pkg = ($0 == "[[system-libraries.packages]]"); if (in_pkg) n++ }
       in_pkg && /^size = / { s += $3 } END { printf "%d %d\n", n, s }' "$1"
}

# --- 3. the inputs -----------------------------------------------------------------------
log "work directory $WORK"
mkdir -p "$WORK/proj" "$WORK/cache"
cat >"$WORK/proj/mlpack.toml" <<'EOF'
[project]
name = "bench-syslibs"

[python]
requirements = ["opencv-python", "lightgbm"]

[base]
image = "debian:bookworm"
EOF
cat >"$WORK/proj/train.py" <<'EOF'
import cv2
import lightgbm

print(cv2.__version__, lightgbm.__version__)
EOF
CACHE="$WORK/cache"
timed lock env MLPACK_HOME="$WORK/setup-home" XDG_CACHE_HOME="$CACHE" "$MLPACK" lock "$WORK/proj"
[[ "$RC" -eq 0 ]] || die "mlpack lock failed: $(errline "$WORK/logs/lock.err")"
LOCK_T="$T"
timed setup env MLPACK_HOME="$WORK/setup-home" XDG_CACHE_HOME="$CACHE" "$MLPACK" --json build "$WORK/proj" -t "$M_TAG"
[[ "$RC" -eq 0 ]] || die "first mlpack build (pinning the base and the system libraries) failed: $(errline "$WORK/logs/setup.err")"
SETUP_T="$T"
SETUP_PINNED="$(json_field setup '"base \(.pinned_base), system libraries \(.pinned_system_libraries)"')"
SETUP_LAYERS="$(layer_summary "$WORK/logs/setup.out")"
rm -rf "$WORK/setup-home"
cp "$WORK/proj/mlpack.lock" "$WORK/lock-pinned"
unpin "$WORK/lock-pinned" >"$WORK/lock-unpinned"
grep -q '^\[system-libraries\]' "$WORK/lock-pinned" || die "the first build pinned no [system-libraries]"
! grep -q 'system-libraries' "$WORK/lock-unpinned" || die "could not remove [system-libraries] from the lock"
read -r SYS_N SYS_BYTES < <(syslib_packages "$WORK/lock-pinned")
PKGS="$(jq -r '[.system_libraries[].package] | unique | join(" ")' "$WORK/logs/setup.out")"
NEEDED_NOTE="$(jq -r '[.system_libraries[] | "\(.package) (\(.wheel) needs \(.soname))"] | unique | join(", ")' "$WORK/logs/setup.out")"
NEEDED_LIBS="$(jq -r '[.system_libraries[].soname] | unique | length' "$WORK/logs/setup.out")"
[[ -n "$PKGS" ]] || die "the first build reports no system libraries"
log "system libraries: $PKGS ($SYS_N Debian packages, $(mb "$SYS_BYTES") MB of .debs)"
LOCKED_PKGS="$(grep -c '^\[\[packages\]\]' "$WORK/lock-pinned")"
LOCKED_VERSIONS="$(awk '/^\[\[packages\]\]/ { p = 1; next } /^\[/ { p = 0 } p && /^name = / { n = $3 } p && /^version = / { v = $3; gsub(/"/, "", n); gsub(/"/, "", v); if (n == "opencv-python" || n == "lightgbm") printf "%s%s==%s", sep, n, v; sep = " " }' "$WORK/lock-pinned")"

# Docker's context: the hash-pinned requirements, the code, the host's CA bundle.
mkdir -p "$WORK/ctx/app" "$WORK/ctx-trial"
"$MLPACK" -q export --format requirements --dir "$WORK/proj" -o "$WORK/ctx/requirements.txt" \
  || die "mlpack export --format requirements failed"
cp "$WORK/proj/train.py" "$WORK/proj/mlpack.toml" "$WORK/proj/mlpack.lock" "$WORK/ctx/app/"
docker_context "$WORK/ctx" "$BASE_TAG" "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PKGS \\
    && rm -rf /var/lib/apt/lists/*"
cp -r "$WORK/ctx/." "$WORK/ctx-trial/"
docker_context "$WORK/ctx-trial" "$BASE_TAG" "# (no apt-get line: the first try of a Docker user)"

log "docker base: mmdebstrap + import $BASE_TAG"
make_base "" "$BASE_TAG"
D_BASE_SIZE="$(docker image inspect -f '{{.Size}}' "$BASE_TAG")"

# A store holding only the base layer: a tiny project with the same base (its lock pinned
# by the same mlpack at the same time, so the same .debs), built once; copied for each run.
mkdir -p "$WORK/tiny"
cat >"$WORK/tiny/mlpack.toml" <<'EOF'
[project]
name = "bench-tiny"

[python]
requirements = ["six"]

[base]
image = "debian:bookworm"
EOF
echo 'print("tiny")' >"$WORK/tiny/main.py"
timed tiny env MLPACK_HOME="$WORK/base-store" XDG_CACHE_HOME="$WORK/tiny-cache" "$MLPACK" --json build "$WORK/tiny"
[[ "$RC" -eq 0 ]] || die "cold build of the tiny project failed: $(errline "$WORK/logs/tiny.err")"
rm -rf "$WORK/tiny-cache"
TINY_BASE_DIGEST="$(jq -r '.layers[0].diff_id' "$WORK/logs/tiny.out")"
PROJ_BASE_DIGEST="$(jq -r '.layers[0].diff_id' "$WORK/logs/setup.out")"
[[ "$TINY_BASE_DIGEST" == "$PROJ_BASE_DIGEST" ]] \
  || die "the tiny project's base layer differs from the project's ($TINY_BASE_DIGEST vs $PROJ_BASE_DIGEST)"

host_facts
echo "# mlpack system-libraries benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(machine), kernel $(uname -r)"
echo "- mlpack: $MLPACK_VERSION ($MLPACK; source tree $COMMIT)"
echo "- docker: $(docker_versions) ($(docker buildx version >/dev/null 2>&1 && echo "buildx installed" || echo "legacy builder")), $(mmdebstrap --version)"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- input: \`requirements = [\"opencv-python\", \"lightgbm\"]\` on debian:bookworm, $LOCKED_PKGS locked packages ($LOCKED_VERSIONS); \`mlpack lock\` ${LOCK_T}s, then a first \`mlpack build\` ${SETUP_T}s with empty store and cache (pinned: $SETUP_PINNED; $SETUP_LAYERS); both untimed below"
echo "- system libraries the wheels need ($NEEDED_LIBS libraries): $NEEDED_NOTE"
echo "- pinned into \`[system-libraries]\`: $SYS_N Debian packages with their dependencies, $(mb "$SYS_BYTES") MB of .debs"
echo "- docker installs \`apt-get install --no-install-recommends $PKGS\` and the exported hash-pinned requirements.txt (\`pip install --no-deps --require-hashes\`), so both install the same wheels; its base: mmdebstrap ${D_DEB_T}s + docker import ${D_IMPORT_T}s (untimed), $(mb "$D_BASE_SIZE") MB"
echo "- runs: median of $RUNS, mlpack and docker interleaved (which goes first alternates)"
echo

# --- 4. timed runs -----------------------------------------------------------------------
M_SCAN=(); M_PRESENT=(); M_PINNED=(); M_RESCAN=(); M_WARM=(); M_NET=(); D_BUILD=()
M_SCAN_SYS=(); M_PRESENT_SYS=(); M_PINNED_SYS=(); M_NET_SYS=(); M_SCAN_OUT=(); M_PRESENT_OUT=(); M_PINNED_OUT=(); M_RESCAN_OUT=(); M_WARM_OUT=()
RUN_ROWS=(); NOTES=(); FAILED=0; SAME_LOCK_ALL=1

run_mlpack() { # RUN
  local r="$1" name home
  # scan + pin, fresh store, download cache warm
  name="m-scan-$r"; home="$WORK/$name"
  rm -rf "$home"; cp "$WORK/lock-unpinned" "$WORK/proj/mlpack.lock"
  mlpack_build "$name" "$home" "$CACHE"
  M_SCAN+=("$([[ $RC -eq 0 ]] && echo "$T" || echo -)"); [[ $RC -eq 0 ]] || FAILED=1
  M_SCAN_SYS+=("$(syslib_seconds "$name")"); M_SCAN_OUT+=("$(outside_layers "$name")")
  cmp -s "$WORK/proj/mlpack.lock" "$WORK/lock-pinned" || SAME_LOCK_ALL=0
  NOTES+=("- run $r, scan + pin, fresh store: ${T}s, CPU $(cpu "$name") s, peak RSS ${RSS} MB, pinned system libraries: $(json_field "$name" .pinned_system_libraries); $( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/$name.out" || errline "$WORK/logs/$name.err")")
  log "run $r: mlpack scan + pin, fresh store: ${T}s"

  # scan + pin alone: the same store again (every layer reused), unpinned lock
  name="m-rescan-$r"
  cp "$WORK/lock-unpinned" "$WORK/proj/mlpack.lock"
  mlpack_build "$name" "$home" "$CACHE"
  M_RESCAN+=("$([[ $RC -eq 0 ]] && echo "$T" || echo -)"); [[ $RC -eq 0 ]] || FAILED=1
  M_RESCAN_OUT+=("$(outside_layers "$name")")
  NOTES+=("- run $r, scan + pin in a warm store: ${T}s, CPU $(cpu "$name") s, peak RSS ${RSS} MB, pinned: $(json_field "$name" .pinned_system_libraries); $( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/$name.out" || errline "$WORK/logs/$name.err")")
  # warm rebuild with the pins: no scan
  name="m-warm-$r"
  cp "$WORK/lock-pinned" "$WORK/proj/mlpack.lock"
  mlpack_build "$name" "$home" "$CACHE" --locked
  M_WARM+=("$([[ $RC -eq 0 ]] && echo "$T" || echo -)"); [[ $RC -eq 0 ]] || FAILED=1
  M_WARM_OUT+=("$(outside_layers "$name")")
  NOTES+=("- run $r, warm rebuild, pins reused: ${T}s, peak RSS ${RSS} MB, pinned: $(json_field "$name" .pinned_system_libraries); $( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/$name.out" || errline "$WORK/logs/$name.err")")
  log "run $r: mlpack scan + pin in a warm store ${M_RESCAN[-1]}s, warm rebuild with pins ${T}s"
  [[ "$r" -eq 1 ]] || rm -rf "$home"   # run 1's store is kept for the checks

  # scan + pin, base in the store, download cache warm
  name="m-present-$r"; home="$WORK/$name"
  rm -rf "$home"; cp -a "$WORK/base-store" "$home"; cp "$WORK/lock-unpinned" "$WORK/proj/mlpack.lock"
  mlpack_build "$name" "$home" "$CACHE"
  M_PRESENT+=("$([[ $RC -eq 0 ]] && echo "$T" || echo -)"); [[ $RC -eq 0 ]] || FAILED=1
  M_PRESENT_SYS+=("$(syslib_seconds "$name")"); M_PRESENT_OUT+=("$(outside_layers "$name")")
  [[ "$(json_field "$name" '.layers[0].reused')" == true ]] || NOTES+=("- run $r: **the base layer was not reused** in the base-present row")
  NOTES+=("- run $r, scan + pin, base in the store: ${T}s, CPU $(cpu "$name") s, peak RSS ${RSS} MB, pinned: $(json_field "$name" .pinned_system_libraries); $( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/$name.out" || errline "$WORK/logs/$name.err")")
  rm -rf "$home"
  log "run $r: mlpack scan + pin, base in the store: ${T}s"

  # pinned, fresh store, download cache warm
  name="m-pinned-$r"; home="$WORK/$name"
  rm -rf "$home"; cp "$WORK/lock-pinned" "$WORK/proj/mlpack.lock"
  mlpack_build "$name" "$home" "$CACHE" --locked
  M_PINNED+=("$([[ $RC -eq 0 ]] && echo "$T" || echo -)"); [[ $RC -eq 0 ]] || FAILED=1
  M_PINNED_SYS+=("$(syslib_seconds "$name")"); M_PINNED_OUT+=("$(outside_layers "$name")")
  NOTES+=("- run $r, pinned (--locked), fresh store: ${T}s, CPU $(cpu "$name") s, peak RSS ${RSS} MB, pinned: $(json_field "$name" .pinned_system_libraries); $( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/$name.out" || errline "$WORK/logs/$name.err")")
  rm -rf "$home"
  log "run $r: mlpack pinned, fresh store: ${T}s"

  if [[ "$NETWORK" == 1 ]]; then
    # scan + pin, base in the store, empty download cache
    name="m-net-$r"; home="$WORK/$name"
    rm -rf "$home" "$WORK/net-cache"; cp -a "$WORK/base-store" "$home"; cp "$WORK/lock-unpinned" "$WORK/proj/mlpack.lock"
    mlpack_build "$name" "$home" "$WORK/net-cache"
    M_NET+=("$([[ $RC -eq 0 ]] && echo "$T" || echo -)"); [[ $RC -eq 0 ]] || FAILED=1
    M_NET_SYS+=("$(syslib_seconds "$name")")
    NOTES+=("- run $r, scan + pin, base in the store, empty download cache: ${T}s, CPU $(cpu "$name") s, peak RSS ${RSS} MB, downloaded $(du -sm "$WORK/net-cache" | cut -f1) MB into the cache; $( [[ $RC -eq 0 ]] && layer_summary "$WORK/logs/$name.out" || errline "$WORK/logs/$name.err")")
    rm -rf "$home" "$WORK/net-cache"
    log "run $r: mlpack scan + pin, base in the store, empty download cache: ${T}s"
  fi
  cp "$WORK/lock-pinned" "$WORK/proj/mlpack.lock"
}

run_docker() { # RUN
  local r="$1"
  docker rmi -f "$D_TAG" >/dev/null 2>&1 || true
  docker_build "d-build-$r" "$D_TAG" "$WORK/ctx" --no-cache
  D_BUILD+=("$([[ $RC -eq 0 ]] && echo "$T" || echo -)"); [[ $RC -eq 0 ]] || FAILED=1
  NOTES+=("- run $r, docker build --no-cache: ${T}s, exit $RC, $(grep -c '^Step ' "$WORK/logs/d-build-$r.out" || true) steps, apt-get: $(grep -Eo '[0-9]+ newly installed' "$WORK/logs/d-build-$r.out" | head -n1 || true), fetched $(grep -Eo 'Fetched [0-9.,]+ [kMG]?B' "$WORK/logs/d-build-$r.out" | awk '{print $2 " " $3}' | paste -sd+ - || true) (lists + .debs), \"$(grep -Eo 'After this operation, .*' "$WORK/logs/d-build-$r.out" | head -n1 || true)\"")
  log "run $r: docker build --no-cache: ${T}s (exit $RC)"
}

for r in $(seq "$RUNS"); do
  if ((r % 2)); then order="mlpack,docker"; run_mlpack "$r"; run_docker "$r"
  else order="docker,mlpack"; run_docker "$r"; run_mlpack "$r"; fi
  RUN_ROWS+=("| $r | $order | ${M_SCAN[-1]} (${M_SCAN_SYS[-1]}) | ${M_PRESENT[-1]} (${M_PRESENT_SYS[-1]}) | ${M_PINNED[-1]} (${M_PINNED_SYS[-1]}) | ${M_RESCAN[-1]} | ${M_WARM[-1]} | $( [[ "$NETWORK" == 1 ]] && echo "${M_NET[-1]} (${M_NET_SYS[-1]})" || echo -) | ${D_BUILD[-1]} |")
done

MS="$(median "${M_SCAN[@]}")"; MP="$(median "${M_PRESENT[@]}")"; MPN="$(median "${M_PINNED[@]}")"
MR="$(median "${M_RESCAN[@]}")"; MW="$(median "${M_WARM[@]}")"; DB="$(median "${D_BUILD[@]}")"
MN="$( ((${#M_NET[@]})) && median "${M_NET[@]}" || echo -)"
MS_SYS="$(median "${M_SCAN_SYS[@]}")"; MP_SYS="$(median "${M_PRESENT_SYS[@]}")"; MPN_SYS="$(median "${M_PINNED_SYS[@]}")"
MN_SYS="$( ((${#M_NET_SYS[@]})) && median "${M_NET_SYS[@]}" || echo -)"
MS_OUT="$(median "${M_SCAN_OUT[@]}")"; MP_OUT="$(median "${M_PRESENT_OUT[@]}")"; MPN_OUT="$(median "${M_PINNED_OUT[@]}")"
MR_OUT="$(median "${M_RESCAN_OUT[@]}")"; MW_OUT="$(median "${M_WARM_OUT[@]}")"
SCAN_PIN="$( [[ "$MR" != - && "$MW" != - ]] && calc '%.3f' "$MR - $MW" || echo -)"

# --- 5. checks and sizes -----------------------------------------------------------------
H1="$WORK/m-scan-1"
set +e
M_RUN_OUT="$(env MLPACK_HOME="$H1" "$MLPACK" run --rm --network none "$M_TAG" python3 -c "$IMPORT_PY" 2>&1)"; M_RUN_RC=$?
set -e
M_IMPORT="$(check_result "$M_RUN_RC" "$M_RUN_OUT")"
D_IMPORT="$(docker_import_check "$D_TAG")"
M_COMPRESSED="$(json_field m-scan-1 '[.layers[].size] | add')"
M_SYS_COMPRESSED="$(json_field m-scan-1 '[.layers[] | select(.description | startswith("system libraries")) | .size] | add // 0')"
M_UNCOMPRESSED=0; M_DOCKER_IMPORT="not checked"; M_LAYER_SIZES="-"
timed m-export env MLPACK_HOME="$H1" "$MLPACK" export "$M_TAG" -o "$WORK/mlpack.tar"
if [[ "$RC" -eq 0 ]] && docker load -i "$WORK/mlpack.tar" >/dev/null; then
  M_UNCOMPRESSED="$(docker image inspect -f '{{.Size}}' "$M_TAG")"
  M_DOCKER_IMPORT="$(docker_import_check "$M_TAG")"
else M_DOCKER_IMPORT="export or load failed: $(errline "$WORK/logs/m-export.err")"; fi
rm -f "$WORK/mlpack.tar"
D_UNCOMPRESSED="$(docker image inspect -f '{{.Size}}' "$D_TAG" 2>/dev/null || echo 0)"
layer_sizes() { docker history --no-trunc --human=false --format '{{.Size}}\t{{.CreatedBy}}' "$1" \
  | awk -F'\t' '$1 > 0 { printf "%s%.1f MB (%s)", sep, $1 / 1e6, substr($2, 1, 50); sep = "; " }'; }
M_LAYER_SIZES="$(layer_sizes "$M_TAG" 2>/dev/null || echo -)"
D_LAYER_SIZES="$(layer_sizes "$D_TAG" 2>/dev/null || echo -)"
D_APT_SIZE="$(docker history --no-trunc --human=false --format '{{.Size}}\t{{.CreatedBy}}' "$D_TAG" 2>/dev/null \
  | awk -F'\t' '$2 ~ /apt-get install/ { print $1; exit }')"
# What apt-get installed in docker's image, against mlpack's pins.
D_APT_LIST="$(docker run --rm --network none "$BASE_TAG" dpkg-query -W -f '${Package}\n' 2>/dev/null | sort -u)"
D_IMG_LIST="$(docker run --rm --network none "$D_TAG" dpkg-query -W -f '${Package}\n' 2>/dev/null | sort -u)"
D_ADDED="$(comm -13 <(echo "$D_APT_LIST") <(echo "$D_IMG_LIST") | sed 's/:amd64$//' | sort -u)"
M_ADDED="$(awk '/^\[\[?[A-Za-z]/ { p = ($0 == "[[system-libraries.packages]]"); next } p && /^name = / { gsub(/"/, "", $3); print $3 }' "$WORK/lock-pinned" | sort -u)"
ONLY_D="$(comm -23 <(echo "$D_ADDED") <(echo "$M_ADDED") | paste -sd' ' -)"
ONLY_M="$(comm -13 <(echo "$D_ADDED") <(echo "$M_ADDED") | paste -sd' ' -)"
D_ADDED_N="$(grep -c . <<<"$D_ADDED" || true)"
# What apt leaves behind in docker's apt-get layer (the lists are removed by the RUN line).
D_APT_CACHE="$(docker run --rm --network none "$D_TAG" sh -c 'du -sm /var/cache/apt /var/cache/apt/archives /var/lib/apt/lists 2>/dev/null' \
  | awk '{ printf "%s%s %s MB", sep, $2, $1; sep = ", " }' || true)"

TRIAL_NOTE=""
if [[ "$TRIAL" == 1 ]]; then
  docker_build d-trial "$D_TRIAL_TAG" "$WORK/ctx-trial"
  if [[ "$RC" -eq 0 ]]; then TRIAL_NOTE="$(docker_import_check "$D_TRIAL_TAG")"
  else TRIAL_NOTE="build failed: $(errline "$WORK/logs/d-trial.err")"; fi
  TRIAL_T="$T"
  # The trial loop, replayed mechanically in one container of that image: import, take the
  # library the error names, apt-get install the package that ships it (looked up in mlpack's
  # answer, where a person would search), import again. It counts the rounds a Docker user
  # goes through (each a rebuild for them); its time is not a person's and is not reported.
  cat >"$WORK/ctx-trial/trial.sh" <<'TRIAL_EOF'
apt-get update -qq >/dev/null 2>&1 || { echo "apt-get update failed"; exit 1; }
rounds=0
while ! err="$(python3 -c 'import cv2, lightgbm' 2>&1)"; do
  lib="$(printf '%s\n' "$err" | sed -n 's/.*[ /]\([^ /:]*\.so[.0-9]*\): cannot open shared object file.*/\1/p' | head -n 1)"
  pkg="$(printf '%s\n' "$MAP" | awk -v l="$lib" '$1 == l { print $2; exit }')"
  if [ -z "$lib" ] || [ -z "$pkg" ] || [ "$rounds" -ge 30 ]; then
    echo "stuck after $rounds rounds: $(printf '%s\n' "$err" | tail -n 1)"; exit 1
  fi
  rounds=$((rounds + 1))
  printf 'round %d: %s -> %s\n' "$rounds" "$lib" "$pkg"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 \
    || { echo "apt-get install $pkg failed"; exit 1; }
done
echo "imports after $rounds rounds"
TRIAL_EOF
  set +e
  TRIAL_OUT="$(docker run --rm --network host "${ADD_HOSTS[@]}" -v "$WORK/ctx-trial/trial.sh:/trial.sh:ro" \
    -e MAP="$(jq -r '.system_libraries[] | "\(.soname) \(.package)"' "$WORK/logs/setup.out")" \
    "$D_TRIAL_TAG" sh /trial.sh 2>&1)"
  set -e
  TRIAL_ROUNDS="$(grep '^round ' <<<"$TRIAL_OUT" | sed 's/^round [0-9]*: //' | paste -sd';' - | sed 's/;/; /g')"
  TRIAL_LOOP="$(tail -n 1 <<<"$TRIAL_OUT")${TRIAL_ROUNDS:+ ($TRIAL_ROUNDS)}"
  log "trial loop: $TRIAL_LOOP"
  docker rmi -f "$D_TRIAL_TAG" >/dev/null 2>&1 || true
  log "docker image without apt-get: $TRIAL_NOTE"
fi
log "imports: mlpack run: $M_IMPORT; docker: $D_IMPORT; mlpack's image in docker: $M_DOCKER_IMPORT"

# --- 6. report ---------------------------------------------------------------------------
echo "### Summary (seconds, wall, median of $RUNS; in parentheses: the system-libraries layer's seconds from the JSON report)"
echo
echo "| build | what is cached | seconds | docker / mlpack |"
echo "|---|---|---:|---:|"
echo "| mlpack, scan + pin, fresh store | download cache warm (wheels, .debs, Debian indexes); empty store; unpinned lock | $MS ($MS_SYS) | $(ratio "$MS" "$DB") |"
echo "| mlpack, scan + pin, base in the store | download cache warm; store holds the base layer only; unpinned lock | $MP ($MP_SYS) | **$(ratio "$MP" "$DB")** |"
echo "| mlpack, pinned (\`--locked\`), fresh store | download cache warm; empty store; pinned lock (no scan) | $MPN ($MPN_SYS) | $(ratio "$MPN" "$DB") |"
[[ "$NETWORK" == 1 ]] && echo "| mlpack, scan + pin, base in the store, nothing downloaded | store holds the base layer only; EMPTY download cache (wheels, .debs, indexes downloaded) | $MN ($MN_SYS) | $(ratio "$MN" "$DB") |"
echo "| docker \`build --no-cache\`, base present | base image imported; nothing else (apt lists, .debs and wheels downloaded) | $DB | 1.00x |"
echo "| mlpack, scan + pin in a warm store (every layer reused) | store and download cache warm; unpinned lock | $MR | |"
echo "| mlpack, warm rebuild, pins reused (\`--locked\`, no scan) | store and download cache warm; pinned lock | $MW | |"
echo "| **scan + pin alone** (the two rows above, difference of the medians) | | **$SCAN_PIN** | |"
echo
echo "- mlpack's seconds outside any layer (JSON \`seconds\` - the layers' seconds: lock checks, the scan + pin, the manifest), medians: scan + pin fresh store $MS_OUT, base in the store $MP_OUT, pinned $MPN_OUT; warm store: scan + pin $MR_OUT, pins reused $MW_OUT"
echo "- every scan + pin rewrote the lock byte for byte as the first build had pinned it: $( ((SAME_LOCK_ALL)) && echo yes || echo "**no**")"
echo "- the Docker user's package names: docker's timed build is given \`$PKGS\`, copied from mlpack's lock. Without mlpack, a Docker user finds them by trial: build, \`import cv2, lightgbm\`, read the \"cannot open shared object file\" error, find the package that ships that file (apt-file, packages.debian.org, a web search), add it to the apt-get line, rebuild, repeat. That loop is not timed here (it times a human)$( [[ -n "$TRIAL_NOTE" ]] && echo "; the first try, the same Dockerfile without the apt-get line (build ${TRIAL_T}s), gives: $TRIAL_NOTE. Replayed mechanically in one container of that image (each error's library looked up in mlpack's answer and apt-get installed, then import again): $TRIAL_LOOP; for a Docker user, each round is a search and a rebuild")"
echo
echo "### Runs (seconds, wall; the system-libraries layer's JSON seconds in parentheses)"
echo
echo "| run | order | mlpack scan+pin, fresh store | mlpack scan+pin, base in store | mlpack pinned, fresh store | mlpack scan+pin, warm store | mlpack warm, pins reused | mlpack scan+pin, base in store, empty cache | docker build --no-cache |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${RUN_ROWS[@]}"
echo
printf '%s\n' "${NOTES[@]}"
echo
echo "### Images"
echo
echo "| image | compressed | uncompressed | \`import cv2, lightgbm\` |"
echo "|---|---:|---:|---|"
echo "| mlpack (\`mlpack run --rm --network none\`) | $(mb "${M_COMPRESSED/-/0}") MB (zstd, sum of the JSON report's layers); system-libraries layer $(mb "${M_SYS_COMPRESSED/-/0}") MB | $(mb "$M_UNCOMPRESSED") MB (\`mlpack export\` + \`docker load\`) | $M_IMPORT |"
echo "| mlpack's, loaded into docker (\`docker run --network none\`) | | | $M_DOCKER_IMPORT |"
echo "| docker (\`docker run --network none\`) | - | $(mb "$D_UNCOMPRESSED") MB (its apt-get layer $(mb "${D_APT_SIZE:-0}") MB) | $D_IMPORT |"
echo
echo "- mlpack's layers (docker history after load): $M_LAYER_SIZES"
echo "- docker's layers: $D_LAYER_SIZES"
echo "- apt's files left in docker's image: ${D_APT_CACHE:-?}"
echo "- Debian packages added on top of the base: mlpack $SYS_N (its lock), docker's apt-get $D_ADDED_N (dpkg-query, image minus base); only in docker's: ${ONLY_D:-none}; only in mlpack's: ${ONLY_M:-none}"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
((FAILED == 0)) || log "some builds failed (see the report)"
