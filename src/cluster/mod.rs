//! Cluster: the loaded [`Repository`] → one [`Cluster`] per entry point, each the set of
//! Flux objects it reconciles and which Kustomization applies each one.
//!
//! This is where Flux is emulated, in three jobs: [`entry`] finds where each cluster grows
//! from, as Flux creates it; the [`resolver`] grows it, round by round, from the entry's
//! roots; and [`build`] is what one Kustomization applies (kustomize with its own overlay,
//! then postBuild, then commonMetadata), so a child is always read after its parent's
//! patches and substitution. A Flux Operator ResourceSet is expanded the same way, its
//! templates rendered into the objects it applies ([`resourceset`]). The same names in two
//! clusters are two objects: each cluster is resolved on its own.

mod build;
pub mod discovery;
pub mod entry;
mod resolver;
pub mod resourceset;
mod variables;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::load::kustomize::Resource;
use crate::load::{Manifest, Node, Repository};
use crate::model::{self, FluxObject, Kind, Identity, ObjectId};
use discovery::{Candidate, Catalog, Facts, Verdict, hand_applied};
pub use entry::Entry;
use entry::EntryKind;
use resolver::resolve_cluster;

/// Namespace of objects that nothing gives one: what `flux bootstrap` applies lands in
/// flux-system.
pub const BOOTSTRAP_NAMESPACE: &str = "flux-system";

/// Where Flux publishes its own manifests as artifacts (`flux install`'s OCI form): they hold
/// Flux, never a repository's folder or its apps.
pub const FLUX_DISTRIBUTION: &[&str] = &["ghcr.io/fluxcd/flux-manifests", "ghcr.io/controlplaneio-fluxcd/flux-operator-manifests"];

/// Whether a source URL is Flux's own distribution (what bootstrap and the operator install).
pub fn is_flux_distribution(url: &str) -> bool {
    FLUX_DISTRIBUTION.iter().any(|d| url.contains(d))
}

/// A manifest in a Kustomization's build, summarised for the views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub file: Arc<str>,
    pub line: u32,
    pub sops: bool,
    /// Host names it routes (HTTPRoute, GRPCRoute, Ingress).
    pub hostnames: Vec<String>,
}

/// One cluster: what one entry point reconciles.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub name: String,
    /// The entry's file or folder, relative to the repository root.
    pub entry: String,
    pub objects: BTreeMap<ObjectId, FluxObject>,
    /// The Kustomizations (or the ResourceSet) that apply each object, in the order they
    /// were found.
    pub parents: BTreeMap<ObjectId, Vec<ObjectId>>,
    /// What each Kustomization's build holds, Flux objects and all; what each ResourceSet
    /// generates.
    pub inventory: BTreeMap<ObjectId, Vec<Applied>>,
    /// Kustomizations whose source is not this repository.
    pub external: BTreeMap<ObjectId, String>,
    /// Objects applied by several Kustomizations that do not agree on their definition,
    /// with the fields that differ.
    pub conflicting: BTreeMap<ObjectId, Vec<String>>,
    /// Kustomizations whose build holds their own manifest (flux-system does).
    pub self_applied: BTreeSet<ObjectId>,
    /// The objects applied at the start, by bootstrap, the operator or by hand: they exist
    /// before any Kustomization of the cluster re-applies them, so they wait for none.
    pub roots: BTreeSet<ObjectId>,
    /// Every file some build of this cluster read: the union of `builds`, kept for lookups.
    pub files: BTreeSet<String>,
    /// What each Kustomization built (of this repository): the files it read, what it
    /// applies, and why the build fails when it does.
    pub builds: BTreeMap<ObjectId, KustomizationBuild>,
    /// Objects whose manifest still holds a variable whose value is not known here (from a
    /// Secret, or a source outside the repository): what they name may be right in the
    /// cluster, so nothing it names is blamed.
    pub unresolved: BTreeSet<ObjectId>,
    /// Files its builds include that cannot be read: what they hold is unknown.
    pub unreadable: BTreeSet<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Cluster {
    /// How many Kustomizations it holds: the measure of its size for the views.
    pub fn kustomization_count(&self) -> usize {
        self.objects.keys().filter(|id| id.kind == Kind::Kustomization).count()
    }

    /// The `spec.artifacts[]` entry of the cluster's ArtifactGenerator that produces the
    /// ExternalArtifact `artifact`, if one does.
    pub fn artifact_spec(&self, artifact: &ObjectId) -> Option<&Node> {
        self.artifact_generator(artifact).map(|(_, spec)| spec)
    }

    /// The ArtifactGenerator that produces the ExternalArtifact `artifact`, with the
    /// `spec.artifacts[]` entry that does.
    pub fn artifact_generator(&self, artifact: &ObjectId) -> Option<(&FluxObject, &Node)> {
        self.objects
            .values()
            .filter(|o| o.id.kind == Kind::ArtifactGenerator && o.id.namespace == artifact.namespace)
            .flat_map(|o| o.manifest.at(&["spec", "artifacts"]).map(Node::as_seq).unwrap_or_default().iter().map(move |a| (o, a)))
            .find(|(_, a)| a.get("name").and_then(Node::as_str) == Some(&artifact.name))
    }
}

