//! The values a Kustomization's `postBuild` substitutes: its `substitute` map, and the
//! ConfigMaps and Secrets of `substituteFrom`, looked up as kustomize-controller does
//! (fluxcd/pkg `kustomize_varsub.go`): by name, in the Kustomization's own namespace, among
//! what the cluster holds. Here "the cluster" is what the same cluster's Kustomizations
//! apply — never another cluster's ConfigMap of the same name.
//!
//! What cannot be read is unknown, not undefined: a Secret whose values are encrypted or
//! that is made at run time (an ExternalSecret, a generator, another controller), and an
//! optional source that is absent, may define any variable. Secret values are never read,
//! only their keys: a Secret's variable stays `${VAR}`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::Resource;
use crate::load::substitute::{Binding, Variables};
use crate::load::{Node, Repository};
use crate::load::Manifest;
use crate::model::{self, FluxObject, PostBuild};

/// One ConfigMap or Secret that can feed substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub file: Arc<str>,
    pub line: u32,
    pub bindings: Vec<(String, Binding)>,
    /// It may hold any key besides those listed (made at run time from a store, or generated
    /// from inputs not here).
    pub open: bool,
    /// Written as a ConfigMap or Secret (not made by another kind, such as an ExternalSecret).
    pub written: bool,
}

/// ConfigMaps and Secrets by name, each with the namespace it lands in (`None`: not said).
#[derive(Debug, Clone, Default)]
pub struct VariableIndex {
    config_maps: HashMap<String, Vec<(Option<String>, Definition)>>,
    secrets: HashMap<String, Vec<(Option<String>, Definition)>>,
}

/// Kinds besides Secret that make a Secret in the cluster (an ExternalSecret, a SealedSecret,
/// a OnePasswordItem, a Vault secret): as substitution sources, the Secret they make.
pub fn makes_a_secret(manifest: &Node) -> bool {
    matches!(
        (manifest.group(), manifest.kind()),
        ("external-secrets.io", "ExternalSecret")
            | ("bitnami.com", "SealedSecret")
            | ("onepassword.com", "OnePasswordItem")
            | ("secrets.hashicorp.com", "VaultStaticSecret" | "VaultDynamicSecret")
    )
}

/// The name of the Secret such a kind makes, the keys it is known to hold (values unknown),
/// and whether it may hold any other.
fn made_secret(manifest: &Node) -> Option<(String, Vec<String>, bool)> {
    let spec = manifest.get("spec");
    let at = |path: &[&str]| spec.and_then(|s| s.at(path));
    let text = |path: &[&str]| at(path).and_then(Node::scalar_text).filter(|s| !s.is_empty());
    let own = || manifest.name().map(str::to_string);
    match manifest.kind() {
        "ExternalSecret" => {
            let mut keys: Vec<String> = at(&["data"]).map(Node::as_seq).unwrap_or_default().iter().filter_map(|d| d.get("secretKey").and_then(Node::scalar_text)).collect();
            keys.extend(at(&["target", "template", "data"]).map(Node::entries).unwrap_or_default().iter().map(|(k, _)| k.clone()));
            let open = at(&["dataFrom"]).is_some_and(|d| !d.as_seq().is_empty()) || at(&["target", "template", "templateFrom"]).is_some();
            Some((text(&["target", "name"]).or_else(own)?, keys, open))
        }
        "SealedSecret" => {
            let keys = at(&["encryptedData"]).map(Node::entries).unwrap_or_default().iter().map(|(k, _)| k.clone()).collect();
            Some((text(&["template", "metadata", "name"]).or_else(own)?, keys, false))
        }
        "OnePasswordItem" => Some((own()?, Vec::new(), true)),
        _ => Some((text(&["destination", "name"])?, Vec::new(), true)),
    }
}

impl VariableIndex {
    /// Every ConfigMap and Secret written anywhere in the repository, with the namespace its
    /// file gives: the best guess before a cluster is known (an entry point's own path).
    pub fn of_repository(repo: &Repository) -> VariableIndex {
        let mut index = VariableIndex::default();
        for file in repo.files.values() {
            let path: Arc<str> = Arc::from(file.path.as_str());
            for doc in file.documents.iter().flatten() {
                index.add(&doc.root, model::metadata_namespace(&doc.root), &path, doc.line);
            }
        }
        index
    }

