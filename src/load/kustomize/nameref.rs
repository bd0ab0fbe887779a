//! Name references: the resources of a build, some renamed (prefix, suffix, hash) → the same,
//! with every field that names a renamed object naming it by its new name.
//!
//! Read from kustomize's `api/filters/nameref/nameref.go` and
//! `api/internal/accumulator/namereferencetransformer.go`: for each field the `nameReference`
//! configuration lists (a Deployment's `envFrom[].configMapRef.name`, a HelmRelease's
//! `valuesFrom[].name` when a `configurations:` file says so…), the value is an old name of at
//! most one object of the referred kind that the referrer can see (same namespace, or
//! cluster-scoped, or a ServiceAccount), and takes that object's current name; a field that is
//! a map (`subjects`, a webhook's `service`) takes the namespace too. Nothing is done when
//! nothing was renamed.

use super::fieldspec::{Config, FieldSpec, Leaf, NameReference};
use super::{ResId, Resource};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::{LoadError, Node, Value};

/// What a referrer may learn of an object it could refer to.
struct Candidate {
    current: ResId,
    previous: Vec<ResId>,
}

impl Candidate {
    fn original(&self) -> &ResId {
        self.previous.first().unwrap_or(&self.current)
    }
}

/// Points every reference at the current name of what it refers to.
pub(super) fn fix(resources: &mut [Resource], extra: Option<&Config>, diagnostics: &mut Vec<Diagnostic>) {
    if resources.iter().all(|r| r.trace.previous.is_empty()) {
        return;
    }
    let built_in = Config::built_in();
    let references: Vec<&NameReference> = built_in.name_reference.iter().chain(extra.map_or(&[][..], |c| &c.name_reference)).collect();
    let candidates: Vec<Candidate> = resources.iter().map(|r| Candidate { current: r.id(), previous: r.trace.previous.clone() }).collect();
    for (index, r) in resources.iter_mut().enumerate() {
        let original = r.original_id();
        let api = if original.group.is_empty() { original.version.clone() } else { format!("{}/{}", original.group, original.version) };
        let referrer = &candidates[index];
        let mut updated: Option<Node> = None;
        for reference in &references {
            for spec in &reference.referrers {
                if !spec.selects(&api, &original.kind) || !spec.reaches(&r.manifest) {
                    continue;
                }
                let manifest = updated.get_or_insert_with(|| (*r.manifest).clone());
                let visible = visible(manifest, referrer, &candidates);
                let mut error = None;
                spec.walk(manifest, Leaf::Scalar, &mut |node| {
                    if let Err(e) = update(node, spec, reference, referrer, &visible, &r.manifest) {
                        error.get_or_insert(e);
                    }
                });
                if let Some(message) = error {
                    diagnostics.push(Diagnostic::error(Code::InvalidObject, &*r.file, r.line, message.to_string()));
                }
            }
        }
        if let Some(m) = updated.filter(|m| *m != *r.manifest) {
            r.edit(|old| *old = m);
        }
    }
}

/// The objects `referrer` could refer to (kustomize's `SubsetThatCouldBeReferencedByResource`).
fn visible<'c>(manifest: &Node, referrer: &Candidate, all: &'c [Candidate]) -> Vec<&'c Candidate> {
    let me = &referrer.current;
    if me.is_cluster_scoped() {
        return all.iter().collect();
    }
    let binding_namespaces: Vec<&str> = if me.kind == "RoleBinding" {
        manifest.get("subjects").map(Node::as_seq).unwrap_or_default().iter().filter_map(|s| s.get("namespace").and_then(Node::scalar_str)).collect()
    } else {
        Vec::new()
    };
    all.iter()
        .filter(|c| c.current.is_cluster_scoped() || c.current.namespace_equals(me) || binding_namespaces.contains(&c.current.namespace.as_str()))
        .collect()
}

/// Updates one reference: a name, a map with a name (and namespace), or a list of either.
fn update(
    node: &mut Node,
    spec: &FieldSpec,
    reference: &NameReference,
    referrer: &Candidate,
    visible: &[&Candidate],
    manifest: &Node,
) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Seq(items) => {
            for item in items {
                update(item, spec, reference, referrer, visible, manifest)?;
            }
            Ok(())
        }
        Value::Map(_) => update_map(node, spec, reference, referrer, visible, manifest),
        Value::Null => Ok(()),
        _ => {
            let Some(old) = node.scalar_text() else { return Ok(()) };
            if let Some(referral) = select(&old, visible.to_vec(), spec, reference, referrer, manifest, false)? {
                if referral.current.name != old {
                    node.value = Value::Str(referral.current.name.clone());
                }
            }
            Ok(())
        }
    }
}

