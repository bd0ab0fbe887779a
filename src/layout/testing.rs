//! Deterministic inputs for tests and benchmarks: the example repository's Kustomization graph and seeded
//! synthetic graphs shaped like Flux's (many layers, most edges between adjacent levels, some long ones).

use super::Input;

/// Box size of every node in these inputs, as the SVG renderer draws a Kustomization.
pub const NODE_SIZE: (f64, f64) = (180.0, 44.0);

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough to shape test graphs.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// A layered graph of `nodes` nodes shaped like a Flux repository's: `nodes / 16` levels (8 to 40), levels
/// thinning out with depth, every node past the first level depending on one node of the level just before (that
/// is what puts it there) and on up to seven more, mostly of that same level, sometimes of any earlier one (the
/// long edges); popular dependencies (a storage class, cert-manager) gather fan-in. Edges point from dependent to
/// dependency, as `dependsOn` does, except a tenth that point down, as a parent applying a child does.
pub fn flux_like(nodes: usize, seed: u64) -> Input {
    let mut rng = Rng::new(seed);
    let layers = (nodes / 16).clamp(8, 40).min(nodes.max(1));
    // Every level gets one node; the rest lean toward the early levels.
    let mut layer: Vec<usize> = (0..nodes)
        .map(|i| if i < layers { i } else { 1 + ((layers - 1) as f64 * rng.unit().powf(1.4)) as usize })
        .collect();
    rng.shuffle(&mut layer);

    let mut by_layer: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (v, &l) in layer.iter().enumerate() {
        by_layer[l].push(v);
    }
    // Squaring the uniform draw favours the first members of a level: the popular dependencies.
    let pick = |rng: &mut Rng, l: usize| {
        let members = &by_layer[l];
        members[(members.len() as f64 * rng.unit().powi(2)) as usize]
    };

    let mut edges = Vec::new();
    let mut depends: Vec<usize> = Vec::new();
    for v in 0..nodes {
        let l = layer[v];
        if l == 0 {
            continue;
        }
        depends.clear();
        depends.push(pick(&mut rng, l - 1));
        let mut wanted = 1;
        while wanted < 8 && rng.chance(0.45) {
            wanted += 1;
        }
        for _ in 1..wanted {
            let from = if l >= 2 && rng.chance(0.2) { rng.below(l - 1) } else { l - 1 };
            let d = pick(&mut rng, from);
            if !depends.contains(&d) {
                depends.push(d);
            }
        }
        for &d in &depends {
            edges.push(if rng.chance(0.1) { (d, v) } else { (v, d) });
        }
    }
    Input { sizes: vec![NODE_SIZE; nodes], layer, edges }
}

/// The example repository's Kustomizations (layer = level) with their `applies` and `dependsOn` edges.
pub fn example() -> Input {
    const LAYER: [usize; 22] = [0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7];
    let applies = [
        (2, 4), (2, 5), (2, 6), (2, 10), (2, 12), (2, 14), (2, 16), (2, 7), (2, 11), (2, 13), (2, 15),
        (3, 17), (3, 19), (3, 20), (3, 8), (3, 18), (3, 21), (3, 9),
    ];
    let depends_on = [
        (2, 0), (3, 0), (10, 6), (12, 10), (14, 12), (16, 5), (16, 14), (11, 7), (13, 11), (15, 13), (17, 4),
        (17, 15), (19, 16), (20, 15), (20, 17), (18, 8), (18, 6), (18, 15), (21, 15), (21, 18),
    ];
    Input { sizes: vec![NODE_SIZE; LAYER.len()], layer: LAYER.to_vec(), edges: [&applies[..], &depends_on[..]].concat() }
}

/// Names of [`example`]'s nodes, by index.
pub const EXAMPLE_NAMES: [&str; 22] = [
    "cluster-repositories", "cluster-settings", "cluster-infrastructure", "cluster-apps",
    "cloudnative-pg-operator", "gateway-api-crds", "cert-manager", "rook-ceph-common",
    "kube-prometheus-stack-crds", "metrics-server", "cert-manager-webhooks", "rook-ceph-operator",
    "cert-manager-issuers", "rook-ceph-cluster", "cert-manager-certificates", "rook-ceph-rbd", "cilium-gateway",
    "cloudnative-pg-clusters", "kube-prometheus-stack", "homepage", "linkding", "loki",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_like_graphs_are_deterministic_and_well_layered() {
        let a = flux_like(500, 3);
        assert_eq!(a.layer, flux_like(500, 3).layer);
        assert_eq!(a.edges, flux_like(500, 3).edges);
        assert_ne!(a.edges, flux_like(500, 4).edges);
        let layers = a.layer.iter().max().map_or(0, |m| m + 1);
        assert!((8..=40).contains(&layers));
        // Each node past level 0 has a dependency exactly one level before, and at most 8 in all.
        for v in 0..a.layer.len() {
            let deps: Vec<usize> = a
                .edges
                .iter()
                .filter_map(|&(s, t)| if s == v && a.layer[t] < a.layer[v] { Some(t) } else { None })
                .chain(a.edges.iter().filter_map(|&(s, t)| (t == v && a.layer[s] < a.layer[v]).then_some(s)))
                .collect();
            assert!(deps.len() <= 8);
            if a.layer[v] > 0 {
                assert!(deps.iter().any(|&d| a.layer[d] + 1 == a.layer[v]));
            }
        }
        let long = a.edges.iter().filter(|&&(s, t)| a.layer[s].abs_diff(a.layer[t]) > 1).count();
        assert!(long > 0 && long * 4 < a.edges.len());
    }

    #[test]
    fn the_example_has_its_22_kustomizations_and_38_edges() {
        let e = example();
        assert_eq!((e.sizes.len(), e.edges.len(), EXAMPLE_NAMES.len()), (22, 38, 22));
        assert!(e.edges.iter().all(|&(s, t)| e.layer[s] != e.layer[t]));
    }
}
