//! Serve: the current [`Snapshot`](crate::snapshot::Snapshot) over HTTP — read-only, GET
//! and HEAD only. Requests never parse anything: they read the snapshot the watcher swapped
//! in, and never open a file (the source views show the text loaded with the snapshot), so
//! no path in a request can reach the file system.
//!
//! `app(state)` builds the router (tests call it without a socket); `serve` binds it.

mod api;
mod assets;
mod events;
pub mod pages;
pub mod state;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::model::{Kind, ObjectId};
use pages::{Page, Params, Section};
pub use state::{AppState, Current, Options, Update};

/// Scripts and styles come only from this server; nothing inline, nothing framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The whole app, with its security headers, compression and request tracing.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(levels))
        .route("/k/{kind}/{namespace}/{name}", get(object))
        .route("/component/{*path}", get(component))
        .route("/critical-path", get(critical_path))
        .route("/cycles", get(cycles))
        .route("/diagnostics", get(diagnostics))
        .route("/search", get(search))
        .route("/api/graph", get(api::graph))
        .route("/api/search", get(api::search))
        .route("/graph.dot", get(api::dot))
        .route("/graph.mmd", get(api::mermaid))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/events", get(events::stream))
        .route("/assets/{*file}", get(assets::asset))
        .fallback(fallback)
        .with_state(state.clone());
    let base = state.options().base_path.clone();
    let app = if base.is_empty() { routes } else { Router::new().nest(&base, routes) };
    app.layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(CompressionLayer::new())
        // A 503 from /readyz while loading is expected (probes poll it): not an error log.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)))
}

