//! Root blockers: for every object that is not Ready, the objects it ultimately waits on —
//! not Ready themselves while everything *they* wait on is. What an object waits on here:
//! its `dependsOn` targets, the Kustomization that applies it, and its source (a source
//! that fails blocks what it feeds).
//!
//! Over the graph of not-Ready objects, each strongly connected component (Tarjan, in
//! petgraph's reverse topological order, so prerequisites come first) either waits on no
//! other not-Ready component — its members are root blockers (a cycle of them blocks as
//! one) — or inherits the roots of those it waits on. O(V + E + Σ roots).

use std::collections::VecDeque;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::State;
use crate::graph::{EdgeKind, Graph};

/// What each node waits on, by node index (dependsOn, parents, sources).
pub fn waits_on(graph: &Graph) -> Vec<Vec<usize>> {
    let mut waits = vec![Vec::new(); graph.len()];
    for e in graph.graph.edge_indices() {
        let Some((a, b)) = graph.graph.edge_endpoints(e) else { continue };
        match graph.graph[e] {
            EdgeKind::DependsOn | EdgeKind::Source if a != b => waits[a.index()].push(b.index()),
            EdgeKind::Applies if a != b => waits[b.index()].push(a.index()),
            _ => {}
        }
    }
    for list in &mut waits {
        list.sort_unstable();
        list.dedup();
    }
    waits
}

/// One root blocker and what waits behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub node: usize,
    /// The not-Ready objects (other than itself) whose roots include it, by node index.
    pub waiting: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Blockers {
    /// For each node, its root blockers; empty for a Ready node; `[itself]` for a root.
    pub roots_of: Vec<Vec<usize>>,
    /// Every root blocker, most waited on first.
    pub roots: Vec<Root>,
    waits_on: Vec<Vec<usize>>,
}

/// The root blockers of a graph whose nodes are in `states` (by node index).
pub fn find(graph: &Graph, states: &[State]) -> Blockers {
    let waits_on = waits_on(graph);
    let n = waits_on.len();
    // An object not known yet (its kind's list has not come back) blocks nothing: what waits
    // on it is judged on its own.
    let not_ready = |i: usize| states.get(i).is_some_and(|s| !matches!(s, State::Ready | State::Loading));
    let mut sub = DiGraph::<(), ()>::with_capacity(n, 0);
    for _ in 0..n {
        sub.add_node(());
    }
    for (x, list) in waits_on.iter().enumerate().filter(|(x, _)| not_ready(*x)) {
        for &p in list.iter().filter(|&&p| not_ready(p)) {
            sub.add_edge(NodeIndex::new(x), NodeIndex::new(p), ());
        }
    }
    let mut component_of = vec![usize::MAX; n];
    let mut roots_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (c, members) in tarjan_scc(&sub).into_iter().enumerate() {
        let members: Vec<usize> = members.into_iter().map(NodeIndex::index).collect();
        for &m in &members {
            component_of[m] = c;
        }
        if !not_ready(members[0]) {
            continue;
        }
        // Prerequisites' components are done already (reverse topological order).
        let mut roots: Vec<usize> = members
            .iter()
            .flat_map(|&m| sub.neighbors(NodeIndex::new(m)).map(NodeIndex::index))
            .filter(|p| component_of[*p] != c)
            .flat_map(|p| roots_of[p].iter().copied())
            .collect();
        if roots.is_empty() && !members.iter().any(|&m| sub.neighbors(NodeIndex::new(m)).any(|p| component_of[p.index()] != c)) {
            roots = members.clone();
        }
        roots.sort_unstable();
        roots.dedup();
        for &m in &members {
            roots_of[m] = roots.clone();
        }
    }
    let mut waiting: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (x, roots) in roots_of.iter().enumerate() {
        for &r in roots.iter().filter(|&&r| r != x) {
            waiting[r].push(x);
        }
    }
    let mut roots: Vec<Root> = (0..n).filter(|&x| roots_of[x].contains(&x)).map(|x| Root { node: x, waiting: std::mem::take(&mut waiting[x]) }).collect();
    roots.sort_by(|a, b| b.waiting.len().cmp(&a.waiting.len()).then(graph.id(NodeIndex::new(a.node)).cmp(graph.id(NodeIndex::new(b.node)))));
    Blockers { roots_of, roots, waits_on }
}

impl Blockers {
    /// The shortest chain from `from` to its root blocker `root` through not-Ready objects
    /// that wait on that root: `[from, …, root]`; `[root]` when `from` is the root.
    pub fn chain(&self, from: usize, root: usize) -> Vec<usize> {
        let on_way = |x: usize| self.roots_of.get(x).is_some_and(|r| r.binary_search(&root).is_ok());
        if !on_way(from) {
            return Vec::new();
        }
        let mut previous = vec![usize::MAX; self.roots_of.len()];
        previous[from] = from;
        let mut queue = VecDeque::from([from]);
        while let Some(x) = queue.pop_front() {
            if x == root {
                let mut chain = vec![root];
                let mut at = root;
                while at != from {
                    at = previous[at];
                    chain.push(at);
                }
                chain.reverse();
                return chain;
            }
            for &p in &self.waits_on[x] {
                if previous[p] == usize::MAX && on_way(p) {
                    previous[p] = x;
                    queue.push_back(p);
                }
            }
        }
        Vec::new()
    }

