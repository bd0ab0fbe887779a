//! Crossing counting and crossing reduction on a proper layered graph.
//!
//! Counting follows Barth, Jünger and Mutzel 2004, "Simple and Efficient Bilayer Cross Counting": segments
//! sorted by their upper end are inserted into an accumulator tree over the lower layer's positions, each one
//! adding the number of earlier segments ending further right: O(E log V) for E segments between two layers.
//!
//! Reduction, tuned against Graphviz `dot` on Flux-shaped graphs, runs in three phases:
//!
//! 1. Scouting: sixteen initial orders — breadth- and depth-first from either end (Graphviz's `build_ranks`,
//!    Gansner, Koutsofios, North, Vo 1993, "A Technique for Drawing Directed Graphs", §3) and shuffled ones —
//!    each get a few alternating down/up sweeps (Sugiyama, Tagawa, Toda 1981) placing every layer by the
//!    weighted median of Gansner et al. or by the barycenter of its neighbours in the layer just placed.
//! 2. Polishing the two best: sifting (Matuszewski, Schönfeld, Molitor 1999, "Using Sifting for k-Layer
//!    Straightline Crossing Minimization") moves each vertex to the position of its layer where it crosses
//!    least, ties allowed so that plateaus get explored; every other pass adds Graphviz's tie-swapping greedy
//!    transposition of adjacent vertices, every pass a strict one. At most three passes, fewer when one gains
//!    less than 0.5 % (Graphviz's convergence rule) or two gain nothing; the best ordering seen is kept.
//! 3. Iterated local search (Lourenço, Martin, Stützle 2003, "Iterated Local Search"): a random vertex is
//!    kicked to a random slot, its layer and both neighbouring ones get a strict sifting pass, and the trial is
//!    kept unless it crosses more, else undone swap by swap. Crossing changes are exact sums of the moves'
//!    costs, so no trial recounts. Trials get fewer as layers widen, since each costs about three layers'
//!    sifting and wide graphs are already well below Graphviz's count after phase 2.
//!
//! Measured, not assumed: which start wins varies from graph to graph (hence many cheap starts); sweeps alone,
//! or followed by transposition each time as in Graphviz, end near Graphviz's count, while local search and its
//! kicks are what go clearly below it. Every vertex keeps its neighbours' positions in sorted lists, fixed in
//! O(degree) per adjacent swap, and a vertex is sifted again only once its layer or a neighbouring one changed.
//! A sweep is O(E + V log V); a sifting pass O(Σ_L |L|·(|L±1| + E_L)); a transposition round O(E); a trial
//! about three layers' sifting. Scouts and finalists are independent tasks, run on up to all cores for large
//! graphs: the result is the same for any number of threads, and for the same input always the same.

use std::num::NonZeroUsize;
use std::thread;

use super::layered::Layered;
use super::rng::Rng;

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

/// How a sweep ranks a vertex against the layer just placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heuristic {
    Median,
    Barycenter,
}

/// How an initial order is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    BreadthFirst {
        from_top: bool,
    },
    DepthFirst {
        from_top: bool,
    },
    /// Every layer shuffled with this seed.
    Shuffled(u64),
}

/// Shuffled starts besides the eight traversal ones.
const SHUFFLED_STARTS: u64 = 8;

/// Scouted orders that get polished.
const FINALISTS: usize = 2;

/// Most polishing passes: measured, later ones gain little that iterated local search would not find cheaper.
const POLISHING_PASSES: usize = 3;

/// Graphs with fewer vertices are not worth a thread's start-up.
const PARALLEL_FROM: usize = 64;

/// Most iterated-local-search trials per finalist.
const MAX_TRIALS: usize = 75;

/// Trials × squared mean layer width (≈ the work of one trial) allowed per finalist.
const TRIAL_WORK: usize = 40_000;

/// Sifting costs about Σ |layer|² per pass. Above this, polishing would take seconds (a
/// 10,000-Kustomization overview has layers of thousands of dummies): the best of the four
/// traversal starts' sweeps is kept, which is O(E + V log V) per sweep.
const POLISH_BUDGET: usize = 2_000_000;

