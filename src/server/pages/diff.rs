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

use super::{Body, Link, Page, Params, whole_cluster_state};
use crate::diff::{self, Edge, Report, Status};
use crate::diff::render::{diagnostic_line, path_line, seconds, side, signed_seconds, version_line};
use crate::graph;
use crate::model::ObjectId;
use crate::render::svg::{self, EdgeFlag, NodeFlag};
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
    /// Versions that move, each with its object's link.
    versions: Vec<Row>,
    /// Each Kustomization whose built objects change, and those changes.
    builds: Vec<(Row, Vec<Row>)>,
    svg: String,
}

/// The parameters of a diff page that say what it shows, each written one way: the two
/// revisions, the cluster, and the view state the drawing reads (edge kinds and kinds shown as
/// sorted sets, the direction and folding only when not the default). Every other parameter
/// is dropped, so that it cannot make another page of the same diff, nor another diff.
pub fn canonical(params: &Params) -> Params {
    let mut out = Params::new();
    for key in ["base", "head", "cluster"] {
        if let Some(value) = params.get(key) {
            out.insert(key.to_string(), value.clone());
        }
    }
    let set = |key: &str, known: &[&str]| {
        params.get(key).map(|v| {
            let picked: BTreeSet<&str> = v.split(',').filter(|item| known.contains(item)).collect();
            picked.into_iter().collect::<Vec<_>>().join(",")
        })
    };
    if let Some(edges) = set("edges", &["applies", "dependsOn", "source"]) {
        out.insert("edges".into(), edges);
    }
    if let Some(show) = set("show", &["hr", "src"]) {
        out.insert("show".into(), show);
    }
    if params.get("dir").is_some_and(|d| d == "tb") {
        out.insert("dir".into(), "tb".into());
    }
    if params.get("fold").is_some_and(|f| f == "1") {
        out.insert("fold".into(), "1".into());
    }
    out
}

pub fn diff(page: &Page<'_>) -> askama::Result<(StatusCode, Body)> {
    let root = page.current.snapshot.repository.root.clone();
    let hide = |text: &str| crate::server::state::hide_in(text, page.state.options().hidden_paths.iter().chain([&root]));
    let problem = |status: StatusCode, text: String| {
        let body = super::Message { heading: "Cannot compare".into(), text: hide(&text), suggestions: vec![Link { name: "the levels".into(), href: format!("{}/{}", page.base(), page.cluster_query()), note: String::new() }], home: format!("{}/", page.base()) };
        Ok((status, ("diff".to_string(), body.render()?)))
    };
    let (base, head) = (page.params.get("base").map(String::as_str), page.params.get("head").map(String::as_str));
    if let Some(bad) = [base, head].into_iter().flatten().find(|r| !diff::sides::valid_revision(r)) {
        return problem(StatusCode::BAD_REQUEST, format!("{bad:?} is not a revision this page reads: name a branch, a tag or a commit"));
    }
    let name = page.view.cluster.name.clone();
    let report = served_report(page.state, page.current.snapshot.clone(), base, head, &name);
    let (report, sides) = match report {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::NOT_FOUND, e.to_string()),
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
        ("built objects changed".to_string(), c.built_objects_changed().to_string()),
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
        versions: versions(page, c),
        builds: builds(page, c),
        svg,
    };
    Ok((StatusCode::OK, (format!("diff {} → {}", side(&report.base), side(&report.head)), body.render()?)))
}

