//! Graph: a [`Cluster`] → a petgraph graph of its Flux objects with typed edges.
//!
//! Nodes are the cluster's objects, in id order (so indices, and everything computed
//! from them, are deterministic). Edges read as sentences: `applies` from a Kustomization
//! to each Flux object in its build (and from a ResourceSet to each object it generates), `dependsOn` from a dependent to the object it waits
//! for, `source` from an object to the source it reads. References to objects that do not
//! exist make no edge; the analysis reports them.

use std::collections::HashMap;
use std::fmt;

use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::cluster::Cluster;
use crate::model::{FluxObject, Kind, ObjectId, Reference};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum EdgeKind {
    #[serde(rename = "dependsOn")]
    DependsOn,
    #[serde(rename = "applies")]
    Applies,
    #[serde(rename = "source")]
    Source,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::DependsOn => "dependsOn",
            EdgeKind::Applies => "applies",
            EdgeKind::Source => "source",
        }
    }
}

impl fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The graph of one cluster.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub graph: DiGraph<ObjectId, EdgeKind>,
    index: HashMap<ObjectId, NodeIndex>,
    /// By node index: applied at the start (a root of the entry point), so a Kustomization
    /// that re-applies it later is not waited for.
    applied_at_start: Vec<bool>,
}

impl Graph {
    pub fn node(&self, id: &ObjectId) -> Option<NodeIndex> {
        self.index.get(id).copied()
    }

    pub fn id(&self, node: NodeIndex) -> &ObjectId {
        &self.graph[node]
    }

    /// Whether the node was applied at the start, by bootstrap, the operator or by hand.
    pub fn applied_at_start(&self, node: NodeIndex) -> bool {
        self.applied_at_start.get(node.index()).copied().unwrap_or(false)
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Every edge as (from, to, kind), in a stable order.
    pub fn edges(&self) -> Vec<(&ObjectId, &ObjectId, EdgeKind)> {
        let mut edges: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some((&self.graph[a], &self.graph[b], self.graph[e]))
            })
            .collect();
        edges.sort();
        edges
    }
}

#[cfg(test)]
impl Graph {
    /// A graph of these objects without edges, for the analyses' tests, whose prerequisites
    /// are given as edges of their own.
    pub(crate) fn of_ids(ids: &[ObjectId]) -> Graph {
        let mut g = Graph::default();
        for id in ids {
            let n = g.graph.add_node(id.clone());
            g.index.insert(id.clone(), n);
            g.applied_at_start.push(false);
        }
        g
    }
}

/// The kind a `dependsOn` entry points at: Kustomizations wait for Kustomizations,
/// HelmReleases for HelmReleases (Flux has no other kind of dependency).
pub fn depends_on_kind(object: &FluxObject) -> Kind {
    object.id.kind
}

/// The object a `dependsOn` entry of `object` points at. Flux's own entries name the
/// dependent's kind and default to its namespace; a ResourceSet's name their kind and
/// keep an empty namespace as flux-operator does (so such an entry finds nothing).
pub fn depends_on_target(object: &FluxObject, r: &Reference) -> ObjectId {
    match object.id.kind {
        Kind::ResourceSet => {
            let kind = r.kind.as_deref().and_then(Kind::parse).unwrap_or(Kind::ResourceSet);
            ObjectId::new(kind, r.namespace.clone().unwrap_or_default(), r.name.clone())
        }
        _ => r.resolve(depends_on_kind(object), &object.id.namespace),
    }
}

/// Builds the graph of a cluster.
pub fn build(cluster: &Cluster) -> Graph {
    let mut g = Graph::default();
    for id in cluster.objects.keys() {
        let n = g.graph.add_node(id.clone());
        g.index.insert(id.clone(), n);
        g.applied_at_start.push(cluster.roots.contains(id));
    }
    for (id, parents) in &cluster.parents {
        let Some(child) = g.node(id) else { continue };
        for parent in parents {
            if let Some(p) = g.node(parent) {
                g.graph.add_edge(p, child, EdgeKind::Applies);
            }
        }
    }
    for id in &cluster.self_applied {
        if let Some(n) = g.node(id) {
            g.graph.add_edge(n, n, EdgeKind::Applies);
        }
    }
    for object in cluster.objects.values() {
        let from = g.index[&object.id];
        for r in object.depends_on() {
            if let Some(to) = g.node(&depends_on_target(object, r)) {
                if !g.graph.edges_connecting(from, to).any(|e| *e.weight() == EdgeKind::DependsOn) {
                    g.graph.add_edge(from, to, EdgeKind::DependsOn);
                }
            }
        }
        for (kind, r) in object.source_refs() {
            if let Some(to) = g.node(&r.resolve(kind, &object.id.namespace)) {
                g.graph.add_edge(from, to, EdgeKind::Source);
            }
        }
    }
    g
}
