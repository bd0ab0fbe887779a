use clap::Parser;

fn main() -> std::process::ExitCode {
    fluxgraph::cli::run(fluxgraph::cli::Cli::parse())
}
