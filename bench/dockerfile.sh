#!/usr/bin/env bash
# Benchmark `mlpack build -f Dockerfile` against `docker build` of the same Dockerfiles.
#
#   bench/dockerfile.sh      # report (markdown) on stdout, progress on stderr
#
# Input: the Dockerfiles of the end-to-end comparison (tests/fixtures/dockerfiles/: a
# multi-stage build, a service with apt-get + pip + a user, a `RUN --mount=type=cache` build,
# and heredocs), copied to a temporary directory, on the same base for both: bookworm's
# Python 3.11 made with mmdebstrap (python3, python3-pip, python3-venv, ca-certificates, the
# host's CA bundle, `python`/`pip` links, no EXTERNALLY-MANAGED; as the tests make it),
# `docker import`ed and pushed to a local `docker-registry` on 127.0.0.1 as
# `library/python:3.11-slim`; the Dockerfiles read it from `--build-arg REGISTRY=HOST:PORT`.
# Docker builds `RUN --mount` with BuildKit (`DOCKER_BUILDKIT=1`, Debian's 20.10 client),
# the others with its legacy builder (Debian's default); it cannot build heredocs (they need
# a `# syntax=` frontend from Docker Hub), so for `heredoc` it builds Dockerfile.docker, the
# same steps without them. Both builders run RUN with the host's network.
#
# Measured, BENCH_RUNS times each (default 3, median; mlpack and docker interleaved,
# alternating which goes first):
#   * cold: the base present for both, as a user has it, and nothing else. mlpack: a new
#     MLPACK_HOME and XDG_CACHE_HOME into which the base was pulled (not timed), then
#     `mlpack build -f`; docker: `docker builder prune -af` (BuildKit's cache and cache
#     mounts; not timed), then `docker build --no-cache`;
#   * cached: the same build again, nothing changed (docker without `--no-cache`).
# Targets (from issue 15): mlpack at least 2x faster cold, at least 5x faster cached.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_FIXTURES (all: "multi-stage service
# cache-mount heredoc"), BENCH_KEEP=1 (keep the work directory), MLPACK (use this binary, do
# not build).
#
# Needs root (mmdebstrap, docker, mlpack's RUN containers). Installs mmdebstrap and
# docker-registry with apt-get when missing, starts `dockerd --bridge=none --iptables=false`
# when no daemon answers (stopped again at the end). The docker base image is kept
# (mlpack-test-python:3.11-slim, the tests' name) for later runs; the images the builds make
# (and those they replaced) are removed. Exits non-zero only when setup fails; a failing build is reported, not fatal.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
FIXTURES="${BENCH_FIXTURES:-multi-stage service cache-mount heredoc}"
BASE=mlpack-test-python:3.11-slim
DOCKER=/usr/bin/docker
need_root "mmdebstrap, docker, mlpack's build containers"
need_bash5
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a whole number >= 1"
missing=()
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v docker-registry >/dev/null || missing+=(docker-registry)
[[ -x /usr/bin/time ]] || missing+=(time)
apt_install "${missing[@]}"
need_tools "$DOCKER" docker-registry mmdebstrap
unset MLPACK_OFFLINE

start_dockerd dockerfile
mlpack_binary always
make_work dockerfile
REGISTRY_PID=""
cleanup() {
  set +e
  local fixture
  for fixture in $FIXTURES; do
    "$DOCKER" rmi "bench-df-$fixture:latest" >/dev/null 2>&1
  done
  [[ -n "${BASE_REF:-}" ]] && "$DOCKER" rmi "$BASE_REF" >/dev/null 2>&1
  [[ -n "$REGISTRY_PID" ]] && kill "$REGISTRY_PID" && wait "$REGISTRY_PID" 2>/dev/null
  # The images each rebuild replaced, and the multi-stage builder stages.
  remove_new_untagged_images
  remove_work
  stop_dockerd
}
snapshot_images
trap cleanup EXIT
log "work directory $WORK"

# The base, made once as the tests make it (tests/it/common/docker.rs), kept for later runs.
if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  log "making $BASE with mmdebstrap"
  # shellcheck disable=SC2016  # $1 is for mmdebstrap's hooks, not this shell
  mmdebstrap --variant=apt --include=python3,python3-pip,python3-venv,ca-certificates \
    --aptopt='APT::Install-Recommends "false"' \
    --customize-hook='ln -s /usr/bin/python3 "$1/usr/local/bin/python"' \
    --customize-hook='ln -s /usr/bin/pip3 "$1/usr/local/bin/pip"' \
    --customize-hook='rm -f "$1/usr/lib/python3.11/EXTERNALLY-MANAGED"' \
    --customize-hook='copy-in /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs' \
    bookworm "$WORK/base.tar" http://deb.debian.org/debian >"$WORK/logs/mmdebstrap.log" 2>&1 \
    || die "mmdebstrap failed: $(errline "$WORK/logs/mmdebstrap.log")"
  "$DOCKER" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$WORK/base.tar" "$BASE" >/dev/null \
    || die "docker import failed"
  rm -f "$WORK/base.tar"
fi

