//! Kustomize resolution: a directory of the [`Repository`] (and a Flux Kustomization's
//! [`Overlay`]) → the manifests kustomize builds from it, each with the file and line it came
//! from and the patches that changed it.
//!
//! kustomize's order, from `api/internal/target/kusttarget.go`: a kustomization accumulates its
//! `resources:` (a folder is built whole, with its own transformers, before it joins), then
//! its `configurations:`, its generators (`configMapGenerator`, `secretGenerator`, with
//! `behavior: merge|replace`), its `components:` (which add to and transform what is there so
//! far), then runs its transformers in kustomize's order ([`transform`]). Only at the top, once:
//! generated names get their hash suffix, references to renamed objects follow them
//! ([`nameref`]), and objects marked `config.kubernetes.io/local-config` are dropped. A
//! directory without a kustomization file gets the one Flux generates: every `.yaml`/`.yml`
//! below it, except that a sub-directory with its own kustomization file is one unit. The
//! Flux Kustomization's fields go into the top kustomization as kustomize-controller writes
//! them (`targetNamespace`, `namePrefix`/`nameSuffix`, `patches`, `images`, `components`).
//! Remote resources are noted, never fetched. Written by hand because no Rust kustomize exists.

mod decode;
pub mod fieldspec;
mod generator;
mod nameref;
mod replacement;
pub mod scope;
mod transform;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rayon::prelude::*;

use super::patch::{Origin, Patch};
use super::sealed::Sealed;
use super::yaml::{Node, Value};
use super::{Repository, SourceFile};
use crate::diagnostic::{Code, Diagnostic};
use decode::Reader;
use crate::load::Manifest;
use fieldspec::Config;
pub use transform::Image;

/// Names kustomize recognises for its file, in its order of preference.
pub const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Nesting deeper than this is refused (`kustomization-too-deep`), so that a hostile chain of
/// folders cannot exhaust the stack; real repositories nest a handful deep.
const MAX_DEPTH: usize = 64;

/// The annotation that keeps an object out of kustomize's output.
const LOCAL_CONFIG: &str = "config.kubernetes.io/local-config";

/// One manifest in a build, with where it was written and what changed it on the way.
#[derive(Debug, Clone)]
pub struct Resource {
    pub file: Arc<str>,
    /// Line of the document in `file`.
    pub line: u32,
    /// Shared with the parsed file until a patch or transformer changes it.
    pub manifest: Arc<Node>,
    /// The document carries SOPS metadata: its values are encrypted.
    pub sops: bool,
    /// The patches that changed it, in the order they did.
    pub changes: Vec<Change>,
    /// The postBuild variables substituted into it, by name.
    pub substituted: Vec<String>,
    /// What kustomize keeps of it while it builds.
    pub(crate) trace: Trace,
}

/// A patch that changed a manifest: where it is written (the kustomization file, or the Flux
/// Kustomization for its `spec.patches`, and the line of the patch's entry) and the fields it
/// changed (`spec.dependsOn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub file: Arc<str>,
    pub line: u32,
    pub fields: Vec<String>,
}

/// kustomize's bookkeeping on a resource: the ids it had before renames (its
/// `previousNames`/`previousNamespaces`/`previousKinds`), and what a generator made of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    pub previous: Vec<ResId>,
    pub generated: Option<Arc<Generated>>,
}

/// What a generator knows of a ConfigMap or Secret that its manifest does not show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Generated {
    /// Its name gets the hash of its data as a suffix.
    pub hash: bool,
    /// Some input could not be read here: its data is not all known.
    pub data_unknown: bool,
    /// A Secret's values, by key, which only its hash may read (the manifest's values are empty).
    pub sealed: Vec<(String, Sealed)>,
}

