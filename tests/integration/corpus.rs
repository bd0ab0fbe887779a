//! Real public Flux repositories (`../shared/corpus/*`): each loads without a panic, and per
//! cluster the Kustomizations reached, their dependsOn edges, the longest dependsOn chain and the
//! HelmReleases match the "resolved graph" of its MANIFEST.md (`MANIFEST.counts.json`), whose
//! numbers come from a simpler Flux-emulating script.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::util::{graph_json, shared};

/// The numbers the MANIFEST compares, for one cluster.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    kustomizations: usize,
    kustomization_depends_on: usize,
    longest_chain: usize,
    helm_releases: usize,
    helm_release_depends_on: usize,
}

fn counts(cluster: &Value) -> Counts {
    let nodes = cluster["nodes"].as_array().unwrap();
    // Kustomizations made up for bootstrap or the operator are not in the MANIFEST's counts.
    let ks: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| n["kind"] == "Kustomization" && n["implied"] == false)
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    let depends: Vec<(&str, &str)> = cluster["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "dependsOn")
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    let ks_depends: Vec<(&str, &str)> = depends.iter().copied().filter(|(a, _)| a.starts_with("Kustomization/")).collect();
    Counts {
        kustomizations: ks.len(),
        kustomization_depends_on: ks_depends.len(),
        longest_chain: longest_chain(&ks, &ks_depends),
        helm_releases: nodes.iter().filter(|n| n["kind"] == "HelmRelease").count(),
        helm_release_depends_on: depends.iter().filter(|(a, _)| a.starts_with("HelmRelease/")).count(),
    }
}

/// Nodes on the longest dependsOn chain (the graph is acyclic in every corpus repository).
fn longest_chain(nodes: &BTreeSet<&str>, edges: &[(&str, &str)]) -> usize {
    fn depth<'a>(n: &'a str, edges: &[(&'a str, &'a str)], memo: &mut BTreeMap<&'a str, usize>) -> usize {
        if let Some(&d) = memo.get(n) {
            return d;
        }
        let d = 1 + edges.iter().filter(|e| e.0 == n).map(|e| depth(e.1, edges, memo)).max().unwrap_or(0);
        memo.insert(n, d);
        d
    }
    let mut memo = BTreeMap::new();
    nodes.iter().map(|n| depth(n, edges, &mut memo)).max().unwrap_or(0)
}

fn manifest_counts(dir: &Path) -> Vec<Counts> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.counts.json")).expect("MANIFEST.counts.json");
    let manifest: Value = serde_json::from_str(&text).unwrap();
    manifest["resolved_entrypoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Counts {
            kustomizations: e["ks_reached"].as_u64().unwrap() as usize,
            kustomization_depends_on: e["ks_dependsOn_edges"].as_u64().unwrap() as usize,
            longest_chain: e["ks_longest_chain_nodes"].as_u64().unwrap() as usize,
            helm_releases: e["hr_reached"].as_u64().unwrap() as usize,
            helm_release_depends_on: e["hr_dependsOn_edges"].as_u64().unwrap() as usize,
        })
        .collect()
}

/// Checks one corpus repository: the clusters found (by name, in the MANIFEST's order) and their
/// counts, and no error that the repository does not really have.
fn corpus(name: &str, clusters: &[&str]) {
    let dir = shared().join("corpus").join(name);
    let doc = graph_json(&dir);
    let documents: Vec<&Value> = doc["clusters"].as_array().unwrap().iter().collect();
    let found: Vec<&str> = documents.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let expected = manifest_counts(&dir);
    assert_eq!(documents.len(), expected.len(), "{name}: clusters found {found:?}");
    for (cluster_name, expected) in clusters.iter().zip(expected) {
        let document = documents
            .iter()
            .find(|c| c["name"] == *cluster_name)
            .unwrap_or_else(|| panic!("{name}: no cluster {cluster_name}, found {found:?}"));
        assert_eq!(counts(document), expected, "{name}, cluster {cluster_name:?}");
        let errors: Vec<&Value> =
            document["diagnostics"].as_array().unwrap().iter().filter(|d| d["severity"] == "error").collect();
        assert!(errors.is_empty(), "{name}, cluster {cluster_name:?}: {errors:#?}");
    }
}

