//! Cluster: the loaded [`Repository`] → one [`Cluster`] per entry point, each the set of
//! Flux objects it reconciles and which Kustomization applies each one.
//!
//! This is where Flux is emulated. Entry points are found as Flux creates them
//! ([`entry`]); from each, every Kustomization's `spec.path` is built (kustomize
//! resolution with the Kustomization's own patches, components and target namespace),
//! its output substituted with its `postBuild` variables, and every Flux object in it is
//! read — so a child is always read after its parent's patches and substitution. A Flux
//! Operator ResourceSet is expanded the same way, its templates rendered into the objects
//! it applies ([`resourceset`]). The same names in two clusters are two objects: each
//! cluster is resolved on its own.

pub mod entry;
pub mod resourceset;
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
use variables::{Scope, VariableIndex};

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
    /// The files each Kustomization's build read (what a change to a file reaches).
    pub builds: BTreeMap<ObjectId, BTreeSet<String>>,
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
    // What every ResourceSet of the repository may render, in bytes and time.
    let rendering = resourceset::Budget::new(resourceset::Limits::default());
    let (entries, mut clusters) = match entry {
        Some(path) => {
            let entry = entry::given(repo, path)?;
            let cluster = resolve_cluster(repo, &entry, &rendering);
            (vec![entry], vec![cluster])
        }
        None => discover_and_resolve(repo, &patches, &rendering, &mut diagnostics, &mut dead),
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
    rendering: &resourceset::Budget,
    diagnostics: &mut Vec<Diagnostic>,
    dead: &mut BTreeSet<String>,
) -> (Vec<Entry>, Vec<Cluster>) {
    let found = entry::discover(repo, patches);
    diagnostics.extend(found.diagnostics);
    let mut entries = found.entries;
    let mut clusters: Vec<Cluster> = entries.iter().map(|e| resolve_cluster(repo, e, rendering)).collect();
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
        clusters = entries.iter().map(|e| resolve_cluster(repo, e, rendering)).collect();
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
            let group_cluster = resolve_cluster(repo, group, rendering);
            if entry::applied_by_hand(group, &group_cluster, &needs) {
                entry::adjoin(&mut entries[i], group);
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

/// Resolves one entry's cluster.
fn resolve_cluster(repo: &Repository, entry: &Entry, rendering: &resourceset::Budget) -> Cluster {
    Resolver::new(repo, entry, rendering).run()
}

/// What a Kustomization's postBuild does with `${VAR}`.
enum Substitution {
    Defines(Vec<String>),
    Literal(Vec<(String, Arc<str>, u32)>),
}

struct Pending {
    resource: Resource,
    parent: Option<ObjectId>,
    /// Where an object without namespace lands: the applying Kustomization's namespace.
    default_namespace: String,
    /// Its manifest holds a variable whose value is not known here.
    unresolved: bool,
}

/// The object a queued manifest is, in the namespace it lands in.
fn read_pending(p: &Pending) -> Option<FluxObject> {
    let manifest = &p.resource.manifest;
    let ns = model::metadata_namespace(manifest).unwrap_or_else(|| p.default_namespace.clone());
    model::read_object(manifest, &ns, &p.resource.file, p.resource.line)
}

/// Whether an object's build or templates are expanded once it is read.
fn expands(object: &FluxObject) -> bool {
    matches!(object.spec, Spec::Kustomization(_) | Spec::ResourceSet(_))
}

/// What a build or a ResourceSet applies, sorted as the resolver needs it.
#[derive(Default)]
struct Built {
    children: Vec<(Resource, bool)>,
    inventory: Vec<Applied>,
    /// ConfigMaps and Secrets, for `substituteFrom`.
    variables: Vec<Resource>,
    /// ResourceSetInputProviders, for ResourceSets' `inputsFrom`.
    providers: Vec<Resource>,
}

impl Built {
    /// `unresolved`: the manifest holds a variable whose value is not known here.
    fn add(&mut self, resource: Resource, unresolved: bool) {
        self.inventory.push(applied(&resource));
        let (api, kind) = model::type_of(&resource.manifest);
        if api == "v1" && (kind == "ConfigMap" || kind == "Secret") {
            self.variables.push(resource.clone());
        }
        if resourceset::is_provider(&resource.manifest) {
            self.providers.push(resource.clone());
        }
        if model::flux_kind(&resource.manifest).is_some() {
            self.children.push((resource, unresolved));
        }
    }

    fn into_outcome(self, files: BTreeSet<String>, substitution: Substitution) -> Outcome {
        Outcome::Built { files, children: self.children, inventory: self.inventory, variables: self.variables, providers: self.providers, substitution }
    }
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
    /// Its source is an ExternalArtifact whose generator is not known yet, or a
    /// `substituteFrom` source the cluster has not applied yet: it waits for the rest.
    Deferred,
    External(String),
    Failed,
    Built {
        files: BTreeSet<String>,
        children: Vec<(Resource, bool)>,
        inventory: Vec<Applied>,
        variables: Vec<Resource>,
        providers: Vec<Resource>,
        /// With postBuild: the variables it defines. Without: the `${VAR}`s its build sends
        /// to the cluster as they are, with where each is written.
        substitution: Substitution,
    },
    /// Its path depends on a variable whose value is not known here.
    Unresolved,
}

struct Resolver<'a> {
    repo: &'a Repository,
    /// Whether a Kustomization may be built while an optional substituteFrom source is
    /// still missing (once nothing else moves).
    optional_may_miss: bool,
    /// Variables some Kustomization of the cluster substitutes.
    defined: BTreeSet<String>,
    /// `${VAR}`s that Kustomizations without postBuild apply as they are.
    literal: Vec<(ObjectId, String, Arc<str>, u32)>,
    /// The ConfigMaps and Secrets the cluster applies, as found so far.
    applied: VariableIndex,
    cluster: Cluster,
    queue: VecDeque<Pending>,
    /// Kustomizations waiting for the ArtifactGenerator that defines their source.
    deferred: Vec<ObjectId>,
    implied: BTreeSet<ObjectId>,
    /// Sources that are this repository, each with the folder their artifact's root is.
    local_sources: BTreeMap<ObjectId, String>,
    /// This repository's URLs, normalised.
    urls: BTreeSet<String>,
    /// The ResourceSetInputProviders the cluster applies, as found so far.
    providers: resourceset::Providers,
    /// What rendering ResourceSets may still spend, shared with the repository's other clusters.
    rendering: &'a resourceset::Budget,
}

impl<'a> Resolver<'a> {
    fn new(repo: &'a Repository, entry: &Entry, rendering: &'a resourceset::Budget) -> Resolver<'a> {
        let mut local_sources = BTreeMap::from([(ObjectId::new(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system"), String::new())]);
        local_sources.extend(entry.sources.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut urls: BTreeSet<String> = repo.remotes.iter().map(|u| normalize_url(u)).collect();
        urls.extend(entry.urls.iter().cloned());
        let mut queue = VecDeque::new();
        for root in &entry.roots {
            let ns = model::metadata_namespace(&root.manifest).unwrap_or_else(|| BOOTSTRAP_NAMESPACE.into());
            queue.push_back(Pending { resource: root.clone(), parent: None, default_namespace: ns, unresolved: false });
        }
        let mut applied = VariableIndex::default();
        for r in &entry.applied {
            let ns = model::metadata_namespace(&r.manifest).or_else(|| Some(BOOTSTRAP_NAMESPACE.into()));
            applied.add(&r.manifest, ns, &r.file, r.line);
        }
        let mut cluster = Cluster { name: entry.name.clone(), entry: entry.path.clone(), ..Cluster::default() };
        cluster.diagnostics.extend(entry.notes.iter().cloned());
        Resolver {
            repo,
            optional_may_miss: false,
            defined: BTreeSet::new(),
            literal: Vec::new(),
            applied,
            cluster,
            queue,
            deferred: Vec::new(),
            implied: entry.implied.clone(),
            local_sources,
            urls,
            providers: resourceset::Providers::new(),
            rendering,
        }
    }

    fn run(mut self) -> Cluster {
        loop {
            // Level by level: read every object queued, then build every new Kustomization's
            // path at once, then take their results in order. Reading and building only read,
            // so both run on every core; the cluster takes what they give in queue order.
            let pending: Vec<Pending> = self.queue.drain(..).collect();
            let objects: Vec<Option<FluxObject>> = pending.par_iter().with_min_len(64).map(read_pending).collect();
            let mut to_expand = Vec::new();
            for (p, object) in pending.into_iter().zip(objects) {
                to_expand.extend(object.and_then(|o| self.visit(p, o)));
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
                    // Stuck: first let go what waits only on optional sources, which Flux skips
                    // when they are absent; then everything, with what is still missing unknown.
                    self.optional_may_miss = true;
                    let rest = std::mem::take(&mut self.deferred);
                    self.expand_all(&rest, false);
                    self.optional_may_miss = false;
                    if self.queue.is_empty() && self.deferred.len() == waiting {
                        let rest = std::mem::take(&mut self.deferred);
                        self.expand_all(&rest, true);
                    }
                }
                continue;
            }
            self.expand_all(&to_expand, false);
        }
        self.add_implied_sources();
        self.unsubstituted();
        let repo = self.repo;
        // Few files are unreadable: look those up among the cluster's, not every file of it
        // in the repository's.
        self.cluster.unreadable = repo
            .files
            .values()
            .filter(|f| f.unreadable.as_ref().is_some_and(|d| d.severity == Severity::Error))
            .filter(|f| self.cluster.files.contains(&f.path))
            .map(|f| f.path.clone())
            .collect();
        for id in &self.implied {
            if let Some(o) = self.cluster.objects.get_mut(id) {
                o.implied = true;
            }
        }
        self.cluster.diagnostics.sort();
        self.cluster.diagnostics.dedup();
        self.cluster
    }

    /// `${VAR}` in the build of a Kustomization without postBuild, where the cluster
    /// substitutes VAR for others: Flux sends the text `${VAR}` to the cluster as it is.
    fn unsubstituted(&mut self) {
        let mut seen = BTreeSet::new();
        for (id, name, file, line) in std::mem::take(&mut self.literal) {
            if !self.defined.contains(&name) || !seen.insert((id.clone(), name.clone())) {
                continue;
            }
            self.cluster.diagnostics.push(
                Diagnostic::warning(
                    Code::UnsubstitutedVariable,
                    file.to_string(),
                    line,
                    format!("${{{name}}} reaches the cluster as it is: {id} has no postBuild, although other Kustomizations of this cluster substitute {name}"),
                )
                .on(&id)
                .with_hint(format!("give {id} the postBuild (substitute or substituteFrom) that defines {name}")),
            );
        }
    }

    /// Takes one queued object into the cluster; gives the id of a Kustomization or
    /// ResourceSet seen for the first time, whose build or templates are then expanded.
    fn visit(&mut self, p: Pending, object: FluxObject) -> Option<ObjectId> {
        let id = object.id.clone();
        // The API server refuses a name Kubernetes cannot hold; such an object never exists,
        // and its text must not reach the graph's ids (DOT, Mermaid, URLs).
        if let Some(why) = model::invalid_name(&id) {
            let d = Diagnostic::error(Code::InvalidName, &*p.resource.file, p.resource.line, format!("{} {why}", id.kind));
            self.cluster.diagnostics.push(match &p.parent {
                Some(parent) => d.on(parent),
                None => d,
            });
            return None;
        }
        // A Kustomization applying its own file (flux-system) is normal, not its own parent.
        if p.parent.as_ref() == Some(&id) {
            self.cluster.self_applied.insert(id);
            return None;
        }
        if p.unresolved {
            self.cluster.unresolved.insert(id.clone());
        }
        // What the repository writes for an object that bootstrap or the operator creates
        // takes its place (the same object, applied from git too).
        if self.implied.contains(&id) && self.cluster.objects.contains_key(&id) && !p.resource.file.is_empty() && p.parent.is_none() {
            let made_up = &self.cluster.objects[&id];
            if *made_up.file != *p.resource.file || made_up.line != p.resource.line {
                self.implied.remove(&id);
                let expands = expands(&object);
                self.cluster.objects.insert(id.clone(), object);
                return expands.then_some(id);
            }
        }
        if let Some(existing) = self.cluster.objects.get(&id) {
            let differ = differences(&existing.manifest, &object.manifest);
            if !differ.is_empty() {
                let known = self.cluster.conflicting.entry(id.clone()).or_default();
                known.extend(differ.into_iter().filter(|d| !known.contains(d)).collect::<Vec<_>>());
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
        let expands = expands(&object);
        self.cluster.objects.insert(id.clone(), object);
        expands.then_some(id)
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
        // A Kustomization that waits is judged when it is built.
        if !matches!(e.outcome, Outcome::Deferred) {
            self.cluster.diagnostics.extend(e.diagnostics);
        }
        match e.outcome {
            Outcome::Deferred => self.deferred.push(e.id),
            Outcome::External(source) => {
                self.cluster.external.insert(e.id, source);
            }
            Outcome::Failed | Outcome::Unresolved => {}
            Outcome::Built { files, children, inventory, variables, providers, substitution } => {
                self.cluster.files.extend(files.iter().cloned());
                self.cluster.builds.insert(e.id.clone(), files);
                match substitution {
                    Substitution::Defines(names) => self.defined.extend(names),
                    Substitution::Literal(uses) => self.literal.extend(uses.into_iter().map(|(n, f, l)| (e.id.clone(), n, f, l))),
                }
                for r in &variables {
                    let ns = model::metadata_namespace(&r.manifest).unwrap_or_else(|| e.id.namespace.clone());
                    self.applied.add(&r.manifest, Some(ns), &r.file, r.line);
                }
                for r in providers {
                    let ns = model::metadata_namespace(&r.manifest).unwrap_or_else(|| e.id.namespace.clone());
                    let name = model::metadata_name(&r.manifest).unwrap_or_default();
                    self.providers.entry((ns, name)).or_insert(r);
                }
                // What a ResourceSet generates without a namespace lands, here, in the
                // ResourceSet's: flux-operator sets none, but like every object without one
                // that an applier gives none, it is shown in its applier's namespace.
                for (resource, unresolved) in children {
                    self.queue.push_back(Pending { resource, parent: Some(e.id.clone()), default_namespace: e.id.namespace.clone(), unresolved });
                }
                self.cluster.inventory.insert(e.id, inventory);
            }
        }
    }

    /// Builds a Kustomization's path, or renders a ResourceSet's templates: what it
    /// applies, and what is wrong with it. Only reads.
    fn expansion(&self, id: &ObjectId, last_round: bool) -> Expansion {
        let object = &self.cluster.objects[id];
        let mut diagnostics = Vec::new();
        let outcome = match id.kind {
            Kind::ResourceSet => self.generate(object, last_round, &mut diagnostics),
            _ => self.build_for(object, last_round, &mut diagnostics),
        };
        Expansion { id: id.clone(), outcome, diagnostics }
    }

    /// What a ResourceSet generates: its children are the Flux objects among them.
    fn generate(&self, object: &FluxObject, last_round: bool, diagnostics: &mut Vec<Diagnostic>) -> Outcome {
        let objects = match resourceset::expand(object, &self.providers, last_round, self.rendering) {
            resourceset::Expansion::Waiting => return Outcome::Deferred,
            resourceset::Expansion::Done { objects, diagnostics: found } => {
                diagnostics.extend(found);
                objects
            }
        };
        let unresolved = self.cluster.unresolved.contains(&object.id);
        let mut built = Built::default();
        for resource in objects {
            built.add(resource, unresolved);
        }
        built.into_outcome(BTreeSet::new(), Substitution::Defines(Vec::new()))
    }

    fn build_for(&self, object: &FluxObject, last_round: bool, diagnostics: &mut Vec<Diagnostic>) -> Outcome {
        let id = &object.id;
        let Some(spec) = object.kustomization() else { return Outcome::Failed };
        let path_text = spec.path.as_ref().map_or("", |p| p.value.as_str());
        let path_line = spec.path.as_ref().map_or(object.line, |p| p.line);
        if path_text.contains("${") && self.cluster.unresolved.contains(id) {
            diagnostics.push(
                Diagnostic::info(
                    Code::UnresolvedVariable,
                    &object.file,
                    path_line,
                    format!("spec.path {path_text:?} depends on a variable whose value is not known here (a Secret, or a source outside the repository); what it applies is not shown"),
                )
                .on(id),
            );
            return Outcome::Unresolved;
        }
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
        // substituteFrom reads what the cluster applies; a source it has not applied yet may
        // come from a Kustomization still to be built, so this one waits for the rest.
        let mut missing = variables::Missing::default();
        let vars = spec.post_build.as_ref().map(|pb| variables::for_kustomization(pb, object, Scope::Cluster(&self.applied), diagnostics, &mut missing));
        if !last_round && (missing.required || (missing.optional && !self.optional_may_miss)) {
            return Outcome::Deferred;
        }
        let vars = vars.filter(|v| !v.is_empty());
        let overlay = self.overlay(object, &path);
        let build = kustomize::build(self.repo, &path, &overlay);
        diagnostics.extend(build.diagnostics.into_iter().map(|d| d.on(id)));
        let mut undefined: BTreeMap<String, (Arc<str>, u32)> = BTreeMap::new();
        let mut sops_files = BTreeSet::new();
        let mut built = Built::default();
        let common = common_metadata(object);
        let mut literal_candidates: Vec<Arc<Node>> = Vec::new();
        let mut literal_files: Vec<Arc<str>> = Vec::new();
        for mut resource in build.resources {
            let mut unresolved = false;
            if !common.is_empty() {
                let manifest = Arc::make_mut(&mut resource.manifest);
                for (field, k, v) in &common {
                    set_metadata(manifest, field, k, v);
                }
            }
            // Asked when the build substitutes, or for the unsubstituted-variable lint.
            let asked = vars.is_some() || spec.post_build.is_none();
            let has_dollar = asked && self.may_hold_dollar(&resource) && resource.manifest.any_string_contains(b'$');
            if let Some(vars) = &vars {
                if has_dollar && !substitution_disabled(&resource.manifest) {
                    let file = resource.file.clone();
                    Arc::make_mut(&mut resource.manifest).visit_strings_mut(&mut |s, line| {
                        if s.contains('$') {
                            let out = vars.substitute(s);
                            for name in out.undefined {
                                undefined.entry(name).or_insert_with(|| (file.clone(), line));
                            }
                            unresolved |= !out.unresolved.is_empty();
                            *s = out.text;
                        }
                    });
                }
            }
            if vars.is_none() && spec.post_build.is_none() && has_dollar {
                literal_candidates.push(Arc::clone(&resource.manifest));
                literal_files.push(resource.file.clone());
            }
            if resource.sops && spec.decryption.is_none() {
                sops_files.insert((resource.file.clone(), resource.line));
            }
            built.add(resource, unresolved);
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
        let substitution = match &vars {
            Some(v) => Substitution::Defines(v.bindings.keys().cloned().collect()),
            None if spec.post_build.is_some() => Substitution::Defines(Vec::new()),
            None => Substitution::Literal(literal_variables(&literal_candidates, &literal_files)),
        };
        built.into_outcome(build.files, substitution)
    }

    /// Whether a built manifest may have a `$` in a string: a document no patch or transformer
    /// changed answers from its text, searched once when it was read; any other is walked.
    fn may_hold_dollar(&self, resource: &Resource) -> bool {
        let file = self.repo.files.get(&*resource.file);
        let document = file.and_then(|f| f.documents.iter().flatten().find(|d| d.line == resource.line));
        match document {
            Some(d) if Arc::ptr_eq(&d.root, &resource.manifest) => d.has_dollar,
            _ => true,
        }
    }

    /// Where a Kustomization's path lies: in this repository, elsewhere, or not known yet.
    fn source_root(&self, object: &FluxObject, path: &str, last_round: bool) -> Root {
        let Some((kind, reference)) = object.source_refs().into_iter().next() else {
            return Root::Here(normalize(path));
        };
        let source = reference.resolve(kind, &object.id.namespace);
        match kind {
            Kind::GitRepository | Kind::OCIRepository | Kind::Bucket if self.local_root(&source).is_some() => {
                let base = self.local_root(&source).unwrap_or_default();
                Root::Here(normalize(path).map(|p| kustomize::join(&base, &p).trim_end_matches('/').to_string()))
            }
            Kind::ExternalArtifact => match self.artifact_path(&source, path) {
                Some(mapped) => Root::Here(mapped),
                None if last_round => Root::Elsewhere(format!("{source}, which no ArtifactGenerator of this cluster produces")),
                None => Root::NotYet,
            },
            _ => Root::Elsewhere(self.describe_source(&source)),
        }
    }

    /// The folder of this repository a source's artifact is rooted at, when the source is
    /// this repository: one the entry point names, or one whose URL is this repository's
    /// (a remote of the work tree, or the URL of another local source, say another branch).
    fn local_root(&self, source: &ObjectId) -> Option<String> {
        if let Some(base) = self.local_sources.get(source) {
            return Some(base.clone());
        }
        let url = |id: &ObjectId| self.cluster.objects.get(id).and_then(source_url).map(|u| normalize_url(&u));
        let u = url(source)?;
        if self.urls.contains(&u) {
            return Some(self.local_sources.iter().find(|(l, _)| url(l).as_ref() == Some(&u)).map(|(_, b)| b.clone()).unwrap_or_default());
        }
        self.local_sources.iter().find(|(l, _)| url(l).as_ref() == Some(&u)).map(|(_, b)| b.clone())
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

/// `spec.commonMetadata` of a Flux Kustomization: labels and annotations it sets on
/// everything it applies, over what the manifests say (kustomize-controller's
/// `SetCommonMetadata`, after the build and substitution).
fn common_metadata(object: &FluxObject) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for (field, key) in [("labels", "labels"), ("annotations", "annotations")] {
        for (k, v) in object.manifest.at(&["spec", "commonMetadata", key]).map(Node::entries).unwrap_or_default() {
            out.push((field, k.clone(), v.scalar_text().unwrap_or_default()));
        }
    }
    out
}

fn set_metadata(manifest: &mut Node, field: &str, key: &str, value: &str) {
    use crate::load::Value;
    fn map<'n>(node: &'n mut Node, key: &str) -> &'n mut Node {
        let line = node.line;
        if !matches!(node.get(key).map(|n| &n.value), Some(Value::Map(_))) {
            if let Value::Map(entries) = &mut node.value {
                entries.retain(|(k, _)| k != key);
                entries.push((key.to_string(), Node::new(line, Value::Map(Vec::new()))));
            }
        }
        node.get_mut(key).expect("just made")
    }
    if !manifest.is_map() {
        return;
    }
    let target = map(map(manifest, "metadata"), field);
    if let Value::Map(entries) = &mut target.value {
        let line = target.line;
        match entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => v.value = Value::Str(value.to_string()),
            None => entries.push((key.to_string(), Node::new(line, Value::Str(value.to_string())))),
        }
    }
}

fn source_url(object: &FluxObject) -> Option<String> {
    match &object.spec {
        Spec::Source(s) => s.url.clone(),
        _ => None,
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

/// Every `${NAME}` written in these manifests (not `$${NAME}`, which is an escape), with
/// where it is written.
fn literal_variables(manifests: &[Arc<Node>], files: &[Arc<str>]) -> Vec<(String, Arc<str>, u32)> {
    let mut out = Vec::new();
    for (manifest, file) in manifests.iter().zip(files) {
        manifest.visit_strings(&mut |s, line| {
            let bytes = s.as_bytes();
            let mut i = 0;
            while let Some(at) = s[i..].find("${").map(|n| n + i) {
                let escaped = at > 0 && bytes[at - 1] == b'$';
                let name: String = s[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !escaped && !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                    out.push((name, file.clone(), line));
                }
                i = at + 2;
            }
        });
    }
    out
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
