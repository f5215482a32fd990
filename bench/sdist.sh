#!/usr/bin/env bash
# Benchmark building sdists into wheels: `mlpack build` (each sdist in mlpack's runtime, no
# network) against `pip wheel` and `uv pip install` of the same sdists.
#
#   sudo bench/sdist.sh      # report on stdout, progress on stderr
#
# Input: a project whose requirements are packages with only an sdist on PyPI (BENCH_SDISTS,
# default docopt, promise, antlr4-python3-runtime 4.9.3, crcmod 1.7 with its C extension,
# fvcore), locked and built once by mlpack so that the base image, the Debian toolchain, the
# build environment's wheels and the sdists themselves are in its cache.
#
# Cold: every tool builds every sdist, with the downloads already local:
#   * mlpack: `mlpack build` after deleting its cache of built wheels (sdist-wheels-v1); the
#     layers are cached, so the time is the builds plus a warm build's bookkeeping;
#   * pip: `pip wheel --no-deps --no-index --find-links DIR --no-cache-dir` with the sdists
#     and setuptools downloaded to DIR beforehand (each build still makes its isolated
#     environment, as pip does);
#   * uv: `uv pip install --no-deps --no-binary NAME… --no-index --find-links DIR --target T`
#     with a fresh UV_CACHE_DIR each run (`--no-binary :all:` would refuse setuptools' wheel
#     for the build environment too).
# Warm: `mlpack build` again, every wheel from mlpack's cache (target: under 1 s for the
# sdists, the whole build measured).
# Each figure is the median of BENCH_RUNS runs (default 3), the tools interleaved.
#
# Knobs: BENCH_SDISTS, BENCH_RUNS, BENCH_KEEP=1 (keep the work directory), MLPACK (use this
# binary, do not build). Needs root (mlpack's runtime), python3 with pip, and uv (pip
# installs it into a throwaway virtualenv when it is missing).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SDISTS="${BENCH_SDISTS:-docopt==0.6.2 promise==2.3 antlr4-python3-runtime==4.9.3 crcmod==1.7 fvcore==0.1.5.post20221221}"
RUNS="${BENCH_RUNS:-3}"

need_root "mlpack builds sdists in its runtime"
need_tools python3 awk
need_bash5
make_work sdist
trap remove_work EXIT
mlpack_binary stale
host_facts

export XDG_CACHE_HOME="$WORK/cache" MLPACK_HOME="$WORK/store"
unset MLPACK_OFFLINE MLPACK_EXCLUDE_NEWER PIP_NO_INDEX PIP_FIND_LINKS UV_NO_CACHE UV_OFFLINE

log "tools: a virtualenv with pip and uv"
python3 -m venv "$WORK/venv" >&2
"$WORK/venv/bin/pip" install --quiet --upgrade pip uv >&2
PIP="$WORK/venv/bin/pip"
UV="$WORK/venv/bin/uv"

log "downloads: the sdists and setuptools for pip and uv"
read -r -a SPECS <<<"$SDISTS"
NO_BINARY=()
for spec in "${SPECS[@]}"; do NO_BINARY+=(--no-binary "${spec%%[=<>!~]*}"); done
"$PIP" download --quiet --no-deps --no-binary :all: -d "$WORK/dists" "${SPECS[@]}" >&2
"$PIP" download --quiet --no-deps -d "$WORK/dists" setuptools wheel >&2

log "mlpack: lock and a first build (fills the caches)"
mkdir -p "$WORK/project"
{
  printf '[project]\nname = "sdists"\n[python]\nversion = "3.11"\nrequirements = ['
  printf '"%s", ' "${SPECS[@]}"
  printf ']\n'
} >"$WORK/project/mlpack.toml"
(cd "$WORK/project" && "$MLPACK" build >&2) || die "the first mlpack build failed"

declare -a MLPACK_COLD=() MLPACK_WARM=() PIP_COLD=() UV_COLD=()
for ((run = 1; run <= RUNS; run++)); do
  log "run $run/$RUNS"
  rm -rf "$XDG_CACHE_HOME/mlpack/sdist-wheels-v1"
  timed "mlpack-cold-$run" "$MLPACK" -C "$WORK/project" build
  ((RC == 0)) || die "mlpack build failed: $(errline "$WORK/logs/mlpack-cold-$run.err")"
  MLPACK_COLD+=("$T")
  timed "mlpack-warm-$run" "$MLPACK" -C "$WORK/project" build
  ((RC == 0)) || die "mlpack build (warm) failed: $(errline "$WORK/logs/mlpack-warm-$run.err")"
  grep -q "(built in" "$WORK/logs/mlpack-warm-$run.err" && die "the warm build rebuilt an sdist"
  MLPACK_WARM+=("$T")
  rm -rf "$WORK/pip-out"
  timed "pip-$run" "$PIP" wheel --no-deps --no-index --find-links "$WORK/dists" --no-cache-dir \
    -w "$WORK/pip-out" "${SPECS[@]}"
  ((RC == 0)) || die "pip wheel failed: $(errline "$WORK/logs/pip-$run.err")"
  PIP_COLD+=("$T")
  rm -rf "$WORK/uv-cache" "$WORK/uv-target"
  timed "uv-$run" env UV_CACHE_DIR="$WORK/uv-cache" "$UV" pip install --no-deps "${NO_BINARY[@]}" \
    --no-index --find-links "$WORK/dists" --target "$WORK/uv-target" -p python3 "${SPECS[@]}"
  ((RC == 0)) || die "uv failed: $(errline "$WORK/logs/uv-$run.err")"
  UV_COLD+=("$T")
done

MC="$(median "${MLPACK_COLD[@]}")"; MW="$(median "${MLPACK_WARM[@]}")"
PC="$(median "${PIP_COLD[@]}")"; UC="$(median "${UV_COLD[@]}")"
cat <<EOF
# bench/sdist.sh — $(date -u +%Y-%m-%dT%H:%M:%SZ)
machine: $(machine)
mlpack: $MLPACK_VERSION ($(mlpack_origin)); pip $("$PIP" --version | awk '{print $2}'); $("$UV" --version)
sdists: $SDISTS
runs: $RUNS (median)

| what | mlpack build | pip wheel | uv pip install | pip / mlpack | uv / mlpack |
| --- | --- | --- | --- | --- | --- |
| cold: every sdist built | ${MC}s | ${PC}s | ${UC}s | $(calc "%.2fx" "$PC / $MC") | $(calc "%.2fx" "$UC / $MC") |
| warm: built wheels cached (whole build) | ${MW}s | - | - | - | - |

mlpack's last cold build, per sdist:
$(grep '^Sdist' "$WORK/logs/mlpack-cold-$RUNS.err" | sed 's/^/  /')
EOF
