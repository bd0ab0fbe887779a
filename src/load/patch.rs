//! Patches: kustomize `patches:` / `patchesStrategicMerge:` / `patchesJson6902:` and a Flux
//! Kustomization's `spec.patches` → the manifests they change, each change with where the
//! patch is written.
//!
//! A strategic-merge patch merges as kyaml's `merge2` does for kustomize
//! (`api/filters/patchstrategicmerge`): `null` deletes a field, `$patch: replace` and
//! `$patch: delete` replace or delete a map (or, at the top, the object), and on Kubernetes' own
//! kinds the lists that have a merge key in Kubernetes' schema merge item by item (`containers`
//! by name, a container's `ports` by containerPort…), the patch's items first and then the
//! others; every other list is replaced, a custom resource's always. JSON 6902 patches go
//! through the `json-patch` crate, with what evanphx/json-patch v4 (kustomize's) allows beyond
//! RFC 6902: a `replace` of a missing key in an existing map sets it, and `metadata.annotations`
//! exists on every object while kustomize builds (its internal annotations), so an `add` under it
//! works; their YAML is read as YAML 1.1 (sigs.k8s.io/yaml), where `yes` is `true`. Written here
//! because no crate carries Kubernetes' patch schemas.

use std::sync::Arc;

use regex::Regex;
use serde_json::Value as J;

use super::kustomize::ResId;
use super::{LoadError, scalar};
use super::manifest::Manifest;
use super::SourceFile;
use super::yaml::{Document, Node, Schema, Value, YamlError, parse_documents_with};

/// Where a patch is written: the kustomization file (or Flux Kustomization) and the line of
/// its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u32,
}

/// One regular expression of a target, anchored as kustomize anchors them.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    regex: Option<Regex>,
}

impl Pattern {
    fn new(text: String) -> Pattern {
        let literal = !text.contains(|c: char| "^$.*+?()[]{}|\\".contains(c));
        let regex = if literal { None } else { Regex::new(&format!("^(?:{text})$")).ok() };
        Pattern { text, regex }
    }

    fn matches(&self, value: &str) -> bool {
        match &self.regex {
            Some(re) => re.is_match(value),
            None => self.text == value,
        }
    }
}

/// Which resources a patch applies to (kustomize's `Selector`). Empty fields match anything;
/// every field is an anchored regular expression. Name and namespace match the resource's
/// original or current ones; an object without namespace is in `default`.
#[derive(Debug, Clone, Default)]
pub struct Target {
    group: Option<Pattern>,
    version: Option<Pattern>,
    kind: Option<Pattern>,
    name: Option<Pattern>,
    namespace: Option<Pattern>,
    label_selector: Option<String>,
    annotation_selector: Option<String>,
}

/// What a patch does.
#[derive(Debug, Clone)]
pub enum PatchBody {
    /// A strategic-merge patch: its identity (which selects the object when there is no target),
    /// and the fields it merges. `delete` for `$patch: delete` at the top; `renames` when its
    /// options allow it to change the object's name or kind.
    StrategicMerge { id: ResId, fields: J, delete: bool, renames: Renames },
    Json6902(json_patch::Patch),
}

/// What a strategic-merge patch may change of the object's identity (`options:
/// allowNameChange`, `allowKindChange`; kustomize's `ApplySmPatch` otherwise puts both back).
/// The namespace is always put back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Renames {
    pub name: bool,
    pub kind: bool,
}

#[derive(Debug, Clone)]
pub struct Patch {
    pub target: Option<Target>,
    pub body: PatchBody,
    pub origin: Origin,
}

impl Target {
    pub fn read(node: &Node) -> Target {
        let text = |k: &str| node.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
        let pattern = |k: &str| text(k).map(Pattern::new);
        Target {
            group: pattern("group"),
            version: pattern("version"),
            kind: pattern("kind"),
            name: pattern("name"),
            namespace: pattern("namespace"),
            label_selector: text("labelSelector"),
            annotation_selector: text("annotationSelector"),
        }
    }

