//! Flux Operator FluxInstances → candidates, wherever the instance is written.
//!
//! The instance's `spec.sync` is read from: a FluxInstance object; the values of a
//! HelmRelease of the flux-instance chart (inline, or through `valuesFrom` a ConfigMap that
//! kustomize generates from a values file); either of those inside a ResourceSet's
//! `spec.resources` (flux-operator applies them as written, `BuildResourceSet`); and, as
//! weaker evidence, the values a bootstrap tool installs the chart with: a helmfile release
//! of flux-instance and its values files, or an install values file whose top level is
//! `instance.sync`.
//!
//! The operator creates the sync source and Kustomization in the instance's namespace,
//! named after `sync.name`, else that namespace (flux-operator's `fluxinstance_controller.go`:
//! `syncName := obj.GetNamespace()`), with the kind `sync.kind` says, and applies the
//! instance's `kustomize.patches` to them. The instance's namespace is the one it has once
//! applied: the chart renders it in the release's namespace (`spec.targetNamespace`, else the
//! HelmRelease's), and an object without a namespace takes the one its applying
//! Kustomization gives it (`targetNamespace`, or kustomize's `namespace:`). A `${VAR}` in
//! the sync path takes the variables of the Kustomizations that apply the instance's file.

use std::collections::BTreeSet;
use std::sync::Arc;

use rayon::prelude::*;

use super::{Candidate, Catalog, Doc};
use crate::cluster::BOOTSTRAP_NAMESPACE;
use crate::cluster::entry::{self, Entry, EntryKind, cluster_name, resource_id};
use crate::cluster::variables::{self, Scope, VariableIndex};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::{self, Overlay, join, normalize};
use crate::load::patch::{Patch, Target};
use crate::load::substitute::Variables;
use crate::load::yaml::Document;
use crate::load::{Manifest, Node, SourceFile, parent_dir};
use crate::model::{self, Kind, Identity};

/// One `FluxInstance` sync, wherever it was written.
struct Instance<'a> {
    file: &'a str,
    line: u32,
    /// The namespaces it lands in (several when several Kustomizations apply it).
    namespaces: Vec<String>,
    /// `spec` of the FluxInstance: `sync`, `kustomize.patches`.
    spec: Node,
    /// What it was found in.
    evidence: &'static str,
    /// Found only in what a bootstrap tool installs: weaker than an object in the tree.
    install: bool,
}

/// Every FluxInstance sync of the repository, with its verdict.
pub fn candidates(catalog: &Catalog<'_>) -> Vec<Candidate> {
    let mut instances = Vec::new();
    for doc in &catalog.documents {
        match doc.kind {
            Kind::HelmRelease => instances.extend(from_release(catalog, doc.file, doc.line, doc.node, None, "a flux-instance HelmRelease's values")),
            Kind::ResourceSet => {
                for item in doc.node.at(&["spec", "resources"]).map(Node::as_seq).unwrap_or_default() {
                    let holder = || written_or_landed(catalog, doc);
                    if item.flux_kind() == Some(Kind::HelmRelease) {
                        instances.extend(from_release(catalog, doc.file, item.line, item, Some(&holder), "a flux-instance HelmRelease in a ResourceSet"));
                    } else if is_instance(item) {
                        instances.extend(from_object(catalog, doc.file, item.line, item, Some(&holder), "a FluxInstance in a ResourceSet"));
                    }
                }
            }
            _ => {}
        }
    }
    // Every document of the repository is looked at once, on every core: most are neither.
    let found: Vec<(&SourceFile, &Document, Found)> = catalog
        .repo
        .files
        .par_iter()
        .flat_map_iter(|(_, file)| file.documents.iter().flatten().map(move |doc| (file, doc)))
        .filter_map(|(file, doc)| Some((file, doc, Found::of(&doc.root, catalog.patches.contains(&file.path))?)))
        .collect();
    for (file, doc, found) in &found {
        match found.object {
            Some(Holder::Instance) => instances.extend(from_object(catalog, &file.path, doc.line, &doc.root, None, "a FluxInstance")),
            Some(Holder::Helmfile) => instances.extend(from_helmfile(catalog, &file.path, &doc.root)),
            None => {}
        }
    }
    let from_installs: BTreeSet<&str> = instances.iter().filter(|i| i.install).map(|i| i.file).collect();
    for (file, doc, found) in &found {
        if found.install_values && !from_installs.contains(file.path.as_str()) {
            let spec = doc.root.get("instance").expect("checked").clone();
            instances.push(Instance { file: &file.path, line: doc.line, namespaces: vec![BOOTSTRAP_NAMESPACE.into()], spec, evidence: "an install values file", install: true });
        }
    }
    // In-tree evidence first: it is what the cluster applies.
    instances.sort_by_key(|i| i.install);
    let mut out = Vec::new();
    for instance in &instances {
        for namespace in &instance.namespaces {
            out.extend(instance_candidates(catalog, instance, namespace));
        }
    }
    out
}

