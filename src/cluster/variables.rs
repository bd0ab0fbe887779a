//! The values a Kustomization's `postBuild` substitutes: its `substitute` map, and the
//! ConfigMaps and Secrets of `substituteFrom` as found anywhere in the repository.
//! Secret values are never read, only their keys: a Secret's variable stays `${VAR}`.

use std::collections::HashMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::load::substitute::{Binding, Variables};
use crate::load::{Node, Repository};
use crate::model::{self, FluxObject, PostBuild};

/// The definitions of one name, each with the namespace it was written with.
type ByNamespace<T> = Vec<(Option<String>, T)>;

/// Every ConfigMap's data and every Secret's keys in the repository, by name.
pub struct VariableIndex {
    config_maps: HashMap<String, ByNamespace<Vec<(String, String)>>>,
    secrets: HashMap<String, ByNamespace<Vec<String>>>,
}

impl VariableIndex {
    pub fn new(repo: &Repository) -> VariableIndex {
        let mut config_maps: HashMap<_, Vec<_>> = HashMap::new();
        let mut secrets: HashMap<_, Vec<_>> = HashMap::new();
        for doc in repo.files.values().flat_map(|f| f.documents.iter().flatten()) {
            let (api, kind) = model::type_of(&doc.root);
            if api != "v1" || !(kind == "ConfigMap" || kind == "Secret") {
                continue;
            }
            let Some(name) = model::metadata_name(&doc.root) else { continue };
            let ns = model::metadata_namespace(&doc.root);
            let entries = |key: &str| doc.root.get(key).map(Node::entries).unwrap_or_default().to_vec();
            if kind == "ConfigMap" {
                let data = entries("data").into_iter().map(|(k, v)| (k, v.scalar_text().unwrap_or_default())).collect();
                config_maps.entry(name).or_default().push((ns, data));
            } else {
                let keys = entries("data").into_iter().chain(entries("stringData")).map(|(k, _)| k).collect();
                secrets.entry(name).or_default().push((ns, keys));
            }
        }
        VariableIndex { config_maps, secrets }
    }

    /// The variables of `object`'s postBuild. Sources in the object's namespace are
    /// preferred; a source found only elsewhere is used, since kustomize may move it.
    pub fn for_kustomization(&self, post_build: &PostBuild, object: &FluxObject, diagnostics: &mut Vec<Diagnostic>) -> Variables {
        let ns = &object.id.namespace;
        let mut vars = Variables::default();
        for from in &post_build.substitute_from {
            let found = match from.kind.as_str() {
                "Secret" => pick(self.secrets.get(&from.name), ns).map(|keys| {
                    for k in keys {
                        vars.set(k, Binding::Hidden);
                    }
                }),
                _ => pick(self.config_maps.get(&from.name), ns).map(|data| {
                    for (k, v) in data {
                        vars.set(k, Binding::Value(v.clone()));
                    }
                }),
            };
            if found.is_none() && !from.optional {
                diagnostics.push(
                    Diagnostic::info(
                        Code::SubstitutionSourceNotFound,
                        &object.file,
                        from.line,
                        format!("substituteFrom {} {ns}/{} is not in the repository; Flux needs it in the cluster before {} can reconcile", from.kind, from.name, object.id),
                    )
                    .on(&object.id),
                );
            }
        }
        // `substitute` takes precedence over every substituteFrom.
        for (k, v) in &post_build.substitute {
            vars.set(k, Binding::Value(v.clone()));
        }
        vars
    }
}

fn pick<'a, T>(candidates: Option<&'a ByNamespace<T>>, ns: &str) -> Option<&'a T> {
    let candidates = candidates?;
    candidates
        .iter()
        .find(|(n, _)| n.as_deref() == Some(ns))
        .or_else(|| candidates.iter().find(|(n, _)| n.is_none()))
        .or_else(|| candidates.first())
        .map(|(_, t)| t)
}
