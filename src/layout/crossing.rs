//! Crossing counting and crossing reduction on a proper layered graph.
//!
//! Counting follows Barth, Jünger and Mutzel 2004, "Simple and Efficient Bilayer Cross Counting": segments
//! sorted by their upper end are inserted into an accumulator tree over the lower layer's positions, each one
//! adding the number of earlier segments ending further right: O(E log V) for E segments between two layers.
//!
//! Reduction is the layer-by-layer sweep of Sugiyama, Tagawa and Toda 1981 as refined by Gansner, Koutsofios,
//! North and Vo 1993, "A Technique for Drawing Directed Graphs" (§3): from several initial orders (breadth- and
//! depth-first, from either end), alternating down and up sweeps place each layer by the weighted median or the
//! barycenter of its neighbours in the fixed layer; every sweep is followed by greedy transposition of adjacent
//! vertices, and the best ordering seen is kept. The winner is then refined by sifting (Matuszewski, Schönfeld
//! and Molitor 1999, "Using Sifting for k-Layer Straightline Crossing Minimization"): each vertex in turn moves
//! to the position of its layer where it crosses least.
//!
//! One sweep is O(E + V log V), a transposition pass O(E) per round, a sifting pass O(Σ_L |L|·E_L·log Δ) for
//! the segments E_L touching layer L and maximum degree Δ. Everything is deterministic: ties keep the current
//! order (or, on alternate rounds as in Graphviz, reverse it), and restarts run in a fixed sequence.

use super::layered::Layered;

/// Crossings of `order` (`order[l]` lists the ids in layer `l`, first to last) among `edges`, as Graphviz
/// counts them: between segments joining adjacent layers only. Edges between non-adjacent layers, inside one
/// layer or with an end not in `order` are skipped; duplicate edges count once each.
pub fn count_crossings(order: &[Vec<usize>], edges: &[(usize, usize)]) -> usize {
    let ids = order.iter().flatten().max().map_or(0, |&m| m + 1);
    let mut place = vec![None; ids];
    for (l, row) in order.iter().enumerate() {
        for (p, &v) in row.iter().enumerate() {
            place[v] = Some((l, p));
        }
    }
    let at = |v: usize| place.get(v).copied().flatten();
    let mut between: Vec<Vec<(usize, usize)>> = vec![Vec::new(); order.len()];
    for &(a, b) in edges {
        let (Some(a), Some(b)) = (at(a), at(b)) else { continue };
        let (upper, lower) = if a.0 < b.0 { (a, b) } else { (b, a) };
        if upper.0 + 1 == lower.0 {
            between[upper.0].push((upper.1, lower.1));
        }
    }
    let mut tree = Vec::new();
    between
        .iter_mut()
        .enumerate()
        .map(|(l, pairs)| {
            pairs.sort_unstable();
            let south = order.get(l + 1).map_or(0, Vec::len);
            accumulate(pairs.iter().map(|&(_, s)| s), south, &mut tree)
        })
        .sum()
}

/// Barth–Jünger–Mutzel: crossings among segments given by their lower positions (< `south`), in the order of
/// their upper positions (ties by lower position).
fn accumulate(souths: impl Iterator<Item = usize>, south: usize, tree: &mut Vec<usize>) -> usize {
    let first = south.max(1).next_power_of_two() - 1;
    tree.clear();
    tree.resize(2 * first + 1, 0);
    let mut crossings = 0;
    for s in souths {
        let mut index = s + first;
        tree[index] += 1;
        while index > 0 {
            if index % 2 == 1 {
                crossings += tree[index + 1];
            }
            index = (index - 1) / 2;
            tree[index] += 1;
        }
    }
    crossings
}

/// How a sweep ranks a vertex against the fixed layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heuristic {
    Median,
    Barycenter,
}

/// How the initial order is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    BreadthFirst { from_top: bool },
    DepthFirst { from_top: bool },
}