    /// Whether this target selects `manifest`, whose first id was `original` when it was
    /// renamed since (kustomize's `resWrangler.Select`).
    pub fn selects_resource(&self, manifest: &Node, original: Option<&ResId>) -> bool {
        if original.is_some() || self.namespace.is_some() {
            let current = ResId::of(manifest);
            return self.selects(manifest, &current, original.unwrap_or(&current));
        }
        // Never renamed, and any namespace: the current id decides, read without copies.
        let matches = |p: &Option<Pattern>, value: &str| p.as_ref().is_none_or(|p| p.matches(value));
        let api = manifest.get("apiVersion").and_then(Node::as_str).unwrap_or("");
        let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
        let meta = manifest.get("metadata");
        let name = meta.and_then(|m| m.get("name")).and_then(Node::scalar_str).unwrap_or("");
        matches(&self.name, name)
            && matches(&self.group, group)
            && matches(&self.version, version)
            && matches(&self.kind, manifest.get("kind").and_then(Node::as_str).unwrap_or(""))
            && self.label_selector.as_deref().is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("labels"))))
            && self.annotation_selector.as_deref().is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("annotations"))))
    }

    /// Whether this target selects an object whose current id is `current` and original id
    /// `original` (kustomize's `resWrangler.Select`).
    pub fn selects(&self, manifest: &Node, current: &ResId, original: &ResId) -> bool {
        let matches = |p: &Option<Pattern>, value: &str| p.as_ref().is_none_or(|p| p.matches(value));
        let meta = manifest.get("metadata");
        (matches(&self.namespace, original.effective_namespace()) || matches(&self.namespace, current.effective_namespace()))
            && (matches(&self.name, &original.name) || matches(&self.name, &current.name))
            && matches(&self.group, &current.group)
            && matches(&self.version, &current.version)
            && matches(&self.kind, &current.kind)
            && self.label_selector.as_deref().is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("labels"))))
            && self.annotation_selector.as_deref().is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("annotations"))))
    }
}

/// Kubernetes label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`.
pub fn selector_matches(selector: &str, labels: Option<&Node>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Node::scalar_text);
    split_requirements(selector).iter().all(|req| {
        let req = req.trim();
        if let Some((k, rest)) = req.split_once(" notin ") {
            let set = parse_set(rest);
            return get(k.trim()).is_none_or(|v| !set.contains(&v));
        }
        if let Some((k, rest)) = req.split_once(" in ") {
            let set = parse_set(rest);
            return get(k.trim()).is_some_and(|v| set.contains(&v));
        }
        if let Some((k, v)) = req.split_once("!=") {
            return get(k.trim()).is_none_or(|x| x != v.trim());
        }
        if let Some((k, v)) = req.split_once("==").or_else(|| req.split_once('=')) {
            return get(k.trim()).is_some_and(|x| x == v.trim());
        }
        if let Some(k) = req.strip_prefix('!') {
            return get(k.trim()).is_none();
        }
        req.is_empty() || get(req).is_some()
    })
}

fn split_requirements(selector: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&selector[start..]);
    parts
}

fn parse_set(text: &str) -> Vec<String> {
    text.trim().trim_start_matches('(').trim_end_matches(')').split(',').map(|s| s.trim().to_string()).collect()
}

/// How a patch's text is read: a JSON 6902 patch as sigs.k8s.io/yaml reads it (YAML 1.1), a
/// strategic-merge patch as kustomize reads resources (Go's YAML).
fn schema_of(text: &str) -> Schema {
    let trimmed = text.trim_start();
    if trimmed.starts_with('-') || trimmed.starts_with('[') { Schema::Yaml11 } else { Schema::Go }
}

impl Patch {
    /// Reads a patch from its YAML text (inline `patch:` or a patch file's content): a list is
    /// a JSON 6902 patch, a mapping a strategic-merge patch.
    pub fn parse(text: &str, target: Option<Target>) -> Result<Patch, LoadError> {
        Patch::parse_at(text, target, Origin { file: Arc::from(""), line: 0 })
    }

    /// [`Patch::parse`], remembering where the patch is written.
    pub fn parse_at(text: &str, target: Option<Target>, origin: Origin) -> Result<Patch, LoadError> {
        Patch::parse_all(text, target, origin)?.into_iter().next().ok_or(LoadError::EmptyPatch)
    }