/// What a document outside the Flux kinds may hold of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    /// A FluxInstance, or a helmfile's releases (neither in a file kustomize uses as a patch).
    object: Option<Holder>,
    /// `instance.sync` at the top of a document without a kind: an install values file.
    install_values: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Instance,
    Helmfile,
}

impl Found {
    fn of(root: &Node, in_patch_file: bool) -> Option<Found> {
        let kindless = root.get("kind").is_none();
        let object = if in_patch_file {
            None
        } else if is_instance(root) {
            Some(Holder::Instance)
        } else if kindless && root.get("releases").is_some() {
            Some(Holder::Helmfile)
        } else {
            None
        };
        let install_values = kindless && root.at(&["instance", "sync"]).is_some();
        (object.is_some() || install_values).then_some(Found { object, install_values })
    }
}

fn is_instance(node: &Node) -> bool {
    node.kind() == "FluxInstance" && node.api_version().starts_with("fluxcd.controlplane.io/") && node.at(&["spec", "sync"]).is_some()
}

/// A FluxInstance object: it lands in its own namespace, or its applier's.
fn from_object<'a>(catalog: &Catalog<'_>, file: &'a str, line: u32, node: &Node, holder: Option<&dyn Fn() -> Vec<String>>, evidence: &'static str) -> Option<Instance<'a>> {
    let spec = node.get("spec")?.clone();
    let namespaces = match node.namespace() {
        Some(ns) => vec![ns.to_string()],
        None => holder.map_or_else(|| landed(catalog, file, line), |h| h()),
    };
    Some(Instance { file, line, namespaces, spec, evidence, install: false })
}

/// A flux-instance HelmRelease: the chart renders the instance in the release's namespace.
fn from_release<'a>(catalog: &Catalog<'_>, file: &'a str, line: u32, release: &Node, holder: Option<&dyn Fn() -> Vec<String>>, evidence: &'static str) -> Option<Instance<'a>> {
    if !may_make_an_instance(release) {
        return None;
    }
    let values = release_values(catalog, file, release)?;
    let spec = values.get("instance").filter(|i| i.get("sync").is_some())?.clone();
    let target = release.at(&["spec", "targetNamespace"]).and_then(Node::scalar_str).filter(|s| !s.is_empty());
    let namespaces = match target.or(release.namespace()) {
        Some(ns) => vec![ns.to_string()],
        None => holder.map_or_else(|| landed(catalog, file, line), |h| h()),
    };
    Some(Instance { file, line, namespaces, spec, evidence, install: false })
}

/// A helmfile's flux-instance release: its namespace, and the `instance` of its values
/// (files beside the helmfile, or inline). Templated values (`.gotmpl`) are not read.
fn from_helmfile<'a>(catalog: &Catalog<'_>, file: &'a str, helmfile: &Node) -> Vec<Instance<'a>> {
    let dir = parent_dir(file);
    let mut out = Vec::new();
    for release in helmfile.get("releases").map(Node::as_seq).unwrap_or_default() {
        let text = |k: &str| release.get(k).and_then(Node::scalar_str).unwrap_or("");
        if !(text("chart").contains("flux-instance") || text("name") == "flux-instance") {
            continue;
        }
        let namespace = Some(text("namespace")).filter(|s| !s.is_empty() && !s.contains("{{")).unwrap_or(BOOTSTRAP_NAMESPACE).to_string();
        let mut merged = serde_json::Value::Object(serde_json::Map::new());
        for value in release.get("values").map(Node::as_seq).unwrap_or_default() {
            let node = match value.scalar_str() {
                Some(path) => normalize(&join(dir, path))
                    .and_then(|p| catalog.repo.files.get(&p))
                    .and_then(|f| f.documents.iter().flatten().next())
                    .map(|d| (*d.root).clone()),
                None => Some(value.clone()),
            };
            if let Some(node) = node.filter(Node::is_map) {
                merge_json(&mut merged, node.to_json());
            }
        }
        let values = Node::from_json(&merged, None, release.line);
        if let Some(spec) = values.get("instance").filter(|i| i.get("sync").is_some()) {
            out.push(Instance { file, line: release.line, namespaces: vec![namespace], spec: spec.clone(), evidence: "a helmfile release of flux-instance", install: true });
        }
    }
    out
}

