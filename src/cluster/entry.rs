//! Entry points: where each cluster's graph grows from, whatever found them
//! ([`discovery`](super::discovery), or `--entry`): the Flux objects applied at the start
//! (by bootstrap, the operator, or by hand), what else was applied with them, which sources
//! are this repository, and the objects bootstrap or the operator make that no file holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::discovery::Facts;
use super::{BOOTSTRAP_NAMESPACE, Cluster};
use crate::diagnostic::Diagnostic;
use crate::load::kustomize::{self, Overlay, Resource, is_sops, join, normalize};
use crate::load::{Manifest, Node, Repository, parent_dir};
use crate::model::{Kind, Identity, ObjectId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Bootstrap,
    FluxInstance,
    /// A FluxInstance known only from the values a bootstrap tool installs it with.
    InstallValues,
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
    /// The Flux objects applied at the start (by bootstrap, the operator, or by hand): the
    /// roots of the graph.
    pub roots: Vec<Resource>,
    /// The other manifests applied with them (a hand-applied folder's ConfigMaps).
    pub applied: Vec<Resource>,
    /// Roots made up here (what bootstrap or the operator creates).
    pub implied: BTreeSet<ObjectId>,
    /// The sources that are this repository, each with the folder their artifact's root is.
    pub sources: BTreeMap<ObjectId, String>,
    /// This repository's URLs, normalised.
    pub urls: BTreeSet<String>,
    /// How the entry was read, when it is worth saying (info).
    pub notes: Vec<Diagnostic>,
}

impl Entry {
    pub fn new(name: String, path: String, kind: EntryKind) -> Entry {
        Entry {
            name,
            path,
            kind,
            roots: Vec::new(),
            applied: Vec::new(),
            implied: BTreeSet::new(),
            sources: BTreeMap::new(),
            urls: BTreeSet::new(),
            notes: Vec::new(),
        }
    }

}

/// The path a root Kustomization syncs, normalised.
pub fn sync_path(root: &Resource) -> Option<String> {
    (crate::model::flux_kind(&root.manifest) == Some(Kind::Kustomization)).then_some(())?;
    normalize(root.manifest.at(&["spec", "path"]).and_then(Node::as_str).unwrap_or(""))
}

/// Why the entry named with `--entry` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("--entry {0} points outside the repository")]
    Outside(String),
    #[error("--entry {0}: its kustomization applies no Flux object")]
    KustomizationWithoutFluxObject(String),
    #[error("--entry {0} holds no Flux object")]
    FileWithoutFluxObject(String),
    #[error("--entry {0}: no such file or folder in the repository")]
    NotFound(String),
}

