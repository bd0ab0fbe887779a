//! The `fluxgraph` command: parses the arguments and hands them to the library's CLI.
use clap::Parser;

// A snapshot is millions of small strings and nodes allocated on every core.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fluxgraph::cli::run(fluxgraph::cli::Cli::parse())
}
