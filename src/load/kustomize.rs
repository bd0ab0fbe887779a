//! Kustomize resolution: a directory of the [`Repository`] → the manifests it builds to.
//!
//! Follows `resources:` (and legacy `bases:`), `components:`, `patches:` /
//! `patchesStrategicMerge:` / `patchesJson6902:`, `namespace:`, `namePrefix:` /
//! `nameSuffix:` and `commonLabels:` / `labels:`, recursively, in kustomize's order
//! (resources, components, patches, then namespace and names). A directory without a
//! kustomization file gets the one Flux generates: every `.yaml`/`.yml` below it, except
//! that a sub-directory with its own kustomization file is one unit. Remote resources are
//! noted, never fetched. Written by hand because no Rust kustomize exists; it covers what
//! decides which Flux objects a Kustomization applies, not every kustomize transformer.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use rayon::prelude::*;

use super::patch::{Patch, Target};
use super::manifest::Manifest;
use super::yaml::{Node, Value};
use super::{Repository, SourceFile};
use crate::diagnostic::{Code, Diagnostic};

/// Names kustomize recognises for its file, in its order of preference.
pub const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Marks a generated ConfigMap or Secret whose inputs are not all readable here, so that
/// substitution treats its variables as unknown rather than undefined.
pub const UNKNOWN_DATA_ANNOTATION: &str = "fluxgraph.local/unknown-data";

/// Nesting deeper than this is refused (`kustomization-too-deep`), so that a hostile chain of
/// folders cannot exhaust the stack; real repositories nest a handful deep.
const MAX_DEPTH: usize = 64;

/// One manifest in a build, with where it was written.
#[derive(Debug, Clone)]
pub struct Resource {
    pub file: Arc<str>,
    /// Line of the document in `file`.
    pub line: u32,
    /// Shared with the parsed file until a patch or transformer changes it.
    pub manifest: Arc<Node>,
    /// The document carries SOPS metadata: its values are encrypted.
    pub sops: bool,
}

/// What a Flux Kustomization adds on top of the kustomization file at its path.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub namespace: Option<String>,
    pub patches: Vec<Patch>,
    /// Component directories, relative to the repository root.
    pub components: Vec<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
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
                match kustomization_file(repo, dir) {
                    Some(file) => drop(builder.kustomization(dir, file, Some(&overlay))),
                    None => {
                        let mut resources = builder.generated(dir);
                        builder.overlay_components(dir, &overlay, &mut resources);
                    }
                }
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
    let resources = match kustomization_file(repo, dir) {
        Some(file) => builder.kustomization(dir, file, Some(overlay)),
        None => {
            let mut resources = builder.generated(dir);
            builder.overlay_components(dir, overlay, &mut resources);
            builder.finish_layer(&mut resources, &[], overlay.namespace.as_deref(), overlay);
            resources
        }
    };
    builder.build.resources = resources;
    builder.build
}

struct Builder<'a> {
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
}

impl<'a> Builder<'a> {
    /// Flux's generated kustomization: every YAML file below `dir`, recursively, stopping at
    /// sub-directories that hold a kustomization file (each built as one unit).
    fn generated(&mut self, dir: &str) -> Vec<Resource> {
        let mut out = Vec::new();
        if self.seen(dir) {
            return out;
        }
        for file in self.repo.files_in(dir) {
            self.build.files.insert(file.path.clone());
            out.extend(self.file_resources(file, true));
        }
        let subdirs: Vec<&str> = self.repo.subdirs(dir).collect();
        for sub in subdirs {
            match kustomization_file(self.repo, sub) {
                Some(k) => out.extend(self.kustomization(sub, k, None)),
                None => out.extend(self.generated(sub)),
            }
        }
        out
    }

    /// The Flux Kustomization's `spec.components`, which Flux adds to the kustomization it
    /// generates for a folder without one as it does to a written one.
    fn overlay_components(&mut self, dir: &str, overlay: &Overlay, resources: &mut Vec<Resource>) {
        for component in &overlay.components {
            self.component(component, dir, 0, resources);
        }
    }

