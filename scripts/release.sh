#!/usr/bin/env bash
# Build static (musl) `mlpack` binaries that run on any Linux of their architecture, with no
# Rust toolchain and no libc on the user's side, for scripts/install.sh to download.
#
#   scripts/release.sh [--target x86_64|aarch64|all] [--out DIR]
#
# One toolchain for both targets: `cargo zigbuild` (Zig as the C compiler and linker, so the C
# code of zstd-sys, liblzma-sys, libmimalloc-sys and aws-lc-sys builds against musl without
# Debian's cross compilers). Needs: `rustup target add <arch>-unknown-linux-musl`,
# `pip install ziglang cargo-zigbuild`, and readelf (binutils) for the static check.
#
# Writes DIR/mlpack-<version>-<arch>-unknown-linux-musl, DIR/SHA256SUMS (every binary of this
# version in DIR) and DIR/install.sh, so DIR can be served as it is (or read as file://DIR).
# Honours CARGO_TARGET_DIR (default: target/ of the repository).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
targets=(x86_64 aarch64)
out="$repo/dist"

usage() {
    sed -n '2,15s/^# \{0,1\}//p' "$0"
}

die() {
    printf 'error: %s\n' "$1" >&2
    [ -z "${2:-}" ] || printf 'hint: %s\n' "$2" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --target)
            [ $# -ge 2 ] || die "--target needs a value" "x86_64, aarch64 or all"
            case "$2" in
                x86_64 | aarch64) targets=("$2") ;;
                all) targets=(x86_64 aarch64) ;;
                *) die "unknown target '$2'" "x86_64, aarch64 or all" ;;
            esac
            shift 2
            ;;
        --out)
            [ $# -ge 2 ] || die "--out needs a directory"
            out="$2"
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument '$1'" "see $0 --help" ;;
    esac
done

# The [package] version, read without cargo metadata's JSON (no jq or Python needed).
version="$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)"
[ -n "$version" ] || die "no version in $repo/Cargo.toml's [package]"

check_toolchain() {
    command -v cargo >/dev/null || die "cargo is not on PATH" "install Rust with rustup: https://rustup.rs"
    command -v readelf >/dev/null || die "readelf is not on PATH (needed to check the binaries are static)" \
        "apt-get install binutils"
    command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild is not on PATH" \
        "python3 -m pip install ziglang cargo-zigbuild (or: cargo install cargo-zigbuild, with zig on PATH)"
    if ! command -v zig >/dev/null && ! python3 -c 'import ziglang' 2>/dev/null; then
        die "no Zig compiler: neither zig on PATH nor the ziglang Python package" "python3 -m pip install ziglang"
    fi
    local installed
    installed="$(rustup target list --installed 2>/dev/null || true)"
    for arch in "${targets[@]}"; do
        grep -qx "$arch-unknown-linux-musl" <<<"$installed" ||
            die "the Rust standard library for $arch-unknown-linux-musl is not installed" \
                "rustup target add $arch-unknown-linux-musl"
    done
}

# A static executable has no program interpreter (PT_INTERP) and no shared libraries (NEEDED),
# and must be of the architecture it is named for.
check_static() {
    local binary="$1" machine="$2"
    readelf -hW "$binary" | grep -q "Machine: *$machine\$" ||
        die "$binary is not an $machine executable: $(readelf -hW "$binary" | grep Machine:)"
    if readelf -lW "$binary" | grep -q INTERP; then
        die "$binary asks for a program interpreter, so it is not static"
    fi
    if readelf -dW "$binary" | grep -q NEEDED; then
        die "$binary needs shared libraries: $(readelf -dW "$binary" | grep NEEDED | tr -s ' ')"
    fi
}

check_toolchain
mkdir -p "$out"
out="$(cd "$out" && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"

for arch in "${targets[@]}"; do
    triple="$arch-unknown-linux-musl"
    name="mlpack-$version-$triple"
    echo "--- building $name"
    start=$SECONDS
    (cd "$repo" && cargo zigbuild --locked --profile dist --target "$triple")
    case "$arch" in
        x86_64) machine="Advanced Micro Devices X86-64" ;;
        aarch64) machine="AArch64" ;;
    esac
    check_static "$target_dir/$triple/dist/mlpack" "$machine"
    cp "$target_dir/$triple/dist/mlpack" "$out/$name.tmp"
    mv -f "$out/$name.tmp" "$out/$name"
    echo "built $name in $((SECONDS - start)) s"
done

cp "$repo/scripts/install.sh" "$out/install.sh"
(
    cd "$out"
    sha256sum -- mlpack-"$version"-*-unknown-linux-musl >SHA256SUMS.tmp
    mv -f SHA256SUMS.tmp SHA256SUMS
)

echo "--- $out"
(cd "$out" && for file in mlpack-"$version"-*-unknown-linux-musl; do
    printf '%s  %s bytes  sha256 %s\n' "$file" "$(wc -c <"$file" | tr -d ' ')" \
        "$(grep " $file\$" SHA256SUMS | cut -d ' ' -f 1)"
done)
echo "SHA256SUMS, install.sh"
