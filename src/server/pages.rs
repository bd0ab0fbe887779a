//! The HTML pages. Each handler reads the reader's view state from the query string, takes
//! the current snapshot, and renders a template; with `X-Fluxgraph-Fragment: 1` only the
//! page's `<main>` is returned, which is how open pages update in place. A page is a function
//! of the snapshot, the URL and that one header — never of the `Host` or another header — so
//! that it can be drawn once and kept (`cache`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use askama::Template;
use axum::extract::OriginalUri;
use axum::http::StatusCode;

use super::state::{AppState, Current};
use super::views::{self, Field, ViewState, component_of, encode, object_path};
use crate::analysis::prerequisites::Wait;
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::EdgeKind;
use crate::layout::Direction;
use crate::model::{Duration, Kind, ObjectId};
use crate::render::{redact, svg};
use crate::snapshot::ClusterView;

/// The query string, in a stable order so that links are canonical.
pub type Params = BTreeMap<String, String>;

/// What every page needs: the snapshot, the cluster shown, the view state, the links.
pub struct Page<'a> {
    pub state: &'a AppState,
    pub current: &'a Current,
    pub view: &'a ClusterView,
    pub params: &'a Params,
    pub view_state: ViewState,
}

impl Page<'_> {
    fn base(&self) -> &str {
        &self.state.options().base_path
    }

    /// The query string that keeps the cluster (and nothing else) when following a link.
    fn cluster_query(&self) -> String {
        match self.params.get("cluster") {
            Some(c) => format!("?cluster={}", encode(c)),
            None => String::new(),
        }
    }

    /// The current query with `key` set to `value` (or removed when `None`).
    fn with(&self, key: &str, value: Option<&str>) -> String {
        let mut p = self.params.clone();
        match value {
            Some(v) => p.insert(key.to_string(), v.to_string()),
            None => p.remove(key),
        };
        query_string(&p)
    }

    fn href(&self, id: &ObjectId) -> String {
        format!("{}{}{}", self.base(), object_path(id), self.cluster_query())
    }

    fn file_href(&self, file: &str, line: u32) -> String {
        match &self.state.options().repo_url {
            Some(forge) if !file.is_empty() => format!("{}/{}#L{line}", forge.trim_end_matches('/'), file),
            _ => String::new(),
        }
    }
}

pub fn query_string(params: &Params) -> String {
    if params.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v).replace("%2C", ","))).collect();
    format!("?{}", parts.join("&"))
}

/// The view state from `edges=dependsOn,applies&show=hr,src&dir=tb&fold=1&depth=3`.
pub fn view_state(params: &Params) -> ViewState {
    let mut state = ViewState::default();
    if let Some(edges) = params.get("edges") {
        state.edges = edges
            .split(',')
            .filter_map(|e| match e {
                "dependsOn" => Some(EdgeKind::DependsOn),
                "applies" => Some(EdgeKind::Applies),
                "source" => Some(EdgeKind::Source),
                _ => None,
            })
            .collect();
    }
    if let Some(show) = params.get("show") {
        state.helm_releases = show.split(',').any(|s| s == "hr");
        state.sources = show.split(',').any(|s| s == "src");
    }
    state.direction = if params.get("dir").map(String::as_str) == Some("tb") { Direction::TopToBottom } else { Direction::LeftToRight };
    state.fold = params.get("fold").map(String::as_str) == Some("1");
    state.depth = match params.get("depth").map(String::as_str) {
        Some("all") => None,
        Some(n) => n.parse().ok().map(|n: usize| n.clamp(1, 50)).or(Some(2)),
        None => Some(2),
    };
    state
}

#[derive(Clone)]
pub struct Toggle {
    pub name: String,
    pub href: String,
    pub on: bool,
}

#[derive(Clone)]
pub struct NamedLink {
    pub name: String,
    pub href: String,
    pub current: bool,
}

#[derive(Clone)]
pub struct Link {
    pub name: String,
    pub href: String,
    pub note: String,
}

