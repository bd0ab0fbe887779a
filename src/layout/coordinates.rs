//! Coordinates along the layers (across the layer axis) by Brandes and Köpf 2001, "Fast and Simple Horizontal
//! Coordinate Assignment".
//!
//! Segments crossing an inner segment (dummy to dummy) are marked first (type 1 conflicts, their Alg. 1), so
//! that long edges come out straight. Then, for each of the four combinations of vertical (align with upper or
//! lower neighbours) and horizontal (scan left or right) direction, every vertex is aligned with one of its
//! median neighbours into vertical blocks (Alg. 2), and the blocks are compacted. Compaction here runs on the
//! block graph (block → next block in a layer, weighted by the separation) by longest path, then pulls each block
//! toward its successors; it is the variant Graphviz-like tools such as dagre use, and it sidesteps the class
//! shifting that Brandes, Walter and Zink 2020 ("Erratum: Fast and Simple Horizontal Coordinate Assignment")
//! corrected in the original. The four results are aligned to the narrowest one and balanced: each vertex gets
//! the mean of its two median candidates, which keeps every separation, since order statistics of values that
//! are each at least `s` apart stay at least `s` apart.
//!
//! Separation between neighbours u, v in a layer is half of each one's extent across the layer plus `gap`;
//! dummies count as zero extent, so parallel long edges run `gap` apart and `gap` away from any box.
//! O(V + E log Δ) per direction.

use super::layered::Layered;

/// Centre of each vertex across the layer axis; the smallest box edge (or dummy) sits at 0.
pub(crate) fn assign(g: &Layered, order: &[Vec<usize>], extent: &[f64], gap: f64) -> Vec<f64> {
    let mut pos = vec![0; g.len()];
    for row in order {
        for (p, &v) in row.iter().enumerate() {
            pos[v] = p;
        }
    }
    let half: Vec<f64> = extent.iter().map(|e| (e + gap) / 2.0).collect();
    let conflicts = Conflicts::mark(g, order, &pos);
    let mut candidates: Vec<(bool, Vec<f64>)> = Vec::with_capacity(4);
    for from_top in [true, false] {
        for leftward in [true, false] {
            let scan = Scan { from_top, leftward, order, pos: &pos };
            let root = scan.align(g, &conflicts);
            candidates.push((leftward, scan.compact(g, &root, &half)));
        }
    }
    let mut x = balance(&mut candidates, extent);
    let low = x.iter().zip(extent).map(|(x, e)| x - e / 2.0).fold(f64::INFINITY, f64::min);
    if low.is_finite() {
        x.iter_mut().for_each(|x| *x -= low);
    }
    x
}

/// Segments that cross an inner segment (dummy to dummy) and so must not be aligned (type 1 conflicts, Alg. 1);
/// one flag per segment, found through its lower end's list of upper neighbours. Inner segments crossing each
/// other (type 2) are left unmarked: the alignment's left-to-right rule already keeps them apart.
struct Conflicts {
    /// Segment (g.up[w][k], w) is flag `start[w] + k`.
    start: Vec<usize>,
    flag: Vec<bool>,
}

impl Conflicts {
    fn mark(g: &Layered, order: &[Vec<usize>], pos: &[usize]) -> Self {
        let mut start = Vec::with_capacity(g.len() + 1);
        let mut total = 0;
        for up in &g.up {
            start.push(total);
            total += up.len();
        }
        let mut conflicts = Self { start, flag: vec![false; total] };
        let inner_upper = |v: usize| match g.up[v].as_slice() {
            &[u] if g.is_dummy(v) && g.is_dummy(u) => Some(u),
            _ => None,
        };
        for pair in order.windows(2) {
            let (upper, lower) = (&pair[0], &pair[1]);
            let (mut k0, mut scanned) = (0, 0);
            for (i, &v) in lower.iter().enumerate() {
                let inner = inner_upper(v);
                if inner.is_none() && i + 1 < lower.len() {
                    continue;
                }
                let k1 = inner.map_or(upper.len().saturating_sub(1), |u| pos[u]);
                for &w in &lower[scanned..=i] {
                    for (k, &u) in g.up[w].iter().enumerate() {
                        if (pos[u] < k0 || pos[u] > k1) && inner_upper(w) != Some(u) {
                            conflicts.flag[conflicts.start[w] + k] = true;
                        }
                    }
                }
                (scanned, k0) = (i + 1, k1);
            }
        }
        conflicts
    }

