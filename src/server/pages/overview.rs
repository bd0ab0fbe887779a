//! The overview (`/`): the whole cluster drawn by level, with its stats and first diagnostics.

use askama::Template;

use super::{DiagnosticRow, Page, Toggle, diagnostic_row, edge_toggles, kind_toggles, layout_toggles, stats, whole_cluster_state};
use crate::diagnostic::{Diagnostic, Severity};
use crate::render::svg;
use crate::server::views;

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