#[derive(Clone)]
pub struct DiagnosticRow {
    pub severity: &'static str,
    pub code: &'static str,
    pub object: String,
    pub href: String,
    pub location: String,
    pub file_href: String,
    pub message: String,
    pub hint: String,
}

fn diagnostic_row(page: &Page<'_>, d: &Diagnostic) -> DiagnosticRow {
    let location = match (d.file.is_empty(), d.line) {
        (true, _) => String::new(),
        (false, 0) => d.file.clone(),
        (false, l) => format!("{}:{l}", d.file),
    };
    let file_href = page.file_href(&d.file, d.line);
    DiagnosticRow {
        severity: d.severity.as_str(),
        code: d.code.as_str(),
        object: d.object.as_ref().map_or(String::new(), ToString::to_string),
        href: d.object.as_ref().filter(|id| page.view.cluster.objects.contains_key(id)).map_or(String::new(), |id| page.href(id)),
        location,
        file_href,
        message: d.message.clone(),
        hint: d.hint.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "stats.html")]
struct Stats {
    objects: usize,
    kustomizations: usize,
    helm_releases: usize,
    levels: usize,
    critical: usize,
    worst_case: Duration,
    cycles: usize,
    errors: usize,
    warnings: usize,
    cycles_href: String,
    errors_href: String,
    warnings_href: String,
    failure: String,
    revision: String,
}

fn stats(page: &Page<'_>) -> String {
    let v = page.view;
    let count = |k: Kind| v.cluster.objects.keys().filter(|id| id.kind == k).count();
    let sev = |s: Severity| v.analysis.diagnostics.iter().filter(|d| d.severity == s).count();
    let q = page.cluster_query();
    let sep = if q.is_empty() { "?" } else { "&" };
    Stats {
        objects: v.cluster.objects.len(),
        kustomizations: count(Kind::Kustomization),
        helm_releases: count(Kind::HelmRelease),
        levels: v.analysis.waves.len(),
        critical: v.analysis.critical_path.nodes.len(),
        worst_case: v.analysis.weighted_path.total,
        cycles: v.analysis.cycles.len(),
        errors: sev(Severity::Error),
        warnings: sev(Severity::Warning),
        cycles_href: format!("{}/cycles{q}", page.base()),
        errors_href: format!("{}/diagnostics{q}{sep}severity=error", page.base()),
        warnings_href: format!("{}/diagnostics{q}{sep}severity=warning", page.base()),
        failure: page.current.failure.clone().unwrap_or_default(),
        revision: page.current.revision.clone().unwrap_or_default(),
    }
    .render()
    .unwrap_or_default()
}

fn edge_toggles(page: &Page<'_>) -> Vec<Toggle> {
    [(EdgeKind::DependsOn, "dependsOn"), (EdgeKind::Applies, "applies"), (EdgeKind::Source, "source")]
        .into_iter()
        .map(|(kind, name)| {
            let mut edges = page.view_state.edges.clone();
            let on = !edges.insert(kind);
            if on {
                edges.remove(&kind);
            }
            let value: Vec<&str> = edges.iter().map(|e| e.as_str()).collect();
            Toggle { name: name.into(), href: page.with("edges", Some(&value.join(","))), on }
        })
        .collect()
}

fn kind_toggles(page: &Page<'_>) -> Vec<Toggle> {
    let s = &page.view_state;
    let show = |hr: bool, src: bool| {
        let v: Vec<&str> = [(hr, "hr"), (src, "src")].into_iter().filter(|x| x.0).map(|x| x.1).collect();
        if v.is_empty() { page.with("show", None) } else { page.with("show", Some(&v.join(","))) }
    };
    vec![
        Toggle { name: "HelmReleases".into(), href: show(!s.helm_releases, s.sources), on: s.helm_releases },
        Toggle { name: "sources".into(), href: show(s.helm_releases, !s.sources), on: s.sources },
    ]
}

