//! Patches: kustomize `patches:` / `patchesStrategicMerge:` / `patchesJson6902:` and a Flux
//! Kustomization's `spec.patches`, applied to the manifests of a build.
//!
//! A strategic-merge patch on a custom resource behaves as a JSON merge patch (RFC 7386),
//! which is what every Flux kind is (through the `json-patch` crate); on Kubernetes' own
//! kinds it merges lists by their merge keys (`containers` by name), as kustomize does,
//! written here because no crate carries Kubernetes' patch schemas. JSON 6902 patches use
//! JSON pointers, through `json-patch`.

use regex::Regex;

use super::yaml::{Node, Value, parse_documents};

/// Which resources a patch applies to. Empty fields match anything; `name` and
/// `namespace` are anchored regular expressions, as in kustomize.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

#[derive(Debug, Clone)]
pub enum PatchBody {
    /// Strategic merge, applied as a JSON merge patch; `None` body for `$patch: delete`.
    Merge(serde_json::Value),
    Delete,
    Json6902(json_patch::Patch),
}

#[derive(Debug, Clone)]
pub struct Patch {
    pub target: Option<Target>,
    pub body: PatchBody,
    /// The patch body's own identity, which selects the target when `target` is absent.
    pub identity: Target,
}

impl Target {
    pub fn read(node: &Node) -> Target {
        let text = |k: &str| node.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
        Target {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
            name: text("name"),
            namespace: text("namespace"),
            label_selector: text("labelSelector"),
            annotation_selector: text("annotationSelector"),
        }
    }

    /// Whether this target selects `manifest`.
    pub fn matches(&self, manifest: &Node) -> bool {
        let api = manifest.get("apiVersion").and_then(Node::as_str).unwrap_or("");
        let (group, version) = match api.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api),
        };
        let meta = manifest.get("metadata");
        let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Node::scalar_text).unwrap_or_default();
        let kind = manifest.get("kind").and_then(Node::as_str).unwrap_or("");
        pattern_matches(self.group.as_deref(), group)
            && pattern_matches(self.version.as_deref(), version)
            && pattern_matches(self.kind.as_deref(), kind)
            && pattern_matches(self.name.as_deref(), &field("name"))
            && pattern_matches(self.namespace.as_deref(), &field("namespace"))
            && self.label_selector.as_deref().is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("labels"))))
            && self
                .annotation_selector
                .as_deref()
                .is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("annotations"))))
    }
}

fn pattern_matches(pattern: Option<&str>, value: &str) -> bool {
    let Some(pattern) = pattern else { return true };
    if pattern == value {
        return true;
    }
    if !pattern.contains(|c: char| "^$.*+?()[]{}|\\".contains(c)) {
        return false;
    }
    Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(value))
}

/// Kubernetes label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`.
fn selector_matches(selector: &str, labels: Option<&Node>) -> bool {
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

impl Patch {
    /// Reads a patch from its YAML text (inline `patch:` or a patch file's content).
    pub fn parse(text: &str, target: Option<Target>) -> Result<Patch, String> {
        let docs = parse_documents(text);
        let doc = match docs.into_iter().next() {
            Some(Ok(doc)) => doc,
            Some(Err(e)) => return Err(format!("the patch is not valid YAML: {e}")),
            None => return Err("the patch is empty".into()),
        };
        Patch::from_node(&doc.root, target)
    }

    pub fn from_node(node: &Node, target: Option<Target>) -> Result<Patch, String> {
        match &node.value {
            Value::Seq(_) => {
                let ops: json_patch::Patch =
                    serde_json::from_value(node.to_json()).map_err(|e| format!("not a JSON 6902 patch: {e}"))?;
                Ok(Patch { target, body: PatchBody::Json6902(ops), identity: Target::default() })
            }
            Value::Map(_) => {
                let api = node.get("apiVersion").and_then(Node::as_str).unwrap_or("");
                let (group, version) = api.rsplit_once('/').map_or((None, Some(api)), |(g, v)| (Some(g), Some(v)));
                let meta = node.get("metadata");
                let meta_text = |k: &str| meta.and_then(|m| m.get(k)).and_then(Node::scalar_text);
                let identity = Target {
                    group: group.map(str::to_string),
                    version: version.filter(|v| !v.is_empty()).map(str::to_string),
                    kind: node.get("kind").and_then(Node::scalar_text),
                    name: meta_text("name"),
                    namespace: meta_text("namespace"),
                    ..Target::default()
                };
                let delete = node.get("$patch").and_then(Node::as_str) == Some("delete");
                let mut body = node.to_json();
                strip_identity(&mut body);
                let body = if delete { PatchBody::Delete } else { PatchBody::Merge(body) };
                Ok(Patch { target, body, identity })
            }
            _ => Err("a patch must be a mapping (strategic merge) or a list (JSON 6902)".into()),
        }
    }

    /// Whether this patch applies to `manifest`.
    pub fn selects(&self, manifest: &Node) -> bool {
        match &self.target {
            Some(t) => t.matches(manifest),
            None => {
                // Without a target, a merge patch selects by its own kind and name; kustomize
                // ignores the version when matching.
                let identity = Target { version: None, ..self.identity.clone() };
                identity.kind.is_some() && identity.matches(manifest)
            }
        }
    }

    /// Applies the patch to one manifest. `Ok(None)` means the manifest is deleted.
    pub fn apply(&self, manifest: &Node) -> Result<Option<Node>, String> {
        let mut json = manifest.to_json();
        match &self.body {
            PatchBody::Delete => return Ok(None),
            PatchBody::Merge(body) if is_built_in(manifest) => strategic_merge(&mut json, body),
            PatchBody::Merge(body) => json_patch::merge(&mut json, body),
            PatchBody::Json6902(ops) => json_patch::patch(&mut json, ops).map_err(|e| e.to_string())?,
        }
        Ok(Some(Node::from_json(&json, Some(manifest), manifest.line)))
    }
}

/// Kinds of Kubernetes itself (no dot in the API group), whose schemas give lists merge
/// keys; a custom resource has none, so kustomize merges it as a JSON merge patch.
fn is_built_in(manifest: &Node) -> bool {
    let api = manifest.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    api.rsplit_once('/').is_none_or(|(group, _)| !group.contains('.'))
}

/// The merge key of a list in Kubernetes' own schemas (`patchMergeKey`), by field name:
/// the lists a patch usually touches.
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "env" | "imagePullSecrets"
        | "hostAliases" | "resourceClaims" | "topologySpreadConstraints" => match field {
            "hostAliases" => "ip",
            "topologySpreadConstraints" => "topologyKey",
            _ => "name",
        },
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" => "containerPort",
        _ => return None,
    })
}

