//! Entry points: where each cluster's graph grows from.
//!
//! In Flux's order of evidence:
//! - `flux bootstrap`'s `gotk-sync.yaml` (its flux-system Kustomization, or, when the file
//!   is the placeholder some repositories commit, the one bootstrap would write for that
//!   folder);
//! - a Flux Operator `FluxInstance`'s `spec.sync`, also found in the values of a HelmRelease
//!   of the flux-instance chart (inline, or through `valuesFrom` a ConfigMap that kustomize
//!   generates from a values file). The operator names the source and the Kustomization it
//!   creates after `sync.name`, else the instance's namespace (flux-operator's
//!   `fluxinstance_controller.go`), with the kind `sync.kind` says, and applies the
//!   instance's `kustomize.patches` to them. A `${VAR}` in the sync path is substituted with
//!   the variables of the Kustomizations that apply the instance's file;
//! - failing those, the Kustomizations that nothing in the repository applies, grouped by
//!   the folder they live in (with what that folder's kustomization file applies beside
//!   them), keeping the groups that are not inside what another group builds and that reach
//!   something.
//!
//! Entry points that are not live are reported, not turned into clusters: a template (its
//! URL or path still `${VAR}`), a stale copy of another bootstrap (the same path, in a
//! file outside it, where bootstrap never writes), a sync path that does not exist, and an
//! entry whose cluster reconciles nothing of this repository beside a live one. A group
//! of Kustomizations nothing applies that reads a live entry's own source was applied by
//! hand into that cluster (the seed's `flux/config/cluster.yaml`): it joins it as roots.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::variables::{self, Scope, VariableIndex};
use super::{BOOTSTRAP_NAMESPACE, Cluster, normalize_url};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::{self, Overlay, Resource, is_sops, join, normalize};
use crate::load::patch::{Patch, Target};
use crate::load::{Node, Repository, parent_dir};
use crate::model::{self, Kind, Manifest, ObjectId, ResourceId};

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
    fn new(name: String, path: String, kind: EntryKind) -> Entry {
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

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Bootstrap and operator entries that look live.
    pub entries: Vec<Entry>,
    /// Groups of Kustomizations nothing in the repository applies, by folder.
    pub unapplied: Vec<Entry>,
    /// Entry points that are not live, and why.
    pub diagnostics: Vec<Diagnostic>,
}

/// Finds every entry point of the repository.
pub fn discover(repo: &Repository, patches: &BTreeSet<String>) -> Discovery {
    let mut diagnostics = Vec::new();
    let mut entries = bootstrap_entries(repo, &mut diagnostics);
    let synced: BTreeSet<String> = entries.iter().flat_map(|e| e.roots.iter()).filter_map(|r| sync_path(r)).collect();
    for e in flux_instance_entries(repo, patches, &mut diagnostics) {
        let path = e.roots.iter().find_map(sync_path);
        if path.is_none_or(|p| !synced.contains(&p)) {
            entries.push(e);
        }
    }
    let mut urls: BTreeSet<String> = repo.remotes.iter().map(|u| normalize_url(u)).collect();
    urls.extend(entries.iter().flat_map(|e| e.urls.iter().cloned()));
    let unapplied = unapplied_entries(repo, patches, &urls, &entries);
    Discovery { entries, unapplied, diagnostics }
}

/// The path a root Kustomization syncs, normalised.
fn sync_path(root: &Resource) -> Option<String> {
    (model::flux_kind(&root.manifest) == Some(Kind::Kustomization)).then_some(())?;
    normalize(root.manifest.at(&["spec", "path"]).and_then(Node::as_str).unwrap_or(""))
}

/// The entry named with `--entry`: a file (its Flux objects are the roots; a kustomization
/// file, what it builds), or a folder (what its kustomization file builds, or else what
/// bootstrap would apply for it).
pub fn given(repo: &Repository, path: &str) -> Result<Entry, String> {
    let rel = normalize(path).ok_or_else(|| format!("--entry {path} points outside the repository"))?;
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
            if model::flux_kind(&r.manifest).is_some() { entry.roots.push(r) } else { entry.applied.push(r) }
        }
        if entry.roots.is_empty() {
            return Err(format!("--entry {rel}: its kustomization applies no Flux object"));
        }
        add_root_sources(&mut entry);
        return Ok(entry);
    }
    if let Some(file) = repo.files.get(&rel) {
        let mut entry = Entry::new(name(parent_dir(&rel)), rel.clone(), EntryKind::Given);
        entry.roots = flux_documents(repo, &file.path);
        if entry.roots.is_empty() {
            return Err(format!("--entry {rel} holds no Flux object"));
        }
        add_root_sources(&mut entry);
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
    Err(format!("--entry {path}: no such file or folder in the repository"))
}

