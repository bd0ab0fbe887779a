//! The proper layered graph of Sugiyama, Tagawa and Toda 1981 ("Methods for Visual Understanding of Hierarchical
//! System Structures"), one per connected component: every edge spanning more than one layer becomes a chain
//! through one dummy vertex per intermediate layer, so that all remaining segments join adjacent layers.
//!
//! O(V + E log E + D) for D dummies. Duplicate and opposite edges share one chain; self-loops and edges inside one
//! layer take no part in ordering but still join components, so that their arcs stay inside one block.

use std::collections::BTreeMap;

/// How one input edge is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// An endpoint is not a node of the input: nothing is drawn.
    Invalid,
    /// Source and target are one node.
    Loop,
    /// Both ends in one layer: an arc beside it.
    Flat,
    /// Along chain `chain` of component `component`; `reversed` when the source is in the higher layer.
    Chain { component: usize, chain: usize, reversed: bool },
}

/// Vertices of one component with local ids: its real nodes first (ascending global id), then its dummies.
#[derive(Debug, Clone)]
pub(crate) struct Layered {
    /// Global node id of each local real vertex.
    pub nodes: Vec<usize>,
    /// Layer of each vertex, relative to `base`.
    pub layer: Vec<usize>,
    /// The component's first global layer.
    pub base: usize,
    /// Number of layers the component spans.
    pub layers: usize,
    /// Neighbours in the previous (`up`) and next (`down`) layer.
    pub up: Vec<Vec<usize>>,
    pub down: Vec<Vec<usize>>,
    /// Vertices of each chain from the lower to the higher layer, both real ends included.
    pub chains: Vec<Vec<usize>>,
}

impl Layered {
    pub fn len(&self) -> usize {
        self.layer.len()
    }

    pub fn is_dummy(&self, v: usize) -> bool {
        v >= self.nodes.len()
    }

    /// Segments as (upper, lower) pairs, in vertex order.
    pub fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.down.iter().enumerate().flat_map(|(u, below)| below.iter().map(move |&w| (u, w)))
    }
}

/// The input split into components, and how each input edge is drawn.
#[derive(Debug, Clone)]
pub(crate) struct Parts {
    /// Largest first (by real nodes), then by smallest node id.
    pub components: Vec<Layered>,
    pub shapes: Vec<Shape>,
    /// Component and local id of each input node.
    pub home: Vec<(usize, usize)>,
}

/// Splits `layer`/`edges` (as in [`super::Input`]) into components and builds each one's proper layered graph.
pub(crate) fn build(layer: &[usize], edges: &[(usize, usize)]) -> Parts {
    let n = layer.len();
    let shapes: Vec<Shape> = edges
        .iter()
        .map(|&(s, t)| match (layer.get(s), layer.get(t)) {
            (Some(_), Some(_)) if s == t => Shape::Loop,
            (Some(a), Some(b)) if a == b => Shape::Flat,
            // Placeholder, filled in per component below.
            (Some(_), Some(_)) => Shape::Chain { component: 0, chain: 0, reversed: false },
            _ => Shape::Invalid,
        })
        .collect();

    let mut sets = DisjointSets::new(n);
    for (&(s, t), shape) in edges.iter().zip(&shapes) {
        if matches!(shape, Shape::Flat | Shape::Chain { .. }) {
            sets.union(s, t);
        }
    }
    let groups = component_groups(&mut sets, n);

    let mut home = vec![(0, 0); n];
    for (c, group) in groups.iter().enumerate() {
        for (local, &v) in group.iter().enumerate() {
            home[v] = (c, local);
        }
    }

    // Distinct spans per component, keyed by (lower end, higher end) in local ids: a BTreeMap keeps chain
    // numbering, and so the whole layout, independent of hashing.
    let mut spans: Vec<BTreeMap<(usize, usize), usize>> = vec![BTreeMap::new(); groups.len()];
    let mut shapes = shapes;
    for (&(s, t), shape) in edges.iter().zip(shapes.iter_mut()) {
        if let Shape::Chain { .. } = shape {
            let reversed = layer[s] > layer[t];
            let (lo, hi) = if reversed { (t, s) } else { (s, t) };
            let (component, a) = home[lo];
            let b = home[hi].1;
            let next = spans[component].len();
            let chain = *spans[component].entry((a, b)).or_insert(next);
            *shape = Shape::Chain { component, chain, reversed };
        }
    }

    let components = groups.iter().zip(&spans).map(|(group, spans)| layered(group, layer, spans)).collect();
    Parts { components, shapes, home }
}

