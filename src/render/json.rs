//! The machine-readable document of DESIGN.md, shared by `fluxgraph check/graph --format
//! json` and `GET /api/graph`: one cluster's document, or `{"clusters": [...]}`.

use serde::Serialize;

use crate::analysis::Analysis;
use crate::diagnostic::Diagnostic;
use crate::graph::EdgeKind;
use crate::model::{Kind, ObjectId};
use crate::snapshot::{ClusterView, Snapshot};

#[derive(Serialize)]
pub struct Node<'a> {
    pub id: &'a ObjectId,
    pub kind: Kind,
    pub namespace: &'a str,
    pub name: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub level: Option<u32>,
    pub parents: &'a [ObjectId],
    pub suspended: bool,
    /// Made up for what `flux bootstrap` or the Flux Operator creates.
    pub implied: bool,
    /// The source this Kustomization reads when it is not this repository.
    pub external_source: Option<&'a str>,
}

#[derive(Serialize)]
pub struct Edge<'a> {
    pub from: &'a ObjectId,
    pub to: &'a ObjectId,
    pub kind: EdgeKind,
}

#[derive(Serialize)]
pub struct Step<'a> {
    pub id: &'a ObjectId,
    pub start_seconds: u64,
    pub ready_seconds: u64,
}

#[derive(Serialize)]
pub struct Timing<'a> {
    pub steps: Vec<Step<'a>>,
    pub total_seconds: u64,
    pub cold_start_seconds: u64,
}

#[derive(Serialize)]
pub struct ClusterDocument<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<&'a str>,
    pub nodes: Vec<Node<'a>>,
    pub edges: Vec<Edge<'a>>,
    pub levels: &'a [Vec<ObjectId>],
    pub critical_path: &'a [ObjectId],
    pub weighted_path: Timing<'a>,
    pub cycles: Vec<&'a [ObjectId]>,
    pub diagnostics: Vec<&'a Diagnostic>,
}

#[derive(Serialize)]
struct Clusters<'a> {
    clusters: Vec<ClusterDocument<'a>>,
    diagnostics: &'a [Diagnostic],
}

pub fn cluster_document<'a>(view: &'a ClusterView, named: bool, extra: &'a [Diagnostic]) -> ClusterDocument<'a> {
    let ClusterView { cluster, graph, analysis } = view;
    let Analysis { levels, waves, critical_path, weighted_path, cold_start, cycles, diagnostics, .. } = analysis;
    let nodes = cluster
        .objects
        .values()
        .map(|o| Node {
            id: &o.id,
            kind: o.id.kind,
            namespace: &o.id.namespace,
            name: &o.id.name,
            file: &o.file,
            line: o.line,
            level: levels.get(&o.id).copied().flatten(),
            parents: cluster.parents.get(&o.id).map_or(&[], Vec::as_slice),
            suspended: o.suspended(),
            implied: o.implied,
            external_source: cluster.external.get(&o.id).map(String::as_str),
        })
        .collect();
    let edges = graph.edges().into_iter().map(|(from, to, kind)| Edge { from, to, kind }).collect();
    let mut all: Vec<&Diagnostic> = diagnostics.iter().chain(extra).collect();
    all.sort();
    ClusterDocument {
        name: named.then_some(cluster.name.as_str()),
        entry: named.then_some(cluster.entry.as_str()),
        nodes,
        edges,
        levels: waves,
        critical_path: &critical_path.nodes,
        weighted_path: Timing {
            steps: weighted_path
                .steps
                .iter()
                .map(|s| Step { id: &s.id, start_seconds: s.start.as_secs(), ready_seconds: s.ready.as_secs() })
                .collect(),
            total_seconds: weighted_path.total.as_secs(),
            cold_start_seconds: cold_start.total.as_secs(),
        },
        cycles: cycles.iter().map(|c| c.members.as_slice()).collect(),
        diagnostics: all,
    }
}

/// The document for the whole snapshot: a single cluster's document when there is one
/// cluster (or `cluster` names one), else every cluster's.
pub fn render(snapshot: &Snapshot, cluster: Option<&str>) -> Result<String, String> {
    let value = match (cluster, snapshot.clusters.as_slice()) {
        (Some(name), _) => {
            let view = snapshot.cluster_or_first(Some(name))?;
            serde_json::to_string_pretty(&cluster_document(view, false, &snapshot.diagnostics))
        }
        (None, [one]) => serde_json::to_string_pretty(&cluster_document(one, false, &snapshot.diagnostics)),
        (None, []) => serde_json::to_string_pretty(&serde_json::json!({
            "nodes": [], "edges": [], "levels": [], "critical_path": [], "cycles": [],
            "diagnostics": snapshot.diagnostics,
        })),
        (None, many) => serde_json::to_string_pretty(&Clusters {
            clusters: many.iter().map(|v| cluster_document(v, true, &[])).collect(),
            diagnostics: &snapshot.diagnostics,
        }),
    };
    value.map(|mut s| {
        s.push('\n');
        s
    }).map_err(|e| e.to_string())
}

pub fn unknown_cluster(snapshot: &Snapshot, name: &str) -> String {
    let names: Vec<&str> = snapshot.clusters.iter().map(|c| c.cluster.name.as_str()).collect();
    format!("no cluster named {name:?}; the clusters are: {}", names.join(", "))
}
