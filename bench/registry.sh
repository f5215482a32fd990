#!/usr/bin/env bash
# Benchmark `mlpack push` and `mlpack pull` against `docker push`/`docker pull` and `skopeo
# copy`, same images, same local registry, same run.
#
#   bench/registry.sh        # report (markdown) on stdout, progress on stderr
#
# Registry: Debian's docker-registry (github.com/docker/distribution 2.x; `apt-get install
# docker-registry` when missing), started by this script on 127.0.0.1:<free port>, plain
# HTTP, filesystem storage in the work directory (delete enabled). Docker and mlpack treat
# 127.0.0.0/8 registries as insecure (plain HTTP) by default; skopeo gets
# --dest-tls-verify=false / --src-tls-verify=false.
#
# Images (both built with `--compression gzip`, so that the Docker 20.10 daemon can read them):
#   * iris: examples/ml/iris-sklearn (copied to the work directory) with its checked-in lock,
#     `mlpack build --locked --compression gzip`, a throwaway MLPACK_HOME and XDG_CACHE_HOME
#     BENCH_CACHE (default target/mlpack-test-cache, the test suite's download cache: every
#     download is verified by hash);
#   * torch: examples/ml/mnist-torch (torch and its CUDA wheels, ~3 GB), the same, with a
#     throwaway download cache (deleted after the build). Its checked-in lock pins only the
#     Python packages, and `--locked` refuses a lock without the base's Debian pins; when
#     that is the error, the script builds without `--locked` (which pins the base into the
#     copy's lock and changes no Python pin) and says so. BENCH_TORCH=0 skips it; a failing
#     download or build is reported and the image skipped.
# Each image goes into docker with `mlpack export IMAGE -o x.tar && docker load -i x.tar`
# (same config, so the same image ID as a pull of mlpack's push gives).
#
# Measured, BENCH_RUNS runs (default 3) per image, median; in each run the tools are
# interleaved and the one that goes first rotates:
#   * push to a fresh repository: `mlpack --json push IMAGE R/bench-mlpack-N:v1`, `docker push
#     R/bench-docker-N:v1` (the loaded image tagged), `skopeo copy --dest-tls-verify=false
#     oci:$MLPACK_HOME:IMAGE docker://R/bench-skopeo-N:v1` (mlpack's store is an OCI layout).
#     The registry's storage is emptied at the start of every run: a fresh repository alone
#     is not enough, because docker (its v2 metadata) and skopeo (its blob info cache)
#     remember where they pushed or pulled a blob before and mount it from there. Checked
#     per push: mlpack's JSON (`bytes_uploaded`, no blob mounted or skipped), docker's
#     "Pushed" lines (no "Mounted from"/"Layer already exists"), skopeo's "Copying blob"
#     lines (none "skipped"). docker compresses the layers itself on push (gzip), so it sends
#     other bytes (its manifest's layer sizes are reported);
#   * pull into an empty store or engine, all three from the same manifest (mlpack's push of
#     that run, R/bench-mlpack-N:v1, so the same bytes): mlpack: a fresh MLPACK_HOME, `mlpack
#     --json pull REF`; then `mlpack run --rm REF true` in that store (its first run unpacks
#     every layer), timed apart: "pull + unpack" is the sum. docker: `docker rmi` of every
#     tag this script gave the image (it is then gone: checked), `docker pull REF` (which
#     downloads and unpacks; "Already exists" lines are reported). skopeo: `skopeo copy
#     --src-tls-verify=false docker://REF oci:<fresh dir>:v1` (download only);
#   * a plain disk copy, interleaved with the pulls: `cp` of the registry's blob files of that
#     manifest (config and layers, the bytes a pull downloads) into a fresh directory,
#     then `sync` of the copies (mlpack fsyncs every blob it stores).
# The registry's blobs were written moments before, so every reader reads them from the
# page cache alike. Before every timed command the script runs `sync` (untimed), so that
# no tool pays for writing back what the one before it left dirty (mlpack fsyncs each blob
# it stores, and on ext4 an fsync also waits for other files' new data). Times are wall
# time of the client command (/usr/bin/time -v also gives CPU and peak RSS); a failing
# command is reported and not counted.
#
# Targets (from the issue): push and pull at least 2x faster than docker's (docker's median /
# mlpack's median; pull is judged on `mlpack pull`, and pull + unpack, like for like with
# `docker pull`, is shown too); torch `mlpack pull` + unpack within 1.5x of the plain copy.
#
# Knobs (environment): BENCH_RUNS (3), BENCH_TORCH (1), BENCH_TORCH_MIN_FREE_GB (30: the
# torch image is skipped with less free disk under the work directory), BENCH_CACHE
# (XDG_CACHE_HOME of the iris build), BENCH_KEEP=1 (keep the work directory), MLPACK (use
# this binary, do not build).
#
# Needs root (docker, mlpack run). Installs docker-registry, skopeo, jq, curl and time with
# apt-get when missing, and starts `dockerd --bridge=none --iptables=false` when no daemon
# answers (stopped again at the end). At the end it stops the registry, removes the work
# directory and `docker rmi`s every tag it added. Exits non-zero only when setup fails.
# That setup and the timing helpers are bench/lib.sh's, shared with the other benchmarks.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
TORCH="${BENCH_TORCH:-1}"
TORCH_MIN_FREE_GB="${BENCH_TORCH_MIN_FREE_GB:-30}"
CACHE="${BENCH_CACHE:-$REPO/target/mlpack-test-cache}"
EXAMPLES="$REPO/examples/ml"

