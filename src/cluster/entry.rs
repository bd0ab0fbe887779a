//! Entry points: where each cluster's graph grows from.
//!
//! In Flux's order of evidence: `flux bootstrap`'s `gotk-sync.yaml` (its flux-system
//! Kustomization, or, when the file is the placeholder some repositories commit, the one
//! bootstrap would write for that folder); a Flux Operator `FluxInstance`'s
//! `spec.sync.path`, also found in the values of a HelmRelease of the flux-instance chart;
//! failing those, the Kustomizations that nothing in the repository applies, grouped by
//! the folder they live in, keeping only the groups that are not themselves inside what
//! another group builds and that reach something.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{BOOTSTRAP_NAMESPACE, Cluster};
use crate::diagnostic::Code;
use crate::load::kustomize::{self, Overlay, Resource, is_sops, join, normalize};
use crate::load::yaml::parse_documents;
use crate::load::{Node, Repository, parent_dir};
use crate::model::{self, Kind, ObjectId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Bootstrap,
    FluxInstance,
    /// Kustomizations nothing applies, grouped by folder: a guess, checked after resolving.
    Unapplied,
    /// Named with `--entry`.
    Given,
}

/// One cluster's starting point.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    /// The file or folder the entry was found in.
    pub path: String,
    pub kind: EntryKind,
    /// The manifests Flux's bootstrap applies: the roots of the graph.
    pub roots: Vec<Resource>,
    /// Roots made up here (bootstrap's or the operator's flux-system Kustomization).
    pub implied: BTreeSet<ObjectId>,
}

/// Finds every entry point of the repository.
pub fn discover(repo: &Repository, patches: &BTreeSet<String>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = bootstrap_entries(repo);
    let known: BTreeSet<String> = entries.iter().map(|e| e.path.clone()).collect();
    entries.extend(flux_instance_entries(repo).into_iter().filter(|e| !known.contains(&e.path)));
    if entries.is_empty() {
        entries = unapplied_entries(repo, patches);
    }
    name_uniquely(&mut entries);
    entries
}

/// The entry named with `--entry`: a file (its Flux objects are the roots) or a folder
/// (what bootstrap would apply for it).
pub fn given(repo: &Repository, path: &str) -> Result<Entry, String> {
    let rel = normalize(path).ok_or_else(|| format!("--entry {path} points outside the repository"))?;
    if let Some(file) = repo.files.get(&rel) {
        let roots = flux_documents(repo, &file.path);
        if roots.is_empty() {
            return Err(format!("--entry {rel} holds no Flux object"));
        }
        return Ok(Entry { name: cluster_name(parent_dir(&rel), repo), path: rel, kind: EntryKind::Given, roots, implied: BTreeSet::new() });
    }
    if repo.is_dir(&rel) {
        let (root, id) = synthetic_root(&rel, "GitRepository", &rel, 0);
        return Ok(Entry { name: cluster_name(&rel, repo), path: rel, kind: EntryKind::Given, roots: vec![root], implied: BTreeSet::from([id]) });
    }
    Err(format!("--entry {path}: no such file or folder in the repository"))
}

fn bootstrap_entries(repo: &Repository) -> Vec<Entry> {
    let mut out = Vec::new();
    for file in repo.files.values() {
        let name = file.path.rsplit('/').next().unwrap_or("");
        if name != "gotk-sync.yaml" && name != "gotk-sync.yml" {
            continue;
        }
        let roots = flux_documents(repo, &file.path);
        let kustomization = roots.iter().find(|r| model::flux_kind(&r.manifest) == Some(Kind::Kustomization));
        match kustomization {
            Some(k) => {
                let path = k.manifest.at(&["spec", "path"]).and_then(Node::as_str).and_then(normalize).unwrap_or_default();
                out.push(Entry { name: cluster_name(&path, repo), path: file.path.clone(), kind: EntryKind::Bootstrap, roots, implied: BTreeSet::new() });
            }
            None => {
                // The placeholder committed before `flux bootstrap` runs: bootstrap syncs the
                // folder that holds flux-system/.
                let dir = parent_dir(parent_dir(&file.path)).to_string();
                let (root, id) = synthetic_root(&dir, "GitRepository", &file.path, 1);
                out.push(Entry { name: cluster_name(&dir, repo), path: file.path.clone(), kind: EntryKind::Bootstrap, roots: vec![root], implied: BTreeSet::from([id]) });
            }
        }
    }
    out
}