fn update_map(
    node: &mut Node,
    spec: &FieldSpec,
    reference: &NameReference,
    referrer: &Candidate,
    visible: &[&Candidate],
    manifest: &Node,
) -> Result<(), LoadError> {
    let Some(old) = node.get("name").and_then(Node::scalar_text) else {
        return Err(LoadError::Kustomize(format!("{}: no name field where kustomize's nameReference looks", spec.path.join("/"))));
    };
    // kustomize groups the candidates by effective namespace (none is `default`; a
    // cluster-scoped object is in none), first as they were, then as they are.
    let candidates: Vec<&Candidate> = match node.get("namespace").and_then(Node::scalar_text) {
        Some(ns) => {
            let by_original: Vec<&Candidate> = visible.iter().copied().filter(|c| c.original().effective_namespace() == ns).collect();
            if by_original.is_empty() { visible.iter().copied().filter(|c| c.current.effective_namespace() == ns).collect() } else { by_original }
        }
        None => visible.to_vec(),
    };
    let Some(referral) = select(&old, candidates, spec, reference, referrer, manifest, true)? else { return Ok(()) };
    if referral.current.name == old && referral.current.namespace.is_empty() {
        return Ok(());
    }
    node.set("name", Value::Str(referral.current.name.clone()));
    if !referral.current.namespace.is_empty() {
        node.set("namespace", Value::Str(referral.current.namespace.clone()));
    }
    Ok(())
}

/// The one object `old` names (kustomize's `selectReferral`), if any.
fn select<'c>(
    old: &str,
    candidates: Vec<&'c Candidate>,
    spec: &FieldSpec,
    reference: &NameReference,
    referrer: &Candidate,
    manifest: &Node,
    with_namespace: bool,
) -> Result<Option<&'c Candidate>, LoadError> {
    let role_ref = spec.path.last().map(String::as_str) == Some("name") && spec.path.iter().rev().nth(1).map(String::as_str) == Some("roleRef");
    let role_ref_type = role_ref.then(|| {
        let r = manifest.get("roleRef");
        let text = |k: &str| r.and_then(|r| r.get(k)).and_then(Node::scalar_text).unwrap_or_default();
        (text("apiGroup"), text("kind"))
    });
    let me = &referrer.current;
    let found: Vec<&Candidate> = candidates
        .into_iter()
        .filter(|c| c.previous.iter().any(|p| p.name == old))
        .filter(|c| c.previous.iter().any(|p| reference.targets(&api_version(p), &p.kind)))
        .filter(|c| role_ref_type.as_ref().is_none_or(|(group, kind)| c.previous.iter().any(|p| &p.kind == kind && &p.group == group)))
        .filter(|c| me.is_cluster_scoped() || c.current.is_cluster_scoped() || c.current.kind == "ServiceAccount" || c.current.namespace_equals(me))
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [first, rest @ ..] => {
            let same = rest.iter().all(|c| c.current.name == first.current.name && (!with_namespace || c.current.namespace == first.current.namespace));
            if same {
                Ok(Some(first))
            } else {
                let names: Vec<String> = found.iter().map(|c| format!("{}/{}", c.current.kind, c.current.name)).collect();
                Err(LoadError::Kustomize(format!("{old} could name any of {}: kustomize fails the build", names.join(", "))))
            }
        }
    }
}

fn api_version(id: &ResId) -> String {
    if id.group.is_empty() { id.version.clone() } else { format!("{}/{}", id.group, id.version) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;
    use std::sync::Arc;

    fn resource(text: &str) -> Resource {
        Resource::new(Arc::from("r.yaml"), 1, parse_documents(text).remove(0).unwrap().root, false)
    }

    fn renamed(text: &str, new_name: &str) -> Resource {
        let mut r = resource(text);
        r.edit(|m| m.map_mut("metadata").set("name", Value::Str(new_name.into())));
        r
    }

    #[test]
    fn a_reference_follows_a_rename_in_its_namespace_only() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\n";
        let mut resources = vec![
            renamed(cm, "settings-abc"),
            resource("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          envFrom:\n            - configMapRef:\n                name: settings\n"),
            resource("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n  namespace: elsewhere\nspec:\n  template:\n    spec:\n      volumes:\n        - name: v\n          configMap:\n            name: settings\n"),
        ];
        fix(&mut resources, None, &mut Vec::new());
        let json = |i: usize| resources[i].manifest.to_json();
        assert_eq!(json(1)["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"], "settings-abc");
        assert_eq!(json(2)["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"], "settings", "another namespace");
    }

    #[test]
    fn configurations_add_references_such_as_valuesfrom() {
        let mut config = Config::default();
        config.read(&parse_documents("nameReference:\n  - kind: ConfigMap\n    version: v1\n    fieldSpecs:\n      - path: spec/valuesFrom/name\n        kind: HelmRelease\n").remove(0).unwrap().root);
        let mut resources = vec![
            renamed("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: values\n", "values-abc"),
            resource("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\nspec:\n  valuesFrom:\n    - kind: ConfigMap\n      name: values\n"),
        ];
        fix(&mut resources, None, &mut Vec::new());
        assert_eq!(resources[1].manifest.to_json()["spec"]["valuesFrom"][0]["name"], "values", "not in kustomize's own table");
        fix(&mut resources, Some(&config), &mut Vec::new());
        assert_eq!(resources[1].manifest.to_json()["spec"]["valuesFrom"][0]["name"], "values-abc");
    }
}
