//! fluxgraph reads a Flux v2 GitOps repository from disk and shows in what order Flux
//! will reconcile it: levels, the critical path, cycles, and what blocks each component.
//!
//! The pipeline, one module each, data flowing one way:
//! [`load`] (files, YAML with lines, kustomize) → [`model`] (typed Flux objects) →
//! [`cluster`] (entry points, what each Kustomization applies) → [`graph`] (petgraph,
//! typed edges) → [`analysis`] (levels, critical path, cycles, diagnostics) → [`render`]
//! (JSON, DOT, Mermaid, text, SVG through [`layout`]). [`snapshot`] runs it; [`diff`] compares
//! two snapshots (two git revisions, read by [`load::git`]); [`server`]
//! serves it and [`watch`] rebuilds it when files change; [`server::mcp`] answers the Model Context
//! Protocol from it; [`status`] is the cluster's live status over it, fed by
//! [`status_watch`] through [`kube_api`]'s bounded reads; [`cli`] is the command line.
//!
//! Each stage that can fail has its own error enum beside it ([`load::LoadError`],
//! [`load::git::GitError`], [`cluster::entry::EntryError`], [`diff::DiffError`], …); [`Error`]
//! wraps them all and [`Result`] defaults to it. How much a read of the repository may take
//! is given with each read ([`load::ReadOptions`]).
//!
//! ```no_run
//! let snapshot = fluxgraph::snapshot::Snapshot::read(std::path::Path::new("."), None).unwrap();
//! for view in &snapshot.clusters {
//!     println!("{}: {} levels", view.cluster.name, view.analysis.waves.len());
//! }
//! ```

pub mod analysis;
pub mod cli;
pub mod cluster;
pub mod diagnostic;
pub mod diff;
pub mod flux_source;
pub mod graph;
pub mod kube_api;
pub mod layout;
pub mod load;
pub mod model;
pub mod render;
pub mod server;
pub mod snapshot;
pub mod status;
pub mod status_watch;
pub mod synthetic;
pub mod watch;

/// Every way the library can fail, one variant per boundary; messages are the boundary's own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Load(#[from] load::LoadError),
    #[error(transparent)]
    Git(#[from] load::git::GitError),
    #[error(transparent)]
    Entry(#[from] cluster::entry::EntryError),
    #[error(transparent)]
    Diff(#[from] diff::DiffError),
    #[error(transparent)]
    Cluster(#[from] snapshot::NoCluster),
    #[error(transparent)]
    UnknownCluster(#[from] snapshot::UnknownCluster),
    #[error(transparent)]
    Server(#[from] server::Problem),
    #[error(transparent)]
    Source(#[from] flux_source::SourceError),
    #[error(transparent)]
    Status(#[from] status_watch::StatusError),
    #[error(transparent)]
    Mcp(#[from] server::mcp::McpError),
    #[error(transparent)]
    Cli(#[from] cli::CliError),
}

/// The library's result: [`Error`] unless a boundary's own error is named.
pub type Result<T, E = Error> = std::result::Result<T, E>;
