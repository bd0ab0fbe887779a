//! Flux Operator ResourceSets: a ResourceSet → the objects it generates, as flux-operator
//! builds them.
//!
//! The input sets are the ResourceSet's own `inputs` and those of the
//! ResourceSetInputProviders its `inputsFrom` names (in its namespace), each given
//! `provider` (where it came from), combined by `inputStrategy`: `Flatten` concatenates
//! them, `Permute` takes their Cartesian product. Every `resources` entry is rendered once
//! per input set (once with no inputs when there are none), `resourcesTemplate` likewise
//! ([`template`]); the objects are deduplicated on group, kind, namespace and name
//! (`resources` first), and those annotated `fluxcd.controlplane.io/reconcile: disabled`
//! dropped. A template that fails makes flux-operator apply nothing: the ResourceSet then
//! generates nothing here either, and a `resourceset-template` diagnostic says why.
//!
//! Only Static providers are read: their `defaultValues` are their one input set. Other
//! providers (pull requests, branches, tags…) read systems outside the repository, so
//! what they contribute is not known offline, and a diagnostic says so.

pub mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gotmpl::Value;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::load::kustomize::Resource;
use crate::load::yaml::parse_documents;
use crate::load::Node;
use crate::model::{self, FluxObject};
pub use template::{Budget, Limits};
use template::{map, render, value_of};

/// The ResourceSetInputProviders a cluster applies, by namespace and name.
pub type Providers = BTreeMap<(String, String), Resource>;

pub const PROVIDER_KIND: &str = "ResourceSetInputProvider";
const GROUP: &str = "fluxcd.controlplane.io";

/// flux-operator refuses more permutations than this.
const MAX_PERMUTATIONS: usize = 10_000;

/// Whether a manifest is a ResourceSetInputProvider.
pub fn is_provider(manifest: &Node) -> bool {
    let (api, kind) = model::type_of(manifest);
    kind == PROVIDER_KIND && api.split('/').next() == Some(GROUP)
}

/// What expanding a ResourceSet gives.
#[derive(Debug)]
pub enum Expansion {
    /// A provider it reads may still be found (named and not seen yet, or chosen by
    /// labels): ask again once the rest of the cluster is known.
    Waiting,
    Done { objects: Vec<Resource>, diagnostics: Vec<Diagnostic> },
}

/// Renders what a ResourceSet generates, within the repository's rendering `budget`.
/// `last_round`: every provider the cluster applies is known, so a missing one is missing.
pub fn expand(object: &FluxObject, providers: &Providers, last_round: bool, budget: &Budget) -> Expansion {
    let mut diagnostics = Vec::new();
    let Some(sets) = input_sets(object, providers, last_round, &mut diagnostics) else {
        return Expansion::Waiting;
    };
    let objects = match sets {
        // With inputs from outside the repository, rendering without them would be wrong.
        Ok(Inputs { unknown: true, sets, permute }) if permute || sets.is_empty() => Vec::new(),
        Ok(Inputs { sets, .. }) => generate(object, &sets, budget, &mut diagnostics),
        Err(()) => Vec::new(),
    };
    Expansion::Done { objects, diagnostics }
}

fn diagnostic(object: &FluxObject, severity: Severity, line: u32, message: String) -> Diagnostic {
    Diagnostic::new(Code::ResourceSetTemplate, severity, &object.file, line, message).on(&object.id)
}

/// An input provider and the input sets it exports.
struct Source {
    name: String,
    sets: Vec<BTreeMap<String, Value>>,
}

/// The combined input sets.
struct Inputs {
    sets: Vec<Value>,
    /// Some provider's inputs come from outside the repository.
    unknown: bool,
    permute: bool,
}

