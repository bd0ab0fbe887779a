//! The `fluxgraph` command: parses the arguments and hands them to the library's CLI.
use clap::Parser;

fn main() -> std::process::ExitCode {
    fluxgraph::cli::run(fluxgraph::cli::Cli::parse())
}
