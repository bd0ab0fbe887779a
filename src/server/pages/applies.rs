//! What a Kustomization applies: its build as kustomize-controller makes it (the parent's
//! patches and postBuild in), grouped by kind, each object with the file and line it came
//! from, the patches that changed it and the variables substituted into it; one object's
//! YAML is a link away (`/k/{kind}/{namespace}/{name}/applies?object=Kind/namespace/name`),
//! and the whole section is a page of its own, so a link to it can be shared.
//!
//! Secret values never appear: a Secret's `data` and `stringData` read `<redacted>`, and in
//! a SOPS-encrypted document every `ENC[...]` value and the `sops:` key material are
//! replaced too, as in the source views.

use std::collections::BTreeMap;

use askama::Template;

use super::{Body, Page};
use crate::cluster::KustomizationBuild;
use crate::load::kustomize::Resource;
use crate::load::Manifest;
use crate::model::{Identity, ObjectId};
use crate::render::build::{applied, redacted, skipped};

pub struct AppliedObject {
    pub name: String,
    pub namespace: String,
    /// The object's own page, when it is a Flux object of the cluster.
    pub href: String,
    /// Its YAML, one click away.
    pub yaml_href: String,
    pub location: String,
    pub file_href: String,
    pub sops: bool,
    /// The patches that changed it, in the order they did.
    pub patched: Vec<AppliedPatch>,
    /// The postBuild variables substituted into it, by name.
    pub variables: Vec<String>,
    pub selected: bool,
}

/// A patch that changed a built object: where it is written (a link to that line) and the
/// fields it changed.
pub struct AppliedPatch {
    pub location: String,
    pub href: String,
    pub fields: String,
}

pub struct AppliedGroup {
    pub kind: String,
    pub objects: Vec<AppliedObject>,
}

/// The section, as the object page and the section's own page show it.
pub struct AppliesSection {
    /// The section's own page: the link to share.
    pub href: String,
    pub count: usize,
    pub groups: Vec<AppliedGroup>,
    /// Why the build fails, when it does: Flux applies nothing then.
    pub error: String,
    /// Objects in the build that Flux leaves out of its apply.
    pub skipped: Vec<String>,
}

#[derive(Template)]
#[template(path = "applies.html")]
struct AppliesPage<'a> {
    kind: String,
    name: String,
    namespace: String,
    object_href: String,
    section: &'a AppliesSection,
    /// The selected object's id and YAML, redacted.
    selected: Option<(String, String)>,
    selected_location: String,
}

/// The section for a Kustomization built from this repository; `None` for anything else.
pub fn section(page: &Page<'_>, id: &ObjectId, selected: Option<&str>) -> Option<AppliesSection> {
    let build = page.view.cluster.builds.get(id)?;
    let href = format!("{}{}", applies_path(page, id), page.cluster_query());
    let mut groups: BTreeMap<String, Vec<AppliedObject>> = BTreeMap::new();
    for r in applied(build) {
        let object = applied_object(page, id, r, selected);
        groups.entry(r.manifest.kind().to_string()).or_default().push(object);
    }
    let skipped = build.objects.iter().filter(|r| skipped(&r.manifest)).map(|r| object_id(r, id)).collect();
    Some(AppliesSection {
        href,
        count: groups.values().map(Vec::len).sum(),
        groups: groups.into_iter().map(|(kind, objects)| AppliedGroup { kind, objects }).collect(),
        error: error_text(build),
        skipped,
    })
}

/// The section's own page, with one object's YAML when `?object=` names one it applies.
pub fn applies(page: &Page<'_>, id: &ObjectId) -> askama::Result<Option<Body>> {
    let selected = page.params.get("object").map(String::as_str);
    let Some(section) = section(page, id, selected) else { return Ok(None) };
    let build = &page.view.cluster.builds[id];
    let chosen = selected.and_then(|s| applied(build).find(|r| object_id(r, id) == s));
    let body = AppliesPage {
        kind: id.kind.to_string(),
        name: id.name.clone(),
        namespace: id.namespace.clone(),
        object_href: page.href(id),
        section: &section,
        selected: chosen.map(|r| (object_id(r, id), web_yaml(r))),
        selected_location: chosen.map_or(String::new(), |r| format!("{}:{}", r.file, r.line)),
    };
    Ok(Some((format!("what {} applies", id.name), body.render()?)))
}

/// `/k/{kind}/{namespace}/{name}/applies`, under the base path.
fn applies_path(page: &Page<'_>, id: &ObjectId) -> String {
    format!("{}{}/applies", page.base(), id.path())
}

fn applied_object(page: &Page<'_>, by: &ObjectId, r: &Resource, selected: Option<&str>) -> AppliedObject {
    let manifest = &r.manifest;
    let namespace = manifest.namespace().unwrap_or("").to_string();
    let name = manifest.name().unwrap_or("").to_string();
    let flux = manifest.flux_kind().map(|k| ObjectId::new(k, if namespace.is_empty() { by.namespace.clone() } else { namespace.clone() }, name.clone()));
    let flux = flux.filter(|o| page.view.cluster.objects.contains_key(o));
    let id = object_id(r, by);
    let mut query = page.params.clone();
    query.insert("object".into(), id.clone());
    AppliedObject {
        href: flux.map_or(String::new(), |o| page.href(&o)),
        yaml_href: format!("{}{}#yaml", applies_path(page, by), super::query_string(&query)),
        location: format!("{}:{}", r.file, r.line),
        file_href: page.line_href(&r.file, r.line),
        sops: r.sops,
        patched: r
            .changes
            .iter()
            .map(|c| AppliedPatch { location: format!("{}:{}", c.file, c.line), href: page.line_href(&c.file, c.line), fields: c.fields.join(", ") })
            .collect(),
        variables: r.substituted.clone(),
        selected: selected == Some(id.as_str()),
        name,
        namespace,
    }
}

/// `Kind/namespace/name` of a built object (the namespace it lands in: its own, else the
/// Kustomization's), as `?object=` names it.
fn object_id(r: &Resource, by: &ObjectId) -> String {
    let m = &r.manifest;
    format!("{}/{}/{}", m.kind(), m.namespace().unwrap_or(&by.namespace), m.name().unwrap_or(""))
}

fn error_text(build: &KustomizationBuild) -> String {
    build.error.as_ref().map_or(String::new(), |e| format!("{} ({}:{}): {}", e.code, e.file, e.line, e.message))
}

/// One object as YAML for a page: a Secret's values redacted, and in a SOPS-encrypted
/// document the ciphertext and key material too.
pub fn web_yaml(r: &Resource) -> String {
    serde_saphyr::to_string(&redacted(r)).unwrap_or_else(|e| format!("# cannot be written as YAML: {e}\n"))
}