/// The combined input sets: `None` to wait for providers, `Err` when flux-operator fails.
fn input_sets(object: &FluxObject, providers: &Providers, last_round: bool, diagnostics: &mut Vec<Diagnostic>) -> Option<Result<Inputs, ()>> {
    let manifest = &object.manifest;
    let spec = manifest.get("spec");
    let namespace = &object.id.namespace;
    let reference = |api: &str, kind: &str, name: &str| {
        map([("apiVersion", api), ("kind", kind), ("name", name), ("namespace", namespace.as_str())].map(|(k, v)| (k.to_string(), Value::String(v.into()))))
    };
    let (api, _) = model::type_of(manifest);
    let own = reference(api, "ResourceSet", &object.id.name);
    let mut sources = vec![Source {
        name: object.id.name.clone(),
        sets: spec
            .and_then(|s| s.get("inputs"))
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .map(|input| {
                let mut set: BTreeMap<String, Value> = input.entries().iter().map(|(k, v)| (k.clone(), value_of(v))).collect();
                set.insert("provider".into(), own.clone());
                set
            })
            .collect(),
    }];

    // The providers `inputsFrom` names, each once, in name order (as flux-operator sorts them).
    let mut chosen: BTreeMap<String, &Resource> = BTreeMap::new();
    for entry in spec.and_then(|s| s.get("inputsFrom")).map(Node::as_seq).unwrap_or_default() {
        let in_namespace = || providers.iter().filter(|((ns, _), _)| ns == namespace);
        if let Some(name) = entry.get("name").and_then(Node::scalar_text) {
            match providers.get(&(namespace.clone(), name.clone())) {
                Some(p) => {
                    chosen.insert(name, p);
                }
                None if !last_round => return None,
                None => {
                    diagnostics.push(
                        Diagnostic::error(
                            Code::SourceNotFound,
                            &object.file,
                            entry.line,
                            format!("inputsFrom {PROVIDER_KIND}/{namespace}/{name} is not in this cluster; flux-operator cannot read {}'s inputs, so it applies nothing", object.id),
                        )
                        .on(&object.id),
                    );
                    return Some(Err(()));
                }
            }
        } else if let Some(selector) = entry.get("selector") {
            if !last_round {
                return None;
            }
            if selector.get("matchExpressions").is_some_and(|m| !m.as_seq().is_empty()) {
                diagnostics.push(diagnostic(
                    object,
                    Severity::Info,
                    entry.line,
                    format!("{}: inputsFrom selects providers with matchExpressions, which fluxgraph does not evaluate; only matchLabels is applied", object.id),
                ));
            }
            let labels = selector.get("matchLabels").map(Node::entries).unwrap_or_default();
            for ((_, name), p) in in_namespace() {
                let matches = labels.iter().all(|(k, v)| p.manifest.at(&["metadata", "labels", k]).and_then(Node::scalar_text) == v.scalar_text());
                if matches {
                    chosen.insert(name.clone(), p);
                }
            }
        }
    }
    let mut unknown = false;
    for (name, p) in chosen {
        let kind = p.manifest.at(&["spec", "type"]).and_then(Node::scalar_text).unwrap_or_default();
        if kind != "Static" {
            diagnostics.push(diagnostic(
                object,
                Severity::Info,
                object.line,
                format!(
                    "{} reads inputs from {PROVIDER_KIND}/{namespace}/{name} of type {kind:?}, which come from outside the repository: the objects they generate are not known offline",
                    object.id
                ),
            ));
            unknown = true;
            continue;
        }
        let (api, _) = model::type_of(&p.manifest);
        let mut set: BTreeMap<String, Value> =
            p.manifest.at(&["spec", "defaultValues"]).map(Node::entries).unwrap_or_default().iter().map(|(k, v)| (k.clone(), value_of(v))).collect();
        // flux-operator's `id` is a checksum of the provider's UID, which only the cluster
        // knows: a checksum of its namespace and name stands in for it.
        set.insert("id".into(), Value::String(id(&format!("{namespace}/{name}")).into()));
        set.insert("provider".into(), reference(api, PROVIDER_KIND, &name));
        sources.push(Source { name, sets: vec![set] });
    }

    let strategy = spec.and_then(|s| s.at(&["inputStrategy", "name"])).and_then(Node::scalar_text).unwrap_or_else(|| "Flatten".into());
    let sets = match strategy.as_str() {
        "Flatten" => sources.into_iter().flat_map(|s| s.sets).map(map).collect(),
        "Permute" => match permute(&sources) {
            Ok(sets) => sets,
            Err(message) => {
                diagnostics.push(diagnostic(object, Severity::Error, object.line, format!("{}: {message}; flux-operator applies nothing", object.id)));
                return Some(Err(()));
            }
        },
        other => {
            diagnostics.push(diagnostic(object, Severity::Error, object.line, format!("{}: unknown input strategy {other:?}; flux-operator applies nothing", object.id)));
            return Some(Err(()));
        }
    };
    Some(Ok(Inputs { sets, unknown, permute: strategy == "Permute" }))
}

