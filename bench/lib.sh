# shellcheck shell=bash disable=SC2034  # the variables set here are read by the scripts
# Setup and helpers shared by the benchmark scripts in bench/. Sourced, not run:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Defines REPO (the repository root), BENCH_SCRIPT (bench/NAME.sh, for messages) and the
# functions below; sets nothing else and starts nothing until a function is called. The
# functions that write logs use $WORK/logs (make_work creates it).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_SCRIPT="bench/$(basename "$0")"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$BENCH_SCRIPT" "$*" >&2; exit 1; }

# --- setup -------------------------------------------------------------------------------
need_bash5() { [[ "${BASH_VERSINFO[0]}" -ge 5 ]] || die "needs bash >= 5 (EPOCHREALTIME)"; }
# need_root WHY: dies unless root ("needs root (WHY)").
need_root() { [[ "$(id -u)" -eq 0 ]] || die "needs root ($1)"; }

# apt_install PACKAGE...: `apt-get install -y` of the packages (the script lists the ones it
# found missing); nothing when there are none.
apt_install() {
  (($#)) || return 0
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2 \
    || die "apt-get install $* failed"
}

# need_tools TOOL...: dies unless every TOOL is a command.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "needs $tool"
  done
}

# start_dockerd NAME: when no docker daemon answers, starts `dockerd --bridge=none
# --iptables=false` (log in /tmp/bench-NAME-dockerd.log) and waits up to 60 s for it;
# sets DOCKERD_PID (empty when a daemon was already there). stop_dockerd, from the script's
# cleanup, stops the one started here.
DOCKERD_PID=""
start_dockerd() {
  local dlog="/tmp/bench-$1-dockerd.log"
  docker info >/dev/null 2>&1 && return 0
  log "starting dockerd --bridge=none --iptables=false"
  dockerd --bridge=none --iptables=false >"$dlog" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not come up (see $dlog)"
}
stop_dockerd() {
  if [[ -n "$DOCKERD_PID" ]]; then kill "$DOCKERD_PID"; wait "$DOCKERD_PID" 2>/dev/null; fi
}

# mlpack_binary stale|always: sets MLPACK, the binary to measure, and MLPACK_GIVEN. With
# MLPACK set (MLPACK_GIVEN=1) it must be an executable and is used as it is. Else it is
# target/release/mlpack, built with `cargo build --release`: with `stale`, only when it is
# missing or older than a file under src/, data/, templates/ or Cargo.toml/Cargo.lock; with
# `always`, whenever cargo is installed (cargo decides what is stale; without cargo the
# binary must exist).
mlpack_binary() {
  MLPACK_GIVEN=0
  if [[ -n "${MLPACK:-}" ]]; then
    [[ -x "$MLPACK" ]] || die "MLPACK=$MLPACK is not an executable"
    MLPACK_GIVEN=1
    return 0
  fi
  MLPACK="$REPO/target/release/mlpack"
  if [[ "$1" == always ]]; then
    command -v cargo >/dev/null || [[ -x "$MLPACK" ]] || die "needs cargo to build mlpack (or set MLPACK)"
    command -v cargo >/dev/null || return 0
  else
    if [[ -x "$MLPACK" ]] && [[ -z "$(find "$REPO/src" "$REPO/data" "$REPO/templates" "$REPO/Cargo.toml" \
        "$REPO/Cargo.lock" -newer "$MLPACK" -print -quit 2>/dev/null)" ]]; then
      return 0
    fi
    command -v cargo >/dev/null || die "needs cargo to build mlpack (or set MLPACK)"
  fi
  log "building mlpack (cargo build --release)"
  (cd "$REPO" && cargo build --release >&2) || die "cargo build --release failed"
}

# make_work NAME: WORK, a new directory ${TMPDIR:-/tmp}/mlpack-NAME-bench.XXXXXX, with logs/.
make_work() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/mlpack-$1-bench.XXXXXX")"
  mkdir -p "$WORK/logs"
}
# remove_work: removes WORK, or keeps it (and says so) with BENCH_KEEP=1.
remove_work() {
  if [[ "${BENCH_KEEP:-}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}

# snapshot_images: notes the docker images there are now ($WORK/images-before), so that
# remove_new_untagged_images can remove the untagged ones our builds leave (intermediate and
# replaced ones): new since the snapshot and dangling. Images another user tagged meanwhile
# are left alone.
snapshot_images() {
  IMAGES_BEFORE="$WORK/images-before"
  docker images -aq --no-trunc | sort -u >"$IMAGES_BEFORE"
}
remove_new_untagged_images() {
  local id
  for id in $(comm -13 "$IMAGES_BEFORE" <(docker images -aq --no-trunc | sort -u)); do
    [[ "$(docker image inspect -f '{{len .RepoTags}}' "$id" 2>/dev/null)" == 0 ]] \
      && docker rmi "$id" >/dev/null 2>&1
  done
  return 0
}

# --- docker's side -----------------------------------------------------------------------
# docker_hosts HOST...: ADD_HOSTS, `--add-host HOST:IP` for each HOST (docker build does not
# read the host's /etc/hosts): the address in /etc/hosts, else the first IPv4 address DNS
# gives. Also checks that the host's CA bundle is there for docker_context.
docker_hosts() {
  local host ip
  ADD_HOSTS=()
  for host in "$@"; do
    ip="$(awk -v h="$host" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == h) { print $1; exit } }' /etc/hosts)"
    [[ -n "$ip" ]] || ip="$(getent ahostsv4 "$host" | awk 'NR == 1 {print $1}')"
    [[ -n "$ip" ]] || die "cannot resolve $host"
    ADD_HOSTS+=(--add-host "$host:$ip")
  done
  [[ -r /etc/ssl/certs/ca-certificates.crt ]] || die "no /etc/ssl/certs/ca-certificates.crt"
}

# make_base SUFFIX TAG: docker's base image: `mmdebstrap --variant=minbase
# --include=python3,python3-pip,ca-certificates bookworm` from $MIRROR (BENCH_MIRROR) into
# $WORK/base.tar, timed as d-mmdebstrapSUFFIX, then `docker import` of it as TAG, timed as
# d-importSUFFIX; sets D_DEB_T, D_IMPORT_T and BASE_TAR_BYTES, removes the tarball. Dies
# when either step fails.
make_base() {
  local suffix="$1" tag="$2"
  rm -f "$WORK/base.tar"
  timed "d-mmdebstrap$suffix" mmdebstrap --variant=minbase --include=python3,python3-pip,ca-certificates \
    bookworm "$WORK/base.tar" "$MIRROR"
  [[ "$RC" -eq 0 ]] || die "mmdebstrap failed: $(errline "$WORK/logs/d-mmdebstrap$suffix.err")"
  D_DEB_T="$T"
  timed "d-import$suffix" docker import "$WORK/base.tar" "$tag"
  [[ "$RC" -eq 0 ]] || die "docker import failed: $(errline "$WORK/logs/d-import$suffix.err")"
  D_IMPORT_T="$T"
  BASE_TAR_BYTES="$(stat -c %s "$WORK/base.tar")"
  rm -f "$WORK/base.tar"
}

# docker_context CTX BASE [LINE]: CTX/bench-ca.crt, a copy of the host's CA bundle (this
# environment's egress goes through a TLS-intercepting proxy), and CTX/Dockerfile:
#     FROM BASE, that bundle trusted (for pip, requests, ssl), LINE (when given),
#     pip install --no-cache-dir --break-system-packages --no-deps --require-hashes of
#     CTX/requirements.txt, WORKDIR /app, COPY app/ /app, CMD ["python3", "train.py"].
docker_context() {
  local ctx="$1" base="$2" line="${3:-}"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/bench-ca.crt"
  {
    echo "FROM $base"
    cat <<'EOF'
# This environment's egress goes through a TLS-intercepting proxy: trust its CA (host bundle).
COPY bench-ca.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1
EOF
    if [[ -n "$line" ]]; then printf '%s\n' "$line"; fi
    cat <<'EOF'
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --break-system-packages --no-deps --require-hashes -r /tmp/requirements.txt
WORKDIR /app
COPY app/ /app
CMD ["python3", "train.py"]
EOF
  } >"$ctx/Dockerfile"
}

# --- timing and numbers ------------------------------------------------------------------
# timed NAME CMD...: runs CMD under /usr/bin/time -v, stdout in $WORK/logs/NAME.out, stderr
# in logs/NAME.err, rusage in logs/NAME.rusage; sets T (wall seconds), T_END (EPOCHREALTIME
# at its exit), RSS (peak RSS in MB) and RC. With TIMED_SYNC=1, `sync` first (not timed);
# with TIMED_STDIN set (e.g. /dev/null), CMD reads that file, else the script's stdin.
timed() {
  local name="$1"; shift
  local start
  if [[ "${TIMED_SYNC:-}" == 1 ]]; then sync; fi
  if [[ -n "${TIMED_STDIN:-}" ]]; then
    start="$EPOCHREALTIME"
    set +e
    /usr/bin/time -v -o "$WORK/logs/$name.rusage" "$@" >"$WORK/logs/$name.out" 2>"$WORK/logs/$name.err" <"$TIMED_STDIN"
    RC=$?
  else
    start="$EPOCHREALTIME"
    set +e
    /usr/bin/time -v -o "$WORK/logs/$name.rusage" "$@" >"$WORK/logs/$name.out" 2>"$WORK/logs/$name.err"
    RC=$?
  fi
  set -e
  T_END="$EPOCHREALTIME"
  T="$(awk -v a="$start" -v b="$T_END" 'BEGIN { printf "%.3f", b - a }')"
  RSS="$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/logs/$name.rusage" 2>/dev/null || true)"
}
# cpu NAME: "user+sys" CPU seconds of timed NAME.
cpu() { awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {printf "%.1f+%.1f", u, s}' "$WORK/logs/$1.rusage"; }
# median VALUE...: the median, "%.3f"; "-" and empty values are left out; "-" when none is left.
median() { printf '%s\n' "$@" | { grep -v '^-\?$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# calc FORMAT EXPRESSION: awk's printf FORMAT of EXPRESSION.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
# mb BYTES: megabytes (1e6), one decimal.
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
# errline FILE: its last non-blank line, at most 300 characters.
errline() { { grep -v '^\s*$' "$1" 2>/dev/null || true; } | tail -n 1 | cut -c1-300; }
# rotate I ITEM...: the items, starting at index I modulo their count.
rotate() { local i="$1"; shift; local n=$#; local items=("$@"); local k
  for ((k = 0; k < n; k++)); do printf '%s\n' "${items[(i + k) % n]}"; done; }

# --- the report's header -----------------------------------------------------------------
# host_facts: MLPACK_VERSION, COMMIT (`git describe` of the repository), CPU (model name)
# and CGROUP (v1 or v2).
host_facts() {
  MLPACK_VERSION="$("$MLPACK" --version)"
  COMMIT="$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
  CPU="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
  CGROUP="$([[ -f /sys/fs/cgroup/cgroup.controllers ]] && echo v2 || echo v1)"
}
# machine: "2 CPUs, <model>, 8 GB RAM, Linux x86_64" (after host_facts).
machine() { echo "$(nproc) CPUs, ${CPU:-unknown CPU}, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(uname -sm)"; }
# mlpack_origin: where MLPACK came from, with the repository's COMMIT (after host_facts).
mlpack_origin() {
  if ((MLPACK_GIVEN)); then echo "given with MLPACK, the repository is at $COMMIT"; else echo "built from the source tree $COMMIT"; fi
}
# docker_versions: "client X, server Y".
docker_versions() { echo "client $(docker version -f '{{.Client.Version}}' 2>/dev/null), server $(docker version -f '{{.Server.Version}}' 2>/dev/null)"; }
