//! Built manifests: each Kustomization's build in two revisions → what the change does in the
//! cluster: the objects it adds, removes or modifies (each modification field by field, as
//! `spec.chart.spec.version: 1.2.0 → 1.3.0`), and the versions that move (HelmRelease charts,
//! OCIRepository and GitRepository refs, container images in plain manifests and in Helm
//! values), each marked when its major version goes up.
//!
//! A Secret's values are never shown: a changed Secret says which keys changed. Objects are
//! matched by API group, kind, namespace and name; an unchanged document is the same parsed
//! node in both revisions (the base reuses what the head parsed), so only what a patch,
//! substitution or edit touched is compared field by field.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::Status;
use crate::cluster::KustomizationBuild;
use crate::load::kustomize::Resource;
use crate::load::{Manifest, Node, Value};
use crate::model::{Identity, ObjectId, ResourceId};
use crate::render::build::applied;
use crate::snapshot::ClusterView;

/// Field changes listed for one object at most; the rest are counted.
const MAX_FIELDS: usize = 40;
/// Longest value shown; longer ones are cut with an ellipsis.
const MAX_VALUE: usize = 120;

/// What one Kustomization applies differently.
#[derive(Debug, Clone, Serialize)]
pub struct BuildChanges {
    pub kustomization: ObjectId,
    /// `added`: built only in the head; `removed`: only in the base.
    pub status: Status,
    pub added: Vec<BuiltObject>,
    pub removed: Vec<BuiltObject>,
    pub changed: Vec<BuiltChange>,
}

/// A built object and the document it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltObject {
    /// `Kind/namespace/name` (or `Kind/name` without namespace).
    pub id: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltChange {
    pub id: String,
    pub file: String,
    pub line: u32,
    pub fields: Vec<ValueChange>,
    /// Changed fields beyond those listed.
    pub more: usize,
}

/// One field, as text before and after (`null`: absent). A Secret's values are hidden: both
/// are `null` and `hidden` is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

impl std::fmt::Display for ValueChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.hidden {
            return write!(f, "{}: changed (a secret value)", self.path);
        }
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        write!(f, "{}: {} → {}", self.path, shown(&self.before), shown(&self.after))
    }
}

/// What a version is the version of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionKind {
    Chart,
    Image,
    Ref,
}

impl VersionKind {
    /// As the reports and the JSON name it.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionKind::Chart => "chart",
            VersionKind::Image => "image",
            VersionKind::Ref => "ref",
        }
    }
}

/// A version that moved: a chart, an image, a source's ref.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct VersionChange {
    pub kind: VersionKind,
    /// The chart, the image repository, or the source's URL.
    pub name: String,
    pub before: String,
    pub after: String,
    /// The major version goes up (`1.9.0 → 2.0.0`, `v3 → v4`).
    pub major: bool,
    /// The built object it is in.
    pub object: String,
    /// Where it is written (`spec.chart.spec.version`, `spec.values.image`).
    pub path: String,
    /// The Flux object to link to: the object itself, or the Kustomization that applies it.
    pub link: Option<ObjectId>,
}

/// Every Kustomization whose build differs between `base` and `head`, in id order.
pub fn compare(base: Option<&ClusterView>, head: Option<&ClusterView>) -> Vec<BuildChanges> {
    let empty = BTreeMap::new();
    let (before, after) = (base.map_or(&empty, |v| &v.cluster.builds), head.map_or(&empty, |v| &v.cluster.builds));
    let ids: BTreeSet<&ObjectId> = before.keys().chain(after.keys()).collect();
    ids.into_iter()
        .filter_map(|id| {
            let changes = compare_build(id, before.get(id), after.get(id));
            (!(changes.added.is_empty() && changes.removed.is_empty() && changes.changed.is_empty())).then_some(changes)
        })
        .collect()
}