    fn kustomization(&mut self, dir: &str, kfile: &'a SourceFile, overlay: Option<&Overlay>) -> Vec<Resource> {
        self.build.files.insert(kfile.path.clone());
        if overlay.is_none_or(|o| o.components.is_empty()) && self.seen(dir) {
            return Vec::new();
        }
        if let Some(start) = self.stack.iter().position(|d| d == dir) {
            let chain = self.stack[start..].iter().chain([&dir.to_string()]).cloned().collect::<Vec<_>>().join(" -> ");
            self.build.diagnostics.push(Diagnostic::error(
                Code::KustomizationCycle,
                kfile.path.clone(),
                0,
                format!("kustomization files include each other: {chain}"),
            ));
            return Vec::new();
        }
        // A straight chain this deep is not a cycle: say it is a limit that was reached.
        if self.stack.len() > MAX_DEPTH {
            self.build.diagnostics.push(Diagnostic::error(
                Code::KustomizationTooDeep,
                kfile.path.clone(),
                0,
                format!(
                    "kustomization files nest more than {MAX_DEPTH} deep ({} -> … -> {dir}); what lies deeper is left out",
                    self.stack[0]
                ),
            ));
            return Vec::new();
        }
        let root = match kfile.documents.first() {
            Some(Ok(doc)) => Arc::clone(&doc.root),
            Some(Err(e)) => {
                self.build.diagnostics.push(Diagnostic::error(
                    Code::InvalidYaml,
                    kfile.path.clone(),
                    e.line,
                    format!("kustomization file is not valid YAML: {}", e.message),
                ));
                return Vec::new();
            }
            None if kfile.unreadable.is_some() => {
                self.push_unreadable(kfile);
                return Vec::new();
            }
            None => Arc::new(Node::new(1, Value::Map(Vec::new()))),
        };
        self.stack.push(dir.to_string());
        let mut resources = Vec::new();
        self.listed_resources(dir, &root, &kfile.path, &mut resources);
        self.generators(dir, &root, &kfile.path, &mut resources);
        let mut components: Vec<(String, String, u32)> = root
            .get("components")
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| Some((normalize(&join(dir, &n.scalar_text()?))?, kfile.path.clone(), n.line)))
            .collect();
        if let Some(o) = overlay {
            components.extend(o.components.iter().map(|c| (c.clone(), kfile.path.clone(), 0)));
        }
        for (component, from, line) in components {
            self.component(&component, &from, line, &mut resources);
        }
        let patches = self.patches(dir, &root, &kfile.path);
        let namespace = overlay
            .and_then(|o| o.namespace.as_deref())
            .map(str::to_string)
            .or_else(|| root.get("namespace").and_then(Node::scalar_text).filter(|s| !s.is_empty()));
        let layer = Layer::read(&root);
        let empty = Overlay::default();
        let overlay = overlay.unwrap_or(&empty);
        apply_patches(&patches, &mut resources, &mut self.build.diagnostics, &kfile.path);
        let json6902 = layer.json6902(self, dir, &kfile.path);
        self.finish_layer(&mut resources, &json6902, namespace.as_deref(), overlay);
        layer.apply(&mut resources);
        self.stack.pop();
        resources
    }

    /// What every layer does last: the Flux overlay's patches, the namespace, the names.
    fn finish_layer(&mut self, resources: &mut Vec<Resource>, json6902: &[Patch], namespace: Option<&str>, overlay: &Overlay) {
        apply_patches(&overlay.patches, resources, &mut self.build.diagnostics, "");
        if let Some(ns) = namespace {
            for r in resources.iter_mut() {
                set_namespace(&mut r.manifest, ns);
            }
        }
        if overlay.name_prefix.is_some() || overlay.name_suffix.is_some() {
            for r in resources.iter_mut() {
                rename(&mut r.manifest, overlay.name_prefix.as_deref(), overlay.name_suffix.as_deref());
            }
        }
        apply_patches(json6902, resources, &mut self.build.diagnostics, "");
    }

    /// What a kustomization file's `resources:` (and legacy `bases:`) list, in order.
    fn listed_resources(&mut self, dir: &str, root: &Node, from: &str, out: &mut Vec<Resource>) {
        for key in ["resources", "bases"] {
            for entry in root.get(key).map(Node::as_seq).unwrap_or_default() {
                let Some(rel) = entry.scalar_text() else { continue };
                let added = self.resource(dir, &rel, from, entry.line);
                out.extend(added);
            }
        }
    }

    /// `configMapGenerator:` and `secretGenerator:`: the ConfigMaps and Secrets they make,
    /// with their data (a Secret's keys only). The name keeps no hash suffix: kustomize
    /// rewrites the references it knows to the hashed name, so the plain name is what
    /// joins them here. An input not readable here leaves the object's data open.
    fn generators(&mut self, dir: &str, root: &Node, from: &str, out: &mut Vec<Resource>) {
        if !self.manifests {
            return;
        }
        for (key, kind) in [("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")] {
            for generator in root.get(key).map(Node::as_seq).unwrap_or_default() {
                let Some(name) = generator.get("name").and_then(Node::scalar_text) else { continue };
                let (data, open) = self.generator_data(dir, generator, kind == "Secret", from);
                let behavior = generator.get("behavior").and_then(Node::as_str).unwrap_or("create");
                if behavior != "create" {
                    let existing = out.iter_mut().find(|r| {
                        r.manifest.kind() == kind && r.manifest.name() == Some(name.as_str())
                    });
                    if let Some(existing) = existing {
                        let manifest = Arc::make_mut(&mut existing.manifest);
                        if behavior == "replace" {
                            manifest.set("data", Value::Map(Vec::new()));
                        }
                        let target = manifest.map_mut("data");
                        for (k, v) in data {
                            target.set(&k, Value::Str(v));
                        }
                        continue;
                    }
                }
                let mut metadata = vec![("name".to_string(), Node::new(generator.line, Value::Str(name)))];
                if let Some(ns) = generator.get("namespace").and_then(Node::scalar_text) {
                    metadata.push(("namespace".to_string(), Node::new(generator.line, Value::Str(ns))));
                }
                if open {
                    let note = Node::new(generator.line, Value::Str("true".into()));
                    let annotations = Node::new(generator.line, Value::Map(vec![(UNKNOWN_DATA_ANNOTATION.to_string(), note)]));
                    metadata.push(("annotations".to_string(), annotations));
                }
                let data = data.into_iter().map(|(k, v)| (k, Node::new(generator.line, Value::Str(v)))).collect();
                let text = |t: &str| Node::new(generator.line, Value::Str(t.to_string()));
                let manifest = Node::new(
                    generator.line,
                    Value::Map(vec![
                        ("apiVersion".to_string(), text("v1")),
                        ("kind".to_string(), text(kind)),
                        ("metadata".to_string(), Node::new(generator.line, Value::Map(metadata))),
                        ("data".to_string(), Node::new(generator.line, Value::Map(data))),
                    ]),
                );
                out.push(Resource { file: Arc::from(from), line: generator.line, manifest: Arc::new(manifest), sops: false });
            }
        }
    }

    /// A generator's data, and whether some input could not be read. A Secret's values are
    /// never kept: only its keys.
    fn generator_data(&mut self, dir: &str, generator: &Node, secret: bool, from: &str) -> (Vec<(String, String)>, bool) {
        let mut data = Vec::new();
        let mut open = false;
        let keep = |v: &str| if secret { String::new() } else { v.to_string() };
        for literal in generator.get("literals").map(Node::as_seq).unwrap_or_default() {
            if let Some((k, v)) = literal.scalar_text().as_deref().and_then(|l| l.split_once('=')) {
                data.push((k.trim().to_string(), keep(v.trim_matches('"'))));
            }
        }
        for entry in generator.get("files").map(Node::as_seq).unwrap_or_default() {
            let Some(text) = entry.scalar_text() else { continue };
            let (key, rel) = match text.split_once('=') {
                Some((k, p)) => (k.trim().to_string(), p.trim().to_string()),
                None => (text.rsplit('/').next().unwrap_or(&text).to_string(), text.clone()),
            };
            match self.input(dir, &rel, from, entry.line) {
                Some(content) => data.push((key, keep(&content))),
                None => {
                    open = true;
                    data.push((key, String::new()));
                }
            }
        }
        let mut envs: Vec<&Node> = generator.get("envs").map(Node::as_seq).unwrap_or_default().iter().collect();
        envs.extend(generator.get("env"));
        for entry in envs {
            let Some(rel) = entry.scalar_text() else { continue };
            match self.input(dir, &rel, from, entry.line) {
                Some(content) => {
                    for line in content.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                        match line.split_once('=') {
                            Some((k, v)) => data.push((k.trim().to_string(), keep(v.trim().trim_matches('"')))),
                            // `KEY` alone takes its value from kustomize's environment.
                            None => open = true,
                        }
                    }
                }
                None => open = true,
            }
        }
        (data, open)
    }

    /// The text of a generator's input file, or `None` (reported) when it is not here.
    fn input(&mut self, dir: &str, rel: &str, from: &str, line: u32) -> Option<String> {
        let path = normalize(&join(dir, rel))?;
        if let Some(file) = self.repo.files.get(&path) {
            self.build.files.insert(path);
            return Some(file.text.to_string());
        }
        if let Some(text) = self.repo.inputs.get(&path) {
            self.build.files.insert(path);
            return Some(text.to_string());
        }
        if !self.repo.is_file(&path) {
            self.build.diagnostics.push(Diagnostic::warning(
                Code::PathNotFound,
                from,
                line,
                format!("generator input {path} is not in the repository; kustomize fails the build without it"),
            ));
        }
        None
    }

    fn resource(&mut self, dir: &str, rel: &str, from: &str, line: u32) -> Vec<Resource> {
        if is_remote(rel) {
            self.build.diagnostics.push(Diagnostic::info(
                Code::RemoteResource,
                from,
                line,
                format!("remote resource {rel} is applied too, but fluxgraph does not fetch it"),
            ));
            return Vec::new();
        }
        let Some(path) = normalize(&join(dir, rel)) else {
            self.build.diagnostics.push(Diagnostic::error(
                Code::PathNotFound,
                from,
                line,
                format!("resource {rel} points outside the repository"),
            ));
            return Vec::new();
        };
        if let Some(file) = self.repo.files.get(&path) {
            self.build.files.insert(path);
            return self.file_resources(file, false);
        }
        if self.repo.is_dir(&path) {
            return match kustomization_file(self.repo, &path) {
                Some(k) => self.kustomization(&path, k, None),
                None => {
                    self.build.diagnostics.push(Diagnostic::error(
                        Code::PathNotFound,
                        from,
                        line,
                        format!("resource directory {path} has no kustomization.yaml, so kustomize cannot build it"),
                    ));
                    Vec::new()
                }
            };
        }
        let what = if self.repo.is_file(&path) { "is not a YAML file" } else { "does not exist" };
        self.build.diagnostics.push(Diagnostic::error(Code::PathNotFound, from, line, format!("resource {path} {what}")));
        Vec::new()
    }

    fn component(&mut self, dir: &str, from: &str, line: u32, resources: &mut Vec<Resource>) {
        let Some(kfile) = kustomization_file(self.repo, dir) else {
            let what = if self.repo.is_dir(dir) { "has no kustomization.yaml" } else { "does not exist" };
            self.build.diagnostics.push(Diagnostic::error(Code::PathNotFound, from, line, format!("component {dir} {what}")));
            return;
        };
        // A component adds its resources, then patches everything built so far.
        let Some(Ok(doc)) = kfile.documents.first() else {
            resources.extend(self.kustomization(dir, kfile, None));
            return;
        };
        let root = Arc::clone(&doc.root);
        self.build.files.insert(kfile.path.clone());
        self.stack.push(dir.to_string());
        self.listed_resources(dir, &root, &kfile.path, resources);
        self.generators(dir, &root, &kfile.path, resources);
        for nested in root.get("components").map(Node::as_seq).unwrap_or_default() {
            if let Some(c) = nested.scalar_text().and_then(|c| normalize(&join(dir, &c))) {
                self.component(&c, &kfile.path, nested.line, resources);
            }
        }
        let patches = self.patches(dir, &root, &kfile.path);
        apply_patches(&patches, resources, &mut self.build.diagnostics, &kfile.path);
        let layer = Layer::read(&root);
        let json6902 = layer.json6902(self, dir, &kfile.path);
        apply_patches(&json6902, resources, &mut self.build.diagnostics, &kfile.path);
        layer.apply(resources);
        self.stack.pop();
    }

    /// `patches:` and `patchesStrategicMerge:` of a kustomization file.
    fn patches(&mut self, dir: &str, root: &Node, from: &str) -> Vec<Patch> {
        let mut out = Vec::new();
        for entry in root.get("patches").map(Node::as_seq).unwrap_or_default() {
            let target = entry.get("target").map(Target::read);
            let parsed = if let Some(inline) = entry.get("patch").and_then(Node::as_str) {
                Patch::parse(inline, target)
            } else if let Some(path) = entry.get("path").and_then(Node::as_str) {
                self.patch_file(dir, path, from, entry.line).map(|text| Patch::parse(&text, target))
                    .unwrap_or_else(|| Err(String::new()))
            } else {
                Err("a patch needs `patch:` or `path:`".into())
            };
            self.keep_patch(parsed, &mut out, from, entry.line);
        }
        for entry in root.get("patchesStrategicMerge").map(Node::as_seq).unwrap_or_default() {
            let Some(value) = entry.as_str() else { continue };
            let parsed = if value.contains('\n') || value.contains(':') && !value.ends_with(".yaml") && !value.ends_with(".yml") {
                Patch::parse(value, None)
            } else {
                self.patch_file(dir, value, from, entry.line).map(|t| Patch::parse(&t, None)).unwrap_or_else(|| Err(String::new()))
            };
            self.keep_patch(parsed, &mut out, from, entry.line);
        }
        out
    }

    fn keep_patch(&mut self, parsed: Result<Patch, String>, out: &mut Vec<Patch>, from: &str, line: u32) {
        match parsed {
            Ok(p) => out.push(p),
            Err(msg) if msg.is_empty() => {}
            Err(msg) => self.build.diagnostics.push(Diagnostic::error(Code::InvalidYaml, from, line, msg)),
        }
    }

    /// Reads a patch file; reports it when missing.
    fn patch_file(&mut self, dir: &str, rel: &str, from: &str, line: u32) -> Option<String> {
        let path = normalize(&join(dir, rel));
        match path.as_ref().and_then(|p| self.repo.files.get(p)) {
            Some(file) => {
                self.build.files.insert(file.path.clone());
                Some(file.text.to_string())
            }
            None => {
                self.build.diagnostics.push(Diagnostic::error(
                    Code::PathNotFound,
                    from,
                    line,
                    format!("patch file {} does not exist", path.unwrap_or_else(|| rel.to_string())),
                ));
                None
            }
        }
    }

    /// The documents of a file as resources. In a generated build, a file that is not a
    /// Kubernetes object fails the whole build, as it does in Flux.
    fn file_resources(&mut self, file: &SourceFile, generated: bool) -> Vec<Resource> {
        if !self.manifests {
            return Vec::new();
        }
        if file.unreadable.is_some() {
            self.push_unreadable(file);
            return Vec::new();
        }
        let path: Arc<str> = Arc::from(file.path.as_str());
        let mut out = Vec::new();
        for doc in &file.documents {
            match doc {
                Ok(doc) => {
                    let (api, kind) = (doc.root.api_version(), doc.root.kind());
                    if api.is_empty() || kind.is_empty() {
                        if doc.root.is_map() || generated {
                            self.build.diagnostics.push(Diagnostic::error(
                                Code::InvalidObject,
                                file.path.clone(),
                                doc.line,
                                "not a Kubernetes object (apiVersion and kind are required); kustomize fails the whole build".to_string(),
                            ));
                        }
                        continue;
                    }
                    if doc.root.get("kind").and_then(Node::as_str) == Some("List") {
                        for item in doc.root.get("items").map(Node::as_seq).unwrap_or_default() {
                            out.push(Resource { file: path.clone(), line: item.line, manifest: Arc::new(item.clone()), sops: false });
                        }
                        continue;
                    }
                    out.push(Resource { file: path.clone(), line: doc.line, sops: is_sops(&doc.root), manifest: Arc::clone(&doc.root) });
                }
                Err(e) => self.build.diagnostics.push(Diagnostic::error(
                    Code::InvalidYaml,
                    file.path.clone(),
                    e.line,
                    format!("{}: {}; kustomize fails the whole build", file.path, e.message),
                )),
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
}

/// Label and name changes of one kustomization file.
struct Layer {
    labels: Vec<(String, String)>,
    prefix: Option<String>,
    suffix: Option<String>,
    json6902: Vec<(Node, u32)>,
}

impl Layer {
    fn read(root: &Node) -> Layer {
        let mut labels: Vec<(String, String)> = root
            .get("commonLabels")
            .map(Node::entries)
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.scalar_text()?)))
            .collect();
        for group in root.get("labels").map(Node::as_seq).unwrap_or_default() {
            for (k, v) in group.get("pairs").map(Node::entries).unwrap_or_default() {
                if let Some(v) = v.scalar_text() {
                    labels.push((k.clone(), v));
                }
            }
        }
        let text = |k: &str| root.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
        Layer {
            labels,
            prefix: text("namePrefix"),
            suffix: text("nameSuffix"),
            json6902: root
                .get("patchesJson6902")
                .map(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .map(|n| (n.clone(), n.line))
                .collect(),
        }
    }

    fn json6902(&self, builder: &mut Builder<'_>, dir: &str, from: &str) -> Vec<Patch> {
        let mut out = Vec::new();
        for (entry, line) in &self.json6902 {
            let target = entry.get("target").map(Target::read);
            let parsed = if let Some(inline) = entry.get("patch").and_then(Node::as_str) {
                Patch::parse(inline, target)
            } else if let Some(path) = entry.get("path").and_then(Node::as_str) {
                builder.patch_file(dir, path, from, *line).map(|t| Patch::parse(&t, target)).unwrap_or_else(|| Err(String::new()))
            } else {
                continue;
            };
            builder.keep_patch(parsed, &mut out, from, *line);
        }
        out
    }

    fn apply(&self, resources: &mut [Resource]) {
        for r in resources.iter_mut() {
            if self.prefix.is_some() || self.suffix.is_some() {
                rename(&mut r.manifest, self.prefix.as_deref(), self.suffix.as_deref());
            }
            for (k, v) in &self.labels {
                set_label(&mut r.manifest, k, v);
            }
        }
    }
}

