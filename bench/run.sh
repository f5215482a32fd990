#!/usr/bin/env bash
# Benchmark container start latency: `mlpack run` against `docker run` and a bare OCI runtime
# (crun and/or runc), same command, same image.
#
#   bench/run.sh             # report (markdown) on stdout, progress on stderr
#
# Input: a tiny busybox image made from the host's static busybox (/usr/bin/busybox or
# /bin/busybox; Debian's busybox-static): a rootfs with bin/busybox and one symlink per
# `busybox --list` applet, `docker import`ed as bench-busybox:latest. mlpack has no import or
# load command, but its store is an OCI image layout, so the same image goes into a throwaway
# MLPACK_HOME with `skopeo copy docker-daemon:bench-busybox:latest oci:$MLPACK_HOME:...`
# (skopeo writes the `org.opencontainers.image.ref.name` annotation mlpack resolves names
# by). The bare runtimes get an OCI bundle: a copy of the same rootfs and the runtime's own
# `spec` with process.args = ["true"] and no terminal (its default namespaces: pid, network,
# ipc, uts, mount; so no network, like `--network none`).
#
# Measured, each tool running `true` in a new container that is removed when it exits:
#   * mlpack: `mlpack run --rm bench-busybox:latest true` (host network, mlpack's default)
#     and with `--network none`;
#   * docker: `docker run --rm --network none bench-busybox:latest true` (the default bridge
#     is not available on this host);
#   * crun / runc, where installed: `RUNTIME run --bundle DIR ID` (foreground; the runtime
#     deletes the container when `true` exits), a new ID each run.
# Single-run latency: wall time of the client process (time.perf_counter around
# subprocess.run, stdin/stdout to /dev/null, stderr captured), BENCH_RUNS runs per tool
# after BENCH_WARMUP warm-up runs each (not counted; mlpack's first run unpacks the image's
# layer). The tools are interleaved, one run of each per iteration, and the tool that goes
# first rotates each iteration, so that a busy machine (or docker's asynchronous cleanup)
# hurts all alike. Reported: median, p90 (nearest rank), min, max, and median / mlpack's
# median. Then throughput: BENCH_SEQ containers in sequence per tool, total wall time.
# Any failing run is reported (with its last stderr line) and not counted.
#
# Targets (from the issue): `mlpack run` median <= 50 ms, and >= 5x faster than `docker run`
# (docker's median / mlpack's median; computed for both mlpack rows).
#
# Knobs (environment): BENCH_RUNS (50), BENCH_WARMUP (3), BENCH_SEQ (100),
# BENCH_KEEP=1 (keep the work directory), MLPACK (use this binary, do not build).
#
# Needs root (docker, runc, mlpack's runtime as root). Installs skopeo and busybox-static
# with apt-get when missing, and starts `dockerd --bridge=none --iptables=false` when no
# daemon answers (stopped again at the end). Removes bench-busybox:latest from docker at the
# end. Exits non-zero only when setup fails; failing runs are reported, not fatal.
# That setup is bench/lib.sh's, shared with the other benchmarks.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-50}"
WARMUP="${BENCH_WARMUP:-3}"
SEQ="${BENCH_SEQ:-100}"
IMAGE=bench-busybox:latest

need_root "docker, runc, mlpack run"
for n in "$RUNS" "$WARMUP" "$SEQ"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "BENCH_RUNS, BENCH_WARMUP and BENCH_SEQ must be whole numbers"
done
((RUNS > 0)) || die "BENCH_RUNS must be at least 1"

# --- 1. tools ----------------------------------------------------------------------------
missing=()
command -v skopeo >/dev/null || missing+=(skopeo)
[[ -x /usr/bin/busybox || -x /bin/busybox ]] || missing+=(busybox-static)
apt_install "${missing[@]}"
need_tools docker python3 skopeo tar
BUSYBOX=/usr/bin/busybox
[[ -x "$BUSYBOX" ]] || BUSYBOX=/bin/busybox
ldd_out="$(LC_ALL=C ldd "$BUSYBOX" 2>&1 || true)"
[[ "$ldd_out" == *"not a dynamic executable"* || "$ldd_out" == *"statically linked"* ]] \
  || die "$BUSYBOX is not statically linked (install busybox-static)"