/// The namespace a ResourceSet holding an instance is in: what it writes, or its applier's.
fn written_or_landed(catalog: &Catalog<'_>, doc: &Doc<'_>) -> Vec<String> {
    match doc.node.namespace() {
        Some(ns) => vec![ns.to_string()],
        None => landed(catalog, doc.file, doc.line),
    }
}

/// The namespaces the document at `file:line` lands in, through the Kustomizations that
/// apply its file (their `targetNamespace`, kustomize's `namespace:`); flux-system when
/// nothing applies it (applied by hand, or by bootstrap).
fn landed(catalog: &Catalog<'_>, file: &str, line: u32) -> Vec<String> {
    let mut out = Vec::new();
    for (doc, path) in catalog.applying(file) {
        let target = doc.node.at(&["spec", "targetNamespace"]).and_then(Node::scalar_str).filter(|s| !s.is_empty() && !s.contains("${"));
        let overlay = Overlay { namespace: target.map(str::to_string), components: doc.components(&path), ..Overlay::default() };
        let build = kustomize::build(catalog.repo, &path, &overlay);
        if let Some(r) = build.resources.iter().find(|r| &*r.file == file && r.line == line) {
            let ns = r.manifest.namespace().unwrap_or(doc.namespace()).to_string();
            if !out.contains(&ns) {
                out.push(ns);
            }
        }
    }
    if out.is_empty() {
        out.push(BOOTSTRAP_NAMESPACE.to_string());
    }
    out
}

/// The candidates one instance makes in one namespace: one, or one per set of variables its
/// path takes.
fn instance_candidates(catalog: &Catalog<'_>, instance: &Instance<'_>, namespace: &str) -> Vec<Candidate> {
    let repo = catalog.repo;
    let sync = instance.spec.get("sync").expect("an instance has a sync");
    let text = |k: &str| sync.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
    let kind = text("kind").and_then(|k| Kind::parse(&k)).filter(|k| matches!(k, Kind::GitRepository | Kind::OCIRepository | Kind::Bucket)).unwrap_or(Kind::GitRepository);
    let name = text("name").unwrap_or_else(|| namespace.to_string());
    let (raw_path, raw_url) = (text("path").unwrap_or_default(), text("url"));
    let shell = |path: &str| {
        let mut e = Entry::new(cluster_name(path, repo), instance.file.to_string(), if instance.install { EntryKind::InstallValues } else { EntryKind::FluxInstance });
        e.roots = vec![entry::synthetic_kustomization(namespace, &name, path, kind, instance.file, instance.line)];
        e
    };
    // A `${VAR}` in the path or URL takes the values of the Kustomizations that apply this file.
    let variants: Vec<(String, Option<String>)> = if raw_path.contains("${") || raw_url.as_deref().is_some_and(|u| u.contains("${")) {
        let mut seen = BTreeSet::new();
        applying_variables(catalog, instance.file)
            .into_iter()
            .map(|vars| (vars.substitute(&raw_path).text, raw_url.as_deref().map(|u| vars.substitute(u).text)))
            .filter(|(p, u)| !p.contains("${") && u.as_deref().is_none_or(|u| !u.contains("${")))
            .filter(|v| seen.insert(v.clone()))
            .collect()
    } else {
        vec![(raw_path.clone(), raw_url.clone())]
    };
    if variants.is_empty() {
        let why = format!("its sync path {raw_path:?} has a variable that no Kustomization applying {} defines", instance.file);
        return vec![Candidate::dead(shell(&raw_path), instance.evidence, why)];
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
            out.push(Candidate::dead(shell(&path), instance.evidence, format!("its sync path {path:?} leaves the repository")));
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
            out.push(Candidate::dead(shell(&path), instance.evidence, format!("its sync path {path:?} does not exist in the repository")));
            continue;
        }
        let mut entry = Entry::new(cluster_name(&folder, repo), instance.file.to_string(), if instance.install { EntryKind::InstallValues } else { EntryKind::FluxInstance });
        let mut root = entry::synthetic_kustomization(namespace, &name, &path, kind, instance.file, sync.line);
        let mut source = entry::synthetic_source(kind, namespace, &name, url.as_deref(), text("ref").as_deref(), instance.file, sync.line);
        for r in [&mut root, &mut source] {
            for p in &patches {
                if p.selects(&r.manifest) {
                    if let Ok(Some(patched)) = p.apply(&r.manifest) {
                        r.manifest = Arc::new(patched);
                    }
                }
            }
        }
        entry.implied.extend([resource_id(&root), resource_id(&source)]);
        entry.sources.insert(resource_id(&source), base);
        entry.urls.extend(url.as_deref().map(crate::cluster::normalize_url));
        entry.roots = vec![root, source];
        entry.notes = notes;
        out.push(Candidate::live(entry, instance.evidence));
    }
    out
}