/// kustomize's identity of a resource: group, version, kind, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResId {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl ResId {
    pub fn of(manifest: &Node) -> ResId {
        let (group, version) = fieldspec::split_api_version(manifest.api_version());
        ResId {
            group: group.to_string(),
            version: version.to_string(),
            kind: manifest.kind().to_string(),
            name: manifest.name().unwrap_or_default().to_string(),
            namespace: manifest.namespace().unwrap_or_default().to_string(),
        }
    }

    fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn is_cluster_scoped(&self) -> bool {
        scope::is_cluster_scoped(&self.api_version(), &self.kind)
    }

    /// The namespace as kustomize's selectors see it: `default` for none, a marker that no
    /// pattern names for a cluster-scoped kind.
    pub fn effective_namespace(&self) -> &str {
        if self.is_cluster_scoped() {
            "_non_namespaceable_"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// kustomize's `ResId.Equals`: the same type and name, and namespaces equal with none
    /// taken as `default`.
    pub fn equals(&self, other: &ResId) -> bool {
        self.gvkn_equals(other) && self.namespace_equals(other)
    }

    /// [`ResId::equals`] with the id `manifest` has now, read without copies.
    fn equals_manifest(&self, manifest: &Node) -> bool {
        let (group, version) = fieldspec::split_api_version(manifest.api_version());
        self.kind == manifest.kind()
            && self.name == manifest.name().unwrap_or_default()
            && self.group == group
            && self.version == version
            && or_default(&self.namespace) == or_default(manifest.namespace().unwrap_or_default())
    }

    /// Whether this is exactly the id `manifest` has now.
    fn is_manifests(&self, manifest: &Node) -> bool {
        let (group, version) = fieldspec::split_api_version(manifest.api_version());
        self.kind == manifest.kind()
            && self.name == manifest.name().unwrap_or_default()
            && self.namespace == manifest.namespace().unwrap_or_default()
            && self.group == group
            && self.version == version
    }

    fn gvkn_equals(&self, other: &ResId) -> bool {
        self.group == other.group && self.version == other.version && self.kind == other.kind && self.name == other.name
    }

    fn namespace_equals(&self, other: &ResId) -> bool {
        or_default(&self.namespace) == or_default(&other.namespace)
    }
}

/// A namespace as kustomize compares them: none is `default`.
fn or_default(namespace: &str) -> &str {
    if namespace.is_empty() { "default" } else { namespace }
}

impl Resource {
    pub fn new(file: Arc<str>, line: u32, manifest: Arc<Node>, sops: bool) -> Resource {
        Resource { file, line, manifest, sops, changes: Vec::new(), substituted: Vec::new(), trace: Trace::default() }
    }

    /// Generated from inputs some of which could not be read here: what its data holds is not
    /// all known.
    pub fn data_unknown(&self) -> bool {
        self.trace.generated.as_ref().is_some_and(|g| g.data_unknown)
    }

    /// Whether it is, or was before kustomize renamed it (a generated name's hash suffix, a
    /// prefix), named `name`.
    pub fn was_named(&self, name: &str) -> bool {
        self.manifest.name() == Some(name) || self.trace.previous.iter().any(|p| p.name == name)
    }

    pub(crate) fn id(&self) -> ResId {
        ResId::of(&self.manifest)
    }

    /// Its first id, before any rename.
    pub(crate) fn original_id(&self) -> ResId {
        self.trace.previous.first().cloned().unwrap_or_else(|| self.id())
    }

    /// Whether any id it has had, or has, is `id` (kustomize's `GetMatchingResourcesByAnyId`).
    fn has_id(&self, id: &ResId) -> bool {
        self.trace.previous.iter().any(|p| p.equals(id)) || id.equals_manifest(&self.manifest)
    }

    /// Edits the manifest; if its id changes, the old one is remembered (kustomize's
    /// `StorePreviousId`), for references and selectors that name it by its old name.
    pub(crate) fn edit(&mut self, edit: impl FnOnce(&mut Node)) {
        let before = self.id();
        edit(Arc::make_mut(&mut self.manifest));
        if !before.is_manifests(&self.manifest) {
            self.trace.previous.push(before);
        }
    }
}

/// What a Flux Kustomization adds on top of the kustomization file at its path: the fields
/// kustomize-controller writes into it.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub namespace: Option<String>,
    pub patches: Vec<Patch>,
    /// Component directories, relative to the repository root.
    pub components: Vec<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub images: Vec<Image>,
}

/// The result of building one directory.
#[derive(Debug, Default)]
pub struct Build {
    pub resources: Vec<Resource>,
    /// Every file the build read (kustomization files, resources, patches).
    pub files: BTreeSet<String>,
    /// Problems; the caller says which Kustomization they belong to.
    pub diagnostics: Vec<Diagnostic>,
}

/// The kustomization file of `dir`, when it has one.
pub fn kustomization_file<'a>(repo: &'a Repository, dir: &str) -> Option<&'a SourceFile> {
    KUSTOMIZATION_FILES.iter().find_map(|name| repo.files.get(&join(dir, name)))
}

