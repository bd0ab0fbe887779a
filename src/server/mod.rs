//! Serve: the current [`Snapshot`](crate::snapshot::Snapshot) over HTTP — read-only, GET
//! and HEAD only, but for the MCP endpoint (`/mcp`, [`mcp`]), which takes its clients'
//! messages by POST. Requests never parse anything: they read the snapshot the watcher swapped
//! in, and never open a file (the source views show the text loaded with the snapshot), so
//! no path in a request can reach the file system.
//!
//! Pages and exports are drawn once per snapshot and URL, off the async runtime (`cache`),
//! so that the health probes never wait behind a drawing; diffs in a lane of their own, a
//! short queue and then 503, so that pages never wait behind a diff; the listener (`listen`) bounds what
//! one client can hold (header and write timeouts, a connection cap, an `/events` cap); the
//! guard (`guard`) answers only for this server's own host names, and only GET and HEAD
//! without a body (and at `/mcp`, a bounded POST from no foreign web page).
//!
//! Every route that reads the snapshot takes a [`PageRequest`] (the snapshot, the cluster chosen
//! once, the view state) and answers with an [`AppError`] when it cannot serve it; `request`
//! draws and keeps what they answer, `error` says what went wrong, as a page or as text.
//!
//! `app(state)` builds the router (tests call it without a socket); `serve` binds it.

mod api;
mod assets;
pub mod cache;
pub mod error;
mod events;
pub mod groups;
pub mod guard;
mod listen;
pub mod live;
pub mod mcp;
pub mod pages;
pub mod request;
pub mod state;
pub mod views;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::model::{Kind, ObjectId};
use cache::Lane;
pub use error::{AppError, Problem};
use pages::Section;
pub use request::PageRequest;
pub use state::{AppState, Current, Limits, Options, Update};

/// Scripts and styles come only from this server; nothing inline, nothing framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The whole app, with its guard, security headers, compression and request tracing.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(levels))
        .route("/levels", get(level_list))
        .route("/k/{kind}/{namespace}/{name}", get(object))
        .route("/k/{kind}/{namespace}/{name}/applies", get(applies))
        .route("/component/{*path}", get(component))
        .route("/source/{*path}", get(source))
        .route("/critical-path", get(critical_path))
        .route("/cycles", get(cycles))
        .route("/diagnostics", get(diagnostics))
        .route("/diff", get(diff))
        .route("/search", get(search))
        .route("/blocked", get(blocked))
        .route("/blocked/k/{kind}/{namespace}/{name}", get(object_status))
        .route("/blocked/timing", get(observed_timing))
        .route("/api/status", get(api::status))
        .route("/api/blocked", get(api::blocked))
        .route("/api/graph", get(api::graph))
        .route("/api/search", get(api::search))
        .route("/graph.dot", get(api::dot))
        .route("/graph.mmd", get(api::mermaid))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/events", get(events::stream))
        .route("/mcp", axum::routing::any(mcp::http::endpoint))
        .route("/assets/{*file}", get(assets::asset))
        .fallback(fallback)
        .with_state(state.clone());
    let base = state.options().base_path.clone();
    let app = if base.is_empty() { routes } else { Router::new().nest(&base, routes) };
    app.layer(axum::middleware::from_fn_with_state(state, guard::guard))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
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
    serve_on(listener, state, shutdown).await
}

/// Serves on a bound listener (tests bind `127.0.0.1:0`) until `shutdown` completes.
pub async fn serve_on(listener: tokio::net::TcpListener, state: AppState, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    state.set_listening(listener.local_addr()?);
    listen::run(listener, state.clone(), app(state), shutdown).await
}

async fn blocked(request: PageRequest) -> Result<Response, AppError> {
    let part = request.params.contains_key("part");
    request.live_page(Section::Blocked, part, move |p| Ok(Some(if part { ("what blocks".into(), pages::blocked::part(p)?) } else { pages::blocked::page(p)? }))).await
}

/// The critical path's observed timing part (`/blocked/timing`).
async fn observed_timing(request: PageRequest) -> Result<Response, AppError> {
    request.live_page(Section::Other, true, |p| Ok(Some(("observed timing".into(), pages::blocked::timing_part(p)?)))).await
}

