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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::prerequisites::Wait;

    #[test]
    fn closures_reach_each_object_once_at_its_nearest_distance() {
        // d waits on b and c, which wait on a; e waits on d.
        let pre = Prerequisites::from_edges(5, [(1, 0), (2, 0), (3, 1), (3, 2), (4, 3)].map(|(x, p)| (x, p, Wait::DependsOn)));
        let cases: &[(&str, usize, Direction, Option<usize>, &[(usize, usize)])] = &[
            ("everything downstream of the root", 0, Direction::Downstream, None, &[(1, 1), (2, 1), (3, 2), (4, 3)]),
            ("one hop downstream", 0, Direction::Downstream, Some(1), &[(1, 1), (2, 1)]),
            ("everything upstream of the leaf", 4, Direction::Upstream, None, &[(0, 3), (1, 2), (2, 2), (3, 1)]),
            ("two hops upstream", 4, Direction::Upstream, Some(2), &[(1, 2), (2, 2), (3, 1)]),
            ("nothing waits on the leaf", 4, Direction::Downstream, None, &[]),
            ("depth zero reaches nothing", 0, Direction::Downstream, Some(0), &[]),
        ];
        for (name, start, direction, depth, expected) in cases {
            assert_eq!(closure(&pre, *start, *direction, *depth), *expected, "{name}");
        }
    }
}
