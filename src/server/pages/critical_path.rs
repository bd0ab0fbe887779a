//! The critical path (`/critical-path`): the longest chain by hops and by worst-case time.

use std::collections::BTreeSet;

use askama::Template;

use super::{ChainStep, Page, level_text, stats, whole_cluster_state};
use crate::model::{Duration, Kind, ObjectId};
use crate::render::svg;
use crate::server::views::{self, ViewState};

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
    /// Where the observed timing is fetched from, when the live status is on.
    live_part: String,
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
        live_part: if page.state.live().enabled() { format!("{}/blocked/timing{}", page.base(), page.cluster_query()) } else { String::new() },
    };
    ("critical path".into(), body.render().unwrap_or_default())
}