    /// Whether segment (u, w), w in the lower layer, is marked.
    fn marked(&self, g: &Layered, u: usize, w: usize) -> bool {
        g.up[w].iter().position(|&x| x == u).is_some_and(|k| self.flag[self.start[w] + k])
    }
}

/// One of the four directions.
struct Scan<'a> {
    /// Align with upper neighbours, layers taken top-down; otherwise lower neighbours, bottom-up.
    from_top: bool,
    /// Scan layers first to last; otherwise last to first (and mirror the result).
    leftward: bool,
    order: &'a [Vec<usize>],
    pos: &'a [usize],
}

impl Scan<'_> {
    /// Position in scan order.
    fn rank(&self, g: &Layered, v: usize) -> usize {
        if self.leftward { self.pos[v] } else { self.order[g.layer[v]].len() - 1 - self.pos[v] }
    }

    /// The vertex after `v` in its layer, in scan order.
    fn next(&self, g: &Layered, v: usize) -> Option<usize> {
        let row = &self.order[g.layer[v]];
        let p = self.pos[v];
        if self.leftward { row.get(p + 1).copied() } else { p.checked_sub(1).map(|q| row[q]) }
    }

    fn row<'r>(&self, row: &'r [usize]) -> Box<dyn Iterator<Item = &'r usize> + 'r> {
        if self.leftward { Box::new(row.iter()) } else { Box::new(row.iter().rev()) }
    }

    /// Vertical alignment (Alg. 2): the root (top of block in scan order) of each vertex.
    fn align(&self, g: &Layered, conflicts: &Conflicts) -> Vec<usize> {
        let mut root: Vec<usize> = (0..g.len()).collect();
        let layers: Vec<usize> =
            if self.from_top { (1..g.layers).collect() } else { (0..g.layers.saturating_sub(1)).rev().collect() };
        let mut near = Vec::new();
        for l in layers {
            let mut last: Option<usize> = None;
            for &v in self.row(&self.order[l]) {
                near.clear();
                near.extend_from_slice(if self.from_top { &g.up[v] } else { &g.down[v] });
                if near.is_empty() {
                    continue;
                }
                near.sort_by_key(|&u| self.rank(g, u));
                let d = near.len();
                let medians = if d % 2 == 1 { &[(d - 1) / 2][..] } else { &[d / 2 - 1, d / 2][..] };
                for &m in medians {
                    let u = near[m];
                    let free = last.is_none_or(|r| r < self.rank(g, u));
                    let crossed = if self.from_top { conflicts.marked(g, u, v) } else { conflicts.marked(g, v, u) };
                    if free && !crossed {
                        root[v] = root[u];
                        last = Some(self.rank(g, u));
                        break;
                    }
                }
            }
        }
        root
    }

    /// Block coordinates: longest path over the block graph (block → block of the next vertex in a layer,
    /// weighted by their separation), then each block pulled toward its successors. A vertex has at most one
    /// next vertex, so the block graph lives in flat arrays: each block's members chained through `member`.
    fn compact(&self, g: &Layered, root: &[usize], half: &[f64]) -> Vec<f64> {
        let n = g.len();
        let (mut first, mut last, mut member) = (vec![usize::MAX; n], vec![usize::MAX; n], vec![usize::MAX; n]);
        let mut waiting = vec![0usize; n];
        for v in 0..n {
            let r = root[v];
            if first[r] == usize::MAX {
                first[r] = v;
            } else {
                member[last[r]] = v;
            }
            last[r] = v;
            if let Some(w) = self.next(g, v) {
                waiting[root[w]] += 1;
            }
        }
        let members =
            |r: usize| std::iter::successors(Some(first[r]), |&v| Some(member[v]).filter(|&m| m != usize::MAX));
        // Kahn's topological order of the blocks; acyclic since alignments never cross.
        let mut topological: Vec<usize> = (0..n).filter(|&v| root[v] == v && waiting[v] == 0).collect();
        let mut i = 0;
        while i < topological.len() {
            for v in members(topological[i]) {
                if let Some(w) = self.next(g, v) {
                    waiting[root[w]] -= 1;
                    if waiting[root[w]] == 0 {
                        topological.push(root[w]);
                    }
                }
            }
            i += 1;
        }
        let mut x = vec![0.0; n];
        for &b in &topological {
            for v in members(b) {
                if let Some(w) = self.next(g, v) {
                    x[root[w]] = f64::max(x[root[w]], x[b] + half[v] + half[w]);
                }
            }
        }
        for &b in topological.iter().rev() {
            let pull = members(b)
                .filter_map(|v| self.next(g, v).map(|w| x[root[w]] - half[v] - half[w]))
                .fold(f64::INFINITY, f64::min);
            if pull.is_finite() {
                x[b] = f64::max(x[b], pull);
            }
        }
        let sign = if self.leftward { 1.0 } else { -1.0 };
        (0..n).map(|v| sign * x[root[v]]).collect()
    }
}