# Settings that would change what mlpack does.
unset MLPACK_OFFLINE MLPACK_HOME

start_dockerd run
mlpack_binary always

# The bare OCI runtimes installed here (crun is not installed by default; runc comes with
# docker.io).
RUNTIMES=()
for rt in crun runc; do
  command -v "$rt" >/dev/null && RUNTIMES+=("$rt")
done

make_work run
HOME_DIR="$WORK/home"
IMPORTED=0
cleanup() {
  set +e
  ((IMPORTED)) && docker rmi "$IMAGE" >/dev/null 2>&1
  remove_work
  stop_dockerd
}
trap cleanup EXIT

# --- 2. the image ------------------------------------------------------------------------
log "work directory $WORK"
mkdir -p "$WORK/rootfs/bin"
cp "$BUSYBOX" "$WORK/rootfs/bin/busybox"
APPLETS=0
while read -r applet; do
  [[ -n "$applet" && "$applet" != busybox ]] || continue
  ln -s busybox "$WORK/rootfs/bin/$applet"
  APPLETS=$((APPLETS + 1))
done < <("$BUSYBOX" --list)
log "docker import $IMAGE ($APPLETS applets)"
tar -C "$WORK/rootfs" -c . | docker import - "$IMAGE" >/dev/null || die "docker import failed"
IMPORTED=1

log "skopeo copy into a throwaway MLPACK_HOME"
MLPACK_HOME="$HOME_DIR" "$MLPACK" -q images >/dev/null || die "mlpack images (creating the store) failed"
skopeo copy -q "docker-daemon:$IMAGE" "oci:$HOME_DIR:$IMAGE" >&2 || die "skopeo copy failed"
# The first run unpacks the layer: timed once, apart from the measurements.
start="$EPOCHREALTIME"
MLPACK_HOME="$HOME_DIR" "$MLPACK" run --rm "$IMAGE" true </dev/null \
  || die "MLPACK_HOME=$HOME_DIR $MLPACK run --rm $IMAGE true failed"
FIRST_MS="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
out="$(MLPACK_HOME="$HOME_DIR" "$MLPACK" run --rm "$IMAGE" echo bench-ok </dev/null)" \
  || die "mlpack run ... echo failed"
[[ "$out" == bench-ok ]] || die "mlpack run ... echo bench-ok printed '$out'"
rc=0; MLPACK_HOME="$HOME_DIR" "$MLPACK" run --rm "$IMAGE" false </dev/null || rc=$?
[[ $rc -eq 1 ]] || die "mlpack run ... false exited $rc, not 1"

# The bundles: a copy of the rootfs and the runtime's default spec running `true`.
RUNTIME_VERSIONS=()
for rt in "${RUNTIMES[@]}"; do
  mkdir -p "$WORK/bundle-$rt"
  cp -a "$WORK/rootfs" "$WORK/bundle-$rt/rootfs"
  (cd "$WORK/bundle-$rt" && "$rt" spec) || die "$rt spec failed"
  python3 - "$WORK/bundle-$rt/config.json" <<'PY' || die "editing $rt's config.json failed"
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["process"]["args"] = ["true"]
config["process"]["terminal"] = False
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY
  "$rt" run --bundle "$WORK/bundle-$rt" "mlpack-bench-$$-check" </dev/null || die "$rt run failed"
  RUNTIME_VERSIONS+=("$rt $("$rt" --version | head -n1 | awk '{print $NF}')")
done