fn compare_build(id: &ObjectId, before: Option<&KustomizationBuild>, after: Option<&KustomizationBuild>) -> BuildChanges {
    let (old, new) = (index(before), index(after));
    let status = match (before, after) {
        (None, _) => Status::Added,
        (_, None) => Status::Removed,
        _ => Status::Changed,
    };
    let mut changes = BuildChanges { kustomization: id.clone(), status, added: Vec::new(), removed: Vec::new(), changed: Vec::new() };
    for (rid, r) in &new {
        match old.get(rid) {
            None => changes.added.push(built(rid, r)),
            Some(was) if Arc::ptr_eq(&was.manifest, &r.manifest) => {}
            Some(was) => {
                let hide = Hide { secret: crate::render::build::is_secret(&r.manifest), sops: r.sops || was.sops };
                let mut fields = Vec::new();
                value_changes(&was.manifest, &r.manifest, "", hide, &mut fields);
                if !fields.is_empty() {
                    let more = fields.len().saturating_sub(MAX_FIELDS);
                    fields.truncate(MAX_FIELDS);
                    changes.changed.push(BuiltChange { id: rid.to_string(), file: r.file.to_string(), line: r.line, fields, more });
                }
            }
        }
    }
    changes.removed = old.iter().filter(|(rid, _)| !new.contains_key(*rid)).map(|(rid, r)| built(rid, r)).collect();
    changes
}

/// A build's objects by identity.
fn index(build: Option<&KustomizationBuild>) -> BTreeMap<ResourceId, &Resource> {
    build.map(|b| applied(b).filter_map(|r| Some((r.manifest.resource_id("")?, r))).collect()).unwrap_or_default()
}

fn built(id: &ResourceId, r: &Resource) -> BuiltObject {
    BuiltObject { id: id.to_string(), file: r.file.to_string(), line: r.line }
}

/// The leaves in which `a` and `b` differ, below `path`. Lists of maps that all have a `name`
/// are matched by name (containers, env), other lists by position; `hide` hides the values
/// under a Secret's `data` and `stringData`, and a SOPS document's encrypted values.
fn value_changes(a: &Node, b: &Node, path: &str, hide: Hide, out: &mut Vec<ValueChange>) {
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match (&a.value, &b.value) {
        (Value::Map(x), Value::Map(y)) => {
            let keys: Vec<&String> = x.iter().map(|(k, _)| k).chain(y.iter().map(|(k, _)| k).filter(|k| a.get(k).is_none())).collect();
            for k in keys {
                let sub = join(k);
                match (a.get(k), b.get(k)) {
                    (Some(p), Some(q)) => value_changes(p, q, &sub, hide, out),
                    (p, q) => out.push(change(&sub, p, q, hide)),
                }
            }
        }
        (Value::Seq(x), Value::Seq(y)) => match (named(x), named(y)) {
            (Some(xs), Some(ys)) => {
                for (name, p) in &xs {
                    let sub = format!("{path}[{name}]");
                    match ys.iter().find(|(n, _)| n == name) {
                        Some((_, q)) => value_changes(p, q, &sub, hide, out),
                        None => out.push(change(&sub, Some(p), None, hide)),
                    }
                }
                for (name, q) in ys.iter().filter(|(n, _)| !xs.iter().any(|(m, _)| m == n)) {
                    out.push(change(&format!("{path}[{name}]"), None, Some(q), hide));
                }
            }
            _ => {
                for i in 0..x.len().max(y.len()) {
                    let sub = format!("{path}[{i}]");
                    match (x.get(i), y.get(i)) {
                        (Some(p), Some(q)) => value_changes(p, q, &sub, hide, out),
                        (p, q) => out.push(change(&sub, p, q, hide)),
                    }
                }
            }
        },
        _ if same_scalar(a, b) => {}
        _ => out.push(change(path, Some(a), Some(b), hide)),
    }
}

/// A list whose items are all maps with a `name`, by name.
fn named(items: &[Node]) -> Option<Vec<(String, &Node)>> {
    if items.is_empty() {
        return None;
    }
    items.iter().map(|n| Some((n.get("name")?.scalar_text()?, n))).collect()
}

fn same_scalar(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Map(_) | Value::Seq(_), _) | (_, Value::Map(_) | Value::Seq(_)) => false,
        (Value::Null, Value::Null) => true,
        _ => a.scalar_text().is_some() && a.scalar_text() == b.scalar_text(),
    }
}

/// What a changed object's values may not show: a Secret's data, and a SOPS document's
/// encrypted values and key material.
#[derive(Debug, Clone, Copy)]
struct Hide {
    secret: bool,
    sops: bool,
}

