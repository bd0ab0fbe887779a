//! Critical paths: the longest chain of prerequisites by hops, and by worst-case time.
//!
//! Worst case per object: a Kustomization with `wait: true` or `healthChecks` may take
//! its whole timeout (`spec.timeout`, else interval − 30 s, at least 30 s, as
//! kustomize-controller computes it); one without is Ready once applied; a HelmRelease
//! may take its timeout (5 m by default), and so may a ResourceSet with `wait: true` (its
//! `reconcileTimeout` annotation, 5 m by default). A dependency that is not Ready is re-checked
//! every 30 s (`--requeue-dependency`), so each `dependsOn` hop may add up to 30 s.
//! Children are created when their parent applies, not when it is Ready. Both paths are
//! longest paths in a DAG, O(V + E) in level order; cycle members are left out.

use super::levels::Level;
use super::prerequisites::{Prerequisites, Wait};
use crate::cluster::Cluster;
use crate::graph::Graph;
use crate::model::{Duration, ObjectId, Spec};

/// How long Flux waits before re-checking a dependency that is not Ready.
pub const REQUEUE_DEPENDENCY: Duration = Duration(30_000);

/// The longest chain by hops, root first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CriticalPath {
    pub nodes: Vec<ObjectId>,
}

/// One object on the weighted path: when it can start and when it is Ready at the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: ObjectId,
    pub start: Duration,
    pub ready: Duration,
    /// Its own worst case (what it adds).
    pub worst_case: Duration,
}

/// The chain that makes a cold start longest in the worst case, root first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeightedPath {
    pub steps: Vec<Step>,
    pub total: Duration,
}

/// Worst-case reconciliation time of every node, by index.
pub fn weights(cluster: &Cluster, graph: &Graph) -> Vec<Duration> {
    graph
        .graph
        .node_indices()
        .map(|n| match &cluster.objects[graph.id(n)].spec {
            Spec::Kustomization(k) if k.waits() => k.effective_timeout(),
            Spec::HelmRelease(h) => h.effective_timeout(),
            Spec::ResourceSet(r) if r.wait => r.timeout,
            _ => Duration::ZERO,
        })
        .collect()
}

/// Start and Ready times of each node by index, without any limit on concurrency (`None`: never).
pub type Timeline = Vec<Option<(Duration, Duration)>>;

pub fn timeline(pre: &Prerequisites, levels: &[Option<Level>], weights: &[Duration]) -> Timeline {
    let mut order: Vec<usize> = (0..pre.len()).filter(|&i| levels[i].is_some()).collect();
    order.sort_by_key(|&i| levels[i]);
    let mut times: Timeline = vec![None; pre.len()];
    for x in order {
        let start = pre.waits_on[x]
            .iter()
            .filter_map(|&(p, w)| times[p].map(|(s, r)| earliest_after(w, s, r)))
            .max()
            .unwrap_or(Duration::ZERO);
        times[x] = Some((start, Duration(start.0 + weights[x].0)));
    }
    times
}

/// When a prerequisite that starts at `start` and is Ready at `ready` lets the waiting
/// object start.
pub fn earliest_after(wait: Wait, start: Duration, ready: Duration) -> Duration {
    match wait {
        Wait::DependsOn => Duration(ready.0 + REQUEUE_DEPENDENCY.0),
        Wait::Parent => start,
    }
}

pub fn by_hops(pre: &Prerequisites, levels: &[Option<Level>], times: &Timeline, graph: &Graph) -> CriticalPath {
    let ready = |i: usize| times[i].map_or(Duration::ZERO, |t| t.1);
    // The deepest object; among equals the one that is Ready last, then the smallest id.
    let Some(mut x) = (0..pre.len()).filter(|&i| levels[i].is_some()).max_by(|&a, &b| {
        (levels[a], ready(a)).cmp(&(levels[b], ready(b))).then(b.cmp(&a))
    }) else {
        return CriticalPath::default();
    };
    let mut path = vec![x];
    while let Some(level) = levels[x].filter(|&l| l > 0) {
        let next = pre.waits_on[x]
            .iter()
            .map(|&(p, _)| p)
            .filter(|&p| levels[p] == Some(level - 1))
            .max_by(|&a, &b| ready(a).cmp(&ready(b)).then(b.cmp(&a)))
            .expect("a prerequisite one level down");
        path.push(next);
        x = next;
    }
    path.reverse();
    CriticalPath { nodes: path.into_iter().map(|i| graph.id(petgraph::graph::NodeIndex::new(i)).clone()).collect() }
}

