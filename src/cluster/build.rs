//! The build of one Flux Kustomization: its object and the cluster found so far → what it
//! applies, as kustomize-controller builds it.
//!
//! In the controller's order: `spec.path` is found in the Kustomization's source (this
//! repository, an ExternalArtifact mapped back into it, or elsewhere and not built); kustomize
//! builds it with the Kustomization's own overlay (patches, components, targetNamespace,
//! name prefix and suffix); postBuild substitutes its variables into every manifest; and
//! `commonMetadata` is set on each (`SetCommonMetadata`, after substitution). The findings
//! on the way are separate functions: a path that does not exist, SOPS files without
//! decryption, variables that no postBuild defines. Reads only, so the resolver runs
//! builds on every core.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::variables::{self, Scope, VariableIndex};
use super::{Applied, Cluster, KustomizationBuild, normalize_url, resourceset};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::load::kustomize::{self, Image, Overlay, Resource, normalize};
use crate::load::patch::{Origin, Patch, Target};
use crate::load::substitute::Variables;
use crate::load::{Manifest, Node, Repository, Value, scalar};
use crate::model::{FluxObject, KustomizationSpec, Identity, ObjectId, Kind, Spec};

/// What a build may read of the cluster resolved so far.
pub(super) struct Context<'a> {
    pub repo: &'a Repository,
    pub cluster: &'a Cluster,
    /// Sources that are this repository, each with the folder their artifact's root is.
    pub local_sources: &'a BTreeMap<ObjectId, String>,
    /// This repository's URLs, normalised.
    pub urls: &'a BTreeSet<String>,
    /// The ConfigMaps and Secrets the cluster applies, as found so far.
    pub applied: &'a VariableIndex,
    /// Whether a Kustomization may be built while an optional substituteFrom source is
    /// still missing (once nothing else moves).
    pub optional_may_miss: bool,
    /// Nothing else will move: build with what is known.
    pub last_round: bool,
}

/// What a Kustomization's postBuild does with `${VAR}`.
pub(super) enum Substitution {
    Defines(Vec<String>),
    Literal(Vec<(String, Arc<str>, u32)>),
}

/// What a build or a ResourceSet applies, sorted as the resolver needs it.
#[derive(Default)]
pub(super) struct Built {
    /// Everything it applies.
    pub objects: Vec<Resource>,
    /// The Flux objects among them, each with whether its manifest holds a variable whose
    /// value is not known here.
    pub children: Vec<(Resource, bool)>,
    pub inventory: Vec<Applied>,
    /// ConfigMaps and Secrets, for `substituteFrom`.
    pub variables: Vec<Resource>,
    /// ResourceSetInputProviders, for ResourceSets' `inputsFrom`.
    pub providers: Vec<Resource>,
}

impl Built {
    /// `unresolved`: the manifest holds a variable whose value is not known here.
    pub fn add(&mut self, resource: Resource, unresolved: bool) {
        self.inventory.push(applied(&resource));
        let manifest = &resource.manifest;
        if (manifest.api_version() == "v1" && matches!(manifest.kind(), "ConfigMap" | "Secret")) || variables::makes_a_secret(manifest) {
            self.variables.push(resource.clone());
        }
        if resourceset::is_provider(manifest) {
            self.providers.push(resource.clone());
        }
        if manifest.flux_kind().is_some() {
            self.children.push((resource.clone(), unresolved));
        }
        self.objects.push(resource);
    }