#[test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
fn flux2_kustomize_helm_example_classic() {
    // Two bootstrap placeholders (gotk-sync.yaml with no manifest): production, staging.
    corpus("fluxcd__flux2-kustomize-helm-example__classic-a484a05", &["production", "staging"]);
}

#[test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
fn flux2_kustomize_helm_example_with_artifact_generator() {
    // Paths are inside ExternalArtifacts, mapped back through the ArtifactGenerator's copy rules.
    corpus("fluxcd__flux2-kustomize-helm-example", &["production", "staging"]);
}

#[test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
fn onedr0p_home_ops_flux_operator() {
    // One cluster from the FluxInstance in a HelmRelease's values; every name under
    // `kubernetes/flux/cluster` is generic, so the cluster is named after the repository folder.
    corpus("onedr0p__home-ops", &["onedr0p__home-ops"]);
}

#[test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
fn thaynes43_haynes_ops_two_clusters() {
    // Entries guessed from unapplied Kustomizations: kubernetes/{edge,main}/flux/config/cluster.yaml;
    // the `.archive/` group reaches nothing and the edge addons folder lies inside edge's apps, so
    // neither is a cluster. The MANIFEST lists edge first.
    corpus("thaynes43__haynes-ops", &["edge", "main"]);
}

#[test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
fn thaynes43_haynes_ops_orphans_are_not_applied() {
    let doc = graph_json(&shared().join("corpus/thaynes43__haynes-ops"));
    let not_applied: Vec<&serde_json::Value> = doc["diagnostics"].as_array().unwrap().iter().filter(|d| d["code"] == "not-applied").collect();
    // The MANIFEST's six orphans: five retired ks.yaml documents, said once for their `.archive/`
    // folder, and the unlisted edge addons, said for itself.
    let archive: Vec<&&serde_json::Value> = not_applied.iter().filter(|d| d["file"].as_str().unwrap().starts_with(".archive/")).collect();
    assert_eq!(archive.len(), 1, "one finding for the whole .archive/ folder: {archive:#?}");
    assert!(archive[0]["message"].as_str().unwrap().starts_with("./.archive/ holds "), "{}", archive[0]["message"]);
    assert_eq!(archive[0]["object"], serde_json::Value::Null);
    let addons: Vec<&str> = not_applied
        .iter()
        .filter(|d| d["file"] == "kubernetes/edge/apps/flux-system/addons/ks.yaml")
        .map(|d| d["object"].as_str().unwrap())
        .collect();
    assert_eq!(addons, ["Kustomization/flux-system/flux-addons"]);
}