/// The postBuild variables of every Kustomization of the repository whose build holds `file`.
/// The repository's ConfigMaps and Secrets are indexed here, only when a sync path needs them.
fn applying_variables(catalog: &Catalog<'_>, file: &str) -> Vec<Variables> {
    let index = &VariableIndex::of_repository(catalog.repo);
    let mut out = Vec::new();
    for (doc, _) in catalog.applying(file) {
        let ns = doc.namespace().to_string();
        let Some(object) = model::read_object(doc.node, &ns, doc.file, doc.line) else { continue };
        let Some(post_build) = object.kustomization().and_then(|k| k.post_build.as_ref()) else { continue };
        out.push(variables::for_kustomization(post_build, &object, false, Scope::Repository(index), &mut Vec::new(), &mut variables::Missing::default()));
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
fn release_values(catalog: &Catalog<'_>, file: &str, release: &Node) -> Option<Node> {
    let mut merged = serde_json::Value::Object(serde_json::Map::new());
    let mut any = false;
    for from in release.at(&["spec", "valuesFrom"]).map(Node::as_seq).unwrap_or_default() {
        if from.get("kind").and_then(Node::as_str) != Some("ConfigMap") {
            continue;
        }
        let Some(name) = from.get("name").and_then(Node::scalar_text) else { continue };
        let key = from.get("valuesKey").and_then(Node::scalar_text).unwrap_or_else(|| "values.yaml".into());
        let Some(text) = config_map_entry(catalog, parent_dir(file), &name, &key) else { continue };
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
fn config_map_entry(catalog: &Catalog<'_>, dir: &str, name: &str, key: &str) -> Option<String> {
    let repo = catalog.repo;
    let mut folder = Some(dir);
    while let Some(d) = folder {
        if kustomize::kustomization_file(repo, d).is_some() {
            let build = kustomize::build(repo, d, &Overlay::default());
            let made = build.resources.iter().find(|r| r.manifest.api_version() == "v1" && r.manifest.kind() == "ConfigMap" && r.was_named(name));
            if let Some(text) = made.and_then(|r| r.manifest.at(&["data", key])).and_then(Node::scalar_text) {
                return Some(text);
            }
        }
        folder = (!d.is_empty()).then(|| parent_dir(d));
    }
    repo.files.values().flat_map(|f| f.documents.iter().flatten()).find_map(|doc| {
        (doc.root.api_version() == "v1" && doc.root.kind() == "ConfigMap" && doc.root.name() == Some(name))
            .then(|| doc.root.at(&["data", key]).and_then(Node::scalar_text))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Repository;
    use std::path::Path;

    fn found(files: &[(&str, &str)]) -> Vec<Candidate> {
        let repo = Repository::from_files(Path::new("/r"), files.iter().copied());
        let catalog = Catalog::new(&repo);
        candidates(&catalog)
    }

    #[test]
    fn the_operator_names_its_source_and_kustomization_after_sync_name() {
        let instance = "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n  namespace: flux-system\nspec:\n  sync:\n    kind: OCIRepository\n    name: cluster-repository\n    url: oci://ghcr.io/me/repo\n    path: clusters/prod\n";
        let found = found(&[("clusters/prod/flux.yaml", instance)]);
        let ids: BTreeSet<String> = found[0].entry.implied.iter().map(ToString::to_string).collect();
        assert_eq!(ids, BTreeSet::from(["Kustomization/flux-system/cluster-repository".to_string(), "OCIRepository/flux-system/cluster-repository".to_string()]));
    }

    #[test]
    fn an_instance_without_namespace_lands_where_its_applier_puts_it() {
        let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: flux-instance\nspec:\n  values:\n    instance:\n      sync:\n        kind: GitRepository\n        path: clusters/main\n";
        let applier = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-instance\n  namespace: flux-system\nspec:\n  path: ./apps/gitops/app\n  targetNamespace: gitops\n  sourceRef:\n    kind: GitRepository\n    name: gitops\n";
        let found = found(&[("apps/gitops/app/release.yaml", release), ("apps/gitops/ks.yaml", applier), ("clusters/main/a.yaml", "")]);
        let ids: BTreeSet<String> = found[0].entry.implied.iter().map(ToString::to_string).collect();
        assert_eq!(ids, BTreeSet::from(["Kustomization/gitops/gitops".to_string(), "GitRepository/gitops/gitops".to_string()]));
    }
}