/// What a change does to the served snapshot's cluster `cluster`: `head` a revision, or the
/// served work tree; `base` a revision, or the merge base with the default branch. Reads
/// the revisions from git (the diff page and the MCP `diff` tool); messages name no server path.
pub fn served_report(state: &AppState, served: Arc<Snapshot>, base: Option<&str>, head: Option<&str>, cluster: &str) -> Result<(Report, diff::sides::Sides), crate::server::Problem> {
    let root = served.repository.root.clone();
    let hidden = &state.options().hidden_paths;
    let hide = |text: String| crate::server::state::hide_in(&text, hidden.iter().chain([&root]));
    (|| {
        // Without a base: the default branch, whatever the work tree holds.
        let base = match base {
            Some(b) => b.to_string(),
            None => crate::load::git::Revisions::open(&root, state.options().read)?.merge_base_with_default(None)?.commit,
        };
        let entry = state.options().entry.clone();
        let mut sides = diff::sides::read(&root, Some(&base), head, entry.as_deref(), state.options().read, || Ok(served))?;
        crate::server::state::hide_paths(&mut sides.base, hidden);
        let report = diff::compare(&sides.base, &sides.head, (sides.base_side.clone(), sides.head_side.clone()), Some(cluster))?;
        Ok::<_, crate::Error>((report, sides))
    })()
    .map_err(|e| crate::server::Problem::Compare(hide(e.to_string())))
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

/// The versions that move: a chart, an image, a source's ref, major bumps marked.
fn versions(page: &Page<'_>, c: &diff::ClusterDiff) -> Vec<Row> {
    let href = |id: &Option<ObjectId>| id.as_ref().filter(|id| page.view.cluster.objects.contains_key(id)).map_or(String::new(), |id| page.href(id));
    c.versions
        .iter()
        .map(|v| Row { mark: if v.major { "major" } else { "changed" }, name: version_line(v), href: href(&v.link), note: String::new() })
        .collect()
}

/// Each Kustomization whose built objects change, with each object added, removed or
/// changed (field by field; a Secret says which keys, never their values).
fn builds(page: &Page<'_>, c: &diff::ClusterDiff) -> Vec<(Row, Vec<Row>)> {
    let href = |id: &ObjectId| if page.view.cluster.objects.contains_key(id) { page.href(id) } else { String::new() };
    c.builds
        .iter()
        .map(|b| {
            let head = Row { mark: "changed", name: b.kustomization.to_string(), href: href(&b.kustomization), note: format!("+{} −{} ~{}", b.added.len(), b.removed.len(), b.changed.len()) };
            let mut rows = Vec::new();
            rows.extend(b.added.iter().map(|o| Row { mark: "added", name: o.id.clone(), href: String::new(), note: format!("{}:{}", o.file, o.line) }));
            rows.extend(b.removed.iter().map(|o| Row { mark: "removed", name: o.id.clone(), href: String::new(), note: format!("was {}:{}", o.file, o.line) }));
            rows.extend(b.changed.iter().map(|o| {
                let mut fields: Vec<String> = o.fields.iter().map(ToString::to_string).collect();
                if o.more > 0 {
                    fields.push(format!("… and {} more", o.more));
                }
                Row { mark: "changed", name: o.id.clone(), href: String::new(), note: fields.join("; ") }
            }));
            (head, rows)
        })
        .collect()
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
    let mut marks: BTreeMap<String, NodeFlag> = BTreeMap::new();
    for ch in &c.objects.changed {
        marks.insert(ch.id.to_string(), NodeFlag::Changed);
    }
    // What the cluster receives differently: the Kustomization whose build changed, and each
    // Flux object it applies whose manifest changed (a chart bumped, values edited).
    for b in &c.builds {
        marks.insert(b.kustomization.to_string(), NodeFlag::Changed);
        for o in &b.changed {
            marks.insert(o.id.clone(), NodeFlag::Changed);
        }
    }
    for m in &c.objects.moved {
        marks.insert(m.id.to_string(), NodeFlag::Changed);
    }
    for a in &c.objects.added {
        marks.insert(a.id.to_string(), NodeFlag::Added);
    }
    for r in &c.objects.removed {
        marks.insert(r.id.to_string(), NodeFlag::Removed);
    }
    let edge_key = |e: &Edge| (e.from.to_string(), e.to.to_string(), e.kind.as_str());
    let added: BTreeSet<_> = c.edges.added.iter().map(edge_key).collect();
    let removed: BTreeSet<_> = c.edges.removed.iter().map(edge_key).collect();
    let mut drawing = views::overview(view, &state, page.base(), &page.cluster_query());
    for node in &mut drawing.nodes {
        if let Some(&mark) = marks.get(&node.id.to_string()) {
            node.flags.insert(mark);
        }
    }
    let ids: Vec<String> = drawing.nodes.iter().map(|n| n.id.to_string()).collect();
    for edge in &mut drawing.edges {
        let key = (ids[edge.from].clone(), ids[edge.to].clone(), edge.kind.as_str());
        if added.contains(&key) {
            edge.flags.insert(EdgeFlag::Added);
        } else if removed.contains(&key) {
            edge.flags.insert(EdgeFlag::Removed);
        }
    }
    drawing
}

#[cfg(test)]
mod tests {
    use super::{Params, canonical};

    #[test]
    fn a_diff_page_is_named_by_what_it_shows_alone() {
        let params = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Params>();
        let plain = canonical(&params(&[("base", "main")]));
        for noise in [&[("base", "main"), ("x", "1")][..], &[("base", "main"), ("depth", "7"), ("dir", "lr"), ("fold", "0")], &[("base", "main"), ("q", "z")]] {
            assert_eq!(canonical(&params(noise)), plain, "{noise:?}");
        }
        let spelt = canonical(&params(&[("base", "main"), ("show", "src,hr,src,zz"), ("edges", "source,applies")]));
        assert_eq!(spelt, canonical(&params(&[("show", "hr,src"), ("edges", "applies,source"), ("base", "main")])));
        assert_eq!(spelt["show"], "hr,src");
    }
}