/// Binds `listen` and serves until `shutdown` completes.
pub async fn serve(state: AppState, listen: SocketAddr, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    let public = state.options().public_url.clone();
    let url = format!("http://{local}{}/", state.options().base_path);
    println!("fluxgraph is serving on {url}{}", public.map_or(String::new(), |p| format!(" (shared links point at {p})")));
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

/// The request's snapshot and cluster, or the page to answer with instead.
struct Context {
    current: Arc<Current>,
    cluster: Option<String>,
    index: usize,
}

#[allow(clippy::result_large_err)] // the Err is the page to answer with, as axum handlers do
fn context(state: &AppState, params: &Params, uri: &OriginalUri, headers: &HeaderMap) -> Result<Context, Response> {
    let Some(current) = state.current() else {
        let body = pages::Message {
            heading: "Loading".into(),
            text: "fluxgraph is reading the repository; this page refreshes itself when it is ready.".into(),
            suggestions: Vec::new(),
            home: state.link("/"),
        };
        return Err(pages::respond(state, None, None, Section::Other, uri, headers, StatusCode::SERVICE_UNAVAILABLE, ("loading".into(), askama::Template::render(&body).unwrap_or_default())));
    };
    let cluster = params.get("cluster").cloned();
    let index = match &cluster {
        None => 0,
        Some(name) => match current.snapshot.clusters.iter().position(|c| &c.cluster.name == name) {
            Some(i) => i,
            None => {
                let body = pages::Message {
                    heading: "No such cluster".into(),
                    text: format!("This repository has no cluster named {name:?}."),
                    suggestions: current
                        .snapshot
                        .clusters
                        .iter()
                        .map(|c| pages::Link { name: c.cluster.name.clone(), href: state.link(&format!("/?cluster={}", views::encode(&c.cluster.name))), note: c.cluster.entry.clone() })
                        .collect(),
                    home: state.link("/"),
                };
                let page = ("no such cluster".into(), askama::Template::render(&body).unwrap_or_default());
                return Err(pages::respond(state, Some(&current), None, Section::Other, uri, headers, StatusCode::NOT_FOUND, page));
            }
        },
    };
    if current.snapshot.clusters.is_empty() {
        let body = pages::Message {
            heading: "No cluster found".into(),
            text: "No entry point was found: no gotk-sync.yaml, no FluxInstance, no Flux Kustomization that nothing applies. Start fluxgraph with --entry to name one.".into(),
            suggestions: Vec::new(),
            home: state.link("/diagnostics"),
        };
        let page = ("no cluster".into(), askama::Template::render(&body).unwrap_or_default());
        return Err(pages::respond(state, Some(&current), None, Section::Other, uri, headers, StatusCode::OK, page));
    }
    Ok(Context { current, cluster, index })
}

/// Runs a page renderer with the request's context and wraps its output.
fn page(state: &AppState, params: &Params, uri: &OriginalUri, headers: &HeaderMap, section: Section, render: impl FnOnce(&Page<'_>) -> Option<(String, String)>) -> Response {
    let ctx = match context(state, params, uri, headers) {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let view = &ctx.current.snapshot.clusters[ctx.index];
    let page = Page { state, current: &ctx.current, view, params, view_state: pages::view_state(params) };
    let (status, body) = match render(&page) {
        Some(body) => (StatusCode::OK, body),
        None => {
            let path = uri.0.path().to_string();
            let query = page_cluster_query(params);
            let name = path.rsplit('/').next().unwrap_or("").to_string();
            (StatusCode::NOT_FOUND, pages::not_found(state, Some(view), &query, &format!("page {path}"), &name))
        }
    };
    pages::respond(state, Some(&ctx.current), ctx.cluster.as_deref(), section, uri, headers, status, body)
}

fn page_cluster_query(params: &Params) -> String {
    params.get("cluster").map_or(String::new(), |c| format!("?cluster={}", views::encode(c)))
}

async fn levels(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(&state, &params, &uri, &headers, Section::Levels, |p| Some(pages::overview(p)))
}

async fn object(
    State(state): State<AppState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    // The id is only ever looked up among the snapshot's objects.
    let id = Kind::parse(&kind).map(|k| ObjectId::new(k, namespace.clone(), name.clone()));
    let ctx = match context(&state, &params, &uri, &headers) {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let view = &ctx.current.snapshot.clusters[ctx.index];
    let found = id.filter(|id| view.cluster.objects.contains_key(id));
    let page = Page { state: &state, current: &ctx.current, view, params: &params, view_state: pages::view_state(&params) };
    let (status, body) = match &found {
        Some(id) => (StatusCode::OK, pages::object(&page, id)),
        None => (
            StatusCode::NOT_FOUND,
            pages::not_found(&state, Some(view), &page_cluster_query(&params), &format!("{kind} {namespace}/{name}"), &name),
        ),
    };
    pages::respond(&state, Some(&ctx.current), ctx.cluster.as_deref(), Section::Other, &uri, &headers, status, body)
}

async fn component(State(state): State<AppState>, Path(path): Path<String>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let path = path.trim_matches('/').to_string();
    page(&state, &params, &uri, &headers, Section::Other, |p| pages::component(p, &path))
}

async fn critical_path(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(&state, &params, &uri, &headers, Section::CriticalPath, |p| Some(pages::critical_path(p)))
}

async fn cycles(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(&state, &params, &uri, &headers, Section::Cycles, |p| Some(pages::cycles(p)))
}

async fn diagnostics(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(&state, &params, &uri, &headers, Section::Diagnostics, |p| Some(pages::diagnostics(p, &p.current.snapshot.diagnostics)))
}

async fn search(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let query = params.get("q").cloned().unwrap_or_default();
    page(&state, &params, &uri, &headers, Section::Other, |p| Some(pages::search_page(p, &query)))
}

async fn fallback(State(state): State<AppState>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let current = state.current();
    let view = current.as_ref().and_then(|c| c.snapshot.clusters.first());
    let path = uri.0.path().to_string();
    let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("").to_string();
    let body = pages::not_found(&state, view, "", &format!("page {path}"), &name);
    pages::respond(&state, current.as_deref(), None, Section::Other, &uri, &headers, StatusCode::NOT_FOUND, body).into_response()
}
