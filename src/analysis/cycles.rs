//! Cycles: strongly connected components of the prerequisite graph (Tarjan, O(V + E)),
//! self-loops included, so a parent that dependsOn its own child is found too. Each cycle
//! comes with the edges that close it and the one edge suggested for cutting.

use super::prerequisites::{Prerequisites, Wait};
use crate::graph::Graph;
use crate::model::ObjectId;

/// One deadlock: objects that wait on each other, so none ever reconciles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Members in the order of one loop through them, starting at the smallest id.
    pub members: Vec<ObjectId>,
    /// Every prerequisite edge inside the component: (waiting, waited on, why).
    pub edges: Vec<(ObjectId, ObjectId, Wait)>,
    /// The edge to remove: a `dependsOn` (parents cannot be cut by editing one line),
    /// the one whose removal leaves the fewest objects waiting on the cycle.
    pub cut: (ObjectId, ObjectId),
}

pub fn find(pre: &Prerequisites, graph: &Graph) -> Vec<Cycle> {
    let mut cycles = Vec::new();
    for scc in &pre.components {
        let first = scc[0];
        let self_loop = pre.waits_on[first].iter().any(|&(p, _)| p == first);
        if scc.len() == 1 && !self_loop {
            continue;
        }
        let mut members: Vec<usize> = scc.clone();
        members.sort();
        let in_scc = |n: usize| members.binary_search(&n).is_ok();
        let mut edges = Vec::new();
        for &x in &members {
            for &(p, w) in &pre.waits_on[x] {
                if in_scc(p) {
                    edges.push((x, p, w));
                }
            }
        }
        let order = loop_order(&members, &edges);
        let cut = suggest_cut(&edges, pre, &in_scc);
        let id = |n: usize| graph.id(petgraph::graph::NodeIndex::new(n)).clone();
        cycles.push(Cycle {
            members: order.into_iter().map(id).collect(),
            edges: edges.iter().map(|&(x, p, w)| (id(x), id(p), w)).collect(),
            cut: (id(cut.0), id(cut.1)),
        });
    }
    cycles.sort_by(|a, b| a.members.cmp(&b.members));
    cycles
}

/// One walk around the component from its smallest member, as Flux prints a cycle
/// (`a -> b -> c -> a`); members the walk misses follow in id order.
fn loop_order(members: &[usize], edges: &[(usize, usize, Wait)]) -> Vec<usize> {
    let start = members[0];
    let mut order = vec![start];
    let mut current = start;
    loop {
        let next = edges.iter().filter(|e| e.0 == current).map(|e| e.1).filter(|n| !order.contains(n)).min();
        match next {
            Some(n) => {
                order.push(n);
                current = n;
            }
            None => break,
        }
    }
    for &m in members {
        if !order.contains(&m) {
            order.push(m);
        }
    }
    order
}

fn suggest_cut(edges: &[(usize, usize, Wait)], pre: &Prerequisites, in_scc: &dyn Fn(usize) -> bool) -> (usize, usize) {
    // Prefer a dependsOn edge whose waiting end has the fewest dependents outside the
    // cycle: cutting there unblocks the cycle while changing the least of the order.
    let outside_dependents = |x: usize| pre.waited_by[x].iter().filter(|&&(w, _)| !in_scc(w)).count();
    edges
        .iter()
        .filter(|e| e.2 == Wait::DependsOn)
        .min_by_key(|e| (outside_dependents(e.0), e.0, e.1))
        .or_else(|| edges.first())
        .map(|e| (e.0, e.1))
        .expect("a cycle has at least one edge")
}