# A registry on a free port of 127.0.0.1 holding the base.
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
YAML
docker-registry serve "$WORK/registry/config.yml" >"$WORK/logs/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
BASE_REF="127.0.0.1:$PORT/library/python:3.11-slim"
"$DOCKER" tag "$BASE" "$BASE_REF"
"$DOCKER" push "$BASE_REF" >"$WORK/logs/push.log" 2>&1 || die "docker push failed: $(errline "$WORK/logs/push.log")"
docker_hosts deb.debian.org pypi.org files.pythonhosted.org

mkdir -p "$WORK/contexts"
cp -r "$REPO/tests/fixtures/dockerfiles/." "$WORK/contexts/"

# mlpack_store FIXTURE RUN: a new store and cache with the base pulled into it (not timed).
mlpack_store() {
  export MLPACK_HOME="$WORK/mlpack-$1-$2/store" XDG_CACHE_HOME="$WORK/mlpack-$1-$2/cache"
  mkdir -p "$MLPACK_HOME" "$XDG_CACHE_HOME"
  "$MLPACK" -q pull "$BASE_REF" >"$WORK/logs/pull-$1-$2.log" 2>&1 \
    || die "mlpack pull failed: $(errline "$WORK/logs/pull-$1-$2.log")"
}
mlpack_build() { # FIXTURE NAME
  timed "$2" "$MLPACK" -q build -f "$WORK/contexts/$1/Dockerfile" --build-arg "REGISTRY=127.0.0.1:$PORT" \
    -t "bench-df-$1:latest" "$WORK/contexts/$1"
}
docker_build() { # FIXTURE NAME [--no-cache]
  local dockerfile=Dockerfile buildkit=0
  [[ "$1" == heredoc ]] && dockerfile=Dockerfile.docker
  [[ "$1" == cache-mount ]] && buildkit=1
  TIMED_STDIN=/dev/null DOCKER_BUILDKIT="$buildkit" timed "$2" "$DOCKER" build ${3:+"$3"} --network host "${ADD_HOSTS[@]}" \
    --build-arg "REGISTRY=127.0.0.1:$PORT" -f "$WORK/contexts/$1/$dockerfile" -t "bench-df-$1:latest" "$WORK/contexts/$1"
}

declare -A COLD CACHED FAILED
for fixture in $FIXTURES; do
  for ((i = 0; i < RUNS; i++)); do
    for tool in $(rotate "$i" mlpack docker); do
      log "$fixture, run $((i + 1))/$RUNS: $tool"
      if [[ "$tool" == mlpack ]]; then
        mlpack_store "$fixture" "$i"
        mlpack_build "$fixture" "m-$fixture-cold-$i"
        [[ "$RC" -eq 0 ]] || { FAILED[$fixture-mlpack]="$(errline "$WORK/logs/m-$fixture-cold-$i.err")"; continue; }
        COLD[$fixture-mlpack]+=" $T"
        mlpack_build "$fixture" "m-$fixture-cached-$i"
        [[ "$RC" -eq 0 ]] && CACHED[$fixture-mlpack]+=" $T"
        rm -rf "$WORK/mlpack-$fixture-$i"
      else
        "$DOCKER" builder prune -af >/dev/null 2>&1 || true
        docker_build "$fixture" "d-$fixture-cold-$i" --no-cache
        [[ "$RC" -eq 0 ]] || { FAILED[$fixture-docker]="$(errline "$WORK/logs/d-$fixture-cold-$i.err")"; continue; }
        COLD[$fixture-docker]+=" $T"
        docker_build "$fixture" "d-$fixture-cached-$i"
        [[ "$RC" -eq 0 ]] && CACHED[$fixture-docker]+=" $T"
      fi
    done
  done
done

host_facts
ratio() { if [[ "$1" == - || "$2" == - ]]; then echo -; else calc '%.1fx' "$2 / $1"; fi; }
# shellcheck disable=SC2086
{
  echo "## \`mlpack build -f Dockerfile\` vs \`docker build\`"
  echo
  echo "$(date -u +%Y-%m-%d), $(machine), cgroup $CGROUP, load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "mlpack $MLPACK_VERSION ($(mlpack_origin)); docker client $("$DOCKER" version -f '{{.Client.Version}}' 2>/dev/null), server $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null) (\`$DOCKER\`)."
  echo "Median of $RUNS runs each, interleaved; RUN with the host's network for both. Cold: base present, nothing else; cached: the same build again."
  echo
  echo "| Dockerfile | cold mlpack (s) | cold docker (s) | docker / mlpack | cached mlpack (s) | cached docker (s) | docker / mlpack |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for fixture in $FIXTURES; do
    cm="$(median ${COLD[$fixture-mlpack]:-})"; cd_="$(median ${COLD[$fixture-docker]:-})"
    km="$(median ${CACHED[$fixture-mlpack]:-})"; kd="$(median ${CACHED[$fixture-docker]:-})"
    echo "| $fixture | $cm | $cd_ | $(ratio "$cm" "$cd_") | $km | $kd | $(ratio "$km" "$kd") |"
  done
  echo
  echo "Targets: cold >= 2.0x, cached >= 5.0x. Docker builds heredoc/Dockerfile.docker (no heredocs) and cache-mount with BuildKit."
  for key in "${!FAILED[@]}"; do
    echo "- FAILED $key: ${FAILED[$key]}"
  done
}