fn apply_patches(patches: &[Patch], resources: &mut Vec<Resource>, diagnostics: &mut Vec<Diagnostic>, from: &str) {
    for patch in patches {
        resources.retain_mut(|r| {
            if !patch.selects(&r.manifest) {
                return true;
            }
            match patch.apply(&r.manifest) {
                Ok(Some(m)) => {
                    r.manifest = Arc::new(m);
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    diagnostics.push(Diagnostic::error(
                        Code::InvalidYaml,
                        if from.is_empty() { r.file.to_string() } else { from.to_string() },
                        r.line,
                        format!("patch failed on {}: {e}", r.manifest.name().unwrap_or_default()),
                    ));
                    true
                }
            }
        });
    }
}

/// Kinds that have no namespace; kustomize's namespace transformer leaves them alone.
fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace" | "CustomResourceDefinition" | "ClusterRole" | "ClusterRoleBinding" | "ClusterIssuer"
            | "StorageClass" | "PriorityClass" | "PersistentVolume" | "IngressClass" | "GatewayClass"
            | "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" | "APIService"
            | "CSIDriver" | "RuntimeClass" | "ClusterSecretStore" | "ClusterPolicy" | "Node"
            | "VolumeSnapshotClass" | "ClusterIssuers" | "ClusterExternalSecret"
    )
}