    /// Adds a built object when it is a ConfigMap, a Secret or a kind that makes one, in
    /// `namespace`.
    pub fn add_resource(&mut self, resource: &Resource, namespace: Option<String>) {
        self.add_with(&resource.manifest, resource.data_unknown(), namespace, &resource.file, resource.line);
    }

    /// Adds `manifest` when it is a ConfigMap, a Secret or a kind that makes one.
    pub fn add(&mut self, manifest: &Node, namespace: Option<String>, file: &Arc<str>, line: u32) {
        self.add_with(manifest, false, namespace, file, line);
    }

    /// `data_unknown`: it was generated from inputs not all readable here.
    fn add_with(&mut self, manifest: &Node, data_unknown: bool, namespace: Option<String>, file: &Arc<str>, line: u32) {
        if let Some((name, definition, secret)) = definition(manifest, data_unknown, file, line) {
            let map = if secret { &mut self.secrets } else { &mut self.config_maps };
            map.entry(name).or_default().push((namespace, definition));
        }
    }

    /// The definition in exactly `namespace`, as the API server would answer: one written as
    /// a ConfigMap or Secret before one another kind makes.
    fn exact(&self, secret: bool, name: &str, namespace: &str) -> Option<&Definition> {
        let map = if secret { &self.secrets } else { &self.config_maps };
        let here: Vec<&Definition> = map.get(name)?.iter().filter(|(ns, _)| ns.as_deref() == Some(namespace)).map(|(_, d)| d).collect();
        here.iter().find(|d| d.written).or_else(|| here.first()).copied()
    }

    /// A looser guess, for an index of the whole repository: the namespace, else one
    /// without namespace (kustomize may give it one), else any.
    fn guess(&self, secret: bool, name: &str, namespace: &str) -> Option<&Definition> {
        let map = if secret { &self.secrets } else { &self.config_maps };
        let candidates = map.get(name)?;
        candidates
            .iter()
            .find(|(n, _)| n.as_deref() == Some(namespace))
            .or_else(|| candidates.iter().find(|(n, _)| n.is_none()))
            .or_else(|| candidates.first())
            .map(|(_, d)| d)
    }
}

/// What substitution may read of a ConfigMap, a Secret (its keys only: values are never read)
/// or a kind that makes a Secret: its name, and whether it is a Secret. A ConfigMap's values
/// lose their line breaks, as kustomize-controller's `LoadVariables` does.
fn definition(manifest: &Node, data_unknown: bool, file: &Arc<str>, line: u32) -> Option<(String, Definition, bool)> {
    let entries = |key: &str| manifest.get(key).map(Node::entries).unwrap_or_default();
    let definition = |bindings, open, written| Definition { file: file.clone(), line, bindings, open, written };
    if makes_a_secret(manifest) {
        let (name, keys, open) = made_secret(manifest)?;
        return Some((name, definition(keys.into_iter().map(|k| (k, Binding::Hidden)).collect(), open, false), true));
    }
    let (api, kind) = model::type_of(manifest);
    if api != "v1" || !(kind == "ConfigMap" || kind == "Secret") {
        return None;
    }
    let name = model::metadata_name(manifest)?;
    if kind == "ConfigMap" {
        let value = |v: &Node| Binding::Value(v.scalar_text().unwrap_or_default().replace('\n', ""));
        let bindings = entries("data").iter().map(|(k, v)| (k.clone(), value(v))).collect();
        Some((name, definition(bindings, data_unknown, true), false))
    } else {
        let bindings = entries("data").iter().chain(entries("stringData")).map(|(k, _)| (k.clone(), Binding::Hidden)).collect();
        Some((name, definition(bindings, data_unknown, true), true))
    }
}

/// Where `substituteFrom` looks.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// Among what the cluster applies, in exactly the Kustomization's namespace; and, once
    /// nothing else will move, among what the repository writes and the cluster does not apply.
    Cluster { applied: &'a VariableIndex, outside: Option<Outside<'a>> },
    /// Among the whole repository (entry points, before any cluster exists).
    Repository(&'a VariableIndex),
}

/// The repository, and the files a cluster applies: where a source no Kustomization applies
/// may be written, for a bootstrap to apply.
#[derive(Clone, Copy)]
pub struct Outside<'a> {
    pub repo: &'a Repository,
    pub applied: &'a BTreeSet<String>,
}

