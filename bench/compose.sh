#!/usr/bin/env bash
# Benchmark `mlpack compose` against `docker-compose` (Debian's package): a three-service
# project brought up until every service is healthy, then taken down.
#
#   bench/compose.sh         # report (markdown) on stdout, progress on stderr
#
# Input: a busybox image made from the host's static busybox (as bench/run.sh makes it),
# `docker import`ed as bench-busybox:latest and loaded into a throwaway MLPACK_HOME with
# `docker save | mlpack load`. Three services, a chain: `a` is healthy once its
# `/tmp/ready` exists, `b` starts when `a` is healthy, `c` when `b` is; each runs
# `touch /tmp/ready; exec sleep 1000` with `healthcheck: test -f /tmp/ready`, interval 0.2 s.
# mlpack's services are on the project's network (`PROJECT_default`, a bridge and a veth per
# container); Docker's own bridge networks are off on this host (dockerd --bridge=none), so
# docker-compose's services use `network_mode: host`, which spares Docker the network setup
# mlpack does.
#
# Measured, BENCH_RUNS times (default 5, median), the two tools interleaved:
#   * up: mlpack `compose up --wait` (returns when all three are healthy); docker-compose
#     `up -d` (it waits for a and b to be healthy before starting their dependents), then
#     polling `docker inspect` every 50 ms until c is healthy;
#   * down: `compose down` of each (containers and, for mlpack, the network).
# Target (from the issue): mlpack at least 3x faster than docker-compose, up plus down.
#
# Knobs (environment): BENCH_RUNS (5), BENCH_KEEP=1 (keep the work directory), MLPACK (use
# this binary, do not build).
#
# Needs root. Installs docker-compose and busybox-static with apt-get when missing, and
# starts `dockerd --bridge=none --iptables=false` when no daemon answers (stopped again at
# the end). Exits non-zero only when setup fails.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-5}"
IMAGE=bench-busybox:latest
need_root "docker, mlpack's networks"
need_bash5
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a whole number >= 1"

missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
[[ -x /usr/bin/busybox || -x /bin/busybox ]] || missing+=(busybox-static)
apt_install "${missing[@]}"
need_tools docker docker-compose tar
BUSYBOX=/usr/bin/busybox
[[ -x "$BUSYBOX" ]] || BUSYBOX=/bin/busybox
unset MLPACK_OFFLINE MLPACK_HOME COMPOSE_PROJECT_NAME

start_dockerd compose
mlpack_binary always
make_work compose
export MLPACK_HOME="$WORK/store"
IMPORTED=0
cleanup() {
  set +e
  (cd "$WORK/docker" 2>/dev/null && docker-compose down -t 1 >/dev/null 2>&1)
  (cd "$WORK/mlpack" 2>/dev/null && "$MLPACK" -q compose down >/dev/null 2>&1)
  ((IMPORTED)) && docker rmi "$IMAGE" >/dev/null 2>&1
  remove_work
  stop_dockerd
}
trap cleanup EXIT

log "work directory $WORK"
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/tmp" "$WORK/mlpack" "$WORK/docker"
cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
while read -r applet; do
  [[ -n "$applet" && "$applet" != busybox ]] && ln -s busybox "$WORK/rootfs/bin/$applet"
done < <("$BUSYBOX" --list)
tar -C "$WORK/rootfs" -c . | docker import -c 'CMD ["sh"]' - "$IMAGE" >/dev/null || die "docker import failed"
IMPORTED=1
docker save "$IMAGE" | "$MLPACK" -q load >/dev/null || die "mlpack load failed"

# compose_file NETWORKING: the three services, with NETWORKING's lines in each.
compose_file() {
  local service dep
  echo "services:"
  for service in a b c; do
    cat <<YAML
  $service:
    image: $IMAGE
    command: ["sh", "-c", "touch /tmp/ready; exec sleep 1000"]
    stop_signal: SIGKILL
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 200ms
      timeout: 5s
      retries: 50
$1
YAML
    case "$service" in b) dep=a ;; c) dep=b ;; *) dep="" ;; esac
    if [[ -n "$dep" ]]; then
      printf '    depends_on:\n      %s:\n        condition: service_healthy\n' "$dep"
    fi
  done
}
# mlpack reads no `stop_signal` (it is not in its list of keys): its copy has none, and
# `down` stops with SIGTERM, which busybox's `sleep` as the command obeys at once.
compose_file "" | grep -v stop_signal >"$WORK/mlpack/compose.yaml"
compose_file "    network_mode: host" >"$WORK/docker/compose.yaml"
printf 'version: "2.4"\n' | cat - "$WORK/docker/compose.yaml" >"$WORK/docker/docker-compose.yml"
rm "$WORK/docker/compose.yaml"

mlpack_up() { (cd "$WORK/mlpack" && "$MLPACK" -q compose -p benchm up --wait); }
mlpack_down() { (cd "$WORK/mlpack" && "$MLPACK" -q compose -p benchm down); }
docker_up() {
  (cd "$WORK/docker" && docker-compose -p benchd up -d >/dev/null 2>&1) || return 1
  local id
  id="$(cd "$WORK/docker" && docker-compose -p benchd ps -q c)"
  until [[ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" == healthy ]]; do sleep 0.05; done
}
docker_down() { (cd "$WORK/docker" && docker-compose -p benchd down -t 1 >/dev/null 2>&1); }

# once TOOL: up then down, timed; appends to UP_TOOL and DOWN_TOOL.
declare -A UPS DOWNS
once() {
  local start mid
  start="$EPOCHREALTIME"
  "$1_up" || die "$1 up failed"
  mid="$EPOCHREALTIME"
  "$1_down" || die "$1 down failed"
  UPS[$1]+=" $(calc '%.3f' "$mid - $start")"
  DOWNS[$1]+=" $(calc '%.3f' "$EPOCHREALTIME - $mid")"
}

log "warm-up (not counted)"
once mlpack; once docker
UPS=(); DOWNS=()
for ((i = 0; i < RUNS; i++)); do
  for tool in $(rotate "$i" mlpack docker); do
    log "run $((i + 1))/$RUNS: $tool"
    once "$tool"
  done
done
left_links="$(ip -o link show | grep -c 'mlpk' || true)"

host_facts
# shellcheck disable=SC2086
{
  m_up="$(median ${UPS[mlpack]})"; m_down="$(median ${DOWNS[mlpack]})"
  d_up="$(median ${UPS[docker]})"; d_down="$(median ${DOWNS[docker]})"
  echo "## \`mlpack compose\` vs docker-compose: three services up to healthy, then down"
  echo
  echo "$(date -u +%Y-%m-%d), $(machine), cgroup $CGROUP, load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "mlpack $MLPACK_VERSION ($(mlpack_origin)); docker-compose $(docker-compose version --short 2>/dev/null), docker $(docker_versions)."
  echo "Median of $RUNS runs each, interleaved. mlpack: project network; docker-compose: \`network_mode: host\`."
  echo
  echo "| | mlpack | docker-compose | docker / mlpack |"
  echo "| --- | ---: | ---: | ---: |"
  echo "| up, all healthy (s) | $m_up | $d_up | $(calc '%.1fx' "$d_up / $m_up") |"
  echo "| down (s) | $m_down | $d_down | $(calc '%.1fx' "$d_down / $m_down") |"
  echo "| up + down (s) | $(calc '%.3f' "$m_up + $m_down") | $(calc '%.3f' "$d_up + $d_down") | $(calc '%.1fx' "($d_up + $d_down) / ($m_up + $m_down)") |"
  echo
  echo "mlpack links left after the runs (\`mlpk*\`): $left_links."
}