/// What one Kustomization's build gave, as kustomize-controller builds it.
#[derive(Debug, Clone, Default)]
pub struct KustomizationBuild {
    /// Every file the build read: a change to one of them changes what it applies.
    pub files: BTreeSet<String>,
    /// What it applies, in kustomize's order: after its overlay, postBuild substitution and
    /// commonMetadata, each with the file and line of the document it came from.
    pub objects: Vec<Resource>,
    /// Why the controller would fail the build, when it would (then it applies nothing).
    pub error: Option<Diagnostic>,
}

/// All clusters of a repository, and what belongs to none of them.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub clusters: Vec<Cluster>,
    /// Findings outside every cluster: unreadable files, objects nothing applies.
    pub diagnostics: Vec<Diagnostic>,
}

/// Finds the entry points (or takes `entry`, a file or folder relative to the root) and
/// resolves each into a cluster.
pub fn resolve(repo: &Repository, entry: Option<&str>) -> Result<Resolution, entry::EntryError> {
    let catalog = Catalog::new(repo);
    let mut diagnostics = Vec::new();
    // Files that only a dead entry point reaches: its dead-entry finding speaks for them.
    let mut dead = BTreeSet::new();
    // What every ResourceSet of the repository may render, in bytes and time.
    let rendering = resourceset::Budget::new(resourceset::Limits::default());
    let (entries, mut clusters) = match entry {
        Some(path) => {
            let entry = entry::given(repo, &Facts::gather(&catalog), path)?;
            let cluster = resolve_cluster(repo, &entry, &rendering);
            (vec![entry], vec![cluster])
        }
        None => choose(&catalog, &rendering, &mut diagnostics, &mut dead),
    };
    dead.extend(diagnostics.iter().filter(|d| d.code == Code::DeadEntry).map(|d| d.file.clone()));
    entry::name_uniquely(&mut clusters);
    if clusters.is_empty() {
        diagnostics.push(Diagnostic::error(
            Code::NoCluster,
            "",
            0,
            "no cluster found: no flux bootstrap gotk-sync.yaml, no Flux Operator FluxInstance (or flux-instance HelmRelease) with a sync path that exists, and no Flux Kustomization that nothing applies and whose path is in this repository",
        ).with_hint("name the entry point with --entry FILE_OR_FOLDER"));
    }
    diagnostics.extend(outside_diagnostics(&catalog, &clusters, &entries, &dead));
    diagnostics.sort();
    diagnostics.dedup();
    Ok(Resolution { clusters, diagnostics })
}