impl Outside<'_> {
    /// A ConfigMap or Secret named `name` in a file the cluster does not apply, in
    /// `namespace` or none: created out of band (a bootstrap script applies such files).
    fn find(&self, secret: bool, name: &str, namespace: &str) -> Option<Definition> {
        let kind = if secret { "Secret" } else { "ConfigMap" };
        for file in self.repo.files.values().filter(|f| !self.applied.contains(&f.path)) {
            for doc in file.documents.iter().flatten() {
                let m = &doc.root;
                if m.kind() != kind || m.api_version() != "v1" || m.name() != Some(name) || m.namespace().is_some_and(|n| n != namespace) {
                    continue;
                }
                let path: Arc<str> = Arc::from(file.path.as_str());
                return definition(m, false, &path, doc.line).map(|(_, d, _)| d);
            }
        }
        None
    }
}

/// Which `substituteFrom` sources were not found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Missing {
    pub required: bool,
    pub optional: bool,
}

/// The variables of `object`'s postBuild, noting in `missing` the sources not found, as
/// kustomize-controller's `LoadVariables` reads them: sources in order, each over the ones
/// before (a source that may hold any key makes every earlier value unknown), an optional one
/// that is absent skipped, then `substitute` over all; values without their line breaks.
/// `unresolved`: the parent left a variable it could not know in this Kustomization, so a value
/// of its own that still holds `${…}` holds that unknown ([`Binding::Partial`]).
pub fn for_kustomization(post_build: &PostBuild, object: &FluxObject, unresolved: bool, scope: Scope<'_>, diagnostics: &mut Vec<Diagnostic>, missing: &mut Missing) -> Variables {
    let ns = &object.id.namespace;
    let mut vars = Variables::default();
    for from in &post_build.substitute_from {
        let secret = from.kind == "Secret";
        let (found, outside) = match scope {
            Scope::Cluster { applied, outside } => match applied.exact(secret, &from.name, ns) {
                Some(d) => (Some(d.clone()), false),
                None => (outside.and_then(|o| o.find(secret, &from.name, ns)), true),
            },
            Scope::Repository(index) => (index.guess(secret, &from.name, ns).cloned(), false),
        };
        match found {
            Some(definition) => {
                if outside {
                    diagnostics.push(
                        Diagnostic::info(
                            Code::SubstitutionSourceNotFound,
                            &object.file,
                            from.line,
                            format!(
                                "substituteFrom {} {ns}/{} is applied by no Kustomization of this cluster; it is taken from {} (a bootstrap applies it out of band), and Flux needs it in the cluster before {} can reconcile",
                                from.kind, from.name, definition.file, object.id
                            ),
                        )
                        .on(&object.id),
                    );
                }
                absorb(&mut vars, &definition);
            }
            None if from.optional => missing.optional = true,
            None => {
                missing.required = true;
                // Absent here: it may be made in the cluster (another controller), so any
                // variable may come from it.
                absorb(&mut vars, &Definition { file: object.file.as_str().into(), line: from.line, bindings: Vec::new(), open: true, written: false });
                diagnostics.push(
                    Diagnostic::info(
                        Code::SubstitutionSourceNotFound,
                        &object.file,
                        from.line,
                        format!(
                            "substituteFrom {} {ns}/{} is not applied by this cluster; Flux needs it in the cluster before {} can reconcile, and its variables are unknown here",
                            from.kind, from.name, object.id
                        ),
                    )
                    .on(&object.id),
                );
            }
        }
    }
    // `substitute` takes precedence over every substituteFrom.
    for (k, v) in &post_build.substitute {
        let value = v.replace('\n', "");
        vars.set(k, if unresolved && value.contains("${") { Binding::Partial(value) } else { Binding::Value(value) });
    }
    vars
}

/// One source over the ones before it.
fn absorb(vars: &mut Variables, definition: &Definition) {
    if definition.open {
        // It may define any of them: what the earlier sources said is no longer known.
        for binding in vars.bindings.values_mut() {
            *binding = Binding::Hidden;
        }
        vars.open = true;
    }
    for (k, v) in &definition.bindings {
        vars.set(k, v.clone());
    }
}
