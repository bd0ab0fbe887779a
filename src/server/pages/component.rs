//! A component's page (`/component/{path}`): the Kustomizations built from one folder, what
//! they apply, and what they wait on outside it.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;

use super::{Body, DiagnosticRow, Link, Page, diagnostic_row, level_text, stats};
use crate::analysis::prerequisites::Wait;
use crate::graph::EdgeKind;
use crate::model::{Kind, ObjectId};
use crate::render::svg;
use crate::server::views::{self, ViewState};

pub struct StageRow {
    pub name: String,
    pub href: String,
    pub level: String,
    pub path: String,
    pub diagnostics: Vec<DiagnosticRow>,
    pub releases: Vec<Release>,
    pub hostnames: Vec<String>,
    pub namespaces: String,
    pub sops: Vec<String>,
    pub counts: String,
}

pub struct Release {
    pub name: String,
    pub href: String,
    pub chart: String,
    pub repository: String,
    pub repository_href: String,
}

#[derive(Template)]
#[template(path = "component.html")]
struct ComponentPage {
    stats: String,
    overview_href: String,
    name: String,
    path: String,
    file: String,
    file_href: String,
    stages: Vec<StageRow>,
    svg: String,
    waits_on: Vec<Link>,
    waited_by: Vec<Link>,
}

pub fn component(page: &Page<'_>, path: &str) -> askama::Result<Option<Body>> {
    let view = page.view;
    let stages = views::stages(view, path);
    let Some(first) = stages.first() else { return Ok(None) };
    let members: BTreeSet<&ObjectId> = stages.iter().map(|s| &s.id).collect();
    let pre = &view.analysis.prerequisites;
    let mut waits_on = BTreeMap::new();
    let mut waited_by = BTreeMap::new();
    for s in &stages {
        let Some(n) = view.graph.node(&s.id) else { continue };
        for &(p, w) in &pre.waits_on[n.index()] {
            let other = view.graph.id(petgraph::graph::NodeIndex::new(p));
            if !members.contains(other) {
                let note = if w == Wait::Parent { format!("applies {}", s.id.name) } else { format!("{} dependsOn it", s.id.name) };
                waits_on.entry(other.clone()).or_insert(note);
            }
        }
        for &(d, w) in &pre.waited_by[n.index()] {
            let other = view.graph.id(petgraph::graph::NodeIndex::new(d));
            if !members.contains(other) && w != Wait::Parent {
                waited_by.entry(other.clone()).or_insert(format!("dependsOn {}", s.id.name));
            }
        }
    }
    let links = |m: BTreeMap<ObjectId, String>| m.into_iter().map(|(id, note)| Link { name: id.to_string(), href: page.href(&id), note }).collect();
    let mut ids: BTreeSet<ObjectId> = members.iter().map(|&i| i.clone()).collect();
    ids.extend(waits_on.keys().filter(|i| i.kind == Kind::Kustomization).cloned());
    ids.extend(waited_by.keys().cloned());
    let state = ViewState { edges: BTreeSet::from([EdgeKind::DependsOn, EdgeKind::Applies]), ..page.view_state.clone() };
    let drawing = views::drawing(view, &ids, &state, page.base(), &page.cluster_query(), &|id, node| {
        if !members.contains(id) {
            node.flags.insert(svg::NodeFlag::Dim);
        }
    });
    let rows = stages
        .iter()
        .map(|s| {
            let inventory = view.cluster.inventory.get(&s.id).map(Vec::as_slice).unwrap_or_default();
            let mut releases = Vec::new();
            let mut hostnames = Vec::new();
            let mut namespaces = BTreeSet::new();
            let mut sops = BTreeSet::new();
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for a in inventory {
                *counts.entry(a.kind.as_str()).or_default() += 1;
                hostnames.extend(a.hostnames.iter().cloned());
                if a.kind == "Namespace" {
                    namespaces.insert(a.name.clone());
                }
                if a.sops {
                    sops.insert(a.file.to_string());
                }
                if a.kind == "HelmRelease" {
                    let id = ObjectId::new(Kind::HelmRelease, a.namespace.clone().unwrap_or_else(|| s.id.namespace.clone()), a.name.clone());
                    if let Some(hr) = view.cluster.objects.get(&id) {
                        let spec = hr.helm_release().cloned().unwrap_or_default();
                        let source = hr.source_refs().first().map(|(k, r)| r.resolve(*k, &id.namespace));
                        releases.push(Release {
                            name: id.name.clone(),
                            href: page.href(&id),
                            chart: format!("{} {}", spec.chart.unwrap_or_default(), spec.version.unwrap_or_default()).trim().to_string(),
                            repository: source.as_ref().map_or(String::new(), |r| r.name.clone()),
                            repository_href: source.as_ref().filter(|r| view.cluster.objects.contains_key(r)).map_or(String::new(), |r| page.href(r)),
                        });
                    }
                }
            }
            let mut counts: Vec<String> = counts.into_iter().map(|(k, n)| format!("{n} {k}")).collect();
            if counts.is_empty() {
                counts.push("nothing (remote resources only, or an empty build)".into());
            }
            StageRow {
                name: s.id.name.clone(),
                href: page.href(&s.id),
                level: level_text(view.analysis.levels.get(&s.id).copied().flatten()),
                path: s.kustomization().and_then(|k| k.path.as_ref()).map_or(String::new(), |p| p.value.clone()),
                diagnostics: views::diagnostics_of(view, &s.id).into_iter().map(|d| diagnostic_row(page, d)).collect(),
                releases,
                hostnames,
                namespaces: namespaces.into_iter().collect::<Vec<_>>().join(", "),
                sops: sops.into_iter().collect(),
                counts: counts.join(", "),
            }
        })
        .collect();
    let body = ComponentPage {
        stats: stats(page)?,
        overview_href: format!("{}/{}", page.base(), page.cluster_query()),
        name: path.rsplit('/').next().unwrap_or(path).to_string(),
        path: path.to_string(),
        file: first.file.clone(),
        file_href: page.file_href(&first.file, 1),
        stages: rows,
        svg: svg::render(&drawing),
        waits_on: links(waits_on),
        waited_by: links(waited_by),
    };
    Ok(Some((format!("{} (component)", path.rsplit('/').next().unwrap_or(path)), body.render()?)))
}