/// The restarts: Graphviz's two breadth-first starts with the median, then depth-first ones and the barycenter
/// for variety; each ends early once `patience` sweeps bring nothing.
const RESTARTS: [(Start, Heuristic); 4] = [
    (Start::BreadthFirst { from_top: true }, Heuristic::Median),
    (Start::BreadthFirst { from_top: false }, Heuristic::Median),
    (Start::DepthFirst { from_top: true }, Heuristic::Barycenter),
    (Start::DepthFirst { from_top: false }, Heuristic::Barycenter),
];

/// Sweeps without a new best before a restart gives up (Graphviz's `MinQuit`).
const PATIENCE: usize = 8;

/// Most sifting passes; each must lower the count to earn the next.
const SIFTING_PASSES: usize = 4;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// An ordering of `g`, with crossings: at most `sweeps` sweeps per restart.
pub(crate) fn minimize(g: &Layered, sweeps: usize) -> (Vec<Vec<usize>>, usize) {
    let mut work = Work::new(g);
    let mut best: Option<(usize, Vec<Vec<usize>>)> = None;
    let restarts = std::env::var("RESTARTS").unwrap_or("0123".into());
    for (start, heuristic) in restarts.bytes().map(|b| RESTARTS[(b - b'0') as usize]) {
        let found = work.descend(g, initial_order(g, start), heuristic, sweeps);
        if best.as_ref().is_none_or(|(c, _)| found.0 < *c) {
            best = Some(found);
        }
        if best.as_ref().is_some_and(|(c, _)| *c == 0) {
            break;
        }
    }
    let (mut crossings, mut order) = best.unwrap_or_default();
    work.install(g, &order);
    let mut stale = 0;
    for pass in 0..knob("SIFT", SIFTING_PASSES) {
        if crossings == 0 {
            break;
        }
        work.sift(g, knob("SIFTTIE", 0) == 1);
        if knob("FINREV", 0) == 1 && pass % 2 == 0 { work.transpose(g, true); }
        work.transpose(g, false);
        let now = work.crossings(g);
        if now >= crossings {
            stale += 1;
            if stale > knob("FINPAT", 0) { break; }
            continue;
        }
        stale = 0;
        crossings = now;
        order.clone_from(&work.order);
    }
    (order, crossings)
}

/// Vertices placed layer by layer in breadth- or depth-first order over the undirected graph, starting from
/// the sources (`from_top`) or sinks, the preferred direction explored first (Graphviz's `build_ranks`).
fn initial_order(g: &Layered, start: Start) -> Vec<Vec<usize>> {
    let (from_top, depth_first) = match start {
        Start::BreadthFirst { from_top } => (from_top, false),
        Start::DepthFirst { from_top } => (from_top, true),
    };
    let (ahead, behind) = if from_top { (&g.down, &g.up) } else { (&g.up, &g.down) };
    let mut order = vec![Vec::new(); g.layers];
    let mut seen = vec![false; g.len()];
    let mut pending = std::collections::VecDeque::new();
    let mut next: Vec<usize> = Vec::new();
    for root in (0..g.len()).filter(|&v| behind[v].is_empty()) {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        pending.push_back(root);
        while let Some(v) = if depth_first { pending.pop_back() } else { pending.pop_front() } {
            order[g.layer[v]].push(v);
            next.clear();
            next.extend(ahead[v].iter().chain(&behind[v]).filter(|&&w| !seen[w]));
            // A stack pops last-pushed first: push in reverse so the preferred neighbours come first.
            if depth_first {
                next.reverse();
            }
            for &w in &next {
                if !seen[w] {
                    seen[w] = true;
                    pending.push_back(w);
                }
            }
        }
    }
    order
}

/// The ordering being improved. Alongside it, every vertex's neighbour positions above and below, each list
/// kept sorted at all times: an adjacent swap fixes them in O(degree), so nothing is re-sorted while searching.
struct Work {
    order: Vec<Vec<usize>>,
    pos: Vec<usize>,
    /// Vertex v's sorted upper neighbour positions are `near[span[v][0]..span[v][1]]`, lower ones
    /// `near[span[v][1]..span[v][2]]`.
    near: Vec<usize>,
    span: Vec<[usize; 3]>,
    tree: Vec<usize>,
    keys: Vec<(f64, isize, usize)>,
    souths: Vec<usize>,
}