/// The GitRepositories the roots' own Kustomizations read are this repository: whoever
/// applied them applied them from it. (An OCI artifact a root reads, such as Flux's own
/// manifests, is another source.)
fn add_root_sources(entry: &mut Entry) {
    for root in &entry.roots {
        let ns = model::metadata_namespace(&root.manifest).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
        let Some(object) = model::read_object(&root.manifest, &ns, &root.file, root.line) else { continue };
        if object.kustomization().is_some() {
            for (kind, r) in object.source_refs() {
                if kind == Kind::GitRepository {
                    entry.sources.entry(r.resolve(kind, &ns)).or_default();
                }
            }
        }
    }
    let sources = entry.sources.clone();
    for root in &entry.roots {
        let ns = model::metadata_namespace(&root.manifest).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
        let Some(kind) = model::flux_kind(&root.manifest) else { continue };
        let Some(name) = model::metadata_name(&root.manifest) else { continue };
        if sources.contains_key(&ObjectId::new(kind, ns, name)) {
            if let Some(url) = root.manifest.at(&["spec", "url"]).and_then(Node::as_str) {
                entry.urls.insert(super::normalize_url(url));
            }
        }
    }
}

fn bootstrap_entries(repo: &Repository, diagnostics: &mut Vec<Diagnostic>) -> Vec<Entry> {
    let mut out = Vec::new();
    for file in repo.files.values() {
        let name = file.path.rsplit('/').next().unwrap_or("");
        if name != "gotk-sync.yaml" && name != "gotk-sync.yml" {
            continue;
        }
        let roots = flux_documents(repo, &file.path);
        let kustomization = roots.iter().find(|r| model::flux_kind(&r.manifest) == Some(Kind::Kustomization));
        let entry = match kustomization {
            Some(k) => {
                let path = sync_path(k).unwrap_or_default();
                let mut entry = Entry::new(cluster_name(&path, repo), file.path.clone(), EntryKind::Bootstrap);
                entry.roots = roots;
                add_root_sources(&mut entry);
                entry
            }
            None => {
                // The placeholder committed before `flux bootstrap` runs: bootstrap syncs the
                // folder that holds flux-system/.
                let dir = parent_dir(parent_dir(&file.path)).to_string();
                let mut entry = Entry::new(cluster_name(&dir, repo), file.path.clone(), EntryKind::Bootstrap);
                let source = synthetic_source(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system", None, None, &file.path, 1);
                let root = synthetic_kustomization(BOOTSTRAP_NAMESPACE, "flux-system", &format!("./{dir}"), Kind::GitRepository, &file.path, 1);
                entry.implied.extend([resource_id(&root), resource_id(&source)]);
                entry.sources.insert(resource_id(&source), String::new());
                entry.roots = vec![root, source];
                entry
            }
        };
        let template = entry.roots.iter().any(|r| {
            let spec = r.manifest.get("spec");
            ["url", "path"].iter().any(|k| spec.and_then(|s| s.get(k)).and_then(Node::as_str).is_some_and(|v| v.contains("${")))
        });
        if template {
            diagnostics.push(dead(&entry.path, entry.roots.first().map_or(0, |r| r.line), "it is a template: its URL or path is still a ${VARIABLE}, filled in by a script before bootstrap"));
            continue;
        }
        out.push(entry);
    }
    // Bootstrap writes gotk-sync.yaml inside the folder it syncs; another file syncing the
    // same folder from outside it is a copy (a backup, an old layout).
    let paths: Vec<Option<String>> = out.iter().map(|e| e.roots.iter().find_map(sync_path)).collect();
    let inside = |e: &Entry, p: &str| p.is_empty() || e.path.starts_with(&format!("{p}/"));
    let mut keep = vec![true; out.len()];
    for i in 0..out.len() {
        let Some(p) = &paths[i] else { continue };
        if inside(&out[i], p) {
            continue;
        }
        let original = (0..out.len()).find(|&j| j != i && paths[j].as_ref() == Some(p) && inside(&out[j], p));
        if let Some(j) = original {
            keep[i] = false;
            diagnostics.push(dead(&out[i].path, out[i].roots.first().map_or(0, |r| r.line), &format!("it is a copy of {}, which syncs the same path ./{p} from inside it, where bootstrap writes", out[j].path)));
        }
    }
    let mut flags = keep.into_iter();
    out.retain(|_| flags.next().unwrap_or(true));
    out
}

/// An entry point (in `file`, at `line`) that is not taken as a cluster, and why.
fn dead(file: &str, line: u32, why: &str) -> Diagnostic {
    Diagnostic::info(Code::DeadEntry, file, line, format!("{file} is not taken as a cluster's entry point: {why}"))
}

/// One `FluxInstance` sync, wherever it was written.
struct Instance<'a> {
    file: &'a str,
    line: u32,
    namespace: String,
    /// `spec` of the FluxInstance: `sync`, `kustomize.patches`.
    spec: Node,
}

