fn main() -> std::process::ExitCode {
    mlpack::cli::main()
}