fn layout_toggles(page: &Page<'_>) -> Vec<Toggle> {
    let s = &page.view_state;
    vec![
        Toggle { name: "left to right".into(), href: page.with("dir", None), on: s.direction == Direction::LeftToRight },
        Toggle { name: "top to bottom".into(), href: page.with("dir", Some("tb")), on: s.direction == Direction::TopToBottom },
        Toggle { name: "fold components".into(), href: page.with("fold", if s.fold { None } else { Some("1") }), on: s.fold },
    ]
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    stats: String,
    edge_toggles: Vec<Toggle>,
    kind_toggles: Vec<Toggle>,
    layout_toggles: Vec<Toggle>,
    svg: String,
    diagnostics: Vec<DiagnosticRow>,
    more: usize,
    diagnostics_href: String,
}

/// Above this many Kustomizations, `applies` edges are off unless asked for: in the seed's
/// layout they fan out from two Kustomizations to every component, which on a large cluster
/// hides the dependsOn chains (and costs the layout most of its time).
const LARGE: usize = 300;

/// The view state of whole-cluster drawings: as asked, with the large-cluster default.
fn whole_cluster_state(page: &Page<'_>) -> ViewState {
    let mut state = page.view_state.clone();
    let kustomizations = page.view.cluster.objects.keys().filter(|id| id.kind == Kind::Kustomization).count();
    if kustomizations > LARGE && !page.params.contains_key("edges") {
        state.edges.remove(&EdgeKind::Applies);
    }
    state
}

pub fn overview(page: &Page<'_>) -> (String, String) {
    let page = &Page { view_state: whole_cluster_state(page), ..*page };
    let drawing = views::overview(page.view, &page.view_state, page.base(), &page.cluster_query());
    let important: Vec<&Diagnostic> = page.view.analysis.diagnostics.iter().filter(|d| d.severity != Severity::Info).collect();
    let shown = 8;
    let body = Overview {
        stats: stats(page),
        edge_toggles: edge_toggles(page),
        kind_toggles: kind_toggles(page),
        layout_toggles: layout_toggles(page),
        svg: svg::render(&drawing),
        diagnostics: important.iter().take(shown).map(|d| diagnostic_row(page, d)).collect(),
        more: important.len().saturating_sub(shown),
        diagnostics_href: format!("{}/diagnostics{}", page.base(), page.cluster_query()),
    };
    (format!("{} levels", page.view.cluster.name), body.render().unwrap_or_default())
}

pub struct ChainStep {
    pub name: String,
    pub href: String,
    pub level: String,
    pub why: String,
    pub current: bool,
}

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
    source: Vec<Line>,
}

fn level_text(level: Option<u32>) -> String {
    level.map_or("cycle".into(), |l| format!("wave {l}"))
}

pub fn object(page: &Page<'_>, id: &ObjectId) -> (String, String) {
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
            node.classes.push("focus");
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
        stats: stats(page),
        overview_href: format!("{}/{}", page.base(), page.cluster_query()),
        component_href: format!("{}/component/{}{}", page.base(), component.split('/').map(encode).collect::<Vec<_>>().join("/"), page.cluster_query()),
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
        source: source_lines(page, object.file.as_str(), object.line),
    };
    (format!("{} ({})", id.name, id.kind), body.render().unwrap_or_default())
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

pub fn component(page: &Page<'_>, path: &str) -> Option<(String, String)> {
    let view = page.view;
    let stages = views::stages(view, path);
    let first = stages.first()?;
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
            node.classes.push("dim");
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
        stats: stats(page),
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
    Some((format!("{} (component)", path.rsplit('/').next().unwrap_or(path)), body.render().unwrap_or_default()))
}

pub struct TimedRow {
    pub name: String,
    pub kind: String,
    pub href: String,
    pub start: Duration,
    pub worst: Duration,
    pub ready: Duration,
    pub dominant: bool,
}

