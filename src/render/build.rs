//! Builds: what Kustomizations apply ([`KustomizationBuild`]s) → the YAML a person reads,
//! each object under comments saying where it comes from (`# from FILE:LINE`, the patches that
//! changed it and the variables substituted into it), and the JSON a machine compares (the
//! shape `fluxsim.py --builds` prints).
//!
//! Only what kustomize-controller applies is shown: nothing when the build fails, and never an
//! object it skips (`kustomize.toolkit.fluxcd.io/reconcile: disabled` or
//! `kustomize.toolkit.fluxcd.io/ssa: Ignore`, as a label or an annotation). A Secret's
//! `data` and `stringData` values read `<redacted>`; its keys stay.

use std::borrow::Cow;

use serde::Serialize;

use crate::cluster::KustomizationBuild;
use crate::load::kustomize::Resource;
use crate::load::{Manifest, Node, Value};
use crate::model::FluxObject;
use crate::snapshot::ClusterView;

/// What stands in for a secret value.
pub const REDACTED: &str = "<redacted>";

/// One Kustomization's build, with where it belongs.
pub struct Selected<'a> {
    pub cluster: &'a str,
    pub kustomization: &'a FluxObject,
    pub build: &'a KustomizationBuild,
}

/// Why `fluxgraph build ID` has nothing to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("{given} names several Kustomizations ({}); give the whole id", ids.join(", "))]
    Several { given: String, ids: Vec<String> },
    /// No such Kustomization, or none built here: told with the nearest names or the reason.
    #[error("{0}")]
    NoBuild(String),
}

/// The builds `fluxgraph build ID` shows (every build when `given` is `None`): `given` is a
/// whole id or a name that only one Kustomization has; the error names the nearest ones, or
/// says why a Kustomization that exists has no build here.
pub fn select<'a>(views: &[&'a ClusterView], given: Option<&str>) -> Result<Vec<Selected<'a>>, SelectError> {
    let mut chosen: Vec<Selected<'a>> = Vec::new();
    for view in views {
        let cluster = &view.cluster;
        for (id, build) in &cluster.builds {
            if given.is_none_or(|given| id.to_string() == given || id.name == given) {
                chosen.push(Selected { cluster: &cluster.name, kustomization: &cluster.objects[id], build });
            }
        }
    }
    if let Some(given) = given {
        let ids: std::collections::BTreeSet<String> = chosen.iter().map(|s| s.kustomization.id.to_string()).collect();
        if ids.len() > 1 {
            return Err(SelectError::Several { given: given.to_string(), ids: ids.into_iter().collect() });
        }
        if chosen.is_empty() {
            return Err(SelectError::NoBuild(no_such_build(views, given)));
        }
    }
    Ok(chosen)
}

/// Why `build` has nothing to show for `given`: no such Kustomization (with the nearest
/// names), or one whose files are not in this repository.
fn no_such_build(views: &[&ClusterView], given: &str) -> String {
    let known = views.iter().flat_map(|v| v.cluster.objects.values()).filter(|o| o.id.kind == crate::model::Kind::Kustomization);
    if let Some(o) = known.clone().find(|o| o.id.to_string() == given || o.id.name == given) {
        return match views.iter().find_map(|v| v.cluster.external.get(&o.id)) {
            Some(source) => format!("{} reads {source}, another repository or artifact: its build is not made here", o.id),
            None => format!("{} is not built here: its path depends on a value not known from the repository", o.id),
        };
    }
    let mut near: Vec<(f64, String)> = known
        .map(|o| (strsim::jaro_winkler(&o.id.name, given.rsplit('/').next().unwrap_or(given)), o.id.to_string()))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    near.dedup_by(|a, b| a.1 == b.1);
    match near.first() {
        Some(_) => format!("no Kustomization {given}; did you mean {}?", near.iter().take(3).map(|(_, id)| id.as_str()).collect::<Vec<_>>().join(", ")),
        None => format!("no Kustomization {given} in this repository"),
    }
}

/// The objects a build applies, in kustomize's order: none when it fails.
pub fn applied(build: &KustomizationBuild) -> impl Iterator<Item = &Resource> {
    build.objects.iter().filter(|r| build.error.is_none() && !skipped(&r.manifest))
}

/// Whether kustomize-controller leaves the object out of its apply.
pub fn skipped(manifest: &Node) -> bool {
    let says = |key: &str, value: &str| {
        ["labels", "annotations"].iter().any(|field| {
            manifest.at(&["metadata", field, key]).and_then(Node::scalar_str).is_some_and(|v| v.eq_ignore_ascii_case(value))
        })
    };
    says("kustomize.toolkit.fluxcd.io/reconcile", "disabled") || says("kustomize.toolkit.fluxcd.io/ssa", "ignore")
}

/// Whether a manifest is a Secret, whose values are never shown.
pub fn is_secret(manifest: &Node) -> bool {
    manifest.api_version() == "v1" && manifest.kind() == "Secret"
}

/// The manifest as it may be shown: a Secret's values redacted, anything else as it is.
pub fn shown(manifest: &Node) -> Cow<'_, Node> {
    if !is_secret(manifest) {
        return Cow::Borrowed(manifest);
    }
    let mut copy = manifest.clone();
    for field in ["data", "stringData"] {
        if let Some(Value::Map(entries)) = copy.get_mut(field).map(|n| &mut n.value) {
            for (_, v) in entries.iter_mut() {
                v.value = Value::Str(REDACTED.to_string());
            }
        }
    }
    Cow::Owned(copy)
}