/// Builds `dir` as Flux would for a Kustomization whose `spec.path` is `dir`.
pub fn build(repo: &Repository, dir: &str, overlay: &Overlay) -> Build {
    build_with(repo, dir, overlay, true)
}

/// Only the files a build of `dir` reads, without its manifests: cheaper, for finding out
/// which files some Kustomization applies.
pub fn files(repo: &Repository, dir: &str, overlay: &Overlay) -> BTreeSet<String> {
    build_with(repo, dir, overlay, false).files
}

/// Every file that the builds of all `paths` (each folder with its components) read: the
/// cheap way to learn what is applied at all. The paths are shared out among the cores, and
/// within a share each folder is followed once however many builds hold it.
pub fn reachable_files(repo: &Repository, paths: &[(String, Vec<String>)]) -> BTreeSet<String> {
    let share = paths.len().div_ceil(rayon::current_num_threads()).max(1);
    paths
        .par_chunks(share)
        .map(|share| {
            let mut builder = Builder { repo, build: Build::default(), stack: Vec::new(), manifests: false, visited: Some(HashSet::new()) };
            for (dir, components) in share {
                let overlay = Overlay { components: components.clone(), ..Overlay::default() };
                drop(builder.target(dir, Some(&overlay)));
            }
            builder.build.files
        })
        .reduce(BTreeSet::new, |mut a, mut b| {
            if a.len() < b.len() {
                std::mem::swap(&mut a, &mut b);
            }
            a.extend(b);
            a
        })
}

fn build_with(repo: &Repository, dir: &str, overlay: &Overlay, manifests: bool) -> Build {
    let mut builder = Builder { repo, build: Build::default(), stack: Vec::new(), manifests, visited: None };
    let mut built = builder.target(dir, Some(overlay));
    if manifests {
        builder.finish(&mut built);
    }
    builder.build.resources = built.resources;
    builder.build
}

/// What a kustomization builds to before the steps kustomize takes once, at the top: its
/// resources, and the transformer configuration it carries up to the kustomization that
/// includes it (its own `configurations:` and its bases').
#[derive(Default)]
struct Built {
    resources: Vec<Resource>,
    /// Beyond kustomize's built-in configuration.
    config: Option<Box<Config>>,
    /// A remote resource was left out: what names an object that is not here may name one of
    /// its objects.
    remote: bool,
}

impl Built {
    fn join(&mut self, other: Built) {
        self.resources.extend(other.resources);
        self.remote |= other.remote;
        if let Some(config) = other.config {
            match &mut self.config {
                Some(mine) => mine.merge(&config),
                None => self.config = Some(config),
            }
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        self.config.get_or_insert_with(Default::default)
    }
}

pub(crate) struct Builder<'a> {
    repo: &'a Repository,
    build: Build,
    stack: Vec<String>,
    /// Whether to produce manifests, or only follow the files.
    manifests: bool,
    /// Folders already followed, when builds share the work (files only).
    visited: Option<HashSet<String>>,
}

impl Builder<'_> {
    /// Whether `dir` was followed already by an earlier build sharing this builder.
    fn seen(&mut self, dir: &str) -> bool {
        self.visited.as_mut().is_some_and(|v| !v.insert(dir.to_string()))
    }

    fn error(&mut self, code: Code, file: &str, line: u32, message: String) {
        self.build.diagnostics.push(Diagnostic::error(code, file, line, message));
    }
}

impl<'a> Builder<'a> {
    /// A Flux Kustomization's path: its kustomization file, or the one Flux generates.
    fn target(&mut self, dir: &str, overlay: Option<&Overlay>) -> Built {
        match kustomization_file(self.repo, dir) {
            Some(file) => self.kustomization(dir, file, overlay, Reader::Flux),
            None => {
                let mut built = self.generated(dir);
                self.refuse_duplicates(dir, &built, &[]);
                let empty = Node::new(0, Value::Map(Vec::new()));
                let overlay = overlay.cloned().unwrap_or_default();
                let components: Vec<(String, String, u32)> = overlay.components.iter().map(|c| (c.clone(), String::new(), 0)).collect();
                for (component, from, line) in components {
                    self.component(&component, &from, line, &mut built);
                }
                self.transform(dir, &empty, "", Some(&overlay), &mut built);
                built
            }
        }
    }

