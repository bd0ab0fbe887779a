//! Machine views: the JSON contract, DOT, Mermaid, search suggestions, health and readiness.

use std::sync::Arc;

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::cache::Rendered;
use super::pages::{self, Params};
use super::state::{AppState, Current};
use super::drawn;
use crate::model::link::encode;
use crate::render;

const PLAIN: &str = "text/plain; charset=utf-8";

fn not_ready() -> Rendered {
    Rendered::new(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "the first snapshot is still loading\n".into())
}

/// An export of the current snapshot, drawn once per snapshot and query like the pages.
async fn export(state: AppState, uri: OriginalUri, headers: &HeaderMap, draw: impl FnOnce(&Current) -> Rendered + Send + 'static) -> Response {
    drawn(state, uri, headers, move |_, current: Option<Arc<Current>>, _, _| current.map_or_else(not_ready, |c| draw(&c))).await
}

pub async fn graph(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    export(state, uri, &headers, move |current| match render::json::render(&current.snapshot, params.get("cluster").map(String::as_str)) {
        Ok(json) => Rendered::new(StatusCode::OK, "application/json", json),
        Err(message) => Rendered::new(StatusCode::NOT_FOUND, PLAIN, message),
    })
    .await
}

fn one_cluster(current: &Current, params: &Params, content_type: &'static str, render: impl FnOnce(&crate::snapshot::ClusterView) -> String) -> Rendered {
    match current.snapshot.cluster_or_first(params.get("cluster").map(String::as_str)) {
        Ok(view) => Rendered::new(StatusCode::OK, content_type, render(view)),
        Err(why) => Rendered::new(StatusCode::NOT_FOUND, PLAIN, why),
    }
}

pub async fn dot(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    export(state, uri, &headers, move |current| one_cluster(current, &params, "text/vnd.graphviz; charset=utf-8", render::dot::render)).await
}

pub async fn mermaid(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    export(state, uri, &headers, move |current| one_cluster(current, &params, "text/vnd.mermaid; charset=utf-8", render::mermaid::render)).await
}

#[derive(serde::Serialize)]
struct Suggestion {
    id: String,
    name: String,
    kind: String,
    namespace: String,
    href: String,
}

pub async fn search(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    drawn(state, uri, &headers, move |state, current, _, _| match current {
        None => not_ready(),
        Some(current) => Rendered::new(StatusCode::OK, "application/json", suggestions(state, &current, &params)),
    })
    .await
}

/// What the search box offers as one types.
fn suggestions(state: &AppState, current: &Current, params: &Params) -> String {
    let Ok(view) = current.snapshot.cluster_or_first(params.get("cluster").map(String::as_str)) else { return "[]".into() };
    let query = params.get("q").map(String::as_str).unwrap_or("");
    let cluster = params.get("cluster").map_or(String::new(), |c| format!("?cluster={}", encode(c)));
    let results: Vec<Suggestion> = pages::search(view, query, 8)
        .into_iter()
        .map(|id| Suggestion {
            id: id.to_string(),
            name: id.name.clone(),
            kind: id.kind.to_string(),
            namespace: id.namespace.clone(),
            href: state.link(&format!("{}{cluster}", id.path())),
        })
        .collect();
    serde_json::to_string(&results).unwrap_or_else(|_| "[]".into())
}

/// Alive: answered at once, touching nothing.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once a snapshot is loaded and while its repository is there; the body says which,
/// and whether the last refresh failed.
/// Reads only the current snapshot's header, never a page.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let Some(current) = state.current() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the first snapshot is still loading\n").into_response();
    };
    let mut body = format!("ready: snapshot {}", current.version);
    if let Some(r) = &current.revision {
        body.push_str(&format!(", revision {r}"));
    }
    if let Some(f) = &current.failure {
        body.push_str(&format!("; the last refresh failed ({f}), serving the last good snapshot"));
    }
    body.push('\n');
    if current.source_missing {
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    body.into_response()
}

/// The live status of a cluster's objects, from the state at the time of the request (not
/// kept: it changes without a new snapshot).
async fn live_json(state: AppState, params: Params, headers: &HeaderMap, draw: impl FnOnce(&AppState, &Current, usize) -> String + Send + 'static) -> Response {
    if !state.live().enabled() {
        return (StatusCode::NOT_FOUND, "the live status is off: start fluxgraph with --kube-status or --flux-source\n").into_response();
    }
    let rendered = tokio::task::spawn_blocking(move || {
        let Some(current) = state.current() else { return not_ready() };
        match current.snapshot.cluster_index(params.get("cluster").map(String::as_str)) {
            Ok(i) => Rendered::new(StatusCode::OK, "application/json", draw(&state, &current, i)),
            Err(_) => Rendered::new(StatusCode::NOT_FOUND, PLAIN, "no such cluster\n".into()),
        }
    })
    .await
    .unwrap_or_else(|_| not_ready());
    Arc::new(rendered).response(headers).await
}

/// `/api/status`: every object of the cluster with its state, reason and root blockers.
pub async fn status(State(state): State<AppState>, Query(params): Query<Params>, headers: HeaderMap) -> Response {
    live_json(state, params, &headers, |state, current, i| {
        let document = super::live::document(&state.live().lock(), &current.snapshot, i);
        serde_json::to_string(&document).unwrap_or_default()
    })
    .await
}

/// `/api/blocked`: the report `fluxgraph blocked --format json` prints.
pub async fn blocked(State(state): State<AppState>, Query(params): Query<Params>, headers: HeaderMap) -> Response {
    live_json(state, params, &headers, |state, current, i| {
        let report = crate::status::report::build(&current.snapshot, &current.snapshot.clusters[i], &state.live().lock().store);
        serde_json::to_string(&report).unwrap_or_default()
    })
    .await
}
