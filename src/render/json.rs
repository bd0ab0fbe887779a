//! The machine-readable document of DESIGN.md, shared by `fluxgraph check/graph --format
//! json` and `GET /api/graph`: `{"version": 1, "clusters": [...], "diagnostics": [...]}`, of
//! the same shape whatever the number of clusters, so a consumer reads it one way.

use serde::Serialize;

use crate::analysis::Analysis;
use crate::diagnostic::Diagnostic;
use crate::graph::EdgeKind;
use crate::model::{Kind, ObjectId};
use crate::snapshot::{ClusterView, Snapshot, UnknownCluster};

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

/// The version of the document's shape; it changes only when a consumer would have to.
pub const VERSION: u32 = 1;

/// The whole document.
#[derive(Serialize)]
pub struct Document<'a> {
    pub version: u32,
    pub clusters: Vec<ClusterDocument<'a>>,
    /// Findings that belong to no cluster.
    pub diagnostics: &'a [Diagnostic],
}

/// One cluster: its graph, its analysis and its own diagnostics.
#[derive(Serialize)]
pub struct ClusterDocument<'a> {
    pub name: &'a str,
    pub entry: &'a str,
    pub nodes: Vec<Node<'a>>,
    pub edges: Vec<Edge<'a>>,
    pub levels: &'a [Vec<ObjectId>],
    pub critical_path: &'a [ObjectId],
    pub weighted_path: Timing<'a>,
    pub cycles: Vec<&'a [ObjectId]>,
    pub diagnostics: Vec<&'a Diagnostic>,
}

pub fn cluster_document(view: &ClusterView) -> ClusterDocument<'_> {
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
    let mut all: Vec<&Diagnostic> = diagnostics.iter().collect();
    all.sort();
    ClusterDocument {
        name: &cluster.name,
        entry: &cluster.entry,
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

/// The document for the whole snapshot: every cluster, or only the one `cluster` names (an
/// error naming the clusters there are when none has that name).
pub fn document<'a>(snapshot: &'a Snapshot, cluster: Option<&str>) -> Result<Document<'a>, UnknownCluster> {
    let only = cluster.map(|name| snapshot.named(name)).transpose()?;
    Ok(document_of(snapshot, only))
}

/// The document of every cluster of `snapshot`, or of `only`.
pub fn document_of<'a>(snapshot: &'a Snapshot, only: Option<&'a ClusterView>) -> Document<'a> {
    let clusters = match only {
        Some(view) => vec![cluster_document(view)],
        None => snapshot.clusters.iter().map(cluster_document).collect(),
    };
    Document { version: VERSION, clusters, diagnostics: &snapshot.diagnostics }
}

fn pretty(document: &Document<'_>) -> String {
    let mut text = serde_json::to_string_pretty(document).expect("a document serialises");
    text.push('\n');
    text
}

/// [`document`], pretty-printed, with a final newline.
pub fn render(snapshot: &Snapshot, cluster: Option<&str>) -> Result<String, UnknownCluster> {
    Ok(pretty(&document(snapshot, cluster)?))
}

/// [`document_of`], pretty-printed, with a final newline.
pub fn render_document(snapshot: &Snapshot, only: Option<&ClusterView>) -> String {
    pretty(&document_of(snapshot, only))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::render::fixture;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn names(doc: &Value) -> Vec<&str> {
        doc["clusters"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
    }

    #[test]
    fn every_number_of_clusters_gives_the_same_shape() {
        let many = parse(&render(&fixture::two_clusters(), None).unwrap());
        let one = parse(&render(&fixture::one_cluster(), None).unwrap());
        let empty = Snapshot { clusters: Vec::new(), ..fixture::two_clusters() };
        let none = parse(&render(&empty, None).unwrap());
        for doc in [&many, &one, &none] {
            let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["version", "clusters", "diagnostics"]);
            assert_eq!(doc["version"], VERSION);
            for cluster in doc["clusters"].as_array().unwrap() {
                let keys: Vec<&String> = cluster.as_object().unwrap().keys().collect();
                assert_eq!(
                    keys,
                    ["name", "entry", "nodes", "edges", "levels", "critical_path", "weighted_path", "cycles", "diagnostics"]
                );
            }
        }
        assert_eq!(names(&many), ["a", "b"]);
        assert_eq!(names(&one), ["a"]);
        assert!(names(&none).is_empty());
        assert_eq!(many["clusters"][0]["entry"], "clusters/a/flux-system/gotk-sync.yaml");
    }

    #[test]
    fn outside_findings_stay_outside_the_clusters() {
        let doc = parse(&render(&fixture::two_clusters(), None).unwrap());
        let codes = |d: &Value| d["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(codes(&doc), ["not-applied"]);
        assert_eq!(doc["diagnostics"][0]["object"], "Kustomization/orphan");
        assert_eq!(codes(&doc["clusters"][0]), ["missing-dependency"]);
        assert_eq!(codes(&doc["clusters"][1]), ["missing-dependency", "path-not-found"]);
    }

    #[test]
    fn naming_a_cluster_keeps_it_alone() {
        let snapshot = fixture::two_clusters();
        let all = parse(&render(&snapshot, None).unwrap());
        let b = parse(&render(&snapshot, Some("b")).unwrap());
        assert_eq!(names(&b), ["b"]);
        assert_eq!(b["clusters"][0], all["clusters"][1]);
        assert_eq!(b["diagnostics"], all["diagnostics"], "the findings outside every cluster stay");
        let error = render(&snapshot, Some("mars")).unwrap_err();
        assert_eq!(error.to_string(), "no cluster named \"mars\"; the clusters are: a, b");
    }
}