/// Chooses the reading of the repository Flux must be running: the live bootstrap and
/// operator entry points, each resolved, less those left over beside live ones (a
/// flux-instance release nothing applies, a cluster that reconciles nothing of the
/// repository); with none, the groups of Kustomizations applied by hand; with some, the
/// groups a live cluster needs joined to it.
fn choose(catalog: &Catalog<'_>, rendering: &resourceset::Budget, diagnostics: &mut Vec<Diagnostic>, dead: &mut BTreeSet<String>) -> (Vec<Entry>, Vec<Cluster>) {
    let repo = catalog.repo;
    let found = discovery::discover(catalog);
    let mut candidates: Vec<Candidate> = Vec::new();
    for c in found.candidates {
        match c.diagnostic() {
            Some(d) => diagnostics.push(d),
            None => candidates.push(c),
        }
    }
    let mut clusters: Vec<Cluster> = candidates.iter().map(|c| resolve_cluster(repo, &c.entry, rendering)).collect();
    let verdicts: Vec<Verdict> = candidates.iter().zip(&clusters).map(|(c, cluster)| judge(c, cluster, repo, &clusters)).collect();
    // Every entry point installs Flux and nothing more: what reconciles the repository was
    // applied by hand beside it (bootstrap's folder kept to gotk-components.yaml, a
    // self-managing root applied once with kubectl).
    let idle = !verdicts.is_empty() && !verdicts.contains(&Verdict::Live);
    if verdicts.iter().any(|v| *v == Verdict::Live) {
        let mut kept = Vec::new();
        for ((mut c, cluster), verdict) in candidates.into_iter().zip(clusters).zip(verdicts) {
            if let Verdict::Dead(why) = &verdict {
                diagnostics.push(discovery::dead_entry(&c.entry, why));
                dead.extend(cluster.files.iter().cloned());
                continue;
            }
            c.verdict = verdict;
            kept.push((c, cluster));
        }
        (candidates, clusters) = kept.into_iter().unzip();
    }
    let mut entries: Vec<Entry> = candidates.into_iter().map(|c| c.entry).collect();
    // Kustomizations that nothing readable applies may be applied from a file that cannot be
    // read: guessing roots from them would invent clusters out of its absence.
    // (A file that failed to read is an error; a FIFO or a device in its place is a warning
    // and holds nothing.)
    let unreadable: Vec<&str> = repo
        .files
        .values()
        .filter(|f| f.unreadable.as_ref().is_some_and(|d| d.code == Code::UnreadableFile && d.severity == Severity::Error))
        .map(|f| f.path.as_str())
        .collect();
    if entries.is_empty() && !unreadable.is_empty() {
        diagnostics.push(Diagnostic::info(
            Code::NoCluster,
            unreadable[0],
            0,
            format!("{} YAML file(s) cannot be read ({}); entry points are not guessed from what they may apply", unreadable.len(), unreadable.join(", ")),
        ));
        return (Vec::new(), Vec::new());
    }
    if entries.is_empty() {
        return hand_applied_clusters(catalog, rendering, found.hand_applied);
    }
    // Kustomizations nothing applies that a live cluster needs were applied by hand into it.
    let mut joined = BTreeSet::new();
    for i in 0..entries.len() {
        if idle && i == 0 {
            let mut changed = false;
            for (g, group) in found.hand_applied.iter().enumerate() {
                if hand_applied::reads_this_repository(group, &entries[i], &found.facts) {
                    let because = format!("reads this repository, and {} installs Flux and nothing more", entries[i].path);
                    hand_applied::adjoin(&mut entries[i], group, &because);
                    joined.insert(g);
                    changed = true;
                }
            }
            if changed {
                clusters[i] = resolve_cluster(repo, &entries[i], rendering);
            }
        }
        let needs = hand_applied::needs(&clusters[i]);
        if needs.is_empty() {
            continue;
        }
        let mut changed = false;
        for (g, group) in found.hand_applied.iter().enumerate() {
            if joined.contains(&g) || !hand_applied::shares_source(&entries[i], group) || !hand_applied::could_give(repo, group, &needs) {
                continue;
            }
            let group_cluster = resolve_cluster(repo, group, rendering);
            if hand_applied::applied_by_hand(group, &group_cluster, &needs) {
                let because = format!("reads {}'s own source and gives its cluster what it reads", entries[i].path);
                hand_applied::adjoin(&mut entries[i], group, &because);
                joined.insert(g);
                changed = true;
            }
        }
        if changed {
            clusters[i] = resolve_cluster(repo, &entries[i], rendering);
        }
    }
    (entries, clusters)
}

