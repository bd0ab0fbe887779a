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

use std::collections::HashMap;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::Resource;
use crate::load::substitute::{Binding, Variables};
use crate::load::{Node, Repository};
use crate::model::{self, FluxObject, PostBuild};

/// One ConfigMap or Secret that can feed substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub file: Arc<str>,
    pub line: u32,
    pub bindings: Vec<(String, Binding)>,
    /// It may hold more than is listed (SOPS-encrypted, or generated from a file not here).
    pub open: bool,
}

/// ConfigMaps and Secrets by name, each with the namespace it lands in (`None`: not said).
#[derive(Debug, Clone, Default)]
pub struct VariableIndex {
    config_maps: HashMap<String, Vec<(Option<String>, Definition)>>,
    secrets: HashMap<String, Vec<(Option<String>, Definition)>>,
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

    /// Adds a built object when it is a ConfigMap or a Secret, in `namespace`.
    pub fn add_resource(&mut self, resource: &Resource, namespace: Option<String>) {
        self.add_with(&resource.manifest, resource.data_unknown(), namespace, &resource.file, resource.line);
    }

    /// Adds `manifest` when it is a ConfigMap or a Secret.
    pub fn add(&mut self, manifest: &Node, namespace: Option<String>, file: &Arc<str>, line: u32) {
        self.add_with(manifest, false, namespace, file, line);
    }

    /// `data_unknown`: it was generated from inputs not all readable here.
    fn add_with(&mut self, manifest: &Node, data_unknown: bool, namespace: Option<String>, file: &Arc<str>, line: u32) {
        let (api, kind) = model::type_of(manifest);
        if api != "v1" || !(kind == "ConfigMap" || kind == "Secret") {
            return;
        }
        let Some(name) = model::metadata_name(manifest) else { return };
        let entries = |key: &str| manifest.get(key).map(Node::entries).unwrap_or_default();
        let generated_open = data_unknown;
        let definition = if kind == "ConfigMap" {
            let bindings = entries("data").iter().map(|(k, v)| (k.clone(), Binding::Value(v.scalar_text().unwrap_or_default()))).collect();
            Definition { file: file.clone(), line, bindings, open: generated_open }
        } else {
            let bindings = entries("data").iter().chain(entries("stringData")).map(|(k, _)| (k.clone(), Binding::Hidden)).collect();
            let sops = crate::load::kustomize::is_sops(manifest);
            Definition { file: file.clone(), line, bindings, open: sops || generated_open }
        };
        let map = if kind == "ConfigMap" { &mut self.config_maps } else { &mut self.secrets };
        map.entry(name).or_default().push((namespace, definition));
    }

    /// The definition in exactly `namespace`, as the API server would answer.
    fn exact(&self, secret: bool, name: &str, namespace: &str) -> Option<&Definition> {
        let map = if secret { &self.secrets } else { &self.config_maps };
        map.get(name)?.iter().find(|(ns, _)| ns.as_deref() == Some(namespace)).map(|(_, d)| d)
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

/// Where `substituteFrom` looks.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// Among what the cluster applies, in exactly the Kustomization's namespace.
    Cluster(&'a VariableIndex),
    /// Among the whole repository (entry points, before any cluster exists).
    Repository(&'a VariableIndex),
}

impl Scope<'_> {
    fn find(&self, secret: bool, name: &str, namespace: &str) -> Option<&Definition> {
        match self {
            Scope::Cluster(applied) => applied.exact(secret, name, namespace),
            Scope::Repository(index) => index.guess(secret, name, namespace),
        }
    }
}

/// Which `substituteFrom` sources were not found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Missing {
    pub required: bool,
    pub optional: bool,
}

/// The variables of `object`'s postBuild, noting in `missing` the sources not found.
pub fn for_kustomization(post_build: &PostBuild, object: &FluxObject, scope: Scope<'_>, diagnostics: &mut Vec<Diagnostic>, missing: &mut Missing) -> Variables {
    let ns = &object.id.namespace;
    let mut vars = Variables::default();
    for from in &post_build.substitute_from {
        let secret = from.kind == "Secret";
        let found = scope.find(secret, &from.name, ns);
        if found.is_none() {
            if from.optional { missing.optional = true } else { missing.required = true }
        }
        match found {
            Some(definition) => {
                // Later sources override earlier ones, as in kustomize-controller.
                for (k, v) in &definition.bindings {
                    vars.set(k, v.clone());
                }
                vars.open |= definition.open;
            }
            None => {
                // Absent here: it may be made in the cluster (ExternalSecret, another
                // controller), so any variable may come from it.
                vars.open = true;
                if !from.optional {
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
    }
    // `substitute` takes precedence over every substituteFrom.
    for (k, v) in &post_build.substitute {
        vars.set(k, Binding::Value(v.clone()));
    }
    vars
}
