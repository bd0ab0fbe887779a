//! The diff (`/diff?base=REV[&head=REV]`): the head's graph with what a change did to it —
//! added objects and edges green, removed ones red and dashed where they were, changed ones
//! amber — and the summary beside it. The head is the served work tree unless `head` names a
//! revision; without `base`, the merge base with the default branch. The revisions are read
//! from the repository's git object database (nothing is checked out) when the page is drawn,
//! once per snapshot and URL, like every page.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use askama::Template;
use axum::http::StatusCode;

use super::{Link, Page, whole_cluster_state};
use crate::diff::{self, Edge, Report, Status};
use crate::diff::render::{diagnostic_line, path_line, seconds, side, signed_seconds};
use crate::graph;
use crate::model::ObjectId;
use crate::render::svg;
use crate::server::views;
use crate::server::AppState;
use crate::snapshot::{ClusterView, Snapshot};

pub struct Row {
    pub mark: &'static str,
    pub name: String,
    pub href: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "diff.html")]
struct DiffPage {
    base: String,
    head: String,
    verdict: String,
    failed: bool,
    counts: Vec<(String, String)>,
    path_before: String,
    path_after: String,
    rows: Vec<Row>,
    introduced: Vec<String>,
    resolved: Vec<String>,
    svg: String,
}

pub fn diff(page: &Page<'_>) -> (StatusCode, (String, String)) {
    let root = page.current.snapshot.repository.root.clone();
    let hide = |text: &str| crate::server::state::hide_in(text, page.state.options().hidden_paths.iter().chain([&root]));
    let problem = |status: StatusCode, text: String| {
        let body = super::Message { heading: "Cannot compare".into(), text: hide(&text), suggestions: vec![Link { name: "the levels".into(), href: format!("{}/{}", page.base(), page.cluster_query()), note: String::new() }], home: format!("{}/", page.base()) };
        (status, ("diff".to_string(), body.render().unwrap_or_default()))
    };
    let (base, head) = (page.params.get("base").map(String::as_str), page.params.get("head").map(String::as_str));
    if let Some(bad) = [base, head].into_iter().flatten().find(|r| !diff::sides::valid_revision(r)) {
        return problem(StatusCode::BAD_REQUEST, format!("{bad:?} is not a revision this page reads: name a branch, a tag or a commit"));
    }
    let name = page.view.cluster.name.clone();
    let report = served_report(page.state, page.current.snapshot.clone(), base, head, &name);
    let (report, sides) = match report {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::NOT_FOUND, e),
    };
    let Some(c) = report.clusters.first() else { return problem(StatusCode::NOT_FOUND, format!("no cluster {name:?}")) };
    let name = &name;
    let union = union(sides.base.cluster(name), sides.head.cluster(name), c);
    let svg = union.as_ref().map_or_else(String::new, |view| svg::render(&marked(page, view, c)));
    let counts = vec![
        ("objects".to_string(), format!("+{} −{} ~{} moved {}", c.objects.added.len(), c.objects.removed.len(), c.objects.changed.len(), c.objects.moved.len())),
        ("edges".to_string(), format!("+{} −{}", c.edges.added.len(), c.edges.removed.len())),
        ("levels changed".to_string(), c.levels.len().to_string()),
        ("cold start".to_string(), format!("{} → {} ({})", seconds(c.cold_start.before_seconds), seconds(c.cold_start.after_seconds), signed_seconds(c.cold_start.delta_seconds))),
        ("blast radius".to_string(), format!("{} ({} changed, {} downstream)", c.blast_radius.count, c.blast_radius.changed.len(), c.blast_radius.downstream.len())),
    ];
    let body = DiffPage {
        base: side(&report.base),
        head: side(&report.head),
        verdict: report.verdict.clone(),
        failed: report.errors_introduced > 0,
        counts,
        path_before: path_line(&c.critical_path.before),
        path_after: path_line(&c.critical_path.after),
        rows: rows(page, &report),
        introduced: c.diagnostics.introduced.iter().map(diagnostic_line).collect(),
        resolved: c.diagnostics.resolved.iter().map(diagnostic_line).collect(),
        svg,
    };
    (StatusCode::OK, (format!("diff {} → {}", side(&report.base), side(&report.head)), body.render().unwrap_or_default()))
}

/// What a change does to the served snapshot's cluster `cluster`: `head` a revision, or the
/// served work tree; `base` a revision, or the merge base with the default branch. Reads
/// the revisions from git (the diff page and the MCP `diff` tool); messages name no server path.
pub fn served_report(state: &AppState, served: Arc<Snapshot>, base: Option<&str>, head: Option<&str>, cluster: &str) -> Result<(Report, diff::sides::Sides), String> {
    let root = served.repository.root.clone();
    let hidden = &state.options().hidden_paths;
    let hide = |text: String| crate::server::state::hide_in(&text, hidden.iter().chain([&root]));
    (|| {
        // Without a base: the default branch, whatever the work tree holds.
        let base = match base {
            Some(b) => b.to_string(),
            None => crate::load::git::Revisions::open(&root)?.merge_base_with_default(None)?.commit,
        };
        let entry = state.options().entry.clone();
        let mut sides = diff::sides::read(&root, Some(&base), head, entry.as_deref(), || Ok(served))?;
        crate::server::state::hide_paths(&mut sides.base, hidden);
        let report = diff::compare(&sides.base, &sides.head, (sides.base_side.clone(), sides.head_side.clone()), Some(cluster))?;
        Ok::<_, String>((report, sides))
    })()
    .map_err(hide)
}