/// An ordering of `g` and its crossings, with `sweeps` sweeps per start.
pub(crate) fn minimize(g: &Layered, sweeps: usize) -> (Vec<Vec<usize>>, usize) {
    // Asking for the cores reads cgroup files: only worth it for a graph that will use them.
    let threads =
        if g.len() < PARALLEL_FROM { 1 } else { thread::available_parallelism().map_or(1, NonZeroUsize::get) };
    minimize_on(g, sweeps, threads)
}

/// [`minimize`] on at most `threads` threads.
fn minimize_on(g: &Layered, sweeps: usize, threads: usize) -> (Vec<Vec<usize>>, usize) {
    let mut starts = Vec::new();
    for from_top in [true, false] {
        for heuristic in [Heuristic::Median, Heuristic::Barycenter] {
            starts.push((Start::BreadthFirst { from_top }, heuristic));
            starts.push((Start::DepthFirst { from_top }, heuristic));
        }
    }
    let mut width = vec![0usize; g.layers];
    for &l in &g.layer {
        width[l] += 1;
    }
    let too_wide = width.iter().map(|w| w * w).sum::<usize>() > POLISH_BUDGET;
    if too_wide {
        starts.retain(|&(_, heuristic)| heuristic == Heuristic::Median);
    } else {
        for seed in 0..SHUFFLED_STARTS {
            let heuristic = if seed % 2 == 0 { Heuristic::Median } else { Heuristic::Barycenter };
            starts.push((Start::Shuffled(seed), heuristic));
        }
    }
    // Lone vertices, chains and trees come out free of crossings from the first start: no search needed.
    let (start, heuristic) = starts[0];
    let first = Work::new(g).scout(g, initial_order(g, start), heuristic, sweeps);
    if first.0 == 0 {
        return (first.1, 0);
    }
    let mut scouted = in_parallel(threads, g, &starts[1..], |work, &(start, heuristic)| {
        work.scout(g, initial_order(g, start), heuristic, sweeps)
    });
    scouted.insert(0, first);
    // Stable: equal counts keep the order of `starts`.
    scouted.sort_by_key(|(crossings, _)| *crossings);
    if too_wide {
        let (crossings, order) = scouted.swap_remove(0);
        return (order, crossings);
    }
    let finalists: Vec<(u64, Vec<Vec<usize>>)> =
        scouted.into_iter().take(FINALISTS).enumerate().map(|(i, (_, order))| (i as u64, order)).collect();
    let trials = trials(g);
    let polished = in_parallel(threads, g, &finalists, |work, (seed, order)| work.polish(g, order, trials, *seed));
    polished
        .into_iter()
        .reduce(|best, next| if next.0 < best.0 { next } else { best })
        .map_or_else(Default::default, |(crossings, order)| (order, crossings))
}

/// Iterated-local-search trials: each re-sifts about three layers, so their number falls with the square of
/// the mean layer width, to none for wide graphs, where scouting and polishing already beat Graphviz clearly
/// and a trial costs the most; and small graphs, which settle fast, get at most one per two vertices.
fn trials(g: &Layered) -> usize {
    let width = g.len() / g.layers.max(1);
    (TRIAL_WORK / (width * width).max(1)).min(MAX_TRIALS).min(g.len() / 2)
}