need_bash5
need_root "docker, mlpack run"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a whole number >= 1"
[[ -f "$EXAMPLES/iris-sklearn/mlpack.lock" ]] || die "no $EXAMPLES/iris-sklearn/mlpack.lock"

# --- 1. tools ----------------------------------------------------------------------------
missing=()
[[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
[[ -x /usr/bin/time ]] || missing+=(time)
apt_install "${missing[@]}"
need_tools docker skopeo jq curl python3 awk

# Settings that would change what mlpack does; homes and caches are set per command.
unset MLPACK_OFFLINE MLPACK_EXCLUDE_NEWER MLPACK_HOME

start_dockerd registry
mlpack_binary always

make_work registry
REG_ROOT="$WORK/registry"
REG_PID=""
R=""
DOCKER_IDS=()
cleanup() {
  set +e
  if [[ -n "$REG_PID" ]]; then kill "$REG_PID"; wait "$REG_PID" 2>/dev/null; fi
  # Every tag this script gave (the loaded ones and the registry's), then the images if
  # nothing else names them.
  local tags
  tags="$(docker images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null \
    | grep -E "^(bench-registry-(iris|torch):v1|${R:-none}/.*)$")"
  [[ -n "$tags" ]] && docker rmi $tags >/dev/null 2>&1
  remove_work
  stop_dockerd
}
trap cleanup EXIT

# --- 2. helpers --------------------------------------------------------------------------
# timed (here: `sync` first, untimed, and stdin from /dev/null), cpu, median, calc, mb,
# errline and rotate are bench/lib.sh's.
TIMED_SYNC=1
TIMED_STDIN=/dev/null
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/logs/$1.rusage"; }
count() { grep -c -e "$1" "$2" 2>/dev/null || true; }
# ratio A B: B / A ("2.50x"), "-" unless both are numbers > 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", b / a; else print "-" }'; }
# at_least A B X: 1 when B / A >= X.
at_least() { awk -v a="$1" -v b="$2" -v x="$3" 'BEGIN { print (a + 0 > 0 && b + 0 > 0 && b / a >= x) ? 1 : 0 }'; }
verdict() { [[ "$1" == 1 ]] && echo MET || echo "**MISSED**"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- 3. the registry ---------------------------------------------------------------------
log "work directory $WORK"
for attempt in 1 2 3; do
  PORT="$(free_port)"
  mkdir -p "$REG_ROOT"
  cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REG_ROOT
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF
  /usr/bin/docker-registry serve "$WORK/registry.yml" >>"$WORK/logs/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break
    kill -0 "$REG_PID" 2>/dev/null || break
    sleep 0.1
  done
  if curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1; then break; fi
  kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; REG_PID=""
  ((attempt < 3)) || die "docker-registry did not come up: $(errline "$WORK/logs/registry.log")"
done
R="127.0.0.1:$PORT"
REG_VERSION="$(/usr/bin/docker-registry --version 2>/dev/null | awk '{print $NF}')"
log "registry $R (docker-registry $REG_VERSION, storage $REG_ROOT)"
# Empties the registry (its storage; the filesystem driver keeps no other state).
wipe_registry() { rm -rf "$REG_ROOT/docker"; }
reg_blob() { local hex="${1#sha256:}"; echo "$REG_ROOT/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"; }

host_facts
FS="$(findmnt -n -o FSTYPE,OPTIONS -T "$WORK" | awk '{print $1 " (" $2 ")"}')"
echo "# mlpack registry benchmark (push / pull)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "- machine: $(machine), kernel $(uname -r), cgroup $CGROUP; work directory on $FS"
echo "- mlpack: $MLPACK_VERSION ($MLPACK; $(mlpack_origin))"
echo "- docker: $(docker_versions), storage driver $(docker info -f '{{.Driver}}' 2>/dev/null), $(command -v unpigz >/dev/null && echo "unpigz installed (docker decompresses with it)" || echo "no unpigz (docker decompresses with Go's gzip)"); $(skopeo --version); registry: Debian docker-registry $REG_VERSION on $R (plain HTTP, filesystem storage)"
echo "- runs: $RUNS per image, tools interleaved (the first rotates per run), median; the registry is emptied at the start of every run"
echo "- load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- 4. the images -----------------------------------------------------------------------
# prepare KEY EXAMPLE CACHE: build the example into $WORK/src-KEY/home as
# bench-registry-KEY:v1 (gzip) and load it into docker. Sets OK=1 on success, NOTE otherwise.
declare -A IMG_NOTES IMG_BYTES IMG_LAYERS IMG_DIGEST IMG_CONFIG IMG_DOCKER_SIZE IMG_BUILD
prepare() {
  local key="$1" example="$2" cache="$3" image="bench-registry-$1:v1"
  local dir="$WORK/src-$key"
  OK=0
  IMG_NOTES[$key]=""
  mkdir -p "$dir"
  cp -r "$EXAMPLES/$example" "$dir/project"
  rm -rf "$dir/project/outputs"
  log "$key: mlpack build --locked --compression gzip ($example)"
  timed "$key-build" env MLPACK_HOME="$dir/home" XDG_CACHE_HOME="$cache" "$MLPACK" --json build "$dir/project" \
    --locked --compression gzip -t "$image"
  local how="\`mlpack build --locked --compression gzip\`"
  if [[ $RC -ne 0 ]] && grep -q 'forbids changing the lock' "$WORK/logs/$key-build.err"; then
    IMG_NOTES[$key]+="- \`--locked\` refused the checked-in lock (\"$(grep -m1 '^error: ' "$WORK/logs/$key-build.err" | sed 's/^error: //' | cut -c1-300)\"): it pins the Python packages only; built without \`--locked\`, which pinned the base into the copy's lock"$'\n'
    log "$key: --locked refused the lock (no base pins); building without --locked"
    timed "$key-build" env MLPACK_HOME="$dir/home" XDG_CACHE_HOME="$cache" "$MLPACK" --json build "$dir/project" \
      --compression gzip -t "$image"
    how="\`mlpack build --compression gzip\` (not --locked)"
  fi
  if [[ $RC -ne 0 ]]; then
    IMG_NOTES[$key]+="- **build FAILED** (exit $RC after ${T}s): $(errline "$WORK/logs/$key-build.err")"$'\n'
    return
  fi
  IMG_BUILD[$key]="$how: ${T}s, peak RSS $(rss "$key-build") MB"
  env MLPACK_HOME="$dir/home" "$MLPACK" --json inspect "$image" >"$WORK/$key-inspect.json" \
    || { IMG_NOTES[$key]+="- mlpack inspect failed"$'\n'; return; }
  IMG_DIGEST[$key]="$(jq -r .digest "$WORK/$key-inspect.json")"
  IMG_CONFIG[$key]="$(jq -r .manifest.config.digest "$WORK/$key-inspect.json")"
  IMG_BYTES[$key]="$(jq '[.manifest.layers[].size] + [.manifest.config.size] | add' "$WORK/$key-inspect.json")"
  IMG_LAYERS[$key]="$(jq -r '[.manifest.layers[] | "\(.size / 1e6 * 10 | round / 10) MB \(.mediaType | sub("application/vnd.oci.image.layer.v1."; ""))"] | join(", ")' "$WORK/$key-inspect.json")"
  log "$key: export + docker load"
  timed "$key-export" env MLPACK_HOME="$dir/home" "$MLPACK" export "$image" -o "$WORK/$key.tar"
  [[ $RC -eq 0 ]] || { IMG_NOTES[$key]+="- **mlpack export FAILED**: $(errline "$WORK/logs/$key-export.err")"$'\n'; rm -f "$WORK/$key.tar"; return; }
  local export_t="$T"
  timed "$key-load" docker load -i "$WORK/$key.tar"
  rm -f "$WORK/$key.tar"
  [[ $RC -eq 0 ]] || { IMG_NOTES[$key]+="- **docker load FAILED**: $(errline "$WORK/logs/$key-load.err")"$'\n'; return; }
  local id; id="$(docker image inspect -f '{{.Id}}' "$image")"
  DOCKER_IDS+=("$id")
  [[ "$id" == "${IMG_CONFIG[$key]}" ]] \
    || IMG_NOTES[$key]+="- docker's image ID $id is not the config digest ${IMG_CONFIG[$key]}"$'\n'
  IMG_DOCKER_SIZE[$key]="$(docker image inspect -f '{{.Size}}' "$image")"
  IMG_NOTES[$key]+="- setup (untimed): ${IMG_BUILD[$key]}; mlpack export ${export_t}s + docker load ${T}s"$'\n'
  OK=1
}

# --- 5. the measurements -----------------------------------------------------------------
declare -A MED
# Per image: arrays of times, rows, notes.
measure() { # KEY
  local key="$1" image="bench-registry-$1:v1" home="$WORK/src-$1/home"
  local id="${IMG_CONFIG[$key]}"
  local -a p_m=() p_d=() p_s=() l_m=() l_u=() l_mu=() l_d=() l_s=() c_t=()
  ROWS=(); RUN_NOTES=()
  local r tool ref note
  for r in $(seq "$RUNS"); do
    wipe_registry
    local order=() pnote=() lnote=()
    local pm=- pd=- ps=- lm=- lu=- lmu=- ld=- lk=- ct=-
    # Pushes.
    while read -r tool; do
      order+=("$tool")
      case "$tool" in
        mlpack)
          ref="$R/bench-mlpack-$r:v1"
          timed "$key-push-mlpack-$r" env MLPACK_HOME="$home" "$MLPACK" --json push "$image" "$ref"
          if [[ $RC -eq 0 ]]; then
            pm="$T"; p_m+=("$T")
            note="$(jq -r '"\(.blobs_uploaded) blobs uploaded, \(.bytes_uploaded / 1e6 * 10 | round / 10) MB, \(.blobs_mounted) mounted, \(.blobs_skipped) already there"' "$WORK/logs/$key-push-mlpack-$r.out")"
            [[ "$(jq -r .digest "$WORK/logs/$key-push-mlpack-$r.out")" == "${IMG_DIGEST[$key]}" ]] || note+=" (**manifest digest differs from the store's**)"
            pnote+=("mlpack: $note, CPU $(cpu "$key-push-mlpack-$r") s, peak RSS $(rss "$key-push-mlpack-$r") MB")
          else pm=FAIL; pnote+=("mlpack push FAILED (exit $RC): $(errline "$WORK/logs/$key-push-mlpack-$r.err")"); fi
          ;;
        docker)
          ref="$R/bench-docker-$r:v1"
          docker tag "$id" "$ref" 2>"$WORK/logs/$key-push-docker-$r.err" \
            && timed "$key-push-docker-$r" docker push "$ref" || RC=$?
          if [[ $RC -eq 0 ]]; then
            pd="$T"; p_d+=("$T")
            local sent
            sent="$(curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
              "http://$R/v2/bench-docker-$r/manifests/v1" | jq '[.layers[].size] | add' 2>/dev/null || echo 0)"
            pnote+=("docker: $(count ': Pushed$' "$WORK/logs/$key-push-docker-$r.out") layers pushed ($(mb "$sent") MB of its own gzip), $(count 'Mounted from' "$WORK/logs/$key-push-docker-$r.out") mounted, $(count 'Layer already exists' "$WORK/logs/$key-push-docker-$r.out") already there")
          else pd=FAIL; pnote+=("docker push FAILED (exit $RC): $(errline "$WORK/logs/$key-push-docker-$r.err")"); fi
          ;;
        skopeo)
          ref="$R/bench-skopeo-$r:v1"
          timed "$key-push-skopeo-$r" skopeo copy --dest-tls-verify=false "oci:$home:$image" "docker://$ref"
          if [[ $RC -eq 0 ]]; then
            ps="$T"; p_s+=("$T")
            pnote+=("skopeo: $(count '^Copying blob' "$WORK/logs/$key-push-skopeo-$r.out") layers (+ config) copied, $(count 'skipped' "$WORK/logs/$key-push-skopeo-$r.out") skipped, CPU $(cpu "$key-push-skopeo-$r") s")
          else ps=FAIL; pnote+=("skopeo push FAILED (exit $RC): $(errline "$WORK/logs/$key-push-skopeo-$r.err")"); fi
          ;;
      esac
    done < <(rotate "$((r - 1))" mlpack docker skopeo)
    log "$key run $r push ($(IFS=,; echo "${order[*]}")): mlpack $pm, docker $pd, skopeo $ps"

    # Pulls, all of mlpack's push of this run, and the plain copy of the same blobs.
    ref="$R/bench-mlpack-$r:v1"
    local porder=()
    while read -r tool; do
      porder+=("$tool")
      case "$tool" in
        mlpack)
          local ph="$WORK/pull-home"
          rm -rf "$ph"
          timed "$key-pull-mlpack-$r" env MLPACK_HOME="$ph" "$MLPACK" --json pull "$ref"
          if [[ $RC -eq 0 ]]; then
            lm="$T"; l_m+=("$T")
            note="$(jq -r '"\(.blobs_downloaded) blobs, \(.bytes_downloaded / 1e6 * 10 | round / 10) MB downloaded, \(.blobs_present) present"' "$WORK/logs/$key-pull-mlpack-$r.out")"
            timed "$key-unpack-mlpack-$r" env MLPACK_HOME="$ph" "$MLPACK" run --rm "$ref" true
            if [[ $RC -eq 0 ]]; then
              lu="$T"; l_u+=("$T"); lmu="$(calc '%.3f' "$lm + $lu")"; l_mu+=("$lmu")
              note+="; pull CPU $(cpu "$key-pull-mlpack-$r") s, RSS $(rss "$key-pull-mlpack-$r") MB; \`run --rm REF true\` (unpack) CPU $(cpu "$key-unpack-mlpack-$r") s; store + unpacked $(mb "$(du -sb "$ph" | cut -f1)") MB"
            else lu=FAIL; note+="; **mlpack run --rm REF true FAILED** (exit $RC): $(errline "$WORK/logs/$key-unpack-mlpack-$r.err")"; fi
            lnote+=("mlpack: $note")
          else lm=FAIL; lnote+=("mlpack pull FAILED (exit $RC): $(errline "$WORK/logs/$key-pull-mlpack-$r.err")"); fi
          rm -rf "$ph"
          ;;
        docker)
          local tags
          tags="$(docker image inspect -f '{{range .RepoTags}}{{println .}}{{end}}' "$id" 2>/dev/null \
            | grep -E "^(bench-registry-$key:v1|$R/.*)$" || true)"
          [[ -z "$tags" ]] || docker rmi $tags >/dev/null || true
          note=""
          docker image inspect "$id" >/dev/null 2>&1 \
            && note=" (**the image was still there**: tags $(docker image inspect -f '{{.RepoTags}}' "$id"))"
          timed "$key-pull-docker-$r" docker pull "$ref"
          if [[ $RC -eq 0 ]]; then
            ld="$T"; l_d+=("$T")
            lnote+=("docker: $(count 'Pull complete' "$WORK/logs/$key-pull-docker-$r.out") layers pulled, $(count 'Already exists' "$WORK/logs/$key-pull-docker-$r.out") already there$note")
            [[ "$(docker image inspect -f '{{.Id}}' "$ref")" == "$id" ]] || lnote+=("docker: the pulled image ID is not $id")
          else ld=FAIL; lnote+=("docker pull FAILED (exit $RC): $(errline "$WORK/logs/$key-pull-docker-$r.err")"); fi
          ;;
        skopeo)
          rm -rf "$WORK/skopeo-pull"
          timed "$key-pull-skopeo-$r" skopeo copy --src-tls-verify=false "docker://$ref" "oci:$WORK/skopeo-pull:v1"
          if [[ $RC -eq 0 ]]; then
            lk="$T"; l_s+=("$T")
            lnote+=("skopeo: $(count '^Copying blob' "$WORK/logs/$key-pull-skopeo-$r.out") layers (+ config), $(mb "$(du -sb "$WORK/skopeo-pull" | cut -f1)") MB written, CPU $(cpu "$key-pull-skopeo-$r") s")
          else lk=FAIL; lnote+=("skopeo pull FAILED (exit $RC): $(errline "$WORK/logs/$key-pull-skopeo-$r.err")"); fi
          rm -rf "$WORK/skopeo-pull"
          ;;
        copy)
          local files=() d
          for d in "${IMG_CONFIG[$key]}" $(jq -r '.manifest.layers[].digest' "$WORK/$key-inspect.json"); do
            files+=("$(reg_blob "$d")")
          done
          rm -rf "$WORK/copy"; mkdir -p "$WORK/copy"
          timed "$key-copy-$r" bash -c 'dst="$1"; shift; for f in "$@"; do h="${f%/data}"; cp "$f" "$dst/${h##*/}" || exit 1; done; sync "$dst"/*' _ "$WORK/copy" "${files[@]}"
          if [[ $RC -eq 0 ]]; then
            ct="$T"; c_t+=("$T")
            lnote+=("copy: ${#files[@]} files, $(mb "$(du -sb "$WORK/copy" | cut -f1)") MB")
          else ct=FAIL; lnote+=("copy FAILED: $(errline "$WORK/logs/$key-copy-$r.err")"); fi
          rm -rf "$WORK/copy"
          ;;
      esac
    done < <(rotate "$((r - 1))" mlpack docker skopeo copy)
    log "$key run $r pull ($(IFS=,; echo "${porder[*]}")): mlpack $lm (+ unpack $lu), docker $ld, skopeo $lk, copy $ct"
    ROWS+=("| $r | $(IFS=,; echo "${order[*]}") | $pm | $pd | $ps | $(IFS=,; echo "${porder[*]}") | $lm | $lu | $lmu | $ld | $lk | $ct |")
    RUN_NOTES+=("- run $r push: $(printf '%s; ' "${pnote[@]}")")
    RUN_NOTES+=("- run $r pull: $(printf '%s; ' "${lnote[@]}")")
  done
  MED[$key-pm]="$(median "${p_m[@]}")"; MED[$key-pd]="$(median "${p_d[@]}")"; MED[$key-ps]="$(median "${p_s[@]}")"
  MED[$key-lm]="$(median "${l_m[@]}")"; MED[$key-lu]="$(median "${l_u[@]}")"; MED[$key-lmu]="$(median "${l_mu[@]}")"
  MED[$key-ld]="$(median "${l_d[@]}")"; MED[$key-ls]="$(median "${l_s[@]}")"; MED[$key-ct]="$(median "${c_t[@]}")"
  wipe_registry
}