    /// Flux's generated kustomization: every YAML file below `dir`, recursively, stopping at
    /// sub-directories that hold a kustomization file (each built as one unit).
    fn generated(&mut self, dir: &str) -> Built {
        let mut built = Built::default();
        if self.seen(dir) {
            return built;
        }
        for file in self.repo.files_in(dir) {
            self.build.files.insert(file.path.clone());
            let resources = self.file_resources(file);
            built.resources.extend(resources);
        }
        let subdirs: Vec<&str> = self.repo.subdirs(dir).collect();
        for sub in subdirs {
            let unit = match kustomization_file(self.repo, sub) {
                Some(k) => self.kustomization(sub, k, None, Reader::Kustomize),
                None => self.generated(sub),
            };
            built.join(unit);
        }
        built
    }

    /// Reads a kustomization file's document: `None` (reported) when it cannot be read. What
    /// kustomize refuses to decode fails the build, which goes on to say what else it finds.
    fn kustomization_root(&mut self, file: &SourceFile, reader: Reader) -> Option<Arc<Node>> {
        match file.documents.first() {
            Some(Ok(doc)) => {
                if let Some((line, message)) = decode::refusal(&doc.root, reader) {
                    self.error(Code::InvalidObject, &file.path, line, message);
                }
                Some(Arc::clone(&doc.root))
            }
            Some(Err(e)) => {
                self.error(Code::InvalidYaml, &file.path, e.line, format!("kustomization file is not valid YAML: {}", e.message));
                None
            }
            None if file.unreadable.is_some() => {
                self.push_unreadable(file);
                None
            }
            None => Some(Arc::new(Node::new(1, Value::Map(Vec::new())))),
        }
    }

    /// Whether entering `dir` would close a cycle or nest too deep (reported).
    fn refuses(&mut self, dir: &str, kfile: &SourceFile) -> bool {
        if let Some(start) = self.stack.iter().position(|d| d == dir) {
            let chain = self.stack[start..].iter().chain([&dir.to_string()]).cloned().collect::<Vec<_>>().join(" -> ");
            self.error(Code::KustomizationCycle, &kfile.path, 0, format!("kustomization files include each other: {chain}"));
            return true;
        }
        // A straight chain this deep is not a cycle: say it is a limit that was reached.
        if self.stack.len() > MAX_DEPTH {
            let message = format!(
                "kustomization files nest more than {MAX_DEPTH} deep ({} -> … -> {dir}); what lies deeper is left out",
                self.stack[0]
            );
            self.error(Code::KustomizationTooDeep, &kfile.path, 0, message);
            return true;
        }
        false
    }

    fn kustomization(&mut self, dir: &str, kfile: &'a SourceFile, overlay: Option<&Overlay>, reader: Reader) -> Built {
        self.build.files.insert(kfile.path.clone());
        if overlay.is_none_or(|o| o.components.is_empty()) && self.seen(dir) {
            return Built::default();
        }
        if self.refuses(dir, kfile) {
            return Built::default();
        }
        let Some(root) = self.kustomization_root(kfile, reader) else { return Built::default() };
        // A Component built at a Kustomization's path is built as any kustomization is.
        if reader == Reader::Kustomize && is_component(&root) {
            self.error(Code::InvalidObject, &kfile.path, root.line, format!("{dir} is a Component; kustomize includes it only under components:, not as a resource"));
        }
        self.stack.push(dir.to_string());
        let mut built = Built::default();
        self.accumulate(dir, &root, &kfile.path, overlay, &mut built);
        self.stack.pop();
        built
    }

    /// A component: its resources, generators, components and transformers act on what the
    /// including kustomization has built so far.
    fn component(&mut self, dir: &str, from: &str, line: u32, built: &mut Built) {
        let Some(kfile) = kustomization_file(self.repo, dir) else {
            let what = if self.repo.is_dir(dir) { "has no kustomization.yaml" } else { "does not exist" };
            self.error(Code::PathNotFound, from, line, format!("component {dir} {what}"));
            return;
        };
        self.build.files.insert(kfile.path.clone());
        if self.refuses(dir, kfile) {
            return;
        }
        let Some(root) = self.kustomization_root(kfile, Reader::Kustomize) else { return };
        if !is_component(&root) {
            let message = format!("component {dir} is a Kustomization, not a Component (kind: Component); kustomize refuses it");
            self.error(Code::InvalidObject, from, line, message);
            return;
        }
        self.stack.push(dir.to_string());
        self.accumulate(dir, &root, &kfile.path, None, built);
        self.stack.pop();
    }

