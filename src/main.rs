// mimalloc: scanning parses thousands of files on every core, and the system allocator's
// contention showed in profiles of large trees.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mlpack::cli::main()
}