impl Work {
    fn new(g: &Layered) -> Self {
        let mut span = Vec::with_capacity(g.len());
        let mut end = 0;
        for v in 0..g.len() {
            let start = end;
            end += g.up[v].len() + g.down[v].len();
            span.push([start, start + g.up[v].len(), end]);
        }
        Self {
            order: Vec::new(),
            pos: vec![0; g.len()],
            near: vec![0; end],
            span,
            tree: Vec::new(),
            keys: Vec::new(),
            souths: Vec::new(),
        }
    }

    fn above(&self, v: usize) -> &[usize] {
        &self.near[self.span[v][0]..self.span[v][1]]
    }

    fn below(&self, v: usize) -> &[usize] {
        &self.near[self.span[v][1]..self.span[v][2]]
    }

    fn install(&mut self, g: &Layered, order: &[Vec<usize>]) {
        self.order = order.to_vec();
        for row in order {
            for (p, &v) in row.iter().enumerate() {
                self.pos[v] = p;
            }
        }
        for v in 0..g.len() {
            self.refill(g, v, true, true);
        }
    }

    /// Recomputes v's neighbour lists from `pos`: the upper one, the lower one, or both.
    fn refill(&mut self, g: &Layered, v: usize, upper: bool, lower: bool) {
        let [start, middle, end] = self.span[v];
        if upper {
            for (slot, &w) in self.near[start..middle].iter_mut().zip(&g.up[v]) {
                *slot = self.pos[w];
            }
            self.near[start..middle].sort_unstable();
        }
        if lower {
            for (slot, &w) in self.near[middle..end].iter_mut().zip(&g.down[v]) {
                *slot = self.pos[w];
            }
            self.near[middle..end].sort_unstable();
        }
    }

    /// After layer `l` was reordered wholesale: the lists of its neighbours that point into it.
    fn refresh_around(&mut self, g: &Layered, l: usize) {
        if let Some(above) = l.checked_sub(1) {
            for i in 0..self.order[above].len() {
                self.refill(g, self.order[above][i], false, true);
            }
        }
        for i in 0..self.order.get(l + 1).map_or(0, Vec::len) {
            self.refill(g, self.order[l + 1][i], true, false);
        }
    }

    /// Swaps the vertices at `i` and `i + 1` of layer `l`. A neighbour of only one of them sees its entry move by
    /// one; a neighbour of both keeps {i, i + 1}: either way its list stays sorted.
    fn swap(&mut self, g: &Layered, l: usize, i: usize) {
        let (v, w) = (self.order[l][i], self.order[l][i + 1]);
        self.order[l].swap(i, i + 1);
        self.pos[v] = i + 1;
        self.pos[w] = i;
        for &x in g.up[v].iter().chain(&g.up[w]) {
            let [_, middle, end] = self.span[x];
            toggle(&mut self.near[middle..end], i);
        }
        for &x in g.down[v].iter().chain(&g.down[w]) {
            let [start, middle, _] = self.span[x];
            toggle(&mut self.near[start..middle], i);
        }
    }

    /// One restart: transposition, then sweeps until `sweeps` or `PATIENCE` runs out. Returns the best seen.
    fn descend(
        &mut self,
        g: &Layered,
        order: Vec<Vec<usize>>,
        heuristic: Heuristic,
        sweeps: usize,
    ) -> (usize, Vec<Vec<usize>>) {
        self.install(g, &order);
        if knob("TR0", 1) == 1 { self.transpose(g, false); }
        let mut best = (self.crossings(g), self.order.clone());
        let mut stale = 0;
        for iteration in 0..sweeps {
            if best.0 == 0 || stale >= knob("PATIENCE", PATIENCE) {
                break;
            }
            // As in Graphviz: alternate directions, and reverse ties on every other pair of sweeps so that
            // equal-weight vertices get to trade places.
            let reverse = iteration % 4 >= 2;
            self.sweep(g, iteration % 2 == 0, heuristic, reverse && knob("SWREV", 1) == 1);
            match knob("TR", 2) { 1 => self.transpose(g, false), 2 => self.transpose(g, reverse), _ => {} }
            let crossings = self.crossings(g);
            if crossings < best.0 {
                best = (crossings, self.order.clone());
                stale = 0;
            } else {
                stale += 1;
            }
        }
        best
    }

