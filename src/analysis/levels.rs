//! Levels (waves): Level(X) = 0 without prerequisites, else 1 + the highest level among
//! them. Objects on a cycle, or waiting (transitively) on one, never reconcile: no level.
//!
//! O(V + E): Tarjan's strongly connected components (petgraph) come out in reverse
//! topological order of the prerequisite graph, so every prerequisite's level is known
//! before the level of what waits on it.

use super::prerequisites::Prerequisites;

pub type Level = u32;

/// The level of every node, by index; `None` on or behind a cycle.
pub fn compute(pre: &Prerequisites) -> Vec<Option<Level>> {
    let mut levels: Vec<Option<Level>> = vec![None; pre.len()];
    let mut done = vec![false; pre.len()];
    for scc in &pre.components {
        let x = scc[0];
        let on_cycle = scc.len() > 1 || pre.waits_on[x].iter().any(|&(p, _)| p == x);
        for &n in scc {
            done[n] = true;
        }
        if on_cycle {
            continue;
        }
        let mut level = Some(0);
        for &(p, _) in &pre.waits_on[x] {
            debug_assert!(done[p]);
            level = match (level, levels[p]) {
                (Some(l), Some(lp)) => Some(l.max(lp + 1)),
                _ => None,
            };
        }
        levels[x] = level;
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::prerequisites::Wait;

    fn pre(n: usize, edges: &[(usize, usize)]) -> Prerequisites {
        Prerequisites::from_edges(n, edges.iter().map(|&(x, y)| (x, y, Wait::DependsOn)))
    }

    /// Node count, edges (waiting, waited on), expected levels.
    type Case = (usize, &'static [(usize, usize)], &'static [Option<Level>]);

    #[test]
    fn table() {
        let cases: &[Case] = &[
            (1, &[], &[Some(0)]),
            (3, &[(1, 0), (2, 1)], &[Some(0), Some(1), Some(2)]),
            (4, &[(1, 0), (2, 0), (3, 1), (3, 2), (2, 1)], &[Some(0), Some(1), Some(2), Some(3)]),
            // a <-> b, c waits on a, d independent.
            (4, &[(0, 1), (1, 0), (2, 0)], &[None, None, None, Some(0)]),
            // self loop
            (2, &[(0, 0), (1, 0)], &[None, None]),
        ];
        for (n, edges, expected) in cases {
            assert_eq!(compute(&pre(*n, edges)), *expected, "{edges:?}");
        }
    }
}