fn change(path: &str, before: Option<&Node>, after: Option<&Node>, hide: Hide) -> ValueChange {
    let encrypted = |n: Option<&Node>| n.and_then(Node::as_str).is_some_and(|s| s.starts_with("ENC["));
    let hidden = (hide.secret && (path.starts_with("data") || path.starts_with("stringData")))
        || (hide.sops && (path.starts_with("sops") || encrypted(before) || encrypted(after)));
    let shown = |n: Option<&Node>| if hidden { None } else { n.map(text) };
    ValueChange { path: path.to_string(), before: shown(before), after: shown(after), hidden }
}

/// A value as one line of text: a scalar as written, anything else as compact JSON, cut.
fn text(node: &Node) -> String {
    let full = match &node.value {
        Value::Null => "null".to_string(),
        Value::Map(_) | Value::Seq(_) => node.to_json().to_string(),
        _ => node.scalar_text().unwrap_or_default(),
    };
    if full.chars().count() <= MAX_VALUE {
        return full;
    }
    let cut: String = full.chars().take(MAX_VALUE).collect();
    format!("{cut}…")
}

/// The versions that move between `base` and `head`, over every build of the cluster.
pub fn versions(base: Option<&ClusterView>, head: Option<&ClusterView>) -> Vec<VersionChange> {
    let (old, new) = (versions_of(base), versions_of(head));
    let mut out: Vec<VersionChange> = new
        .iter()
        .filter_map(|(key, (name, after, link))| {
            let (_, before, _) = old.get(key)?;
            (before != after).then(|| VersionChange {
                kind: key.0,
                name: name.clone(),
                major: major_bump(before, after),
                before: before.clone(),
                after: after.clone(),
                object: key.1.clone(),
                path: key.2.clone(),
                link: link.clone(),
            })
        })
        .collect();
    out.sort();
    out
}

/// (kind, object, path) → (name, version, the Flux object to link to).
type Versions = BTreeMap<(VersionKind, String, String), (String, String, Option<ObjectId>)>;

fn versions_of(view: Option<&ClusterView>) -> Versions {
    let mut out = Versions::new();
    let Some(view) = view else { return out };
    for (by, build) in &view.cluster.builds {
        for r in applied(build) {
            let m = &r.manifest;
            let Some(rid) = m.resource_id(&by.namespace) else { continue };
            let own = m.object_id(&by.namespace).filter(|id| view.cluster.objects.contains_key(id));
            let link = own.or_else(|| Some(by.clone()));
            let object = rid.to_string();
            let mut add = |kind, path: String, name: String, version: String| {
                out.insert((kind, object.clone(), path), (name, version, link.clone()));
            };
            match (m.group(), m.kind()) {
                ("helm.toolkit.fluxcd.io", "HelmRelease") => {
                    let chart = m.at(&["spec", "chart", "spec"]);
                    if let (Some(name), Some(version)) = (chart.and_then(|c| c.get("chart")).and_then(Node::scalar_text), chart.and_then(|c| c.get("version")).and_then(Node::scalar_text)) {
                        add(VersionKind::Chart, "spec.chart.spec.version".into(), name, version);
                    }
                }
                ("source.toolkit.fluxcd.io", "OCIRepository" | "GitRepository") => {
                    let url = m.at(&["spec", "url"]).and_then(Node::scalar_text).unwrap_or_default();
                    let reference = m.at(&["spec", "ref"]);
                    let found = ["tag", "semver", "digest", "commit", "branch", "name"]
                        .iter()
                        .find_map(|k| Some((*k, reference?.get(k)?.scalar_text()?)));
                    if let Some((key, value)) = found {
                        add(VersionKind::Ref, format!("spec.ref.{key}"), url, value);
                    }
                }
                _ => {}
            }
            // A Secret's values are never shown, not even one that reads as an image.
            if !crate::render::build::is_secret(m) {
                images(m, "", &mut |path, name, tag| add(VersionKind::Image, path, name, tag));
            }
        }
    }
    out
}

/// Container images anywhere in a manifest: an `image: repository:tag` string (pod specs,
/// plain values), or an `image` map of `repository` and `tag` (Helm values).
fn images(node: &Node, path: &str, found: &mut dyn FnMut(String, String, String)) {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                let sub = join(k);
                if k == "image" {
                    if let Some((name, tag)) = v.as_str().and_then(split_image) {
                        found(sub.clone(), name, tag);
                        continue;
                    }
                    if let (Some(repo), Some(tag)) = (v.get("repository").and_then(Node::scalar_text), v.get("tag").and_then(Node::scalar_text)) {
                        let registry = v.get("registry").and_then(Node::scalar_text).map_or(String::new(), |r| format!("{r}/"));
                        found(sub.clone(), format!("{registry}{repo}"), tag);
                        continue;
                    }
                }
                images(v, &sub, found);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                // Containers are named: their path says which one.
                let key = item.get("name").and_then(Node::scalar_text).unwrap_or_else(|| i.to_string());
                images(item, &format!("{path}[{key}]"), found);
            }
        }
        _ => {}
    }
}

