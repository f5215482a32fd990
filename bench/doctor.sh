#!/usr/bin/env bash
# Benchmark `mlpack doctor`'s store check (every blob re-hashed) against what a user would
# otherwise run to check a content-addressed store: GNU `sha256sum` over the blob files, one
# process and one per core (`xargs -P`).
#
#   bench/doctor.sh          # report (markdown) on stdout, progress on stderr
#
# Input: a throwaway store (MLPACK_HOME) holding the images of examples/ml/iris-sklearn and,
# unless BENCH_TORCH=0, examples/ml/mnist-torch (about 3 GB of layers: torch and the NVIDIA
# wheels), built by mlpack from their locks (the base pinned on the way where the lock lacks it). Downloads go to BENCH_CACHE (default
# target/bench-cache) so a second run fetches nothing.
#
# Measured, BENCH_RUNS times each (default 3), tools interleaved:
#   * mlpack: `mlpack doctor --json` (all checks; the store check dominates), wall time;
#   * sha256sum: `sha256sum blobs/sha256/*` (one process), and
#     `find blobs/sha256 -type f | xargs -P $(nproc) -n 4 sha256sum`;
# each twice: warm (files in the page cache) and cold (`echo 3 > /proc/sys/vm/drop_caches`
# before the run; needs root, else skipped). Reported: median seconds, throughput, and each
# baseline's median / mlpack's median.
#
# Knobs: BENCH_RUNS (3), BENCH_TORCH (1), BENCH_CACHE, BENCH_KEEP=1 (keep the store),
# MLPACK (use this binary, do not build).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${BENCH_RUNS:-3}"
CACHE="${BENCH_CACHE:-$PWD/target/bench-cache}"
log() { printf '==> %s\n' "$*" >&2; }

if [[ -z "${MLPACK:-}" ]]; then
  log "cargo build --release"
  cargo build --release --quiet
  MLPACK="$PWD/target/release/mlpack"
fi
work=$(mktemp -d)
[[ "${BENCH_KEEP:-0}" == 1 ]] || trap 'rm -rf "$work"' EXIT
export MLPACK_HOME="$work/store" XDG_CACHE_HOME="$CACHE"
unset MLPACK_OFFLINE

examples=(iris-sklearn)
[[ "${BENCH_TORCH:-1}" == 1 ]] && examples+=(mnist-torch)
for example in "${examples[@]}"; do
  cp -r "examples/ml/$example" "$work/$example"
  log "mlpack build $example"
  "$MLPACK" build "$work/$example" -q >&2
done
blobs="$MLPACK_HOME/blobs/sha256"
count=$(find "$blobs" -type f | wc -l)
bytes=$(du -sb "$blobs" | cut -f1)
log "$count blobs, $bytes bytes"

can_drop=0
[[ "$(id -u)" == 0 && -w /proc/sys/vm/drop_caches ]] && can_drop=1

# seconds for one run of "$@", stdout and stderr discarded; a failure stops the benchmark.
timed() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { log "failed: $*"; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
mlpack_doctor() { "$MLPACK" doctor --json; }
sha_one() { sha256sum "$blobs"/* ; }
sha_parallel() { find "$blobs" -type f -print0 | xargs -0 -P "$(nproc)" -n 4 sha256sum; }

declare -A times
for mode in warm cold; do
  [[ "$mode" == cold && "$can_drop" == 0 ]] && continue
  mlpack_doctor >/dev/null 2>&1 || true # warms the page cache for the warm runs
  for ((run = 1; run <= RUNS; run++)); do
    for tool in mlpack_doctor sha_one sha_parallel; do
      [[ "$mode" == cold ]] && { sync; echo 3 >/proc/sys/vm/drop_caches; }
      seconds=$(timed "$tool")
      times[$mode,$tool]+="$seconds "
      log "$mode $tool run $run: ${seconds}s"
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "## doctor (bench/doctor.sh)"
echo
echo "Store: $count blobs, $((bytes / 1048576)) MiB ($(IFS=,; echo "${examples[*]}")); $(nproc) cores; $RUNS runs each, median."
echo
echo "| mode | tool | seconds | MiB/s | vs mlpack |"
echo "| --- | --- | ---: | ---: | ---: |"
for mode in warm cold; do
  [[ -n "${times[$mode,mlpack_doctor]:-}" ]] || continue
  base=$(echo "${times[$mode,mlpack_doctor]}" | median)
  for tool in mlpack_doctor sha_one sha_parallel; do
    m=$(echo "${times[$mode,$tool]}" | median)
    printf '| %s | %s | %.2f | %.0f | %.2fx |\n' "$mode" "$tool" "$m" \
      "$(echo "$bytes / 1048576 / $m" | bc -l)" "$(echo "$m / $base" | bc -l)"
  done
done
