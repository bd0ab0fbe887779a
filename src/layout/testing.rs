//! Deterministic inputs for tests and benchmarks: the example repository's Kustomization graph and seeded
//! synthetic graphs shaped like Flux's (many layers, most edges between adjacent levels, some long ones).

use super::Input;
pub use super::rng::Rng;

/// Box size of every node in these inputs, as the SVG renderer draws a Kustomization.
pub const NODE_SIZE: (f64, f64) = (180.0, 44.0);

/// Most edges into one node (Kustomizations depending on one component) in [`flux_like`] graphs, exceeded only
/// when every node of a level has reached it.
pub const MAX_FAN_IN: usize = 8;

/// A layered graph of `nodes` nodes shaped like a Flux repository's: `nodes / 12` levels (8 to 40) of varying
/// width after a few roots; every node past the first level depends on one node of the level just before
/// (which is what puts it there) and on up to three more, mostly of that level too, sometimes of any earlier
/// one (the long edges). Popular dependencies (a storage class, cert-manager) attract dependents, up to
/// [`MAX_FAN_IN`] each. Edges point from dependent to dependency, as `dependsOn` does, except a tenth that point
/// the other way, as a parent applying a child does.
pub fn flux_like(nodes: usize, seed: u64) -> Input {
    let mut rng = Rng::new(seed);
    let layers = (nodes / 12).clamp(8, 40).min(nodes.max(1));
    let weight: Vec<f64> = (0..layers).map(|l| if l == 0 { 0.3 } else { 0.5 + rng.unit() }).collect();
    let total: f64 = weight.iter().sum();
    // Every level gets one node, the rest are spread by weight.
    let mut layer: Vec<usize> = (0..nodes)
        .map(|i| {
            if i < layers {
                return i;
            }
            let mut x = rng.unit() * total;
            weight
                .iter()
                .position(|&w| {
                    x -= w;
                    x < 0.0
                })
                .unwrap_or(layers - 1)
        })
        .collect();
    rng.shuffle(&mut layer);

    let mut by_layer: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (v, &l) in layer.iter().enumerate() {
        by_layer[l].push(v);
    }
    let mut fan_in = vec![0; nodes];
    let mut edges = Vec::new();
    let mut depends: Vec<usize> = Vec::new();
    for (v, &l) in layer.iter().enumerate() {
        if l == 0 {
            continue;
        }
        depends.clear();
        let mut wanted = 1;
        while wanted < 4 && rng.chance(0.45) {
            wanted += 1;
        }
        for k in 0..wanted {
            let from = if k > 0 && l >= 2 && rng.chance(0.2) { rng.below(l - 1) } else { l - 1 };
            if let Some(d) = popular(&mut rng, &by_layer[from], &fan_in, &depends) {
                fan_in[d] += 1;
                depends.push(d);
            }
        }
        if depends.is_empty() {
            // The level before is saturated: exceed the fan-in rather than change the level.
            depends.push(by_layer[l - 1][rng.below(by_layer[l - 1].len())]);
        }
        for &d in &depends {
            edges.push(if rng.chance(0.1) { (d, v) } else { (v, d) });
        }
    }
    Input { sizes: vec![NODE_SIZE; nodes], layer, edges }
}

/// A member of `candidates` not in `taken` and below [`MAX_FAN_IN`], chosen with odds growing with its fan-in.
fn popular(rng: &mut Rng, candidates: &[usize], fan_in: &[usize], taken: &[usize]) -> Option<usize> {
    let open = |&&c: &&usize| fan_in[c] < MAX_FAN_IN && !taken.contains(&c);
    let total: usize = candidates.iter().filter(open).map(|&c| 1 + fan_in[c]).sum();
    let mut x = rng.below(total);
    candidates
        .iter()
        .filter(open)
        .find(|&&c| {
            let w = 1 + fan_in[c];
            if x < w {
                return true;
            }
            x -= w;
            false
        })
        .copied()
}

/// The example repository's Kustomizations (layer = level) with their `applies` and `dependsOn` edges.
pub fn example() -> Input {
    const LAYER: [usize; 22] = [0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7];
    let applies = [
        (2, 4),
        (2, 5),
        (2, 6),
        (2, 10),
        (2, 12),
        (2, 14),
        (2, 16),
        (2, 7),
        (2, 11),
        (2, 13),
        (2, 15),
        (3, 17),
        (3, 19),
        (3, 20),
        (3, 8),
        (3, 18),
        (3, 21),
        (3, 9),
    ];
    let depends_on = [
        (2, 0),
        (3, 0),
        (10, 6),
        (12, 10),
        (14, 12),
        (16, 5),
        (16, 14),
        (11, 7),
        (13, 11),
        (15, 13),
        (17, 4),
        (17, 15),
        (19, 16),
        (20, 15),
        (20, 17),
        (18, 8),
        (18, 6),
        (18, 15),
        (21, 15),
        (21, 18),
    ];
    Input {
        sizes: vec![NODE_SIZE; LAYER.len()],
        layer: LAYER.to_vec(),
        edges: [&applies[..], &depends_on[..]].concat(),
    }
}

/// Names of [`example`]'s nodes, by index.
pub const EXAMPLE_NAMES: [&str; 22] = [
    "cluster-repositories",
    "cluster-settings",
    "cluster-infrastructure",
    "cluster-apps",
    "cloudnative-pg-operator",
    "gateway-api-crds",
    "cert-manager",
    "rook-ceph-common",
    "kube-prometheus-stack-crds",
    "metrics-server",
    "cert-manager-webhooks",
    "rook-ceph-operator",
    "cert-manager-issuers",
    "rook-ceph-cluster",
    "cert-manager-certificates",
    "rook-ceph-rbd",
    "cilium-gateway",
    "cloudnative-pg-clusters",
    "kube-prometheus-stack",
    "homepage",
    "linkding",
    "loki",
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
        // Each node past level 0 has one to four dependencies, one of them exactly one level before.
        for v in 0..a.layer.len() {
            let deps: Vec<usize> = a
                .edges
                .iter()
                .filter_map(|&(s, t)| if s == v && a.layer[t] < a.layer[v] { Some(t) } else { None })
                .chain(a.edges.iter().filter_map(|&(s, t)| (t == v && a.layer[s] < a.layer[v]).then_some(s)))
                .collect();
            assert!((1..=4).contains(&deps.len()) || a.layer[v] == 0);
            if a.layer[v] > 0 {
                assert!(deps.iter().any(|&d| a.layer[d] + 1 == a.layer[v]));
            }
        }
        // Dependents of v: edges whose other end lies in a later level.
        let fan_in = |v: usize| {
            a.edges.iter().filter(|&&(s, t)| (s == v || t == v) && a.layer[s] + a.layer[t] > 2 * a.layer[v]).count()
        };
        let fans: Vec<usize> = (0..a.layer.len()).map(fan_in).collect();
        assert!(fans.contains(&MAX_FAN_IN));
        assert!(fans.iter().filter(|&&f| f > MAX_FAN_IN).count() * 100 < fans.len());
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