fn flux_instance_entries(repo: &Repository) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut synced = BTreeSet::new();
    for file in repo.files.values() {
        for doc in file.documents.iter().flatten() {
            let (api, kind) = model::type_of(&doc.root);
            let sync = if kind == "FluxInstance" && api.starts_with("fluxcd.controlplane.io/") {
                doc.root.at(&["spec", "sync"])
            } else if model::flux_kind(&doc.root) == Some(Kind::HelmRelease) {
                doc.root.at(&["spec", "values", "instance", "sync"])
            } else {
                None
            };
            let Some(sync) = sync else { continue };
            let Some(path) = sync.get("path").and_then(Node::scalar_text).and_then(|p| normalize(&p)) else { continue };
            // The same instance often stands twice (a FluxInstance and the values that make it).
            if !synced.insert(path.clone()) {
                continue;
            }
            let source_kind = sync.get("kind").and_then(Node::as_str).unwrap_or("GitRepository");
            // The operator syncs this repository whatever the transport; read it locally.
            let source_kind = if source_kind == "OCIRepository" || source_kind == "Bucket" { "GitRepository" } else { source_kind };
            let (root, id) = synthetic_root(&path, source_kind, &file.path, sync.line);
            out.push(Entry { name: cluster_name(&path, repo), path: file.path.clone(), kind: EntryKind::FluxInstance, roots: vec![root], implied: BTreeSet::from([id]) });
        }
    }
    out
}

/// The flux-system Kustomization that bootstrap or the operator creates for `path`.
fn synthetic_root(path: &str, source_kind: &str, file: &str, line: u32) -> (Resource, ObjectId) {
    let text = format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: {BOOTSTRAP_NAMESPACE}\nspec:\n  interval: 10m\n  path: ./{path}\n  prune: true\n  sourceRef:\n    kind: {source_kind}\n    name: flux-system\n"
    );
    let mut manifest = (*parse_documents(&text).remove(0).expect("the synthetic root is valid YAML").root).clone();
    set_lines(&mut manifest, line);
    let resource = Resource { file: Arc::from(file), line, manifest: Arc::new(manifest), sops: false };
    (resource, ObjectId::new(Kind::Kustomization, BOOTSTRAP_NAMESPACE, "flux-system"))
}

fn set_lines(node: &mut Node, line: u32) {
    node.line = line;
    match &mut node.value {
        crate::load::Value::Seq(items) => items.iter_mut().for_each(|n| set_lines(n, line)),
        crate::load::Value::Map(entries) => entries.iter_mut().for_each(|(_, n)| set_lines(n, line)),
        _ => {}
    }
}

/// Every Flux document of a file, as a root resource.
fn flux_documents(repo: &Repository, path: &str) -> Vec<Resource> {
    let Some(file) = repo.files.get(path) else { return Vec::new() };
    let shared: Arc<str> = Arc::from(path);
    file.documents
        .iter()
        .flatten()
        .filter(|d| model::flux_kind(&d.root).is_some())
        .map(|d| Resource { file: shared.clone(), line: d.line, manifest: Arc::clone(&d.root), sops: is_sops(&d.root) })
        .collect()
}

/// Kustomizations that no other Kustomization's build includes, grouped by folder.
fn unapplied_entries(repo: &Repository, patches: &BTreeSet<String>) -> Vec<Entry> {
    let documents: Vec<(&str, u32, &Arc<Node>, Kind)> = repo
        .files
        .values()
        .filter(|f| !patches.contains(&f.path))
        .flat_map(|f| f.documents.iter().flatten().map(move |d| (f.path.as_str(), d.line, &d.root)))
        .filter_map(|(f, l, n)| Some((f, l, n, model::flux_kind(n)?)))
        .collect();
    // What each Kustomization builds from. Those whose path holds their own file (flux-system)
    // are followed one by one, so that a file they alone include is not "applied by another".
    let mut shared_paths = Vec::new();
    let mut self_applying = Vec::new();
    for &(file, line, node, kind) in &documents {
        if kind != Kind::Kustomization {
            continue;
        }
        let Some(path) = node.at(&["spec", "path"]).and_then(Node::as_str).map_or(Some(String::new()), normalize) else { continue };
        // Paths into OCI artifacts, buckets and generated artifacts are not this tree; a
        // document without sourceRef is a patch or a partial, not a Kustomization Flux runs.
        let source_kind = node.at(&["spec", "sourceRef", "kind"]).and_then(Node::as_str);
        if source_kind != Some("GitRepository") || path.contains("${") || !repo.is_dir(&path) {
            continue;
        }
        let components: Vec<String> = node
            .at(&["spec", "components"])
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| normalize(&join(&path, &c.scalar_text()?)))
            .collect();
        if path.is_empty() || file.starts_with(&format!("{path}/")) {
            self_applying.push(((file, line), path, components));
        } else {
            shared_paths.push((path, components));
        }
    }
    let applied = kustomize::reachable_files(repo, shared_paths.iter().map(|(p, c)| (p.as_str(), c.clone())));
    let mut applied_by_self: BTreeMap<String, Vec<(&str, u32)>> = BTreeMap::new();
    for (who, path, components) in &self_applying {
        for f in kustomize::files(repo, path, &Overlay { components: components.clone(), ..Overlay::default() }) {
            applied_by_self.entry(f).or_default().push(*who);
        }
    }
    let applied_by_other = |file: &str, line: u32| {
        applied.contains(file) || applied_by_self.get(file).is_some_and(|s| s.iter().any(|&k| k != (file, line)))
    };
    let root_files: BTreeSet<&str> = documents
        .iter()
        .filter(|&&(f, l, _, k)| k == Kind::Kustomization && !applied_by_other(f, l))
        .map(|&(f, ..)| f)
        .collect();
    let mut groups: BTreeMap<&str, Vec<Resource>> = BTreeMap::new();
    for &(file, line, node, _) in &documents {
        if root_files.contains(file) && !applied_by_other(file, line) {
            groups.entry(parent_dir(file)).or_default().push(Resource { file: Arc::from(file), line, manifest: Arc::clone(node), sops: false });
        }
    }
    groups
        .into_iter()
        .map(|(dir, roots)| Entry { name: cluster_name(dir, repo), path: dir.to_string(), kind: EntryKind::Unapplied, roots, implied: BTreeSet::new() })
        .collect()
}