/// A strategic-merge patch as kustomize applies it to a built-in kind: maps merge, `null`
/// deletes, lists with a merge key merge item by item (an item `$patch: delete` removes its
/// match), other lists are replaced.
fn strategic_merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value as J;
    let (J::Object(into), J::Object(from)) = (&mut *target, patch) else {
        *target = patch.clone();
        return;
    };
    for (key, value) in from {
        if key.starts_with("$setElementOrder") || key == "$retainKeys" {
            continue;
        }
        match value {
            J::Null => {
                into.remove(key);
            }
            J::Array(items) if merge_key(key).is_some() && matches!(into.get(key), Some(J::Array(_))) => {
                let field = merge_key(key).expect("checked");
                let Some(J::Array(existing)) = into.get_mut(key) else { continue };
                for item in items {
                    let id = item.get(field).cloned();
                    let position = id.as_ref().and_then(|id| existing.iter().position(|e| e.get(field) == Some(id)));
                    let delete = item.get("$patch").and_then(J::as_str) == Some("delete");
                    match (position, delete) {
                        (Some(i), true) => {
                            existing.remove(i);
                        }
                        (Some(i), false) => strategic_merge(&mut existing[i], item),
                        (None, true) => {}
                        (None, false) => existing.push(item.clone()),
                    }
                }
            }
            J::Object(_) if matches!(into.get(key), Some(J::Object(_))) => {
                strategic_merge(into.get_mut(key).expect("checked"), value);
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A merge patch names its target; it must not rename it.
fn strip_identity(body: &mut serde_json::Value) {
    if let Some(map) = body.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        map.remove("$patch");
        if let Some(meta) = map.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            meta.remove("name");
            meta.remove("namespace");
            if meta.is_empty() {
                map.remove("metadata");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    const KS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\n  namespace: flux-system\n  labels:\n    tier: apps\nspec:\n  path: ./a\n  dependsOn:\n    - name: x\n";

    #[test]
    fn merge_patch_by_target_keeps_name_and_replaces_lists() {
        let target = Target { kind: Some("Kustomization".into()), ..Target::default() };
        let p = Patch::parse(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: not-used\nspec:\n  dependsOn:\n    - name: y\n  decryption:\n    provider: sops\n",
            Some(target),
        )
        .unwrap();
        let m = manifest(KS);
        assert!(p.selects(&m));
        let out = p.apply(&m).unwrap().unwrap();
        assert_eq!(out.at(&["metadata", "name"]).unwrap().as_str(), Some("app"));
        assert_eq!(out.at(&["spec", "dependsOn"]).unwrap().as_seq().len(), 1);
        assert_eq!(out.at(&["spec", "decryption", "provider"]).unwrap().as_str(), Some("sops"));
        assert_eq!(out.at(&["spec", "path"]).unwrap().line, 9, "untouched nodes keep their lines");
    }

    #[test]
    fn strategic_merge_on_a_built_in_kind_merges_containers_by_name() {
        let deployment = manifest("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: a:1\n          env:\n            - name: A\n              value: '1'\n        - name: sidecar\n          image: s:1\n");
        let p = Patch::parse("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          env:\n            - name: B\n              value: '2'\n        - name: sidecar\n          $patch: delete\n", None).unwrap();
        let out = p.apply(&deployment).unwrap().unwrap();
        let containers = out.at(&["spec", "template", "spec", "containers"]).unwrap().as_seq();
        assert_eq!(containers.len(), 1, "the sidecar is deleted");
        assert_eq!(containers[0].get("image").unwrap().as_str(), Some("a:1"), "the app container keeps its image");
        assert_eq!(containers[0].get("env").unwrap().as_seq().len(), 2, "env merges by name");
    }

    #[test]
    fn json6902_and_selectors() {
        let target = Target { name: Some("ap.*".into()), label_selector: Some("tier in (apps, infra),!skip".into()), ..Target::default() };
        let p = Patch::parse("- op: add\n  path: /spec/wait\n  value: true\n", Some(target)).unwrap();
        let m = manifest(KS);
        assert!(p.selects(&m));
        assert_eq!(p.apply(&m).unwrap().unwrap().at(&["spec", "wait"]).unwrap().as_bool(), Some(true));
        let other = Target { label_selector: Some("tier=infra".into()), ..Target::default() };
        assert!(!other.matches(&m));
    }

    #[test]
    fn untargeted_merge_patch_selects_by_its_identity() {
        let p = Patch::parse("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\nspec:\n  wait: true\n", None).unwrap();
        assert!(p.selects(&manifest(KS)));
        let q = Patch::parse("kind: Kustomization\nmetadata:\n  name: other\n", None).unwrap();
        assert!(!q.selects(&manifest(KS)));
    }
}
