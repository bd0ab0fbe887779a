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
pub mod entry;
mod resolver;
pub mod resourceset;
mod variables;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::load::kustomize::Resource;
use crate::load::{Node, Repository};
use crate::model::{self, FluxObject, Kind, ObjectId};
pub use entry::Entry;
use resolver::resolve_cluster;

/// Namespace of objects that nothing gives one: what `flux bootstrap` applies lands in
/// flux-system.
pub const BOOTSTRAP_NAMESPACE: &str = "flux-system";

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
        self.objects
            .values()
            .filter(|o| o.id.kind == Kind::ArtifactGenerator && o.id.namespace == artifact.namespace)
            .flat_map(|o| o.manifest.at(&["spec", "artifacts"]).map(Node::as_seq).unwrap_or_default())
            .find(|a| a.get("name").and_then(Node::as_str) == Some(&artifact.name))
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
pub fn resolve(repo: &Repository, entry: Option<&str>) -> Result<Resolution, String> {
    // Files kustomization files use as patches: their documents are not resources.
    let patches = entry::patch_files(repo);
    let mut diagnostics = Vec::new();
    // Files that only a dead entry point reaches: its dead-entry finding speaks for them.
    let mut dead = BTreeSet::new();
    let (entries, mut clusters) = match entry {
        Some(path) => {
            let entry = entry::given(repo, path)?;
            let cluster = resolve_cluster(repo, &entry);
            (vec![entry], vec![cluster])
        }
        None => discover_and_resolve(repo, &patches, &mut diagnostics, &mut dead),
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
    diagnostics.extend(outside_diagnostics(repo, &clusters, &entries, &patches, &dead));
    diagnostics.sort();
    diagnostics.dedup();
    Ok(Resolution { clusters, diagnostics })
}

/// Finds the live entry points and resolves them; falls back to the Kustomizations nothing
/// applies when there is none.
fn discover_and_resolve(
    repo: &Repository,
    patches: &BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
    dead: &mut BTreeSet<String>,
) -> (Vec<Entry>, Vec<Cluster>) {
    let found = entry::discover(repo, patches);
    diagnostics.extend(found.diagnostics);
    let mut entries = found.entries;
    let mut clusters: Vec<Cluster> = entries.iter().map(|e| resolve_cluster(repo, e)).collect();
    // A flux-instance HelmRelease nothing applies, and an entry whose cluster reconciles
    // nothing of this repository, are left over when another entry point is live.
    let unreferenced: Vec<bool> = entries.iter().map(|e| entry::unreferenced_release(e, repo, &clusters)).collect();
    let empty: Vec<bool> = entries.iter().zip(&clusters).map(|(e, c)| entry::reconciles_nothing(e, c)).collect();
    let live: Vec<bool> = (0..entries.len()).map(|i| !unreferenced[i] && !empty[i]).collect();
    if live.iter().any(|l| *l) {
        for i in (0..entries.len()).filter(|&i| !live[i]) {
            let why = if unreferenced[i] {
                "it is a HelmRelease that no Kustomization applies, so helm-controller never creates its instance"
            } else {
                "its cluster reconciles nothing of this repository beyond Flux itself, beside entry points whose clusters do"
            };
            diagnostics.push(entry::dead_entry(&entries[i], why));
            dead.extend(clusters[i].files.iter().cloned());
        }
        let mut flags = live.iter();
        clusters.retain(|_| *flags.next().expect("one flag per cluster"));
        let mut flags = live.iter();
        entries.retain(|_| *flags.next().expect("one flag per entry"));
    }
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
        entries = found.unapplied;
        clusters = entries.iter().map(|e| resolve_cluster(repo, e)).collect();
        let keep = entry::real_entries(&entries, &clusters);
        let mut flags = keep.iter();
        clusters.retain(|_| *flags.next().expect("one flag per cluster"));
        let mut flags = keep.iter();
        entries.retain(|_| *flags.next().expect("one flag per entry"));
        return (entries, clusters);
    }
    // Kustomizations nothing applies that a live cluster needs were applied by hand into it.
    let mut joined = BTreeSet::new();
    for i in 0..entries.len() {
        let needs = entry::needs(&clusters[i]);
        if needs.is_empty() {
            continue;
        }
        let mut changed = false;
        for (g, group) in found.unapplied.iter().enumerate() {
            if joined.contains(&g) || !entry::shares_source(&entries[i], group) || !entry::could_give(repo, group, &needs) {
                continue;
            }
            let group_cluster = resolve_cluster(repo, group);
            if entry::applied_by_hand(group, &group_cluster, &needs) {
                entry::adjoin(&mut entries[i], group);
                joined.insert(g);
                changed = true;
            }
        }
        if changed {
            clusters[i] = resolve_cluster(repo, &entries[i]);
        }
    }
    (entries, clusters)
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
/// objects that no entry point reaches.
fn outside_diagnostics(repo: &Repository, clusters: &[Cluster], entries: &[Entry], patch_files: &BTreeSet<String>, dead: &BTreeSet<String>) -> Vec<Diagnostic> {
    let in_some_build = |file: &str| clusters.iter().any(|c| c.files.contains(file)) || dead.contains(file);
    let mut out: Vec<Diagnostic> = repo.diagnostics.clone();
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
                Ok(doc) if !clusters.is_empty() && !patch_files.contains(&file.path) => {
                    let Some(kind) = model::flux_kind(&doc.root) else { continue };
                    let Some(name) = model::metadata_name(&doc.root) else { continue };
                    if name.contains("${") || entries.iter().any(|e| e.roots.iter().any(|r| *r.file == file.path && r.line == doc.line)) {
                        continue;
                    }
                    // No Kustomization applies it, so nothing supplies a namespace the file does not give.
                    let id = ObjectId::new(kind, model::metadata_namespace(&doc.root).unwrap_or_default(), name);
                    out.push(
                        Diagnostic::warning(Code::NotApplied, &file.path, doc.line, format!("{id} is not applied by any Kustomization of any cluster, so Flux never reconciles it"))
                            .on(&id)
                            .with_hint("list its file in the kustomization.yaml of its folder, or delete it"),
                    );
                }
                Ok(_) => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
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