/// `ghcr.io/org/app:1.2.3` → (`ghcr.io/org/app`, `1.2.3`); a digest stays with its tag.
fn split_image(image: &str) -> Option<(String, String)> {
    if image.contains("${") || image.contains(char::is_whitespace) {
        return None;
    }
    let (name, digest) = image.split_once('@').map_or((image, None), |(n, d)| (n, Some(d)));
    // A `:` after the last `/` is a tag; before it, a registry's port.
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(&name[slash + i + 1..])),
        None => (name, None),
    };
    let version = match (tag, digest) {
        (Some(t), Some(d)) => format!("{t}@{d}"),
        (Some(t), None) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => return None,
    };
    Some((repo.to_string(), version))
}

/// Whether the leading number of a version goes up (`v1.9` → `v2.0`); versions without one
/// (a branch, a digest) never do.
pub fn major_bump(before: &str, after: &str) -> bool {
    fn major(v: &str) -> Option<u64> {
        let v = v.trim_start_matches(['v', 'V']);
        let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }
    matches!((major(before), major(after)), (Some(a), Some(b)) if b > a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn node(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    #[test]
    fn containers_are_matched_by_name_and_leaves_compared_as_text() {
        let a = node("spec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: app\n          image: ghcr.io/x/app:2.2.1\n        - name: sidecar\n          image: busybox:1\n");
        let b = node("spec:\n  replicas: \"1\"\n  template:\n    spec:\n      containers:\n        - name: sidecar\n          image: busybox:1\n        - name: app\n          image: ghcr.io/x/app:2.3.0\n");
        let mut out = Vec::new();
        value_changes(&a, &b, "", Hide { secret: false, sops: false }, &mut out);
        assert_eq!(out.iter().map(ToString::to_string).collect::<Vec<_>>(), ["spec.template.spec.containers[app].image: ghcr.io/x/app:2.2.1 → ghcr.io/x/app:2.3.0"]);
    }

    #[test]
    fn a_secret_says_which_keys_changed_never_their_values() {
        let a = node("kind: Secret\ndata:\n  password: b2xk\n  user: YQ==\nstringData:\n  token: old\n");
        let b = node("kind: Secret\ndata:\n  password: bmV3\n  user: YQ==\nstringData:\n  token: new\n  added: x\n");
        let mut out = Vec::new();
        value_changes(&a, &b, "", Hide { secret: true, sops: false }, &mut out);
        let paths: Vec<&str> = out.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["data.password", "stringData.token", "stringData.added"]);
        assert!(out.iter().all(|c| c.hidden && c.before.is_none() && c.after.is_none()));
        assert!(!out.iter().map(ToString::to_string).collect::<String>().contains("new"));
    }

    #[test]
    fn images_are_read_from_strings_and_from_helm_values() {
        let m = node("spec:\n  values:\n    image:\n      repository: ghcr.io/home/app\n      tag: 1.4.0\n    sidecar:\n      image: registry.local:5000/tools/proxy:v2@sha256:abc\n  containers:\n    - name: main\n      image: nginx\n");
        let mut found = Vec::new();
        images(&m, "", &mut |p, n, t| found.push((p, n, t)));
        assert_eq!(
            found,
            [
                ("spec.values.image".to_string(), "ghcr.io/home/app".to_string(), "1.4.0".to_string()),
                ("spec.values.sidecar.image".to_string(), "registry.local:5000/tools/proxy".to_string(), "v2@sha256:abc".to_string()),
            ]
        );
    }

    #[test]
    fn a_major_bump_is_the_leading_number_going_up() {
        assert!(major_bump("1.9.0", "2.0.0"));
        assert!(major_bump("v3", "v4.1"));
        assert!(!major_bump("2.2.1", "2.3.0"));
        assert!(!major_bump("main", "develop"));
        assert!(!major_bump("2.0.0", "1.0.0"));
    }
}