/// A live candidate's verdict once its cluster is known: left over beside the others when
/// it is a flux-instance release (or ResourceSet) that nothing applies, or when its cluster
/// reconciles nothing of this repository beyond Flux itself.
fn judge(candidate: &Candidate, cluster: &Cluster, repo: &Repository, clusters: &[Cluster]) -> Verdict {
    let entry = &candidate.entry;
    let unreferenced = entry.kind == EntryKind::FluxInstance
        && repo.files.get(&entry.path).is_some_and(|f| f.documents.iter().flatten().any(|d| matches!(d.root.flux_kind(), Some(Kind::HelmRelease | Kind::ResourceSet))))
        && !clusters.iter().any(|c| c.files.contains(&entry.path));
    if unreferenced {
        return Verdict::Dead("it is a HelmRelease (or a ResourceSet) that no Kustomization applies, so no controller ever creates its instance".into());
    }
    let roots: BTreeSet<ObjectId> = entry.roots.iter().filter_map(|r| r.manifest.object_id(BOOTSTRAP_NAMESPACE)).collect();
    let reconciles = cluster.objects.values().any(|o| {
        !roots.contains(&o.id) && !cluster.external.contains_key(&o.id) && matches!(o.id.kind, Kind::Kustomization | Kind::HelmRelease)
    });
    if !reconciles {
        return Verdict::Dead("its cluster reconciles nothing of this repository beyond Flux itself, beside entry points whose clusters do".into());
    }
    Verdict::Live
}

/// With no bootstrap or operator entry live, the groups of Kustomizations applied by hand
/// are the clusters: each with its artifacts rooted where a hand-made flux-system/ says, and
/// read as bootstrap's folder when that alone gives it what it needs; those inside a larger
/// group's build, or reaching nothing beside groups that do, are dropped.
fn hand_applied_clusters(catalog: &Catalog<'_>, rendering: &resourceset::Budget, mut groups: Vec<Entry>) -> (Vec<Entry>, Vec<Cluster>) {
    let repo = catalog.repo;
    let mut clusters = Vec::with_capacity(groups.len());
    for group in &mut groups {
        hand_applied::root_parent_artifact(repo, group);
        let mut cluster = resolve_cluster(repo, group, rendering);
        if group.notes.iter().any(|n| n.code == Code::ArtifactRoot) && hand_applied::root_cluster_artifacts(repo, group, &cluster) {
            cluster = resolve_cluster(repo, group, rendering);
        }
        // Read by hand, the group may lack what it reads; read as bootstrap's folder, the
        // whole folder is synced. The reading in which less is missing is the one Flux runs.
        let needs = hand_applied::needs(&cluster);
        let folder_gives = || hand_applied::folder_could_give(repo, &group.path, &needs);
        if let Some(bootstrapped) = hand_applied::with_bootstrap_root(catalog, group).filter(|_| !needs.is_empty() && folder_gives()) {
            let other = resolve_cluster(repo, &bootstrapped, rendering);
            if hand_applied::needs(&other).len() < needs.len() {
                *group = bootstrapped;
                cluster = other;
            }
        }
        clusters.push(cluster);
    }
    let keep = hand_applied::real_groups(&groups, &clusters);
    let mut flags = keep.iter();
    clusters.retain(|_| *flags.next().expect("one flag per cluster"));
    let mut flags = keep.iter();
    groups.retain(|_| *flags.next().expect("one flag per entry"));
    (groups, clusters)
}