/// The id a path names, when the cluster shown has such an object (`has`): the path is only
/// ever looked up among the snapshot's objects.
fn named_object(kind: &str, namespace: String, name: String, has: impl Fn(&ObjectId) -> bool) -> Option<ObjectId> {
    Kind::parse(kind).map(|k| ObjectId::new(k, namespace, name)).filter(has)
}

/// An object's live status part (`/blocked/k/{kind}/{namespace}/{name}`).
async fn object_status(Path((kind, namespace, name)): Path<(String, String, String)>, request: PageRequest) -> Result<Response, AppError> {
    request
        .live_page(Section::Other, true, move |p| {
            let Some(id) = named_object(&kind, namespace, name, |id| p.view.cluster.objects.contains_key(id)) else { return Ok(None) };
            Ok(Some(("live status".into(), pages::blocked::object_part(p, &id)?)))
        })
        .await
}

/// What a Kustomization applies (`/k/{kind}/{namespace}/{name}/applies`), with one object's
/// YAML when `?object=` names one it applies.
async fn applies(Path((kind, namespace, name)): Path<(String, String, String)>, request: PageRequest) -> Result<Response, AppError> {
    request
        .page(Section::Other, move |p| {
            let Some(id) = named_object(&kind, namespace, name, |id| p.view.cluster.builds.contains_key(id)) else { return Ok(None) };
            Ok(pages::applies(p, &id)?)
        })
        .await
}

async fn levels(request: PageRequest) -> Result<Response, AppError> {
    request.page(Section::Levels, |p| Ok(Some(pages::overview(p)?))).await
}

async fn level_list(request: PageRequest) -> Result<Response, AppError> {
    request.page(Section::Levels, |p| Ok(Some(pages::levels(p)?))).await
}

/// An object's page; a 404 naming what was asked for, with the closest names, when the
/// cluster has no such object.
async fn object(Path((kind, namespace, name)): Path<(String, String, String)>, request: PageRequest) -> Result<Response, AppError> {
    request
        .page(Section::Other, move |p| {
            let what = format!("{kind} {namespace}/{name}");
            let Some(id) = named_object(&kind, namespace, name.clone(), |id| p.view.cluster.objects.contains_key(id)) else {
                return Err(Problem::NotFound { what, name });
            };
            Ok(Some(pages::object(p, &id)?))
        })
        .await
}

async fn component(Path(path): Path<String>, request: PageRequest) -> Result<Response, AppError> {
    let path = path.trim_matches('/').to_string();
    request.page(Section::Other, move |p| Ok(pages::component(p, &path)?)).await
}

/// A file of the repository as the snapshot holds it, redacted (`/source/{path}`).
async fn source(Path(path): Path<String>, request: PageRequest) -> Result<Response, AppError> {
    let path = path.trim_matches('/').to_string();
    request.page(Section::Other, move |p| Ok(pages::source(p, &path)?)).await
}

async fn critical_path(request: PageRequest) -> Result<Response, AppError> {
    request.page(Section::CriticalPath, |p| Ok(Some(pages::critical_path(p)?))).await
}

async fn cycles(request: PageRequest) -> Result<Response, AppError> {
    request.page(Section::Cycles, |p| Ok(Some(pages::cycles(p)?))).await
}

async fn diagnostics(request: PageRequest) -> Result<Response, AppError> {
    request.page(Section::Diagnostics, |p| Ok(Some(pages::diagnostics(p, &p.current.snapshot.diagnostics)?))).await
}

/// The diff page, in the diffs' lane. The page is named by its canonical view state alone:
/// parameters it does not read, or spelt another way, make no new entry and no new diff.
async fn diff(request: PageRequest) -> Result<Response, AppError> {
    let params = pages::diff::canonical(&request.params);
    request.with_params(params).page_in(Lane::Diffs, Section::Diff, |p| Ok(Some(pages::diff(p)?))).await
}

async fn search(request: PageRequest) -> Result<Response, AppError> {
    let query = request.params.get("q").cloned().unwrap_or_default();
    request.page(Section::Other, move |p| Ok(Some(pages::search_page(p, &query)?))).await
}

/// Any other path: the helpful 404, about the cluster the request is about.
async fn fallback(request: PageRequest) -> Result<Response, AppError> {
    request.not_found().await
}