    /// kustomize's `accumulateTarget`: resources, configurations, generators, components,
    /// transformers.
    fn accumulate(&mut self, dir: &str, root: &Node, from: &str, overlay: Option<&Overlay>, built: &mut Built) {
        // Where each entry's objects end, and the entry's line: a duplicate is refused at the
        // entry that adds it.
        let mut ends: Vec<(usize, u32)> = Vec::new();
        for key in ["resources", "bases"] {
            for entry in root.get(key).map(Node::as_seq).unwrap_or_default() {
                let Some(rel) = entry.scalar_text() else { continue };
                let added = self.resource(dir, &rel, from, entry.line);
                built.join(added);
                ends.push((built.resources.len(), entry.line));
            }
        }
        self.refuse_duplicates(from, built, &ends);
        self.configurations(dir, root, from, built);
        if root.get("helmCharts").is_some_and(|c| !c.as_seq().is_empty()) || root.get("helmChartInflationGenerator").is_some() {
            self.error(
                Code::InvalidObject,
                from,
                root.get("helmCharts").map_or(root.line, |n| n.line),
                "helmCharts needs kustomize's --enable-helm, which kustomize-controller never passes: the build fails".to_string(),
            );
        }
        self.generators(dir, root, from, built);
        let mut components: Vec<(String, String, u32)> = root
            .get("components")
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| Some((normalize(&join(dir, &n.scalar_text()?))?, from.to_string(), n.line)))
            .collect();
        if let Some(o) = overlay {
            components.extend(o.components.iter().map(|c| (c.clone(), from.to_string(), 0)));
        }
        for (component, from, line) in components {
            self.component(&component, &from, line, built);
        }
        self.transform(dir, root, from, overlay, built);
    }

    /// kustomize refuses to add an object whose id is there already ("may not add resource
    /// with an already registered id"): the build fails.
    /// `ends` holds, per entry of `resources:`, where its objects end in `built` and its line
    /// (none when Flux generated the kustomization).
    fn refuse_duplicates(&mut self, from: &str, built: &Built, ends: &[(usize, u32)]) {
        if !self.manifests || built.resources.len() < 2 {
            return;
        }
        let mut seen = HashMap::with_capacity(built.resources.len());
        for (i, r) in built.resources.iter().enumerate() {
            let m = &r.manifest;
            let namespace = m.namespace().unwrap_or("default");
            if let Some(first) = seen.insert((m.api_version(), m.kind(), m.name().unwrap_or_default(), namespace), r) {
                // Without a kustomization file (Flux generates one listing the folder's files),
                // the duplicate itself is the place to look.
                let (file, line) = match ends.iter().find(|(end, _)| i < *end) {
                    Some(&(_, line)) => (from.to_string(), line),
                    None => (r.file.to_string(), r.line),
                };
                let message = format!(
                    "{}/{} is there twice ({}:{} and {}:{}); kustomize refuses an object with an id it already has (\"may not add resource with an already registered id\"), and fails the build",
                    m.kind(),
                    m.name().unwrap_or_default(),
                    first.file,
                    first.line,
                    r.file,
                    r.line
                );
                self.error(Code::InvalidObject, &file, line, message);
                return;
            }
        }
    }

    /// `configurations:` files: field specs added to kustomize's own.
    fn configurations(&mut self, dir: &str, root: &Node, from: &str, built: &mut Built) {
        for entry in root.get("configurations").map(Node::as_seq).unwrap_or_default() {
            let Some(rel) = entry.scalar_text() else { continue };
            let Some(file) = self.listed_file(dir, &rel, from, entry.line, "configuration file") else { continue };
            for doc in file.documents.iter().flatten() {
                built.config_mut().read(&doc.root);
            }
        }
    }

    /// A file a kustomization names, recorded as read; `None` (reported) when missing.
    fn listed_file(&mut self, dir: &str, rel: &str, from: &str, line: u32, what: &str) -> Option<&'a SourceFile> {
        let path = normalize(&join(dir, rel));
        match path.as_ref().and_then(|p| self.repo.files.get(p)) {
            Some(file) => {
                self.build.files.insert(file.path.clone());
                Some(file)
            }
            None => {
                let shown = path.unwrap_or_else(|| rel.to_string());
                self.error(Code::PathNotFound, from, line, format!("{what} {shown} does not exist"));
                None
            }
        }
    }

    fn resource(&mut self, dir: &str, rel: &str, from: &str, line: u32) -> Built {
        if is_remote(rel) {
            self.build.diagnostics.push(Diagnostic::info(
                Code::RemoteResource,
                from,
                line,
                format!("remote resource {rel} is applied too, but fluxgraph does not fetch it"),
            ));
            return Built { remote: true, ..Built::default() };
        }
        let Some(path) = normalize(&join(dir, rel)) else {
            self.error(Code::PathNotFound, from, line, format!("resource {rel} points outside the repository"));
            return Built::default();
        };
        if let Some(file) = self.repo.files.get(&path) {
            self.build.files.insert(path);
            return Built { resources: self.file_resources(file), ..Built::default() };
        }
        if self.repo.is_dir(&path) {
            return match kustomization_file(self.repo, &path) {
                Some(k) => self.kustomization(&path, k, None, Reader::Kustomize),
                None => {
                    self.error(Code::PathNotFound, from, line, format!("resource directory {path} has no kustomization.yaml, so kustomize cannot build it"));
                    Built::default()
                }
            };
        }
        let what = if self.repo.is_file(&path) { "is not a YAML file" } else { "does not exist" };
        self.error(Code::PathNotFound, from, line, format!("resource {path} {what}"));
        Built::default()
    }

    /// The documents of a file as resources, as kustomize's resource factory reads them
    /// (`api/resource/factory.go`, `RNodesFromBytes`): empty documents skipped, a document
    /// that is not an object fails the whole build (so does it where Flux generates the
    /// kustomization: its scan reads each file the same way), and a `…List` with `items` is
    /// its items (after the file's other documents, as kustomize queues them).
    fn file_resources(&mut self, file: &SourceFile) -> Vec<Resource> {
        if !self.manifests {
            return Vec::new();
        }
        if file.unreadable.is_some() {
            self.push_unreadable(file);
            return Vec::new();
        }
        let path: Arc<str> = Arc::from(file.path.as_str());
        let mut out = Vec::new();
        let mut queue: VecDeque<Arc<Node>> = VecDeque::new();
        for doc in &file.documents {
            match doc {
                Ok(doc) => queue.push_back(Arc::clone(&doc.root)),
                Err(e) => {
                    self.error(Code::InvalidYaml, &file.path, e.line, format!("{}: {}; kustomize fails the whole build", file.path, e.message))
                }
            }
        }
        while let Some(root) = queue.pop_front() {
            if is_nothing(&root) {
                continue;
            }
            if let Some(problem) = not_an_object(&root) {
                self.error(Code::InvalidObject, &file.path, root.line, format!("{problem}; kustomize fails the whole build"));
                continue;
            }
            if !root.kind().ends_with("List") || root.get("items").is_none() {
                let sops = is_sops(&root);
                out.push(Resource::new(path.clone(), root.line, root, sops));
                continue;
            }
            match &root.get("items").map(|n| &n.value) {
                Some(Value::Seq(items)) => queue.extend(items.iter().map(|item| Arc::new(item.clone()))),
                Some(Value::Null) | None => {}
                Some(_) => {
                    let message = format!("expected array in {}/items; kustomize fails the whole build", root.kind());
                    self.error(Code::InvalidObject, &file.path, root.line, message);
                }
            }
        }
        out
    }

    fn push_unreadable(&mut self, file: &SourceFile) {
        if let Some(d) = &file.unreadable {
            let mut d = d.clone();
            d.code = Code::InvalidYaml;
            d.severity = crate::diagnostic::Severity::Error;
            d.message = format!("{}; the build that includes it fails", d.message);
            self.build.diagnostics.push(d);
        }
    }

    /// What kustomize does once, at the top: hash suffixes, then references to renamed
    /// objects, then dropping local configuration.
    fn finish(&mut self, built: &mut Built) {
        generator::add_hash_suffixes(&mut built.resources);
        let config = built.config.as_deref();
        nameref::fix(&mut built.resources, config, &mut self.build.diagnostics);
        built.resources.retain(|r| {
            r.manifest.at(&["metadata", "annotations", LOCAL_CONFIG]).and_then(Node::scalar_str) != Some("true")
        });
        for r in &mut built.resources {
            if annotations_need_rewrite(&r.manifest) {
                let m = Arc::make_mut(&mut r.manifest);
                rewrite_annotations(m);
            }
        }
    }
}

