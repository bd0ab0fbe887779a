//! The overview (`/`): the whole cluster drawn by level, with its stats and first diagnostics.
//! Above [`GROUP_ABOVE`] Kustomizations it opens grouped (semantic zoom, `groups`): `?open=a,b`
//! names the groups opened, `?group=0` draws everything, `?group=1` groups a small cluster too.
//! On a phone the page shows the levels as a list, the graph one tap away (`?graph=1`).

use std::collections::BTreeSet;

use askama::Template;

use super::levels::{LevelRow, level_rows};
use super::{Body, DiagnosticRow, Link, Page, Toggle, diagnostic_row, edge_toggles, kind_toggles, layout_toggles, stats, whole_cluster_state};
use crate::diagnostic::{Diagnostic, Severity};
use crate::render::svg;
use crate::server::groups::{self, GROUP_ABOVE};
use crate::server::views;

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    stats: String,
    edge_toggles: Vec<Toggle>,
    kind_toggles: Vec<Toggle>,
    layout_toggles: Vec<Toggle>,
    group_toggles: Vec<Toggle>,
    /// The groups opened, each with the link that closes it.
    opened: Vec<Link>,
    grouped: bool,
    svg: String,
    rows: Vec<LevelRow>,
    /// The graph asked for on a phone.
    graph_forced: bool,
    graph_href: String,
    list_href: String,
    diagnostics: Vec<DiagnosticRow>,
    more: usize,
    diagnostics_href: String,
}

/// The groups named in `?open=`.
fn open_groups(page: &Page<'_>) -> BTreeSet<String> {
    page.params.get("open").map(|o| o.split(',').filter(|g| !g.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

/// Whether the overview is grouped: as asked, else by the cluster's size.
fn grouped(page: &Page<'_>) -> bool {
    match page.params.get("group").map(String::as_str) {
        Some("0") => false,
        Some("1") => true,
        _ => page.view.cluster.kustomization_count() > GROUP_ABOVE,
    }
}

pub fn overview(page: &Page<'_>) -> askama::Result<Body> {
    let page = &Page { view_state: whole_cluster_state(page), ..*page };
    let drawing = views::overview(page.view, &page.view_state, page.base(), &page.cluster_query());
    let grouped = grouped(page);
    let open = open_groups(page);
    let open_href = |set: &BTreeSet<String>| {
        let value = set.iter().cloned().collect::<Vec<_>>().join(",");
        format!("{}/{}", page.base(), page.with("open", (!value.is_empty()).then_some(value.as_str())))
    };
    let drawing = if grouped {
        groups::group(page.view, drawing, &open, &|name| {
            let mut more = open.clone();
            more.insert(name.to_string());
            open_href(&more)
        })
    } else {
        drawing
    };
    let opened = if grouped {
        open.iter()
            .map(|g| {
                let mut fewer = open.clone();
                fewer.remove(g);
                Link { name: g.clone(), href: open_href(&fewer), note: String::new() }
            })
            .collect()
    } else {
        Vec::new()
    };
    let group_toggles = vec![
        Toggle { name: "grouped".into(), href: format!("{}/{}", page.base(), page.with("group", Some("1"))), on: grouped },
        Toggle { name: "everything".into(), href: format!("{}/{}", page.base(), page.with("group", Some("0"))), on: !grouped },
    ];
    let important: Vec<&Diagnostic> = page.view.analysis.diagnostics.iter().filter(|d| d.severity != Severity::Info).collect();
    let shown = 8;
    let body = Overview {
        stats: stats(page)?,
        edge_toggles: edge_toggles(page),
        kind_toggles: kind_toggles(page),
        layout_toggles: layout_toggles(page),
        group_toggles,
        opened,
        grouped,
        svg: svg::render(&drawing),
        rows: level_rows(page),
        graph_forced: page.params.get("graph").map(String::as_str) == Some("1"),
        graph_href: format!("{}/{}", page.base(), page.with("graph", Some("1"))),
        list_href: format!("{}/levels{}", page.base(), page.cluster_query()),
        diagnostics: important.iter().take(shown).map(|d| diagnostic_row(page, d)).collect(),
        more: important.len().saturating_sub(shown),
        diagnostics_href: format!("{}/diagnostics{}", page.base(), page.cluster_query()),
    };
    Ok((format!("{} levels", page.view.cluster.name), body.render()?))
}