#[derive(Template)]
#[template(path = "critical.html")]
struct CriticalPage {
    stats: String,
    hops: usize,
    total: Duration,
    cold_start: Duration,
    hop_chain: Vec<ChainStep>,
    svg: String,
    timed: Vec<TimedRow>,
    dominant: String,
}

pub fn critical_path(page: &Page<'_>) -> (String, String) {
    let view = page.view;
    let a = &view.analysis;
    let on_path: BTreeSet<&ObjectId> = a.critical_path.nodes.iter().chain(a.weighted_path.steps.iter().map(|s| &s.id)).collect();
    let drawing = views::overview(view, &ViewState { fold: false, ..whole_cluster_state(page) }, page.base(), &page.cluster_query());
    let drawing = svg::Drawing {
        nodes: drawing
            .nodes
            .into_iter()
            .map(|mut n| {
                if !ObjectId::parse(&n.id).is_some_and(|id| on_path.contains(&id)) {
                    n.classes.push("dim");
                }
                n
            })
            .collect(),
        ..drawing
    };
    let dominant_step = a.weighted_path.steps.iter().max_by_key(|s| s.worst_case);
    let timed = a
        .weighted_path
        .steps
        .iter()
        .map(|s| TimedRow {
            name: s.id.name.clone(),
            kind: s.id.kind.to_string(),
            href: page.href(&s.id),
            start: s.start,
            worst: s.worst_case,
            ready: s.ready,
            dominant: dominant_step.is_some_and(|d| d.id == s.id) && s.worst_case > Duration::ZERO,
        })
        .collect();
    let dominant = dominant_step.filter(|d| d.worst_case > Duration::ZERO).map_or(String::new(), |d| {
        let object = &view.cluster.objects[&d.id];
        let note = match object.kustomization() {
            Some(k) if k.timeout.is_none() => format!(" It has no spec.timeout, so it waits up to its interval minus 30 s ({}); a shorter timeout bounds the cold start.", k.effective_timeout()),
            _ => String::new(),
        };
        format!("{} dominates: it may take {} of the {}.{note}", d.id.name, d.worst_case, a.weighted_path.total)
    });
    let body = CriticalPage {
        stats: stats(page),
        hops: a.critical_path.nodes.len(),
        total: a.weighted_path.total,
        cold_start: a.cold_start.total,
        hop_chain: a
            .critical_path
            .nodes
            .iter()
            .map(|id| ChainStep {
                // A HelmRelease often shares its Kustomization's name: say which is which.
                name: if id.kind == Kind::Kustomization { id.name.clone() } else { format!("{} {}", id.kind, id.name) },
                href: page.href(id),
                level: level_text(a.levels.get(id).copied().flatten()),
                why: String::new(),
                current: false,
            })
            .collect(),
        svg: svg::render(&drawing),
        timed,
        dominant,
    };
    ("critical path".into(), body.render().unwrap_or_default())
}

pub struct CycleView {
    pub title: String,
    pub text: String,
    pub cut: String,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "cycles.html")]
struct CyclesPage {
    stats: String,
    cycles: Vec<CycleView>,
}

pub fn cycles(page: &Page<'_>) -> (String, String) {
    let view = page.view;
    let cycles = view
        .analysis
        .cycles
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ids: BTreeSet<ObjectId> = c.members.iter().cloned().collect();
            let state = ViewState { edges: BTreeSet::from([EdgeKind::DependsOn, EdgeKind::Applies]), helm_releases: true, ..page.view_state.clone() };
            let mut drawing = views::drawing(view, &ids, &state, page.base(), &page.cluster_query(), &|_, _| {});
            let (from, to) = (c.cut.0.to_string(), c.cut.1.to_string());
            for e in &mut drawing.edges {
                if drawing.nodes[e.from].id == from && drawing.nodes[e.to].id == to {
                    e.classes.push("cut");
                }
            }
            let mut names: Vec<String> = c.members.iter().map(|m| m.name.clone()).collect();
            names.push(c.members[0].name.clone());
            CycleView {
                title: format!("Cycle {} · {} objects", i + 1, c.members.len()),
                text: format!("{}: none of these ever reconciles, nor anything that waits on them.", names.join(" → ")),
                cut: format!("remove {} → {} ({})", c.cut.0, c.cut.1, if c.edges.iter().any(|e| e.0 == c.cut.0 && e.1 == c.cut.1 && e.2 == Wait::Parent) { "move the object out of its parent's path" } else { "drop this dependsOn entry" }),
                svg: svg::render(&drawing),
            }
        })
        .collect();
    ("cycles".into(), CyclesPage { stats: stats(page), cycles }.render().unwrap_or_default())
}