/// kustomize keeps its own annotations on every object while it builds and writes the map back
/// when it takes them off: annotations that are no map, or an empty one, are gone, and every
/// value is a string (`api/resource/resource.go`, `SetAnnotations`).
fn annotations_need_rewrite(manifest: &Node) -> bool {
    match manifest.at(&["metadata", "annotations"]) {
        None => false,
        Some(a) => !a.is_map() || a.entries().is_empty() || a.entries().iter().any(|(_, v)| !matches!(v.value, Value::Str(_))),
    }
}

fn rewrite_annotations(manifest: &mut Node) {
    let Some(meta) = manifest.get_mut("metadata") else { return };
    let keep = meta.get("annotations").is_some_and(|a| a.is_map() && !a.entries().is_empty());
    if !keep {
        meta.remove("annotations");
        return;
    }
    if let Some(Value::Map(entries)) = meta.get_mut("annotations").map(|a| &mut a.value) {
        for (_, v) in entries.iter_mut() {
            let text = match &v.value {
                Value::Null => String::new(),
                _ => v.scalar_text().unwrap_or_else(|| v.to_json().to_string()),
            };
            v.value = Value::Str(text);
        }
    }
}

/// A kustomization file of `kind: Component`.
/// A document kustomize skips: null, or an empty map, list or string (kyaml's `IsNilOrEmpty`).
fn is_nothing(root: &Node) -> bool {
    match &root.value {
        Value::Null => true,
        Value::Map(entries) => entries.is_empty(),
        Value::Seq(items) => items.is_empty(),
        Value::Str(s) => s.is_empty(),
        _ => false,
    }
}