    fn crossings(&mut self, g: &Layered) -> usize {
        let mut total = 0;
        for l in 0..g.layers.saturating_sub(1) {
            // Lower ends grouped by upper end in layer order, each group sorted: the order BJM needs.
            let mut souths = std::mem::take(&mut self.souths);
            souths.clear();
            for &u in &self.order[l] {
                souths.extend_from_slice(self.below(u));
            }
            total += accumulate(souths.iter().copied(), self.order[l + 1].len(), &mut self.tree);
            self.souths = souths;
        }
        total
    }

    /// Reorders every layer but the first of the sweep by its neighbours in the layer just placed.
    fn sweep(&mut self, g: &Layered, downward: bool, heuristic: Heuristic, reverse: bool) {
        if downward {
            for l in 1..g.layers {
                self.reorder(g, l, true, heuristic, reverse);
            }
        } else {
            for l in (0..g.layers.saturating_sub(1)).rev() {
                self.reorder(g, l, false, heuristic, reverse);
            }
        }
    }

    /// Sorts layer `l` by weight against the layer above (`by_upper`) or below; vertices without neighbours
    /// there keep their slots.
    fn reorder(&mut self, g: &Layered, l: usize, by_upper: bool, heuristic: Heuristic, reverse: bool) {
        self.keys.clear();
        for (index, &v) in self.order[l].iter().enumerate() {
            let near = if by_upper { self.above(v) } else { self.below(v) };
            if near.is_empty() {
                continue;
            }
            let weight = match heuristic {
                Heuristic::Median => weighted_median(near),
                Heuristic::Barycenter => near.iter().sum::<usize>() as f64 / near.len() as f64,
            };
            let tie = if reverse { -(index as isize) } else { index as isize };
            self.keys.push((weight, tie, v));
        }
        self.keys.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut sorted = self.keys.iter().map(|&(_, _, v)| v);
        let fixed = if by_upper { &g.up } else { &g.down };
        for slot in self.order[l].iter_mut() {
            if !fixed[*slot].is_empty() {
                *slot = sorted.next().unwrap_or(*slot);
            }
        }
        for (p, &v) in self.order[l].iter().enumerate() {
            self.pos[v] = p;
        }
        self.refresh_around(g, l);
    }

    /// Swaps adjacent vertices while that lowers crossings with both neighbouring layers; with `reverse`, also
    /// swaps pairs that tie (but only strict gains keep the rounds going). Revisits only layers next to a change.
    fn transpose(&mut self, g: &Layered, reverse: bool) {
        let mut dirty = vec![true; g.layers];
        for _ in 0..knob("TRCAP", 1000) {
            let mut gain = 0;
            for l in 0..g.layers {
                if !std::mem::take(&mut dirty[l]) {
                    continue;
                }
                let (layer_gain, changed) = self.transpose_layer(g, l, reverse);
                gain += layer_gain;
                if changed {
                    dirty[l] = true;
                    dirty[l.saturating_sub(1)] = true;
                    if l + 1 < g.layers {
                        dirty[l + 1] = true;
                    }
                }
            }
            if gain == 0 {
                break;
            }
        }
    }

    fn transpose_layer(&mut self, g: &Layered, l: usize, reverse: bool) -> (usize, bool) {
        let (mut gain, mut changed) = (0, false);
        for i in 0..self.order[l].len().saturating_sub(1) {
            let (kept, swapped) = self.pair(self.order[l][i], self.order[l][i + 1]);
            if swapped < kept || (reverse && kept > 0 && swapped == kept) {
                self.swap(g, l, i);
                gain += kept - swapped;
                changed = true;
            }
        }
        (gain, changed)
    }