/// The manifest as a page or an assistant may see it: [`shown`], and in a SOPS-encrypted
/// document every `ENC[...]` value and the `sops:` key material replaced too.
pub fn redacted(r: &Resource) -> Node {
    let mut manifest = shown(&r.manifest).into_owned();
    if r.sops {
        if let Some(sops) = manifest.get_mut("sops") {
            redact_values(sops);
        }
        manifest.visit_strings_mut(&mut |s, _| {
            if s.starts_with("ENC[") {
                *s = REDACTED.to_string();
            }
        });
    }
    manifest
}

/// Every scalar value below `node` replaced, its keys kept.
fn redact_values(node: &mut Node) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(redact_values),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| redact_values(v)),
        Value::Null => {}
        value => *value = Value::Str(REDACTED.to_string()),
    }
}

/// The manifest as YAML, redacted.
pub fn manifest_yaml(manifest: &Node) -> String {
    serde_saphyr::to_string(&*shown(manifest)).unwrap_or_else(|e| format!("# cannot be written as YAML: {e}\n"))
}

/// The builds as YAML documents: a comment naming each Kustomization (and why its build
/// fails, when it does), then each object it applies under the file and line it came from.
pub fn yaml(selected: &[Selected<'_>]) -> String {
    let mut out = String::new();
    for s in selected {
        let id = &s.kustomization.id;
        let path = path(s.kustomization).map_or_else(|| "no spec.path".to_string(), |p| format!("path {p}"));
        out.push_str(&format!("# {id} (cluster {}, {path})\n", s.cluster));
        if let Some(error) = &s.build.error {
            out.push_str(&format!("# the build fails ({}): {}\n", error.code, one_line(&error.message)));
        }
        for r in applied(s.build) {
            out.push_str("---\n");
            out.push_str(&provenance(r));
            out.push_str(&manifest_yaml(&r.manifest));
        }
    }
    out
}

/// Comment lines saying where an object comes from: its file and line, each patch that changed
/// it (where the patch is written, and the fields it changed), the postBuild variables
/// substituted into it.
pub fn provenance(r: &Resource) -> String {
    let mut out = format!("# from {}:{}\n", r.file, r.line);
    for change in &r.changes {
        out.push_str(&format!("# patched by {}:{} ({})\n", change.file, change.line, change.fields.join(", ")));
    }
    if !r.substituted.is_empty() {
        out.push_str(&format!("# substituted: {}\n", r.substituted.join(", ")));
    }
    out
}

/// The builds as one JSON document, in the shape of `fluxsim.py --builds`.
pub fn json(selected: &[Selected<'_>]) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        version: u32,
        tool: &'static str,
        builds: Vec<Entry<'a>>,
    }
    #[derive(Serialize)]
    struct Entry<'a> {
        cluster: &'a str,
        kustomization: String,
        path: Option<&'a str>,
        objects: Vec<Cow<'a, Node>>,
        error: Option<Error<'a>>,
    }
    #[derive(Serialize)]
    struct Error<'a> {
        code: String,
        message: &'a str,
    }
    let builds = selected
        .iter()
        .map(|s| Entry {
            cluster: s.cluster,
            kustomization: s.kustomization.id.to_string(),
            path: path(s.kustomization),
            objects: applied(s.build).map(|r| shown(&r.manifest)).collect(),
            error: s.build.error.as_ref().map(|e| Error { code: e.code.to_string(), message: &e.message }),
        })
        .collect();
    let document = Document { version: 1, tool: "fluxgraph", builds };
    serde_json::to_string_pretty(&document).expect("a build serialises") + "\n"
}

/// `spec.path` as written.
fn path(kustomization: &FluxObject) -> Option<&str> {
    kustomization.kustomization()?.path.as_ref().map(|p| p.value.as_str())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn node(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    #[test]
    fn a_secret_shows_its_keys_not_its_values() {
        let secret = node("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  token: c2VjcmV0\nstringData:\n  password: hunter2\n");
        let text = manifest_yaml(&secret);
        assert!(text.contains("token: <redacted>") && text.contains("password: <redacted>"), "{text}");
        assert!(!text.contains("c2VjcmV0") && !text.contains("hunter2"), "{text}");
        let config = node("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  port: \"8080\"\n");
        assert!(manifest_yaml(&config).contains("8080"));
    }

    #[test]
    fn objects_flux_skips_are_left_out() {
        for skipped_one in [
            "metadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/reconcile: disabled\n",
            "metadata:\n  labels:\n    kustomize.toolkit.fluxcd.io/ssa: Ignore\n",
            "metadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: ignore\n",
        ] {
            assert!(skipped(&node(skipped_one)), "{skipped_one}");
        }
        assert!(!skipped(&node("metadata:\n  annotations:\n    kustomize.toolkit.fluxcd.io/ssa: Merge\n")));
    }

    #[test]
    fn numbers_stay_numbers_and_text_that_looks_like_one_stays_text() {
        let m = node("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  port: \"8080\"\n  on: \"true\"\nspec:\n  replicas: 3\n");
        let text = manifest_yaml(&m);
        assert!(text.contains("replicas: 3"), "{text}");
        assert!(!text.contains("port: 8080") && !text.contains("on: true"), "quoted text must stay text: {text}");
    }
}
