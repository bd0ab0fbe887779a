//! One object's page (`/k/{kind}/{namespace}/{name}`): its fields, why it is at its level,
//! what it waits on, its neighbourhood drawn, what it applies, and its source.

use std::collections::BTreeSet;

use askama::Template;

use super::{Body, ChainStep, DiagnosticRow, Link, Page, Toggle, diagnostic_row, edge_toggles, kind_toggles, level_text, stats};
use crate::analysis::prerequisites::Wait;
use crate::model::{Kind, ObjectId};
use crate::render::{redact, svg};
use crate::model::link::encode_path;
use crate::server::views::{self, Field, component_of};

pub struct Line {
    pub number: usize,
    /// The line's text in pieces; the `true` ones are redacted values.
    pub parts: Vec<(String, bool)>,
    pub mark: bool,
}

/// Splits a redacted line so that the template can mark what was taken out.
fn pieces(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(redact::REDACTED) {
        out.push((rest[..i].to_string(), false));
        out.push((redact::REDACTED.to_string(), true));
        rest = &rest[i + redact::REDACTED.len()..];
    }
    out.push((rest.to_string(), false));
    out
}

pub struct AppliedRow {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub href: String,
    pub location: String,
    pub file_href: String,
    pub sops: bool,
}

#[derive(Template)]
#[template(path = "object.html")]
struct ObjectPage {
    stats: String,
    overview_href: String,
    component: String,
    component_href: String,
    kind: String,
    name: String,
    namespace: String,
    file: String,
    line: u32,
    file_href: String,
    level: String,
    fields: Vec<Field>,
    chain: Vec<ChainStep>,
    waits_on: Vec<Link>,
    waited_by: Vec<Link>,
    diagnostics: Vec<DiagnosticRow>,
    depth_toggles: Vec<Toggle>,
    edge_toggles: Vec<Toggle>,
    kind_toggles: Vec<Toggle>,
    svg: String,
    applies: Vec<AppliedRow>,
    /// A Kustomization's build, for the "What it applies" section.
    applies_section: Option<super::applies::AppliesSection>,
    source: Vec<Line>,
    /// Where its live status is fetched from, when the live status is on.
    live_part: String,
}

