//! Discovery weighs the evidence: which entry points are live, which sources are this repository,
//! where a FluxInstance lands and where it may be written. One repository per rule under
//! `tests/repos/`, named after it, each tried on variants (another folder, another namespace, with a
//! `.git` remote, reached another way).

use std::path::Path;

use crate::util::*;

const FLUX_SYSTEM: &str = "Kustomization/flux-system/flux-system";
const FLUX_SOURCE: &str = "GitRepository/flux-system/flux-system";

fn implied(doc: &serde_json::Value) -> std::collections::BTreeSet<String> {
    doc["nodes"].as_array().unwrap().iter().filter(|n| n["implied"] == true).map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

/// No error-severity finding anywhere in the document.
fn assert_no_errors(whole: &serde_json::Value) {
    let clusters = whole["clusters"].as_array().unwrap();
    let all = clusters.iter().flat_map(|c| codes(c)).chain(codes(whole));
    let errors: Vec<_> = all.filter(|(_, severity, _)| severity == "error").collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A copy of `case` in a temporary folder, changed by `edit` (path, new text or None to delete).
fn variant(case: &str, edits: &[(&str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo(case), dir.path());
    for (path, text) in edits {
        let p = dir.path().join(path);
        match text {
            Some(text) => {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
            None => std::fs::remove_file(p).unwrap(),
        }
    }
    dir
}

fn read(case: &str, path: &str) -> String {
    std::fs::read_to_string(repo(case).join(path)).unwrap()
}

/// A Kustomization whose own build applies its own file (`cluster` → `./cluster/flux`, which
/// lists `config/`) proves its GitRepository is this repository, `.git` or not: the GitRepositories
/// with another URL are other repositories, so their path-less Kustomizations build nothing here and
/// are never roots — the one no kustomization.yaml lists is not applied.
#[test]
fn a_kustomization_that_applies_itself_proves_its_source_is_this_repository() {
    let case = "self-applied-source-is-local";
    let (status, whole) = check(&repo(case));
    let doc = only_cluster(&whole);
    assert_eq!(doc["entry"], "cluster/flux/config");
    let (cluster, crds, upstream) = ("Kustomization/flux-system/cluster", "Kustomization/flux-system/crds", "Kustomization/flux-system/upstream-crds");
    for id in [cluster, crds, upstream] {
        assert!(node_ids(doc).contains(id), "{id}");
    }
    assert!(node(doc, upstream)["external_source"].as_str().unwrap().contains("github.com/other/"));
    assert_eq!(diag(&whole, "not-applied").len(), 1, "the unlisted folder, once");
    assert!(text(diag(&whole, "not-applied")[0]).contains("cluster/crds/unlisted"));
    assert_no_errors(&whole);
    assert_eq!(status, 0);

    // The same, with the work tree's remote saying which repository this is.
    let with_git = variant(case, &[(".git/config", Some("[remote \"origin\"]\n\turl = git@github.com:me/fleet.git\n"))]);
    let (status, again) = check(with_git.path());
    assert_eq!(node_ids(only_cluster(&again)), node_ids(doc));
    assert_eq!(status, 0);
}

/// A source proven to be this repository that no file defines was made at bootstrap: it is implied,
/// not `source-not-found`, and every Kustomization reading it builds here.
#[test]
fn a_proven_source_in_no_file_was_made_at_bootstrap() {
    let (status, whole) = check(&repo("self-applied-source-not-in-git"));
    let doc = only_cluster(&whole);
    assert_eq!(implied(doc), set(["GitRepository/flux-system/home"]));
    assert_eq!(node_ids(doc), set(["GitRepository/flux-system/home", "Kustomization/flux-system/cluster", "Kustomization/flux-system/apps"]));
    assert_eq!(parents(doc, "Kustomization/flux-system/apps"), set(["Kustomization/flux-system/cluster"]));
    assert_no_errors(&whole);
    assert_eq!(status, 0);
}

/// `flux bootstrap` writes gotk-sync.yaml at `<path>/<namespace>/gotk-sync.yaml`: a copy moved into an
/// archive folder is not live (its URL is the one the live roots read), and does not hide the live
/// roots applied by hand. A repository kept inside another folder (another URL) is rooted there.
#[test]
fn gotk_sync_is_live_only_where_bootstrap_writes_it() {
    let case = "gotk-sync-only-where-bootstrap-writes";
    let (status, whole) = check(&repo(case));
    let doc = only_cluster(&whole);
    assert_eq!(doc["entry"], "clusters/main");
    assert!(node_ids(doc).contains("Kustomization/flux-system/apps"));
    let dead: Vec<&str> = diag(&whole, "dead-entry").iter().map(|d| d["file"].as_str().unwrap()).collect();
    assert_eq!(dead, ["archive/cluster/base/flux-system/gotk-sync.yaml"]);
    assert_no_errors(&whole);
    assert_eq!(status, 0);

    // The same copy under another archive name.
    let sync = read(case, "archive/cluster/base/flux-system/gotk-sync.yaml");
    let moved = variant(case, &[("archive/cluster/base/flux-system/gotk-sync.yaml", None), ("old/cluster/base/flux-system/gotk-sync.yaml", Some(&sync))]);
    let (_, again) = check(moved.path());
    assert_eq!(only_cluster(&again)["entry"], "clusters/main");

    // Bootstrapped with --namespace=flux: live where that namespace puts it.
    let in_flux = sync.replace("namespace: flux-system", "namespace: flux").replace("path: ./cluster/base", "path: ./clusters/main");
    let other_namespace = variant("gotk-sync-only-where-bootstrap-writes", &[("archive/cluster/base/flux-system/gotk-sync.yaml", None), ("clusters/main/flux/gotk-sync.yaml", Some(&in_flux))]);
    let (_, live) = check(other_namespace.path());
    let names: Vec<&str> = live["clusters"].as_array().unwrap().iter().map(|c| c["entry"].as_str().unwrap()).collect();
    assert!(names.contains(&"clusters/main/flux/gotk-sync.yaml"), "{names:?}");

    // Another repository kept in repos/other: rooted there, its paths read from it.
    let (status, nested) = check(&repo("gotk-sync-nested-repository"));
    let doc = only_cluster(&nested);
    assert_eq!(doc["name"], "prod");
    assert!(node_ids(doc).contains("Kustomization/flux-system/apps"));
    assert_codes(doc, &[("artifact-root", "info", None)]);
    assert_no_errors(&nested);
    assert_eq!(status, 0);
}

/// A flux-instance HelmRelease without a namespace lands where its applying Kustomization puts it
/// (`targetNamespace`, or kustomize's `namespace:`): the operator names its source and Kustomization
/// after that namespace.
#[test]
fn a_flux_instance_lands_in_its_appliers_namespace() {
    let case = "flux-instance-namespace-from-applier";
    let (status, whole) = check(&repo(case));
    let doc = only_cluster(&whole);
    assert_eq!(implied(doc), set(["Kustomization/gitops-system/gitops-system", "GitRepository/gitops-system/gitops-system"]));
    assert!(node_ids(doc).contains("Kustomization/gitops-system/cluster-apps"));
    assert_no_errors(&whole);
    assert_eq!(status, 0);

    // Without targetNamespace, the folder's kustomization.yaml `namespace:` puts it there too.
    let ks = read(case, "kubernetes/apps/gitops-system/flux-instance/ks.yaml");
    assert!(ks.contains("targetNamespace: gitops-system"), "{ks}");
    let without = variant(case, &[("kubernetes/apps/gitops-system/flux-instance/ks.yaml", Some(&ks.replace("  targetNamespace: gitops-system\n", "")))]);
    let (_, again) = check(without.path());
    assert_eq!(implied(only_cluster(&again)), implied(doc));
}

/// A FluxInstance is evidence wherever it is written: in a ResourceSet (flux-operator applies its
/// resources as written), and in the values a bootstrap tool installs the chart with (a helmfile
/// release and its values file), when nothing in the tree says more.
#[test]
fn a_flux_instance_is_read_wherever_it_is_written() {
    for (case, entry) in [("flux-instance-in-resourceset", "clusters/main/flux-instance/resourceset.yaml"), ("flux-instance-in-helmfile-values", "bootstrap/helmfile.yaml")] {
        let (status, whole) = check(&repo(case));
        let doc = only_cluster(&whole);
        assert_eq!(doc["entry"], entry, "{case}");
        assert_eq!(implied(doc), set([FLUX_SYSTEM, FLUX_SOURCE]), "{case}");
        assert_eq!(parents(doc, "Kustomization/flux-system/apps"), set([FLUX_SYSTEM]), "{case}");
        assert_no_errors(&whole);
        assert_eq!(status, 0, "{case}");
    }
    // An install values file of its own (a Terraform or CLI install), without helmfile.
    let values = read("flux-instance-in-helmfile-values", "bootstrap/values/flux-instance.yaml");
    let plain = variant("flux-instance-in-helmfile-values", &[("bootstrap/helmfile.yaml", None), ("bootstrap/values/flux-instance.yaml", None), ("terraform/flux-values.yaml", Some(&values))]);
    let (_, whole) = check(plain.path());
    assert_eq!(only_cluster(&whole)["entry"], "terraform/flux-values.yaml");
}

/// An ArtifactGenerator copies `@<alias>/…` relative to the root of the source its alias names: the
/// operator's OCI sync is pushed from `./kubernetes`, so the app's folder is `kubernetes/apps/app`.
#[test]
fn an_artifact_generator_copies_from_its_sources_root() {
    let (status, whole) = check(&repo("artifact-generator-on-subfolder-artifact"));
    let doc = only_cluster(&whole);
    assert!(node_ids(doc).contains("Kustomization/flux-system/app"));
    assert!(diag(doc, "path-not-found").is_empty(), "{:?}", codes(doc));
    assert_no_errors(&whole);
    assert_eq!(status, 0);
    let build = run(&["build", repo("artifact-generator-on-subfolder-artifact").to_str().unwrap(), "Kustomization/flux-system/app"]);
    assert!(String::from_utf8_lossy(&build.stdout).contains("# from kubernetes/apps/app/configmap.yaml:"), "{}", String::from_utf8_lossy(&build.stdout));
}

/// What no cluster reaches is said once per folder out of reach — an archive, an app commented out of
/// its parent's kustomization.yaml — not once per object.
#[test]
fn a_folder_out_of_reach_is_one_not_applied_finding() {
    let (status, whole) = check(&repo("not-applied-folders-summarised"));
    let mut folders: Vec<String> = diag(&whole, "not-applied").iter().map(|d| text(d)).collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:#?}");
    assert!(folders[0].contains("./.archive/ holds 3 Flux objects"), "{}", folders[0]);
    assert!(folders[1].contains("./apps/old/ holds 2 Flux objects"), "{}", folders[1]);
    assert_eq!(status, 0);
}

/// A hand-made `<folder>/flux-system/` (applied with `kubectl apply -k`) whose sync reads an OCI
/// artifact copies bootstrap's layout: that artifact is `<folder>`, and the other artifact its
/// cluster reads is rooted at the one folder holding all its paths. Flux's own manifests stay
/// external, and the Kustomization that re-applies the roots holds none of them back.
#[test]
fn a_hand_made_flux_system_folder_syncs_its_parent() {
    let (status, whole) = check(&repo("hand-applied-oci-sync-of-parent-folder"));
    assert_eq!(cluster_names(&whole).len(), 1, "{:?}", cluster_names(&whole));
    let doc = only_cluster(&whole);
    assert_eq!(doc["entry"], "kubernetes/clusters/local/flux-system");
    for id in ["Kustomization/flux-system/infra-controllers", "Kustomization/flux-system/infra-config"] {
        assert_eq!(node(doc, id)["external_source"], serde_json::Value::Null, "{id} builds from ./kubernetes/infra");
    }
    assert!(node(doc, "Kustomization/flux-system/flux-sync")["external_source"].as_str().unwrap().contains("flux-manifests"));
    assert!(cycles(doc).is_empty());
    assert!(diag(doc, "multiple-owners").is_empty(), "{:?}", codes(doc));
    assert_no_errors(&whole);
    assert_eq!(status, 0);
}

/// A root applied by hand (or by bootstrap) exists from the start: a Kustomization that re-applies it
/// later (here one it dependsOn) holds it back no more — no cycle, and it stays at level 0.
#[test]
fn a_root_does_not_wait_for_a_kustomization_that_reapplies_it() {
    let (status, whole) = check(&repo("root-reapplied-by-child-does-not-wait"));
    let doc = only_cluster(&whole);
    let (flux, cluster, apps) = ("Kustomization/flux-system/flux", "Kustomization/flux-system/cluster", "Kustomization/flux-system/apps");
    assert!(cycles(doc).is_empty());
    assert_eq!((level(doc, flux), level(doc, cluster), level(doc, apps)), (Some(0), Some(1), Some(2)));
    assert!(parents(doc, flux).contains(cluster), "the applies edge is still drawn");
    assert_eq!(status, 0);
}

/// Kustomizations that read bootstrap's `flux-system` GitRepository, which no file defines, and need a
/// ConfigMap beside them that only a sync of their whole folder applies, were bootstrapped with
/// `--path=<their folder>` and its output is not committed: bootstrap's Kustomization is implied. Where
/// nothing is missing, the roots stay applied by hand, as written.
#[test]
fn an_uncommitted_bootstrap_root_is_implied_where_only_it_works() {
    let case = "uncommitted-bootstrap-root";
    let (status, whole) = check(&repo(case));
    let doc = only_cluster(&whole);
    assert_eq!(implied(doc), set([FLUX_SYSTEM, FLUX_SOURCE]));
    assert!(diag(doc, "substitution-source-not-found").is_empty(), "{:?}", codes(doc));
    assert_eq!(status, 0);
    let without_needs = variant(case, &[("clusters/my-cluster/versions.yaml", None)]);
    let (_, plain) = check(without_needs.path());
    assert_eq!(implied(only_cluster(&plain)), set([FLUX_SOURCE]));
}

/// Every rule above, together, on a repository without `.git`, keeps the path exactly as a user's
/// clone would give it.
#[test]
fn discovery_without_git_reads_paths_from_the_repository_root() {
    let dir = variant("self-applied-source-not-in-git", &[]);
    assert!(!dir.path().join(".git").exists());
    let (_, whole) = check(Path::new(dir.path()));
    assert_eq!(only_cluster(&whole)["entry"], "clusters/main/flux");
}

/// A file nothing applies whose source URL is still a `${VARIABLE}` (the template a root was rendered
/// from) is no root, and does not hide the root rendered from it by "applying" the same folder.
#[test]
fn a_template_copy_is_not_a_root() {
    let (status, whole) = check(&repo("template-copy-is-not-a-root"));
    let doc = only_cluster(&whole);
    assert_eq!(doc["entry"], "kubernetes/flux/config");
    assert_eq!(node(doc, "Kustomization/flux-system/cluster")["file"], "kubernetes/flux/config/cluster.yaml");
    assert!(node_ids(doc).contains("Kustomization/flux-system/cluster-apps"));
    assert_no_errors(&whole);
    assert_eq!(status, 0);
}

/// When every bootstrap entry installs Flux and nothing more (its kustomization.yaml keeps only
/// gotk-components.yaml), the self-managing root applied by hand from the same repository is a root of
/// that cluster too.
#[test]
fn a_flux_only_bootstrap_takes_the_hand_applied_root_of_the_same_repository() {
    let (status, whole) = check(&repo("flux-only-bootstrap-beside-hand-applied-root"));
    let doc = only_cluster(&whole);
    assert_eq!(doc["entry"], "cluster/base/flux-system/gotk-sync.yaml");
    for id in ["Kustomization/flux-system/flux-system", "Kustomization/flux-system/flux-cluster", "Kustomization/flux-system/apps"] {
        assert!(node_ids(doc).contains(id), "{id}");
    }
    assert_codes(doc, &[("hand-applied", "info", None)]);
    assert!(diag(&whole, "not-applied").is_empty());
    assert_eq!(status, 0);
}
