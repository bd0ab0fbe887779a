//! The prerequisite graph: X → P when X cannot reconcile before P. Flux reconciles X
//! after every `dependsOn` target is Ready and after the Kustomization that applies X
//! has applied it, so the prerequisites of X are its dependsOn targets plus its parents —
//! except for what was applied at the start, which a later re-apply does not hold back.

use petgraph::algo::tarjan_scc;
use petgraph::graph::NodeIndex;

use crate::graph::{EdgeKind, Graph};

/// Why one object waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Wait {
    /// A `dependsOn` target: waited for until Ready.
    DependsOn,
    /// The Kustomization that applies it: waited for until applied.
    Parent,
}

/// For each node (by index in the cluster's graph), what it waits for and what waits for it.
#[derive(Debug, Clone, Default)]
pub struct Prerequisites {
    pub waits_on: Vec<Vec<(usize, Wait)>>,
    pub waited_by: Vec<Vec<(usize, Wait)>>,
    /// Strongly connected components (Tarjan, petgraph), in reverse topological order: every
    /// prerequisite's component before the components that wait on it. Levels and cycles
    /// both read them, so they are found once.
    pub components: Vec<Vec<usize>>,
}

impl Prerequisites {
    pub fn new(graph: &Graph) -> Prerequisites {
        let edges = graph.graph.edge_indices().filter_map(|e| {
            let (a, b) = graph.graph.edge_endpoints(e)?;
            match graph.graph[e] {
                EdgeKind::DependsOn => Some((a.index(), b.index(), Wait::DependsOn)),
                // A Kustomization applying its own manifest does not wait on itself, and
                // what was applied at the start (bootstrap, the operator, by hand) exists
                // before any Kustomization re-applies it (kustomize-controller's
                // checkDependencies asks only that a dependency exist and be Ready).
                EdgeKind::Applies if a == b || graph.applied_at_start(b) => None,
                // `applies` runs parent → child; the child waits on the parent.
                EdgeKind::Applies => Some((b.index(), a.index(), Wait::Parent)),
                EdgeKind::Source => None,
            }
        });
        Prerequisites::from_edges(graph.len(), edges)
    }

    /// From `n` nodes and (waiting, waited on, why) edges.
    pub fn from_edges(n: usize, edges: impl IntoIterator<Item = (usize, usize, Wait)>) -> Prerequisites {
        let mut p = Prerequisites { waits_on: vec![Vec::new(); n], waited_by: vec![Vec::new(); n], components: Vec::new() };
        for (x, pre, wait) in edges {
            p.waits_on[x].push((pre, wait));
            p.waited_by[pre].push((x, wait));
        }
        for list in p.waits_on.iter_mut().chain(p.waited_by.iter_mut()) {
            list.sort();
            list.dedup();
        }
        p.components = tarjan_scc(&p.to_petgraph()).into_iter().map(|c| c.into_iter().map(NodeIndex::index).collect()).collect();
        p
    }

    pub fn len(&self) -> usize {
        self.waits_on.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waits_on.is_empty()
    }

    /// As a petgraph graph (for its SCC algorithm), edges X → P.
    fn to_petgraph(&self) -> petgraph::graph::DiGraph<(), Wait> {
        let mut g = petgraph::graph::DiGraph::with_capacity(self.len(), 0);
        for _ in 0..self.len() {
            g.add_node(());
        }
        for (x, list) in self.waits_on.iter().enumerate() {
            for &(p, w) in list {
                g.add_edge(NodeIndex::new(x), NodeIndex::new(p), w);
            }
        }
        g
    }
}