    /// The patch with its entry's `options:` read: a strategic-merge patch allowed to change the
    /// name or kind of what it patches merges its own (kustomize's `PatchTransformer`).
    pub fn allowing(mut self, options: Option<&Node>) -> Patch {
        let allowed = |key: &str| options.and_then(|o| o.get(key)).and_then(Node::as_bool) == Some(true);
        if let PatchBody::StrategicMerge { id, fields, renames, .. } = &mut self.body {
            *renames = Renames { name: allowed("allowNameChange"), kind: allowed("allowKindChange") };
            if let Some(map) = fields.as_object_mut() {
                if renames.kind && !id.kind.is_empty() {
                    map.insert("kind".into(), J::String(id.kind.clone()));
                }
                if renames.name && !id.name.is_empty() {
                    let meta = map.entry("metadata").or_insert_with(|| J::Object(Default::default()));
                    if let Some(meta) = meta.as_object_mut() {
                        meta.insert("name".into(), J::String(id.name.clone()));
                    }
                }
            }
        }
        self
    }

    /// Whether the patch applies to a manifest seen alone (its id never changed): by its target,
    /// or else by its own id.
    pub fn selects(&self, manifest: &Node) -> bool {
        let id = ResId::of(manifest);
        match (&self.target, &self.body) {
            (Some(target), _) => target.selects(manifest, &id, &id),
            (None, PatchBody::StrategicMerge { id: own, .. }) => own.equals(&id),
            (None, PatchBody::Json6902(_)) => false,
        }
    }

    /// Every strategic-merge patch of a multi-document text (`patchesStrategicMerge`), or the one
    /// JSON 6902 patch it is.
    pub fn parse_all(text: &str, target: Option<Target>, origin: Origin) -> Result<Vec<Patch>, LoadError> {
        let documents = parse_documents_with(text, schema_of(text));
        Patch::from_documents(&documents, target, origin)
    }

    /// [`Patch::parse_all`] of a file of the repository. Its documents as loaded serve when they
    /// were read as the patch reads them (Go's YAML: a strategic-merge patch, in a file that is
    /// no kustomization file); a JSON 6902 patch is read again, as YAML 1.1. A patch file that
    /// many builds share is then parsed once.
    pub fn from_file(file: &SourceFile, target: Option<Target>, origin: Origin) -> Result<Vec<Patch>, LoadError> {
        let name = file.path.rsplit('/').next().unwrap_or(&file.path);
        if schema_of(&file.text) == Schema::Go && !super::kustomize::KUSTOMIZATION_FILES.contains(&name) {
            return Patch::from_documents(&file.documents, target, origin);
        }
        Patch::parse_all(&file.text, target, origin)
    }

    fn from_documents(documents: &[Result<Document, YamlError>], target: Option<Target>, origin: Origin) -> Result<Vec<Patch>, LoadError> {
        let mut out = Vec::new();
        for doc in documents {
            let doc = doc.as_ref().map_err(|e| LoadError::PatchYaml(e.clone()))?;
            out.push(Patch::from_node(&doc.root, target.clone(), origin.clone())?);
        }
        Ok(out)
    }

    pub fn from_node(node: &Node, target: Option<Target>, origin: Origin) -> Result<Patch, LoadError> {
        match &node.value {
            Value::Seq(_) => {
                let ops: json_patch::Patch =
                    serde_json::from_value(node.to_json()).map_err(LoadError::NotJson6902)?;
                Ok(Patch { target, body: PatchBody::Json6902(ops), origin })
            }
            Value::Map(_) => {
                let id = ResId::of(node);
                let delete = node.get("$patch").and_then(Node::as_str) == Some("delete");
                let mut fields = node.to_json();
                strip_identity(&mut fields);
                Ok(Patch { target, body: PatchBody::StrategicMerge { id, fields, delete, renames: Renames::default() }, origin })
            }
            _ => Err(LoadError::PatchShape),
        }
    }