fn flux_instance_entries(repo: &Repository, patches: &BTreeSet<String>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Entry> {
    let mut instances = Vec::new();
    for file in repo.files.values() {
        for doc in file.documents.iter().flatten() {
            let (api, kind) = model::type_of(&doc.root);
            let namespace = model::metadata_namespace(&doc.root);
            if kind == "FluxInstance" && api.starts_with("fluxcd.controlplane.io/") {
                if let Some(spec) = doc.root.get("spec").filter(|s| s.get("sync").is_some()) {
                    let namespace = namespace.unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
                    instances.push(Instance { file: &file.path, line: doc.line, namespace, spec: spec.clone() });
                }
            } else if model::flux_kind(&doc.root) == Some(Kind::HelmRelease) && may_make_an_instance(&doc.root) {
                let Some(values) = release_values(repo, &file.path, &doc.root) else { continue };
                let Some(spec) = values.get("instance").filter(|i| i.get("sync").is_some()) else { continue };
                let target = doc.root.at(&["spec", "targetNamespace"]).and_then(Node::scalar_text);
                let namespace = target.or(namespace).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
                instances.push(Instance { file: &file.path, line: doc.line, namespace, spec: spec.clone() });
            }
        }
    }
    let mut out: Vec<Entry> = Vec::new();
    let mut synced = BTreeSet::new();
    for instance in &instances {
        for entry in instance_entries(repo, instance, patches, diagnostics) {
            // The same instance often stands twice (a FluxInstance and the values that make it).
            let path = entry.roots.iter().find_map(sync_path).unwrap_or_default();
            if synced.insert(path) {
                out.push(entry);
            }
        }
    }
    out
}

/// The entries one instance makes: one, or one per set of variables its path takes.
fn instance_entries(repo: &Repository, instance: &Instance<'_>, patches: &BTreeSet<String>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Entry> {
    let sync = instance.spec.get("sync").expect("an instance has a sync");
    let text = |k: &str| sync.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
    let kind = text("kind").and_then(|k| Kind::parse(&k)).filter(|k| matches!(k, Kind::GitRepository | Kind::OCIRepository | Kind::Bucket)).unwrap_or(Kind::GitRepository);
    let name = text("name").unwrap_or_else(|| instance.namespace.clone());
    let (raw_path, raw_url) = (text("path").unwrap_or_default(), text("url"));
    // A `${VAR}` in the path or URL takes the values of the Kustomizations that apply this file.
    let variants: Vec<(String, Option<String>)> = if raw_path.contains("${") || raw_url.as_deref().is_some_and(|u| u.contains("${")) {
        let mut seen = BTreeSet::new();
        applying_variables(repo, instance.file, patches)
            .into_iter()
            .map(|vars| (vars.substitute(&raw_path).text, raw_url.as_deref().map(|u| vars.substitute(u).text)))
            .filter(|(p, u)| !p.contains("${") && u.as_deref().is_none_or(|u| !u.contains("${")))
            .filter(|v| seen.insert(v.clone()))
            .collect()
    } else {
        vec![(raw_path.clone(), raw_url.clone())]
    };
    if variants.is_empty() {
        diagnostics.push(dead(instance.file, instance.line, &format!("its sync path {raw_path:?} has a variable that no Kustomization applying {} defines", instance.file)));
        return Vec::new();
    }
    let patches: Vec<Patch> = instance
        .spec
        .at(&["kustomize", "patches"])
        .map(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Patch::parse(p.get("patch")?.as_str()?, p.get("target").map(Target::read)).ok())
        .collect();
    let mut out = Vec::new();
    for (path, url) in variants {
        let Some(mut folder) = normalize(&path) else {
            diagnostics.push(dead(instance.file, instance.line, &format!("its sync path {path:?} leaves the repository")));
            continue;
        };
        let mut base = String::new();
        let mut notes = Vec::new();
        if !repo.is_dir(&folder) && kind != Kind::GitRepository {
            // An artifact may be pushed from a folder of the repository: its root is the one
            // folder under which the path exists.
            let under: Vec<&String> = repo.dirs.keys().filter(|d| !d.is_empty() && repo.is_dir(&join(d, &folder))).collect();
            if let [one] = under.as_slice() {
                base = (*one).clone();
                folder = join(&base, &folder);
                notes.push(Diagnostic::info(
                    Code::ArtifactRoot,
                    instance.file,
                    sync.line,
                    format!("the {kind} artifact's root is taken to be ./{base}: its sync path {path:?} exists only below it"),
                ));
            }
        }
        if !repo.is_dir(&folder) {
            diagnostics.push(dead(instance.file, instance.line, &format!("its sync path {path:?} does not exist in the repository")));
            continue;
        }
        let mut entry = Entry::new(cluster_name(&folder, repo), instance.file.to_string(), EntryKind::FluxInstance);
        let mut root = synthetic_kustomization(&instance.namespace, &name, &path, kind, instance.file, sync.line);
        let mut source = synthetic_source(kind, &instance.namespace, &name, url.as_deref(), text("ref").as_deref(), instance.file, sync.line);
        for r in [&mut root, &mut source] {
            for p in &patches {
                if !p.selects(&r.manifest) {
                    continue;
                }
                if let Ok(Some(patched)) = p.apply(&r.manifest) {
                    r.manifest = Arc::new(patched);
                }
            }
        }
        entry.implied.extend([resource_id(&root), resource_id(&source)]);
        entry.sources.insert(resource_id(&source), base);
        entry.urls.extend(url.as_deref().map(super::normalize_url));
        entry.roots = vec![root, source];
        entry.notes = notes;
        out.push(entry);
    }
    out
}

/// The postBuild variables of every Kustomization of the repository whose build holds `file`.
/// The repository's ConfigMaps and Secrets are indexed here, only when a sync path needs them.
fn applying_variables(repo: &Repository, file: &str, patches: &BTreeSet<String>) -> Vec<crate::load::substitute::Variables> {
    let index = &VariableIndex::of_repository(repo);
    let mut out = Vec::new();
    for source in repo.files.values().filter(|f| !patches.contains(&f.path)) {
        for doc in source.documents.iter().flatten() {
            if model::flux_kind(&doc.root) != Some(Kind::Kustomization) {
                continue;
            }
            let ns = model::metadata_namespace(&doc.root).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
            let Some(object) = model::read_object(&doc.root, &ns, &source.path, doc.line) else { continue };
            let Some(spec) = object.kustomization() else { continue };
            let Some(post_build) = &spec.post_build else { continue };
            let Some(path) = spec.path.as_ref().and_then(|p| normalize(&p.value)) else { continue };
            if !repo.is_dir(&path) || path.contains("${") {
                continue;
            }
            let components = spec.components.iter().filter_map(|c| normalize(&join(&path, c))).collect();
            if kustomize::files(repo, &path, &Overlay { components, ..Overlay::default() }).contains(file) {
                out.push(variables::for_kustomization(post_build, &object, Scope::Repository(index), &mut Vec::new(), &mut variables::Missing::default()));
            }
        }
    }
    out
}

/// Whether a HelmRelease may create a FluxInstance: its inline values have `instance`, or its
/// chart is flux-instance (whose values may come through `valuesFrom`). Reading every
/// release's values would cost a large repository dearly.
fn may_make_an_instance(release: &Node) -> bool {
    let chart = release
        .at(&["spec", "chart", "spec", "chart"])
        .or_else(|| release.at(&["spec", "chartRef", "name"]))
        .and_then(Node::as_str)
        .unwrap_or("");
    release.at(&["spec", "values", "instance"]).is_some() || chart.contains("flux-instance")
}

/// A HelmRelease's values as Helm merges them: each `valuesFrom` in order (a ConfigMap
/// found in the repository or made by a `configMapGenerator` of the release's folder),
/// then `spec.values`.
fn release_values(repo: &Repository, file: &str, release: &Node) -> Option<Node> {
    let mut merged = serde_json::Value::Object(serde_json::Map::new());
    let mut any = false;
    for from in release.at(&["spec", "valuesFrom"]).map(Node::as_seq).unwrap_or_default() {
        if from.get("kind").and_then(Node::as_str) != Some("ConfigMap") {
            continue;
        }
        let Some(name) = from.get("name").and_then(Node::scalar_text) else { continue };
        let key = from.get("valuesKey").and_then(Node::scalar_text).unwrap_or_else(|| "values.yaml".into());
        let Some(text) = config_map_entry(repo, parent_dir(file), &name, &key) else { continue };
        if let Some(Ok(doc)) = crate::load::yaml::parse_documents(&text).into_iter().next() {
            merge_json(&mut merged, doc.root.to_json());
            any = true;
        }
    }
    if let Some(values) = release.at(&["spec", "values"]) {
        merge_json(&mut merged, values.to_json());
        any = true;
    }
    any.then(|| Node::from_json(&merged, None, release.line))
}

/// Helm's merge of values: maps merge key by key, anything else replaces.
fn merge_json(into: &mut serde_json::Value, from: serde_json::Value) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge_json(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The text of key `key` of ConfigMap `name`: made by a configMapGenerator of a
/// kustomization file in `dir` or above it, or written as a ConfigMap in the repository.
fn config_map_entry(repo: &Repository, dir: &str, name: &str, key: &str) -> Option<String> {
    let mut folder = Some(dir);
    while let Some(d) = folder {
        if kustomize::kustomization_file(repo, d).is_some() {
            let build = kustomize::build(repo, d, &Overlay::default());
            let made = build.resources.iter().find(|r| model::type_of(&r.manifest) == ("v1", "ConfigMap") && r.was_named(name));
            if let Some(text) = made.and_then(|r| r.manifest.at(&["data", key])).and_then(Node::scalar_text) {
                return Some(text);
            }
        }
        folder = (!d.is_empty()).then(|| parent_dir(d));
    }
    repo.files.values().flat_map(|f| f.documents.iter().flatten()).find_map(|doc| {
        (model::type_of(&doc.root) == ("v1", "ConfigMap") && model::metadata_name(&doc.root).as_deref() == Some(name))
            .then(|| doc.root.at(&["data", key]).and_then(Node::scalar_text))
            .flatten()
    })
}

/// The Kustomization that bootstrap or the operator creates.
fn synthetic_kustomization(namespace: &str, name: &str, path: &str, source_kind: Kind, file: &str, line: u32) -> Resource {
    let manifest = serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"interval": "10m0s", "path": path, "prune": true, "sourceRef": {"kind": source_kind.as_str(), "name": name}},
    });
    Resource::new(Arc::from(file), line, Arc::new(Node::from_json(&manifest, None, line)), false)
}

