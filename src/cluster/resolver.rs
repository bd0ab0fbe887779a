//! The resolver: one entry point → its [`Cluster`], by rounds over a queue.
//!
//! The entry's roots are queued; each round reads every queued manifest into a Flux object,
//! then expands every Kustomization (its [`build`](super::build)) and ResourceSet (its
//! templates) seen for the first time, on every core, and queues what they apply, in a fixed
//! order. So a child is always read after its parent's patches and substitution. A
//! Kustomization whose source or `substituteFrom` is not known yet waits until nothing else
//! moves; then what waits only on optional sources goes, then everything, with what is still
//! missing unknown.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use rayon::prelude::*;

use super::build::{self, Built, Context, Outcome, Substitution};
use super::entry::Entry;
use super::variables::VariableIndex;
use super::{BOOTSTRAP_NAMESPACE, Cluster, KustomizationBuild, differences, normalize_url, resourceset};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::load::kustomize::Resource;
use crate::load::{Node, Repository};
use crate::model::{self, FluxObject, Kind, ObjectId, Spec};

/// Resolves one entry's cluster.
pub(super) fn resolve_cluster(repo: &Repository, entry: &Entry, rendering: &resourceset::Budget) -> Cluster {
    Resolver::new(repo, entry, rendering).run()
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

/// What building one Kustomization's path gave.
struct Expansion {
    id: ObjectId,
    outcome: Outcome,
    diagnostics: Vec<Diagnostic>,
}

/// The cluster being resolved, and what is still to do.
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
            applied.add_resource(r, ns);
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
        if p.parent.is_none() {
            self.cluster.roots.insert(id.clone());
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
            Outcome::Unresolved => {}
            Outcome::Failed(error) => {
                self.cluster.builds.insert(e.id, KustomizationBuild { error: Some(error), ..KustomizationBuild::default() });
            }
            Outcome::Built { build, children, inventory, variables, providers, substitution } => {
                self.cluster.files.extend(build.files.iter().cloned());
                // What a ResourceSet generates is no kustomize build.
                if e.id.kind == Kind::Kustomization {
                    self.cluster.builds.insert(e.id.clone(), build);
                }
                match substitution {
                    Substitution::Defines(names) => self.defined.extend(names),
                    Substitution::Literal(uses) => self.literal.extend(uses.into_iter().map(|(n, f, l)| (e.id.clone(), n, f, l))),
                }
                for r in &variables {
                    let ns = model::metadata_namespace(&r.manifest).unwrap_or_else(|| e.id.namespace.clone());
                    self.applied.add_resource(r, Some(ns));
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
            _ => {
                let context = Context {
                    repo: self.repo,
                    cluster: &self.cluster,
                    local_sources: &self.local_sources,
                    urls: &self.urls,
                    applied: &self.applied,
                    optional_may_miss: self.optional_may_miss,
                    last_round,
                };
                build::kustomization(&context, object, &mut diagnostics)
            }
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
        built.into_outcome(BTreeSet::new(), Substitution::Defines(Vec::new()), None)
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
