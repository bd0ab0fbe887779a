//! Cluster: the loaded [`Repository`] → one [`Cluster`] per entry point, each the set of
//! Flux objects it reconciles and which Kustomization applies each one.
//!
//! This is where Flux is emulated. Entry points are found as Flux creates them
//! ([`entry`]); from each, every Kustomization's `spec.path` is built (kustomize
//! resolution with the Kustomization's own patches, components and target namespace),
//! its output substituted with its `postBuild` variables, and every Flux object in it is
//! read — so a child is always read after its parent's patches and substitution. The
//! same names in two clusters are two objects: each cluster is resolved on its own.

pub mod entry;
mod variables;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::load::kustomize::{self, Overlay, Resource, normalize};
use crate::load::patch::{Patch, Target};
use crate::load::{Node, Repository};
use crate::model::{self, FluxObject, Kind, ObjectId, Spec};
pub use entry::Entry;
use variables::VariableIndex;

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

/// Where a Kustomization's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    /// This repository: the path is resolved here.
    Local,
    /// Another repository, an OCI artifact or a bucket: not resolved, the node says so.
    External(String),
}

/// One cluster: what one entry point reconciles.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub name: String,
    /// The entry's file or folder, relative to the repository root.
    pub entry: String,
    pub objects: BTreeMap<ObjectId, FluxObject>,
    /// The Kustomizations that apply each object, in the order they were found.
    pub parents: BTreeMap<ObjectId, Vec<ObjectId>>,
    /// What each Kustomization's build holds, Flux objects and all.
    pub inventory: BTreeMap<ObjectId, Vec<Applied>>,
    /// Kustomizations whose source is not this repository.
    pub external: BTreeMap<ObjectId, String>,
    /// Objects applied by several Kustomizations that do not agree on their definition.
    pub conflicting: BTreeSet<ObjectId>,
    /// Kustomizations whose build holds their own manifest (flux-system does).
    pub self_applied: BTreeSet<ObjectId>,
    /// Every file some build of this cluster read.
    pub files: BTreeSet<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Cluster {
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
    let variables = VariableIndex::new(repo);
    // Files kustomization files use as patches: their documents are not resources.
    let patches = entry::patch_files(repo);
    let entries = match entry {
        Some(path) => vec![entry::given(repo, path)?],
        None => entry::discover(repo, &patches),
    };
    let mut clusters: Vec<Cluster> = entries
        .iter()
        .map(|e| Resolver::new(repo, &variables, e).run())
        .collect();
    let mut entries = entries;
    if entry.is_none() {
        let keep = entry::real_entries(&entries, &clusters);
        let mut flags = keep.iter();
        clusters.retain(|_| *flags.next().expect("one flag per cluster"));
        let mut flags = keep.iter();
        entries.retain(|_| *flags.next().expect("one flag per entry"));
    }
    let diagnostics = outside_diagnostics(repo, &clusters, &entries, &patches);
    Ok(Resolution { clusters, diagnostics })
}

struct Pending {
    resource: Resource,
    parent: Option<ObjectId>,
    /// Where an object without namespace lands: the applying Kustomization's namespace.
    default_namespace: String,
}

/// Where a Kustomization's `spec.path` lies.
enum Root {
    /// In this repository: the folder, or `None` when the path climbs out of it.
    Here(Option<String>),
    /// In another repository or artifact, described.
    Elsewhere(String),
    /// In an ExternalArtifact whose ArtifactGenerator is not known yet.
    NotYet,
}

/// What building one Kustomization's path gave.
struct Expansion {
    id: ObjectId,
    outcome: Outcome,
    diagnostics: Vec<Diagnostic>,
}

enum Outcome {
    /// Its source is an ExternalArtifact whose generator is not known yet.
    Deferred,
    External(String),
    Failed,
    Built { files: BTreeSet<String>, children: Vec<Resource>, inventory: Vec<Applied> },
}