    /// Applies the patch to one manifest. `Ok(None)` means the manifest is deleted.
    pub fn apply(&self, manifest: &Node) -> Result<Option<Node>, LoadError> {
        // kyaml's merge drops the fields whose value is written as nothing (`key:`) from the
        // maps of the object it patches.
        let pruned;
        let manifest = match &self.body {
            PatchBody::StrategicMerge { .. } if has_empty_fields(manifest) => {
                pruned = without_empty_fields(manifest);
                &pruned
            }
            _ => manifest,
        };
        let mut json = manifest.to_json();
        match &self.body {
            PatchBody::StrategicMerge { delete: true, .. } => return Ok(None),
            PatchBody::StrategicMerge { fields, renames, .. } => {
                if !fields.is_object() {
                    return Ok(Some(manifest.clone()));
                }
                let schema = KindSchema { built_in: super::kustomize::scope::is_built_in_group(manifest.group()), service: manifest.kind() == "Service" };
                if fields.get("$patch").and_then(J::as_str) == Some("replace") {
                    let mut replaced = without_directives(fields);
                    restore_identity(&mut replaced, &json, *renames);
                    json = replaced;
                } else {
                    merge_map(&mut json, fields, &mut Vec::new(), &schema);
                }
            }
            PatchBody::Json6902(ops) => json6902(&mut json, ops)?,
        }
        Ok(Some(Node::from_json(&json, Some(manifest), manifest.line)))
    }
}

/// Whether a map field of `node`, at any depth through maps, is written as nothing.
fn has_empty_fields(node: &Node) -> bool {
    node.entries().iter().any(|(_, v)| v.empty || (v.is_map() && has_empty_fields(v)))
}

/// `node` without its map fields written as nothing (lists are left as they are).
fn without_empty_fields(node: &Node) -> Node {
    match &node.value {
        Value::Map(entries) => {
            let kept = entries.iter().filter(|(_, v)| !v.empty).map(|(k, v)| (k.clone(), without_empty_fields(v))).collect();
            Node { value: Value::Map(kept), ..node.clone() }
        }
        _ => node.clone(),
    }
}

/// A JSON 6902 patch as kustomize applies it (evanphx/json-patch v4), op by op.
fn json6902(json: &mut J, ops: &json_patch::Patch) -> Result<(), LoadError> {
    let added_annotations = ensure_annotations(json);
    for op in &ops.0 {
        let op = lenient(json, op);
        json_patch::patch(json, std::slice::from_ref(&op)).map_err(LoadError::PatchOperation)?;
    }
    if added_annotations {
        if let Some(meta) = json.get_mut("metadata").and_then(J::as_object_mut) {
            if meta.get("annotations").and_then(J::as_object).is_some_and(|a| a.is_empty()) {
                meta.remove("annotations");
            }
        }
    }
    Ok(())
}

/// Gives the object an empty `metadata.annotations` when it has none; whether it did.
fn ensure_annotations(json: &mut J) -> bool {
    let Some(object) = json.as_object_mut() else { return false };
    let meta = object.entry("metadata").or_insert_with(|| J::Object(Default::default()));
    match meta.as_object_mut() {
        Some(meta) if !meta.contains_key("annotations") => {
            meta.insert("annotations".into(), J::Object(Default::default()));
            true
        }
        _ => false,
    }
}

/// A `replace` of a key its map lacks is an `add` in json-patch v4 (its `get` of a missing key
/// is no error).
fn lenient(json: &J, op: &json_patch::PatchOperation) -> json_patch::PatchOperation {
    use json_patch::{AddOperation, PatchOperation};
    if let PatchOperation::Replace(replace) = op {
        if let Some((parent, last)) = replace.path.split_back() {
            let missing = parent.resolve(json).ok().and_then(J::as_object).is_some_and(|m| !m.contains_key(last.decoded().as_ref()));
            if missing {
                return PatchOperation::Add(AddOperation { path: replace.path.clone(), value: replace.value.clone() });
            }
        }
    }
    op.clone()
}

/// What strategic merge knows of the patched object's kind.
struct KindSchema {
    /// Kubernetes' own kind: lists with a merge key merge.
    built_in: bool,
    service: bool,
}