    /// Crossings between v's and w's segments on both sides, with v first and with w first.
    fn pair(&self, v: usize, w: usize) -> (usize, usize) {
        add(merge_count(self.above(v), self.above(w)), merge_count(self.below(v), self.below(w)))
    }

    /// One sifting pass: vertices by falling degree, each moved to its best slot (with `ties`, to the first of
    /// equally good slots, so that plateaus get explored).
    fn sift(&mut self, g: &Layered, ties: bool) {
        let mut vertices: Vec<usize> = (0..g.len()).collect();
        vertices.sort_by_key(|&v| (std::cmp::Reverse(g.up[v].len() + g.down[v].len()), v));
        for v in vertices {
            self.sift_vertex(g, v, ties);
        }
    }

    fn sift_vertex(&mut self, g: &Layered, v: usize, ties: bool) {
        let l = g.layer[v];
        let from = self.pos[v];
        // Cost of putting v just before the t-th other vertex, relative to putting it first.
        let (mut running, mut best, mut target) = (0isize, 0isize, 0);
        let mut at_from = 0;
        for (t, &w) in self.order[l].iter().filter(|&&w| w != v).enumerate() {
            if t == from {
                at_from = running;
            }
            let (v_first, w_first) = self.pair(v, w);
            running += w_first as isize - v_first as isize;
            if running < best {
                (best, target) = (running, t + 1);
            }
        }
        if from + 1 == self.order[l].len() {
            at_from = running;
        }
        if best > at_from || (best == at_from && !ties) {
            return;
        }
        for i in (target..from).rev() {
            self.swap(g, l, i);
        }
        for i in from..target {
            self.swap(g, l, i);
        }
    }
}

/// In a sorted list holding exactly one of `i`, `i + 1`, turns it into the other; otherwise leaves it alone.
fn toggle(list: &mut [usize], i: usize) {
    let at = list.partition_point(|&p| p < i);
    match (list.get(at).copied(), list.get(at + 1).copied()) {
        (Some(a), Some(b)) if a == i && b == i + 1 => {}
        (Some(a), _) if a == i => list[at] = i + 1,
        (Some(a), _) if a == i + 1 => list[at] = i,
        _ => {}
    }
}

fn add(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    (a.0 + b.0, a.1 + b.1)
}

/// Gansner et al.'s weighted median of sorted positions: the median, pulled toward the denser side when even.
fn weighted_median(p: &[usize]) -> f64 {
    let m = p.len() / 2;
    match p.len() {
        0 => -1.0,
        len if len % 2 == 1 => p[m] as f64,
        2 => (p[0] + p[1]) as f64 / 2.0,
        len => {
            let left = (p[m - 1] - p[0]) as f64;
            let right = (p[len - 1] - p[m]) as f64;
            if left + right == 0.0 {
                (p[m - 1] + p[m]) as f64 / 2.0
            } else {
                (p[m - 1] as f64 * right + p[m] as f64 * left) / (left + right)
            }
        }
    }
}

/// For sorted `a` (first vertex) and `b`: pairs with a > b (crossings as they stand) and a < b (if swapped).
fn merge_count(a: &[usize], b: &[usize]) -> (usize, usize) {
    let (mut below, mut not_above) = (0, 0);
    let (mut kept, mut swapped) = (0, 0);
    for &x in a {
        while below < b.len() && b[below] < x {
            below += 1;
        }
        not_above = not_above.max(below);
        while not_above < b.len() && b[not_above] <= x {
            not_above += 1;
        }
        kept += below;
        swapped += b.len() - not_above;
    }
    (kept, swapped)
}

#[cfg(test)]
mod tests {
    use super::super::layered;
    use super::super::testing::Rng;
    use super::*;

    fn brute_force(order: &[Vec<usize>], edges: &[(usize, usize)]) -> usize {
        let place = |v: usize| {
            order.iter().enumerate().find_map(|(l, row)| row.iter().position(|&w| w == v).map(|p| (l, p)))
        };
        let segments: Vec<_> = edges
            .iter()
            .filter_map(|&(a, b)| {
                let (a, b) = (place(a)?, place(b)?);
                let (a, b) = if a.0 < b.0 { (a, b) } else { (b, a) };
                (a.0 + 1 == b.0).then_some((a.0, a.1, b.1))
            })
            .collect();
        let mut crossings = 0;
        for (i, s) in segments.iter().enumerate() {
            for t in &segments[i + 1..] {
                if s.0 == t.0 && ((s.1 < t.1 && s.2 > t.2) || (s.1 > t.1 && s.2 < t.2)) {
                    crossings += 1;
                }
            }
        }
        crossings
    }