pub fn object(page: &Page<'_>, id: &ObjectId) -> askama::Result<Body> {
    let view = page.view;
    let object = &view.cluster.objects[id];
    let level = view.analysis.levels.get(id).copied().flatten();
    let chain_steps = views::why_level(view, id);
    let chain = if chain_steps.len() <= 1 {
        Vec::new()
    } else {
        chain_steps
            .iter()
            .map(|s| ChainStep {
                name: s.id.name.clone(),
                href: page.href(&s.id),
                level: level_text(s.level),
                why: match s.why {
                    "dependsOn" => "needed by".into(),
                    "applied by" => "applies".into(),
                    _ => String::new(),
                },
                current: &s.id == id,
            })
            .collect()
    };
    let node = view.graph.node(id).map(|n| n.index());
    let pre = &view.analysis.prerequisites;
    let link = |i: usize, note: &str| {
        let other = view.graph.id(petgraph::graph::NodeIndex::new(i));
        Link { name: other.to_string(), href: page.href(other), note: note.to_string() }
    };
    let waits_on = node
        .map(|n| pre.waits_on[n].iter().map(|&(p, w)| link(p, if w == Wait::Parent { "applies it" } else { "dependsOn" })).collect())
        .unwrap_or_default();
    let waited_by = node
        .map(|n| pre.waited_by[n].iter().map(|&(p, w)| link(p, if w == Wait::Parent { "applied by it" } else { "dependsOn it" })).collect())
        .unwrap_or_default();
    let ids = views::neighbourhood(view, id, page.view_state.depth, &page.view_state);
    let drawing = views::drawing(view, &ids, &page.view_state, page.base(), &page.cluster_query(), &|other, node| {
        if other == id {
            node.flags.insert(svg::NodeFlag::Focus);
        }
    });
    let depth_toggles = ["1", "2", "3", "all"]
        .iter()
        .map(|d| Toggle {
            name: (*d).into(),
            href: page.with("depth", Some(d)),
            on: match page.view_state.depth {
                Some(n) => n.to_string() == *d,
                None => *d == "all",
            },
        })
        .collect();
    let applies_section = super::applies::section(page, id, None);
    let applies = view
        .cluster
        .inventory
        .get(id)
        .map(|items| {
            items
                .iter()
                .map(|a| {
                    let flux = Kind::of_manifest(&a.api_version, &a.kind)
                        .map(|k| ObjectId::new(k, a.namespace.clone().unwrap_or_else(|| id.namespace.clone()), a.name.clone()))
                        .filter(|o| view.cluster.objects.contains_key(o));
                    AppliedRow {
                        kind: a.kind.clone(),
                        namespace: a.namespace.clone().unwrap_or_default(),
                        name: a.name.clone(),
                        href: flux.map_or(String::new(), |o| page.href(&o)),
                        location: format!("{}:{}", a.file, a.line),
                        file_href: page.file_href(&a.file, a.line),
                        sops: a.sops,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let component = component_of(object).unwrap_or("").to_string();
    let body = ObjectPage {
        live_part: if page.state.live().enabled() { super::blocked::object_part_href(page, id) } else { String::new() },
        stats: stats(page)?,
        overview_href: format!("{}/{}", page.base(), page.cluster_query()),
        component_href: format!("{}/component/{}{}", page.base(), encode_path(&component), page.cluster_query()),
        component,
        kind: id.kind.to_string(),
        name: id.name.clone(),
        namespace: id.namespace.clone(),
        file: object.file.clone(),
        line: object.line,
        file_href: page.file_href(&object.file, object.line),
        level: level.map_or(String::new(), |l| l.to_string()),
        fields: views::spec_fields(view, object, page.base()),
        chain,
        waits_on,
        waited_by,
        diagnostics: views::diagnostics_of(view, id).into_iter().map(|d| diagnostic_row(page, d)).collect(),
        depth_toggles,
        edge_toggles: edge_toggles(page),
        kind_toggles: kind_toggles(page),
        svg: svg::render(&drawing),
        applies,
        applies_section,
        source: source_lines(page, object.file.as_str(), object.line),
    };
    Ok((format!("{} ({})", id.name, id.kind), body.render()?))
}

/// The lines of the document that defines an object, redacted, with its first line marked.
fn source_lines(page: &Page<'_>, file: &str, line: u32) -> Vec<Line> {
    let Some(source) = page.current.snapshot.repository.files.get(file) else { return Vec::new() };
    let lines = redact::redact(source);
    // The document: from its start to the next document's start.
    let starts: BTreeSet<u32> = source.documents.iter().filter_map(|d| d.as_ref().ok().map(|d| d.line)).collect();
    let begin = (1..=line as usize).rev().find(|&n| n == 1 || lines.get(n - 2).is_some_and(|l| l.starts_with("---"))).unwrap_or(1);
    let end = starts.range(line + 1..).next().map_or(lines.len(), |&next| {
        (1..next as usize).rev().find(|&n| lines.get(n - 1).is_some_and(|l| l.starts_with("---"))).unwrap_or(next as usize).saturating_sub(1).max(line as usize)
    });
    (begin..=end.min(lines.len()))
        .map(|n| Line { number: n, parts: pieces(&lines[n - 1]), mark: n == line as usize })
        .collect()
}

#[derive(Template)]
#[template(path = "source.html")]
struct SourcePage {
    file: String,
    lines: Vec<Line>,
}

/// A whole file of the repository (`/source/{path}`), redacted, each line an anchor: where a
/// file:line links when no forge URL is given. Only files the snapshot holds are shown; the
/// path in the URL is looked up among them, never opened.
pub fn source(page: &Page<'_>, file: &str) -> askama::Result<Option<Body>> {
    let Some(source) = page.current.snapshot.repository.files.get(file) else { return Ok(None) };
    let lines = redact::redact(source).iter().enumerate().map(|(i, l)| Line { number: i + 1, parts: pieces(l), mark: false }).collect();
    let body = SourcePage { file: file.to_string(), lines };
    Ok(Some((file.rsplit('/').next().unwrap_or(file).to_string(), body.render()?)))
}
