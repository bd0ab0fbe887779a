//! The cluster stage's rules: which entry points are live, what a FluxInstance creates, which
//! sources are this repository, and where `substituteFrom` looks. One repository per rule under
//! `tests/repos/`, named after it.

use crate::util::*;

const FLUX_SYSTEM: &str = "Kustomization/flux-system/flux-system";

fn implied(doc: &serde_json::Value) -> std::collections::BTreeSet<String> {
    doc["nodes"].as_array().unwrap().iter().filter(|n| n["implied"] == true).map(|n| n["id"].as_str().unwrap().to_owned()).collect()
}

/// `substituteFrom` finds the ConfigMap the same cluster applies, never another cluster's of the same
/// name: two clusters each define `CLUSTER` and share a child whose path is `./deploy/${CLUSTER}`; only
/// `deploy/b` exists, so only cluster a's child fails.
#[test]
fn variables_belong_to_a_cluster() {
    let (status, whole) = check(&repo("variables-belong-to-a-cluster"));
    let deploy = "Kustomization/flux-system/deploy";
    assert_eq!(cluster_names(&whole), set(["a", "b"]));
    let a = cluster(&whole, "a");
    assert_codes(a, &[("path-not-found", "error", Some(deploy))]);
    assert!(text(diag_on(a, "path-not-found", Some(deploy))).contains("deploy/a"));
    assert_codes(cluster(&whole, "b"), &[]);
    assert_eq!(status, 1);
}

/// A Secret made at run time (here by an ExternalSecret) and an optional source that is absent may define
/// any variable: no undefined-variable, and a path or dependsOn that holds an unknown value is shown as
/// unresolved (info), never as path-not-found or missing-dependency.
#[test]
fn unknown_is_not_undefined() {
    let (status, whole) = check(&repo("unknown-is-not-undefined"));
    let doc = only_cluster(&whole);
    let (apps, site) = ("Kustomization/flux-system/apps", "Kustomization/flux-system/site");
    assert_codes(
        doc,
        &[
            ("substitution-source-not-found", "info", Some(apps)),
            ("unresolved-variable", "info", Some(site)),
            ("unresolved-variable", "info", Some(site)),
        ],
    );
    assert_eq!(status, 0);
}