/// Components as ascending node lists, largest first, then by smallest node id.
fn component_groups(sets: &mut DisjointSets, n: usize) -> Vec<Vec<usize>> {
    let mut index_of_root = vec![usize::MAX; n];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for v in 0..n {
        let root = sets.find(v);
        if index_of_root[root] == usize::MAX {
            index_of_root[root] = groups.len();
            groups.push(Vec::new());
        }
        groups[index_of_root[root]].push(v);
    }
    // Groups were opened in order of their smallest node, so a stable sort by size keeps that as tie-break.
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    groups
}

fn layered(group: &[usize], layer: &[usize], spans: &BTreeMap<(usize, usize), usize>) -> Layered {
    let base = group.iter().map(|&v| layer[v]).min().unwrap_or(0);
    let mut vertex_layer: Vec<usize> = group.iter().map(|&v| layer[v] - base).collect();
    let mut up = vec![Vec::new(); group.len()];
    let mut down = vec![Vec::new(); group.len()];
    let mut chains = vec![Vec::new(); spans.len()];
    for (&(a, b), &chain) in spans {
        let mut path = vec![a];
        for l in vertex_layer[a] + 1..vertex_layer[b] {
            path.push(vertex_layer.len());
            vertex_layer.push(l);
            up.push(Vec::new());
            down.push(Vec::new());
        }
        path.push(b);
        for pair in path.windows(2) {
            down[pair[0]].push(pair[1]);
            up[pair[1]].push(pair[0]);
        }
        chains[chain] = path;
    }
    let layers = vertex_layer.iter().max().map_or(0, |&m| m + 1);
    Layered { nodes: group.to_vec(), layer: vertex_layer, base, layers, up, down, chains }
}

/// Union–find with path halving and union by size (Tarjan 1975): near-linear.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> Self {
        Self { parent: (0..n).collect(), size: vec![1; n] }
    }

    fn find(&mut self, mut v: usize) -> usize {
        while self.parent[v] != v {
            self.parent[v] = self.parent[self.parent[v]];
            v = self.parent[v];
        }
        v
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_edges_get_one_dummy_per_inner_layer_and_duplicates_share_a_chain() {
        let layer = [0, 3, 1];
        let parts = build(&layer, &[(0, 1), (1, 0), (0, 1), (2, 2), (0, 2), (9, 0)]);
        assert_eq!(parts.components.len(), 1);
        let c = &parts.components[0];
        assert_eq!(c.len(), 3 + 2);
        assert_eq!(c.chains, vec![vec![0, 3, 4, 1], vec![0, 2]]);
        assert!(c.segments().all(|(u, w)| c.layer[u] + 1 == c.layer[w]));
        assert_eq!(parts.shapes[1], Shape::Chain { component: 0, chain: 0, reversed: true });
        assert_eq!(parts.shapes[2], Shape::Chain { component: 0, chain: 0, reversed: false });
        assert_eq!(parts.shapes[3], Shape::Loop);
        assert_eq!(parts.shapes[5], Shape::Invalid);
    }

    #[test]
    fn components_come_largest_first_then_by_smallest_node() {
        let layer = [0, 1, 0, 1, 0, 1, 2];
        let parts = build(&layer, &[(4, 5), (5, 6), (0, 1), (2, 3)]);
        let nodes: Vec<_> = parts.components.iter().map(|c| c.nodes.clone()).collect();
        assert_eq!(nodes, vec![vec![4, 5, 6], vec![0, 1], vec![2, 3]]);
        assert_eq!(parts.home[5], (0, 1));
        assert_eq!(parts.components[0].base, 0);
    }

    #[test]
    fn flat_edges_join_components() {
        let parts = build(&[2, 2, 3], &[(0, 1), (1, 2)]);
        assert_eq!(parts.components.len(), 1);
        assert_eq!(parts.components[0].base, 2);
        assert_eq!(parts.components[0].layers, 2);
        assert_eq!(parts.shapes[0], Shape::Flat);
    }
}