fn set_namespace(manifest: &mut Arc<Node>, namespace: &str) {
    let kind = manifest.get("kind").and_then(Node::as_str).unwrap_or("");
    if is_cluster_scoped(kind) || manifest.namespace() == Some(namespace) {
        return;
    }
    Arc::make_mut(manifest).map_mut("metadata").set("namespace", Value::Str(namespace.to_string()));
}

fn rename(manifest: &mut Arc<Node>, prefix: Option<&str>, suffix: Option<&str>) {
    if manifest.get("kind").and_then(Node::as_str) == Some("Namespace") {
        return;
    }
    if let Some(name) = Arc::make_mut(manifest).get_mut("metadata").and_then(|m| m.get_mut("name")) {
        if let Value::Str(n) = &mut name.value {
            *n = format!("{}{}{}", prefix.unwrap_or(""), n, suffix.unwrap_or(""));
        }
    }
}

fn set_label(manifest: &mut Arc<Node>, key: &str, value: &str) {
    if manifest.at(&["metadata", "labels", key]).and_then(Node::as_str) == Some(value) {
        return;
    }
    Arc::make_mut(manifest).set_metadata("labels", key, value);
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
    // Most paths are written clean: one scan and one copy, no splitting and joining.
    if !path.contains('\\') && path.split('/').all(|p| !p.is_empty() && p != "." && p != "..") {
        return Some(path.to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}


#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn repo(files: &[(&str, &str)]) -> Repository {
        Repository::from_files(Path::new("/r"), files.iter().copied())
    }

    fn names(build: &Build) -> Vec<String> {
        build
            .resources
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r.manifest.namespace().unwrap_or_default(),
                    r.manifest.name().unwrap_or_default()
                )
            })
            .collect()
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ";

    #[test]
    fn generated_kustomization_stops_at_units() {
        let r = repo(&[
            ("apps/a.yaml", &format!("{CM}a\n")),
            ("apps/deep/b.yml", &format!("{CM}b\n")),
            ("apps/unit/kustomization.yaml", "resources:\n  - c.yaml\n"),
            ("apps/unit/c.yaml", &format!("{CM}c\n")),
            ("apps/unit/not-listed.yaml", &format!("{CM}d\n")),
            ("apps/notes.txt", "hello"),
        ]);
        let b = build(&r, "apps", &Overlay::default());
        assert_eq!(names(&b), ["/a", "/b", "/c"]);
        assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
    }

    #[test]
    fn overlay_components_apply_to_a_generated_kustomization() {
        let r = repo(&[
            ("apps/a.yaml", &format!("{CM}a\n")),
            ("comp/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - b.yaml\n"),
            ("comp/b.yaml", &format!("{CM}b\n")),
        ]);
        let b = build(&r, "apps", &Overlay { components: vec!["comp".into()], ..Overlay::default() });
        assert_eq!(names(&b), ["/a", "/b"]);
        assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
    }

    #[test]
    fn outermost_namespace_wins_and_overlay_wins_over_all() {
        let r = repo(&[
            ("a/kustomization.yaml", "namespace: outer\nresources:\n  - ../b\n"),
            ("b/kustomization.yaml", "namespace: inner\nresources:\n  - cm.yaml\n"),
            ("b/cm.yaml", &format!("{CM}x\n  namespace: own\n")),
        ]);
        assert_eq!(names(&build(&r, "a", &Overlay::default())), ["outer/x"]);
        assert_eq!(names(&build(&r, "b", &Overlay::default())), ["inner/x"]);
        let o = Overlay { namespace: Some("target".into()), ..Overlay::default() };
        assert_eq!(names(&build(&r, "a", &o)), ["target/x"]);
    }

    #[test]
    fn a_chain_deeper_than_the_limit_is_too_deep_not_a_cycle() {
        let chain = |n: usize| {
            let mut files: Vec<(String, String)> =
                (0..n).map(|i| (format!("f{i}/kustomization.yaml"), format!("resources:\n  - ../f{}\n", i + 1))).collect();
            files.push((format!("f{n}/kustomization.yaml"), "resources:\n  - cm.yaml\n".into()));
            files.push((format!("f{n}/cm.yaml"), format!("{CM}x\n")));
            Repository::from_files(Path::new("/r"), files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
        };
        let b = build(&chain(30), "f0", &Overlay::default());
        assert_eq!(names(&b), ["/x"]);
        assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
        let b = build(&chain(66), "f0", &Overlay::default());
        let codes: Vec<_> = b.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::KustomizationTooDeep]);
        assert!(b.diagnostics[0].message.contains("more than 64 deep (f0 -> … -> f65)"), "{}", b.diagnostics[0].message);
    }

    #[test]
    fn missing_resources_remote_urls_and_cycles_are_reported() {
        let r = repo(&[
            ("a/kustomization.yaml", "resources:\n  - missing.yaml\n  - https://example.com/x.yaml\n  - ../b\n"),
            ("b/kustomization.yaml", "resources:\n  - ../a\n"),
        ]);
        let b = build(&r, "a", &Overlay::default());
        let codes: Vec<_> = b.diagnostics.iter().map(|d| (d.code, d.line)).collect();
        assert_eq!(codes, [(Code::PathNotFound, 2), (Code::RemoteResource, 3), (Code::KustomizationCycle, 0)]);
    }

    #[test]
    fn components_add_and_patch() {
        let r = repo(&[
            ("app/kustomization.yaml", "resources:\n  - cm.yaml\ncomponents:\n  - ../comp\n"),
            ("app/cm.yaml", &format!("{CM}x\n")),
            ("comp/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - extra.yaml\npatches:\n  - patch: |\n      - op: add\n        path: /data\n        value: {k: v}\n    target:\n      kind: ConfigMap\n"),
            ("comp/extra.yaml", &format!("{CM}y\n")),
        ]);
        let b = build(&r, "app", &Overlay::default());
        assert_eq!(names(&b), ["/x", "/y"]);
        assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
        assert!(b.resources.iter().all(|r| r.manifest.at(&["data", "k"]).is_some()), "{:?}", b.resources);
    }

    #[test]
    fn generated_build_rejects_non_objects() {
        let r = repo(&[("d/values.yaml", "replicas: 2\n"), ("d/bad.yaml", "a: [\n")]);
        let b = build(&r, "d", &Overlay::default());
        let codes: Vec<_> = b.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::InvalidYaml, Code::InvalidObject]);
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("./a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(normalize("/abs/x").as_deref(), Some("abs/x"));
        assert_eq!(normalize("a/../../x"), None);
        assert_eq!(normalize("./").as_deref(), Some(""));
        assert_eq!(normalize("").as_deref(), Some(""));
        assert_eq!(normalize("apps/base/podinfo").as_deref(), Some("apps/base/podinfo"));
        assert_eq!(normalize("apps/base/").as_deref(), Some("apps/base"));
        assert_eq!(normalize("apps//base").as_deref(), Some("apps/base"));
        assert_eq!(normalize("apps\\base").as_deref(), Some("apps/base"));
        assert_eq!(normalize("apps/..").as_deref(), Some(""));
    }
}
