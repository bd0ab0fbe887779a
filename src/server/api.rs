//! Machine views: the JSON contract, DOT, Mermaid, search suggestions, health and readiness.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::pages::{self, Params};
use super::state::AppState;
use super::views::object_path;
use crate::render;

fn not_ready() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "the first snapshot is still loading\n").into_response()
}

fn text(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

pub async fn graph(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let Some(current) = state.current() else { return not_ready() };
    match render::json::render(&current.snapshot, params.get("cluster").map(String::as_str)) {
        Ok(json) => text("application/json", json),
        Err(message) => (StatusCode::NOT_FOUND, message).into_response(),
    }
}

#[allow(clippy::result_large_err)] // the Err is the response to send
fn one_cluster<'a>(current: &'a super::Current, params: &Params) -> Result<&'a crate::snapshot::ClusterView, Response> {
    current.snapshot.cluster_or_first(params.get("cluster").map(String::as_str)).map_err(|why| (StatusCode::NOT_FOUND, why).into_response())
}

pub async fn dot(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let Some(current) = state.current() else { return not_ready() };
    match one_cluster(&current, &params) {
        Ok(view) => text("text/vnd.graphviz; charset=utf-8", render::dot::render(view)),
        Err(response) => response,
    }
}

pub async fn mermaid(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let Some(current) = state.current() else { return not_ready() };
    match one_cluster(&current, &params) {
        Ok(view) => text("text/vnd.mermaid; charset=utf-8", render::mermaid::render(view)),
        Err(response) => response,
    }
}

#[derive(serde::Serialize)]
struct Suggestion {
    id: String,
    name: String,
    kind: String,
    namespace: String,
    href: String,
}

pub async fn search(State(state): State<AppState>, Query(params): Query<Params>) -> Response {
    let Some(current) = state.current() else { return not_ready() };
    let Ok(view) = one_cluster(&current, &params) else { return text("application/json", "[]".into()) };
    let query = params.get("q").map(String::as_str).unwrap_or("");
    let cluster = params.get("cluster").map_or(String::new(), |c| format!("?cluster={}", super::views::encode(c)));
    let results: Vec<Suggestion> = pages::search(view, query, 8)
        .into_iter()
        .map(|id| Suggestion {
            id: id.to_string(),
            name: id.name.clone(),
            kind: id.kind.to_string(),
            namespace: id.namespace.clone(),
            href: state.link(&format!("{}{cluster}", object_path(id))),
        })
        .collect();
    text("application/json", serde_json::to_string(&results).unwrap_or_else(|_| "[]".into()))
}

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready once a snapshot is loaded; the body says which, and whether the last refresh failed.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let Some(current) = state.current() else { return not_ready() };
    let mut body = format!("ready: snapshot {}", current.version);
    if let Some(r) = &current.revision {
        body.push_str(&format!(", revision {r}"));
    }
    if let Some(f) = &current.failure {
        body.push_str(&format!("; the last refresh failed ({f}), serving the last good snapshot"));
    }
    body.push('\n');
    body.into_response()
}