#[derive(Template)]
#[template(path = "diagnostics.html")]
struct DiagnosticsPage {
    stats: String,
    severity_toggles: Vec<Toggle>,
    code_toggles: Vec<Toggle>,
    rows: Vec<DiagnosticRow>,
    filtered: bool,
}

pub fn diagnostics(page: &Page<'_>, outside: &[Diagnostic]) -> (String, String) {
    let all: Vec<&Diagnostic> = page.view.analysis.diagnostics.iter().chain(outside).collect();
    let severity = page.params.get("severity").map(String::as_str);
    let code = page.params.get("code").map(String::as_str);
    let severity_toggles = ["error", "warning", "info"]
        .iter()
        .map(|s| Toggle { name: (*s).into(), href: page.with("severity", if severity == Some(s) { None } else { Some(s) }), on: severity == Some(s) })
        .collect();
    let codes: BTreeSet<&'static str> = all.iter().map(|d| d.code.as_str()).collect();
    let code_toggles = codes
        .into_iter()
        .map(|c| Toggle { name: c.into(), href: page.with("code", if code == Some(c) { None } else { Some(c) }), on: code == Some(c) })
        .collect();
    let rows = all
        .into_iter()
        .filter(|d| severity.is_none_or(|s| d.severity.as_str() == s) && code.is_none_or(|c| d.code.as_str() == c))
        .map(|d| diagnostic_row(page, d))
        .collect();
    let body = DiagnosticsPage { stats: stats(page), severity_toggles, code_toggles, rows, filtered: severity.is_some() || code.is_some() };
    ("diagnostics".into(), body.render().unwrap_or_default())
}

/// Objects whose name is close to `query`: exact and prefix matches first, then by
/// Jaro-Winkler similarity (typos), then substring matches.
pub fn search<'a>(view: &'a ClusterView, query: &str, limit: usize) -> Vec<&'a ObjectId> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(u32, &ObjectId)> = view
        .cluster
        .objects
        .keys()
        .filter_map(|id| {
            let name = id.name.to_lowercase();
            let score = if name == q {
                1000
            } else if name.starts_with(&q) {
                900
            } else if name.contains(&q) {
                700
            } else {
                let s = strsim::jaro_winkler(&q, &name);
                if s < 0.82 {
                    return None;
                }
                (s * 800.0) as u32
            };
            // Kustomizations first among equals: they are what people look for.
            let kind_bonus = u32::from(id.kind == Kind::Kustomization) * 5;
            Some((score + kind_bonus, id))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(limit).map(|(_, id)| id).collect()
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    query: String,
    results: Vec<SearchResult>,
}

pub struct SearchResult {
    pub name: String,
    pub kind: String,
    pub namespace: String,
    pub href: String,
}

pub fn search_page(page: &Page<'_>, query: &str) -> (String, String) {
    let results = search(page.view, query, 50)
        .into_iter()
        .map(|id| SearchResult { name: id.name.clone(), kind: id.kind.to_string(), namespace: id.namespace.clone(), href: page.href(id) })
        .collect();
    (format!("search {query}"), SearchPage { query: query.to_string(), results }.render().unwrap_or_default())
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub heading: String,
    pub text: String,
    pub suggestions: Vec<Link>,
    pub home: String,
}

#[derive(Template)]
#[template(path = "layout.html")]
struct Layout<'a> {
    title: &'a str,
    base: &'a str,
    banner: String,
    repository: String,
    cluster: String,
    cluster_query: String,
    clusters: Vec<NamedLink>,
    views: Vec<NamedLink>,
    share_url: String,
    version: u64,
    content: &'a str,
    footer: String,
}

