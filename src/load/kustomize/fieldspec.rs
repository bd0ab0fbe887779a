//! Field specs: where kustomize's transformers write (`kind` + `path`), and the tables of them
//! kustomize builds in; a kustomization's `configurations:` add to them.
//!
//! A path is `/`-separated; a sequence met on the way is walked element by element (a `[]`
//! suffix only says the field is one), `\/` escapes a slash inside a key. With `create`, missing
//! maps on the way are made. Read from kustomize's `api/filters/fieldspec/fieldspec.go` and the
//! default configurations (`api/konfig/builtinpluginconsts`: `commonlabels.go`,
//! `metadatalabels.go`, `commonannotations.go`, `namereference.go`, `namespace.go`), written
//! here as tables; which fields each table reaches was checked against kustomize api v0.21.3.

use std::sync::OnceLock;

use crate::load::{Node, Value};

/// One place a transformer writes: the kinds it applies to and the path in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub path: Vec<String>,
    pub create: bool,
}

/// What a walk makes when `create` finds the last field missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaf {
    Map,
    Scalar,
}

impl FieldSpec {
    /// `kind` may be empty (every kind); `path` as kustomize writes it.
    pub fn new(group: &str, version: &str, kind: &str, path: &str, create: bool) -> FieldSpec {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        FieldSpec { group: some(group), version: some(version), kind: some(kind), path: split_path(path), create }
    }

    /// A spec read from a `configurations:` file (`path`, `kind`, `group`, `version`, `create`).
    pub fn read(node: &Node) -> Option<FieldSpec> {
        let text = |k: &str| node.get(k).and_then(Node::scalar_text).unwrap_or_default();
        let path = node.get("path").and_then(Node::scalar_text)?;
        Some(FieldSpec::new(&text("group"), &text("version"), &text("kind"), &path, node.get("create").and_then(Node::as_bool) == Some(true)))
    }

    /// Whether the spec applies to a manifest of this apiVersion and kind.
    pub fn selects(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = split_api_version(api_version);
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
    }

    /// Calls `set` on every node the path reaches in `node`, making what is missing when the
    /// spec says `create` (the last field as `leaf`). A `null` on the way becomes what the walk
    /// needs. Whether anything was reached.
    pub fn walk(&self, node: &mut Node, leaf: Leaf, set: &mut impl FnMut(&mut Node)) -> bool {
        walk(node, &self.path, self.create, leaf, set)
    }

    /// Whether the path reaches anything in `node` (without `create`).
    pub fn reaches(&self, node: &Node) -> bool {
        reaches(node, &self.path)
    }
}

fn walk(node: &mut Node, path: &[String], create: bool, leaf: Leaf, set: &mut impl FnMut(&mut Node)) -> bool {
    let Some((first, rest)) = path.split_first() else {
        set(node);
        return true;
    };
    match &mut node.value {
        Value::Seq(items) => {
            let mut any = false;
            for item in items {
                any |= walk(item, path, create, leaf, set);
            }
            any
        }
        Value::Map(_) => {
            let (name, is_seq) = match first.strip_suffix("[]") {
                Some(name) => (name, true),
                None => (first.as_str(), false),
            };
            if node.get(name).is_none() {
                if !create || is_seq {
                    return false;
                }
                let value = if rest.is_empty() && leaf == Leaf::Scalar { Value::Null } else { Value::Map(Vec::new()) };
                node.set(name, value);
            }
            let child = node.get_mut(name).expect("present or just made");
            if child.value == Value::Null && (create || is_seq) {
                child.value = if is_seq {
                    Value::Seq(Vec::new())
                } else if rest.is_empty() && leaf == Leaf::Scalar {
                    Value::Null
                } else {
                    Value::Map(Vec::new())
                };
            }
            walk(child, rest, create, leaf, set)
        }
        // kustomize fails on a path through a scalar; nothing is written here.
        _ => false,
    }
}

fn reaches(node: &Node, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else { return true };
    match &node.value {
        Value::Seq(items) => items.iter().any(|i| reaches(i, path)),
        Value::Map(_) => {
            let name = first.strip_suffix("[]").unwrap_or(first);
            node.get(name).is_some_and(|child| reaches(child, rest))
        }
        _ => false,
    }
}

/// `a/b\/c/d` → `[a, b/c, d]`.
pub fn split_path(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match out.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('/');
                last.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out
}

/// apiVersion → (group, version); the core group is empty.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

/// A `nameReference` entry: the kind whose name others hold, and where they hold it.
#[derive(Debug, Clone)]
pub struct NameReference {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: String,
    pub referrers: Vec<FieldSpec>,
}