# --- 3. the header -----------------------------------------------------------------------
host_facts
DOCKER_V="$(docker_versions), runtime $(docker info -f '{{.DefaultRuntime}}' 2>/dev/null) $(docker info -f '{{.RuncCommit.ID}}' 2>/dev/null)"
echo "# mlpack run benchmark (container start latency)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(machine), kernel $(uname -r), cgroup $CGROUP"
echo "- mlpack: $MLPACK_VERSION ($MLPACK; source tree $COMMIT)"
echo "- docker: $DOCKER_V"
if ((${#RUNTIMES[@]})); then
  joined="$(printf '%s, ' "${RUNTIME_VERSIONS[@]}")"
  echo "- bare runtimes: ${joined%, }"
else
  echo "- bare runtimes: none installed (no crun, no runc)"
fi
echo "- image: $IMAGE, static busybox ($("$BUSYBOX" 2>&1 | head -n1 | awk '{print $2}'), $APPLETS applet symlinks), $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1 / 1e6}') uncompressed"
echo "- mlpack's first run of the image (unpacks its layer; not counted below): $FIRST_MS ms"
echo "- runs: $RUNS per tool after $WARMUP warm-up runs each, interleaved (the first tool rotates per iteration); then $SEQ in sequence per tool"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- 4. the measurements -----------------------------------------------------------------
# Tools for the driver: LABEL, then the command, then ";;". "{n}" becomes a unique number.
TOOLS=(
  "mlpack run --rm" env MLPACK_HOME="$HOME_DIR" "$MLPACK" run --rm "$IMAGE" true ";;"
  "mlpack run --rm --network none" env MLPACK_HOME="$HOME_DIR" "$MLPACK" run --rm --network none "$IMAGE" true ";;"
  "docker run --rm --network none" docker run --rm --network none "$IMAGE" true ";;"
)
for rt in "${RUNTIMES[@]}"; do
  TOOLS+=("$rt run ($("$rt" --version | head -n1 | awk '{print $NF}'))" "$rt" run --bundle "$WORK/bundle-$rt" "mlpack-bench-$$-{n}" ";;")
done

cat >"$WORK/driver.py" <<'PY'
"""Times container starts; prints the results section of the report (markdown) on stdout."""
import math
import os
import statistics
import subprocess
import sys
import time

runs, warmup, seq = (int(os.environ[k]) for k in ("RUNS", "WARMUP", "SEQ"))
tools, current = [], None
for arg in sys.argv[1:]:
    if current is None:
        current = {"label": arg, "argv": [], "times": [], "failures": []}
    elif arg == ";;":
        tools.append(current)
        current = None
    else:
        current["argv"].append(arg)
counter = 0


def run(tool):
    """Runs the tool once: (seconds, None) or (seconds, 'exit N: last stderr line')."""
    global counter
    counter += 1
    argv = [a.replace("{n}", str(counter)) for a in tool["argv"]]
    start = time.perf_counter()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if proc.returncode == 0:
        return seconds, None
    lines = [l for l in proc.stderr.decode(errors="replace").splitlines() if l.strip()]
    return seconds, f"exit {proc.returncode}: {(lines or [''])[-1][:200]}"


def p90(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


for tool in tools:
    for _ in range(warmup):
        _, error = run(tool)
        if error:
            print(f"==> warm-up of {tool['label']} failed ({error})", file=sys.stderr)

for i in range(runs):
    for k in range(len(tools)):
        tool = tools[(i + k) % len(tools)]
        seconds, error = run(tool)
        if error:
            tool["failures"].append(error)
        else:
            tool["times"].append(seconds)
    if (i + 1) % 10 == 0 or i + 1 == runs:
        print(f"==> {i + 1}/{runs} iterations", file=sys.stderr)

for tool in tools:
    print(f"==> {seq} in sequence: {tool['label']}", file=sys.stderr)
    time.sleep(1)  # let the previous tool's background cleanup settle
    failed = 0
    start = time.perf_counter()
    for _ in range(seq):
        _, error = run(tool)
        failed += error is not None
    tool["seq_total"] = time.perf_counter() - start
    tool["seq_failed"] = failed

ms = lambda s: f"{s * 1000:.1f}"
base = tools[0]
base_median = statistics.median(base["times"]) if base["times"] else None
print(f"### Single-run latency (ms, wall time of the client process; {runs} runs each)")
print()
print("| tool | median | p90 | min | max | median / mlpack's | failed runs |")
print("|---|---:|---:|---:|---:|---:|---:|")
for tool in tools:
    t = tool["times"]
    if not t:
        print(f"| `{tool['label']}` | - | - | - | - | - | {len(tool['failures'])} |")
        continue
    ratio = f"{statistics.median(t) / base_median:.2f}x" if base_median else "-"
    print(f"| `{tool['label']}` | {ms(statistics.median(t))} | {ms(p90(t))} | {ms(min(t))} "
          f"| {ms(max(t))} | {ratio} | {len(tool['failures'])} |")
print()
print(f"### {seq} containers in sequence (one tool at a time)")
print()
print("| tool | total s | per container ms | containers/s | total / mlpack's | failed runs |")
print("|---|---:|---:|---:|---:|---:|")
for tool in tools:
    total = tool["seq_total"]
    per = total / seq if seq else 0
    rate = f"{seq / total:.1f}" if total else "-"
    ratio = f"{total / base['seq_total']:.2f}x" if base["seq_total"] else "-"
    print(f"| `{tool['label']}` | {total:.2f} | {ms(per)} | {rate} | {ratio} | {tool['seq_failed']} |")
print()
for tool in tools:
    if tool["failures"]:
        print(f"- `{tool['label']}`: {len(tool['failures'])} failed runs; last: {tool['failures'][-1]}")

# Targets: mlpack's median <= 50 ms; docker's median / mlpack's >= 5x (both mlpack rows).
mlpacks = [t for t in tools if t["label"].startswith("mlpack") and t["times"]]
docker = next((t for t in tools if t["label"].startswith("docker") and t["times"]), None)
print("### Targets")
print()
print("| target (from the issue) | measured | result |")
print("|---|---|---|")
if mlpacks and len(mlpacks) == 2 and not any(t["failures"] for t in mlpacks):
    medians = [statistics.median(t["times"]) for t in mlpacks]
    measured = "; ".join(f"`{t['label']}` {ms(m)} ms" for t, m in zip(mlpacks, medians))
    ok = all(m <= 0.050 for m in medians)
    print(f"| `mlpack run` median <= 50 ms | {measured} | {'MET' if ok else '**MISSED**'} |")
    if docker:
        dmed = statistics.median(docker["times"])
        ratios = [dmed / m for m in medians]
        measured = "; ".join(f"{r:.1f}x vs `{t['label']}`" for t, r in zip(mlpacks, ratios))
        ok = all(r >= 5 for r in ratios)
        print(f"| >= 5x faster than `docker run` (docker's median {ms(dmed)} ms) | {measured} "
              f"| {'MET' if ok else '**MISSED**'} |")
    else:
        print("| >= 5x faster than `docker run` | docker failed every run | - |")
else:
    print("| `mlpack run` median <= 50 ms | mlpack runs failed (see above) | **MISSED** |")
    print("| >= 5x faster than `docker run` | mlpack runs failed | **MISSED** |")
PY

log "measuring: $RUNS runs x ${#RUNTIMES[@]}+3 tools, then $SEQ in sequence each"
(cd "$WORK" && RUNS="$RUNS" WARMUP="$WARMUP" SEQ="$SEQ" python3 "$WORK/driver.py" "${TOOLS[@]}") \
  || die "the driver failed"

# --- 5. leftovers --------------------------------------------------------------------------
echo
left_mlpack="$(MLPACK_HOME="$HOME_DIR" "$MLPACK" ps -a -q 2>/dev/null | grep -c . || true)"
left_mounts="$(grep -c -- "$WORK" /proc/mounts || true)"
left_docker="$(docker ps -a -q --filter "ancestor=$IMAGE" | grep -c . || true)"
left_rt=""
for rt in "${RUNTIMES[@]}"; do
  left_rt+=", $rt $("$rt" list -q 2>/dev/null | grep -c "^mlpack-bench-$$-" || true)"
done
echo "- left behind after the runs: mlpack containers $left_mlpack, mounts under the work directory $left_mounts, docker containers $left_docker$left_rt"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
