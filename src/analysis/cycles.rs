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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    fn ids(n: usize) -> Vec<ObjectId> {
        (0..n).map(|i| ObjectId::new(Kind::Kustomization, "flux-system", format!("{}", (b'a' + i as u8) as char))).collect()
    }

    /// Nodes, prerequisite edges (waiting, waited on, why), the cycles' members in loop order,
    /// and the edge suggested for cutting in each.
    struct Case {
        name: &'static str,
        nodes: usize,
        edges: &'static [(usize, usize, Wait)],
        cycles: &'static [(&'static [&'static str], (&'static str, &'static str))],
    }

    #[test]
    fn cycles_are_found_read_in_loop_order_and_cut_at_a_depends_on() {
        use Wait::{DependsOn as D, Parent as P};
        let cases = [
            Case { name: "a chain has none", nodes: 3, edges: &[(1, 0, D), (2, 1, D)], cycles: &[] },
            Case { name: "a Kustomization that dependsOn itself", nodes: 1, edges: &[(0, 0, D)], cycles: &[(&["a"], ("a", "a"))] },
            Case { name: "two that wait on each other", nodes: 2, edges: &[(0, 1, D), (1, 0, D)], cycles: &[(&["a", "b"], ("a", "b"))] },
            Case { name: "a loop of three reads a -> b -> c", nodes: 3, edges: &[(0, 1, D), (1, 2, D), (2, 0, D)], cycles: &[(&["a", "b", "c"], ("a", "b"))] },
            Case { name: "a parent that dependsOn its child is cut at the dependsOn", nodes: 2, edges: &[(1, 0, P), (0, 1, D)], cycles: &[(&["a", "b"], ("a", "b"))] },
            Case {
                name: "the cut leaves the fewest waiting outside",
                nodes: 4,
                // a <-> b; c and d wait on a, nothing on b: cut b's dependsOn on a.
                edges: &[(0, 1, D), (1, 0, D), (2, 0, D), (3, 0, D)],
                cycles: &[(&["a", "b"], ("b", "a"))],
            },
            Case {
                name: "two separate cycles, in id order",
                nodes: 4,
                edges: &[(0, 1, D), (1, 0, D), (2, 3, D), (3, 2, D)],
                cycles: &[(&["a", "b"], ("a", "b")), (&["c", "d"], ("c", "d"))],
            },
        ];
        for case in cases {
            let graph = Graph::of_ids(&ids(case.nodes));
            let pre = Prerequisites::from_edges(case.nodes, case.edges.iter().copied());
            let found: Vec<(Vec<String>, (String, String))> = find(&pre, &graph)
                .into_iter()
                .map(|c| (c.members.iter().map(|m| m.name.clone()).collect(), (c.cut.0.name.clone(), c.cut.1.name.clone())))
                .collect();
            let expected: Vec<(Vec<String>, (String, String))> = case
                .cycles
                .iter()
                .map(|(members, cut)| (members.iter().map(|m| m.to_string()).collect(), (cut.0.to_string(), cut.1.to_string())))
                .collect();
            assert_eq!(found, expected, "{}", case.name);
        }
    }
}
