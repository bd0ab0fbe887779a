//! `/mcp`: the Model Context Protocol over streamable HTTP, answered by [`super`] from
//! the snapshot the pages show. rmcp's transport does the protocol; this route keeps it
//! within the server's limits:
//!
//! - the guard has already checked `Host` and `Origin` (DNS rebinding, other web sites), so
//!   rmcp's own host list, which knows neither `--public-url` nor `--allowed-host`, is off;
//! - a posted message is read whole before rmcp sees it, within `header_timeout` and
//!   `max_mcp_body` (a client that trickles its body is cut off like a slow header);
//! - at most `max_mcp_sessions` sessions, each closed after `mcp_idle` without a request;
//! - a client following its session (`GET`, a long-lived event stream) takes one of the
//!   places `/events` counts, and every stream ends when the server stops.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::server::AppState;

/// The header naming a client's session.
const SESSION: &str = "mcp-session-id";

pub async fn endpoint(State(state): State<AppState>, request: Request) -> Response {
    let limits = state.options().limits.clone();
    let (parts, body) = request.into_parts();
    let body = if parts.method == Method::POST {
        match tokio::time::timeout(limits.header_timeout, axum::body::to_bytes(body, limits.max_mcp_body)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => return (StatusCode::PAYLOAD_TOO_LARGE, format!("an MCP message is at most {} bytes, sent whole\n", limits.max_mcp_body)).into_response(),
            Err(_) => return (StatusCode::REQUEST_TIMEOUT, "the message did not arrive in time\n").into_response(),
        }
    } else {
        Bytes::new()
    };
    let opens_session = parts.method == Method::POST && !parts.headers.contains_key(SESSION);
    if opens_session && state.mcp_sessions().sessions.read().await.len() >= limits.max_mcp_sessions {
        return busy("too many MCP sessions are open; try again when one ends");
    }
    // A client following its session holds a connection for as long as it runs.
    let place = if parts.method == Method::GET {
        match state.subscriber() {
            Some(place) => Some(place),
            None => return busy("too many clients are following updates; try again shortly"),
        }
    } else {
        None
    };
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_json_response(true)
        .with_cancellation_token(state.mcp_stop().clone());
    let mut config = config;
    config.max_request_body_bytes = limits.max_mcp_body;
    let handlers = state.clone();
    let service = StreamableHttpService::new(move || Ok(crate::server::mcp::Fluxgraph::new(handlers.clone())), std::sync::Arc::clone(state.mcp_sessions()), config);
    let Ok(response) = tower::ServiceExt::oneshot(service, Request::from_parts(parts, Full::new(body))).await;
    let closing = state.closing();
    response.map(|body| {
        let stream = body.into_data_stream().take_until(closing).map(move |chunk| {
            // The place is given back when the stream ends.
            let _held = &place;
            chunk
        });
        Body::from_stream(stream)
    })
}

fn busy(why: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], format!("{why}\n")).into_response()
}
