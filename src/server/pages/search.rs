//! Search by name (`/search`), also used by the API and the helpful 404.

use askama::Template;

use super::Page;
use crate::model::{Kind, ObjectId};
use crate::snapshot::ClusterView;

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

pub fn search_page(page: &Page<'_>, query: &str) -> askama::Result<super::Body> {
    let results = search(page.view, query, 50)
        .into_iter()
        .map(|id| SearchResult { name: id.name.clone(), kind: id.kind.to_string(), namespace: id.namespace.clone(), href: page.href(id) })
        .collect();
    Ok((format!("search {query}"), SearchPage { query: query.to_string(), results }.render()?))
}