fn rows(page: &Page<'_>, report: &Report) -> Vec<Row> {
    let Some(c) = report.clusters.first() else { return Vec::new() };
    let href = |id: &ObjectId| if page.view.cluster.objects.contains_key(id) { page.href(id) } else { String::new() };
    let mut rows = Vec::new();
    for a in &c.objects.added {
        rows.push(Row { mark: "added", name: a.id.to_string(), href: href(&a.id), note: format!("{}:{}", a.file, a.line) });
    }
    for r in &c.objects.removed {
        rows.push(Row { mark: "removed", name: r.id.to_string(), href: String::new(), note: format!("was {}:{}", r.file, r.line) });
    }
    for ch in &c.objects.changed {
        let fields: Vec<String> = ch.fields.iter().map(ToString::to_string).collect();
        rows.push(Row { mark: "changed", name: ch.id.to_string(), href: href(&ch.id), note: fields.join("; ") });
    }
    for m in &c.objects.moved {
        rows.push(Row { mark: "changed", name: m.id.to_string(), href: href(&m.id), note: format!("moved from {} to {}", m.from, m.to) });
    }
    rows
}

/// The head's cluster with the objects and edges the change removed put back, each removed
/// object at the level it had: what the page draws. Levels, critical path and findings are the
/// head's.
fn union(base: Option<&ClusterView>, head: Option<&ClusterView>, c: &diff::ClusterDiff) -> Option<ClusterView> {
    let head = head.or(base)?;
    let mut cluster = head.cluster.clone();
    let mut analysis = head.analysis.clone();
    if let (Some(base), Status::Changed) = (base, c.status) {
        for r in &c.objects.removed {
            if let Some(object) = base.cluster.objects.get(&r.id) {
                cluster.objects.insert(r.id.clone(), object.clone());
                cluster.parents.insert(r.id.clone(), base.cluster.parents.get(&r.id).cloned().unwrap_or_default());
                analysis.levels.insert(r.id.clone(), base.analysis.levels.get(&r.id).copied().flatten());
            }
        }
    }
    let mut graph = graph::build(&cluster);
    for e in &c.edges.removed {
        if let (Some(a), Some(b)) = (graph.node(&e.from), graph.node(&e.to)) {
            if !graph.graph.edges_connecting(a, b).any(|x| *x.weight() == e.kind) {
                graph.graph.add_edge(a, b, e.kind);
            }
        }
    }
    Some(ClusterView { cluster, graph, analysis })
}

/// The drawing of `view`, its nodes and edges classed `added`, `removed` or `changed`.
fn marked(page: &Page<'_>, view: &ClusterView, c: &diff::ClusterDiff) -> svg::Drawing {
    let mut state = whole_cluster_state(page);
    // A change to a HelmRelease or a source is shown unless the reader hid them.
    let kinds: BTreeSet<bool> = c.objects.added.iter().chain(&c.objects.removed).map(|o| o.id.kind.is_source()).collect();
    if !page.params.contains_key("show") {
        state.helm_releases = true;
        state.sources = kinds.contains(&true);
    }
    let mut marks: BTreeMap<String, &'static str> = BTreeMap::new();
    for ch in &c.objects.changed {
        marks.insert(ch.id.to_string(), "changed");
    }
    for m in &c.objects.moved {
        marks.insert(m.id.to_string(), "changed");
    }
    for a in &c.objects.added {
        marks.insert(a.id.to_string(), "added");
    }
    for r in &c.objects.removed {
        marks.insert(r.id.to_string(), "removed");
    }
    let edge_key = |e: &Edge| (e.from.to_string(), e.to.to_string(), e.kind.as_str());
    let added: BTreeSet<_> = c.edges.added.iter().map(edge_key).collect();
    let removed: BTreeSet<_> = c.edges.removed.iter().map(edge_key).collect();
    let mut drawing = views::overview(view, &state, page.base(), &page.cluster_query());
    for node in &mut drawing.nodes {
        if let Some(mark) = marks.get(&node.id) {
            node.classes.push(mark);
        }
    }
    let ids: Vec<String> = drawing.nodes.iter().map(|n| n.id.clone()).collect();
    for edge in &mut drawing.edges {
        let key = (ids[edge.from].clone(), ids[edge.to].clone(), edge.kind);
        if added.contains(&key) {
            edge.classes.push("added");
        } else if removed.contains(&key) {
            edge.classes.push("removed");
        }
    }
    drawing
}