/// The repositories of `../shared/corpus/TRUTH.json` that fluxgraph reads right: the clusters Flux runs
/// (matched by their root), at least 95% of each cluster's Kustomizations reached, and no error-severity
/// diagnostic beyond the errors the repository really has. A ratchet: `tests/corpus-right.txt` lists the
/// repositories known right; one of them going wrong fails the test, and one read right that is not
/// listed yet is named, to be added.
#[test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
fn corpus_matches_the_hand_checked_truth() {
    let corpus = shared().join("corpus");
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(corpus.join("TRUTH.json")).expect("TRUTH.json")).unwrap();
    let listed: BTreeSet<String> = include_str!("../corpus-right.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let additions: Value = serde_json::from_str(include_str!("../corpus-truth-additions.json")).expect("corpus-truth-additions.json");
    let repos: Vec<(&String, &Value)> = truth.as_object().unwrap().iter().collect();
    // Two at a time: the machine has two cores.
    let verdicts: Vec<(String, Result<(), String>)> = std::thread::scope(|scope| {
        let halves = repos.chunks(repos.len().div_ceil(2)).map(|chunk| {
            let corpus = &corpus;
            let additions = &additions;
            scope.spawn(move || chunk.iter().map(|(name, t)| ((*name).clone(), verdict(&corpus.join(name.as_str()), t, &additions[name.as_str()]))).collect::<Vec<_>>())
        });
        halves.collect::<Vec<_>>().into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut regressions = Vec::new();
    for (name, verdict) in &verdicts {
        match verdict {
            Ok(()) if !listed.contains(name) => eprintln!("{name} is now read right: add it to tests/corpus-right.txt"),
            Err(why) if listed.contains(name) => regressions.push(format!("{name}: {why}")),
            Err(why) => eprintln!("{name} (not listed yet): {why}"),
            Ok(()) => {}
        }
    }
    for name in &listed {
        assert!(verdicts.iter().any(|(n, _)| n == name), "{name} is listed in tests/corpus-right.txt but not in TRUTH.json");
    }
    assert!(regressions.is_empty(), "repositories that were read right no longer are:\n{}", regressions.join("\n"));
}

/// Whether fluxgraph reads one corpus repository as TRUTH.json says Flux does. `added` holds the
/// errors Flux really hits there that TRUTH.json does not list (`tests/corpus-truth-additions.json`,
/// each with its evidence): they are true errors too, and each must still be reported.
fn verdict(dir: &Path, truth: &Value, added: &Value) -> Result<(), String> {
    let (_, doc) = crate::util::check(dir);
    let clusters = doc["clusters"].as_array().unwrap();
    let expected = truth["clusters"].as_array().unwrap();
    if clusters.len() != expected.len() {
        let found: Vec<&str> = clusters.iter().map(|c| c["entry"].as_str().unwrap()).collect();
        return Err(format!("{} clusters ({found:?}), Flux runs {}", clusters.len(), expected.len()));
    }
    for t in expected {
        let root = t["root"].as_str().unwrap();
        let cluster = clusters.iter().find(|c| same_root(root, c["entry"].as_str().unwrap()));
        let Some(cluster) = cluster else { return Err(format!("no cluster rooted at {root}")) };
        let reached = cluster["nodes"].as_array().unwrap().iter().filter(|n| n["kind"] == "Kustomization").count();
        let want = t["kustomizations_approx"].as_u64().unwrap() as usize;
        if reached * 100 < want * 95 {
            return Err(format!("cluster {}: {reached} of about {want} Kustomizations reached", t["name"]));
        }
    }
    let key = |e: &Value| (e["code"].as_str().unwrap().to_owned(), e["object"].as_str().unwrap_or("").to_owned());
    let added: BTreeSet<(String, String)> = added.as_array().map(Vec::as_slice).unwrap_or_default().iter().map(key).collect();
    let mut true_errors: BTreeSet<(String, String)> = truth["true_errors"].as_array().unwrap().iter().map(key).collect();
    true_errors.extend(added.iter().cloned());
    let all = || clusters.iter().flat_map(|c| c["diagnostics"].as_array().unwrap()).chain(doc["diagnostics"].as_array().unwrap());
    let reported: BTreeSet<(String, String)> = all().filter(|d| d["severity"] == "error").map(key).collect();
    if let Some((code, object)) = added.iter().find(|a| !reported.contains(*a)) {
        return Err(format!("{code} on {object} is listed in tests/corpus-truth-additions.json but no longer reported"));
    }
    let false_errors: Vec<String> = all()
        .filter(|d| d["severity"] == "error")
        .filter(|d| !true_errors.contains(&(d["code"].as_str().unwrap().to_owned(), d["object"].as_str().unwrap_or("").to_owned())))
        .map(|d| format!("{} {} ({}:{})", d["code"], d["object"], d["file"], d["line"]))
        .collect();
    if !false_errors.is_empty() {
        return Err(format!("{} errors Flux would not hit, e.g. {}", false_errors.len(), false_errors[0]));
    }
    Ok(())
}

/// Whether an entry point is the root TRUTH.json names (its text may name several files, and a folder
/// where fluxgraph names the file in it, or the other way round).
fn same_root(truth: &str, entry: &str) -> bool {
    truth
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|t| t.contains('/'))
        .any(|t| t == entry || t.starts_with(&format!("{entry}/")) || entry.starts_with(&format!("{t}/")))
}