report() { # KEY TITLE
  local key="$1" title="$2"
  echo "### $title"
  echo
  echo "- image: ${IMG_DIGEST[$key]}, $(mb "${IMG_BYTES[$key]}") MB compressed (layers + config: ${IMG_LAYERS[$key]}); $(mb "${IMG_DOCKER_SIZE[$key]}") MB uncompressed (docker image inspect)"
  printf '%s' "${IMG_NOTES[$key]}"
  echo
  echo "| measurement (s, median of $RUNS) | mlpack | docker | skopeo | docker/mlpack | skopeo/mlpack |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "| push to a fresh repository | ${MED[$key-pm]} | ${MED[$key-pd]} | ${MED[$key-ps]} | $(ratio "${MED[$key-pm]}" "${MED[$key-pd]}") | $(ratio "${MED[$key-pm]}" "${MED[$key-ps]}") |"
  echo "| pull into an empty store (docker: also unpacks) | ${MED[$key-lm]} | ${MED[$key-ld]} | ${MED[$key-ls]} | $(ratio "${MED[$key-lm]}" "${MED[$key-ld]}") | $(ratio "${MED[$key-lm]}" "${MED[$key-ls]}") |"
  echo "| pull + unpack (mlpack: pull + first \`run --rm REF true\`) | ${MED[$key-lmu]} | ${MED[$key-ld]} | - | $(ratio "${MED[$key-lmu]}" "${MED[$key-ld]}") | - |"
  echo "| of which unpack (\`mlpack run --rm REF true\`) | ${MED[$key-lu]} | | | | |"
  echo "| plain copy of the same blobs (\`cp\` + \`sync\`) | ${MED[$key-ct]} | | | pull+unpack / copy: $(ratio "${MED[$key-ct]}" "${MED[$key-lmu]}") | pull / copy: $(ratio "${MED[$key-ct]}" "${MED[$key-lm]}") |"
  echo
  echo "| run | push order | mlpack push | docker push | skopeo push | pull order | mlpack pull | mlpack unpack | mlpack pull+unpack | docker pull | skopeo pull | cp+sync |"
  echo "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo
  printf '%s\n' "${RUN_NOTES[@]}"
  echo
}

