//! Command line: `fluxgraph check`, `fluxgraph graph`. Parses arguments, builds a
//! snapshot, renders it, and turns the outcome into an exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Severity;
use crate::render;
use crate::snapshot::{ClusterView, Snapshot};

#[derive(Parser, Debug)]
#[command(
    name = "fluxgraph",
    version,
    about = "See in what order Flux will reconcile a GitOps repository: levels, critical path, cycles.",
    long_about = "fluxgraph reads a Flux v2 GitOps repository from disk, finds its clusters' entry points, \
resolves every Kustomization's path as Flux would (kustomize, patches, postBuild substitution), \
and reports the reconciliation levels, the critical path, dependency cycles and everything that \
would block a component.\n\nExamples:\n  fluxgraph check .\n  fluxgraph graph . --format dot | dot -Tsvg > graph.svg"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Report problems the way a compiler does; exit 0 when clean, 1 on errors, 2 when it could not run.
    #[command(after_help = "Examples:\n  fluxgraph check .\n  fluxgraph check ~/home-ops --format json | jq '.diagnostics[] | select(.severity == \"error\")'\n  fluxgraph check . --entry kubernetes/main/flux/config/cluster.yaml")]
    Check {
        #[command(flatten)]
        input: Input,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Print the whole graph: JSON (the API contract), Graphviz DOT or Mermaid.
    #[command(after_help = "Examples:\n  fluxgraph graph . --format json\n  fluxgraph graph . --cluster staging --format dot | dot -Tsvg > staging.svg\n  fluxgraph graph . --format mermaid >> README.md")]
    Graph {
        #[command(flatten)]
        input: Input,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Json)]
        format: GraphFormat,
    },
}

#[derive(clap::Args, Debug)]
pub struct Input {
    /// The repository's root folder.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The entry point (a file of root Kustomizations, or a folder bootstrap syncs), relative
    /// to PATH; overrides the discovery of gotk-sync.yaml, FluxInstance and unapplied roots.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub entry: Option<String>,
    /// Only this cluster, when the repository holds several.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Json,
    Dot,
    Mermaid,
}

/// Exit statuses of `check`.
const CLEAN: u8 = 0;
const ERRORS: u8 = 1;
const COULD_NOT_RUN: u8 = 2;

pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Check { input, format } => check(&input, format),
        Command::Graph { input, format } => graph(&input, format),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("fluxgraph: {message}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

fn load(input: &Input) -> Result<Snapshot, String> {
    let entry = input.entry.as_deref().map(|e| entry_relative(&input.path, e));
    Snapshot::read(&input.path, entry.as_deref())
}

/// `--entry` may be given relative to PATH, or as a path that lies inside PATH.
fn entry_relative(root: &Path, entry: &str) -> String {
    let as_given = Path::new(entry);
    if let (Ok(root), Ok(abs)) = (root.canonicalize(), as_given.canonicalize()) {
        if let Ok(rel) = abs.strip_prefix(&root) {
            return rel.to_string_lossy().into_owned();
        }
    }
    entry.to_string()
}

fn selected<'a>(snapshot: &'a Snapshot, cluster: Option<&str>) -> Result<Vec<&'a ClusterView>, String> {
    match cluster {
        Some(name) => snapshot.cluster(name).map(|c| vec![c]).ok_or_else(|| render::json::unknown_cluster(snapshot, name)),
        None => Ok(snapshot.clusters.iter().collect()),
    }
}

fn check(input: &Input, format: CheckFormat) -> Result<u8, String> {
    let snapshot = load(input)?;
    let views = selected(&snapshot, input.cluster.as_deref())?;
    let outside = input.cluster.is_none();
    let errors = views.iter().flat_map(|v| &v.analysis.diagnostics).chain(if outside { &snapshot.diagnostics[..] } else { &[] })
        .any(|d| d.severity == Severity::Error);
    let text = match format {
        CheckFormat::Text => render::text::report(&snapshot, &views, outside),
        CheckFormat::Json => render::json::render(&snapshot, input.cluster.as_deref())?,
    };
    print(&text)?;
    Ok(if errors { ERRORS } else { CLEAN })
}

fn graph(input: &Input, format: GraphFormat) -> Result<u8, String> {
    let snapshot = load(input)?;
    let views = selected(&snapshot, input.cluster.as_deref())?;
    let text = match format {
        GraphFormat::Json => render::json::render(&snapshot, input.cluster.as_deref())?,
        GraphFormat::Dot => views.iter().map(|v| render::dot::render(v)).collect(),
        GraphFormat::Mermaid => {
            if views.len() > 1 {
                let names: Vec<&str> = views.iter().map(|v| v.cluster.name.as_str()).collect();
                eprintln!("fluxgraph: showing cluster {}; the others are {} (pick one with --cluster)", names[0], names[1..].join(", "));
            }
            views.first().map(|v| render::mermaid::render(v)).unwrap_or_default()
        }
    };
    print(&text)?;
    Ok(CLEAN)
}

fn print(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write output: {e}")),
    }
}