/// The fields in which two definitions of one object differ, compared as the API server
/// would store them: values, not spellings (`1h` is `1h0m0s`, `"5"` is `5`), and without
/// labels and annotations, which kustomize and `commonMetadata` add per applier.
pub fn differences(a: &Node, b: &Node) -> Vec<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        use serde_json::Value as J;
        if path == "metadata.labels" || path == "metadata.annotations" {
            return;
        }
        match (a, b) {
            (J::Object(x), J::Object(y)) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(x.get(k).unwrap_or(&J::Null), y.get(k).unwrap_or(&J::Null), &sub, out);
                }
            }
            (J::Array(x), J::Array(y)) if x.len() == y.len() => {
                let before = out.len();
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(p, q, &format!("{path}[{i}]"), out);
                }
                // One entry for the list, not one per item.
                if out.len() > before {
                    out.truncate(before);
                    out.push(path.to_string());
                }
            }
            _ if same_value(a, b) => {}
            _ => out.push(path.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(&a.to_json(), &b.to_json(), "", &mut out);
    out
}

fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    if a == b {
        return true;
    }
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match (text(a), text(b)) {
        (Some(x), Some(y)) if x == y => true,
        (Some(x), Some(y)) => matches!((model::Duration::parse(&x), model::Duration::parse(&y)), (Some(p), Some(q)) if p == q),
        _ => false,
    }
}

/// A URL reduced to host and path, so that `ssh://git@github.com/a/b.git` and
/// `https://github.com/a/b` compare equal.
pub(crate) fn normalize_url(url: &str) -> String {
    let url = url.trim_end_matches('/').trim_end_matches(".git");
    let url = url.split_once("://").map_or(url, |(_, rest)| rest);
    let url = url.split_once('@').map_or(url, |(_, rest)| rest);
    url.replace(':', "/").to_lowercase()
}

