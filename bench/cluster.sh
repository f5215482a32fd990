#!/usr/bin/env bash
# Benchmark the overhead of `mlpack train --on slurm --nodes 2` over a bare `sbatch` of the same
# training with `srun python3 train.py`, on the same two-node Slurm cluster.
#
#   bench/cluster.sh          # report (markdown) on stdout, progress on stderr
#
# Needs root, Debian's slurm-wlm and munge (installed when missing), python3 3.11 with venv,
# PyPI (the bare run's venv) and the Debian mirror (the image's base). The cluster is the
# tests' (tests/it/common/slurm.rs): its own munged, slurmctld and `slurmd -N n1`/`-N n2` on
# 127.0.0.1 with free ports, in $WORK/slurm, stopped at the end.
#
# Input: examples/ml/distributed-jax (a two-process all-reduce with jax.distributed on CPU),
# copied to $WORK with its mlpack.lock. Untimed setup: `mlpack build --locked` (the image the
# nodes run, in $WORK/store, on the filesystem both nodes share), and a venv with
# `pip install --require-hashes` of `mlpack export --format requirements` (the same wheels).
#
# Measured, BENCH_RUNS (default 5) times each, interleaved, median: the time from the start of
# the submitting command to the first line of training output of rank 0 (`rank 0 of 2`, printed
# after jax.distributed.initialize, so both ranks are up):
#   * mlpack: `mlpack train --locked --on slurm --nodes 2` (builds nothing: the image is
#     current), the line read from its stdout (rank 0's log, followed);
#   * bare: `sbatch` of `srun --ntasks-per-node=1 bash -c 'NODE_RANK=$SLURM_NODEID ...
#     VENV/bin/python3 train.py'` with the same variables, the line polled (every 10 ms) in
#     rank 0's output file; the data at the same path as in the container (/data is bound by
#     mlpack, so the bare script reads DATA from the copy).
# Also each command's time to its exit (mlpack waits for the job; bare waits with
# `srun`-style polling of squeue until the job leaves the queue).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_bash5
need_root "mlpack runs containers; slurmd runs jobs as root"
missing=()
for tool in sbatch slurmd slurmctld munged; do command -v "$tool" >/dev/null || missing+=(slurm-wlm munge); done
apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
need_tools python3 sbatch srun squeue
mlpack_binary stale
RUNS="${BENCH_RUNS:-5}"

make_work cluster
SLURM_DIR="$WORK/slurm"
stop_cluster() {
  local file pid
  for file in slurmd-n1.pid slurmd-n2.pid slurmctld.pid munge/pid; do
    pid="$(cat "$SLURM_DIR/$file" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
  done
  sleep 1
  remove_work
}
trap stop_cluster EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_cluster() {
  mkdir -p "$SLURM_DIR"/{munge,state,log,spool}
  chmod 700 "$SLURM_DIR/munge"
  head -c 1024 /dev/urandom >"$SLURM_DIR/munge/munge.key"
  chmod 600 "$SLURM_DIR/munge/munge.key"
  munged --force --key-file="$SLURM_DIR/munge/munge.key" --socket="$SLURM_DIR/munge/socket" \
    --pid-file="$SLURM_DIR/munge/pid" --log-file="$SLURM_DIR/munge/log" --seed-file="$SLURM_DIR/munge/seed"
  local d="$SLURM_DIR" host
  host="$(hostname)"
  cat >"$d/slurm.conf" <<CONF
ClusterName=mlpackbench
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$d/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
KillWait=5
NodeName=n1 NodeAddr=127.0.0.1 NodeHostname=$host Port=$(free_port) CPUs=4 RealMemory=1000 State=UNKNOWN
NodeName=n2 NodeAddr=127.0.0.1 NodeHostname=$host Port=$(free_port) CPUs=4 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$d/slurm.conf"
  slurmctld -f "$SLURM_CONF" -i
  slurmd -f "$SLURM_CONF" -N n1
  slurmd -f "$SLURM_CONF" -N n2
  for _ in $(seq 1 300); do
    [[ "$(sinfo --noheader --Node --format='%T' | grep -c '^idle$')" == 2 ]] && return 0
    sleep 0.2
  done
  die "the cluster's nodes did not come up (logs in $d/log)"
}