/// Shifts each candidate onto the narrowest one (left scans by their left edge, right scans by their right
/// edge), then takes for each vertex the mean of its two median candidates.
fn balance(candidates: &mut [(bool, Vec<f64>)], extent: &[f64]) -> Vec<f64> {
    let bounds = |x: &[f64]| {
        x.iter()
            .zip(extent)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (x, e)| (lo.min(x - e / 2.0), hi.max(x + e / 2.0)))
    };
    let spans: Vec<(f64, f64)> = candidates.iter().map(|(_, x)| bounds(x)).collect();
    let narrowest = spans
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1.1 - a.1.0).total_cmp(&(b.1.1 - b.1.0)))
        .map_or((0.0, 0.0), |(_, &s)| s);
    for ((leftward, x), (lo, hi)) in candidates.iter_mut().zip(&spans) {
        let shift = if *leftward { narrowest.0 - lo } else { narrowest.1 - hi };
        x.iter_mut().for_each(|x| *x += shift);
    }
    (0..extent.len())
        .map(|v| {
            let mut four: Vec<f64> = candidates.iter().map(|(_, x)| x[v]).collect();
            four.sort_by(f64::total_cmp);
            (four[1] + four[2]) / 2.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::layered;
    use super::*;

    fn placed(layer: &[usize], edges: &[(usize, usize)], order: Vec<Vec<usize>>) -> (Layered, Vec<f64>) {
        let g = layered::build(layer, edges).components.remove(0);
        let extent: Vec<f64> = (0..g.len()).map(|v| if g.is_dummy(v) { 0.0 } else { 40.0 }).collect();
        let x = assign(&g, &order, &extent, 10.0);
        (g, x)
    }

    #[test]
    fn a_chain_is_straight() {
        let (_, x) = placed(&[0, 1, 2], &[(0, 1), (1, 2)], vec![vec![0], vec![1], vec![2]]);
        assert_eq!(x, vec![20.0; 3]);
    }

    #[test]
    fn a_diamond_is_symmetric_and_separated() {
        let (_, x) = placed(&[0, 1, 1, 2], &[(0, 1), (0, 2), (1, 3), (2, 3)], vec![vec![0], vec![1, 2], vec![3]]);
        assert!(x[2] - x[1] >= 50.0);
        assert_eq!(x[0], x[3]);
        assert_eq!(x[0], (x[1] + x[2]) / 2.0);
    }

    #[test]
    fn a_long_edge_runs_straight_beside_the_boxes() {
        // 0 → 1 → 2 → 3 and 0 → 3 around it: the long edge's two dummies share one coordinate.
        let layer = [0, 1, 2, 3];
        let edges = [(0, 1), (1, 2), (2, 3), (0, 3)];
        let (g, x) = placed(&layer, &edges, vec![vec![0], vec![1, 4], vec![2, 5], vec![3]]);
        assert_eq!(g.chains[3], vec![0, 4, 5, 3]);
        assert_eq!(x[4], x[5]);
        assert!(x[4] - x[1] >= 25.0 && x[5] - x[2] >= 25.0);
    }
}