impl NameReference {
    /// Whether an object of this apiVersion and kind is the kind referred to.
    pub fn targets(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = split_api_version(api_version);
        self.kind == kind && self.group.as_deref().is_none_or(|g| g == group) && self.version.as_deref().is_none_or(|v| v == version)
    }
}

/// kustomize's transformer configuration: the built-in field specs and what `configurations:`
/// files add (`commonLabels`, `commonAnnotations`, `namePrefix`, `namespace`, `nameReference`).
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub common_labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub name_prefix: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub name_reference: Vec<NameReference>,
}

impl Config {
    /// The configuration kustomize starts every kustomization with.
    pub fn built_in() -> &'static Config {
        static BUILT_IN: OnceLock<Config> = OnceLock::new();
        BUILT_IN.get_or_init(built_in)
    }

    /// Adds what a `configurations:` file says.
    pub fn read(&mut self, root: &Node) {
        let specs = |key: &str| root.get(key).map(Node::as_seq).unwrap_or_default().iter().filter_map(FieldSpec::read).collect::<Vec<_>>();
        self.common_labels.extend(specs("commonLabels"));
        self.common_annotations.extend(specs("commonAnnotations"));
        self.name_prefix.extend(specs("namePrefix"));
        self.namespace.extend(specs("namespace"));
        for entry in root.get("nameReference").map(Node::as_seq).unwrap_or_default() {
            let text = |k: &str| entry.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
            let Some(kind) = text("kind") else { continue };
            let referrers = entry.get("fieldSpecs").map(Node::as_seq).unwrap_or_default().iter().filter_map(FieldSpec::read).collect();
            self.name_reference.push(NameReference { group: text("group"), version: text("version"), kind, referrers });
        }
    }

    /// Adds another configuration (a base's, which kustomize carries up to the kustomization
    /// that includes it).
    pub fn merge(&mut self, other: &Config) {
        fn extend<T: Clone + PartialEq>(into: &mut Vec<T>, from: &[T]) {
            for item in from {
                if !into.contains(item) {
                    into.push(item.clone());
                }
            }
        }
        extend(&mut self.common_labels, &other.common_labels);
        extend(&mut self.template_labels, &other.template_labels);
        extend(&mut self.common_annotations, &other.common_annotations);
        extend(&mut self.name_prefix, &other.name_prefix);
        extend(&mut self.namespace, &other.namespace);
        for reference in &other.name_reference {
            let known = self.name_reference.iter().any(|r| {
                r.kind == reference.kind && r.group == reference.group && r.version == reference.version && r.referrers.len() == reference.referrers.len()
                    && r.referrers.iter().zip(&reference.referrers).all(|(a, b)| a == b)
            });
            if !known {
                self.name_reference.push(reference.clone());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.common_labels.is_empty()
            && self.template_labels.is_empty()
            && self.common_annotations.is_empty()
            && self.name_prefix.is_empty()
            && self.namespace.is_empty()
            && self.name_reference.is_empty()
    }
}

/// (group, version, kind, path, create) rows of a built-in table.
type Row = (&'static str, &'static str, &'static str, &'static str, bool);

/// Where `commonLabels` and `labels: includeSelectors` write besides metadata: selectors.
const SELECTOR_LABELS: &[Row] = &[
    ("", "v1", "Service", "spec/selector", true),
    ("", "v1", "ReplicationController", "spec/selector", true),
    ("", "", "Deployment", "spec/selector/matchLabels", true),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    ("apps", "", "Deployment", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    ("apps", "", "Deployment", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    ("", "", "ReplicaSet", "spec/selector/matchLabels", true),
    ("", "", "DaemonSet", "spec/selector/matchLabels", true),
    ("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
    ("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels", false),
    ("apps", "", "StatefulSet", "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels", false),
    ("apps", "", "StatefulSet", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    ("batch", "", "Job", "spec/selector/matchLabels", false),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false),
    ("policy", "", "PodDisruptionBudget", "spec/selector/matchLabels", false),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/podSelector/matchLabels", false),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", false),
    ("networking.k8s.io", "", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false),
];

/// Pod templates' labels (`labels: includeTemplates`).
const TEMPLATE_LABELS: &[Row] = &[
    ("", "v1", "ReplicationController", "spec/template/metadata/labels", true),
    ("", "", "Deployment", "spec/template/metadata/labels", true),
    ("", "", "ReplicaSet", "spec/template/metadata/labels", true),
    ("", "", "DaemonSet", "spec/template/metadata/labels", true),
    ("apps", "", "StatefulSet", "spec/template/metadata/labels", true),
    ("batch", "", "Job", "spec/template/metadata/labels", true),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/labels", true),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true),
];

/// Where `commonAnnotations` write: metadata and pod templates.
const COMMON_ANNOTATIONS: &[Row] = &[
    ("", "", "", "metadata/annotations", true),
    ("", "v1", "ReplicationController", "spec/template/metadata/annotations", true),
    ("", "", "Deployment", "spec/template/metadata/annotations", true),
    ("", "", "ReplicaSet", "spec/template/metadata/annotations", true),
    ("", "", "DaemonSet", "spec/template/metadata/annotations", true),
    ("apps", "", "StatefulSet", "spec/template/metadata/annotations", true),
    ("batch", "", "Job", "spec/template/metadata/annotations", true),
    ("batch", "", "CronJob", "spec/jobTemplate/metadata/annotations", true),
    ("batch", "", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true),
];

/// Namespace fields besides `metadata/namespace` (written for every namespaced kind) and the
/// subjects of role bindings (named `default` only).
const NAMESPACE: &[Row] = &[
    ("", "", "Namespace", "metadata/name", true),
    ("apiregistration.k8s.io", "", "APIService", "spec/service/namespace", true),
    ("apiextensions.k8s.io", "", "CustomResourceDefinition", "spec/conversion/webhook/clientConfig/service/namespace", false),
];

/// Pod spec locations, for the name references below.
const POD_SPECS: &[(&str, &str, &str)] = &[
    ("v1", "Pod", "spec"),
    ("", "PodTemplate", "template/spec"),
    ("", "Deployment", "spec/template/spec"),
    ("", "ReplicaSet", "spec/template/spec"),
    ("", "DaemonSet", "spec/template/spec"),
    ("", "StatefulSet", "spec/template/spec"),
    ("", "Job", "spec/template/spec"),
    ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
];

fn specs(rows: &[Row]) -> Vec<FieldSpec> {
    rows.iter().map(|&(g, v, k, p, c)| FieldSpec::new(g, v, k, p, c)).collect()
}

fn reference(group: &str, version: &str, kind: &str, referrers: Vec<FieldSpec>) -> NameReference {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    NameReference { group: some(group), version: some(version), kind: kind.to_string(), referrers }
}

/// Fields under each pod spec, by the kinds that hold one.
fn in_pod_specs(paths: &[&str]) -> Vec<FieldSpec> {
    let mut out = Vec::new();
    for &(version, kind, spec) in POD_SPECS {
        for path in paths {
            out.push(FieldSpec::new("", version, kind, &format!("{spec}/{path}"), false));
        }
    }
    out
}

/// kustomize's `nameReference` table: which fields of which kinds hold the name of a
/// ConfigMap, a Secret, a Service, a ServiceAccount…
fn name_references() -> Vec<NameReference> {
    let fs = |kind: &str, path: &str| FieldSpec::new("", "", kind, path, false);
    let mut config_map = in_pod_specs(&[
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]);
    config_map.extend([
        fs("Node", "spec/configSource/configMap"),
        fs("Role", "rules/resourceNames"),
        fs("ClusterRole", "rules/resourceNames"),
        fs("Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap"),
    ]);
    let mut secret = in_pod_specs(&[
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]);
    secret.extend([
        fs("Ingress", "spec/tls/secretName"),
        fs("Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret"),
        fs("Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"),
        fs("Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret"),
        fs("ServiceAccount", "imagePullSecrets/name"),
        fs("StorageClass", "parameters/secretName"),
        fs("StorageClass", "parameters/adminSecretName"),
        fs("StorageClass", "parameters/userSecretName"),
        fs("StorageClass", "parameters/secretRef"),
        fs("Role", "rules/resourceNames"),
        fs("ClusterRole", "rules/resourceNames"),
        FieldSpec::new("serving.knative.dev", "v1", "Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name", false),
        fs("PersistentVolume", "spec/azureFile/secretName"),
    ]);
    let workloads = |path: &str| -> Vec<FieldSpec> {
        let mut out = vec![fs("Pod", &path.replace("spec/template/spec/", "spec/"))];
        for kind in ["StatefulSet", "Deployment", "ReplicationController", "Job", "DaemonSet"] {
            out.push(fs(kind, path));
        }
        out.push(fs("CronJob", &path.replace("spec/template/", "spec/jobTemplate/spec/template/")));
        out
    };
    let mut service_account = vec![
        FieldSpec::new("rbac.authorization.k8s.io", "", "RoleBinding", "subjects", false),
        FieldSpec::new("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "subjects", false),
    ];
    service_account.extend(workloads("spec/template/spec/serviceAccountName"));
    let hpa = |kind: &str| reference("", "", kind, vec![fs("HorizontalPodAutoscaler", "spec/scaleTargetRef/name")]);
    vec![
        hpa("Deployment"),
        hpa("ReplicationController"),
        hpa("ReplicaSet"),
        hpa("StatefulSet"),
        reference("", "v1", "ConfigMap", config_map),
        reference("", "v1", "Secret", secret),
        reference(
            "",
            "v1",
            "Service",
            vec![
                FieldSpec::new("apps", "", "StatefulSet", "spec/serviceName", false),
                fs("Ingress", "spec/rules/http/paths/backend/serviceName"),
                fs("Ingress", "spec/backend/serviceName"),
                fs("Ingress", "spec/rules/http/paths/backend/service/name"),
                fs("Ingress", "spec/defaultBackend/service/name"),
                FieldSpec::new("apiregistration.k8s.io", "", "APIService", "spec/service/name", false),
                FieldSpec::new("admissionregistration.k8s.io", "", "ValidatingWebhookConfiguration", "webhooks/clientConfig/service", false),
                FieldSpec::new("admissionregistration.k8s.io", "", "MutatingWebhookConfiguration", "webhooks/clientConfig/service", false),
                fs("HTTPRoute", "spec/rules/backendRefs/name"),
            ],
        ),
        reference("rbac.authorization.k8s.io", "", "Role", vec![FieldSpec::new("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", false)]),
        reference(
            "rbac.authorization.k8s.io",
            "",
            "ClusterRole",
            vec![
                FieldSpec::new("rbac.authorization.k8s.io", "", "RoleBinding", "roleRef/name", false),
                FieldSpec::new("rbac.authorization.k8s.io", "", "ClusterRoleBinding", "roleRef/name", false),
            ],
        ),
        reference("", "v1", "ServiceAccount", service_account),
        reference("", "v1", "PersistentVolumeClaim", workloads("spec/template/spec/volumes/persistentVolumeClaim/claimName")),
        reference(
            "",
            "v1",
            "PersistentVolume",
            vec![fs("PersistentVolumeClaim", "spec/volumeName"), fs("ClusterRole", "rules/resourceNames")],
        ),
        reference(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            vec![
                fs("PersistentVolume", "spec/storageClassName"),
                fs("PersistentVolumeClaim", "spec/storageClassName"),
                fs("StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"),
            ],
        ),
        reference("scheduling.k8s.io", "v1", "PriorityClass", workloads("spec/template/spec/priorityClassName")),
        // kustomize's table names the group `networking.k8s.io/v1`, which no object has: an
        // IngressClass's new name never reaches an Ingress.
        reference("networking.k8s.io/v1", "v1", "IngressClass", vec![fs("Ingress", "spec/ingressClassName")]),
    ]
}

fn built_in() -> Config {
    let mut common_labels = specs(SELECTOR_LABELS);
    common_labels.push(FieldSpec::new("", "", "", "metadata/labels", true));
    common_labels.extend(specs(TEMPLATE_LABELS));
    common_labels.push(FieldSpec::new("apps", "", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true));
    Config {
        common_labels,
        template_labels: specs(TEMPLATE_LABELS),
        common_annotations: specs(COMMON_ANNOTATIONS),
        name_prefix: vec![FieldSpec::new("", "", "", "metadata/name", false)],
        namespace: specs(NAMESPACE),
        name_reference: name_references(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn node(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    #[test]
    fn a_walk_visits_every_element_of_a_sequence_and_makes_what_it_may() {
        let mut d = node("spec:\n  template:\n    spec:\n      containers:\n        - name: a\n        - name: b\n          env: ~\n");
        let spec = FieldSpec::new("", "", "", "spec/template/spec/containers/env", true);
        let mut seen = 0;
        spec.walk(&mut d, Leaf::Map, &mut |n| {
            seen += 1;
            n.set("X", Value::Str("1".into()));
        });
        assert_eq!(seen, 2);
        assert_eq!(d.to_json()["spec"]["template"]["spec"]["containers"][1]["env"]["X"], "1", "a null becomes a map");
        let missing = FieldSpec::new("", "", "", "spec/selector/matchLabels", false);
        assert!(!missing.walk(&mut d, Leaf::Map, &mut |_| panic!("not reached")));
    }

    #[test]
    fn escaped_slashes_stay_in_the_key() {
        assert_eq!(split_path("metadata/annotations/a.io\\/b"), ["metadata", "annotations", "a.io/b"]);
    }

    #[test]
    fn a_spec_selects_by_group_version_and_kind() {
        let s = FieldSpec::new("apps", "", "StatefulSet", "spec/serviceName", false);
        assert!(s.selects("apps/v1", "StatefulSet"));
        assert!(!s.selects("apps/v1", "Deployment"));
        assert!(!s.selects("v1", "StatefulSet"));
        assert!(FieldSpec::new("", "v1", "Service", "spec/selector", true).selects("v1", "Service"));
    }
}
