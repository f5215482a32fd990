"""A two-node all-reduce with jax.distributed on CPU: each process sums its shards of the data
and the processes add their sums with a real cross-process collective (gloo over TCP).

The rendezvous comes from the variables mlpack sets on every node (MASTER_ADDR, MASTER_PORT,
NNODES, NODE_RANK), so the same script runs alone (`mlpack train`) or on a cluster
(`mlpack train --on slurm --nodes 2`).
"""

import csv
import json
import os

import jax
import jax.numpy as jnp
from jax.experimental import multihost_utils

world = int(os.environ.get("NNODES", "1"))
rank = int(os.environ.get("NODE_RANK", "0"))
address = os.environ.get("MASTER_ADDR", "127.0.0.1")
port = os.environ.get("MASTER_PORT", "29500")

if world > 1:
    # CPU collectives go through gloo; without it JAX refuses cross-process work on CPU.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"{address}:{port}",
        num_processes=world,
        process_id=rank,
    )
print(f"rank {rank} of {world}: {jax.process_count()} processes, {jax.device_count()} devices", flush=True)

with open("/data/shards.csv") as file:
    rows = [row for row in csv.DictReader(file)]
mine = [float(row["value"]) for row in rows if int(row["shard"]) % world == rank]
local = jnp.array([sum(mine)])
expected = sum(float(row["value"]) for row in rows)

# The collective: every process contributes its partial sum and receives all of them.
gathered = multihost_utils.process_allgather(local) if world > 1 else local
total = float(jnp.sum(gathered))
print(f"rank {rank}: local sum {float(local[0])}, all-reduce sum {total} (expected {expected})", flush=True)
if total != expected:
    raise SystemExit(f"rank {rank}: the all-reduce gave {total}, expected {expected}")

if rank == 0:
    with open("/outputs/metrics.json", "w") as file:
        json.dump({"world_size": world, "total": total}, file)
if world > 1:
    jax.distributed.shutdown()
