//! Analysis: a cluster and its [`Graph`] → levels, critical paths, cycles, closures and
//! diagnostics. Each algorithm is a function in its own file over the prerequisite graph.

pub mod closure;
pub mod cold_start;
pub mod critical_path;
pub mod cycles;
pub mod levels;
pub mod lints;
pub mod prerequisites;

use std::collections::BTreeMap;

use crate::cluster::Cluster;
use crate::diagnostic::Diagnostic;
use crate::graph::Graph;
use crate::model::ObjectId;
pub use cold_start::ColdStart;
pub use critical_path::{CriticalPath, WeightedPath};
pub use cycles::Cycle;
pub use levels::Level;
pub use prerequisites::Prerequisites;

/// Everything computed about one cluster.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub prerequisites: Prerequisites,
    /// Level of every object; `None` on or behind a cycle.
    pub levels: BTreeMap<ObjectId, Option<Level>>,
    /// Objects by level: `waves[n]` reconcile in wave n.
    pub waves: Vec<Vec<ObjectId>>,
    pub critical_path: CriticalPath,
    pub weighted_path: WeightedPath,
    pub cold_start: ColdStart,
    pub cycles: Vec<Cycle>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs every analysis on a cluster.
pub fn analyze(cluster: &Cluster, graph: &Graph) -> Analysis {
    let prerequisites = Prerequisites::new(graph);
    let cycles = cycles::find(&prerequisites, graph);
    let levels = levels::compute(&prerequisites);
    let weights = critical_path::weights(cluster, graph);
    let timeline = critical_path::timeline(&prerequisites, &levels, &weights);
    let critical_path = critical_path::by_hops(&prerequisites, &levels, &timeline, graph);
    let weighted_path = critical_path::by_time(&prerequisites, &levels, &weights, &timeline, graph);
    let cold_start = cold_start::estimate(&prerequisites, &levels, &weights, graph, weighted_path.total);
    let mut diagnostics = cluster.diagnostics.clone();
    diagnostics.extend(lints::run(cluster, graph, &prerequisites, &cycles));
    diagnostics.sort();
    diagnostics.dedup();
    let mut by_id = BTreeMap::new();
    let mut waves: Vec<Vec<ObjectId>> = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let id = graph.id(petgraph::graph::NodeIndex::new(i)).clone();
        if let Some(l) = level {
            let l = *l as usize;
            if waves.len() <= l {
                waves.resize(l + 1, Vec::new());
            }
            waves[l].push(id.clone());
        }
        by_id.insert(id, *level);
    }
    Analysis { prerequisites, levels: by_id, waves, critical_path, weighted_path, cold_start, cycles, diagnostics }
}
