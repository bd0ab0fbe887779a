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
//! `app(state)` builds the router (tests call it without a socket); `serve` binds it.

mod api;
mod assets;
pub mod cache;
mod events;
pub mod groups;
pub mod guard;
mod listen;
pub mod live;
mod mcp;
pub mod pages;
pub mod state;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::model::{Kind, ObjectId};
use axum::response::IntoResponse;
use cache::{Busy, Lane, Rendered};
use pages::{Page, Params, Section};
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
        .route("/mcp", axum::routing::any(mcp::endpoint))
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

/// A response drawn by `draw` on the blocking pool, once per snapshot and URL (and fragment
/// or whole page): later requests for the same URL get the same bytes.
async fn drawn(
    state: AppState,
    uri: OriginalUri,
    headers: &HeaderMap,
    draw: impl FnOnce(&AppState, Option<Arc<Current>>, &OriginalUri, bool) -> Rendered + Send + 'static,
) -> Response {
    drawn_in(state, uri, headers, Lane::Pages, draw).await
}

/// Seconds a client refused for a full queue is asked to wait.
const RETRY_AFTER: &str = "5";

/// [`drawn`], admitted through `lane`; a 503 with `Retry-After` when the lane is full.
async fn drawn_in(
    state: AppState,
    uri: OriginalUri,
    headers: &HeaderMap,
    lane: Lane,
    draw: impl FnOnce(&AppState, Option<Arc<Current>>, &OriginalUri, bool) -> Rendered + Send + 'static,
) -> Response {
    let fragment = headers.contains_key(pages::FRAGMENT);
    let current = state.current();
    let generation = current.as_ref().map_or(0, |c| c.generation);
    let key = format!("{} {}", if fragment { "fragment" } else { "page" }, uri.0.path_and_query().map_or("/", |p| p.as_str()));
    let owned = state.clone();
    match state.pages().get_or_render(generation, key, lane, move || draw(&owned, current, &uri, fragment)).await {
        Ok(rendered) => rendered.response(headers).await,
        Err(Busy) => {
            let text = "fluxgraph is busy with other comparisons; try again in a few seconds\n";
            (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, RETRY_AFTER), (header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
    }
}

/// The request's snapshot and cluster, or the page to answer with instead.
struct Context {
    current: Arc<Current>,
    cluster: Option<String>,
    index: usize,
}

/// A page's status and HTML.
type Html = (StatusCode, String);

fn context(state: &AppState, current: Option<Arc<Current>>, params: &Params, uri: &OriginalUri, fragment: bool) -> Result<Context, Html> {
    let Some(current) = current else {
        let body = pages::Message {
            heading: "Loading".into(),
            text: "fluxgraph is reading the repository; this page refreshes itself when it is ready.".into(),
            suggestions: Vec::new(),
            home: state.link("/"),
        };
        return Err(pages::respond(state, None, None, Section::Other, uri, fragment, StatusCode::SERVICE_UNAVAILABLE, ("loading".into(), askama::Template::render(&body).unwrap_or_default())));
    };
    let cluster = params.get("cluster").cloned();
    let index = match &cluster {
        None => current.snapshot.main_cluster(),
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
                return Err(pages::respond(state, Some(&current), None, Section::Other, uri, fragment, StatusCode::NOT_FOUND, page));
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
        return Err(pages::respond(state, Some(&current), None, Section::Other, uri, fragment, StatusCode::OK, page));
    }
    Ok(Context { current, cluster, index })
}

/// A page drawn by `render` with the request's context (once per snapshot and URL).
async fn page(
    state: AppState,
    params: Params,
    uri: OriginalUri,
    headers: &HeaderMap,
    section: Section,
    render: impl FnOnce(&Page<'_>) -> Option<(String, String)> + Send + 'static,
) -> Response {
    drawn(state, uri, headers, move |state, current, uri, fragment| draw_page(state, current, &params, uri, fragment, section, render)).await
}

/// A page drawn from the live status (`/blocked`, an object's status part): drawn for each
/// request on the blocking pool, never kept, since the status changes without a new
/// snapshot. `part` asks for the content alone, as a fragment.
async fn live_page(
    state: AppState,
    params: Params,
    uri: OriginalUri,
    headers: &HeaderMap,
    section: Section,
    part: bool,
    render: impl FnOnce(&Page<'_>) -> Option<(String, String)> + Send + 'static,
) -> Response {
    let fragment = part || headers.contains_key(pages::FRAGMENT);
    let drawn = tokio::task::spawn_blocking(move || {
        let current = state.current();
        draw_page(&state, current, &params, &uri, fragment, section, render)
    })
    .await
    .unwrap_or_else(|_| Rendered::html(StatusCode::INTERNAL_SERVER_ERROR, "the page could not be drawn".into()));
    Arc::new(drawn).response(headers).await
}

fn draw_page(
    state: &AppState,
    current: Option<Arc<Current>>,
    params: &Params,
    uri: &OriginalUri,
    fragment: bool,
    section: Section,
    render: impl FnOnce(&Page<'_>) -> Option<(String, String)>,
) -> Rendered {
    let (status, html) = match context(state, current, params, uri, fragment) {
        Err(page) => page,
        Ok(ctx) => {
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
            pages::respond(state, Some(&ctx.current), ctx.cluster.as_deref(), section, uri, fragment, status, body)
        }
    };
    Rendered::html(status, html)
}

async fn blocked(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let part = params.contains_key("part");
    live_page(state, params, uri, &headers, Section::Blocked, part, move |p| Some(if part { ("what blocks".into(), pages::blocked::part(p)) } else { pages::blocked::page(p) })).await
}

/// The critical path's observed timing part (`/blocked/timing`).
async fn observed_timing(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    live_page(state, params, uri, &headers, Section::Other, true, |p| Some(("observed timing".into(), pages::blocked::timing_part(p)))).await
}

/// An object's live status part (`/blocked/k/{kind}/{namespace}/{name}`).
async fn object_status(
    State(state): State<AppState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    live_page(state, params, uri, &headers, Section::Other, true, move |p| {
        // The id is only ever looked up among the snapshot's objects.
        let id = Kind::parse(&kind).map(|k| ObjectId::new(k, namespace, name)).filter(|id| p.view.cluster.objects.contains_key(id))?;
        Some(("live status".into(), pages::blocked::object_part(p, &id)))
    })
    .await
}

/// What a Kustomization applies (`/k/{kind}/{namespace}/{name}/applies`), with one object's
/// YAML when `?object=` names one it applies.
async fn applies(
    State(state): State<AppState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    page(state, params, uri, &headers, Section::Other, move |p| {
        // The id is only ever looked up among the snapshot's builds.
        let id = Kind::parse(&kind).map(|k| ObjectId::new(k, namespace, name)).filter(|id| p.view.cluster.builds.contains_key(id))?;
        pages::applies(p, &id)
    })
    .await
}

fn page_cluster_query(params: &Params) -> String {
    params.get("cluster").map_or(String::new(), |c| format!("?cluster={}", views::encode(c)))
}

async fn levels(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(state, params, uri, &headers, Section::Levels, |p| Some(pages::overview(p))).await
}

async fn level_list(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(state, params, uri, &headers, Section::Levels, |p| Some(pages::levels(p))).await
}

async fn object(
    State(state): State<AppState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    drawn(state, uri, &headers, move |state, current, uri, fragment| {
        // The id is only ever looked up among the snapshot's objects.
        let id = Kind::parse(&kind).map(|k| ObjectId::new(k, namespace.clone(), name.clone()));
        let (status, html) = match context(state, current, &params, uri, fragment) {
            Err(page) => page,
            Ok(ctx) => {
                let view = &ctx.current.snapshot.clusters[ctx.index];
                let found = id.filter(|id| view.cluster.objects.contains_key(id));
                let page = Page { state, current: &ctx.current, view, params: &params, view_state: pages::view_state(&params) };
                let (status, body) = match &found {
                    Some(id) => (StatusCode::OK, pages::object(&page, id)),
                    None => (
                        StatusCode::NOT_FOUND,
                        pages::not_found(state, Some(view), &page_cluster_query(&params), &format!("{kind} {namespace}/{name}"), &name),
                    ),
                };
                pages::respond(state, Some(&ctx.current), ctx.cluster.as_deref(), Section::Other, uri, fragment, status, body)
            }
        };
        Rendered::html(status, html)
    })
    .await
}

async fn component(State(state): State<AppState>, Path(path): Path<String>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let path = path.trim_matches('/').to_string();
    page(state, params, uri, &headers, Section::Other, move |p| pages::component(p, &path)).await
}

/// A file of the repository as the snapshot holds it, redacted (`/source/{path}`).
async fn source(State(state): State<AppState>, Path(path): Path<String>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let path = path.trim_matches('/').to_string();
    page(state, params, uri, &headers, Section::Other, move |p| pages::source(p, &path)).await
}

async fn critical_path(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(state, params, uri, &headers, Section::CriticalPath, |p| Some(pages::critical_path(p))).await
}

async fn cycles(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(state, params, uri, &headers, Section::Cycles, |p| Some(pages::cycles(p))).await
}

async fn diagnostics(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    page(state, params, uri, &headers, Section::Diagnostics, |p| Some(pages::diagnostics(p, &p.current.snapshot.diagnostics))).await
}

/// The diff page, in the diffs' lane. The page is named by its canonical view state alone:
/// parameters it does not read, or spelt another way, make no new entry and no new diff.
async fn diff(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let params = pages::diff::canonical(&params);
    let query = views::query_string(&params);
    let path = uri.0.path();
    let canonical = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    let uri = OriginalUri(canonical.parse().unwrap_or_else(|_| uri.0.clone()));
    drawn_in(state, uri, &headers, Lane::Diffs, move |state, current, uri, fragment| {
        let (status, html) = match context(state, current, &params, uri, fragment) {
            Err(page) => page,
            Ok(ctx) => {
                let view = &ctx.current.snapshot.clusters[ctx.index];
                let page = Page { state, current: &ctx.current, view, params: &params, view_state: pages::view_state(&params) };
                let (status, body) = pages::diff(&page);
                pages::respond(state, Some(&ctx.current), ctx.cluster.as_deref(), Section::Diff, uri, fragment, status, body)
            }
        };
        Rendered::html(status, html)
    })
    .await
}

async fn search(State(state): State<AppState>, Query(params): Query<Params>, uri: OriginalUri, headers: HeaderMap) -> Response {
    let query = params.get("q").cloned().unwrap_or_default();
    page(state, params, uri, &headers, Section::Other, move |p| Some(pages::search_page(p, &query))).await
}

async fn fallback(State(state): State<AppState>, uri: OriginalUri, headers: HeaderMap) -> Response {
    drawn(state, uri, &headers, |state, current, uri, fragment| {
        let view = current.as_ref().and_then(|c| c.snapshot.clusters.first());
        let path = uri.0.path().to_string();
        let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("").to_string();
        let body = pages::not_found(state, view, "", &format!("page {path}"), &name);
        let (status, html) = pages::respond(state, current.as_deref(), None, Section::Other, uri, fragment, StatusCode::NOT_FOUND, body);
        Rendered::html(status, html)
    })
    .await
}