/// A substituted text that holds a variable whose value is not known here (a Secret made from a store
/// may define `q`) is kept as text when it does not read as YAML: Flux reads the text with the value in it.
/// A Kustomization's own variable that its parent left holding such a `${…}` is substituted as written but
/// its outcome is unknown too, so its build keeps the text instead of failing. With `q` known (`cache`), the default quotes the list for
/// the parent's substitution and the child's build gets the list itself, as Flux gives it.
#[test]
fn an_unknown_value_may_be_yaml() {
    let path = repo("unknown-value-may-be-yaml");
    let (status, whole) = check(&path);
    assert_codes(only_cluster(&whole), &[]);
    assert_eq!(status, 0);
    let built = |id: &str| {
        let out = run(&["build", path.to_str().unwrap(), id, "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{id}: {}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["builds"][0].clone()
    };
    let db = built("Kustomization/flux-system/db");
    assert_eq!(db["error"], serde_json::Value::Null);
    let schema = &db["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Kustomization").unwrap();
    assert_eq!(schema["spec"]["postBuild"]["substitute"]["EXTENSIONS"], "${q:='}[  { name: vector }]${q:='}");
    let database = |id: &str| built(id)["objects"][0]["spec"]["extensions"].clone();
    assert_eq!(database("Kustomization/flux-system/db-schema"), "${q:='}[  { name: vector }]${q:='}");
    assert_eq!(database("Kustomization/flux-system/cache-schema"), serde_json::json!([{"name": "vector"}]));
}

/// A GitRepository whose URL is the bootstrap source's (another name, another branch) is this repository:
/// its Kustomization's path is built here. One of another repository is external: not built from local
/// folders, so the `Taskfile.yml` at the root is never blamed on it.
#[test]
fn a_source_with_this_repository_url_is_local() {
    let (status, whole) = check(&repo("local-source-by-url"));
    let doc = only_cluster(&whole);
    let (apps, vendor) = ("Kustomization/flux-system/apps", "Kustomization/flux-system/vendor");
    assert_eq!(node(doc, apps)["external_source"], serde_json::Value::Null);
    assert!(node_ids(doc).contains("HelmRelease/default/podinfo"), "apps is built from this repository");
    assert!(node(doc, vendor)["external_source"].as_str().unwrap().contains("other/manifests"));
    assert_codes(doc, &[("external-source", "info", Some(vendor))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 0);
}

/// The work tree's git remote (`.git/config`) says which URL is this repository: a Kustomization that
/// nothing applies but that reads another repository is never a root, nor built from local folders.
#[test]
fn a_kustomization_of_another_repository_is_never_a_root() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(".git/config", "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = git@github.com:me/home.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n");
    let ks = |name: &str, source: &str, path: &str| {
        format!("---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: {path}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: {source}\n")
    };
    let git = |name: &str, url: &str| format!("---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: {url}\n  ref:\n    branch: main\n");
    write("clusters/main/cluster.yaml", &(git("home", "https://github.com/me/home") + &ks("cluster", "home", "./apps")));
    write("apps/configmap.yaml", "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\ndata:\n  A: \"1\"\n");
    write("vendor/ks.yaml", &(git("theirs", "https://github.com/other/stack") + &ks("stack", "theirs", "./")));
    write("Taskfile.yml", "version: \"3\"\n");
    let (status, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set(["GitRepository/flux-system/home", "Kustomization/flux-system/cluster"]));
    assert!(codes(&whole).iter().all(|(_, severity, _)| severity != "error"), "{:?}", codes(&whole));
    assert_eq!(status, 0);
}

/// The Flux Operator names the source and the Kustomization it creates after `sync.name` (else the
/// instance's namespace), and applies the instance's `kustomize.patches` to them: here decryption,
/// which the SOPS file in the synced folder needs.
#[test]
fn flux_instance_objects_are_named_after_sync_name() {
    let (status, whole) = check(&repo("flux-instance-sync-name"));
    let doc = only_cluster(&whole);
    let root = "Kustomization/flux-system/cluster-repository";
    assert_eq!(implied(doc), set([root, "GitRepository/flux-system/cluster-repository"]));
    assert_eq!(parents(doc, "Kustomization/flux-system/apps"), set([root]));
    assert_codes(&whole, &[]);
    assert_codes(doc, &[]);
    assert_eq!(status, 0);
}

/// `sync.kind: OCIRepository`: the operator creates an OCIRepository, local to this repository. The
/// artifact is pushed from a folder: the sync path exists only below `deploy/oci`, which is taken as the
/// artifact's root (and said), for the children's paths too.
#[test]
fn an_oci_sync_is_rooted_where_its_path_exists() {
    let (status, whole) = check(&repo("flux-instance-oci-artifact-root"));
    let doc = only_cluster(&whole);
    assert_eq!(implied(doc), set([FLUX_SYSTEM, "OCIRepository/flux-system/flux-system"]));
    assert_eq!(parents(doc, "HelmRelease/flux-system/podinfo"), set(["Kustomization/flux-system/apps"]));
    assert_codes(doc, &[("artifact-root", "info", None)]);
    assert!(text(diag_on(doc, "artifact-root", None)).contains("./deploy/oci"));
    assert_eq!(status, 0);
}

/// A flux-instance HelmRelease whose values come through `valuesFrom` from a ConfigMap that kustomize's
/// configMapGenerator builds from a values file.
#[test]
fn flux_instance_values_from_a_generated_config_map() {
    let (status, whole) = check(&repo("flux-instance-values-from"));
    let doc = only_cluster(&whole);
    assert_eq!(doc["entry"], "kubernetes/apps/flux-system/flux-instance/app/helmrelease.yaml");
    assert_eq!(implied(doc), set(["Kustomization/flux-system/home", "GitRepository/flux-system/home"]));
    assert_eq!(parents(doc, "HelmRelease/flux-system/flux-instance"), set(["Kustomization/flux-system/flux-instance"]));
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 0);
}

/// `${CLUSTER}` in the sync path takes the postBuild variables of the Kustomization that applies the
/// flux-instance HelmRelease.
#[test]
fn a_variable_in_the_sync_path_takes_the_applying_kustomizations_value() {
    let (status, whole) = check(&repo("flux-instance-sync-path-variable"));
    let doc = only_cluster(&whole);
    assert_eq!(doc["name"], "prod");
    assert_eq!(parents(doc, "Kustomization/flux-system/apps"), set([FLUX_SYSTEM]));
    assert_eq!(parents(doc, "HelmRelease/flux-system/flux-instance"), set(["Kustomization/flux-system/flux-instance"]));
    assert_codes(doc, &[]);
    assert_eq!(status, 0);
}

/// Dead entry points are reported, not turned into clusters beside the live one: a template whose URL is
/// still `${VAR}`; a stale copy of a gotk-sync.yaml (the same path, from outside it); a scaffold whose
/// cluster reconciles nothing of the repository; a flux-instance HelmRelease that nothing applies.
#[test]
fn dead_entry_points_are_not_clusters() {
    for (case, live, dead) in [
        ("dead-entry-template", "cluster/base/flux-system/gotk-sync.yaml", "tmpl/gotk-sync.yaml"),
        ("dead-entry-stale-copy", "cluster/base/flux-system/gotk-sync.yaml", "backup/base/flux-system/gotk-sync.yaml"),
        ("dead-entry-scaffold", "clusters/main/flux-system/gotk-sync.yaml", "k8s/next/bootstrap/gotk-sync.yaml"),
        ("dead-entry-unapplied-release", "kubernetes/flux/instance.yaml", "kubernetes/apps/flux-instance/app/helmrelease.yaml"),
    ] {
        let (status, whole) = check(&repo(case));
        let doc = only_cluster(&whole);
        assert_eq!(doc["entry"], live, "{case}");
        assert!(node_ids(doc).contains("Kustomization/flux-system/apps"), "{case}");
        let dead_entries: Vec<_> = diag(&whole, "dead-entry").into_iter().map(|d| d["file"].as_str().unwrap().to_owned()).collect();
        assert_eq!(dead_entries, vec![dead.to_owned()], "{case}");
        assert!(codes(&whole).iter().chain(codes(doc).iter()).all(|(_, s, _)| s != "error"), "{case}");
        assert_eq!(status, 0, "{case}");
    }
}

/// A Kustomization that nothing in git applies, that reads the live entry point's own source and gives its
/// cluster what it reads (the HelmRepository and the substituteFrom ConfigMap), was applied by hand into
/// that cluster: it is a root there. An archived one that gives nothing stays "not applied".
#[test]
fn a_hand_applied_root_joins_the_live_cluster() {
    let (status, whole) = check(&repo("hand-applied-root"));
    let doc = only_cluster(&whole);
    let cluster_root = "Kustomization/flux-system/cluster";
    assert_eq!(parents(doc, cluster_root), set([]));
    assert_eq!(parents(doc, "HelmRepository/flux-system/podinfo"), set([cluster_root]));
    assert_codes(doc, &[("hand-applied", "info", None)]);
    assert_codes(&whole, &[("not-applied", "warning", Some("Kustomization/flux-system/old"))]);
    assert_eq!(status, 0);
}

/// Roots found as Kustomizations nothing applies: the kustomization.yaml of their folder applies its other
/// resources too, so the source beside them and the ConfigMap their postBuild reads are in the cluster.
#[test]
fn the_roots_folder_applies_its_other_resources() {
    let (status, whole) = check(&repo("unapplied-root-folder-kustomization"));
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set(["GitRepository/flux-system/home", "Kustomization/flux-system/cluster"]));
    assert_eq!(implied(doc), set([]));
    assert_codes(doc, &[]);
    assert_eq!(status, 0);
}

/// `--entry` takes a kustomization.yaml that lists Flux objects, and a folder gives the same result as its
/// kustomization.yaml.
#[test]
fn entry_folder_and_its_kustomization_file_agree() {
    let path = repo("unapplied-root-folder-kustomization");
    let by_folder = graph_json_with(&path, &["--entry", "clusters/main"]);
    let by_file = graph_json_with(&path, &["--entry", "clusters/main/kustomization.yaml"]);
    assert_eq!(node_ids(only_cluster(&by_folder)), node_ids(only_cluster(&by_file)));
    assert_eq!(node_ids(only_cluster(&by_file)), set(["GitRepository/flux-system/home", "Kustomization/flux-system/cluster"]));
    assert_codes(only_cluster(&by_file), &[]);
}

/// A repository where no cluster is found says so, as an error naming what was looked for; never an empty
/// graph with exit status 0.
#[test]
fn no_cluster_is_an_error() {
    let (status, whole) = check(&repo("no-cluster"));
    assert_eq!(cluster_names(&whole), set([]));
    assert_codes(&whole, &[("no-cluster", "error", None)]);
    assert!(text(diag_on(&whole, "no-cluster", None)).contains("gotk-sync.yaml"));
    assert_eq!(status, 1);
}