/// `task` on every item, each with its own [`Work`], on up to `threads` threads. Results come back in item
/// order, so the outcome does not depend on the number of threads.
fn in_parallel<T: Sync, R: Send>(
    threads: usize,
    g: &Layered,
    items: &[T],
    task: impl Fn(&mut Work, &T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        let mut work = Work::new(g);
        return items.iter().map(|item| task(&mut work, item)).collect();
    }
    let task = &task;
    let chunk = move |t: usize| {
        let mut work = Work::new(g);
        items
            .iter()
            .enumerate()
            .skip(t)
            .step_by(threads)
            .map(|(i, item)| (i, task(&mut work, item)))
            .collect::<Vec<_>>()
    };
    // The calling thread takes the first share itself.
    let mut results: Vec<(usize, R)> = thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|t| scope.spawn(move || chunk(t))).collect();
        let mut results = chunk(0);
        for handle in handles {
            results.extend(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        results
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Vertices placed layer by layer: breadth- or depth-first from the sources (`from_top`) or the sinks, along
/// the preferred direction first and then back (Graphviz's `build_ranks`), or shuffled.
fn initial_order(g: &Layered, start: Start) -> Vec<Vec<usize>> {
    let mut order = vec![Vec::new(); g.layers];
    let (from_top, depth_first) = match start {
        Start::BreadthFirst { from_top } => (from_top, false),
        Start::DepthFirst { from_top } => (from_top, true),
        Start::Shuffled(seed) => {
            for v in 0..g.len() {
                order[g.layer[v]].push(v);
            }
            let mut rng = Rng::new(seed);
            order.iter_mut().for_each(|row| rng.shuffle(row));
            return order;
        }
    };
    let (ahead, behind) = if from_top { (&g.down, &g.up) } else { (&g.up, &g.down) };
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
/// kept sorted: an adjacent swap fixes them in O(degree), so local search re-sorts nothing. Sweeps move whole
/// layers and leave the lists stale until a step that needs them rebuilds them.
struct Work {
    order: Vec<Vec<usize>>,
    pos: Vec<usize>,
    /// Vertex v's sorted upper neighbour positions are `near[span[v][0]..span[v][1]]`, lower ones
    /// `near[span[v][1]..span[v][2]]`.
    near: Vec<usize>,
    span: Vec<[usize; 3]>,
    stale: bool,
    /// Changes so far per layer, and each vertex's view of them (its layer and both neighbours) when it was last
    /// sifted: a vertex whose view is unchanged would not move.
    changes: Vec<usize>,
    sifted: Vec<[usize; 3]>,
    /// Sifting order: falling degree, then id.
    by_degree: Vec<usize>,
    // Reused buffers.
    tree: Vec<usize>,
    keys: Vec<(f64, isize, usize)>,
    scratch: Vec<usize>,
    gain_up: Vec<isize>,
    gain_down: Vec<isize>,
    costs: Vec<isize>,
    trial: Trial,
}

/// What an iterated-local-search trial changed, to undo it; recorded while `active`.
#[derive(Default)]
struct Trial {
    active: bool,
    swaps: Vec<(usize, usize)>,
    /// Each touched layer's change counter before the trial.
    counters: Vec<(usize, usize)>,
    stamps: Vec<(usize, [usize; 3])>,
}

impl Trial {
    fn begin(&mut self) {
        self.active = true;
        self.swaps.clear();
        self.counters.clear();
        self.stamps.clear();
    }
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
        let mut by_degree: Vec<usize> = (0..g.len()).collect();
        by_degree.sort_by_key(|&v| (std::cmp::Reverse(g.up[v].len() + g.down[v].len()), v));
        Self {
            order: Vec::new(),
            pos: vec![0; g.len()],
            near: vec![0; end],
            span,
            stale: true,
            changes: vec![1; g.layers],
            sifted: vec![[0; 3]; g.len()],
            by_degree,
            tree: Vec::new(),
            keys: Vec::new(),
            scratch: Vec::new(),
            gain_up: Vec::new(),
            gain_down: Vec::new(),
            costs: Vec::new(),
            trial: Trial::default(),
        }
    }

    /// A few sweeps from `order`, alternating down and up; returns the crossings reached and the order.
    fn scout(
        &mut self,
        g: &Layered,
        order: Vec<Vec<usize>>,
        heuristic: Heuristic,
        sweeps: usize,
    ) -> (usize, Vec<Vec<usize>>) {
        self.place(order);
        for sweep in 0..sweeps {
            self.sweep(g, sweep % 2 == 0, heuristic);
        }
        (self.crossings(g), std::mem::take(&mut self.order))
    }

    /// Local search from `order` until it converges, then `trials` of iterated local search seeded with
    /// `seed`; returns the best crossings seen and their order.
    fn polish(&mut self, g: &Layered, order: &[Vec<usize>], trials: usize, seed: u64) -> (usize, Vec<Vec<usize>>) {
        self.place(order.to_vec());
        self.transpose(g, false);
        let mut best = (self.crossings(g), self.order.clone());
        let mut idle = 0;
        for pass in 0..POLISHING_PASSES {
            if best.0 == 0 {
                break;
            }
            self.sift(g);
            if pass % 2 == 0 {
                self.transpose(g, true);
            }
            self.transpose(g, false);
            let now = self.crossings(g);
            if now < best.0 {
                let converged = (best.0 - now) * 200 < best.0;
                best = (now, self.order.clone());
                idle = 0;
                if converged {
                    break;
                }
            } else {
                idle += 1;
                if idle == 2 {
                    break;
                }
            }
        }
        if trials > 0 && best.0 > 0 {
            self.place(best.1.clone());
            let delta = self.perturb(g, trials, seed);
            let now = self.crossings(g);
            debug_assert_eq!(now as isize, best.0 as isize + delta);
            if now < best.0 {
                best = (now, self.order.clone());
            }
        }
        best
    }

    fn place(&mut self, order: Vec<Vec<usize>>) {
        for row in &order {
            for (p, &v) in row.iter().enumerate() {
                self.pos[v] = p;
            }
        }
        self.order = order;
        self.stale = true;
    }

    fn above(&self, v: usize) -> &[usize] {
        &self.near[self.span[v][0]..self.span[v][1]]
    }

    fn below(&self, v: usize) -> &[usize] {
        &self.near[self.span[v][1]..self.span[v][2]]
    }

    /// Rebuilds the neighbour lists if sweeps left them stale.
    fn fresh(&mut self, g: &Layered) {
        if !std::mem::take(&mut self.stale) {
            return;
        }
        for v in 0..g.len() {
            let [start, middle, end] = self.span[v];
            for (slot, &w) in self.near[start..middle].iter_mut().zip(&g.up[v]) {
                *slot = self.pos[w];
            }
            for (slot, &w) in self.near[middle..end].iter_mut().zip(&g.down[v]) {
                *slot = self.pos[w];
            }
            insertion_sort(&mut self.near[start..middle]);
            insertion_sort(&mut self.near[middle..end]);
        }
        self.changes.iter_mut().for_each(|c| *c += 1);
    }

    /// Swaps the vertices at `i` and `i + 1` of layer `l`. A neighbour of only one of them sees its entry move by
    /// one; a neighbour of both keeps {i, i + 1}: either way its list stays sorted.
    fn swap(&mut self, g: &Layered, l: usize, i: usize) {
        let (v, w) = (self.order[l][i], self.order[l][i + 1]);
        self.order[l].swap(i, i + 1);
        self.changes[l] += 1;
        if self.trial.active {
            self.trial.swaps.push((l, i));
            if !self.trial.counters.iter().any(|&(m, _)| m == l) {
                self.trial.counters.push((l, self.changes[l] - 1));
            }
        }
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

    /// Crossings of the current order; reads positions only, so it works on stale lists too.
    fn crossings(&mut self, g: &Layered) -> usize {
        let mut total = 0;
        for l in 0..g.layers.saturating_sub(1) {
            // Lower ends grouped by upper end in layer order, each group sorted: the order BJM needs.
            self.scratch.clear();
            for &u in &self.order[l] {
                let start = self.scratch.len();
                self.scratch.extend(g.down[u].iter().map(|&w| self.pos[w]));
                insertion_sort(&mut self.scratch[start..]);
            }
            total += accumulate(self.scratch.iter().copied(), self.order[l + 1].len(), &mut self.tree);
        }
        total
    }

    /// Reorders every layer but the first of the sweep by its neighbours in the layer just placed.
    fn sweep(&mut self, g: &Layered, downward: bool, heuristic: Heuristic) {
        if downward {
            for l in 1..g.layers {
                self.reorder(&g.up, l, heuristic);
            }
        } else {
            for l in (0..g.layers.saturating_sub(1)).rev() {
                self.reorder(&g.down, l, heuristic);
            }
        }
        self.stale = true;
    }

    /// Sorts layer `l` by weight against its `fixed` neighbours; vertices without any keep their slots, and
    /// ties keep their order.
    fn reorder(&mut self, fixed: &[Vec<usize>], l: usize, heuristic: Heuristic) {
        self.keys.clear();
        for (index, &v) in self.order[l].iter().enumerate() {
            let near = &fixed[v];
            if near.is_empty() {
                continue;
            }
            let weight = match heuristic {
                Heuristic::Barycenter => near.iter().map(|&w| self.pos[w]).sum::<usize>() as f64 / near.len() as f64,
                Heuristic::Median => {
                    self.scratch.clear();
                    self.scratch.extend(near.iter().map(|&w| self.pos[w]));
                    insertion_sort(&mut self.scratch);
                    weighted_median(&self.scratch)
                }
            };
            self.keys.push((weight, index as isize, v));
        }
        self.keys.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut sorted = self.keys.iter().map(|&(_, _, v)| v);
        for slot in self.order[l].iter_mut() {
            if !fixed[*slot].is_empty() {
                *slot = sorted.next().unwrap_or(*slot);
            }
        }
        for (p, &v) in self.order[l].iter().enumerate() {
            self.pos[v] = p;
        }
    }

    /// Swaps adjacent vertices while that lowers crossings with both neighbouring layers; with `ties`, also
    /// swaps pairs that tie (as Graphviz does every other iteration), though only strict gains keep the rounds
    /// going. Revisits only layers next to a change.
    fn transpose(&mut self, g: &Layered, ties: bool) {
        self.fresh(g);
        let mut dirty = vec![true; g.layers];
        loop {
            let mut gain = 0;
            for l in 0..g.layers {
                if !std::mem::take(&mut dirty[l]) {
                    continue;
                }
                let (layer_gain, changed) = self.transpose_layer(g, l, ties);
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

    fn transpose_layer(&mut self, g: &Layered, l: usize, ties: bool) -> (usize, bool) {
        let (mut gain, mut changed) = (0, false);
        for i in 0..self.order[l].len().saturating_sub(1) {
            let (kept, swapped) = self.pair(self.order[l][i], self.order[l][i + 1]);
            if swapped < kept || (ties && kept > 0 && swapped == kept) {
                self.swap(g, l, i);
                gain += kept - swapped;
                changed = true;
            }
        }
        (gain, changed)
    }

    /// Crossings between v's and w's segments on both sides, with v first and with w first.
    fn pair(&self, v: usize, w: usize) -> (usize, usize) {
        let (a, b) = (merge_count(self.above(v), self.above(w)), merge_count(self.below(v), self.below(w)));
        (a.0 + b.0, a.1 + b.1)
    }

    /// One sifting pass: vertices by falling degree, each moved to the first of its best slots.
    fn sift(&mut self, g: &Layered) {
        self.fresh(g);
        for i in 0..self.by_degree.len() {
            self.sift_vertex(g, self.by_degree[i]);
        }
    }

    fn sift_vertex(&mut self, g: &Layered, v: usize) {
        let l = g.layer[v];
        if self.sifted[v] == self.view(l) {
            return;
        }
        let from = self.slot_costs(v, l);
        let (target, best) = self.best_slot();
        // Equal cost elsewhere is taken too: moving along a plateau lets later moves find a way down.
        if best <= self.costs[from] && target != from {
            self.move_to(g, l, from, target);
        }
        self.sifted[v] = self.view(l);
    }

    /// Strict sifting for the iterated local search: returns the change in crossings (≤ 0).
    fn sift_strict(&mut self, g: &Layered, v: usize) -> isize {
        let l = g.layer[v];
        if self.sifted[v] == self.view(l) {
            return 0;
        }
        let from = self.slot_costs(v, l);
        let (target, best) = self.best_slot();
        // The best slot never costs more than the current one.
        let delta = best - self.costs[from];
        if delta < 0 {
            self.move_to(g, l, from, target);
        }
        if self.trial.active {
            self.trial.stamps.push((v, self.sifted[v]));
        }
        self.sifted[v] = self.view(l);
        delta
    }

    /// `costs[j]`: crossings with v placed just before the j-th other vertex of its layer, relative to j = 0.
    /// Returns v's current slot.
    fn slot_costs(&mut self, v: usize, l: usize) -> usize {
        let upper = l.checked_sub(1).map_or(0, |u| self.order[u].len());
        let lower = self.order.get(l + 1).map_or(0, Vec::len);
        let [start, middle, end] = self.span[v];
        fill_gain(&mut self.gain_up, &self.near[start..middle], upper);
        fill_gain(&mut self.gain_down, &self.near[middle..end], lower);
        let Self { order, span, near, gain_up, gain_down, costs, .. } = self;
        let row = &order[l];
        costs.clear();
        costs.resize(row.len(), 0);
        let mut running = 0;
        for (cost, &w) in costs[1..].iter_mut().zip(row.iter().filter(|&&w| w != v)) {
            let [start, middle, end] = span[w];
            running += near[start..middle].iter().map(|&b| gain_up[b]).sum::<isize>()
                + near[middle..end].iter().map(|&b| gain_down[b]).sum::<isize>();
            *cost = running;
        }
        self.pos[v]
    }

    fn best_slot(&self) -> (usize, isize) {
        self.costs.iter().enumerate().fold((0, 0), |best, (j, &c)| if c < best.1 { (j, c) } else { best })
    }

    fn move_to(&mut self, g: &Layered, l: usize, from: usize, target: usize) {
        for i in (target..from).rev() {
            self.swap(g, l, i);
        }
        for i in from..target {
            self.swap(g, l, i);
        }
    }

    /// Iterated local search: `trials` times, kick a random vertex to a random slot, sift its layer and the two
    /// next to it strictly, and keep the result unless it crosses more; otherwise the trial's log restores the
    /// order, the lists, the change counters and the sifting stamps exactly. Returns the change in crossings.
    fn perturb(&mut self, g: &Layered, trials: usize, seed: u64) -> isize {
        self.fresh(g);
        let mut rng = Rng::new(seed);
        let mut total = 0;
        let mut row = Vec::new();
        for _ in 0..trials {
            let v = rng.below(g.len());
            let l = g.layer[v];
            if self.order[l].len() < 2 {
                continue;
            }
            self.trial.begin();
            let from = self.slot_costs(v, l);
            let target = rng.below(self.costs.len());
            let mut delta = self.costs[target] - self.costs[from];
            self.move_to(g, l, from, target);
            // One strict pass over the kicked layer and its neighbours: measured, a second one rarely moves
            // anything and costs as much as more trials.
            for m in l.saturating_sub(1)..=(l + 1).min(g.layers - 1) {
                row.clear();
                row.extend_from_slice(&self.order[m]);
                for &w in &row {
                    delta += self.sift_strict(g, w);
                }
            }
            self.trial.active = false;
            if delta <= 0 {
                total += delta;
            } else {
                self.undo(g);
            }
        }
        total
    }

    /// Restores the state before the current trial: order and lists by reversing its swaps, then the change
    /// counters and sifting stamps it overwrote.
    fn undo(&mut self, g: &Layered) {
        let trial = std::mem::take(&mut self.trial);
        for &(l, i) in trial.swaps.iter().rev() {
            self.swap(g, l, i);
        }
        for &(l, c) in &trial.counters {
            self.changes[l] = c;
        }
        for &(v, stamp) in trial.stamps.iter().rev() {
            self.sifted[v] = stamp;
        }
        self.trial = trial;
    }

    fn view(&self, l: usize) -> [usize; 3] {
        let at = |m: Option<usize>| m.and_then(|m| self.changes.get(m)).copied().unwrap_or(0);
        [at(l.checked_sub(1)), at(Some(l)), at(Some(l + 1))]
    }
}

/// `gain[p]`: how many of the positions `mine` lie before p, minus how many lie after. Summed over another
/// vertex's neighbours on that side, the change in crossings when v moves from before it to after it.
#[inline]
fn fill_gain(gain: &mut Vec<isize>, mine: &[usize], len: usize) {
    // A difference array: each a ∈ mine turns −1 into 0 at p = a and into +1 after it.
    gain.clear();
    gain.resize(len + 1, 0);
    for &a in mine {
        gain[a] += 1;
        gain[a + 1] += 1;
    }
    let mut running = -(mine.len() as isize);
    for g in gain.iter_mut() {
        running += *g;
        *g = running;
    }
}

/// In a sorted list holding exactly one of `i`, `i + 1`, turns it into the other; otherwise leaves it alone.
fn toggle(list: &mut [usize], i: usize) {
    // Lists are short: a scan beats a binary search.
    let Some(at) = list.iter().position(|&p| p >= i) else { return };
    if list[at] == i {
        if list.get(at + 1) != Some(&(i + 1)) {
            list[at] = i + 1;
        }
    } else if list[at] == i + 1 {
        list[at] = i;
    }
}

/// Neighbour lists are short: insertion sort beats the general sort's set-up.
fn insertion_sort(list: &mut [usize]) {
    for i in 1..list.len() {
        let mut j = i;
        while j > 0 && list[j - 1] > list[j] {
            list.swap(j - 1, j);
            j -= 1;
        }
    }
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
    // Most lists hold one to three positions (dummies one): comparing all pairs beats merging there.
    if a.len() * b.len() <= 16 {
        return a.iter().fold((0, 0), |(kept, swapped), &x| {
            b.iter().fold((kept, swapped), |(k, s), &y| (k + usize::from(x > y), s + usize::from(x < y)))
        });
    }
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
        let place =
            |v: usize| order.iter().enumerate().find_map(|(l, row)| row.iter().position(|&w| w == v).map(|p| (l, p)));
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
            let mut a: Vec<usize> = (0..rng.below(12)).map(|_| rng.below(8)).collect();
            let mut b: Vec<usize> = (0..rng.below(12)).map(|_| rng.below(8)).collect();
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
    fn slot_costs_match_recounting_every_slot() {
        let input = super::super::testing::flux_like(120, 5);
        let parts = layered::build(&input.layer, &input.edges);
        let g = &parts.components[0];
        let mut work = Work::new(g);
        work.place(initial_order(g, Start::Shuffled(2)));
        work.fresh(g);
        let mut rng = Rng::new(9);
        for _ in 0..40 {
            let v = rng.below(g.len());
            let l = g.layer[v];
            let from = work.slot_costs(v, l);
            let costs = work.costs.clone();
            let at_from = work.crossings(g) as isize;
            for (j, cost) in costs.iter().enumerate() {
                work.move_to(g, l, from, j);
                assert_eq!(work.crossings(g) as isize - at_from, cost - costs[from], "vertex {v} to slot {j}");
                work.move_to(g, l, j, from);
            }
        }
    }

    #[test]
    fn the_number_of_threads_does_not_change_the_result() {
        let input = super::super::testing::flux_like(400, 3);
        let parts = layered::build(&input.layer, &input.edges);
        let g = &parts.components[0];
        assert!(g.len() >= PARALLEL_FROM);
        let one = minimize_on(g, 4, 1);
        assert_eq!(one, minimize_on(g, 4, 2));
        assert_eq!(one, minimize_on(g, 4, 5));
    }

    #[test]
    fn iterated_local_search_tracks_crossings_exactly_and_never_worsens() {
        let input = super::super::testing::flux_like(200, 8);
        let parts = layered::build(&input.layer, &input.edges);
        let g = &parts.components[0];
        let mut work = Work::new(g);
        let start = initial_order(g, Start::Shuffled(1));
        work.place(start.clone());
        let before = work.crossings(g);
        let delta = work.perturb(g, 60, 3);
        assert!(delta <= 0);
        assert_eq!(work.crossings(g) as isize, before as isize + delta);
        // Its neighbour lists survived every undo: they match a rebuild from positions.
        let kept = work.near.clone();
        work.stale = true;
        work.fresh(g);
        assert_eq!(kept, work.near);
    }

    #[test]
    fn minimize_reports_the_crossings_of_its_order_and_untangles_a_twisted_ladder() {
        // Two layers of 5, i joined to 4 - i: any order but the mirrored one crosses.
        let layer: Vec<usize> = (0..10).map(|v| v / 5).collect();
        let edges: Vec<_> = (0..5).map(|i| (i, 9 - i)).collect();
        let parts = layered::build(&layer, &edges);
        for g in &parts.components {
            let (order, crossings) = minimize(g, 4);
            assert_eq!(crossings, 0);
            let segments: Vec<_> = g.segments().collect();
            assert_eq!(count_crossings(&order, &segments), 0);
        }

        let input = super::super::testing::flux_like(300, 11);
        let parts = layered::build(&input.layer, &input.edges);
        let g = &parts.components[0];
        let (order, crossings) = minimize(g, 4);
        let segments: Vec<_> = g.segments().collect();
        assert_eq!(count_crossings(&order, &segments), crossings);
        let mut all: Vec<usize> = order.concat();
        all.sort_unstable();
        assert_eq!(all, (0..g.len()).collect::<Vec<_>>());
        assert!(order.iter().enumerate().all(|(l, row)| row.iter().all(|&v| g.layer[v] == l)));
    }
}
