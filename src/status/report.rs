//! The blocked report: a snapshot's cluster and the store → the root blockers with their
//! reason, how many objects wait behind each and the chain to each, what is not in git, and
//! whether the status is stale. `fluxgraph blocked` prints it (text or JSON) and `/api/blocked`
//! serves it.

use std::time::SystemTime;

use petgraph::graph::NodeIndex;
use serde::Serialize;

use super::{Counts, ObjectStatus, Store, blockers, count, not_in_git, states};
use crate::model::{Kind, ObjectId};
use crate::snapshot::{ClusterView, Snapshot};

/// Chains listed per root blocker at most; the count says how many wait.
pub const MAX_CHAINS: usize = 50;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub cluster: String,
    pub counts: Counts,
    /// True when a root blocker is failed, waiting on something missing, suspended, stalled
    /// or not applied (progressing alone is not blocked).
    pub blocked: bool,
    pub root_blockers: Vec<RootReport>,
    pub not_in_git: Vec<Listed>,
    /// Set while a watch is down: since when (seconds since the epoch) and why.
    pub stale: Option<Stale>,
    /// The kinds of the cluster's graph whose first list has not come back: their objects
    /// are `loading`, neither applied nor not.
    pub loading: Vec<Kind>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stale {
    pub since: u64,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RootReport {
    pub id: ObjectId,
    #[serde(flatten)]
    pub status: ObjectStatus,
    /// How many objects wait behind it.
    pub waiting: usize,
    /// From each waiting object (at most [`MAX_CHAINS`]) down to this one.
    pub chains: Vec<Vec<ObjectId>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: ObjectId,
    #[serde(flatten)]
    pub status: ObjectStatus,
}

pub fn stale(store: &Store) -> Option<Stale> {
    store.stale().map(|(since, why)| Stale { since: since.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()), why })
}

/// The report for `view`, one of `snapshot`'s clusters.
pub fn build(snapshot: &Snapshot, view: &ClusterView, store: &Store) -> Report {
    let states = states(view, store);
    let found = blockers::find(&view.graph, &states);
    let id = |n: usize| view.graph.id(NodeIndex::new(n)).clone();
    let root_blockers = found
        .roots
        .iter()
        .map(|r| RootReport {
            id: id(r.node),
            status: store.status(&id(r.node)).into_owned(),
            waiting: r.waiting.len(),
            chains: r.waiting.iter().take(MAX_CHAINS).map(|&w| found.chain(w, r.node).into_iter().map(id).collect()).collect(),
        })
        .collect();
    let mut not_in_git: Vec<Listed> = not_in_git(snapshot, store).into_iter().map(|(id, s)| Listed { id: id.clone(), status: s.clone() }).collect();
    not_in_git.sort_by(|a, b| a.id.cmp(&b.id));
    Report {
        version: 1,
        cluster: view.cluster.name.clone(),
        counts: count(&states),
        blocked: found.any_blocked(&states),
        root_blockers,
        not_in_git,
        stale: stale(store),
        loading: store.loading(view.graph.graph.node_indices().map(|n| view.graph.id(n).kind)),
    }
}

impl Report {
    /// For a terminal: each root blocker, its reason and message, and its chains.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let c = &self.counts;
        let mut out = format!(
            "cluster {}: {} ready, {} progressing, {} failed, {} waiting, {} suspended, {} stalled, {} not yet applied{}\n",
            self.cluster,
            c.ready,
            c.progressing,
            c.failed,
            c.waiting,
            c.suspended,
            c.stalled,
            c.not_applied,
            if c.loading > 0 { format!(", {} loading", c.loading) } else { String::new() }
        );
        if let Some(s) = &self.stale {
            let _ = writeln!(out, "status may be stale: {}", s.why);
        }
        if !self.loading.is_empty() {
            let kinds: Vec<String> = self.loading.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "status still loading: the cluster's list of {} has not come back; those objects are not known yet", kinds.join(", "));
        }
        if self.root_blockers.is_empty() {
            out.push_str("nothing is blocked\n");
        }
        for r in &self.root_blockers {
            let _ = writeln!(out, "\n{} is {} ({}): {}", r.id, r.status.state.label(), r.status.reason, r.status.message);
            let _ = writeln!(out, "  {} waiting behind it", r.waiting);
            for chain in &r.chains {
                let names: Vec<String> = chain.iter().map(ToString::to_string).collect();
                let _ = writeln!(out, "  {}", names.join(" -> "));
            }
            if r.waiting > r.chains.len() {
                let _ = writeln!(out, "  and {} more", r.waiting - r.chains.len());
            }
        }
        if !self.not_in_git.is_empty() {
            let _ = writeln!(out, "\nin the cluster, not in git:");
            for l in &self.not_in_git {
                let _ = writeln!(out, "  {} ({})", l.id, l.status.state.label());
            }
        }
        out
    }
}
