//! What is refused before any route runs: anything but a plain GET or HEAD. fluxgraph
//! takes nothing from a request but its URL: methods other than GET and HEAD are answered
//! 405, and a request that carries a body 413, before the body is read.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::AppState;

/// The connection a request came in on, as the listener saw it.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

/// The middleware: method and body.
pub async fn guard(State(_state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = (StatusCode::METHOD_NOT_ALLOWED, "fluxgraph is read-only: only GET and HEAD are answered\n").into_response();
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if has_body(&request) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "fluxgraph is read-only: a request carries no body\n").into_response();
    }
    next.run(request).await
}

fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::trim);
    headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|l| l != "0")
}
