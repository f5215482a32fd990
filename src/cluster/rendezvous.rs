//! The rendezvous variables every node's job gets, so that `torchrun train.py`,
//! `accelerate launch` and `jax.distributed.initialize(...)` need no flags. The names follow
//! torchrun's environment (<https://pytorch.org/docs/stable/elastic/run.html>) and the
//! `PET_*` variables that torchrun reads in place of its flags, as Kubeflow's trainer sets
//! them.

/// Each variable and what it holds, in the order they are set.
pub const VARIABLES: &[(&str, &str)] = &[
    ("MASTER_ADDR", "the address of node 0, where rank 0 listens"),
    ("MASTER_PORT", "a port on node 0, one per job"),
    ("NNODES", "the number of nodes"),
    ("NODE_RANK", "this node's rank, 0 to NNODES-1"),
    (
        "NPROC_PER_NODE",
        "processes per node: the GPUs per node, or 1 without GPUs",
    ),
    ("WORLD_SIZE", "NNODES × NPROC_PER_NODE"),
    ("PET_NNODES", "torchrun's `--nnodes`"),
    ("PET_NODE_RANK", "torchrun's `--node-rank`"),
    ("PET_NPROC_PER_NODE", "torchrun's `--nproc-per-node`"),
    ("PET_MASTER_ADDR", "torchrun's `--master-addr`"),
    ("PET_MASTER_PORT", "torchrun's `--master-port`"),
];

/// The first port of the range a job's `MASTER_PORT` is taken from (torchrun's default).
pub const BASE_PORT: u32 = 29500;
/// How many ports the range has: jobs whose IDs differ by less share no port.
pub const PORT_RANGE: u32 = 20000;

/// The variables' names, for `mlpack run -e NAME`.
pub fn names() -> impl Iterator<Item = &'static str> {
    VARIABLES.iter().map(|(name, _)| *name)
}
