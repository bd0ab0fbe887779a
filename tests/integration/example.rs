//! The project's example repository (`examples/rpi-cluster`, the README's demo): no error, and the
//! JSON, DOT and Mermaid outputs are exactly the golden files in `tests/golden/`.
//! `FLUXGRAPH_BLESS=1 cargo test` rewrites the golden files after a deliberate change.

use std::path::{Path, PathBuf};

use crate::util::{check, run};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster")
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("FLUXGRAPH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with FLUXGRAPH_BLESS=1 to create it", path.display()));
    if expected != actual {
        let first = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} differs from the golden file at line {}:\n  expected: {}\n  actual:   {}\nrun with FLUXGRAPH_BLESS=1 if the change is meant",
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

fn output(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn example_has_no_error() {
    let (status, whole) = check(&example());
    let doc = crate::util::only_cluster(&whole);
    assert_eq!(doc["name"], "rpi-cluster");
    assert_eq!(doc["entry"], "kubernetes/rpi-cluster/flux/config");
    let errors: Vec<_> = [doc, &whole]
        .iter()
        .flat_map(|d| d["diagnostics"].as_array().unwrap())
        .filter(|d| d["severity"] == "error")
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(status, 0);
    // fluxgraph's own component (deploy/) is registered like any other app.
    let fluxgraph = "Kustomization/flux-system/fluxgraph";
    assert_eq!(crate::util::level(doc, fluxgraph), Some(7), "after the gateway it routes through");
    let depends: Vec<&str> = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == fluxgraph && e["kind"] == "dependsOn")
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    assert_eq!(depends, ["Kustomization/flux-system/cilium-gateway", "Kustomization/flux-system/fluxgraph-network-policy"]);
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/apps/tools/fluxgraph");
    for file in ["ks.yaml", "app/deployment.yaml", "app/rbac.yaml", "app/httproute.yaml", "network-policy/networkpolicy.yaml"] {
        let in_example = std::fs::read(example().join("kubernetes/rpi-cluster/apps/tools/fluxgraph").join(file)).unwrap();
        assert_eq!(std::fs::read(deploy.join(file)).unwrap(), in_example, "deploy/ and the example differ in {file}");
    }
}

#[test]
fn example_json_dot_and_mermaid_match_the_golden_files() {
    let path = example();
    let path = path.to_str().unwrap();
    golden("rpi-cluster.json", &output(&["graph", path, "--format", "json"]));
    golden("rpi-cluster.dot", &output(&["graph", path, "--format", "dot"]));
    golden("rpi-cluster.mmd", &output(&["graph", path, "--format", "mermaid"]));
    golden("rpi-cluster.check.txt", &output(&["check", path]));
}