/// The entry named with `--entry`: a file (its Flux objects are the roots; a kustomization
/// file, what it builds), or a folder (what its kustomization file builds, or else what
/// bootstrap would apply for it).
pub fn given(repo: &Repository, facts: &Facts, path: &str) -> Result<Entry, EntryError> {
    let rel = normalize(path).ok_or_else(|| EntryError::Outside(path.to_string()))?;
    let name = |dir: &str| cluster_name(dir, repo);
    let file_name = rel.rsplit('/').next().unwrap_or("");
    let folder = if kustomize::KUSTOMIZATION_FILES.contains(&file_name) && repo.files.contains_key(&rel) {
        Some(parent_dir(&rel).to_string())
    } else if repo.is_dir(&rel) && kustomize::kustomization_file(repo, &rel).is_some() {
        Some(rel.clone())
    } else {
        None
    };
    if let Some(dir) = folder {
        let mut entry = Entry::new(name(&dir), rel.clone(), EntryKind::Given);
        let build = kustomize::build(repo, &dir, &Overlay::default());
        for r in build.resources {
            if crate::model::flux_kind(&r.manifest).is_some() { entry.roots.push(r) } else { entry.applied.push(r) }
        }
        if entry.roots.is_empty() {
            return Err(EntryError::KustomizationWithoutFluxObject(rel));
        }
        add_root_sources(&mut entry, facts);
        return Ok(entry);
    }
    if let Some(file) = repo.files.get(&rel) {
        let mut entry = Entry::new(name(parent_dir(&rel)), rel.clone(), EntryKind::Given);
        entry.roots = flux_documents(repo, &file.path);
        if entry.roots.is_empty() {
            return Err(EntryError::FileWithoutFluxObject(rel));
        }
        add_root_sources(&mut entry, facts);
        return Ok(entry);
    }
    if repo.is_dir(&rel) {
        let mut entry = Entry::new(name(&rel), rel.clone(), EntryKind::Given);
        let source = synthetic_source(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system", None, None, &rel, 0);
        let root = synthetic_kustomization(BOOTSTRAP_NAMESPACE, "flux-system", &format!("./{rel}"), Kind::GitRepository, &rel, 0);
        entry.implied.insert(resource_id(&root));
        entry.implied.insert(resource_id(&source));
        entry.sources.insert(resource_id(&source), String::new());
        entry.roots = vec![root, source];
        return Ok(entry);
    }
    Err(EntryError::NotFound(path.to_string()))
}

/// The GitRepositories the roots' own Kustomizations read are this repository: whoever
/// applied them applied them from it. (An OCI artifact a root reads, such as Flux's own
/// manifests, is another source.)
pub fn add_root_sources(entry: &mut Entry, facts: &Facts) {
    for root in &entry.roots {
        let ns = root.manifest.namespace().unwrap_or(BOOTSTRAP_NAMESPACE).to_string();
        let Some(object) = crate::model::read_object(&root.manifest, &ns, &root.file, root.line) else { continue };
        if object.kustomization().is_some() {
            for (kind, r) in object.source_refs() {
                let source = r.resolve(kind, &ns);
                // Presumed this repository, unless its URL says it is another one.
                if kind == Kind::GitRepository && !facts.is_foreign(&source) {
                    entry.sources.entry(source).or_default();
                }
            }
        }
    }
    let sources = entry.sources.clone();
    for root in &entry.roots {
        let Some(id) = root.manifest.object_id(BOOTSTRAP_NAMESPACE) else { continue };
        if sources.contains_key(&id) {
            if let Some(url) = root.manifest.at(&["spec", "url"]).and_then(Node::as_str) {
                entry.urls.insert(super::normalize_url(url));
            }
        }
    }
}

/// The Kustomization that bootstrap or the operator creates.
pub fn synthetic_kustomization(namespace: &str, name: &str, path: &str, source_kind: Kind, file: &str, line: u32) -> Resource {
    let manifest = serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"interval": "10m0s", "path": path, "prune": true, "sourceRef": {"kind": source_kind.as_str(), "name": name}},
    });
    Resource::new(Arc::from(file), line, Arc::new(Node::from_json(&manifest, None, line)), false)
}

/// The source that bootstrap or the operator creates.
pub fn synthetic_source(kind: Kind, namespace: &str, name: &str, url: Option<&str>, reference: Option<&str>, file: &str, line: u32) -> Resource {
    let mut spec = serde_json::json!({"interval": "1m0s"});
    if let Some(url) = url {
        spec["url"] = url.into();
    }
    if let Some(r) = reference {
        spec["ref"] = match kind {
            Kind::OCIRepository => serde_json::json!({"tag": r}),
            _ => serde_json::json!({"name": r}),
        };
    }
    let api = if kind == Kind::GitRepository { "source.toolkit.fluxcd.io/v1" } else { "source.toolkit.fluxcd.io/v1beta2" };
    let manifest = serde_json::json!({"apiVersion": api, "kind": kind.as_str(), "metadata": {"name": name, "namespace": namespace}, "spec": spec});
    Resource::new(Arc::from(file), line, Arc::new(Node::from_json(&manifest, None, line)), false)
}

pub fn resource_id(r: &Resource) -> ObjectId {
    let kind = r.manifest.flux_kind().expect("a synthetic Flux object");
    let ns = crate::model::metadata_namespace(&r.manifest).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
    ObjectId::new(kind, ns, crate::model::metadata_name(&r.manifest).unwrap_or_default())
}

/// Every Flux document of a file, as a root resource.
pub fn flux_documents(repo: &Repository, path: &str) -> Vec<Resource> {
    let Some(file) = repo.files.get(path) else { return Vec::new() };
    let shared: Arc<str> = Arc::from(path);
    file.documents
        .iter()
        .flatten()
        .filter(|d| crate::model::flux_kind(&d.root).is_some())
        .map(|d| Resource::new(shared.clone(), d.line, Arc::clone(&d.root), is_sops(&d.root)))
        .collect()
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

/// Gives the second and later clusters of one name a number (`prod`, `prod-2`), once the
/// live ones are known.
pub fn name_uniquely(clusters: &mut [Cluster]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for c in clusters.iter_mut() {
        let n = seen.entry(c.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            c.name = format!("{}-{}", c.name, n);
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
    fn a_cluster_is_named_after_the_last_folder_that_is_not_a_generic_word() {
        let repo = Repository::from_files(Path::new("/r/fleet"), []);
        assert_eq!(cluster_name("kubernetes/rpi-cluster/flux/config", &repo), "rpi-cluster");
        assert_eq!(cluster_name("clusters/prod", &repo), "prod");
        assert_eq!(cluster_name("flux-system", &repo), "fleet");
    }
}
