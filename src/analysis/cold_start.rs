//! A worst-case cold-start estimate: every object takes its worst case, a dependency
//! that is not Ready costs a 30 s requeue, and each controller reconciles at most 4
//! objects at a time (`--concurrent`, the default of kustomize-, helm- and
//! source-controller; flux-operator's ResourceSets are given the same limit). List
//! scheduling in order of readiness, O((V + E) log V).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::critical_path::earliest_after;
use super::levels::Level;
use super::prerequisites::Prerequisites;
use crate::graph::Graph;
use crate::model::{Duration, Kind};

/// Objects each controller reconciles at once.
pub const CONCURRENT: usize = 4;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColdStart {
    /// When the last object is Ready, with 4 workers per controller.
    pub total: Duration,
    /// The same without the concurrency limit: the weighted critical path's length.
    pub unlimited: Duration,
    /// Objects that never get Ready (on or behind a cycle).
    pub never: usize,
}

/// `unlimited` is the same estimate without the limit: the weighted critical path's length.
pub fn estimate(pre: &Prerequisites, levels: &[Option<Level>], weights: &[Duration], graph: &Graph, unlimited: Duration) -> ColdStart {
    let n = pre.len();
    let controller = |i: usize| match graph.id(petgraph::graph::NodeIndex::new(i)).kind {
        Kind::Kustomization => 0,
        Kind::HelmRelease => 1,
        Kind::ResourceSet => 3,
        _ => 2,
    };
    let mut waiting: Vec<usize> = (0..n).map(|i| pre.waits_on[i].len()).collect();
    let mut eligible_at = vec![Duration::ZERO; n];
    let mut times: Vec<Option<(Duration, Duration)>> = vec![None; n];
    let mut free: [BinaryHeap<Reverse<Duration>>; 4] = Default::default();
    for heap in &mut free {
        heap.extend(std::iter::repeat_n(Reverse(Duration::ZERO), CONCURRENT));
    }
    let mut queue: BinaryHeap<Reverse<(Duration, usize)>> =
        (0..n).filter(|&i| waiting[i] == 0 && levels[i].is_some()).map(|i| Reverse((Duration::ZERO, i))).collect();
    let mut total = Duration::ZERO;
    while let Some(Reverse((at, x))) = queue.pop() {
        let slots = &mut free[controller(x)];
        let Reverse(slot) = slots.pop().expect("CONCURRENT slots");
        let start = at.max(slot);
        let ready = Duration(start.0 + weights[x].0);
        slots.push(Reverse(ready));
        times[x] = Some((start, ready));
        total = total.max(ready);
        for &(w, why) in &pre.waited_by[x] {
            if levels[w].is_none() {
                continue;
            }
            eligible_at[w] = eligible_at[w].max(earliest_after(why, start, ready));
            waiting[w] -= 1;
            if waiting[w] == 0 {
                queue.push(Reverse((eligible_at[w], w)));
            }
        }
    }
    ColdStart { total, unlimited, never: levels.iter().filter(|l| l.is_none()).count() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::levels;
    use crate::analysis::prerequisites::Wait;
    use crate::model::ObjectId;

    const MIN: u64 = 60_000;

    /// Kinds of the nodes, edges (waiting, waited on), each worst case in minutes, and the
    /// estimate expected with four workers per controller, and how many never get Ready.
    struct Case {
        name: &'static str,
        kinds: &'static [Kind],
        edges: &'static [(usize, usize)],
        minutes: &'static [u64],
        total_minutes: u64,
        never: usize,
    }

    #[test]
    fn a_cold_start_with_four_workers_per_controller() {
        use Kind::{HelmRelease as H, Kustomization as K};
        let cases = [
            Case { name: "four at once fit the workers", kinds: &[K; 4], edges: &[], minutes: &[10; 4], total_minutes: 10, never: 0 },
            Case { name: "a fifth waits for a worker", kinds: &[K; 5], edges: &[], minutes: &[10; 5], total_minutes: 20, never: 0 },
            Case { name: "each controller has its own workers", kinds: &[K, K, K, K, H, H, H, H], edges: &[], minutes: &[10; 8], total_minutes: 10, never: 0 },
            Case { name: "a cycle never gets Ready, the rest does", kinds: &[K; 3], edges: &[(0, 1), (1, 0)], minutes: &[10; 3], total_minutes: 10, never: 2 },
        ];
        for case in cases {
            let n = case.kinds.len();
            let ids: Vec<ObjectId> = case.kinds.iter().enumerate().map(|(i, k)| ObjectId::new(*k, "flux-system", format!("o{i}"))).collect();
            let graph = Graph::of_ids(&ids);
            let pre = Prerequisites::from_edges(n, case.edges.iter().map(|&(x, p)| (x, p, Wait::DependsOn)));
            let levels = levels::compute(&pre);
            let weights: Vec<Duration> = case.minutes.iter().map(|m| Duration(m * MIN)).collect();
            let estimate = estimate(&pre, &levels, &weights, &graph, Duration(7));
            assert_eq!(estimate.total, Duration(case.total_minutes * MIN), "{}", case.name);
            assert_eq!(estimate.never, case.never, "{}", case.name);
            assert_eq!(estimate.unlimited, Duration(7), "{}: the unlimited figure is passed through", case.name);
        }
    }
}
