//! One test per Flux rule and per diagnostic code, each on its own repository under `tests/repos/`,
//! named after the rule it pins. Expectations are exact: node ids, edges, levels, cycles and the
//! (code, severity, object) of every diagnostic.

use std::collections::BTreeSet;

use crate::util::*;

const SOURCE: &str = FLUX_SYSTEM_SOURCE;
/// The Kustomization `flux bootstrap` writes in `gotk-sync.yaml`.
const FLUX_SYSTEM: &str = "Kustomization/flux-system/flux-system";

// Flux rules

/// Level(X) = 0 without prerequisites, else 1 + the highest level among them; the prerequisites are
/// the dependsOn targets and the Kustomization that applies X. The critical path is the longest chain.
#[test]
fn level_is_one_more_than_highest_prerequisite() {
    let whole = graph_json(&repo("levels-chain"));
    let doc = only_cluster(&whole);
    let infrastructure = "Kustomization/flux-system/infrastructure";
    let apps = "Kustomization/flux-system/apps";
    let linkding = "Kustomization/flux-system/linkding";

    assert_eq!(node_ids(doc), set([SOURCE, infrastructure, apps, linkding]));
    assert_located(doc, infrastructure, "clusters/test/cluster.yaml", 2);
    assert_located(doc, apps, "clusters/test/cluster.yaml", 16);
    assert_located(doc, linkding, "apps/linkding/ks.yaml", 2);
    assert_eq!(parents(doc, infrastructure), set([]));
    assert_eq!(parents(doc, apps), set([]));
    assert_eq!(parents(doc, linkding), set([apps]));
    assert_eq!(edges(doc, "applies"), pairs([(apps, linkding)]));
    assert_eq!(edges(doc, "dependsOn"), pairs([(apps, infrastructure), (linkding, infrastructure)]));
    assert_eq!(edges(doc, "source"), each_to([infrastructure, apps, linkding], SOURCE));
    assert_eq!(levels(doc), [set([SOURCE, infrastructure]), set([apps]), set([linkding])]);
    assert_eq!(critical_path(doc), [infrastructure, apps, linkding]);
    assert!(cycles(doc).is_empty());
    // linkding's own dependsOn infrastructure is not redundant: its parent's dependsOn is no dependsOn chain of its own.
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// A dependsOn entry without `namespace` means the dependent's namespace; an explicit one is taken as is.
/// An object's namespace: metadata.namespace < outermost kustomization.yaml `namespace:` < the applying
/// Kustomization's `spec.targetNamespace`.
#[test]
fn depends_on_without_namespace_means_dependents_namespace() {
    let whole = graph_json(&repo("depends-on-namespace"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let cluster_monitoring = "Kustomization/flux-system/cluster-monitoring";
    // no metadata.namespace: apps/database/kustomization.yaml gives `database`
    let cloudnative_pg = "Kustomization/database/cloudnative-pg";
    // metadata.namespace flux-system, inner kustomization `default`, outer kustomization `home`: home wins
    let linkding_config = "Kustomization/home/linkding-config";
    let linkding = "Kustomization/home/linkding";
    // metadata.namespace default, kustomization `observability`, parent's targetNamespace `monitoring`: it wins
    let prometheus_crds = "Kustomization/monitoring/kube-prometheus-stack-crds";
    let prometheus = "Kustomization/monitoring/kube-prometheus-stack";

    assert_eq!(
        node_ids(doc),
        set([SOURCE, cluster_apps, cluster_monitoring, cloudnative_pg, linkding_config, linkding, prometheus_crds, prometheus])
    );
    assert_located(doc, cloudnative_pg, "apps/database/cloudnative-pg/ks.yaml", 2);
    assert_located(doc, linkding_config, "apps/home/linkding/ks.yaml", 2);
    assert_located(doc, linkding, "apps/home/linkding/ks.yaml", 17);
    assert_located(doc, prometheus, "monitoring/kube-prometheus-stack/ks.yaml", 17);
    assert_eq!(
        edges(doc, "dependsOn"),
        pairs([(linkding, linkding_config), (linkding, cloudnative_pg), (prometheus, prometheus_crds)])
    );
    assert_eq!(
        edges(doc, "applies"),
        pairs([
            (cluster_apps, cloudnative_pg),
            (cluster_apps, linkding_config),
            (cluster_apps, linkding),
            (cluster_monitoring, prometheus_crds),
            (cluster_monitoring, prometheus),
        ])
    );
    assert_eq!(
        edges(doc, "source"),
        each_to(
            [cluster_apps, cluster_monitoring, cloudnative_pg, linkding_config, linkding, prometheus_crds, prometheus],
            SOURCE
        )
    );
    assert_eq!(
        levels(doc),
        [
            set([SOURCE, cluster_apps, cluster_monitoring]),
            set([cloudnative_pg, linkding_config, prometheus_crds]),
            set([linkding, prometheus]),
        ]
    );
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// A spec.path without kustomization.yaml gets Flux's generated one: every .yaml/.yml below it,
/// recursively, except that a sub-directory with its own kustomization.yaml is one unit (only what it lists).
#[test]
fn path_without_kustomization_yaml_applies_every_yaml_below_it() {
    let (status, whole) = check(&repo("generated-kustomization"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let linkding = "Kustomization/flux-system/linkding"; // apps/home/linkding/ks.yaml, two levels down
    let homepage = "Kustomization/flux-system/homepage"; // a .yml file
    let jellyfin = "Kustomization/flux-system/jellyfin"; // listed by apps/media/kustomization.yaml
    let plex = "Kustomization/flux-system/plex"; // in apps/media/ but not listed there

    assert_eq!(node_ids(doc), set([FLUX_SYSTEM, SOURCE, cluster_apps, linkding, homepage, jellyfin]));
    assert_located(doc, FLUX_SYSTEM, "clusters/test/flux-system/gotk-sync.yaml", 16);
    assert_located(doc, SOURCE, "clusters/test/flux-system/gotk-sync.yaml", 3);
    assert_located(doc, cluster_apps, "clusters/test/apps.yaml", 2);
    assert_located(doc, homepage, "apps/home/homepage/ks.yml", 2);
    assert_eq!(
        applies_others(doc),
        pairs([
            (FLUX_SYSTEM, SOURCE),
            (FLUX_SYSTEM, cluster_apps),
            (cluster_apps, linkding),
            (cluster_apps, homepage),
            (cluster_apps, jellyfin),
        ])
    );
    assert_eq!(levels(doc), [set([FLUX_SYSTEM, SOURCE]), set([cluster_apps]), set([linkding, homepage, jellyfin])]);
    assert_codes(doc, &[]);
    // plex belongs to no cluster: the finding is the document's own
    assert_codes(&whole, &[("not-applied", "warning", Some(plex))]);
    assert_eq!(status, 0);
}

/// kustomization.yaml `resources:` (files, directories with their own kustomization.yaml, `../` paths)
/// and `components:` (a `kind: Component` adding a HelmRepository) are followed, and nothing else.
#[test]
fn kustomization_resources_and_components_are_followed() {
    let whole = graph_json(&repo("resources-and-components"));
    let doc = only_cluster(&whole);
    let infrastructure = "Kustomization/flux-system/cluster-infrastructure";
    let jetstack = "HelmRepository/flux-system/jetstack"; // a file resource
    let cert_manager = "Kustomization/flux-system/cert-manager"; // two nested kustomization directories down
    let metrics_server = "Kustomization/flux-system/metrics-server"; // ../base/metrics-server
    let prometheus_community = "HelmRepository/flux-system/prometheus-community"; // from the component
    let cert_manager_release = "HelmRelease/cert-manager/cert-manager";

    assert_eq!(
        node_ids(doc),
        set([SOURCE, infrastructure, jetstack, cert_manager, metrics_server, prometheus_community, cert_manager_release])
    );
    assert_located(doc, jetstack, "infrastructure/repositories.yaml", 2);
    assert_located(doc, cert_manager, "infrastructure/security/cert-manager/ks.yaml", 2);
    assert_located(doc, metrics_server, "base/metrics-server/ks.yaml", 2);
    assert_located(doc, prometheus_community, "components/alerts/helmrepository.yaml", 2);
    assert_located(doc, cert_manager_release, "infrastructure/security/cert-manager/app/helmrelease.yaml", 2);
    assert_eq!(
        edges(doc, "applies"),
        pairs([
            (infrastructure, jetstack),
            (infrastructure, cert_manager),
            (infrastructure, metrics_server),
            (infrastructure, prometheus_community),
            (cert_manager, cert_manager_release),
        ])
    );
    let mut sources = each_to([infrastructure, cert_manager, metrics_server], SOURCE);
    sources.extend(pairs([(cert_manager_release, jetstack)]));
    assert_eq!(edges(doc, "source"), sources);
    assert!(edges(doc, "dependsOn").is_empty());
    assert_eq!(
        levels(doc),
        [
            set([SOURCE, infrastructure]),
            set([jetstack, cert_manager, metrics_server, prometheus_community]),
            set([cert_manager_release]),
        ]
    );
    assert_eq!(critical_path(doc), [infrastructure, cert_manager, cert_manager_release]);
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// `.sourceignore` (gitignore syntax) keeps files out of the artifact: the root one for the whole tree,
/// a nested one only below its own directory. Ignored Kustomizations are simply absent.
#[test]
fn sourceignore_excludes_files_below_its_directory() {
    let whole = graph_json(&repo("sourceignore"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let linkding = "Kustomization/flux-system/linkding";
    // apps/media/jellyfin/ks.wip.yaml matches the `*.wip.yaml` of apps/home/.sourceignore, which does not reach it;
    // apps/home/paperless/ks.wip.yaml (that pattern) and apps/archive/ (the root's `archive/`) are ignored.
    let jellyfin = "Kustomization/flux-system/jellyfin";

    assert_eq!(node_ids(doc), set([SOURCE, cluster_apps, linkding, jellyfin]));
    assert_located(doc, jellyfin, "apps/media/jellyfin/ks.wip.yaml", 2);
    assert_eq!(edges(doc, "applies"), pairs([(cluster_apps, linkding), (cluster_apps, jellyfin)]));
    assert_eq!(levels(doc), [set([SOURCE, cluster_apps]), set([linkding, jellyfin])]);
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// Multi-document files, anchors, aliases and a merge key (`<<: *defaults` supplying interval, sourceRef and
/// dependsOn) are read as Flux reads them; a UTF-8 BOM and CRLF line ends change no line number.
#[test]
fn multi_document_files_with_anchors_merge_keys_bom_and_crlf() {
    let whole = graph_json(&repo("multi-document-anchors"));
    let doc = only_cluster(&whole);
    let settings = "Kustomization/flux-system/cluster-settings";
    let infrastructure = "Kustomization/flux-system/infrastructure"; // `name: &name infrastructure`
    let apps = "Kustomization/flux-system/apps"; // spec from `<<: *defaults`
    let linkding_db = "Kustomization/flux-system/linkding-db"; // BOM + CRLF file
    let linkding = "Kustomization/flux-system/linkding";

    assert_eq!(node_ids(doc), set([SOURCE, settings, infrastructure, apps, linkding_db, linkding]));
    assert_located(doc, settings, "clusters/test/cluster.yaml", 2);
    assert_located(doc, infrastructure, "clusters/test/cluster.yaml", 16);
    assert_located(doc, apps, "clusters/test/cluster.yaml", 32);
    assert_located(doc, linkding_db, "apps/linkding/ks.yaml", 2);
    assert_located(doc, linkding, "apps/linkding/ks.yaml", 16);
    assert_eq!(
        edges(doc, "dependsOn"),
        pairs([(apps, settings), (apps, infrastructure), (linkding, linkding_db)])
    );
    assert_eq!(edges(doc, "source"), each_to([settings, infrastructure, apps, linkding_db, linkding], SOURCE));
    assert_eq!(edges(doc, "applies"), pairs([(apps, linkding_db), (apps, linkding)]));
    assert_eq!(
        levels(doc),
        [set([SOURCE, settings, infrastructure]), set([apps]), set([linkding_db]), set([linkding])]
    );
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// One invalid document does not hide the valid documents around it in the same file. The file is an
/// entry file no Kustomization's build holds, so the diagnostic is `info`, about no object.
#[test]
fn invalid_document_does_not_hide_its_neighbours() {
    let (status, whole) = check(&repo("one-bad-document"));
    let doc = only_cluster(&whole);
    let settings = "Kustomization/flux-system/cluster-settings";
    let apps = "Kustomization/flux-system/apps";

    assert_eq!(node_ids(doc), set([SOURCE, settings, apps]));
    assert_located(doc, settings, "clusters/test/cluster.yaml", 2);
    assert_located(doc, apps, "clusters/test/cluster.yaml", 27);
    assert_eq!(edges(doc, "dependsOn"), pairs([(apps, settings)]));
    assert_eq!(levels(doc), [set([SOURCE, settings]), set([apps])]);
    assert_codes(doc, &[]);
    assert_codes(&whole, &[("invalid-yaml", "info", None)]);
    let invalid = diag_on(&whole, "invalid-yaml", None);
    assert_eq!(invalid["file"], "clusters/test/cluster.yaml");
    // the second document spans lines 16-25; a parser may notice the unclosed `[` at the next `---` (26)
    let line = invalid["line"].as_u64().expect("a line number");
    assert!((16..=26).contains(&line), "invalid-yaml at line {line}, outside the broken document");
    assert_eq!(status, 0);
}

/// A Kustomization's `spec.patches` rewrite the children it applies before they are read: a target without
/// name patches every child (decryption, postBuild), a labelSelector some (dependsOn), a JSON 6902 patch by
/// name one (wait). A kustomization.yaml `patches:` entry (strategic merge, `path:`) is applied too.
#[test]
fn patches_rewrite_child_kustomizations_before_they_are_read() {
    let whole = graph_json(&repo("patches"));
    let doc = only_cluster(&whole);
    let cluster_infrastructure = "Kustomization/flux-system/cluster-infrastructure";
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let cert_manager = "Kustomization/flux-system/cert-manager";
    let linkding_db = "Kustomization/flux-system/linkding-db";
    let linkding = "Kustomization/flux-system/linkding";

    // apps/patches/linkding-depends-on.yaml is a patch, not a resource: no node of its own
    assert_eq!(node_ids(doc), set([SOURCE, cluster_infrastructure, cluster_apps, cert_manager, linkding_db, linkding]));
    assert_located(doc, linkding, "apps/linkding/ks.yaml", 17);
    // neither ks.yaml has a dependsOn: linkding-db's comes from the labelSelector patch of cluster-apps,
    // linkding's from the patch of apps/kustomization.yaml
    assert_eq!(edges(doc, "dependsOn"), pairs([(linkding_db, cert_manager), (linkding, linkding_db)]));
    assert_eq!(
        levels(doc),
        [set([SOURCE, cluster_infrastructure, cluster_apps]), set([cert_manager]), set([linkding_db]), set([linkding])]
    );
    assert_eq!(critical_path(doc), [cluster_infrastructure, cert_manager, linkding_db, linkding]);
    // the patched-in decryption covers linkding-db's SOPS secret (no sops-without-decryption) and the
    // patched-in `wait: true` makes linkding-db a real dependency (no false-ready-dependency)
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// A parent's postBuild substitution (`substitute` and a `substituteFrom` ConfigMap of the repository, with
/// `${VAR:=default}`) applies to the child ks.yaml before its name, namespace, path and dependsOn are read,
/// unless the child carries `kustomize.toolkit.fluxcd.io/substitute: disabled`.
#[test]
fn postbuild_substitution_applies_to_child_kustomizations() {
    let whole = graph_json(&repo("postbuild-substitution"));
    let doc = only_cluster(&whole);
    let settings = "Kustomization/flux-system/cluster-settings";
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let base = "Kustomization/apps/base";
    // name `${APP}` (substitute) in namespace `${NS}` (ConfigMap cluster-settings), dependsOn `${DEP:=base}`
    let web = "Kustomization/apps/web";
    let legacy = "Kustomization/flux-system/legacy-${APP}";

    assert_eq!(node_ids(doc), set([SOURCE, settings, cluster_apps, base, web, legacy]));
    assert_located(doc, web, "apps/web/ks.yaml", 2);
    assert_located(doc, legacy, "apps/legacy/ks.yaml", 2);
    assert_eq!(edges(doc, "dependsOn"), pairs([(cluster_apps, settings), (web, base)]));
    assert_eq!(edges(doc, "applies"), pairs([(cluster_apps, base), (cluster_apps, web), (cluster_apps, legacy)]));
    assert_eq!(levels(doc), [set([SOURCE, settings]), set([cluster_apps]), set([base, legacy]), set([web])]);
    // `./apps/${APP}/app` was read as ./apps/web/app, which exists: no path-not-found
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// flux-system applies the directory holding its own gotk-sync.yaml: that is how bootstrap works, not a
/// cycle, and flux-system is not its own parent.
#[test]
fn kustomization_applying_its_own_file_is_not_a_cycle() {
    let (status, whole) = check(&repo("self-apply"));
    let doc = only_cluster(&whole);
    let apps = "Kustomization/flux-system/apps";

    assert_eq!(node_ids(doc), set([FLUX_SYSTEM, SOURCE, apps]));
    assert_located(doc, FLUX_SYSTEM, "clusters/test/flux-system/gotk-sync.yaml", 16);
    assert_located(doc, SOURCE, "clusters/test/flux-system/gotk-sync.yaml", 3);
    assert_located(doc, apps, "clusters/test/apps.yaml", 2);
    assert_eq!(parents(doc, FLUX_SYSTEM), set([]));
    assert_eq!(parents(doc, SOURCE), set([FLUX_SYSTEM]));
    assert_eq!(parents(doc, apps), set([FLUX_SYSTEM]));
    // flux-system's build holds flux-system itself: the applies edge is there, the parent is not
    assert_eq!(edges(doc, "applies"), pairs([(FLUX_SYSTEM, FLUX_SYSTEM), (FLUX_SYSTEM, SOURCE), (FLUX_SYSTEM, apps)]));
    assert_eq!(edges(doc, "source"), each_to([FLUX_SYSTEM, apps], SOURCE));
    // bootstrap applies the GitRepository at the start: its later re-apply by flux-system does not hold it back
    assert_eq!(levels(doc), [set([FLUX_SYSTEM, SOURCE]), set([apps])]);
    assert!(cycles(doc).is_empty());
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 0);
}

/// Each `clusters/<name>/flux-system/gotk-sync.yaml` is the entry of its own cluster graph, where the same
/// object names live again; `--cluster NAME` keeps only that cluster in the document.
#[test]
fn each_bootstrap_entry_is_its_own_cluster() {
    let path = repo("two-clusters");
    let doc = graph_json(&path);
    let apps = "Kustomization/flux-system/apps";
    let repository = "HelmRepository/podinfo/podinfo";
    let release = "HelmRelease/podinfo/podinfo";

    assert_eq!(cluster_names(&doc), set(["prod", "staging"]));
    for name in ["prod", "staging"] {
        let graph = cluster(&doc, name);
        let entry = format!("clusters/{name}/flux-system/gotk-sync.yaml");
        assert_eq!(graph["entry"], entry);
        assert_eq!(node_ids(graph), set([FLUX_SYSTEM, SOURCE, apps, repository, release]));
        assert_located(graph, FLUX_SYSTEM, &entry, 16);
        assert_located(graph, apps, &format!("clusters/{name}/apps.yaml"), 2);
        assert_located(graph, release, "apps/base/podinfo/release.yaml", 2);
        assert_eq!(
            applies_others(graph),
            pairs([(FLUX_SYSTEM, SOURCE), (FLUX_SYSTEM, apps), (apps, repository), (apps, release)])
        );
        let mut sources = each_to([FLUX_SYSTEM, apps], SOURCE);
        sources.extend(pairs([(release, repository)]));
        assert_eq!(edges(graph, "source"), sources);
        // The GitRepository bootstrap applies itself exists from the start: flux-system re-applying it holds nothing back.
        assert_eq!(levels(graph), [set([FLUX_SYSTEM, SOURCE]), set([apps]), set([repository, release])]);
        // podinfo is applied once in each cluster: no multiple-owners across clusters
        assert_codes(graph, &[]);
    }
    assert_codes(&doc, &[]);

    let staging = graph_json_with(&path, &["--cluster", "staging"]);
    assert_eq!(cluster_names(&staging), set(["staging"]), "--cluster keeps that cluster alone");
    assert_eq!(staging, with_only(&doc, "staging"), "and as the whole document shows it");
    let (_, checked) = check_with(&path, &["--cluster", "staging"]);
    assert_eq!(checked, staging, "check and graph give the same document");
    let unknown = crate::util::run(&["graph", path.to_str().unwrap(), "--format", "json", "--cluster", "mars"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("the clusters are: prod, staging"), "{}", String::from_utf8_lossy(&unknown.stderr));
}

/// Without gotk-sync.yaml, a Flux Operator FluxInstance's `sync.path` (here in the values of a HelmRelease of
/// the flux-instance chart) is the entry: what it holds is applied by an implied flux-system Kustomization.
#[test]
fn flux_instance_sync_path_is_the_entry() {
    let whole = graph_json(&repo("flux-operator-entry"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let flux_instance = "Kustomization/flux-system/flux-instance";
    let echo = "Kustomization/default/echo";
    let release = "HelmRelease/flux-system/flux-instance";
    let chart = "OCIRepository/flux-system/flux-instance";

    assert_eq!(node_ids(doc), set([FLUX_SYSTEM, SOURCE, cluster_apps, flux_instance, echo, release, chart]));
    assert_located(doc, cluster_apps, "kubernetes/flux/cluster/ks.yaml", 2);
    assert_located(doc, flux_instance, "kubernetes/apps/flux-system/flux-instance/ks.yaml", 2);
    assert_located(doc, release, "kubernetes/apps/flux-system/flux-instance/app/helmrelease.yaml", 2);
    assert_eq!(parents(doc, cluster_apps), set([FLUX_SYSTEM]));
    assert_eq!(
        edges(doc, "applies"),
        pairs([
            (FLUX_SYSTEM, cluster_apps),
            (cluster_apps, flux_instance),
            (cluster_apps, echo),
            (flux_instance, release),
            (flux_instance, chart),
        ])
    );
    let mut sources = each_to([FLUX_SYSTEM, cluster_apps, flux_instance, echo], SOURCE);
    sources.extend(pairs([(release, chart)]));
    assert_eq!(edges(doc, "source"), sources);
    assert_eq!(
        levels(doc),
        [set([FLUX_SYSTEM, SOURCE]), set([cluster_apps]), set([flux_instance, echo]), set([release, chart])]
    );
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// HelmRelease dependsOn HelmRelease, a missing namespace meaning the dependent's; `chart.spec.sourceRef`
/// is a source edge, not a prerequisite.
#[test]
fn helmrelease_depends_on_helmrelease_in_its_namespace() {
    let whole = graph_json(&repo("helmrelease-depends-on"));
    let doc = only_cluster(&whole);
    let repositories = "Kustomization/flux-system/cluster-repositories";
    let apps = "Kustomization/flux-system/apps";
    let bitnami = "HelmRepository/flux-system/bitnami";
    let bjw_s = "HelmRepository/flux-system/bjw-s";
    let postgresql = "HelmRelease/apps/postgresql";
    let linkding = "HelmRelease/apps/linkding";

    assert_eq!(node_ids(doc), set([SOURCE, repositories, apps, bitnami, bjw_s, postgresql, linkding]));
    assert_located(doc, linkding, "apps/linkding.yaml", 2);
    assert_eq!(edges(doc, "dependsOn"), pairs([(apps, repositories), (linkding, postgresql)]));
    let mut sources = each_to([repositories, apps], SOURCE);
    sources.extend(pairs([(postgresql, bitnami), (linkding, bjw_s)]));
    assert_eq!(edges(doc, "source"), sources);
    assert_eq!(
        edges(doc, "applies"),
        pairs([(repositories, bitnami), (repositories, bjw_s), (apps, postgresql), (apps, linkding)])
    );
    assert_eq!(
        levels(doc),
        [set([SOURCE, repositories]), set([bitnami, bjw_s, apps]), set([postgresql]), set([linkding])]
    );
    assert_eq!(critical_path(doc), [repositories, apps, postgresql, linkding]);
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// A 1 MB input repeated by a template rendered without bound (1,000 times: 1 GB, 10 s and
/// 3 GB for `check`; 4,000 times aborted the process). Rendering stops at the output budget of
/// one template (16 MiB) with a resourceset-template warning saying so, and the rest of the
/// graph shows. Here 20 times, just over the budget, so that the test stays small either way.
#[test]
fn a_resource_set_rendering_past_its_output_budget_is_a_diagnostic_and_the_rest_shows() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo("resourceset"), dir.path());
    let times: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    let bomb = format!(
        "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata:\n  name: bomb\nspec:\n  inputs:\n    - big: {}\n      times: [{}]\n  resourcesTemplate: |\n    <<- range inputs.times >>\n    # << inputs.big >>\n    <<- end >>\n",
        "x".repeat(1 << 20),
        times.join(", ")
    );
    std::fs::write(dir.path().join("tenants/bomb.yaml"), bomb).unwrap();
    let kustomization = dir.path().join("tenants/kustomization.yaml");
    std::fs::write(&kustomization, std::fs::read_to_string(&kustomization).unwrap() + "  - bomb.yaml\n").unwrap();
    let started = std::time::Instant::now();
    let (_, whole) = check(dir.path());
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "took {:?}", started.elapsed());
    let doc = only_cluster(&whole);
    let found = diag_on(doc, "resourceset-template", Some("ResourceSet/tenants/bomb"));
    assert_eq!(found["severity"], "warning");
    assert!(text(found).contains("more than 16 MiB, the output budget of one template"), "{found}");
    assert!(node_ids(doc).contains("Kustomization/tenants/app-alpha"), "the other ResourceSets still generate");
}

/// A Flux Operator ResourceSet renders its templates once per input set; the Flux objects it generates are
/// its children (applied by it, so a level after it), in its namespace when the template gives none, at
/// the line of their template. Inputs come from `inputs` and from a Static ResourceSetInputProvider named
/// in `inputsFrom`; a ResourceSet's `dependsOn` names the kind it waits for.
#[test]
fn resource_set_generates_children_that_reconcile_after_it() {
    let whole = graph_json(&repo("resourceset"));
    let doc = only_cluster(&whole);
    let repositories = "Kustomization/flux-system/cluster-repositories";
    let tenants = "Kustomization/flux-system/tenants";
    let bjw_s = "HelmRepository/flux-system/bjw-s";
    let apps = "ResourceSet/tenants/apps";
    let databases = "ResourceSet/tenants/databases";
    let app_alpha = "Kustomization/tenants/app-alpha";
    let app_beta = "Kustomization/tenants/app-beta";
    let alpha = "HelmRelease/tenants/alpha";
    let beta = "HelmRelease/tenants/beta";
    let db_one = "HelmRelease/tenants/db-one";
    let db_two = "HelmRelease/tenants/db-two";

    assert_eq!(
        node_ids(doc),
        set([SOURCE, repositories, tenants, bjw_s, apps, databases, app_alpha, app_beta, alpha, beta, db_one, db_two])
    );
    assert_located(doc, apps, "tenants/apps.yaml", 3);
    assert_located(doc, app_alpha, "tenants/apps.yaml", 13);
    assert_located(doc, beta, "tenants/apps.yaml", 25);
    assert_located(doc, db_two, "tenants/databases.yaml", 30);
    assert_eq!(parents(doc, apps), set([tenants]));
    for generated in [app_alpha, app_beta, alpha, beta] {
        assert_eq!(parents(doc, generated), set([apps]), "parents of {generated}");
    }
    assert_eq!(parents(doc, db_one), set([databases]));
    assert_eq!(
        edges(doc, "applies"),
        pairs([
            (repositories, bjw_s),
            (tenants, apps),
            (tenants, databases),
            (apps, app_alpha),
            (apps, app_beta),
            (apps, alpha),
            (apps, beta),
            (databases, db_one),
            (databases, db_two),
        ])
    );
    assert_eq!(edges(doc, "dependsOn"), pairs([(tenants, repositories), (databases, apps)]));
    let mut sources = each_to([repositories, tenants, app_alpha, app_beta], SOURCE);
    sources.extend(each_to([alpha, beta, db_one, db_two], bjw_s));
    assert_eq!(edges(doc, "source"), sources);
    assert_eq!(
        levels(doc),
        [
            set([SOURCE, repositories]),
            set([tenants, bjw_s]),
            set([apps]),
            set([app_alpha, app_beta, alpha, beta, databases]),
            set([db_one, db_two]),
        ]
    );
    assert_eq!(critical_path(doc).len(), 5);
    assert_codes(doc, &[]);
    assert_codes(&whole, &[]);
}

/// A Kustomization whose source is not the repository itself (an OCIRepository) has a path inside that
/// artifact: it is not looked up on disk, so no path-not-found, only a note that it is external; the
/// source edge points to the OCIRepository.
#[test]
fn path_in_external_source_is_not_checked() {
    let whole = graph_json(&repo("external-source"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let oci = "OCIRepository/flux-system/podinfo";
    let podinfo = "Kustomization/flux-system/podinfo";

    assert_eq!(node_ids(doc), set([SOURCE, cluster_apps, oci, podinfo]));
    assert_located(doc, oci, "apps/podinfo/ocirepository.yaml", 2);
    assert_eq!(edges(doc, "source"), pairs([(cluster_apps, SOURCE), (podinfo, oci)]));
    assert_eq!(edges(doc, "applies"), pairs([(cluster_apps, oci), (cluster_apps, podinfo)]));
    assert_eq!(levels(doc), [set([SOURCE, cluster_apps]), set([oci, podinfo])]);
    assert_codes(doc, &[("external-source", "info", Some(podinfo))]);
    assert_codes(&whole, &[]);
    assert_eq!(node(doc, podinfo)["external_source"], "OCIRepository/flux-system/podinfo (oci://ghcr.io/stefanprodan/manifests/podinfo)");
}

// Diagnostics: `check` exits 1 when any diagnostic is an error, 0 otherwise.

/// The members of a dependsOn cycle and what depends on them never reconcile: no level; one
/// dependency-cycle per cycle, about its smallest id.
#[test]
fn dependency_cycle_leaves_members_and_dependents_without_level() {
    let (status, whole) = check(&repo("dependency-cycle"));
    let doc = only_cluster(&whole);
    let database = "Kustomization/flux-system/database";
    let storage = "Kustomization/flux-system/storage";
    let linkding = "Kustomization/flux-system/linkding"; // dependsOn database, behind the cycle

    assert_eq!(node_ids(doc), set([SOURCE, database, storage, linkding]));
    assert_eq!(cycles(doc), BTreeSet::from([set([database, storage])]));
    for id in [database, storage, linkding] {
        assert_eq!(level(doc, id), None, "level of {id}");
    }
    assert_eq!(levels(doc), [set([SOURCE])]);
    assert_codes(doc, &[("dependency-cycle", "error", Some(database))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 1);
}

/// A Kustomization that dependsOn itself is a cycle of one.
#[test]
fn depends_on_itself_is_a_cycle() {
    let (status, whole) = check(&repo("self-dependency"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";

    assert_eq!(edges(doc, "dependsOn"), pairs([(cluster_apps, cluster_apps)]));
    assert_eq!(cycles(doc), BTreeSet::from([set([cluster_apps])]));
    assert_eq!(level(doc, cluster_apps), None);
    assert_codes(doc, &[("dependency-cycle", "error", Some(cluster_apps))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 1);
}

/// A parent that dependsOn the child it applies deadlocks: the child waits to be applied, the parent
/// waits for the child to be ready.
#[test]
fn parent_depending_on_its_child_is_a_cycle() {
    let (status, whole) = check(&repo("parent-depends-on-child"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let linkding = "Kustomization/flux-system/linkding";

    assert_eq!(edges(doc, "applies"), pairs([(cluster_apps, linkding)]));
    assert_eq!(edges(doc, "dependsOn"), pairs([(cluster_apps, linkding)]));
    assert_eq!(cycles(doc), BTreeSet::from([set([cluster_apps, linkding])]));
    assert_eq!(level(doc, cluster_apps), None);
    assert_eq!(level(doc, linkding), None);
    assert_codes(doc, &[("dependency-cycle", "error", Some(cluster_apps))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 1);
}

/// dependsOn an object that does not exist is an error about the dependent, naming the missing id; when
/// the name exists in another namespace, the diagnostic says where. Missing targets are no prerequisites.
#[test]
fn missing_dependency_names_the_target_and_a_namesake_elsewhere() {
    let (status, whole) = check(&repo("missing-dependency"));
    let doc = only_cluster(&whole);
    let infrastructure = "Kustomization/flux-system/infrastructure";
    let apps = "Kustomization/flux-system/apps"; // dependsOn infrastructure and cluster-settings (nowhere)
    let postgres = "Kustomization/databases/postgres";
    let linkding = "Kustomization/flux-system/linkding"; // dependsOn postgres, which is in `databases`

    assert_eq!(node_ids(doc), set([SOURCE, infrastructure, apps, postgres, linkding]));
    assert_eq!(edges(doc, "dependsOn"), pairs([(apps, infrastructure)]));
    assert_eq!(levels(doc), [set([SOURCE, infrastructure]), set([apps, postgres]), set([linkding])]);
    assert_codes(
        doc,
        &[("missing-dependency", "error", Some(apps)), ("missing-dependency", "error", Some(linkding))],
    );
    assert_codes(&whole, &[]);
    let settings = text(diag_on(doc, "missing-dependency", Some(apps)));
    assert!(settings.contains("Kustomization/flux-system/cluster-settings"), "{settings}");
    let namesake = text(diag_on(doc, "missing-dependency", Some(linkding)));
    assert!(namesake.contains("Kustomization/flux-system/postgres"), "{namesake}");
    assert!(namesake.contains("databases"), "the hint names the namespace postgres is in: {namesake}");
    assert_eq!(status, 1);
}

/// A Kustomization whose spec.path is not in its (local) source is an error; the object stays a node.
#[test]
fn path_not_found_is_an_error_on_the_kustomization() {
    let (status, whole) = check(&repo("path-not-found"));
    let doc = only_cluster(&whole);
    let infrastructure = "Kustomization/flux-system/infrastructure";
    let apps = "Kustomization/flux-system/apps"; // path ./kubernetes/apps

    assert_eq!(node_ids(doc), set([SOURCE, infrastructure, apps]));
    assert_eq!(level(doc, apps), Some(0));
    assert_codes(doc, &[("path-not-found", "error", Some(apps))]);
    assert_codes(&whole, &[]);
    assert!(text(diag_on(doc, "path-not-found", Some(apps))).contains("kubernetes/apps"));
    assert_eq!(status, 1);
}

/// Invalid YAML in a Kustomization's build is an error about that Kustomization; elsewhere in the
/// repository it is only noted (info, no object). The rest of the repository still loads.
#[test]
fn invalid_yaml_is_an_error_only_inside_a_build() {
    let (status, whole) = check(&repo("invalid-yaml"));
    let doc = only_cluster(&whole);
    let apps = "Kustomization/flux-system/apps";
    let linkding = "Kustomization/flux-system/linkding";

    assert_eq!(node_ids(doc), set([SOURCE, apps, linkding]));
    assert_eq!(edges(doc, "applies"), pairs([(apps, linkding)]));
    assert_codes(doc, &[("invalid-yaml", "error", Some(apps))]);
    assert_codes(&whole, &[("invalid-yaml", "info", None)]);
    assert_eq!(diag_on(doc, "invalid-yaml", Some(apps))["file"], "apps/namespace.yaml");
    assert_eq!(diag_on(&whole, "invalid-yaml", None)["file"], "scratch/broken.yaml");
    assert_eq!(status, 1);
}

/// An object applied by two Kustomizations with different definitions has two owners fighting over it
/// (each overwrites the other's spec and prunes it when it drops it). Both apply with the same field
/// manager, so the object flips and nothing stops: a warning, never an error, naming the fields that differ.
#[test]
fn object_applied_by_two_kustomizations_has_multiple_owners() {
    let (status, whole) = check(&repo("multiple-owners"));
    let doc = only_cluster(&whole);
    let infrastructure = "Kustomization/flux-system/infrastructure";
    let apps = "Kustomization/flux-system/apps";
    let metrics_server = "Kustomization/flux-system/metrics-server";

    assert_eq!(node_ids(doc), set([SOURCE, infrastructure, apps, metrics_server]));
    assert_eq!(parents(doc, metrics_server), set([infrastructure, apps]));
    assert_eq!(edges(doc, "applies"), pairs([(infrastructure, metrics_server), (apps, metrics_server)]));
    assert_eq!(level(doc, metrics_server), Some(1));
    assert_codes(doc, &[("multiple-owners", "warning", Some(metrics_server))]);
    assert_codes(&whole, &[]);
    let message = text(diag_on(doc, "multiple-owners", Some(metrics_server)));
    assert!(message.contains("differ in spec.interval"), "{message}");
    assert_eq!(status, 0);
}

/// The same object applied identically by two Kustomizations (the home-ops pattern of a shared
/// component) reconciles, but ownership flips between them and removing it from one prunes it for
/// both: a warning.
#[test]
fn object_applied_identically_by_two_kustomizations_is_a_warning() {
    let (status, whole) = check(&repo("multiple-owners-identical"));
    let doc = only_cluster(&whole);
    let metrics_server = "Kustomization/flux-system/metrics-server";
    assert_eq!(parents(doc, metrics_server), set(["Kustomization/flux-system/infrastructure", "Kustomization/flux-system/apps"]));
    assert_codes(doc, &[("multiple-owners", "warning", Some(metrics_server))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 0);
}

/// A HelmRelease whose `chart.spec.sourceRef` names a HelmRepository defined nowhere: an error about the
/// HelmRelease, and no source edge.
#[test]
fn source_ref_to_undefined_source_is_an_error() {
    let (status, whole) = check(&repo("source-not-found"));
    let doc = only_cluster(&whole);
    let apps = "Kustomization/flux-system/apps";
    let grafana = "HelmRelease/monitoring/grafana";

    assert_eq!(node_ids(doc), set([SOURCE, apps, grafana]));
    assert_eq!(edges(doc, "source"), pairs([(apps, SOURCE)]));
    assert_codes(doc, &[("source-not-found", "error", Some(grafana))]);
    assert_codes(&whole, &[]);
    assert!(text(diag_on(doc, "source-not-found", Some(grafana))).contains("HelmRepository/flux-system/grafana"));
    assert_eq!(status, 1);
}

/// A build holding a SOPS-encrypted file (top-level `sops:`) needs `spec.decryption`, or Flux applies the
/// ciphertext. cluster-settings lacks it; apps has it.
#[test]
fn sops_file_without_decryption_is_an_error() {
    let (status, whole) = check(&repo("sops-without-decryption"));
    let doc = only_cluster(&whole);
    let settings = "Kustomization/flux-system/cluster-settings";

    assert_codes(doc, &[("sops-without-decryption", "error", Some(settings))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 1);
}

/// With postBuild, a `${VAR}` without default that neither `substitute` nor a `substituteFrom` ConfigMap
/// (or Secret key) defines is a warning; a build without postBuild is not substituted, so not checked.
/// A SOPS-encrypted Secret's keys are plain text: its values are unknown, but a variable it does not list
/// is undefined, as in Flux.
#[test]
fn undefined_variable_in_substituted_build_is_a_warning() {
    let (status, whole) = check(&repo("undefined-variable"));
    let doc = only_cluster(&whole);
    let apps = "Kustomization/flux-system/apps";
    let notify = "Kustomization/flux-system/notify";

    // apps: ${TIMEZONE} substitute, ${CLUSTER_DOMAIN} ConfigMap, ${LOG_LEVEL:=info} and ${DB_PORT:-5432}
    // defaults; ${SECRET_DOMAIN} is a key of the SOPS Secret (value unknown), ${SMTP_HOST} is not. notify
    // reads only the ConfigMap, so its ${SMTP_HOST} is undefined too. infrastructure's ${INGRESS_CLASS}: no
    // postBuild.
    assert_codes(doc, &[("undefined-variable", "warning", Some(apps)), ("undefined-variable", "warning", Some(notify))]);
    assert_codes(&whole, &[]);
    let message = text(diag_on(doc, "undefined-variable", Some(notify)));
    assert!(message.contains("SMTP_HOST"), "{message}");
    assert_eq!(status, 0);
}

/// A dependsOn target Kustomization without `wait: true` or healthChecks is Ready as soon as it is applied,
/// not when what it deploys is: a warning about the dependent. healthChecks alone suffice.
#[test]
fn dependency_without_wait_or_health_checks_is_false_ready() {
    let (status, whole) = check(&repo("false-ready-dependency"));
    let doc = only_cluster(&whole);
    let apps = "Kustomization/flux-system/apps";

    assert_codes(doc, &[("false-ready-dependency", "warning", Some(apps))]);
    assert_codes(&whole, &[]);
    let message = text(diag_on(doc, "false-ready-dependency", Some(apps)));
    assert!(message.contains("infrastructure"), "{message}");
    assert_eq!(status, 0);
}

/// A dependsOn target with `suspend: true` never becomes ready for its dependents: a warning about the dependent.
#[test]
fn suspended_dependency_blocks_its_dependents() {
    let (status, whole) = check(&repo("suspended-dependency"));
    let doc = only_cluster(&whole);
    let apps = "Kustomization/flux-system/apps";

    assert_codes(doc, &[("suspended-dependency", "warning", Some(apps))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 0);
}

/// apps dependsOn cluster-settings and infrastructure, and infrastructure already dependsOn
/// cluster-settings: apps' entry for cluster-settings is redundant (info).
#[test]
fn dependency_implied_by_another_chain_is_redundant() {
    let (status, whole) = check(&repo("redundant-dependency"));
    let doc = only_cluster(&whole);
    let apps = "Kustomization/flux-system/apps";

    assert_codes(doc, &[("redundant-dependency", "info", Some(apps))]);
    assert_codes(&whole, &[]);
    let message = text(diag_on(doc, "redundant-dependency", Some(apps)));
    assert!(message.contains("cluster-settings"), "{message}");
    assert_eq!(status, 0);
}

/// Each Kustomization dependsOn the 8 before it: every entry but the nearest is implied, and each
/// is reported once, naming one sibling, not once per sibling that implies it (2,000 × 50 gave 2
/// million findings; timed in benches/pipeline.rs).
#[test]
fn a_redundant_dependency_is_reported_once_per_edge() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let ks = |name: &str, path: &str, deps: &[String]| {
        let deps: String = deps.iter().map(|d| format!("    - name: {d}\n")).collect();
        let deps = if deps.is_empty() { String::new() } else { format!("  dependsOn:\n{deps}") };
        format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: {path}\n  prune: true\n  wait: true\n{deps}  sourceRef:\n    kind: GitRepository\n    name: flux-system\n")
    };
    write("clusters/test/apps.yaml", &ks("apps", "./apps", &[]));
    write("empty/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n");
    let (n, width) = (60usize, 8usize);
    let mut expected = 0;
    for i in 0..n {
        let deps: Vec<String> = (i.saturating_sub(width)..i).map(|j| format!("k{j}")).collect();
        expected += deps.len().saturating_sub(1);
        write(&format!("apps/k{i}.yaml"), &ks(&format!("k{i}"), "./empty", &deps));
    }
    let (_, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    let found: Vec<(String, String)> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "redundant-dependency")
        .map(|d| (d["object"].as_str().unwrap().to_string(), d["message"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(found.len(), expected);
    let edges: BTreeSet<(String, String)> =
        found.iter().map(|(o, m)| (o.clone(), m.split(" is implied").next().unwrap().to_string())).collect();
    assert_eq!(edges.len(), expected, "one finding per (object, dependsOn entry)");
    assert!(found.iter().any(|(o, m)| o == "Kustomization/flux-system/k9"
        && m.starts_with("dependsOn Kustomization/flux-system/k1 is implied: Kustomization/flux-system/k")
        && m.ends_with(" already waits on it")), "{found:?}");
}

/// A remote URL in kustomization.yaml `resources:` is noted, not fetched.
#[test]
fn remote_resource_is_noted_not_fetched() {
    let (status, whole) = check(&repo("remote-resource"));
    let doc = only_cluster(&whole);
    let infrastructure = "Kustomization/flux-system/infrastructure";

    assert_eq!(node_ids(doc), set([SOURCE, infrastructure]));
    assert_codes(doc, &[("remote-resource", "info", Some(infrastructure))]);
    assert_codes(&whole, &[]);
    let message = text(diag_on(doc, "remote-resource", Some(infrastructure)));
    assert!(message.contains("https://github.com/kubernetes-sigs/gateway-api/"), "{message}");
    assert_eq!(status, 0);
}

/// With a known entry (gotk-sync.yaml), a Kustomization in the repository that nothing applies (a ks.yaml
/// left out of its kustomization.yaml) is reported, and is no node. Its id has the namespace its file
/// gives, or none.
#[test]
fn kustomization_no_entry_reaches_is_not_applied() {
    let (status, whole) = check(&repo("not-applied"));
    let doc = only_cluster(&whole);
    let cluster_apps = "Kustomization/flux-system/cluster-apps";
    let linkding = "Kustomization/flux-system/linkding";
    let homepage = "Kustomization/flux-system/homepage";
    let paperless = "Kustomization/paperless"; // no namespace: Kind/name

    assert_eq!(node_ids(doc), set([FLUX_SYSTEM, SOURCE, cluster_apps, linkding]));
    assert_codes(doc, &[]);
    // They belong to no cluster; paperless's file gives no namespace, and nothing applies it to give one.
    assert_codes(&whole, &[("not-applied", "warning", Some(homepage)), ("not-applied", "warning", Some(paperless))]);
    assert_eq!(diag_on(&whole, "not-applied", Some(homepage))["file"], "apps/home/homepage/ks.yaml");
    assert_eq!(diag_on(&whole, "not-applied", Some(paperless))["file"], "apps/home/paperless/ks.yaml");
    assert!(text(diag_on(&whole, "not-applied", Some(paperless))).starts_with("Kustomization/paperless is not applied"));
    assert_eq!(status, 0);
}

/// `--entry` overrides the discovery: naming one cluster's gotk-sync.yaml gives that cluster
/// alone, in a document of the same shape; a path that is not in the repository cannot run.
#[test]
fn entry_flag_overrides_discovery() {
    let whole = graph_json_with(&repo("two-clusters"), &["--entry", "clusters/staging/flux-system/gotk-sync.yaml"]);
    let doc = only_cluster(&whole);
    assert_eq!(doc["entry"], "clusters/staging/flux-system/gotk-sync.yaml");
    assert_eq!(node(doc, "Kustomization/flux-system/apps")["file"], "clusters/staging/apps.yaml");
    let missing = crate::util::run(&["check", repo("two-clusters").to_str().unwrap(), "--entry", "clusters/nowhere"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such file or folder"));
}

/// `${VAR}` in the build of a Kustomization without postBuild, where VAR is a variable the same cluster
/// substitutes for other Kustomizations: Flux sends the literal text to the cluster. `${HOME}`, which
/// the cluster defines nowhere, is a script's own variable and is left alone.
#[test]
fn a_cluster_variable_in_a_build_without_post_build_is_unsubstituted() {
    let (status, whole) = check(&repo("unsubstituted-variable"));
    let doc = only_cluster(&whole);
    let (apps, webhooks) = ("Kustomization/flux-system/apps", "Kustomization/flux-system/webhooks");
    assert_codes(
        doc,
        &[
            ("false-ready-dependency", "warning", Some(apps)),
            ("false-ready-dependency", "warning", Some(webhooks)),
            ("unsubstituted-variable", "warning", Some(webhooks)),
        ],
    );
    let d = diag_on(doc, "unsubstituted-variable", Some(webhooks));
    assert!(text(d).contains("${DOMAIN}"), "{d}");
    assert_eq!(d["file"], "webhooks/configmap.yaml");
    assert_eq!(status, 0);
}

/// Two owners that differ only in the labels their `spec.commonMetadata` sets apply the same definition:
/// the labels differ per applier by design, so the warning is the one for identical owners.
#[test]
fn owners_differing_only_by_common_metadata_apply_the_same_definition() {
    let (status, whole) = check(&repo("multiple-owners-common-metadata"));
    let doc = only_cluster(&whole);
    let metrics_server = "Kustomization/flux-system/metrics-server";
    assert_codes(doc, &[("multiple-owners", "warning", Some(metrics_server))]);
    assert!(text(diag_on(doc, "multiple-owners", Some(metrics_server))).contains("identically"));
    assert_eq!(status, 0);
}
