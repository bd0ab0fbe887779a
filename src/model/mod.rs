//! Model: parsed manifests ([`Node`]s) → typed Flux objects with their file and line.
//!
//! Takes one manifest as kustomize resolution gives it (namespace and patches already
//! applied) and gives a [`FluxObject`] when it is one of the Flux kinds we graph, reading
//! every apiVersion still found in real repositories. Reading is lenient: a field of the
//! wrong type is treated as absent, as the API server's defaulting would not save it either
//! but the rest of the object is still worth showing.

pub mod duration;
pub mod link;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::load::{Manifest, Node};
pub use duration::Duration;

/// The Flux kinds fluxgraph puts in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Kustomization,
    HelmRelease,
    GitRepository,
    OCIRepository,
    HelmRepository,
    Bucket,
    HelmChart,
    ExternalArtifact,
    ArtifactGenerator,
    /// The Flux Operator's ResourceSet: it renders templates into objects and applies them.
    ResourceSet,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Kustomization,
        Kind::HelmRelease,
        Kind::GitRepository,
        Kind::OCIRepository,
        Kind::HelmRepository,
        Kind::Bucket,
        Kind::HelmChart,
        Kind::ExternalArtifact,
        Kind::ArtifactGenerator,
        Kind::ResourceSet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Kustomization => "Kustomization",
            Kind::HelmRelease => "HelmRelease",
            Kind::GitRepository => "GitRepository",
            Kind::OCIRepository => "OCIRepository",
            Kind::HelmRepository => "HelmRepository",
            Kind::Bucket => "Bucket",
            Kind::HelmChart => "HelmChart",
            Kind::ExternalArtifact => "ExternalArtifact",
            Kind::ArtifactGenerator => "ArtifactGenerator",
            Kind::ResourceSet => "ResourceSet",
        }
    }

    pub fn parse(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The API group of the kind (the part of apiVersion before `/`).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Kustomization => "kustomize.toolkit.fluxcd.io",
            Kind::HelmRelease => "helm.toolkit.fluxcd.io",
            Kind::ArtifactGenerator => "source.extensions.fluxcd.io",
            Kind::ResourceSet => "fluxcd.controlplane.io",
            _ => "source.toolkit.fluxcd.io",
        }
    }

    /// From a manifest's apiVersion and kind; `None` for anything that is not a Flux kind
    /// we graph (kustomize's own `Kustomization` included).
    pub fn of_manifest(api_version: &str, kind: &str) -> Option<Kind> {
        let kind = Kind::parse(kind)?;
        let group = api_version.split('/').next().unwrap_or("");
        (group == kind.group()).then_some(kind)
    }

    pub fn is_source(self) -> bool {
        !matches!(self, Kind::Kustomization | Kind::HelmRelease | Kind::ArtifactGenerator | Kind::ResourceSet)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Kind/namespace/name`: unique within one cluster. Every object of a cluster has a namespace;
/// one that no Kustomization applies has only the namespace its file gives, maybe none: it is
/// `Kind/name` then.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    pub kind: Kind,
    /// Empty when nothing gives one.
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> ObjectId {
        ObjectId { kind, namespace: namespace.into(), name: name.into() }
    }

    /// Parses `Kind/namespace/name`, or `Kind/name` (no namespace).
    pub fn parse(text: &str) -> Option<ObjectId> {
        let mut parts = text.splitn(3, '/');
        let kind = Kind::parse(parts.next()?)?;
        let (first, rest) = (parts.next()?, parts.next());
        Some(match rest {
            Some(name) => ObjectId::new(kind, first, name),
            None => ObjectId::new(kind, "", first),
        })
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
        }
    }
}

impl Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A value read from a manifest and the line it was read on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: u32,
}

/// A `dependsOn` entry or a `sourceRef`: kind (when given), name, namespace (when given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub line: u32,
    /// Whether the dependent waits for the target to be Ready: always in Flux's own
    /// `dependsOn`; in a ResourceSet's only with `ready: true`, else it waits for the
    /// object to exist.
    pub ready: bool,
}

impl Reference {
    /// The object this points at, from an object in `default_namespace`.
    pub fn resolve(&self, kind: Kind, default_namespace: &str) -> ObjectId {
        ObjectId::new(kind, self.namespace.as_deref().unwrap_or(default_namespace), self.name.clone())
    }

    fn read(node: &Node) -> Option<Reference> {
        Some(Reference {
            kind: node.get("kind").and_then(Node::scalar_text),
            name: node.get("name")?.scalar_text()?,
            namespace: node.get("namespace").and_then(Node::scalar_text).filter(|s| !s.is_empty()),
            line: node.line,
            ready: true,
        })
    }
}

/// `postBuild` of a Flux Kustomization.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostBuild {
    pub substitute: Vec<(String, String)>,
    pub substitute_from: Vec<SubstituteFrom>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstituteFrom {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    pub name: String,
    pub optional: bool,
    pub line: u32,
}

/// The fields of a Flux Kustomization that decide what it applies and when it is ready.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KustomizationSpec {
    pub path: Option<Located<String>>,
    pub source_ref: Option<Reference>,
    pub depends_on: Vec<Reference>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retry_interval: Option<Duration>,
    pub wait: bool,
    pub health_checks: usize,
    pub prune: bool,
    pub suspend: bool,
    pub target_namespace: Option<String>,
    pub decryption: Option<String>,
    pub post_build: Option<PostBuild>,
    pub components: Vec<String>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
}

impl KustomizationSpec {
    /// kustomize-controller's effective timeout: `spec.timeout`, else the interval minus
    /// 30 s, never under 30 s (the controller's code, not the docs' "defaults to interval").
    pub fn effective_timeout(&self) -> Duration {
        let floor = Duration::from_secs(30);
        let raw = match self.timeout {
            Some(t) => t,
            None => self.interval.unwrap_or(Duration::from_secs(600)).saturating_sub(floor),
        };
        raw.max(floor)
    }

    /// Whether Flux waits for what it applies to become ready before calling it Ready.
    pub fn waits(&self) -> bool {
        self.wait || self.health_checks > 0
    }
}

/// The fields of a HelmRelease that decide its ordering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HelmReleaseSpec {
    pub chart: Option<String>,
    pub version: Option<String>,
    /// `chart.spec.sourceRef` (a HelmRepository, GitRepository or Bucket).
    pub source_ref: Option<Reference>,
    /// `chartRef` (an OCIRepository or HelmChart).
    pub chart_ref: Option<Reference>,
    pub depends_on: Vec<Reference>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub suspend: bool,
    pub target_namespace: Option<String>,
}

impl HelmReleaseSpec {
    /// helm-controller waits for the release's resources; its default timeout is 5 minutes.
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(300))
    }
}

/// The fields of a Flux Operator ResourceSet that decide its ordering. What it generates
/// is rendered by the cluster stage, which keeps the whole manifest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceSetSpec {
    /// The `dependsOn` entries that name a kind we graph, with that kind. Unlike Flux's,
    /// an entry without `namespace` is not given the ResourceSet's: flux-operator looks
    /// it up without one.
    pub depends_on: Vec<Reference>,
    /// `spec.wait`: Ready only once what it applies is healthy.
    pub wait: bool,
    /// The `fluxcd.controlplane.io/reconcileTimeout` annotation, 5 minutes when absent or
    /// unreadable.
    pub timeout: Duration,
    /// The `fluxcd.controlplane.io/reconcile: disabled` annotation.
    pub disabled: bool,
}

/// Sources: where they fetch from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceSpec {
    pub url: Option<String>,
    pub reference: Option<String>,
    pub interval: Option<Duration>,
    pub suspend: bool,
    /// HelmChart's `spec.sourceRef`.
    pub source_ref: Option<Reference>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    Kustomization(KustomizationSpec),
    HelmRelease(HelmReleaseSpec),
    Source(SourceSpec),
    ResourceSet(ResourceSetSpec),
    /// ArtifactGenerator: kept whole, the cluster stage maps paths through it.
    Other,
}

/// A Flux object of the repository, as Flux would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct FluxObject {
    pub id: ObjectId,
    pub file: String,
    pub line: u32,
    pub spec: Spec,
    /// The manifest after kustomize and substitution: what the object views show.
    pub manifest: Arc<Node>,
    /// Made up by fluxgraph for something `flux bootstrap` or the Flux Operator creates
    /// in the cluster but that has no manifest in the repository.
    pub implied: bool,
}

impl FluxObject {
    pub fn kustomization(&self) -> Option<&KustomizationSpec> {
        match &self.spec {
            Spec::Kustomization(k) => Some(k),
            _ => None,
        }
    }

    pub fn helm_release(&self) -> Option<&HelmReleaseSpec> {
        match &self.spec {
            Spec::HelmRelease(h) => Some(h),
            _ => None,
        }
    }

    pub fn depends_on(&self) -> &[Reference] {
        match &self.spec {
            Spec::Kustomization(k) => &k.depends_on,
            Spec::HelmRelease(h) => &h.depends_on,
            Spec::ResourceSet(r) => &r.depends_on,
            _ => &[],
        }
    }

    pub fn suspended(&self) -> bool {
        match &self.spec {
            Spec::Kustomization(k) => k.suspend,
            Spec::HelmRelease(h) => h.suspend,
            Spec::Source(s) => s.suspend,
            Spec::ResourceSet(r) => r.disabled,
            Spec::Other => false,
        }
    }

    /// The sources this object reads from, with the kind each must be.
    pub fn source_refs(&self) -> Vec<(Kind, &Reference)> {
        fn pick(r: &Reference, default: Kind) -> (Kind, &Reference) {
            (r.kind.as_deref().and_then(Kind::parse).unwrap_or(default), r)
        }
        match &self.spec {
            Spec::Kustomization(k) => k.source_ref.iter().map(|r| pick(r, Kind::GitRepository)).collect(),
            Spec::HelmRelease(h) => h
                .source_ref
                .iter()
                .map(|r| pick(r, Kind::HelmRepository))
                .chain(h.chart_ref.iter().map(|r| pick(r, Kind::OCIRepository)))
                .collect(),
            Spec::Source(s) => s.source_ref.iter().map(|r| pick(r, Kind::HelmRepository)).collect(),
            Spec::ResourceSet(_) | Spec::Other => Vec::new(),
        }
    }
}

/// Any Kubernetes object's identity, Flux kind or not (a ConfigMap, a Secret): API group,
/// kind, namespace (empty when nothing gives one) and name. Kubernetes' own core kinds have
/// the empty group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResourceId {
    pub fn new(group: impl Into<String>, kind: impl Into<String>, namespace: impl Into<String>, name: impl Into<String>) -> ResourceId {
        ResourceId { group: group.into(), kind: kind.into(), namespace: namespace.into(), name: name.into() }
    }

    /// The identity of a Flux object.
    pub fn of(id: &ObjectId) -> ResourceId {
        ResourceId::new(id.kind.group(), id.kind.as_str(), id.namespace.clone(), id.name.clone())
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if !self.namespace.is_empty() {
            write!(f, "/{}", self.namespace)?;
        }
        write!(f, "/{}", self.name)
    }
}

/// What a manifest is in Flux's terms: its Flux kind and its identities.
pub trait Identity: Manifest {
    /// The Flux kind, when it is one we graph.
    fn flux_kind(&self) -> Option<Kind> {
        Kind::of_manifest(self.api_version(), self.kind())
    }

    /// Its identity once it lands in `default_namespace` unless it names its own.
    fn resource_id(&self, default_namespace: &str) -> Option<ResourceId> {
        let namespace = self.namespace().unwrap_or(default_namespace);
        Some(ResourceId::new(self.group(), self.kind(), namespace, self.name()?))
    }

    /// Its Flux identity, likewise, when it is a Flux object we graph.
    fn object_id(&self, default_namespace: &str) -> Option<ObjectId> {
        Some(ObjectId::new(self.flux_kind()?, self.namespace().unwrap_or(default_namespace), self.name()?))
    }
}

impl<M: Manifest + ?Sized> Identity for M {}

/// The name written in a manifest's metadata, owned.
pub fn metadata_name(manifest: &Node) -> Option<String> {
    manifest.name().map(str::to_string)
}

/// The namespace written in a manifest's metadata, owned; `None` when absent or empty.
pub fn metadata_namespace(manifest: &Node) -> Option<String> {
    manifest.namespace().map(str::to_string)
}

/// apiVersion and kind of a manifest.
pub fn type_of(manifest: &Node) -> (&str, &str) {
    (manifest.api_version(), manifest.kind())
}

/// The Flux kind of a manifest, if it is one we graph.
pub fn flux_kind(manifest: &Node) -> Option<Kind> {
    manifest.flux_kind()
}

/// Why Kubernetes would refuse this object's name or namespace, as its API server validates
/// them: a namespace is an RFC 1123 label (at most 63 characters), the name of every Flux kind an
/// RFC 1123 DNS subdomain (at most 253; lowercase alphanumerics, `-` and `.`, starting and ending
/// alphanumeric). `None` when both are valid, or still hold a variable not yet substituted
/// (`${VAR}`, or the `$VAR` that envsubst also reads, as templates in repositories use).
pub fn invalid_name(id: &ObjectId) -> Option<String> {
    fn problem(text: &str, max: usize, dots: bool) -> Option<&'static str> {
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (dots && b == b'.');
        let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if text.len() > max {
            Some(if dots { "longer than 253 characters" } else { "longer than 63 characters" })
        } else if !text.bytes().all(allowed) {
            Some(if dots {
                "not only lowercase letters, digits, '-' and '.'"
            } else {
                "not only lowercase letters, digits and '-'"
            })
        } else if !alnum(text.as_bytes().first()) || !alnum(text.as_bytes().last()) {
            Some("not starting and ending with a letter or digit")
        } else {
            None
        }
    }
    let name = (!id.name.contains('$')).then(|| problem(&id.name, 253, true)).flatten();
    if let Some(why) = name {
        return Some(format!("invalid name {:?}: {why} (RFC 1123 subdomain)", id.name));
    }
    let namespace = (!id.namespace.is_empty() && !id.namespace.contains('$')).then(|| problem(&id.namespace, 63, false)).flatten();
    namespace.map(|why| format!("invalid namespace {:?}: {why} (RFC 1123 label)", id.namespace))
}

/// Reads a Flux object from a manifest. `namespace` is where it lands (already decided by
/// kustomize and the applying Kustomization); `None` when the manifest has no name.
pub fn read_object(manifest: &Arc<Node>, namespace: &str, file: &str, line: u32) -> Option<FluxObject> {
    let kind = flux_kind(manifest)?;
    let name = metadata_name(manifest)?;
    let spec_node = manifest.get("spec");
    let spec = match kind {
        Kind::Kustomization => Spec::Kustomization(spec_node.map(read_kustomization).unwrap_or_default()),
        Kind::HelmRelease => Spec::HelmRelease(spec_node.map(read_helm_release).unwrap_or_default()),
        Kind::ArtifactGenerator => Spec::Other,
        Kind::ResourceSet => Spec::ResourceSet(read_resource_set(manifest)),
        _ => Spec::Source(spec_node.map(read_source).unwrap_or_default()),
    };
    Some(FluxObject {
        id: ObjectId::new(kind, namespace, name),
        file: file.to_string(),
        line,
        spec,
        manifest: Arc::clone(manifest),
        implied: false,
    })
}

fn text(node: &Node, key: &str) -> Option<String> {
    node.get(key).and_then(Node::scalar_text).filter(|s| !s.is_empty())
}

fn flag(node: &Node, key: &str) -> bool {
    node.get(key).and_then(Node::as_bool).unwrap_or(false)
}

fn duration(node: &Node, key: &str) -> Option<Duration> {
    node.get(key).and_then(Node::as_str).and_then(Duration::parse)
}

fn references(node: Option<&Node>) -> Vec<Reference> {
    match node {
        Some(n) => n.as_seq().iter().filter_map(Reference::read).collect(),
        None => Vec::new(),
    }
}

pub fn read_kustomization(spec: &Node) -> KustomizationSpec {
    KustomizationSpec {
        path: spec.get("path").and_then(|n| Some(Located { value: n.scalar_text()?, line: n.line })),
        source_ref: spec.get("sourceRef").and_then(Reference::read),
        depends_on: references(spec.get("dependsOn")),
        interval: duration(spec, "interval"),
        timeout: duration(spec, "timeout"),
        retry_interval: duration(spec, "retryInterval"),
        wait: flag(spec, "wait"),
        health_checks: spec.get("healthChecks").map_or(0, |n| n.as_seq().len())
            + spec.get("healthCheckExprs").map_or(0, |n| n.as_seq().len()),
        prune: flag(spec, "prune"),
        suspend: flag(spec, "suspend"),
        target_namespace: text(spec, "targetNamespace"),
        decryption: spec.get("decryption").map(|d| text(d, "provider").unwrap_or_else(|| "sops".into())),
        post_build: spec.get("postBuild").map(read_post_build),
        components: spec
            .get("components")
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(Node::scalar_text)
            .collect(),
        name_prefix: text(spec, "namePrefix"),
        name_suffix: text(spec, "nameSuffix"),
    }
}

fn read_post_build(node: &Node) -> PostBuild {
    PostBuild {
        substitute: node
            .get("substitute")
            .map(Node::entries)
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| (k.clone(), v.scalar_text().unwrap_or_default()))
            .collect(),
        substitute_from: node
            .get("substituteFrom")
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| {
                Some(SubstituteFrom {
                    kind: text(n, "kind").unwrap_or_else(|| "ConfigMap".into()),
                    name: text(n, "name")?,
                    optional: flag(n, "optional"),
                    line: n.line,
                })
            })
            .collect(),
    }
}

fn read_helm_release(spec: &Node) -> HelmReleaseSpec {
    let chart_spec = spec.at(&["chart", "spec"]);
    HelmReleaseSpec {
        chart: chart_spec.and_then(|c| text(c, "chart")),
        version: chart_spec.and_then(|c| text(c, "version")),
        source_ref: chart_spec.and_then(|c| c.get("sourceRef")).and_then(Reference::read),
        chart_ref: spec.get("chartRef").and_then(Reference::read),
        depends_on: references(spec.get("dependsOn")),
        interval: duration(spec, "interval"),
        timeout: duration(spec, "timeout"),
        suspend: flag(spec, "suspend"),
        target_namespace: text(spec, "targetNamespace"),
    }
}

/// flux-operator's annotations on a ResourceSet.
const RECONCILE_ANNOTATION: &str = "fluxcd.controlplane.io/reconcile";
const RECONCILE_TIMEOUT_ANNOTATION: &str = "fluxcd.controlplane.io/reconcileTimeout";

fn read_resource_set(manifest: &Node) -> ResourceSetSpec {
    let annotation = |key| manifest.at(&["metadata", "annotations", key]).and_then(Node::scalar_text);
    let spec = manifest.get("spec");
    let depends_on = spec
        .and_then(|s| s.get("dependsOn"))
        .map(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let api = text(entry, "apiVersion").unwrap_or_default();
            let kind = text(entry, "kind")?;
            // Any Kubernetes object may be named; only the kinds we graph become edges.
            let kind = if api.is_empty() { Kind::parse(&kind) } else { Kind::of_manifest(&api, &kind) }?;
            let mut r = Reference::read(entry)?;
            r.kind = Some(kind.as_str().to_string());
            r.ready = flag(entry, "ready");
            Some(r)
        })
        .collect();
    ResourceSetSpec {
        depends_on,
        wait: spec.is_some_and(|s| flag(s, "wait")),
        timeout: annotation(RECONCILE_TIMEOUT_ANNOTATION).as_deref().and_then(Duration::parse).unwrap_or(Duration::from_secs(300)),
        disabled: annotation(RECONCILE_ANNOTATION).is_some_and(|v| v.eq_ignore_ascii_case("disabled")),
    }
}

fn read_source(spec: &Node) -> SourceSpec {
    let reference = spec.get("ref").and_then(|r| {
        ["branch", "tag", "semver", "commit", "name", "digest"]
            .iter()
            .find_map(|k| text(r, k).map(|v| format!("{k}: {v}")))
    });
    SourceSpec {
        url: text(spec, "url").or_else(|| text(spec, "endpoint")),
        reference,
        interval: duration(spec, "interval"),
        suspend: flag(spec, "suspend"),
        source_ref: spec.get("sourceRef").and_then(Reference::read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_id_without_namespace_reads_kind_slash_name_both_ways() {
        let namespaced = ObjectId::new(Kind::Kustomization, "flux-system", "apps");
        let bare = ObjectId::new(Kind::Kustomization, "", "apps");
        assert_eq!(namespaced.to_string(), "Kustomization/flux-system/apps");
        assert_eq!(bare.to_string(), "Kustomization/apps");
        assert_eq!(ObjectId::parse("Kustomization/flux-system/apps"), Some(namespaced));
        assert_eq!(ObjectId::parse("Kustomization/apps"), Some(bare));
        assert_eq!(ObjectId::parse("Kustomization"), None);
        assert_eq!(ObjectId::parse("Nonsense/a/b"), None);
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    fn check(namespace: &str, name: &str) -> Option<String> {
        invalid_name(&ObjectId::new(Kind::Kustomization, namespace, name))
    }

    #[test]
    fn names_are_validated_as_kubernetes_does() {
        for ok in ["a", "apps", "cert-manager.issuers", "0x", &"a".repeat(253)] {
            assert_eq!(check("flux-system", ok), None, "{ok}");
        }
        assert_eq!(check("", "apps"), None);
        assert_eq!(check("flux-system", "${CLUSTER}-apps"), None);
        assert_eq!(check("${NS}", "apps-$NAME"), None);
        for bad in ["", "Apps", "-a", "a-", "a.", "a_b", "a\"b", "a\nb", "a\0b", "a b", &"a".repeat(254)] {
            assert!(check("flux-system", bad).is_some(), "{bad:?}");
        }
        assert!(check("a.b", "apps").unwrap().contains("invalid namespace \"a.b\""));
        assert!(check(&"n".repeat(64), "apps").is_some());
        assert_eq!(check(&"n".repeat(63), "apps"), None);
        assert!(check("flux-system", "a\"b").unwrap().contains(r#""a\"b""#));
    }
}