log "starting a two-node Slurm cluster in $SLURM_DIR"
start_cluster
cp -r "$REPO/examples/ml/distributed-jax" "$WORK/project"
P="$WORK/project"
export MLPACK_HOME="$WORK/store" XDG_CACHE_HOME="${BENCH_CACHE:-$WORK/cache}"
log "building the image (untimed)"
"$MLPACK" build --locked "$P" >"$WORK/logs/build.out" 2>&1 || { cat "$WORK/logs/build.out" >&2; die "mlpack build failed"; }
log "making the bare run's venv (untimed)"
"$MLPACK" -q export --format requirements --dir "$P" -o "$WORK/requirements.txt" \
  || die "mlpack export --format requirements failed"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --no-deps --require-hashes -r "$WORK/requirements.txt" >&2
# The bare script reads the data where the container sees it; give it the same path.
sed "s#/data/shards.csv#$P/data/shards.csv#; s#/outputs/metrics.json#$WORK/bare-metrics.json#" \
  "$P/train.py" >"$WORK/bare-train.py"
cat >"$WORK/bare.sbatch" <<SBATCH
#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --output=$WORK/bare-%j.out
export MASTER_PORT=\$((29500 + SLURM_JOB_ID % 20000))
srun --ntasks-per-node=1 bash -c 'MASTER_ADDR=\$SLURM_LAUNCH_NODE_IPADDR NNODES=\$SLURM_JOB_NUM_NODES NODE_RANK=\$SLURM_NODEID exec $WORK/venv/bin/python3 $WORK/bare-train.py > $WORK/bare-rank-\$SLURM_NODEID.log 2>&1'
SBATCH

first_line_mlpack() {
  local start="$EPOCHREALTIME" line first=""
  while IFS= read -r line; do
    if [[ -z "$first" && "$line" == "rank 0 of 2"* ]]; then first="$EPOCHREALTIME"; fi
  done < <("$MLPACK" train --locked --on slurm --nodes 2 "$P" 2>"$WORK/logs/mlpack-$1.err")
  local end="$EPOCHREALTIME"
  [[ -n "$first" ]] || die "mlpack's run $1 printed no training line (see $WORK/logs/mlpack-$1.err)"
  FIRST="$(calc %.3f "$first - $start")"; TOTAL="$(calc %.3f "$end - $start")"
}
first_line_bare() {
  rm -f "$WORK"/bare-rank-*.log
  local start="$EPOCHREALTIME" job first=""
  job="$(sbatch --parsable "$WORK/bare.sbatch")"
  until grep -q '^rank 0 of 2' "$WORK/bare-rank-0.log" 2>/dev/null; do sleep 0.01; done
  first="$EPOCHREALTIME"
  while [[ -n "$(squeue --noheader --jobs "$job" --states=PENDING,RUNNING,COMPLETING 2>/dev/null)" ]]; do sleep 0.05; done
  local end="$EPOCHREALTIME"
  FIRST="$(calc %.3f "$first - $start")"; TOTAL="$(calc %.3f "$end - $start")"
}

declare -a mf mt bf bt
for i in $(seq 1 "$RUNS"); do
  for tool in $(rotate "$i" mlpack bare); do
    log "run $i: $tool"
    if [[ "$tool" == mlpack ]]; then first_line_mlpack "$i"; mf+=("$FIRST"); mt+=("$TOTAL")
    else first_line_bare; bf+=("$FIRST"); bt+=("$TOTAL"); fi
  done
done

host_facts
cat <<REPORT
## \`mlpack train --on slurm --nodes 2\` vs bare \`sbatch\` + \`srun python3\` (bench/cluster.sh)

Machine: $(machine). Cluster: slurm-wlm $(slurmd -V | awk '{print $2}'), two \`slurmd -N\` nodes on 127.0.0.1. mlpack: $(mlpack_origin). $RUNS runs each, interleaved, median.

| | to rank 0's first training line (s) | to the end (s) |
| --- | --- | --- |
| bare \`sbatch\` + \`srun python3 train.py\` | $(median "${bf[@]}") | $(median "${bt[@]}") |
| \`mlpack train --locked --on slurm --nodes 2\` | $(median "${mf[@]}") | $(median "${mt[@]}") |
| added by mlpack | $(calc %.3f "$(median "${mf[@]}") - $(median "${bf[@]}")") | $(calc %.3f "$(median "${mt[@]}") - $(median "${bt[@]}")") |
REPORT