/// Findings that belong to no cluster: files no build reads that are broken, and Flux
/// objects that no entry point reaches. Those are said once per folder when a whole folder
/// is out of reach (an archive, an app commented out of its parent's kustomization.yaml):
/// one finding for the folder, not one per object.
fn outside_diagnostics(catalog: &Catalog<'_>, clusters: &[Cluster], entries: &[Entry], dead: &BTreeSet<String>) -> Vec<Diagnostic> {
    let repo = catalog.repo;
    let in_some_build = |file: &str| clusters.iter().any(|c| c.files.contains(file)) || dead.contains(file);
    let mut out: Vec<Diagnostic> = repo.diagnostics.clone();
    let mut unreached: Vec<(&str, u32, ObjectId)> = Vec::new();
    for file in repo.files.values() {
        if in_some_build(&file.path) {
            continue;
        }
        for doc in &file.documents {
            match doc {
                Err(e) => out.push(Diagnostic::new(
                    Code::InvalidYaml,
                    Severity::Info,
                    &file.path,
                    e.line,
                    format!("{}: {} (no Kustomization applies this file, so Flux never reads it)", file.path, e.message),
                )),
                Ok(doc) if !clusters.is_empty() && !catalog.patches.contains(&file.path) => {
                    let Some(kind) = doc.root.flux_kind() else { continue };
                    let Some(name) = doc.root.name() else { continue };
                    if name.contains("${") || entries.iter().any(|e| e.roots.iter().any(|r| *r.file == file.path && r.line == doc.line)) {
                        continue;
                    }
                    // No Kustomization applies it, so nothing supplies a namespace the file does not give.
                    unreached.push((&file.path, doc.line, ObjectId::new(kind, doc.root.namespace().unwrap_or_default(), name)));
                }
                Ok(_) => {}
            }
        }
    }
    // Folders some build reads from, with every folder above them (needed only when
    // something is out of reach).
    let mut reached_dirs: std::collections::HashSet<&str> = std::collections::HashSet::new();
    if !unreached.is_empty() {
        for file in clusters.iter().flat_map(|c| c.files.iter()) {
            let mut dir = crate::load::parent_dir(file);
            while reached_dirs.insert(dir) && !dir.is_empty() {
                dir = crate::load::parent_dir(dir);
            }
        }
    }
    let mut by_folder: BTreeMap<Option<&str>, Vec<(&str, u32, ObjectId)>> = BTreeMap::new();
    for item in unreached {
        by_folder.entry(unreached_folder(item.0, &reached_dirs)).or_default().push(item);
    }
    for (folder, items) in by_folder {
        match folder {
            Some(folder) if items.len() > 1 => {
                let (file, line, _) = items[0];
                let mut ids: Vec<String> = items.iter().map(|(.., id)| id.to_string()).collect();
                ids.sort();
                let shown = if ids.len() > 3 { format!("{}, and {} more", ids[..3].join(", "), ids.len() - 3) } else { ids.join(", ") };
                out.push(
                    Diagnostic::warning(
                        Code::NotApplied,
                        file,
                        line,
                        format!("./{folder}/ holds {} Flux objects that no Kustomization of any cluster applies ({shown}), so Flux never reconciles them", items.len()),
                    )
                    .with_hint("a folder out of reach is an archive, or commented out of its parent's kustomization.yaml: list it there, or delete it"),
                );
            }
            _ => {
                for (file, line, id) in items {
                    out.push(
                        Diagnostic::warning(Code::NotApplied, file, line, format!("{id} is not applied by any Kustomization of any cluster, so Flux never reconciles it"))
                            .on(&id)
                            .with_hint("list its file in the kustomization.yaml of its folder, or delete it"),
                    );
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The top-most folder above `file` from which no build reads anything, if its own folder
/// is one.
fn unreached_folder<'a>(file: &'a str, reached: &std::collections::HashSet<&str>) -> Option<&'a str> {
    let mut dir = crate::load::parent_dir(file);
    let mut top = None;
    while !dir.is_empty() && !reached.contains(dir) {
        top = Some(dir);
        dir = crate::load::parent_dir(dir);
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn node(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    /// A `${VAR}` that a patch brings into a document without one is substituted too: the
    /// document's own text is only asked while the manifest is the document unchanged.
    #[test]
    fn a_variable_a_patch_adds_is_substituted() {
        let root = r#"apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  path: ./apps
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substitute:
      TEAM: blue
  patches:
    - target:
        kind: Kustomization
        name: child
      patch: |
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata:
          name: child
        spec:
          targetNamespace: ${TEAM}
"#;
        let child = r#"apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: child
  namespace: flux-system
spec:
  path: ./apps/child
  sourceRef:
    kind: GitRepository
    name: flux-system
"#;
        let config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
        let repo = Repository::from_files(
            std::path::Path::new("/r"),
            [("clusters/a/apps.yaml", root), ("apps/child.yaml", child), ("apps/child/cm.yaml", config_map)],
        );
        assert!(!repo.files["apps/child.yaml"].documents[0].as_ref().unwrap().has_dollar);
        let resolution = resolve(&repo, Some("clusters/a/apps.yaml")).unwrap();
        let child = &resolution.clusters[0].objects[&ObjectId::new(Kind::Kustomization, "flux-system", "child")];
        assert_eq!(child.kustomization().unwrap().target_namespace.as_deref(), Some("blue"));
    }

    #[test]
    fn definitions_are_compared_by_value_without_labels() {
        let a = node("metadata:\n  name: x\n  labels:\n    kustomize.toolkit.fluxcd.io/name: apps\nspec:\n  interval: 1h\n  retries: 3\n  path: ./a\n");
        let b = node("metadata:\n  name: x\n  labels:\n    kustomize.toolkit.fluxcd.io/name: infra\nspec:\n  interval: 1h0m0s\n  retries: \"3\"\n  path: ./a\n");
        assert!(differences(&a, &b).is_empty(), "{:?}", differences(&a, &b));
        let c = node("metadata:\n  name: x\nspec:\n  interval: 10m\n  retries: 3\n  path: ./b\n");
        assert_eq!(differences(&a, &c), vec!["spec.interval".to_string(), "spec.path".to_string()]);
    }
}