TARGET_ROWS=()
LIKE_ROWS=()
targets() { # KEY NAME
  local key="$1" name="$2"
  TARGET_ROWS+=("| $name: push >= 2x faster than \`docker push\` | mlpack ${MED[$key-pm]} s, docker ${MED[$key-pd]} s: $(ratio "${MED[$key-pm]}" "${MED[$key-pd]}") | $(verdict "$(at_least "${MED[$key-pm]}" "${MED[$key-pd]}" 2)") |")
  TARGET_ROWS+=("| $name: pull >= 2x faster than \`docker pull\` | mlpack ${MED[$key-lm]} s, docker ${MED[$key-ld]} s: $(ratio "${MED[$key-lm]}" "${MED[$key-ld]}") | $(verdict "$(at_least "${MED[$key-lm]}" "${MED[$key-ld]}" 2)") |")
  LIKE_ROWS+=("| $name: \`mlpack pull\` + unpack (first \`run --rm REF true\`) vs \`docker pull\` (which unpacks) | mlpack ${MED[$key-lmu]} s, docker ${MED[$key-ld]} s: $(ratio "${MED[$key-lmu]}" "${MED[$key-ld]}") | $(verdict "$(at_least "${MED[$key-lmu]}" "${MED[$key-ld]}" 2)") |")
}

