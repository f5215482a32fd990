#!/bin/sh
# Install a static `mlpack` binary (Linux, x86_64 or aarch64), checked against SHA256SUMS.
#
#   curl -fsSL BASE_URL/install.sh | sh
#   curl -fsSL BASE_URL/install.sh | sh -s -- [--version V] [--base-url URL] [--install-dir DIR]
#
# BASE_URL is where scripts/release.sh's output is served: mlpack-<version>-<arch>-unknown-
# linux-musl binaries and SHA256SUMS. It comes from --base-url, else MLPACK_DOWNLOAD_URL, else
# the placeholder below: mlpack has no public release host yet, so name one (http://, https://
# or file:///path/to/dist). Without --version the newest version in SHA256SUMS is installed.
# The binary goes to --install-dir, else MLPACK_INSTALL_DIR, else /usr/local/bin as root and
# ~/.local/bin otherwise. A checksum mismatch installs nothing.
set -eu

# Placeholder: no release host exists yet (the .invalid domain never resolves).
placeholder_url="https://releases.mlpack.invalid/latest"

base_url="${MLPACK_DOWNLOAD_URL:-$placeholder_url}"
install_dir="${MLPACK_INSTALL_DIR:-}"
version=""
work=""
staged=""

say() { printf 'mlpack-install: %s\n' "$1" >&2; }

die() {
    say "error: $1"
    [ -z "${2:-}" ] || say "hint: $2"
    exit 1
}

cleanup() {
    [ -z "$work" ] || rm -rf "$work"
    [ -z "$staged" ] || rm -f "$staged"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

while [ $# -gt 0 ]; do
    case "$1" in
        --version | --base-url | --install-dir)
            [ $# -ge 2 ] || die "$1 needs a value"
            case "$1" in
                --version) version="$2" ;;
                --base-url) base_url="$2" ;;
                --install-dir) install_dir="$2" ;;
            esac
            shift 2
            ;;
        -h | --help)
            sed -n '2,12s/^# \{0,1\}//p' "$0" 2>/dev/null ||
                say "usage: install.sh [--version V] [--base-url URL] [--install-dir DIR]"
            exit 0
            ;;
        *) die "unknown argument '$1'" "install.sh [--version V] [--base-url URL] [--install-dir DIR]" ;;
    esac
done
base_url="${base_url%/}"

if [ "$base_url" = "$placeholder_url" ]; then
    die "no download location: mlpack has no public release host yet" \
        "set MLPACK_DOWNLOAD_URL or pass --base-url (a directory made by scripts/release.sh, e.g. file:///path/to/dist), or build from source: cargo install --path ."
fi

case "$(uname -s)" in
    Linux) ;;
    *) die "prebuilt binaries are for Linux only, not $(uname -s)" "build from source: cargo install --path ." ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "no prebuilt binary for $(uname -m)" "build from source: cargo install --path ." ;;
esac

# Fetch URL to FILE with curl or wget; file:// is copied so a local directory works anywhere.
fetch() {
    case "$1" in
        file://*) cp "${1#file://}" "$2" 2>/dev/null || die "cannot read $1" ;;
        *)
            if command -v curl >/dev/null; then
                curl -fsSL --proto '=https,http' -o "$2" "$1" || die "cannot download $1"
            elif command -v wget >/dev/null; then
                wget -q -O "$2" "$1" || die "cannot download $1"
            else
                die "neither curl nor wget is installed" "install curl, or download the files by hand"
            fi
            ;;
    esac
}

sha256() {
    if command -v sha256sum >/dev/null; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        die "neither sha256sum nor shasum is installed, so the download cannot be checked" \
            "install coreutils (sha256sum) or perl (shasum)"
    fi
}

work="$(mktemp -d "${TMPDIR:-/tmp}/mlpack-install.XXXXXX")"
fetch "$base_url/SHA256SUMS" "$work/SHA256SUMS"

suffix="-$arch-unknown-linux-musl"
if [ -z "$version" ]; then
    # Names are mlpack-<version><suffix>; sort the versions numerically, field by field.
    version="$(sed -n "s/^[0-9a-f]\{64\}  \*\{0,1\}mlpack-\(.*\)$suffix\$/\1/p" "$work/SHA256SUMS" |
        sort -t . -k 1,1n -k 2,2n -k 3,3n | tail -n 1)"
    [ -n "$version" ] || die "$base_url/SHA256SUMS lists no binary for $arch"
fi
name="mlpack-$version$suffix"
expected="$(sed -n "s/^\([0-9a-f]\{64\}\)  \*\{0,1\}$name\$/\1/p" "$work/SHA256SUMS" | head -n 1)"
[ -n "$expected" ] || die "$base_url/SHA256SUMS lists no $name" "check --version; the file lists: $(tr '\n' ' ' <"$work/SHA256SUMS")"

say "downloading $name from $base_url"
fetch "$base_url/$name" "$work/mlpack"
actual="$(sha256 "$work/mlpack")"
[ "$actual" = "$expected" ] ||
    die "checksum mismatch for $name: SHA256SUMS says $expected, the download is $actual; nothing was installed" \
        "the download is corrupt or was tampered with; try again, or check the release host"
chmod 755 "$work/mlpack"
"$work/mlpack" --version >/dev/null 2>&1 || die "the downloaded $name does not run on this machine"

if [ -z "$install_dir" ]; then
    if [ "$(id -u)" = 0 ]; then install_dir=/usr/local/bin; else install_dir="$HOME/.local/bin"; fi
fi
mkdir -p "$install_dir" || die "cannot create $install_dir" "choose another with --install-dir or MLPACK_INSTALL_DIR"
# Copy beside the target, then rename: a running or half-written mlpack is never replaced in place.
staged="$install_dir/.mlpack.install-$$"
cp "$work/mlpack" "$staged" || die "cannot write to $install_dir" \
    "choose another with --install-dir or MLPACK_INSTALL_DIR, or run as root"
mv -f "$staged" "$install_dir/mlpack"
staged=""
say "installed $("$install_dir/mlpack" --version) to $install_dir/mlpack"

case ":$PATH:" in
    *":$install_dir:"*) ;;
    *)
        say "$install_dir is not on your PATH; add it with:"
        say "  echo 'export PATH=\"$install_dir:\$PATH\"' >> ~/.profile && . ~/.profile"
        ;;
esac
