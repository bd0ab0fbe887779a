//! The reference repository of the seed's layout (`../shared/fixtures/rpi-cluster`): the levels,
//! the critical path and a clean bill of health that the issue states.

use crate::util::{check, critical_path, level, only_cluster, shared};

const KS: &str = "Kustomization/flux-system/";

#[test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
fn rpi_cluster_levels_and_critical_path() {
    let (status, whole) = check(&shared().join("fixtures/rpi-cluster"));
    let doc = only_cluster(&whole);

    let errors: Vec<_> = [doc, &whole]
        .iter()
        .flat_map(|d| d["diagnostics"].as_array().unwrap())
        .filter(|d| d["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "no errors expected: {errors:#?}");
    assert_eq!(status, 0);

    let ks_levels: Vec<u64> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "Kustomization")
        .map(|n| n["level"].as_u64().expect("no cycle in the fixture"))
        .collect();
    assert_eq!(ks_levels.iter().min(), Some(&0));
    assert_eq!(ks_levels.iter().max(), Some(&7), "Kustomization levels run 0 to 7");
    for (name, expected) in [
        ("cluster-repositories", 0),
        ("cluster-settings", 0),
        ("cluster-infrastructure", 1),
        ("cluster-apps", 1),
        ("rook-ceph-common", 2),
        ("rook-ceph-rbd", 5),
        ("cloudnative-pg-clusters", 6),
        ("linkding", 7),
    ] {
        assert_eq!(level(doc, &format!("{KS}{name}")), Some(expected), "{name}");
    }

    // The longest chain: the rook-ceph stages, the database linkding needs, linkding, and the
    // HelmRelease linkding applies (level 8). The HelmReleases of homepage and loki are at level 8
    // too; ties go to the one Ready last in the worst case, then to the smallest id.
    let path = critical_path(doc);
    let expected: Vec<String> = [
        "cluster-repositories",
        "cluster-infrastructure",
        "rook-ceph-common",
        "rook-ceph-operator",
        "rook-ceph-cluster",
        "rook-ceph-rbd",
        "cloudnative-pg-clusters",
        "linkding",
    ]
    .iter()
    .map(|n| format!("{KS}{n}"))
    .chain(["HelmRelease/home/linkding".to_string()])
    .collect();
    assert_eq!(path, expected);
}
