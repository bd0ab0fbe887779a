//! The levels as a list (`/levels`): "level 3 · 4 objects: a, b, c, d", each name a link. The
//! fastest way to read a large cluster, and the overview's layout on a phone.

use askama::Template;

use super::{Body, Page, stats};
use crate::model::ObjectId;
use crate::server::views;

/// One level of the list (or the objects that never reconcile).
pub struct LevelRow {
    pub title: String,
    pub count: String,
    pub items: Vec<LevelItem>,
    /// On or behind a cycle: never reconciles.
    pub never: bool,
}

pub struct LevelItem {
    pub name: String,
    /// The kind when it is not a Kustomization (a HelmRelease often shares its name).
    pub kind: String,
    pub href: String,
    pub critical: bool,
}

/// The objects the view state shows (and the critical path), level by level; those without a level last.
pub fn level_rows(page: &Page<'_>) -> Vec<LevelRow> {
    let view = page.view;
    let a = &view.analysis;
    let critical: std::collections::BTreeSet<&ObjectId> = a.critical_path.nodes.iter().collect();
    let item = |id: &ObjectId| LevelItem {
        name: id.name.clone(),
        kind: if id.kind == crate::model::Kind::Kustomization { String::new() } else { id.kind.to_string() },
        href: page.href(id),
        critical: critical.contains(id),
    };
    // As the overview: the kinds the view state shows, and the critical path whole.
    let shown = |id: &&ObjectId| views::shown(view, &page.view_state, id) || critical.contains(*id);
    let row = |title: String, ids: Vec<&ObjectId>, never: bool| {
        let n = ids.len();
        LevelRow { title, count: format!("{n} object{}", if n == 1 { "" } else { "s" }), items: ids.into_iter().map(item).collect(), never }
    };
    let mut rows: Vec<LevelRow> = a
        .waves
        .iter()
        .enumerate()
        .map(|(l, ids)| {
            let mut ids: Vec<&ObjectId> = ids.iter().filter(shown).collect();
            ids.sort_by(|x, y| x.name.cmp(&y.name).then(x.cmp(y)));
            row(format!("level {l}"), ids, false)
        })
        .filter(|r| !r.items.is_empty())
        .collect();
    let never: Vec<&ObjectId> = a.levels.iter().filter(|(_, l)| l.is_none()).map(|(id, _)| id).filter(shown).collect();
    if !never.is_empty() {
        rows.push(row("never (on or behind a cycle)".into(), never, true));
    }
    rows
}

#[derive(Template)]
#[template(path = "levels.html")]
struct LevelsPage {
    stats: String,
    graph_href: String,
    rows: Vec<LevelRow>,
}

pub fn levels(page: &Page<'_>) -> askama::Result<Body> {
    let body = LevelsPage { stats: stats(page)?, graph_href: format!("{}/{}", page.base(), page.cluster_query()), rows: level_rows(page) };
    Ok((format!("{} levels", page.view.cluster.name), body.render()?))
}
