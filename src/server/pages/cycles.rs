//! The cycles (`/cycles`): each dependency cycle drawn, with the edge to cut.

use std::collections::BTreeSet;

use askama::Template;

use super::{Body, Page, stats};
use crate::graph::EdgeKind;
use crate::model::ObjectId;
use crate::render::svg;
use crate::server::views::{self, ViewState};

pub struct CycleView {
    pub title: String,
    pub text: String,
    pub cut: String,
    /// Where the line to remove is, and its link into the forge.
    pub cut_location: String,
    pub cut_href: String,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "cycles.html")]
struct CyclesPage {
    stats: String,
    cycles: Vec<CycleView>,
}

pub fn cycles(page: &Page<'_>) -> askama::Result<Body> {
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
            for e in &mut drawing.edges {
                if drawing.nodes[e.from].id.object() == Some(&c.cut.0) && drawing.nodes[e.to].id.object() == Some(&c.cut.1) {
                    e.flags.insert(svg::EdgeFlag::Cut);
                }
            }
            let advice = views::cycle_advice(view, c);
            CycleView {
                title: format!("Cycle {} · {} objects", i + 1, c.members.len()),
                text: format!("{}: none of these ever reconciles, nor anything that waits on them.", advice.path),
                cut: format!("remove {} → {} ({})", advice.cut.0, advice.cut.1, advice.remedy),
                cut_href: advice.location.as_ref().and_then(|at| at.rsplit_once(':')).map_or(String::new(), |(file, line)| page.file_href(file, line.parse().unwrap_or(0))),
                cut_location: advice.location.unwrap_or_default(),
                svg: svg::render(&drawing),
            }
        })
        .collect();
    Ok(("cycles".into(), CyclesPage { stats: stats(page)?, cycles }.render()?))
}