pub fn by_time(pre: &Prerequisites, levels: &[Option<Level>], weights: &[Duration], times: &Timeline, graph: &Graph) -> WeightedPath {
    let Some(mut x) = (0..pre.len()).filter(|&i| times[i].is_some()).max_by(|&a, &b| {
        (times[a].map(|t| t.1), levels[a]).cmp(&(times[b].map(|t| t.1), levels[b])).then(b.cmp(&a))
    }) else {
        return WeightedPath::default();
    };
    let mut path = vec![x];
    loop {
        let (start, _) = times[x].expect("on the timeline");
        // The prerequisite that decides when x can start.
        let binding = pre.waits_on[x]
            .iter()
            .filter_map(|&(p, w)| times[p].map(|(s, r)| (earliest_after(w, s, r), p)))
            .filter(|&(t, _)| t == start)
            .map(|(_, p)| p)
            .max_by(|&a, &b| levels[a].cmp(&levels[b]).then(b.cmp(&a)));
        match binding {
            Some(p) => {
                path.push(p);
                x = p;
            }
            None => break,
        }
    }
    path.reverse();
    let steps: Vec<Step> = path
        .into_iter()
        .map(|i| {
            let (start, ready) = times[i].expect("on the timeline");
            Step { id: graph.id(petgraph::graph::NodeIndex::new(i)).clone(), start, ready, worst_case: weights[i] }
        })
        .collect();
    let total = steps.last().map_or(Duration::ZERO, |s| s.ready);
    WeightedPath { steps, total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::levels;
    use crate::model::Kind;

    const MIN: u64 = 60_000;

    fn ids(n: usize) -> Vec<ObjectId> {
        (0..n).map(|i| ObjectId::new(Kind::Kustomization, "flux-system", format!("k{i}"))).collect()
    }

    /// Prerequisite edges (waiting, waited on, why), each node's worst case in minutes, and
    /// the two paths expected (node numbers, root first) with the weighted path's total.
    struct Case {
        name: &'static str,
        edges: &'static [(usize, usize, Wait)],
        minutes: &'static [u64],
        by_hops: &'static [usize],
        by_time: &'static [usize],
        total_ms: u64,
    }

    #[test]
    fn the_longest_chains_by_hops_and_by_time() {
        use Wait::{DependsOn as D, Parent as P};
        let cases = [
            Case { name: "one object", edges: &[], minutes: &[5], by_hops: &[0], by_time: &[0], total_ms: 5 * MIN },
            Case {
                name: "each dependsOn hop waits for Ready and a 30 s requeue",
                edges: &[(1, 0, D), (2, 1, D)],
                minutes: &[5, 5, 5],
                by_hops: &[0, 1, 2],
                by_time: &[0, 1, 2],
                total_ms: 15 * MIN + 2 * REQUEUE_DEPENDENCY.0,
            },
            Case {
                name: "a child starts when its parent starts, not when it is Ready",
                edges: &[(1, 0, P)],
                minutes: &[10, 5],
                by_hops: &[0, 1],
                by_time: &[0],
                total_ms: 10 * MIN,
            },
            Case {
                name: "fewer hops can take longer",
                // k0 <- k1 <- k2 <- k3 (1 min each) against k4 (60 min) <- k5 (1 min).
                edges: &[(1, 0, D), (2, 1, D), (3, 2, D), (5, 4, D)],
                minutes: &[1, 1, 1, 1, 60, 1],
                by_hops: &[0, 1, 2, 3],
                by_time: &[4, 5],
                total_ms: 61 * MIN + REQUEUE_DEPENDENCY.0,
            },
        ];
        for case in cases {
            let n = case.minutes.len();
            let graph = Graph::of_ids(&ids(n));
            let pre = Prerequisites::from_edges(n, case.edges.iter().copied());
            let levels = levels::compute(&pre);
            let weights: Vec<Duration> = case.minutes.iter().map(|m| Duration(m * MIN)).collect();
            let times = timeline(&pre, &levels, &weights);
            let name = |i: &usize| format!("k{i}");
            let hops: Vec<String> = by_hops(&pre, &levels, &times, &graph).nodes.iter().map(|id| id.name.clone()).collect();
            assert_eq!(hops, case.by_hops.iter().map(name).collect::<Vec<_>>(), "{}: by hops", case.name);
            let weighted = by_time(&pre, &levels, &weights, &times, &graph);
            let time: Vec<String> = weighted.steps.iter().map(|s| s.id.name.clone()).collect();
            assert_eq!(time, case.by_time.iter().map(name).collect::<Vec<_>>(), "{}: by time", case.name);
            assert_eq!(weighted.total, Duration(case.total_ms), "{}: total", case.name);
        }
    }

    #[test]
    fn what_is_on_a_cycle_is_on_no_path() {
        let graph = Graph::of_ids(&ids(3));
        let pre = Prerequisites::from_edges(3, [(0, 1, Wait::DependsOn), (1, 0, Wait::DependsOn), (2, 0, Wait::DependsOn)]);
        let levels = levels::compute(&pre);
        let weights = vec![Duration(MIN); 3];
        let times = timeline(&pre, &levels, &weights);
        assert!(times.iter().all(Option::is_none));
        assert!(by_hops(&pre, &levels, &times, &graph).nodes.is_empty());
        assert_eq!(by_time(&pre, &levels, &weights, &times, &graph), WeightedPath::default());
    }
}
