//! Closures: what an object waits on (upstream) and what waits on it (downstream), to any
//! depth or to a given one. Breadth-first, O(V + E).

use std::collections::VecDeque;

use super::prerequisites::Prerequisites;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// What it waits on.
    Upstream,
    /// What waits on it.
    Downstream,
}

/// Node indices within `depth` hops (all when `None`) of `start`, with their distance;
/// `start` itself excluded.
pub fn closure(pre: &Prerequisites, start: usize, direction: Direction, depth: Option<usize>) -> Vec<(usize, usize)> {
    let mut seen = vec![false; pre.len()];
    seen[start] = true;
    let mut queue = VecDeque::from([(start, 0)]);
    let mut out = Vec::new();
    while let Some((x, d)) = queue.pop_front() {
        if depth.is_some_and(|max| d >= max) {
            continue;
        }
        let next = match direction {
            Direction::Upstream => &pre.waits_on[x],
            Direction::Downstream => &pre.waited_by[x],
        };
        for &(y, _) in next {
            if !seen[y] {
                seen[y] = true;
                out.push((y, d + 1));
                queue.push_back((y, d + 1));
            }
        }
    }
    out.sort();
    out
}