/// The merge key of the list at `path` in Kubernetes' schema (`patchMergeKey`): the lists of a
/// pod spec, of a container, a Service's ports, owner references.
fn merge_key(path: &[String], schema: &KindSchema) -> Option<&'static str> {
    if !schema.built_in {
        return None;
    }
    let field = path.last()?.as_str();
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    let in_container = parent.is_some_and(|p| matches!(p, "containers" | "initContainers" | "ephemeralContainers"));
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "imagePullSecrets" | "resourceClaims"
        | "schedulingGates"
            if parent == Some("spec") =>
        {
            "name"
        }
        "hostAliases" if parent == Some("spec") => "ip",
        "topologySpreadConstraints" if parent == Some("spec") => "topologyKey",
        "env" if in_container => "name",
        "volumeMounts" if in_container => "mountPath",
        "volumeDevices" if in_container => "devicePath",
        "resizePolicy" if in_container => "resourceName",
        "ports" if in_container => "containerPort",
        "ports" if schema.service && path.len() == 2 => "port",
        "ownerReferences" if parent == Some("metadata") => "uid",
        "conditions" => "type",
        _ => return None,
    })
}

/// Merges the patch map `patch` into the map `dest` at `path`.
fn merge_map(dest: &mut J, patch: &J, path: &mut Vec<String>, schema: &KindSchema) {
    let (Some(into), Some(from)) = (dest.as_object_mut(), patch.as_object()) else { return };
    for (key, value) in from {
        // kyaml knows one directive, `$patch`; other `$` keys (`$setElementOrder/…`,
        // `$retainKeys`) are fields to it, merged as any other.
        if key == "$patch" {
            continue;
        }
        path.push(key.clone());
        match value {
            J::Null => {
                into.remove(key);
            }
            J::Object(map) => match map.get("$patch").and_then(J::as_str) {
                Some("delete") => {
                    into.remove(key);
                }
                Some("replace") => {
                    into.insert(key.clone(), without_directives(value));
                }
                _ => match into.get_mut(key) {
                    Some(existing @ J::Object(_)) => merge_map(existing, value, path, schema),
                    _ => {
                        into.insert(key.clone(), without_directives(value));
                    }
                },
            },
            J::Array(items) => match (merge_key(path, schema), into.get_mut(key)) {
                (Some(field), Some(J::Array(existing))) => {
                    let merged = merge_list(existing, items, field, path, schema);
                    *existing = merged;
                }
                _ => {
                    into.insert(key.clone(), J::Array(items.iter().map(without_directives).collect()));
                }
            },
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
        path.pop();
    }
}

/// A list merged by `field`: the patch's items in its order (each merged into its namesake),
/// then the others as they were; an item `$patch: delete` removes its namesake.
fn merge_list(existing: &[J], items: &[J], field: &str, path: &mut Vec<String>, schema: &KindSchema) -> Vec<J> {
    let mut used = vec![false; existing.len()];
    let mut out = Vec::with_capacity(existing.len() + items.len());
    for item in items {
        let id = item.get(field);
        let found = id.and_then(|id| existing.iter().enumerate().position(|(i, e)| !used[i] && e.get(field) == Some(id)));
        if let Some(i) = found {
            used[i] = true;
        }
        if item.get("$patch").and_then(J::as_str) == Some("delete") {
            continue;
        }
        match found {
            Some(i) => {
                let mut merged = existing[i].clone();
                merge_map(&mut merged, item, path, schema);
                out.push(merged);
            }
            None => out.push(without_directives(item)),
        }
    }
    out.extend(existing.iter().zip(used).filter(|(_, used)| !used).map(|(e, _)| e.clone()));
    out
}

/// A patch value as it lands where nothing was: without `$patch` directives and `null` fields.
fn without_directives(value: &J) -> J {
    match value {
        J::Object(map) => J::Object(
            map.iter()
                .filter(|(k, v)| *k != "$patch" && !v.is_null())
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect(),
        ),
        J::Array(items) => J::Array(items.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

/// A merge patch names its target; it must not rename it.
fn strip_identity(body: &mut J) {
    if let Some(map) = body.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if map.get("$patch").and_then(J::as_str) != Some("replace") {
            map.remove("$patch");
        }
        if let Some(meta) = map.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.remove("name");
            meta.remove("namespace");
            if meta.is_empty() {
                map.remove("metadata");
            }
        }
    }
}

/// After a `$patch: replace` of the whole object, it keeps its type, name and namespace (but
/// the name or kind the patch may change and sets).
fn restore_identity(replaced: &mut J, old: &J, renames: Renames) {
    let Some(map) = replaced.as_object_mut() else { return };
    for key in ["apiVersion", "kind"] {
        if let Some(v) = old.get(key) {
            if !(key == "kind" && renames.kind && map.contains_key(key)) {
                map.insert(key.into(), v.clone());
            }
        }
    }
    let meta = map.entry("metadata").or_insert_with(|| J::Object(Default::default()));
    if let Some(meta) = meta.as_object_mut() {
        for key in ["name", "namespace"] {
            if let Some(v) = old.get("metadata").and_then(|m| m.get(key)) {
                if !(key == "name" && renames.name && meta.contains_key(key)) {
                    meta.insert(key.into(), v.clone());
                }
            }
        }
    }
}

/// The fields a change touched, as dotted paths (`spec.dependsOn`): where the two trees first
/// differ, a list as a whole.
pub fn changed_fields(before: &Node, after: &Node) -> Vec<String> {
    let mut out = Vec::new();
    diff(before, after, &mut String::new(), &mut out);
    out
}

fn diff(before: &Node, after: &Node, path: &mut String, out: &mut Vec<String>) {
    match (&before.value, &after.value) {
        (Value::Map(a), Value::Map(b)) => {
            let keys = a.iter().map(|(k, _)| k).chain(b.iter().map(|(k, _)| k).filter(|k| !a.iter().any(|(x, _)| x == *k)));
            for key in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                match (before.get(key), after.get(key)) {
                    (Some(x), Some(y)) => diff(x, y, path, out),
                    _ => out.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (a, b) if a == b => {}
        (Value::Number(a), Value::Number(b)) if scalar::number(a) == scalar::number(b) => {}
        _ => out.push(path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn manifest(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    fn origin() -> Origin {
        Origin { file: Arc::from("k.yaml"), line: 1 }
    }

    fn selects(target: &Target, m: &Node) -> bool {
        let id = ResId::of(m);
        target.selects(m, &id, &id)
    }

    const KS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\n  namespace: flux-system\n  labels:\n    tier: apps\nspec:\n  path: ./a\n  dependsOn:\n    - name: x\n";

    #[test]
    fn a_merge_patch_on_a_custom_resource_keeps_its_name_and_replaces_lists() {
        let p = Patch::parse_at(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: not-used\nspec:\n  dependsOn:\n    - name: y\n  decryption:\n    provider: sops\n",
            Some(Target { kind: Some(Pattern::new("Kustomization".into())), ..Target::default() }),
            origin(),
        )
        .unwrap();
        let m = manifest(KS);
        let out = p.apply(&m).unwrap().unwrap();
        assert_eq!(out.at(&["metadata", "name"]).unwrap().as_str(), Some("app"));
        assert_eq!(out.at(&["spec", "dependsOn"]).unwrap().as_seq().len(), 1);
        assert_eq!(out.at(&["spec", "decryption", "provider"]).unwrap().as_str(), Some("sops"));
        assert_eq!(out.at(&["spec", "path"]).unwrap().line, 9, "untouched nodes keep their lines");
        assert_eq!(changed_fields(&m, &out), ["spec.dependsOn", "spec.decryption"]);
    }

    #[test]
    fn strategic_merge_on_a_built_in_kind_merges_by_merge_key_patch_items_first() {
        let deployment = manifest("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      tolerations: [{key: old}]\n      containers:\n        - name: a\n          image: a:1\n          ports: [{containerPort: 80}]\n        - name: b\n          image: b:1\n        - name: c\n          image: c:1\n");
        let p = Patch::parse_at("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      tolerations: [{key: new}]\n      containers:\n        - name: c\n          image: c:2\n        - name: d\n          image: d:1\n        - name: a\n          ports: [{containerPort: 90}]\n        - name: b\n          $patch: delete\n", None, origin()).unwrap();
        let out = p.apply(&deployment).unwrap().unwrap().to_json();
        let spec = &out["spec"]["template"]["spec"];
        let names: Vec<&str> = spec["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["c", "d", "a"], "the patch's order, then the rest; b deleted");
        assert_eq!(spec["containers"][2]["image"], "a:1");
        assert_eq!(spec["containers"][2]["ports"], serde_json::json!([{"containerPort": 90}, {"containerPort": 80}]));
        assert_eq!(spec["tolerations"], serde_json::json!([{"key": "new"}]), "no merge key: replaced");
    }

    #[test]
    fn directives_replace_and_delete_maps_and_null_deletes_a_field() {
        let m = manifest("apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n  a: {x: 1, y: 2}\n  b: {x: 1}\n  c: 1\n");
        let p = Patch::parse_at("kind: Thing\nmetadata:\n  name: t\nspec:\n  a:\n    $patch: replace\n    z: 3\n  b:\n    $patch: delete\n  c: null\n  d: {}\n", None, origin()).unwrap();
        let out = p.apply(&m).unwrap().unwrap().to_json();
        assert_eq!(out["spec"], serde_json::json!({"a": {"z": 3}, "d": {}}));
        let delete = Patch::parse_at("kind: Thing\nmetadata:\n  name: t\n$patch: delete\n", None, origin()).unwrap();
        assert!(delete.apply(&m).unwrap().is_none());
    }

    #[test]
    fn strategic_merge_drops_fields_written_as_nothing_from_the_maps_it_patches() {
        let m = manifest("apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t\nspec:\n  a:\n  b: ~\n  n:\n    x:\n  l:\n    - x:\n");
        let p = Patch::parse_at("kind: Thing\nmetadata:\n  name: t\nspec:\n  c: 1\n", None, origin()).unwrap();
        let out = p.apply(&m).unwrap().unwrap().to_json();
        assert_eq!(out["spec"], serde_json::json!({"b": null, "n": {}, "l": [{"x": null}], "c": 1}));
    }

    #[test]
    fn json6902_replace_of_a_missing_key_sets_it_and_annotations_always_exist() {
        let m = manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n");
        let p = Patch::parse_at(
            "- op: replace\n  path: /data/missing\n  value: set\n- op: add\n  path: /metadata/annotations/note\n  value: yes\n",
            Some(Target::default()),
            origin(),
        )
        .unwrap();
        let out = p.apply(&m).unwrap().unwrap().to_json();
        assert_eq!(out["data"]["missing"], "set");
        assert_eq!(out["metadata"]["annotations"]["note"], true, "YAML 1.1: yes is true");
        let untouched = Patch::parse_at("- op: add\n  path: /data/x\n  value: '1'\n", Some(Target::default()), origin()).unwrap();
        assert!(untouched.apply(&m).unwrap().unwrap().at(&["metadata", "annotations"]).is_none(), "no empty annotations left behind");
        let missing = Patch::parse_at("- op: remove\n  path: /data/nothere\n", Some(Target::default()), origin()).unwrap();
        assert!(missing.apply(&m).is_err());
    }

    #[test]
    fn targets_are_anchored_patterns_and_selectors() {
        let m = manifest(KS);
        let t = |text: &str| Target::read(&manifest(text));
        assert!(selects(&t("name: ap.*\nlabelSelector: tier in (apps, infra),!skip\n"), &m));
        assert!(!selects(&t("name: ap\n"), &m), "anchored");
        assert!(!selects(&t("labelSelector: tier=infra\n"), &m));
        assert!(selects(&t("group: kustomize.toolkit.fluxcd.io\nversion: v1\n"), &m));
        let bare = manifest("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n");
        assert!(selects(&t("namespace: default\n"), &bare), "no namespace is default");
        assert!(!selects(&t("namespace: flux-system\n"), &bare));
    }
}