    #[test]
    fn bilayer_count_matches_brute_force_on_random_bilayers() {
        let mut rng = Rng::new(7);
        for _ in 0..300 {
            let (north, south) = (1 + rng.below(12), 1 + rng.below(12));
            let mut ids: Vec<usize> = (0..north + south).collect();
            rng.shuffle(&mut ids);
            let order = vec![ids[..north].to_vec(), ids[north..].to_vec()];
            let edges: Vec<_> = (0..rng.below(40))
                .map(|_| {
                    let (a, b) = (order[0][rng.below(north)], order[1][rng.below(south)]);
                    if rng.below(2) == 0 { (a, b) } else { (b, a) }
                })
                .collect();
            assert_eq!(count_crossings(&order, &edges), brute_force(&order, &edges));
        }
    }

    #[test]
    fn count_skips_flat_long_and_unknown_edges() {
        let order = vec![vec![0, 1], vec![2, 3], vec![4]];
        assert_eq!(count_crossings(&order, &[(0, 3), (1, 2)]), 1);
        assert_eq!(count_crossings(&order, &[(0, 3), (1, 2), (0, 4), (1, 4), (0, 1), (9, 2)]), 1);
        assert_eq!(count_crossings(&[], &[(0, 1)]), 0);
    }

    #[test]
    fn pair_counts_agree_with_each_other() {
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let mut a: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(8)).collect();
            let mut b: Vec<usize> = (0..rng.below(6)).map(|_| rng.below(8)).collect();
            a.sort_unstable();
            b.sort_unstable();
            let brute = |x: &[usize], y: &[usize]| {
                x.iter().flat_map(|&p| y.iter().map(move |&q| (p > q) as usize)).sum::<usize>()
            };
            assert_eq!(merge_count(&a, &b), (brute(&a, &b), brute(&b, &a)));
        }
    }

    #[test]
    fn weighted_median_follows_gansner() {
        assert_eq!(weighted_median(&[4]), 4.0);
        assert_eq!(weighted_median(&[1, 5, 9]), 5.0);
        assert_eq!(weighted_median(&[2, 6]), 4.0);
        // Left pair spread 1, right pair spread 9: pulled toward the tighter (left) side.
        assert_eq!(weighted_median(&[0, 1, 2, 11]), (1.0 * 9.0 + 2.0 * 1.0) / 10.0);
    }

    #[test]
    fn minimize_reports_the_crossings_of_its_order_and_untangles_a_twisted_ladder() {
        // Two layers of 5, i joined to 4 - i: any order but the mirrored one crosses.
        let layer: Vec<usize> = (0..10).map(|v| v / 5).collect();
        let edges: Vec<_> = (0..5).map(|i| (i, 9 - i)).collect();
        let parts = layered::build(&layer, &edges);
        for g in &parts.components {
            let (order, crossings) = minimize(g, 24);
            assert_eq!(crossings, 0);
            let segments: Vec<_> = g.segments().collect();
            assert_eq!(count_crossings(&order, &segments), 0);
        }

        let input = super::super::testing::flux_like(300, 11);
        let parts = layered::build(&input.layer, &input.edges);
        let g = &parts.components[0];
        let (order, crossings) = minimize(g, 24);
        let segments: Vec<_> = g.segments().collect();
        assert_eq!(count_crossings(&order, &segments), crossings);
        let mut all: Vec<usize> = order.concat();
        all.sort_unstable();
        assert_eq!(all, (0..g.len()).collect::<Vec<_>>());
        assert!(order.iter().enumerate().all(|(l, row)| row.iter().all(|&v| g.layer[v] == l)));
    }
}