struct Resolver<'a> {
    repo: &'a Repository,
    variables: &'a VariableIndex,
    cluster: Cluster,
    queue: VecDeque<Pending>,
    /// Kustomizations waiting for the ArtifactGenerator that defines their source.
    deferred: Vec<ObjectId>,
    implied: BTreeSet<ObjectId>,
    local_sources: BTreeSet<ObjectId>,
}

impl<'a> Resolver<'a> {
    fn new(repo: &'a Repository, variables: &'a VariableIndex, entry: &Entry) -> Resolver<'a> {
        let mut local_sources = BTreeSet::from([ObjectId::new(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system")]);
        let mut queue = VecDeque::new();
        for root in &entry.roots {
            let ns = model::metadata_namespace(&root.manifest).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
            // What the roots read is this repository: bootstrap applied them from it.
            if let Some(object) = model::read_object(&root.manifest, &ns, &root.file, root.line).filter(|o| o.kustomization().is_some()) {
                local_sources.extend(object.source_refs().into_iter().map(|(kind, r)| r.resolve(kind, &ns)));
            }
            queue.push_back(Pending { resource: root.clone(), parent: None, default_namespace: ns });
        }
        Resolver {
            repo,
            variables,
            cluster: Cluster { name: entry.name.clone(), entry: entry.path.clone(), ..Cluster::default() },
            queue,
            deferred: Vec::new(),
            implied: entry.implied.clone(),
            local_sources,
        }
    }

    fn run(mut self) -> Cluster {
        loop {
            // Level by level: read every object queued, then build every new Kustomization's
            // path at once (on every core; builds only read), then take their results in order.
            let mut to_expand = Vec::new();
            while let Some(p) = self.queue.pop_front() {
                to_expand.extend(self.visit(p));
            }
            if to_expand.is_empty() {
                // Kustomizations on an ExternalArtifact wait until every ArtifactGenerator of
                // the cluster is known; after a round without progress, the rest are external.
                let deferred = std::mem::take(&mut self.deferred);
                if deferred.is_empty() {
                    break;
                }
                let waiting = deferred.len();
                self.expand_all(&deferred, false);
                if self.queue.is_empty() && self.deferred.len() == waiting {
                    let rest = std::mem::take(&mut self.deferred);
                    self.expand_all(&rest, true);
                }
                continue;
            }
            self.expand_all(&to_expand, false);
        }
        self.add_implied_sources();
        for id in &self.implied {
            if let Some(o) = self.cluster.objects.get_mut(id) {
                o.implied = true;
            }
        }
        self.cluster.diagnostics.sort();
        self.cluster.diagnostics.dedup();
        self.cluster
    }

    /// Reads one queued manifest; gives the id of a Kustomization seen for the first time.
    fn visit(&mut self, p: Pending) -> Option<ObjectId> {
        let manifest = &p.resource.manifest;
        let ns = model::metadata_namespace(manifest).unwrap_or_else(|| p.default_namespace.clone());
        let object = model::read_object(manifest, &ns, &p.resource.file, p.resource.line)?;
        let id = object.id.clone();
        // A Kustomization applying its own file (flux-system) is normal, not its own parent.
        if p.parent.as_ref() == Some(&id) {
            self.cluster.self_applied.insert(id);
            return None;
        }
        if let Some(existing) = self.cluster.objects.get(&id) {
            if existing.manifest.to_json() != object.manifest.to_json() {
                self.cluster.conflicting.insert(id.clone());
            }
            if let Some(parent) = p.parent {
                let parents = self.cluster.parents.entry(id).or_default();
                if !parents.contains(&parent) {
                    parents.push(parent);
                }
            }
            return None;
        }
        self.cluster.parents.insert(id.clone(), p.parent.into_iter().collect());
        let is_kustomization = matches!(object.spec, Spec::Kustomization(_));
        self.cluster.objects.insert(id.clone(), object);
        is_kustomization.then_some(id)
    }

    fn expand_all(&mut self, ids: &[ObjectId], last_round: bool) {
        let expansions: Vec<Expansion> = if ids.len() > 1 {
            ids.par_iter().map(|id| self.expansion(id, last_round)).collect()
        } else {
            ids.iter().map(|id| self.expansion(id, last_round)).collect()
        };
        for e in expansions {
            self.apply(e);
        }
    }

    /// Takes an expansion's results into the cluster, in a fixed order.
    fn apply(&mut self, e: Expansion) {
        self.cluster.diagnostics.extend(e.diagnostics);
        match e.outcome {
            Outcome::Deferred => self.deferred.push(e.id),
            Outcome::External(source) => {
                self.cluster.external.insert(e.id, source);
            }
            Outcome::Failed => {}
            Outcome::Built { files, children, inventory } => {
                self.cluster.files.extend(files);
                for resource in children {
                    self.queue.push_back(Pending { resource, parent: Some(e.id.clone()), default_namespace: e.id.namespace.clone() });
                }
                self.cluster.inventory.insert(e.id, inventory);
            }
        }
    }

    /// Builds a Kustomization's path: what it applies, and what is wrong with it. Only reads.
    fn expansion(&self, id: &ObjectId, last_round: bool) -> Expansion {
        let object = &self.cluster.objects[id];
        let mut diagnostics = Vec::new();
        let outcome = self.build_for(object, last_round, &mut diagnostics);
        Expansion { id: id.clone(), outcome, diagnostics }
    }

    fn build_for(&self, object: &FluxObject, last_round: bool, diagnostics: &mut Vec<Diagnostic>) -> Outcome {
        let id = &object.id;
        let Some(spec) = object.kustomization() else { return Outcome::Failed };
        let path_text = spec.path.as_ref().map_or("", |p| p.value.as_str());
        let path_line = spec.path.as_ref().map_or(object.line, |p| p.line);
        let path = match self.source_root(object, path_text, last_round) {
            Root::Here(path) => path,
            Root::Elsewhere(external) => {
                diagnostics.push(
                    Diagnostic::info(
                        Code::ExternalSource,
                        &object.file,
                        object.line,
                        format!("{} reads {external}; its path {path_text:?} is not resolved here", object.id),
                    )
                    .on(id),
                );
                return Outcome::External(external);
            }
            Root::NotYet => return Outcome::Deferred,
        };
        let Some(path) = path else {
            diagnostics.push(
                Diagnostic::error(Code::PathNotFound, &object.file, path_line, format!("spec.path {path_text:?} points outside the repository"))
                    .on(id),
            );
            return Outcome::Failed;
        };
        if !self.repo.is_dir(&path) {
            let what = if self.repo.is_file(&path) { "is a file, not a directory" } else { "does not exist" };
            diagnostics.push(
                Diagnostic::error(Code::PathNotFound, &object.file, path_line, format!("spec.path {path_text:?}: {path} {what}"))
                    .on(id)
                    .with_hint(self.closest_dir(&path)),
            );
            return Outcome::Failed;
        }
        let overlay = self.overlay(object, &path);
        let build = kustomize::build(self.repo, &path, &overlay);
        diagnostics.extend(build.diagnostics.into_iter().map(|d| d.on(id)));
        let vars = spec.post_build.as_ref().map(|pb| self.variables.for_kustomization(pb, object, diagnostics));
        let mut undefined: BTreeMap<String, (Arc<str>, u32)> = BTreeMap::new();
        let mut sops_files = BTreeSet::new();
        let mut inventory = Vec::with_capacity(build.resources.len());
        let mut children = Vec::new();
        for mut resource in build.resources {
            if let Some(vars) = &vars {
                if resource.manifest.any_string_contains('$') && !substitution_disabled(&resource.manifest) {
                    let file = resource.file.clone();
                    Arc::make_mut(&mut resource.manifest).visit_strings_mut(&mut |s, line| {
                        if s.contains('$') {
                            let out = vars.substitute(s);
                            for name in out.undefined {
                                undefined.entry(name).or_insert_with(|| (file.clone(), line));
                            }
                            *s = out.text;
                        }
                    });
                }
            }
            if resource.sops && spec.decryption.is_none() {
                sops_files.insert((resource.file.clone(), resource.line));
            }
            inventory.push(applied(&resource));
            if model::flux_kind(&resource.manifest).is_some() {
                children.push(resource);
            }
        }
        for (name, (file, line)) in undefined {
            diagnostics.push(
                Diagnostic::warning(
                    Code::UndefinedVariable,
                    file.to_string(),
                    line,
                    format!("${{{name}}} is not defined by {id}'s postBuild (substitute or substituteFrom); Flux replaces it with an empty string"),
                )
                .on(id)
                .with_hint(format!("define {name} in a substituteFrom ConfigMap or Secret, or give a default: ${{{name}:=value}}")),
            );
        }
        let mut seen_files = BTreeSet::new();
        for (file, line) in sops_files {
            if seen_files.insert(file.clone()) {
                diagnostics.push(
                    Diagnostic::error(
                        Code::SopsWithoutDecryption,
                        file.to_string(),
                        line,
                        format!("{file} is SOPS-encrypted but {id} has no spec.decryption; Flux would apply the encrypted values and the apply fails"),
                    )
                    .on(id)
                    .with_hint("add spec.decryption: {provider: sops, secretRef: {name: ...}}"),
                );
            }
        }
        Outcome::Built { files: build.files, children, inventory }
    }

    /// Where a Kustomization's path lies: in this repository, elsewhere, or not known yet.
    fn source_root(&self, object: &FluxObject, path: &str, last_round: bool) -> Root {
        let Some((kind, reference)) = object.source_refs().into_iter().next() else {
            return Root::Here(normalize(path));
        };
        let source = reference.resolve(kind, &object.id.namespace);
        match kind {
            Kind::GitRepository if self.is_local(&source) => Root::Here(normalize(path)),
            Kind::ExternalArtifact => match self.artifact_path(&source, path) {
                Some(mapped) => Root::Here(mapped),
                None if last_round => Root::Elsewhere(format!("{source}, which no ArtifactGenerator of this cluster produces")),
                None => Root::NotYet,
            },
            _ => Root::Elsewhere(self.describe_source(&source)),
        }
    }

    fn is_local(&self, source: &ObjectId) -> bool {
        if self.local_sources.contains(source) {
            return true;
        }
        // Another GitRepository of the same URL (say another branch) is this repository too.
        let url = |id: &ObjectId| self.cluster.objects.get(id).and_then(source_url).map(|u| normalize_url(&u));
        match url(source) {
            Some(u) => self.local_sources.iter().any(|l| url(l).as_ref() == Some(&u)),
            None => false,
        }
    }

    fn describe_source(&self, source: &ObjectId) -> String {
        match self.cluster.objects.get(source).and_then(source_url) {
            Some(url) => format!("{source} ({url})"),
            None => source.to_string(),
        }
    }

    /// Maps a path inside an ExternalArtifact back to this repository through the
    /// `copy` rules of the ArtifactGenerator that produces it.
    fn artifact_path(&self, artifact: &ObjectId, path: &str) -> Option<Option<String>> {
        let art = self.cluster.artifact_spec(artifact)?;
        let Some(path) = normalize(path) else { return Some(None) };
        let mut best: Option<(usize, String)> = None;
        for copy in art.get("copy").map(Node::as_seq).unwrap_or_default() {
            let from = copy.get("from").and_then(Node::as_str).unwrap_or("");
            let to = copy.get("to").and_then(Node::as_str).unwrap_or("");
            let Some(repo_dir) = from.split_once('/').map(|(_, rest)| rest.trim_end_matches("**").trim_end_matches('/')) else { continue };
            let art_dir = to.strip_prefix("@artifact").unwrap_or(to).trim_matches('/');
            let rest = if art_dir.is_empty() {
                Some(path.as_str())
            } else if path == art_dir {
                Some("")
            } else {
                path.strip_prefix(&format!("{art_dir}/"))
            };
            if let Some(rest) = rest {
                if best.as_ref().is_none_or(|(len, _)| art_dir.len() > *len) {
                    best = Some((art_dir.len(), kustomize::join(repo_dir, rest).trim_end_matches('/').to_string()));
                }
            }
        }
        Some(best.map(|(_, p)| p))
    }

    fn overlay(&self, object: &FluxObject, path: &str) -> Overlay {
        let spec = object.kustomization().expect("a Kustomization");
        let patches = object
            .manifest
            .at(&["spec", "patches"])
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                let target = p.get("target").map(Target::read);
                Patch::parse(p.get("patch")?.as_str()?, target).ok()
            })
            .collect();
        Overlay {
            namespace: spec.target_namespace.clone(),
            patches,
            components: spec.components.iter().filter_map(|c| normalize(&kustomize::join(path, c))).collect(),
            name_prefix: spec.name_prefix.clone(),
            name_suffix: spec.name_suffix.clone(),
        }
    }