    /// Whether anything is blocked: a root blocker in a state of its own (failed, waiting
    /// on something missing, suspended, stalled, not applied), not merely in progress.
    pub fn any_blocked(&self, states: &[State]) -> bool {
        self.roots.iter().any(|r| states[r.node].blocks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Cluster;
    use crate::model::{Kind, ObjectId};

    /// A graph over `names` (Kustomizations in `ns`) with `(from, to, kind)` edges.
    fn graph(names: &[&str], edges: &[(&str, &str, EdgeKind)]) -> Graph {
        let id = |n: &str| ObjectId::new(if n.starts_with("git") { Kind::GitRepository } else { Kind::Kustomization }, "ns", n);
        let mut cluster = Cluster::default();
        for n in names {
            let manifest = std::sync::Arc::new(crate::load::Node::new(1, crate::load::Value::Null));
            cluster.objects.insert(id(n), crate::model::FluxObject { id: id(n), file: String::new(), line: 1, spec: crate::model::Spec::Other, manifest, implied: false });
        }
        let mut g = crate::graph::build(&cluster);
        for (a, b, k) in edges {
            let (a, b) = (g.node(&id(a)).unwrap(), g.node(&id(b)).unwrap());
            g.graph.add_edge(a, b, *k);
        }
        g
    }

    fn names(g: &Graph, nodes: &[usize]) -> Vec<String> {
        nodes.iter().map(|&n| g.id(NodeIndex::new(n)).name.clone()).collect()
    }

    fn states(g: &Graph, of: &[(&str, State)]) -> Vec<State> {
        g.graph.node_indices().map(|n| of.iter().find(|(name, _)| *name == g.id(n).name).map_or(State::Ready, |s| s.1)).collect()
    }

    #[test]
    fn a_failing_health_check_is_the_one_root_of_what_waits() {
        use EdgeKind::*;
        // root applies infra; infra applies ceph; app1, app2 dependsOn ceph; app3 dependsOn app1.
        let g = graph(
            &["app1", "app2", "app3", "ceph", "infra", "root"],
            &[("root", "infra", Applies), ("infra", "ceph", Applies), ("root", "app1", Applies), ("root", "app2", Applies), ("root", "app3", Applies), ("app1", "ceph", DependsOn), ("app2", "ceph", DependsOn), ("app3", "app1", DependsOn)],
        );
        let s = states(&g, &[("ceph", State::Failed), ("app1", State::Waiting), ("app2", State::Waiting), ("app3", State::Waiting)]);
        let b = find(&g, &s);
        assert_eq!(b.roots.len(), 1);
        assert_eq!(names(&g, &[b.roots[0].node]), ["ceph"]);
        assert_eq!(names(&g, &b.roots[0].waiting), ["app1", "app2", "app3"]);
        let (app3, ceph) = (g.node(&ObjectId::new(Kind::Kustomization, "ns", "app3")).unwrap().index(), b.roots[0].node);
        assert_eq!(names(&g, &b.chain(app3, ceph)), ["app3", "app1", "ceph"]);
        assert_eq!(b.chain(ceph, ceph), vec![ceph]);
        assert!(b.any_blocked(&s));
        // All Ready: nothing blocks.
        let ready = find(&g, &states(&g, &[]));
        assert!(ready.roots.is_empty() && ready.roots_of.iter().all(Vec::is_empty));
    }

    #[test]
    fn a_failed_source_blocks_what_it_feeds_and_a_cycle_blocks_as_one() {
        use EdgeKind::*;
        let g = graph(&["a", "b", "c", "git"], &[("a", "git", Source), ("b", "c", DependsOn), ("c", "b", DependsOn)]);
        let s = states(&g, &[("git", State::Failed), ("a", State::Failed), ("b", State::Waiting), ("c", State::Waiting)]);
        let b = find(&g, &s);
        let roots: Vec<(Vec<String>, Vec<String>)> = b.roots.iter().map(|r| (names(&g, &[r.node]), names(&g, &r.waiting))).collect();
        assert_eq!(roots, [(vec!["b".to_string()], vec!["c".to_string()]), (vec!["c".into()], vec!["b".into()]), (vec!["git".into()], vec!["a".into()])]);
        // Progressing alone is not blocked.
        let busy = states(&g, &[("a", State::Progressing)]);
        assert!(!find(&g, &busy).any_blocked(&busy));
    }
}