/// Keeps only the guessed entries that are real clusters: a group inside what a larger
/// cluster builds is part of it (just not listed), and a group that reaches nothing
/// because its paths are gone (an `.archive/` folder) is no cluster at all.
pub fn real_entries(entries: &[Entry], clusters: &[Cluster]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..clusters.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(clusters[i].objects.len()));
    let mut keep = vec![false; clusters.len()];
    let mut covered: Vec<String> = Vec::new();
    for i in order {
        let (entry, cluster) = (&entries[i], &clusters[i]);
        if entry.kind != EntryKind::Unapplied {
            keep[i] = true;
            continue;
        }
        let inside = covered.iter().any(|d| d.is_empty() || entry.path == *d || entry.path.starts_with(&format!("{d}/")));
        let reaches_nothing = cluster.objects.len() <= entry.roots.len()
            && cluster.diagnostics.iter().any(|d| d.code == Code::PathNotFound);
        if inside || reaches_nothing {
            continue;
        }
        keep[i] = true;
        covered.extend(cluster.objects.values().filter(|o| !cluster.external.contains_key(&o.id)).filter_map(|o| {
            o.kustomization()?.path.as_ref().and_then(|p| normalize(&p.value))
        }));
    }
    keep
}

/// A cluster's name from its folder: the last part that is not a generic word of Flux
/// layouts (`kubernetes/rpi-cluster/flux/config` → `rpi-cluster`, `clusters/prod` → `prod`).
pub fn cluster_name(dir: &str, repo: &Repository) -> String {
    const GENERIC: &[&str] = &["flux-system", "flux", "config", "cluster", "clusters", "kubernetes", "k8s", "bootstrap", "base", "gitops", "deploy", "manifests"];
    dir.rsplit('/')
        .find(|p| !p.is_empty() && !GENERIC.contains(p))
        .map(str::to_string)
        .or_else(|| repo.root.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "default".into())
}

fn name_uniquely(entries: &mut [Entry]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for e in entries.iter_mut() {
        let n = seen.entry(e.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            e.name = format!("{}-{}", e.name, n);
        }
    }
}

/// Files that kustomization files use as patches: their documents are not resources.
pub fn patch_files(repo: &Repository) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for file in repo.files.values() {
        let name = file.path.rsplit('/').next().unwrap_or("");
        if !kustomize::KUSTOMIZATION_FILES.contains(&name) {
            continue;
        }
        let dir = parent_dir(&file.path);
        let Some(Ok(doc)) = file.documents.first() else { continue };
        let mut add = |p: &str| {
            if let Some(p) = normalize(&join(dir, p)) {
                out.insert(p);
            }
        };
        for key in ["patches", "patchesJson6902"] {
            for e in doc.root.get(key).map(Node::as_seq).unwrap_or_default() {
                if let Some(p) = e.get("path").and_then(Node::as_str) {
                    add(p);
                }
            }
        }
        for e in doc.root.get("patchesStrategicMerge").map(Node::as_seq).unwrap_or_default() {
            if let Some(p) = e.as_str().filter(|p| !p.contains('\n')) {
                add(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn one_flux_instance_written_twice_is_one_entry() {
        let instance = "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\nspec:\n  sync:\n    kind: GitRepository\n    path: kubernetes/flux/cluster\n";
        let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: flux-instance\nspec:\n  values:\n    instance:\n      sync:\n        path: ./kubernetes/flux/cluster\n";
        let repo = Repository::from_files(Path::new("/r"), [("a/instance.yaml", instance), ("b/release.yaml", release), ("kubernetes/flux/cluster/ks.yaml", "")]);
        let entries = discover(&repo, &BTreeSet::new());
        assert_eq!(entries.len(), 1, "{:?}", entries.iter().map(|e| &e.path).collect::<Vec<_>>());
        assert_eq!(entries[0].kind, EntryKind::FluxInstance);
    }
}