/// Why the inputs cannot be permuted: flux-operator applies nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PermuteError {
    #[error("the inputs make more than {MAX_PERMUTATIONS} permutations")]
    TooMany,
    #[error("the normalised name of provider {0:?} is empty")]
    EmptyName(String),
}

/// The Cartesian product of the sources' input sets, each set under its source's
/// normalised name, with an `id` naming the combination (flux-operator's Permuter). A
/// source without inputs is left out.
fn permute(sources: &[Source]) -> Result<Vec<Value>, PermuteError> {
    let sources: Vec<&Source> = sources.iter().filter(|s| !s.sets.is_empty()).collect();
    let count = sources.iter().try_fold(1usize, |n, s| n.checked_mul(s.sets.len()).filter(|n| *n <= MAX_PERMUTATIONS));
    if count.is_none() {
        return Err(PermuteError::TooMany);
    }
    let mut out = Vec::new();
    if sources.is_empty() {
        return Ok(out);
    }
    let names: Vec<String> = sources.iter().map(|s| normalized_name(&s.name)).collect();
    if let Some(i) = names.iter().position(String::is_empty) {
        return Err(PermuteError::EmptyName(sources[i].name.clone()));
    }
    let mut picks = vec![0usize; sources.len()];
    loop {
        let mut perm: BTreeMap<String, Value> = BTreeMap::new();
        let mut key = Vec::new();
        for (i, &pick) in picks.iter().enumerate() {
            perm.insert(names[i].clone(), map(sources[i].sets[pick].clone()));
            key.push(format!("{}={pick}", names[i]));
        }
        perm.insert("id".into(), Value::String(id(&key.join("/")).into()));
        out.push(map(perm));
        // The last source varies fastest, as in flux-operator's recursion.
        let mut i = sources.len();
        loop {
            if i == 0 {
                return Ok(out);
            }
            i -= 1;
            picks[i] += 1;
            if picks[i] < sources[i].sets.len() {
                break;
            }
            picks[i] = 0;
        }
    }
}

/// flux-operator's provider name as a key: lower case, `-` as `_`, only `[a-z0-9_]`, no
/// empty words.
pub fn normalized_name(name: &str) -> String {
    let name: String = name.to_lowercase().replace('-', "_").chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
    name.split('_').filter(|w| !w.is_empty()).collect::<Vec<_>>().join("_")
}

