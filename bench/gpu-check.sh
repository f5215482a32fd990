#!/usr/bin/env bash
# mlpack's GPU path on a real NVIDIA machine, in one short run.
#
#   bench/gpu-check.sh prepare   # here, with network: build the binary and a small image
#   bench/gpu-check.sh run       # on the GPU machine (x86_64, NVIDIA driver, root)
#
# `prepare` writes target/gpu-check/: `mlpack` (a stripped release build, about 19 MB) and
# `image.tar.zst` (`mlpack export` of a project with no Python packages, Debian bookworm +
# python3, as a zstd-compressed docker-archive: about 26 MB), together well under the 64 MiB
# a GPU session takes along. Carry that directory.
#
# `run` needs nothing else and no network:
#   1. loads the image into a throwaway store (MLPACK_HOME);
#   2. `mlpack run --rm --gpus all` of a Python program that loads the host's `libcuda.so.1`
#      (bound in by mlpack from CDI specs or the linker cache) through ctypes, calls `cuInit`,
#      `cuDeviceGetCount` and `cuDeviceGetName`, and prints the GPU count and names;
#   3. commits a copy of the image whose labels ask for a CUDA release newer than the host's
#      driver runs (`13.0` below driver 580, which NVIDIA's table says needs 580.65.06; on a
#      580+ driver `14.0` with a `dev.mlpack.cuda.driver-min` label above the host's) and
#      checks that `mlpack run --gpus all` refuses it with the compatibility error, exit 125.
# Prints each step's output and `gpu-check: PASS` (exit 0) or `gpu-check: FAIL: why` (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/gpu-check

prepare() {
    cargo build --release --quiet
    mkdir -p "$dir"
    cp target/release/mlpack "$dir/mlpack"
    strip "$dir/mlpack" 2>/dev/null || true
    local project
    project=$(mktemp -d)
    trap 'rm -rf "$project"' RETURN
    printf '[project]\nname = "gpu-check"\n\n[python]\nrequirements = []\n' >"$project/mlpack.toml"
    printf 'print("gpu-check")\n' >"$project/main.py"
    "$dir/mlpack" build "$project" -t gpu-check:latest --compression gzip
    "$dir/mlpack" export gpu-check:latest -o "$dir/image.tar"
    zstd -q -19 -T0 --rm -f "$dir/image.tar"
    ls -l "$dir"
}

fail() {
    echo "gpu-check: FAIL: $*"
    exit 1
}

run() {
    [ "$(uname -m)" = x86_64 ] || fail "not an x86_64 machine"
    [ -x "$dir/mlpack" ] && [ -f "$dir/image.tar.zst" ] || fail "run \`$0 prepare\` first"
    local mlpack store
    mlpack="$PWD/$dir/mlpack"
    store=$(mktemp -d)
    trap 'rm -rf "$store"' EXIT
    export MLPACK_HOME="$store/store" XDG_CACHE_HOME="$store/cache"

    echo "--- host"
    uname -r
    cat /sys/module/nvidia/version 2>/dev/null || head -1 /proc/driver/nvidia/version 2>/dev/null ||
        fail "no NVIDIA driver on this host"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true

    echo "--- load"
    "$mlpack" load -i "$dir/image.tar.zst"

    echo "--- mlpack run --gpus all (cuInit, cuDeviceGetCount, cuDeviceGetName)"
    local output
    output=$("$mlpack" run --rm --gpus all gpu-check:latest python3 -c '
import ctypes
cuda = ctypes.CDLL("libcuda.so.1")
status = cuda.cuInit(0)
assert status == 0, f"cuInit returned {status}"
count = ctypes.c_int()
assert cuda.cuDeviceGetCount(ctypes.byref(count)) == 0
version = ctypes.c_int()
cuda.cuDriverGetVersion(ctypes.byref(version))
print(f"driver API CUDA {version.value // 1000}.{version.value % 1000 // 10}")
for index in range(count.value):
    device = ctypes.c_int()
    cuda.cuDeviceGet(ctypes.byref(device), index)
    name = ctypes.create_string_buffer(256)
    cuda.cuDeviceGetName(name, 256, device)
    print(f"GPU {index}: {name.value.decode()}")
print(f"GPU count: {count.value}")
' 2>&1) || fail "mlpack run --gpus all failed: $output"
    echo "$output"
    grep -q '^GPU count: [1-9]' <<<"$output" || fail "no GPU seen in the container"

    echo "--- an image that needs a newer CUDA than the driver runs"
    local driver major changes
    driver=$(cat /sys/module/nvidia/version 2>/dev/null ||
        nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
    major=${driver%%.*}
    if [ "$major" -lt 580 ]; then
        changes=(--change 'LABEL dev.mlpack.cuda=13.0')
    else
        changes=(--change "LABEL dev.mlpack.cuda=14.0 dev.mlpack.cuda.driver-min=$((major + 100)).0")
    fi
    "$mlpack" run --name gpu-check-base gpu-check:latest true
    "$mlpack" commit "${changes[@]}" gpu-check-base gpu-check:newer-cuda >/dev/null
    "$mlpack" rm gpu-check-base >/dev/null
    local status=0
    output=$("$mlpack" run --rm --gpus all gpu-check:newer-cuda true 2>&1) || status=$?
    echo "$output"
    echo "exit status: $status"
    [ "$status" = 125 ] || fail "expected exit 125, got $status"
    grep -q "which needs NVIDIA driver .* or newer; this host has $driver" <<<"$output" ||
        fail "the refusal does not give the compatibility error"
    echo "gpu-check: PASS"
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*)
    echo "usage: $0 prepare|run" >&2
    exit 2
    ;;
esac
