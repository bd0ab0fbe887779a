//! The critical path (`/critical-path`): the longest chain by hops and the slowest by worst-case
//! time, each drawn alone (its members and the steps between them; `?near=1` adds one hop of
//! neighbours, dimmed), each hop with what it may take and why.

use std::collections::BTreeSet;

use askama::Template;

use super::{Body, ChainStep, Page, Toggle, level_text, stats};
use crate::analysis::critical_path::REQUEUE_DEPENDENCY;
use crate::analysis::prerequisites::Wait;
use crate::graph::EdgeKind;
use crate::model::{Duration, Kind, ObjectId};
use crate::render::svg::{self, EdgeFlag, NodeFlag};
use crate::server::views::{self, ViewState};

pub struct TimedRow {
    pub name: String,
    pub kind: String,
    pub href: String,
    /// How it waits on the row before: "dependsOn (+30s requeue)", "applied by", or "" for the first.
    pub after: String,
    pub start: Duration,
    pub worst: Duration,
    /// What its own worst case comes from: its timeout and where that is set, or "Ready once applied".
    pub why: String,
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
    never: usize,
    cycles_href: String,
    near_toggle: Toggle,
    hop_chain: Vec<ChainStep>,
    hop_svg: String,
    same: bool,
    time_svg: String,
    timed: Vec<TimedRow>,
    dominant: String,
    /// Where the observed timing is fetched from, when the live status is on.
    live_part: String,
}

/// A drawing of `path` alone: its members, and only the edges between consecutive members lit as
/// critical; with `near`, their direct prerequisites and dependents too, dimmed.
fn path_drawing(page: &Page<'_>, path: &[ObjectId], near: bool) -> String {
    let view = page.view;
    let members: BTreeSet<&ObjectId> = path.iter().collect();
    let mut ids: BTreeSet<ObjectId> = path.iter().cloned().collect();
    if near {
        let pre = &view.analysis.prerequisites;
        for id in path {
            let Some(n) = view.graph.node(id) else { continue };
            let around = pre.waits_on[n.index()].iter().chain(&pre.waited_by[n.index()]);
            ids.extend(around.map(|&(o, _)| view.graph.id(petgraph::graph::NodeIndex::new(o)).clone()));
        }
    }
    let state = ViewState { edges: BTreeSet::from([EdgeKind::DependsOn, EdgeKind::Applies]), helm_releases: true, sources: true, fold: false, ..page.view_state.clone() };
    let mut drawing = views::drawing(view, &ids, &state, page.base(), &page.cluster_query(), &|id, node| {
        node.flags.remove(NodeFlag::Critical);
        node.flags.insert(if members.contains(id) { NodeFlag::Critical } else { NodeFlag::Dim });
    });
    let steps: BTreeSet<(&ObjectId, &ObjectId)> = path.windows(2).flat_map(|w| [(&w[0], &w[1]), (&w[1], &w[0])]).collect();
    for e in &mut drawing.edges {
        e.flags.remove(EdgeFlag::Critical);
        let pair = drawing.nodes[e.from].id.object().zip(drawing.nodes[e.to].id.object());
        if pair.is_some_and(|pair| steps.contains(&pair)) {
            e.flags.insert(EdgeFlag::Critical);
        } else if near {
            e.flags.insert(EdgeFlag::Dim);
        }
    }
    svg::render(&drawing)
}

pub fn critical_path(page: &Page<'_>) -> askama::Result<Body> {
    let view = page.view;
    let a = &view.analysis;
    let near = page.params.get("near").map(String::as_str) == Some("1");
    let by_time: Vec<ObjectId> = a.weighted_path.steps.iter().map(|s| s.id.clone()).collect();
    let same = by_time == a.critical_path.nodes;
    let dominant_step = a.weighted_path.steps.iter().max_by_key(|s| s.worst_case);
    let pre = &a.prerequisites;
    let wait_between = |before: &ObjectId, after: &ObjectId| {
        let (Some(b), Some(x)) = (view.graph.node(before), view.graph.node(after)) else { return None };
        pre.waits_on[x.index()].iter().find(|(p, _)| *p == b.index()).map(|&(_, w)| w)
    };
    let timed = a
        .weighted_path
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| TimedRow {
            name: s.id.name.clone(),
            kind: s.id.kind.to_string(),
            href: page.href(&s.id),
            after: match i.checked_sub(1).and_then(|p| wait_between(&a.weighted_path.steps[p].id, &s.id)) {
                Some(Wait::DependsOn) => format!("dependsOn it (+{REQUEUE_DEPENDENCY} requeue)"),
                Some(Wait::Parent) => "applied by it".into(),
                None => String::new(),
            },
            start: s.start,
            worst: s.worst_case,
            why: views::worst_case_reason(view, &s.id),
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
        stats: stats(page)?,
        hops: a.critical_path.nodes.len(),
        total: a.weighted_path.total,
        cold_start: a.cold_start.total,
        never: a.cold_start.never,
        cycles_href: format!("{}/cycles{}", page.base(), page.cluster_query()),
        near_toggle: Toggle { name: "one hop of neighbours".into(), href: page.with("near", if near { None } else { Some("1") }), on: near },
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
        hop_svg: path_drawing(page, &a.critical_path.nodes, near),
        same,
        // Drawn only when it differs: the page shows one chain otherwise.
        time_svg: if same { String::new() } else { path_drawing(page, &by_time, near) },
        timed,
        dominant,
        live_part: if page.state.live().enabled() { format!("{}/blocked/timing{}", page.base(), page.cluster_query()) } else { String::new() },
    };
    Ok(("critical path".into(), body.render()?))
}