/// flux-operator's input set id: the Adler-32 checksum of a text, in decimal.
pub fn id(text: &str) -> String {
    let (mut a, mut b) = (1u32, 0u32);
    for byte in text.bytes() {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    ((b << 16) | a).to_string()
}

/// One template of the ResourceSet: a `resources` entry or a `resourcesTemplate`.
struct Templ {
    /// `resources[0]`, `resourcesTemplate`, with the step when there are steps.
    what: String,
    source: String,
    line: u32,
    /// A `resources` entry: one object, written out by fluxgraph.
    single: bool,
}

/// Renders every template with every input set. flux-operator builds each step (or the
/// spec itself) on its own: `resources` first, then `resourcesTemplate`.
fn generate(object: &FluxObject, sets: &[Value], budget: &Budget, diagnostics: &mut Vec<Diagnostic>) -> Vec<Resource> {
    let Some(spec) = object.manifest.get("spec") else { return Vec::new() };
    let steps: Vec<(String, &Node)> = match spec.get("steps").map(Node::as_seq).filter(|s| !s.is_empty()) {
        Some(steps) => steps.iter().map(|s| (format!("step {:?}: ", s.get("name").and_then(Node::scalar_text).unwrap_or_default()), s)).collect(),
        None => vec![(String::new(), spec)],
    };
    let file: Arc<str> = Arc::from(object.file.as_str());
    let mut out = Vec::new();
    let mut keys = BTreeSet::new();
    for (step, node) in steps {
        let mut templates = Vec::new();
        for (i, entry) in node.get("resources").map(Node::as_seq).unwrap_or_default().iter().enumerate() {
            templates.push(Templ { what: format!("{step}resources[{i}]"), source: template::to_yaml(entry), line: entry.line, single: true });
        }
        if let Some(t) = node.get("resourcesTemplate").filter(|t| t.as_str().is_some_and(|s| !s.trim().is_empty())) {
            templates.push(Templ { what: format!("{step}resourcesTemplate"), source: t.as_str().unwrap_or_default().to_string(), line: t.line, single: false });
        }
        for t in &templates {
            // With no inputs, a `resources` entry is rendered once and kept whatever it says.
            let filter = !(t.single && sets.is_empty());
            let runs: Vec<(usize, &Value)> = if sets.is_empty() { vec![(0, &Value::Nil)] } else { sets.iter().enumerate().collect() };
            for (n, input) in runs {
                let rendered = match render(&t.source, input, budget) {
                    Ok(text) => text,
                    Err(e) => {
                        let which = if sets.is_empty() { String::new() } else { format!(" with input set {n}") };
                        let (severity, why) = match (&e.unknown_function, e.over) {
                            (Some(f), _) => (Severity::Warning, format!("uses the function {f:?}, which fluxgraph does not implement; what it generates is not shown")),
                            // fluxgraph's limit, not flux-operator's: Flux may well apply it.
                            (None, Some(_)) => (Severity::Warning, "fluxgraph stops there, and what it generates is not shown".to_string()),
                            (None, None) => (Severity::Error, "flux-operator fails to build it and applies nothing".to_string()),
                        };
                        diagnostics.push(diagnostic(object, severity, t.line, format!("{}: {}{which}: {}; {why}", object.id, t.what, e.message)));
                        return Vec::new();
                    }
                };
                let documents = parse_documents(&rendered);
                let mut found = 0;
                for document in documents {
                    let document = match document {
                        Ok(d) => d,
                        Err(e) => {
                            // fluxgraph writes `resources` entries out itself, so their YAML may be its fault.
                            let severity = if t.single { Severity::Warning } else { Severity::Error };
                            diagnostics.push(diagnostic(
                                object,
                                severity,
                                t.line,
                                format!("{}: {} renders invalid YAML (line {} of the output: {}); flux-operator applies nothing", object.id, t.what, e.line, e.message),
                            ));
                            return Vec::new();
                        }
                    };
                    if matches!(document.root.value, crate::load::Value::Null) {
                        continue;
                    }
                    found += 1;
                    let mut manifest = (*document.root).clone();
                    Node::set_line_everywhere(&mut manifest, t.line);
                    if filter && disabled(&manifest) {
                        continue;
                    }
                    let key = key(&manifest);
                    if !keys.insert(key) && filter {
                        continue;
                    }
                    out.push(Resource::new(file.clone(), t.line, Arc::new(manifest), false));
                }
                if t.single && found != 1 {
                    diagnostics.push(diagnostic(
                        object,
                        Severity::Error,
                        t.line,
                        format!("{}: {} renders {found} objects instead of one; flux-operator applies nothing", object.id, t.what),
                    ));
                    return Vec::new();
                }
            }
        }
    }
    let common = super::build::common_metadata(&object.manifest);
    for r in &mut out {
        if !common.is_empty() {
            let manifest = Arc::make_mut(&mut r.manifest);
            for (field, k, v) in &common {
                manifest.set_metadata(field, k, v);
            }
        }
    }
    out
}

/// Group, kind, namespace and name, as flux-operator deduplicates: the version apart, and
/// the namespace as written.
fn key(manifest: &Node) -> (String, String, String, String) {
    let (api, kind) = model::type_of(manifest);
    let group = if api.contains('/') { api.split('/').next().unwrap_or("") } else { "" };
    (group.to_string(), kind.to_string(), model::metadata_namespace(manifest).unwrap_or_default(), model::metadata_name(manifest).unwrap_or_default())
}

fn disabled(manifest: &Node) -> bool {
    manifest.at(&["metadata", "annotations", "fluxcd.controlplane.io/reconcile"]).and_then(Node::as_str) == Some("disabled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::read_object;

    fn resource_set(text: &str) -> FluxObject {
        let root = parse_documents(text).remove(0).unwrap().root;
        read_object(&root, "apps", "rs.yaml", 1).unwrap()
    }

    fn provider(name: &str, labels: &str, values: &str) -> ((String, String), Resource) {
        let text = format!("apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSetInputProvider\nmetadata:\n  name: {name}\n  labels: {labels}\nspec:\n  type: Static\n  defaultValues: {values}\n");
        let root = parse_documents(&text).remove(0).unwrap().root;
        (("apps".into(), name.into()), Resource::new("p.yaml".into(), 1, root, false))
    }

    fn names(expansion: Expansion) -> (Vec<String>, Vec<Diagnostic>) {
        match expansion {
            Expansion::Done { objects, diagnostics } => (
                objects.iter().map(|o| format!("{}/{}", model::type_of(&o.manifest).1, model::metadata_name(&o.manifest).unwrap_or_default())).collect(),
                diagnostics,
            ),
            Expansion::Waiting => panic!("still waiting"),
        }
    }

    const HEAD: &str = "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata:\n  name: apps\n";
    const RESOURCES: &str = "  resources:\n    - apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: << inputs.name >>-<< inputs.provider.kind | lower >>\n";

    #[test]
    fn flatten_concatenates_own_inputs_and_providers() {
        let rs = resource_set(&format!("{HEAD}spec:\n  inputs:\n    - name: a\n    - name: b\n  inputsFrom:\n    - name: extra\n{RESOURCES}"));
        let providers = Providers::from([provider("extra", "{}", "{name: c}")]);
        let (objects, diagnostics) = names(expand(&rs, &providers, false, &Budget::new(Limits::default())));
        assert_eq!(objects, ["ConfigMap/a-resourceset", "ConfigMap/b-resourceset", "ConfigMap/c-resourcesetinputprovider"]);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn permute_takes_every_combination_under_normalised_names() {
        let resources = "  resources:\n    - apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: << inputs.my_apps.name >>-<< inputs.envs.env >>\n";
        let rs = resource_set(&format!("{}spec:\n  inputStrategy:\n    name: Permute\n  inputs:\n    - name: a\n    - name: b\n  inputsFrom:\n    - selector:\n        matchLabels:\n          role: env\n{resources}", HEAD.replace("name: apps", "name: my-apps")));
        let rs = FluxObject { id: model::ObjectId::new(model::Kind::ResourceSet, "apps", "my-apps"), ..rs };
        let providers = Providers::from([provider("envs", "{role: env}", "{env: dev}"), provider("other", "{role: x}", "{env: no}")]);
        // Chosen by labels: waits until every provider of the cluster is known.
        assert!(matches!(expand(&rs, &providers, false, &Budget::new(Limits::default())), Expansion::Waiting));
        let (objects, diagnostics) = names(expand(&rs, &providers, true, &Budget::new(Limits::default())));
        assert_eq!(objects, ["ConfigMap/a-dev", "ConfigMap/b-dev"]);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn permutation_ids_are_adler32_of_their_picks() {
        let a = Source { name: "A-b".into(), sets: vec![BTreeMap::new(), BTreeMap::new()] };
        let b = Source { name: "c".into(), sets: vec![BTreeMap::new()] };
        let sets = permute(&[a, b]).unwrap();
        assert_eq!(sets.len(), 2);
        let Value::Map(first) = &sets[0] else { panic!() };
        assert_eq!(first.get("id"), Some(&Value::String(id("a_b=0/c=0").into())));
        assert_eq!(id("Wikipedia"), "300286872");
    }

    #[test]
    fn resources_template_ranges_and_branches() {
        let template = "  resourcesTemplate: |\n    <<- range $app := inputs.apps >>\n    ---\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: << $app >><< if inputs.suffix >>-x<< end >>\n    <<- end >>\n";
        let rs = resource_set(&format!("{HEAD}spec:\n  inputs:\n    - apps: [a, b]\n      suffix: true\n    - apps: [c]\n      suffix: false\n{template}"));
        let (objects, _) = names(expand(&rs, &Providers::new(), false, &Budget::new(Limits::default())));
        assert_eq!(objects, ["ConfigMap/a-x", "ConfigMap/b-x", "ConfigMap/c"]);
    }

    #[test]
    fn duplicates_and_disabled_objects_are_dropped() {
        let resources = "  resources:\n    - apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: same\n        annotations:\n          fluxcd.controlplane.io/reconcile: << inputs.state >>\n";
        let rs = resource_set(&format!("{HEAD}spec:\n  inputs:\n    - state: disabled\n    - state: enabled\n    - state: enabled\n{resources}"));
        let (objects, _) = names(expand(&rs, &Providers::new(), false, &Budget::new(Limits::default())));
        assert_eq!(objects, ["ConfigMap/same"]);
    }

    #[test]
    fn a_template_error_is_a_diagnostic_and_generates_nothing() {
        let rs = resource_set(&format!("{HEAD}spec:\n  inputs:\n    - other: a\n{RESOURCES}"));
        let (objects, diagnostics) = names(expand(&rs, &Providers::new(), false, &Budget::new(Limits::default())));
        assert!(objects.is_empty());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!((diagnostics[0].code, diagnostics[0].severity), (Code::ResourceSetTemplate, Severity::Error));
        assert!(diagnostics[0].message.contains("resources[0] with input set 0"), "{}", diagnostics[0].message);
        assert_eq!(diagnostics[0].line, 9, "the line of the resources entry");
    }

    #[test]
    fn a_named_provider_missing_at_the_end_is_an_error() {
        let rs = resource_set(&format!("{HEAD}spec:\n  inputsFrom:\n    - name: nowhere\n{RESOURCES}"));
        assert!(matches!(expand(&rs, &Providers::new(), false, &Budget::new(Limits::default())), Expansion::Waiting));
        let (objects, diagnostics) = names(expand(&rs, &Providers::new(), true, &Budget::new(Limits::default())));
        assert!(objects.is_empty());
        assert_eq!(diagnostics.iter().map(|d| (d.code, d.severity)).collect::<Vec<_>>(), [(Code::SourceNotFound, Severity::Error)]);
    }

    #[test]
    fn depends_on_names_its_kind_and_keeps_an_empty_namespace() {
        let deps = "spec:\n  dependsOn:\n    - apiVersion: kustomize.toolkit.fluxcd.io/v1\n      kind: Kustomization\n      name: infra\n      ready: true\n    - apiVersion: helm.toolkit.fluxcd.io/v2\n      kind: HelmRelease\n      name: db\n      namespace: data\n    - apiVersion: apps/v1\n      kind: Deployment\n      name: anything\n      namespace: apps\n";
        let rs = resource_set(&format!("{HEAD}{deps}"));
        let targets: Vec<(String, bool)> = rs.depends_on().iter().map(|r| (crate::graph::depends_on_target(&rs, r).to_string(), r.ready)).collect();
        // flux-operator does not default the namespace: `Kustomization/infra` is found nowhere.
        assert_eq!(targets, [("Kustomization/infra".to_string(), true), ("HelmRelease/data/db".to_string(), false)]);
    }

    #[test]
    fn providers_outside_the_repository_are_noted() {
        let rs = resource_set(&format!("{HEAD}spec:\n  inputsFrom:\n    - name: prs\n{RESOURCES}"));
        let text = "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSetInputProvider\nmetadata:\n  name: prs\nspec:\n  type: GitHubPullRequest\n";
        let root = parse_documents(text).remove(0).unwrap().root;
        let providers = Providers::from([(("apps".to_string(), "prs".to_string()), Resource::new("p.yaml".into(), 1, root, false))]);
        let (objects, diagnostics) = names(expand(&rs, &providers, false, &Budget::new(Limits::default())));
        assert!(objects.is_empty());
        assert_eq!(diagnostics.iter().map(|d| (d.code, d.severity)).collect::<Vec<_>>(), [(Code::ResourceSetTemplate, Severity::Info)]);
    }
}