# iris
prepare iris iris-sklearn "$CACHE"
if ((OK)); then
  measure iris
  report iris "iris-sklearn"
  targets iris iris
else
  echo "### iris-sklearn"; echo; printf '%s' "${IMG_NOTES[iris]}"; echo
fi
rm -rf "$WORK/src-iris"
docker rmi "bench-registry-iris:v1" >/dev/null 2>&1 || true
tags="$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^$R/" || true)"
[[ -z "$tags" ]] || docker rmi $tags >/dev/null 2>&1 || true

# torch
if [[ "$TORCH" == 1 ]]; then
  free_gb="$(df -BG --output=avail "$WORK" | awk 'NR == 2 { print $1 + 0 }')"
  if ((free_gb < TORCH_MIN_FREE_GB)); then
    echo "### mnist-torch"; echo
    echo "- skipped: ${free_gb} GB free under $WORK, fewer than BENCH_TORCH_MIN_FREE_GB=$TORCH_MIN_FREE_GB"; echo
  else
    prepare torch mnist-torch "$WORK/torch-cache"
    IMG_NOTES[torch]+="- download cache after the build: $(mb "$(du -sb "$WORK/torch-cache" 2>/dev/null | cut -f1)") MB (then deleted)"$'\n'
    rm -rf "$WORK/torch-cache"
    if ((OK)); then
      measure torch
      report torch "mnist-torch"
      targets torch mnist-torch
      TARGET_ROWS+=("| mnist-torch: \`mlpack pull\` + unpack within 1.5x of a plain copy of the same blobs | pull + unpack ${MED[torch-lmu]} s (pull ${MED[torch-lm]} + unpack ${MED[torch-lu]}), copy ${MED[torch-ct]} s: $(ratio "${MED[torch-ct]}" "${MED[torch-lmu]}") | $(verdict "$(awk -v a="${MED[torch-lmu]}" -v b="${MED[torch-ct]}" 'BEGIN { print (a + 0 > 0 && b + 0 > 0 && a / b <= 1.5) ? 1 : 0 }')") |")
    else
      echo "### mnist-torch"; echo; printf '%s' "${IMG_NOTES[torch]}"; echo
    fi
  fi
else
  echo "### mnist-torch"; echo; echo "- skipped (BENCH_TORCH=0)"; echo
fi

echo "### Targets"
echo
echo "| target (from the issue) | measured | result |"
echo "|---|---|---|"
printf '%s\n' "${TARGET_ROWS[@]}"
echo
if ((${#LIKE_ROWS[@]})); then
  echo "The pull target, like for like (not the issue's wording; the same 2x bar): \`docker pull\` also unpacks the layers, \`mlpack pull\` only stores the blobs and unpacks at the first run."
  echo
  echo "| comparison | measured | result |"
  echo "|---|---|---|"
  printf '%s\n' "${LIKE_ROWS[@]}"
  echo
fi
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
