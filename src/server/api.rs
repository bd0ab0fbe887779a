//! Machine views: the JSON contract, DOT, Mermaid, search suggestions, health and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::cache::Rendered;
use super::error::{AppError, Problem};
use super::pages;
use super::request::{PageRequest, Text};
use super::state::{AppState, Current};
use crate::render;

const JSON: &str = "application/json";

pub async fn graph(request: PageRequest<Text>) -> Result<Response, AppError> {
    // Every cluster, unless the URL names one.
    request
        .export(|r| {
            let only = r.frame.named.is_some().then(|| r.view()).transpose()?;
            Ok(Rendered::new(StatusCode::OK, JSON, render::json::render_document(&r.current.snapshot, only)))
        })
        .await
}

pub async fn dot(request: PageRequest<Text>) -> Result<Response, AppError> {
    request.export(|r| Ok(Rendered::new(StatusCode::OK, "text/vnd.graphviz; charset=utf-8", render::dot::render(r.view()?)))).await
}

pub async fn mermaid(request: PageRequest<Text>) -> Result<Response, AppError> {
    request.export(|r| Ok(Rendered::new(StatusCode::OK, "text/vnd.mermaid; charset=utf-8", render::mermaid::render(r.view()?)))).await
}

#[derive(serde::Serialize)]
struct Suggestion {
    id: String,
    name: String,
    kind: String,
    namespace: String,
    href: String,
}

/// What the search box offers as one types, from the cluster the request is about.
pub async fn search(request: PageRequest<Text>) -> Result<Response, AppError> {
    request.export(|r| Ok(Rendered::new(StatusCode::OK, JSON, suggestions(r)?))).await
}

fn suggestions(request: &PageRequest<Text>) -> Result<String, Problem> {
    let query = request.params.get("q").map(String::as_str).unwrap_or("");
    let cluster = request.frame.cluster_query();
    let results: Vec<Suggestion> = pages::search(request.view()?, query, 8)
        .into_iter()
        .map(|id| Suggestion {
            id: id.to_string(),
            name: id.name.clone(),
            kind: id.kind.to_string(),
            namespace: id.namespace.clone(),
            href: request.frame.state.link(&format!("{}{cluster}", id.path())),
        })
        .collect();
    Ok(serde_json::to_string(&results).unwrap_or_else(|_| "[]".into()))
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

/// The live status of the cluster the request is about, from the state at the time of the
/// request (not kept: it changes without a new snapshot).
async fn live_json(request: PageRequest<Text>, draw: impl FnOnce(&AppState, &Current, usize) -> String + Send + 'static) -> Result<Response, AppError> {
    if !request.frame.state.live().enabled() {
        return Err(Problem::LiveStatusOff.into());
    }
    request
        .live(|r| {
            r.view()?;
            Ok(Rendered::new(StatusCode::OK, JSON, draw(&r.frame.state, &r.current, r.frame.index.unwrap_or_default())))
        })
        .await
}

/// `/api/status`: every object of the cluster with its state, reason and root blockers.
pub async fn status(request: PageRequest<Text>) -> Result<Response, AppError> {
    live_json(request, |state, current, i| {
        let document = super::live::document(&state.live().lock(), &current.snapshot, i);
        serde_json::to_string(&document).unwrap_or_default()
    })
    .await
}

/// `/api/blocked`: the report `fluxgraph blocked --format json` prints.
pub async fn blocked(request: PageRequest<Text>) -> Result<Response, AppError> {
    live_json(request, |state, current, i| {
        let report = crate::status::report::build(&current.snapshot, &current.snapshot.clusters[i], &state.live().lock().store);
        serde_json::to_string(&report).unwrap_or_default()
    })
    .await
}