/// Why kustomize takes a document for no object (kyaml's `GetValidatedMetadata`): it needs a
/// kind and, unless a list, a name; an apiVersion it does not ask for.
fn not_an_object(root: &Node) -> Option<&'static str> {
    fn text(n: Option<&Node>) -> Option<&str> {
        n.and_then(Node::scalar_str).filter(|s| !s.is_empty())
    }
    let metadata = root.get("metadata").filter(|m| !is_nothing(m));
    let name = text(metadata.and_then(|m| m.get("name")));
    let kind = text(root.get("kind"));
    if kind.is_none() {
        let something = text(root.get("apiVersion")).is_some()
            || name.is_some()
            || ["namespace", "labels", "annotations"].iter().any(|k| metadata.and_then(|m| m.get(k)).is_some_and(|n| !is_nothing(n)));
        return Some(if something { "missing kind in object" } else { "missing Resource metadata: not a Kubernetes object" });
    }
    if !kind.is_some_and(|k| k.ends_with("List")) && name.is_none() {
        return Some("missing metadata.name in object");
    }
    None
}

fn is_component(root: &Node) -> bool {
    root.get("kind").and_then(Node::as_str) == Some("Component")
}

/// The origin of an entry of a kustomization file.
fn origin(file: &str, line: u32) -> Origin {
    Origin { file: Arc::from(file), line }
}

/// A document is SOPS-encrypted when it carries SOPS's metadata block.
pub fn is_sops(manifest: &Node) -> bool {
    manifest.get("sops").is_some_and(|s| s.get("mac").is_some() || s.get("lastmodified").is_some())
}

/// URLs and git references kustomize would fetch.
pub fn is_remote(entry: &str) -> bool {
    entry.contains("://") || entry.starts_with("git@") || entry.starts_with("github.com/") || entry.contains("?ref=")
}

/// `dir` + `/` + `rel`, without the separator when `dir` is the root.
pub fn join(dir: &str, rel: &str) -> String {
    if dir.is_empty() { rel.to_string() } else { format!("{dir}/{rel}") }
}

/// Resolves `.` and `..` and drops empty parts; `None` when the path leaves the root.
/// Absolute paths are taken as relative to the root, as Flux's `spec.path` is.
pub fn normalize(path: &str) -> Option<String> {
    // One pass and one allocation: every Kustomization's path goes through here.
    let mut out = String::with_capacity(path.len());
    for part in path.split(|c| c == '/' || c == '\\') {
        match part {
            "" | "." => {}
            ".." => {
                if out.is_empty() {
                    return None;
                }
                out.truncate(out.rfind('/').unwrap_or(0));
            }
            p => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(p);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