    pub fn into_outcome(self, files: BTreeSet<String>, substitution: Substitution, error: Option<Diagnostic>) -> Outcome {
        Outcome::Built {
            build: KustomizationBuild { files, objects: self.objects, error },
            children: self.children,
            inventory: self.inventory,
            variables: self.variables,
            providers: self.providers,
            substitution,
        }
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

pub(super) enum Outcome {
    /// Its source is an ExternalArtifact whose generator is not known yet, or a
    /// `substituteFrom` source the cluster has not applied yet: it waits for the rest.
    Deferred,
    External(String),
    /// The build fails, for the reason given: nothing is applied.
    Failed(Diagnostic),
    Built {
        build: KustomizationBuild,
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

/// Builds one Kustomization: what it applies, and what is wrong with it.
pub(super) fn kustomization(ctx: &Context<'_>, object: &FluxObject, diagnostics: &mut Vec<Diagnostic>) -> Outcome {
    let Some(spec) = object.kustomization() else { return Outcome::Unresolved };
    let path = match locate(ctx, object, spec, diagnostics) {
        Ok(path) => path,
        Err(outcome) => return outcome,
    };
    // substituteFrom reads what the cluster applies; a source it has not applied yet may
    // come from a Kustomization still to be built, so this one waits for the rest.
    let mut missing = variables::Missing::default();
    // Once nothing else will move, a source no Kustomization applies is looked for in the files
    // the cluster does not apply: a bootstrap applies such files.
    let outside = ctx.last_round.then_some(variables::Outside { repo: ctx.repo, applied: &ctx.cluster.files });
    let scope = Scope::Cluster { applied: ctx.applied, outside };
    let unresolved = ctx.cluster.unresolved.contains(&object.id);
    let vars = spec.post_build.as_ref().map(|pb| variables::for_kustomization(pb, object, unresolved, scope, diagnostics, &mut missing));
    if !ctx.last_round && (missing.required || (missing.optional && !ctx.optional_may_miss)) {
        return Outcome::Deferred;
    }
    let vars = vars.filter(|v| !v.is_empty());
    let (overlay, unreadable_patches) = overlay(object, &path);
    let mut build = kustomize::build(ctx.repo, &path, &overlay);
    build.diagnostics.extend(unreadable_patches);
    let error = build.diagnostics.iter().find(|d| d.severity == Severity::Error).map(|d| d.clone().on(&object.id));
    diagnostics.extend(build.diagnostics.into_iter().map(|d| d.on(&object.id)));
    let common = common_metadata(&object.manifest);
    let mut undefined: BTreeMap<String, (Arc<str>, u32)> = BTreeMap::new();
    let mut literal: Vec<(Arc<Node>, Arc<str>)> = Vec::new();
    let mut built = Built::default();
    let mut failed = None;
    let sops = sops_without_decryption(object, &build.resources);
    // A name Flux refuses fails every object's substitution: looked for once.
    let invalid = vars.as_ref().and_then(Variables::invalid_name);
    for mut resource in build.resources {
        if !decodes_as_object(&resource.manifest) {
            let message = "failed to decode Kubernetes apiVersion, kind and name: kustomize-controller applies none of the build".to_string();
            failed.get_or_insert(Diagnostic::error(Code::InvalidObject, resource.file.to_string(), resource.line, message).on(&object.id));
            continue;
        }
        // Asked when the build substitutes, or for the unsubstituted-variable lint.
        let asked = vars.is_some() || spec.post_build.is_none();
        let has_dollar = asked && may_hold_dollar(ctx.repo, &resource) && resource.manifest.any_string_contains(b'$');
        let mut unresolved = false;
        if let Some(vars) = vars.as_ref().filter(|_| has_dollar || invalid.is_some()) {
            match substitute(&mut resource, vars, invalid, &mut undefined) {
                Ok(u) => unresolved = u,
                Err(e) => {
                    failed.get_or_insert((*e).on(&object.id));
                    continue;
                }
            }
        }
        if spec.post_build.is_none() && has_dollar {
            literal.push((Arc::clone(&resource.manifest), resource.file.clone()));
        }
        if !common.is_empty() {
            let manifest = Arc::make_mut(&mut resource.manifest);
            for (field, k, v) in &common {
                manifest.set_metadata(field, k, v);
            }
        }
        built.add(resource, unresolved);
    }
    let error = match (error, failed) {
        (Some(e), _) => Some(e),
        (None, Some(f)) => {
            diagnostics.push(f.clone());
            Some(f)
        }
        (None, None) => None,
    };
    diagnostics.extend(undefined_variables(&object.id, undefined));
    diagnostics.extend(sops);
    let substitution = match &vars {
        Some(v) => Substitution::Defines(v.bindings.keys().cloned().collect()),
        None if spec.post_build.is_some() => Substitution::Defines(Vec::new()),
        None => Substitution::Literal(literal_variables(&literal)),
    };
    built.into_outcome(build.files, substitution, error)
}

/// Whether kustomize-controller takes what kustomize built for an object (its `build`, before
/// substitution: "failed to decode Kubernetes apiVersion, kind and name"): kustomize asks for
/// a kind and a name, Flux for an apiVersion too.
fn decodes_as_object(manifest: &Node) -> bool {
    let text = |n: Option<&Node>| matches!(n.map(|n| &n.value), Some(Value::Str(s) | Value::Number(s)) if !s.is_empty()) || n.is_some_and(|n| matches!(n.value, Value::Bool(_)));
    text(manifest.get("apiVersion")) && text(manifest.get("kind")) && text(manifest.at(&["metadata", "name"]))
}

/// The folder `spec.path` builds, or the outcome when it is not built here.
fn locate(ctx: &Context<'_>, object: &FluxObject, spec: &KustomizationSpec, diagnostics: &mut Vec<Diagnostic>) -> Result<String, Outcome> {
    let id = &object.id;
    let path_text = spec.path.as_ref().map_or("", |p| p.value.as_str());
    let path_line = spec.path.as_ref().map_or(object.line, |p| p.line);
    if path_text.contains("${") && ctx.cluster.unresolved.contains(id) {
        diagnostics.push(
            Diagnostic::info(
                Code::UnresolvedVariable,
                &object.file,
                path_line,
                format!("spec.path {path_text:?} depends on a variable whose value is not known here (a Secret, or a source outside the repository); what it applies is not shown"),
            )
            .on(id),
        );
        return Err(Outcome::Unresolved);
    }
    let path = match source_root(ctx, object, path_text) {
        Root::Here(path) => path,
        Root::Elsewhere(external) => {
            diagnostics.push(
                Diagnostic::info(Code::ExternalSource, &object.file, object.line, format!("{id} reads {external}; its path {path_text:?} is not resolved here")).on(id),
            );
            return Err(Outcome::External(external));
        }
        Root::NotYet => return Err(Outcome::Deferred),
    };
    let Some(path) = path else {
        let error = Diagnostic::error(Code::PathNotFound, &object.file, path_line, format!("spec.path {path_text:?} points outside the repository")).on(id);
        diagnostics.push(error.clone());
        return Err(Outcome::Failed(error));
    };
    if !ctx.repo.is_dir(&path) {
        let what = if ctx.repo.is_file(&path) { "is a file, not a directory" } else { "does not exist" };
        let error = Diagnostic::error(Code::PathNotFound, &object.file, path_line, format!("spec.path {path_text:?}: {path} {what}"))
            .on(id)
            .with_hint(closest_dir(ctx.repo, &path));
        diagnostics.push(error.clone());
        return Err(Outcome::Failed(error));
    }
    Ok(path)
}

/// Substitutes `vars` into a manifest as kustomize-controller does (fluxcd/pkg
/// `kustomize_varsub.go`): on the manifest's YAML text, which it then reads again, unless the
/// object disables substitution. A string written plain in that text is read again as YAML 1.1
/// once substituted, so `${PORT}` may become a number, `"${CRON}"`'s quotes go, and an empty
/// value is `null`; the names substituted are kept on the resource. Whether a value stayed
/// unknown; `Err` when Flux's substitution fails (the whole build fails).
fn substitute(resource: &mut Resource, vars: &Variables, invalid: Option<&str>, undefined: &mut BTreeMap<String, (Arc<str>, u32)>) -> Result<bool, Box<Diagnostic>> {
    if substitution_disabled(&resource.manifest) {
        return Ok(false);
    }
    let shown = format!("{}/{}", resource.manifest.kind(), resource.manifest.name().unwrap_or_default());
    let fail = |line: u32, message: String| {
        Box::new(Diagnostic::error(Code::SubstitutionFailed, resource.file.to_string(), line, format!("post build failed for '{shown}': {message}")))
    };
    if let Some(name) = invalid {
        return Err(fail(resource.line, format!("'{name}' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$'")));
    }
    let mut state = Expansion { vars, undefined, file: resource.file.clone(), unresolved: false, used: Vec::new(), changed: false };
    let mut manifest = (*resource.manifest).clone();
    state.node(&mut manifest).map_err(|(line, e)| fail(line, e))?;
    if state.changed {
        resource.manifest = Arc::new(manifest);
    }
    for name in state.used {
        if !resource.substituted.contains(&name) {
            resource.substituted.push(name);
        }
    }
    Ok(state.unresolved)
}

/// One manifest's substitution under way.
struct Expansion<'v> {
    vars: &'v Variables,
    undefined: &'v mut BTreeMap<String, (Arc<str>, u32)>,
    file: Arc<str>,
    unresolved: bool,
    used: Vec<String>,
    /// Some text changed.
    changed: bool,
}

impl Expansion<'_> {
    /// Substitutes into `node` and below; `Err` holds the line and Flux's error.
    fn node(&mut self, node: &mut Node) -> Result<(), (u32, String)> {
        let line = node.line;
        match &mut node.value {
            Value::Str(s) if s.contains('$') => {
                let (text, unknown) = self.text(s, line)?;
                if text != *s {
                    node.value = if scalar::written_plain(s) {
                        match scalar::reread(&text) {
                            Ok(mut value) => {
                                value.set_line_everywhere(line);
                                value.value
                            }
                            // A variable whose value is not known here keeps its `${…}`: the text
                            // Flux reads holds its value instead, which may well be YAML.
                            Err(_) if unknown => Value::Str(text),
                            Err(e) => return Err((line, format!("error converting YAML to JSON: {e}"))),
                        }
                    } else {
                        Value::Str(text)
                    };
                }
            }
            Value::Seq(items) => items.iter_mut().try_for_each(|item| self.node(item))?,
            Value::Map(entries) => {
                for (key, value) in entries.iter_mut() {
                    if key.contains('$') {
                        *key = self.text(key, value.line)?.0;
                    }
                    self.node(value)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The substituted text, and whether a variable in it has a value not known here.
    fn text(&mut self, text: &str, line: u32) -> Result<(String, bool), (u32, String)> {
        let out = self.vars.expand(text).map_err(|e| (line, format!("envsubst error: {e}")))?;
        self.changed |= out.text != text;
        for name in out.undefined {
            self.undefined.entry(name).or_insert_with(|| (self.file.clone(), line));
        }
        let unknown = !out.unresolved.is_empty();
        self.unresolved |= unknown;
        for name in out.used {
            if !self.used.contains(&name) {
                self.used.push(name);
            }
        }
        Ok((out.text, unknown))
    }
}


/// `undefined-variable`: a `${VAR}` the postBuild does not define, which Flux replaces with
/// an empty string.
fn undefined_variables(id: &ObjectId, undefined: BTreeMap<String, (Arc<str>, u32)>) -> impl Iterator<Item = Diagnostic> + '_ {
    undefined.into_iter().map(move |(name, (file, line))| {
        Diagnostic::warning(
            Code::UndefinedVariable,
            file.to_string(),
            line,
            format!("${{{name}}} is not defined by {id}'s postBuild (substitute or substituteFrom); Flux replaces it with an empty string"),
        )
        .on(id)
        .with_hint(format!("define {name} in a substituteFrom ConfigMap or Secret, or give a default: ${{{name}:=value}}"))
    })
}

/// `sops-without-decryption`: one error per SOPS-encrypted file a Kustomization without
/// `spec.decryption` applies.
fn sops_without_decryption(object: &FluxObject, resources: &[Resource]) -> Vec<Diagnostic> {
    if object.kustomization().is_some_and(|k| k.decryption.is_some()) {
        return Vec::new();
    }
    let id = &object.id;
    let mut files: BTreeMap<&Arc<str>, u32> = BTreeMap::new();
    for r in resources.iter().filter(|r| r.sops) {
        let line = files.entry(&r.file).or_insert(r.line);
        *line = (*line).min(r.line);
    }
    files
        .into_iter()
        .map(|(file, line)| {
            Diagnostic::error(
                Code::SopsWithoutDecryption,
                file.to_string(),
                line,
                format!("{file} is SOPS-encrypted but {id} has no spec.decryption; Flux would apply the encrypted values and the apply fails"),
            )
            .on(id)
            .with_hint("add spec.decryption: {provider: sops, secretRef: {name: ...}}")
        })
        .collect()
}

/// Whether a built manifest may have a `$` in a string: a document no patch or transformer
/// changed answers from its text, searched once when it was read; any other is walked.
fn may_hold_dollar(repo: &Repository, resource: &Resource) -> bool {
    let file = repo.files.get(&*resource.file);
    let document = file.and_then(|f| f.documents.iter().flatten().find(|d| d.line == resource.line));
    match document {
        Some(d) if Arc::ptr_eq(&d.root, &resource.manifest) => d.has_dollar,
        _ => true,
    }
}

/// Where a Kustomization's path lies: in this repository, elsewhere, or not known yet.
fn source_root(ctx: &Context<'_>, object: &FluxObject, path: &str) -> Root {
    let Some((kind, reference)) = object.source_refs().into_iter().next() else {
        return Root::Here(normalize(path));
    };
    let source = reference.resolve(kind, &object.id.namespace);
    match kind {
        Kind::GitRepository | Kind::OCIRepository | Kind::Bucket if local_root(ctx, &source).is_some() => {
            let base = local_root(ctx, &source).unwrap_or_default();
            Root::Here(normalize(path).map(|p| kustomize::join(&base, &p).trim_end_matches('/').to_string()))
        }
        Kind::ExternalArtifact => match artifact_path(ctx, &source, path) {
            Some(mapped) => Root::Here(mapped),
            None if ctx.last_round => Root::Elsewhere(format!("{source}, which no ArtifactGenerator of this cluster produces")),
            None => Root::NotYet,
        },
        _ => Root::Elsewhere(describe_source(ctx.cluster, &source)),
    }
}

/// The folder of this repository a source's artifact is rooted at, when the source is
/// this repository: one the entry point names, or one whose URL is this repository's
/// (a remote of the work tree, or the URL of another local source, say another branch).
fn local_root(ctx: &Context<'_>, source: &ObjectId) -> Option<String> {
    if let Some(base) = ctx.local_sources.get(source) {
        return Some(base.clone());
    }
    let url = |id: &ObjectId| ctx.cluster.objects.get(id).and_then(source_url).map(|u| normalize_url(&u));
    let u = url(source)?;
    let same = ctx.local_sources.iter().find(|(l, _)| url(l).as_ref() == Some(&u)).map(|(_, b)| b.clone());
    if ctx.urls.contains(&u) {
        return Some(same.unwrap_or_default());
    }
    same
}

fn describe_source(cluster: &Cluster, source: &ObjectId) -> String {
    match cluster.objects.get(source).and_then(source_url) {
        Some(url) => format!("{source} ({url})"),
        None => source.to_string(),
    }
}

fn source_url(object: &FluxObject) -> Option<String> {
    match &object.spec {
        Spec::Source(s) => s.url.clone(),
        _ => None,
    }
}

/// Maps a path inside an ExternalArtifact back to this repository through the
/// `copy` rules of the ArtifactGenerator that produces it. A rule copies from
/// `@<alias>/<glob>`, relative to the root of the source the generator names `<alias>`
/// (source-watcher's `CopyOperation.From`): that source's artifact may itself be a folder of
/// this repository (an OCI artifact pushed from `./kubernetes`), and one that is not this
/// repository maps nothing here.
fn artifact_path(ctx: &Context<'_>, artifact: &ObjectId, path: &str) -> Option<Option<String>> {
    let (generator, art) = ctx.cluster.artifact_generator(artifact)?;
    let Some(path) = normalize(path) else { return Some(None) };
    let mut best: Option<(usize, String)> = None;
    for copy in art.get("copy").map(Node::as_seq).unwrap_or_default() {
        let from = copy.get("from").and_then(Node::as_str).unwrap_or("");
        let to = copy.get("to").and_then(Node::as_str).unwrap_or("");
        let Some((alias, rest)) = from.split_once('/') else { continue };
        let Some(base) = alias_root(ctx, generator, alias.trim_start_matches('@')) else { continue };
        let repo_dir = kustomize::join(&base, rest.trim_end_matches("**").trim_end_matches('/'));
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
                best = Some((art_dir.len(), kustomize::join(repo_dir.trim_end_matches('/'), rest).trim_end_matches('/').to_string()));
            }
        }
    }
    Some(best.map(|(_, p)| p))
}

/// The folder of this repository an ArtifactGenerator's source `alias` is rooted at: the
/// source named in `spec.sources` with that alias, when it is this repository. A generator
/// that names no sources reads this repository from its root.
fn alias_root(ctx: &Context<'_>, generator: &FluxObject, alias: &str) -> Option<String> {
    let sources = generator.manifest.at(&["spec", "sources"]).map(Node::as_seq).unwrap_or_default();
    if sources.is_empty() {
        return Some(String::new());
    }
    let source = sources.iter().find(|s| s.get("alias").and_then(Node::scalar_str) == Some(alias))?;
    let kind = source.get("kind").and_then(Node::as_str).and_then(Kind::parse).unwrap_or(Kind::GitRepository);
    let name = source.get("name").and_then(Node::scalar_str)?;
    let namespace = source.get("namespace").and_then(Node::scalar_str).unwrap_or(&generator.id.namespace);
    local_root(ctx, &ObjectId::new(kind, namespace, name))
}

/// What the Kustomization adds to the kustomization file at its path. Each patch remembers
/// the Kustomization's file and its own line, for the changes it makes; one that cannot be read
/// fails the build (`patch-failed`).
fn overlay(object: &FluxObject, path: &str) -> (Overlay, Vec<Diagnostic>) {
    let spec = object.kustomization().expect("a Kustomization");
    let file: Arc<str> = Arc::from(object.file.as_str());
    let mut patches = Vec::new();
    let mut diagnostics = Vec::new();
    for p in object.manifest.at(&["spec", "patches"]).map(Node::as_seq).unwrap_or_default() {
        let Some(text) = p.get("patch").and_then(Node::as_str) else { continue };
        let origin = Origin { file: file.clone(), line: p.line };
        match Patch::parse_at(text, p.get("target").map(Target::read), origin) {
            Ok(patch) => patches.push(patch),
            Err(e) => diagnostics.push(Diagnostic::error(Code::PatchFailed, &object.file, p.line, format!("spec.patches: {e}"))),
        }
    }
    let overlay = Overlay {
        namespace: spec.target_namespace.clone(),
        patches,
        components: spec.components.iter().filter_map(|c| normalize(&kustomize::join(path, c))).collect(),
        name_prefix: spec.name_prefix.clone(),
        name_suffix: spec.name_suffix.clone(),
        images: object.manifest.at(&["spec", "images"]).map(Node::as_seq).unwrap_or_default().iter().filter_map(Image::read).collect(),
    };
    (overlay, diagnostics)
}

/// A hint for a path that does not exist: the nearest existing folder above it.
fn closest_dir(repo: &Repository, path: &str) -> String {
    let mut dir = path;
    while !dir.is_empty() && !repo.is_dir(dir) {
        dir = crate::load::parent_dir(dir);
    }
    let shown = if dir.is_empty() { "the repository root".to_string() } else { format!("./{dir}") };
    format!("the closest existing folder is {shown}; spec.path is relative to the source's root, not to this file")
}

/// `spec.commonMetadata` of a Flux Kustomization: labels and annotations it sets on
/// everything it applies, over what the manifests say (kustomize-controller's
/// `SetCommonMetadata`, after the build and substitution).
pub(super) fn common_metadata(manifest: &Node) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for field in ["labels", "annotations"] {
        for (k, v) in manifest.at(&["spec", "commonMetadata", field]).map(Node::entries).unwrap_or_default() {
            out.push((field, k.clone(), v.scalar_text().unwrap_or_default()));
        }
    }
    out
}

/// Every `${NAME}` written in these manifests (not `$${NAME}`, which is an escape), with
/// where it is written.
fn literal_variables(manifests: &[(Arc<Node>, Arc<str>)]) -> Vec<(String, Arc<str>, u32)> {
    let mut out = Vec::new();
    for (manifest, file) in manifests {
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

/// The `kustomize.toolkit.fluxcd.io/substitute: disabled` label or annotation.
fn substitution_disabled(manifest: &Node) -> bool {
    const KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";
    ["labels", "annotations"].iter().any(|k| manifest.at(&["metadata", k, KEY]).and_then(Node::as_str) == Some("disabled"))
}

/// A built manifest, summarised for the views.
fn applied(resource: &Resource) -> Applied {
    let manifest = &resource.manifest;
    Applied {
        api_version: manifest.api_version().to_string(),
        kind: manifest.kind().to_string(),
        namespace: manifest.namespace().map(str::to_string),
        name: manifest.name().unwrap_or_default().to_string(),
        file: resource.file.clone(),
        line: resource.line,
        sops: resource.sops,
        hostnames: hostnames(manifest),
    }
}

/// The host names a route or an ingress serves.
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