    /// A hint for a path that does not exist: the nearest existing folder above it.
    fn closest_dir(&self, path: &str) -> String {
        let mut dir = path;
        while !dir.is_empty() && !self.repo.is_dir(dir) {
            dir = crate::load::parent_dir(dir);
        }
        let shown = if dir.is_empty() { "the repository root".to_string() } else { format!("./{dir}") };
        format!("the closest existing folder is {shown}; spec.path is relative to the source's root, not to this file")
    }

    /// `flux bootstrap` creates the flux-system GitRepository; when the repository does not
    /// hold it but something reads from it, it is there all the same.
    fn add_implied_sources(&mut self) {
        let bootstrap = ObjectId::new(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system");
        if self.cluster.objects.contains_key(&bootstrap) {
            return;
        }
        let used = self.cluster.objects.values().any(|o| {
            o.source_refs().iter().any(|(k, r)| r.resolve(*k, &o.id.namespace) == bootstrap)
        });
        if used {
            self.cluster.objects.insert(bootstrap.clone(), implied_git_repository());
            self.cluster.parents.insert(bootstrap.clone(), Vec::new());
            self.implied.insert(bootstrap);
        }
    }
}

fn source_url(object: &FluxObject) -> Option<String> {
    match &object.spec {
        Spec::Source(s) => s.url.clone(),
        _ => None,
    }
}

fn normalize_url(url: &str) -> String {
    let url = url.trim_end_matches('/').trim_end_matches(".git");
    let url = url.split_once("://").map_or(url, |(_, rest)| rest);
    let url = url.split_once('@').map_or(url, |(_, rest)| rest);
    url.replace(':', "/").to_lowercase()
}

fn implied_git_repository() -> FluxObject {
    FluxObject {
        id: ObjectId::new(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system"),
        file: String::new(),
        line: 0,
        spec: Spec::Source(model::SourceSpec::default()),
        manifest: Arc::new(Node::new(0, crate::load::Value::Null)),
        implied: true,
    }
}

fn substitution_disabled(manifest: &Node) -> bool {
    const KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";
    ["labels", "annotations"].iter().any(|k| {
        manifest.at(&["metadata", k, KEY]).and_then(Node::as_str) == Some("disabled")
    })
}

fn applied(resource: &Resource) -> Applied {
    let (api, kind) = model::type_of(&resource.manifest);
    Applied {
        api_version: api.to_string(),
        kind: kind.to_string(),
        namespace: model::metadata_namespace(&resource.manifest),
        name: model::metadata_name(&resource.manifest).unwrap_or_default(),
        file: resource.file.clone(),
        line: resource.line,
        sops: resource.sops,
        hostnames: hostnames(&resource.manifest),
    }
}

fn hostnames(manifest: &Node) -> Vec<String> {
    let spec = manifest.get("spec");
    let routes = spec.and_then(|s| s.get("hostnames")).map(Node::as_seq).unwrap_or_default().iter().filter_map(Node::scalar_text);
    let rules = spec
        .and_then(|s| s.get("rules"))
        .map(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.get("host").and_then(Node::scalar_text));
    routes.chain(rules).collect()
}

/// Findings that belong to no cluster: files no build reads that are broken, and Flux
/// objects that no entry point reaches.
fn outside_diagnostics(repo: &Repository, clusters: &[Cluster], entries: &[Entry], patch_files: &BTreeSet<String>) -> Vec<Diagnostic> {
    let in_some_build = |file: &str| clusters.iter().any(|c| c.files.contains(file));
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