/// The source that bootstrap or the operator creates.
fn synthetic_source(kind: Kind, namespace: &str, name: &str, url: Option<&str>, reference: Option<&str>, file: &str, line: u32) -> Resource {
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

fn resource_id(r: &Resource) -> ObjectId {
    let kind = model::flux_kind(&r.manifest).expect("a synthetic Flux object");
    let ns = model::metadata_namespace(&r.manifest).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
    ObjectId::new(kind, ns, model::metadata_name(&r.manifest).unwrap_or_default())
}

/// Every Flux document of a file, as a root resource.
fn flux_documents(repo: &Repository, path: &str) -> Vec<Resource> {
    let Some(file) = repo.files.get(path) else { return Vec::new() };
    let shared: Arc<str> = Arc::from(path);
    file.documents
        .iter()
        .flatten()
        .filter(|d| model::flux_kind(&d.root).is_some())
        .map(|d| Resource::new(shared.clone(), d.line, Arc::clone(&d.root), is_sops(&d.root)))
        .collect()
}

/// Kustomizations that no other Kustomization's build includes, grouped by folder. Those
/// whose source is known to be another repository are never roots.
fn unapplied_entries(repo: &Repository, patches: &BTreeSet<String>, urls: &BTreeSet<String>, entries: &[Entry]) -> Vec<Entry> {
    // An entry point's own documents are its roots, not guesses.
    let entry_roots: BTreeSet<(&str, u32)> = entries.iter().flat_map(|e| e.roots.iter().map(|r| (&*r.file, r.line))).collect();
    let documents: Vec<(&str, u32, &Arc<Node>, Kind)> = repo
        .files
        .values()
        .filter(|f| !patches.contains(&f.path))
        .flat_map(|f| f.documents.iter().flatten().map(move |d| (f.path.as_str(), d.line, &d.root)))
        .filter(|(f, l, _)| !entry_roots.contains(&(*f, *l)))
        .filter_map(|(f, l, n)| Some((f, l, n, model::flux_kind(n)?)))
        .collect();
    // GitRepositories known to be another repository, by name.
    let foreign: BTreeSet<(String, String)> = documents
        .iter()
        .filter(|d| d.3 == Kind::GitRepository && !urls.is_empty())
        .filter(|d| d.2.at(&["spec", "url"]).and_then(Node::as_str).is_some_and(|u| !urls.contains(&normalize_url(u))))
        .filter_map(|d| Some((model::metadata_namespace(d.2).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into()), model::metadata_name(d.2)?)))
        .collect();
    // What each Kustomization builds from. Those whose path holds their own file (flux-system)
    // are followed one by one, so that a file they alone include is not "applied by another".
    let mut shared_paths = Vec::new();
    let mut self_applying = Vec::new();
    let reads_foreign = |node: &Node| {
        let ns = node.at(&["spec", "sourceRef", "namespace"]).and_then(Node::scalar_text).or_else(|| model::metadata_namespace(node)).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
        let name = node.at(&["spec", "sourceRef", "name"]).and_then(Node::scalar_text).unwrap_or_default();
        foreign.contains(&(ns, name))
    };
    for &(file, line, node, kind) in &documents {
        if kind != Kind::Kustomization {
            continue;
        }
        let Some(path) = node.at(&["spec", "path"]).and_then(Node::as_str).map_or(Some(String::new()), normalize) else { continue };
        // Paths into OCI artifacts, buckets, generated artifacts and other repositories are
        // not this tree; a document without sourceRef is a patch or a partial.
        let source_kind = node.at(&["spec", "sourceRef", "kind"]).and_then(Node::as_str);
        if source_kind != Some("GitRepository") || reads_foreign(node) || path.contains("${") || !repo.is_dir(&path) {
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
    // What the entry points' own Kustomizations (made up or written) apply.
    for e in entries {
        for root in e.roots.iter().filter(|r| model::flux_kind(&r.manifest) == Some(Kind::Kustomization)) {
            let source = root.manifest.at(&["spec", "sourceRef", "name"]).and_then(Node::scalar_text).unwrap_or_default();
            let base = e.sources.iter().find(|(id, _)| id.name == source).map_or("", |(_, b)| b.as_str());
            if let Some(path) = sync_path(root).map(|p| join(base, &p).trim_end_matches('/').to_string()).filter(|p| repo.is_dir(p)) {
                shared_paths.push((path, Vec::new()));
            }
        }
    }
    let applied = kustomize::reachable_files(repo, &shared_paths);
    let mut applied_by_self: BTreeMap<String, Vec<(&str, u32)>> = BTreeMap::new();
    for (who, path, components) in &self_applying {
        for f in kustomize::files(repo, path, &Overlay { components: components.clone(), ..Overlay::default() }) {
            applied_by_self.entry(f).or_default().push(*who);
        }
    }
    let applied_by_other = |file: &str, line: u32| {
        applied.contains(file) || applied_by_self.get(file).is_some_and(|s| s.iter().any(|&k| k != (file, line)))
    };
    // A Kustomization of another repository is never a root of this one.
    let root_files: BTreeSet<&str> = documents
        .iter()
        .filter(|&&(f, l, n, k)| k == Kind::Kustomization && !reads_foreign(n) && !applied_by_other(f, l))
        .map(|&(f, ..)| f)
        .collect();
    let mut groups: BTreeMap<&str, Vec<Resource>> = BTreeMap::new();
    for &(file, line, node, kind) in &documents {
        if root_files.contains(file) && !applied_by_other(file, line) && !(kind == Kind::Kustomization && reads_foreign(node)) {
            groups.entry(parent_dir(file)).or_default().push(Resource::new(Arc::from(file), line, Arc::clone(node), false));
        }
    }
    groups
        .into_iter()
        .map(|(dir, roots)| {
            let mut entry = Entry::new(cluster_name(dir, repo), dir.to_string(), EntryKind::Unapplied);
            // Applied by hand with `kubectl apply -k`: the folder's kustomization applies the
            // rest of what it lists too (the roots' source, the cluster's settings).
            let unit = kustomize::kustomization_file(repo, dir).map(|_| kustomize::build(repo, dir, &Overlay::default()));
            match unit.filter(|b| roots.iter().all(|r| b.files.contains(&*r.file))) {
                Some(build) => {
                    for r in build.resources {
                        if model::flux_kind(&r.manifest).is_some() { entry.roots.push(r) } else { entry.applied.push(r) }
                    }
                }
                None => entry.roots = roots,
            }
            add_root_sources(&mut entry);
            entry
        })
        .collect()
}

/// What a cluster lacks that only something applied by hand could give it: sources that
/// its objects read, and ConfigMaps and Secrets that its postBuilds substitute from.
pub fn needs(cluster: &Cluster) -> BTreeSet<ResourceId> {
    let mut out = BTreeSet::new();
    let provided = provides(cluster);
    for o in cluster.objects.values() {
        for (kind, r) in o.source_refs() {
            let id = r.resolve(kind, &o.id.namespace);
            if !cluster.objects.contains_key(&id) && kind != Kind::ExternalArtifact {
                out.insert(ResourceId::of(&id));
            }
        }
        let Some(post_build) = o.kustomization().and_then(|k| k.post_build.as_ref()) else { continue };
        for from in &post_build.substitute_from {
            let id = ResourceId::new("", from.kind.clone(), o.id.namespace.clone(), from.name.clone());
            if !provided.contains(&id) {
                out.insert(id);
            }
        }
    }
    out
}

/// What a cluster holds: its Flux objects and every ConfigMap and Secret its builds apply.
fn provides(cluster: &Cluster) -> BTreeSet<ResourceId> {
    let objects = cluster.objects.keys().map(ResourceId::of);
    let applied = cluster.inventory.iter().flat_map(|(by, items)| {
        items.iter().filter(|a| a.kind == "ConfigMap" || a.kind == "Secret").map(move |a| {
            let group = a.api_version.rsplit_once('/').map_or("", |(g, _)| g);
            ResourceId::new(group, a.kind.clone(), a.namespace.clone().unwrap_or_else(|| by.namespace.clone()), a.name.clone())
        })
    });
    objects.chain(applied).collect()
}

/// Whether `group` (Kustomizations nothing applies, reading an entry's own source) was
/// applied by hand into that entry's cluster: it gives the cluster something it lacks
/// (`needs`) — a source its objects read, or the ConfigMap its variables come from. A dead
/// copy of an app (commented out of its parent) gives nothing the live cluster reads.
pub fn applied_by_hand(group: &Entry, group_cluster: &Cluster, needs: &BTreeSet<ResourceId>) -> bool {
    let mut gives = provides(group_cluster);
    gives.extend(group.applied.iter().filter_map(|r| r.manifest.resource_id(BOOTSTRAP_NAMESPACE)));
    needs.iter().any(|n| gives.contains(n))
}

/// A cheap first look before resolving a group: whether any file its roots could apply
/// holds an object of a kind and name the cluster needs (namespaces are left to resolution,
/// kustomize may change them).
pub fn could_give(repo: &Repository, group: &Entry, needs: &BTreeSet<ResourceId>) -> bool {
    let wanted: BTreeSet<(&str, &str)> = needs.iter().map(|id| (id.kind.as_str(), id.name.as_str())).collect();
    let paths: Vec<(String, Vec<String>)> = group.roots.iter().filter_map(sync_path).filter(|p| repo.is_dir(p)).map(|p| (p, Vec::new())).collect();
    let mut files = kustomize::reachable_files(repo, &paths);
    files.extend(group.roots.iter().chain(&group.applied).map(|r| r.file.to_string()));
    files.iter().filter_map(|f| repo.files.get(f)).flat_map(|f| f.documents.iter().flatten()).any(|d| {
        d.root.name().is_some_and(|n| wanted.contains(&(d.root.kind(), n)))
    })
}

/// Whether `group`'s Kustomizations read `entry`'s own source, by name or by URL.
pub fn shares_source(entry: &Entry, group: &Entry) -> bool {
    group.sources.keys().any(|s| entry.sources.contains_key(s)) || group.urls.iter().any(|u| entry.urls.contains(u))
}

/// Joins a group applied by hand to `entry`, saying so.
pub fn adjoin(entry: &mut Entry, group: &Entry) {
    entry.roots.extend(group.roots.iter().cloned());
    entry.applied.extend(group.applied.iter().cloned());
    entry.notes.push(Diagnostic::info(
        Code::HandApplied,
        &group.path,
        group.roots.first().map_or(0, |r| r.line),
        format!(
            "{} is applied by nothing in the repository, but reads {}'s own source and gives its cluster what it reads: it was applied by hand into that cluster, and its Kustomizations are roots there",
            group.path, entry.path
        ),
    ));
}

/// A flux-instance HelmRelease that nothing applies, beside other entry points, is left
/// over: helm-controller never sees it, so it creates no instance.
pub fn unreferenced_release(entry: &Entry, repo: &Repository, clusters: &[Cluster]) -> bool {
    entry.kind == EntryKind::FluxInstance
        && repo.files.get(&entry.path).is_some_and(|f| f.documents.iter().flatten().any(|d| model::flux_kind(&d.root) == Some(Kind::HelmRelease)))
        && !clusters.iter().any(|c| c.files.contains(&entry.path))
}

/// Whether a bootstrap or operator entry's cluster reconciles anything of this repository
/// beyond its roots; one that does not, beside a live one, is a scaffold.
pub fn reconciles_nothing(entry: &Entry, cluster: &Cluster) -> bool {
    let root_ids: BTreeSet<ObjectId> = entry.roots.iter().filter_map(|r| {
        let kind = model::flux_kind(&r.manifest)?;
        let ns = model::metadata_namespace(&r.manifest).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
        Some(ObjectId::new(kind, ns, model::metadata_name(&r.manifest)?))
    }).collect();
    !cluster.objects.values().any(|o| {
        !root_ids.contains(&o.id) && !cluster.external.contains_key(&o.id) && matches!(o.id.kind, Kind::Kustomization | Kind::HelmRelease)
    })
}

/// The diagnostic for an entry dropped after resolving.
pub fn dead_entry(entry: &Entry, why: &str) -> Diagnostic {
    dead(&entry.path, entry.roots.first().map_or(0, |r| r.line), why)
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

    fn discover_in(files: &[(&str, &str)]) -> Discovery {
        let repo = Repository::from_files(Path::new("/r"), files.iter().copied());
        discover(&repo, &patch_files(&repo))
    }

    #[test]
    fn one_flux_instance_written_twice_is_one_entry() {
        let instance = "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n  namespace: flux-system\nspec:\n  sync:\n    kind: GitRepository\n    path: kubernetes/flux/cluster\n";
        let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: flux-instance\nspec:\n  values:\n    instance:\n      sync:\n        path: ./kubernetes/flux/cluster\n";
        let found = discover_in(&[("a/instance.yaml", instance), ("b/release.yaml", release), ("kubernetes/flux/cluster/ks.yaml", "")]);
        assert_eq!(found.entries.len(), 1, "{:?}", found.entries.iter().map(|e| &e.path).collect::<Vec<_>>());
        assert_eq!(found.entries[0].kind, EntryKind::FluxInstance);
    }

    #[test]
    fn the_operator_names_its_source_and_kustomization_after_sync_name() {
        let instance = "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n  namespace: flux-system\nspec:\n  sync:\n    kind: OCIRepository\n    name: cluster-repository\n    url: oci://ghcr.io/me/repo\n    path: clusters/prod\n";
        let found = discover_in(&[("clusters/prod/flux.yaml", instance)]);
        let ids: BTreeSet<String> = found.entries[0].implied.iter().map(ToString::to_string).collect();
        assert_eq!(ids, BTreeSet::from(["Kustomization/flux-system/cluster-repository".to_string(), "OCIRepository/flux-system/cluster-repository".to_string()]));
    }

    #[test]
    fn a_template_gotk_sync_is_not_an_entry() {
        let sync = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  url: ${REPOSITORY}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  path: ./cluster\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
        let found = discover_in(&[("tmpl/gotk-sync.yaml", sync), ("cluster/a.yaml", "")]);
        assert!(found.entries.is_empty());
        assert_eq!(found.diagnostics[0].code, Code::DeadEntry);
    }
}