/// Which page a layout frames, to mark it in the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Levels,
    CriticalPath,
    Cycles,
    Diagnostics,
    Other,
}

/// The request header that asks for a page's `<main>` alone.
pub const FRAGMENT: &str = "x-fluxgraph-fragment";

/// Wraps a page's content in the layout, or returns the content alone for a fragment request.
#[allow(clippy::too_many_arguments)] // each is one part of the request or the page; a struct would only rename them
pub fn respond(
    state: &AppState,
    current: Option<&Current>,
    cluster: Option<&str>,
    section: Section,
    uri: &OriginalUri,
    fragment: bool,
    status: StatusCode,
    (title, content): (String, String),
) -> (StatusCode, String) {
    let html = if fragment {
        content
    } else {
        let base = state.options().base_path.as_str();
        let cluster_query = cluster.map_or(String::new(), |c| format!("?cluster={}", encode(c)));
        let clusters = current
            .map(|c| {
                c.snapshot
                    .clusters
                    .iter()
                    .enumerate()
                    .map(|(i, v)| NamedLink {
                        name: v.cluster.name.clone(),
                        href: format!("{base}/?cluster={}", encode(&v.cluster.name)),
                        current: cluster.map_or(i == 0, |name| name == v.cluster.name),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let views = [
            (Section::Levels, "Levels", "/"),
            (Section::CriticalPath, "Critical path", "/critical-path"),
            (Section::Cycles, "Cycles", "/cycles"),
            (Section::Diagnostics, "Diagnostics", "/diagnostics"),
        ]
        .into_iter()
        .map(|(s, name, path)| NamedLink { name: name.into(), href: format!("{base}{path}{cluster_query}"), current: s == section })
        .collect();
        let path_and_query = uri.0.path_and_query().map_or("/", |p| p.as_str());
        let mut footer = String::new();
        if let Some(c) = current {
            let _ = write!(footer, "snapshot {}", c.version);
            if let Some(r) = &c.revision {
                let _ = write!(footer, " · revision {r}");
            }
            let _ = write!(footer, " · {} files", c.snapshot.repository.files.len() + c.snapshot.repository.other_files.len());
        }
        let layout = Layout {
            title: &title,
            base,
            banner: current.and_then(|c| c.failure.clone()).map(|f| format!("The last refresh failed: {f}")).unwrap_or_default(),
            repository: current
                .and_then(|c| c.snapshot.repository.root.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default(),
            cluster: cluster.unwrap_or("").to_string(),
            cluster_query,
            clusters,
            views,
            share_url: state.share_url(path_and_query),
            version: current.map_or(0, |c| c.version),
            content: &content,
            footer,
        };
        layout.render().unwrap_or_default()
    };
    (status, html)
}

/// The helpful 404: what was asked for, and the closest objects by name.
pub fn not_found(state: &AppState, view: Option<&ClusterView>, cluster_query: &str, what: &str, name: &str) -> (String, String) {
    let base = &state.options().base_path;
    let suggestions = view
        .map(|v| {
            search(v, name, 5)
                .into_iter()
                .map(|id| Link { name: id.to_string(), href: format!("{base}{}{cluster_query}", object_path(id)), note: String::new() })
                .collect()
        })
        .unwrap_or_default();
    let message = Message {
        heading: "Not found".into(),
        text: format!("There is no {what} in this cluster."),
        suggestions,
        home: format!("{base}/{cluster_query}"),
    };
    ("not found".into(), message.render().unwrap_or_default())
}
