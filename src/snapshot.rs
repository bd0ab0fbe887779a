//! Snapshot: the whole pipeline's output for one repository, immutable once built. The
//! server holds one behind an `Arc` and swaps it when the files change; the CLI renders
//! one and exits.

use std::path::Path;
use std::sync::Arc;

use crate::analysis::{self, Analysis};
use crate::cluster::{self, Cluster};
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::{self, Graph};
use crate::load::{self, ReadOptions, Repository};

/// The stack of every thread that builds a snapshot or draws from one (the server's runtime
/// and blocking pool, the watcher, rayon's pool): the 8 MiB a main thread has, not the 2 MiB
/// other threads get by default, so that a request works within the same stack as the CLI.
/// Input cannot make the work recurse without bound ([`load::MAX_DEPTH`]); this is the margin.
pub const THREAD_STACK: usize = 8 << 20;

/// Makes rayon's pool, once, with [`THREAD_STACK`]. Called where the pipeline's first parallel
/// work starts (resolving a repository, listing a revision's files), not when the program
/// starts: the disk walk has threads of its own, and a one-shot command whose pool was made
/// before it had twice as many threads as cores while it walked (8% of a 1,000-component
/// `check`). Fails only when a pool is running already (a test or a bench made it).
pub fn ensure_pool() {
    static POOL: std::sync::Once = std::sync::Once::new();
    POOL.call_once(|| {
        let _ = rayon::ThreadPoolBuilder::new().stack_size(THREAD_STACK).build_global();
    });
}

/// Where snapshots built off the request path are shown: the file watcher ([`crate::watch`])
/// and the Flux source follower ([`crate::flux_source`]) publish through it, as the status
/// watcher sends its events to a [`crate::status_watch::Sink`]. The server's state is one.
pub trait Sink: Send + Sync + 'static {
    /// The snapshot shown now, which the next read may reuse.
    fn shown(&self) -> Option<Arc<Snapshot>>;
    /// Shows `snapshot`, read at `revision` when known; `message` says what broke in a refresh
    /// that still gave a snapshot.
    fn publish(&self, snapshot: Snapshot, revision: Option<String>, message: Option<String>);
    /// A refresh failed: the last good snapshot stays shown, and says why.
    fn fail(&self, why: String);
    /// The repository is gone (its folder deleted, to be created again): a failed refresh
    /// that also makes the shown snapshot unready until the next one.
    fn source_gone(&self, why: String);
}

/// A cluster name the snapshot does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no cluster named {name:?}; the clusters are: {}", known.join(", "))]
pub struct UnknownCluster {
    pub name: String,
    /// The clusters there are, in the snapshot's order.
    pub known: Vec<String>,
}

/// Why a request has no cluster to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoCluster {
    #[error("no cluster was found in the repository (no gotk-sync.yaml, no FluxInstance, no Flux Kustomization that nothing applies); start fluxgraph with --entry")]
    Empty,
    #[error(transparent)]
    Unknown(UnknownCluster),
}

/// One cluster with its graph and analysis.
#[derive(Debug, Clone)]
pub struct ClusterView {
    pub cluster: Cluster,
    pub graph: Graph,
    pub analysis: Analysis,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub repository: Repository,
    pub clusters: Vec<ClusterView>,
    /// Findings that belong to no cluster.
    pub diagnostics: Vec<Diagnostic>,
}

impl Snapshot {
    /// Reads the repository at `root` and runs the pipeline. `entry` overrides the entry
    /// point discovery (a file or folder relative to `root`). The read has the default limits.
    pub fn read(root: &Path, entry: Option<&str>) -> crate::Result<Snapshot> {
        Snapshot::read_with(root, entry, &ReadOptions::default())
    }

    /// [`Snapshot::read`] within the limits `options`.
    pub fn read_with(root: &Path, entry: Option<&str>, options: &ReadOptions) -> crate::Result<Snapshot> {
        Snapshot::read_again(root, entry, options, None, &std::collections::BTreeSet::new())
    }

    /// Reads the repository again after `changed` (paths relative to the root) changed,
    /// reusing what `earlier` parsed of every other file.
    pub fn read_again(root: &Path, entry: Option<&str>, options: &ReadOptions, earlier: Option<&Snapshot>, changed: &std::collections::BTreeSet<String>) -> crate::Result<Snapshot> {
        let earlier = earlier.map(|s| load::Earlier { repository: &s.repository, changed });
        let repository = load::read_repository_again(root, options, earlier).map_err(|source| load::LoadError::Root { root: root.to_path_buf(), source })?;
        Snapshot::from_repository(repository, entry)
    }

    pub fn from_repository(repository: Repository, entry: Option<&str>) -> crate::Result<Snapshot> {
        ensure_pool();
        let resolution = cluster::resolve(&repository, entry)?;
        let clusters = resolution
            .clusters
            .into_iter()
            .map(|cluster| {
                let graph = graph::build(&cluster);
                let analysis = analysis::analyze(&cluster, &graph);
                ClusterView { cluster, graph, analysis }
            })
            .collect();
        Ok(Snapshot { repository, clusters, diagnostics: resolution.diagnostics })
    }

    /// The cluster a request is about: the one `name` names, else the one pages open on (the
    /// largest). Every route, the live status and the MCP tools choose through this alone.
    pub fn cluster_index(&self, name: Option<&str>) -> Result<usize, NoCluster> {
        if self.clusters.is_empty() {
            return Err(NoCluster::Empty);
        }
        match name {
            None => Ok(self.main_cluster()),
            Some(name) => self.clusters.iter().position(|c| c.cluster.name == name).ok_or_else(|| NoCluster::Unknown(self.unknown(name))),
        }
    }

    pub fn cluster(&self, name: &str) -> Option<&ClusterView> {
        self.clusters.iter().find(|c| c.cluster.name == name)
    }

    /// The cluster named `name`, or an error that says which clusters there are.
    pub fn named(&self, name: &str) -> Result<&ClusterView, UnknownCluster> {
        self.cluster(name).ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> UnknownCluster {
        UnknownCluster { name: name.to_string(), known: self.clusters.iter().map(|c| c.cluster.name.clone()).collect() }
    }

    /// The cluster the pages open on when the URL names none: the one with the most
    /// Kustomizations (the first among equals).
    pub fn main_cluster(&self) -> usize {
        let size = |c: &ClusterView| c.cluster.kustomization_count();
        self.clusters.iter().enumerate().max_by(|(i, a), (j, b)| size(a).cmp(&size(b)).then(j.cmp(i))).map_or(0, |(i, _)| i)
    }

    /// Every diagnostic, cluster ones first.
    pub fn all_diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.clusters.iter().flat_map(|c| c.analysis.diagnostics.iter()).chain(&self.diagnostics)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.all_diagnostics().filter(|d| d.severity == severity).count()
    }
}
