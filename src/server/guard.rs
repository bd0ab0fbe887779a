//! What is refused before any route runs: requests for another host, and anything but a
//! plain GET or HEAD — except at `/mcp`, where MCP clients post their messages.
//!
//! **The host check** stops DNS rebinding: a page on `evil.example` whose name is made to
//! resolve to 127.0.0.1 can make the reader's browser fetch `/api/graph` from a fluxgraph on
//! the reader's laptop, but the browser then sends `Host: evil.example`, which is answered
//! 421 Misdirected Request. Answered are: the loopback names (`localhost`, `127.0.0.1`,
//! `[::1]`, any port: a `kubectl port-forward` or a local proxy may use another), the address
//! the connection came in on (`192.168.1.5:7420`), the `--public-url` host and every
//! `--allowed-host` (`name` on any port, `name:port` on that one). A request without a `Host`
//! comes from no browser and is answered. `/healthz` and `/readyz` are always answered:
//! kubelet probes send the pod's IP, which no flag can name in advance.
//!
//! **Read-only**: fluxgraph takes nothing from a request but its URL. Methods other than GET
//! and HEAD are answered 405, and a request that carries a body 413, before the body is read.
//! `/mcp` alone also takes POST (a JSON-RPC message, whose declared length must be within
//! `max_mcp_body`) and DELETE (a client ending its session); its answers read the snapshot as
//! the pages do. Since a web page may post to it, a request that carries an `Origin` must
//! come from a page of an answered host (403 otherwise): a page on `evil.example` that posts
//! to `http://localhost:7420/mcp` is refused even though its `Host` is fine.

use std::net::{IpAddr, SocketAddr};

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

/// The middleware: host check, then method and body.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let probe = is_probe(&state, request.uri().path());
    if !probe {
        let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string).or_else(|| request.uri().authority().map(|a| a.to_string()));
        let local = request.extensions().get::<Connection>().map(|c| c.local).or(state.listening());
        if let Some(host) = host.filter(|h| !host_allowed(&state, h, local)) {
            return misdirected(&host);
        }
    }
    if is_mcp(&state, request.uri().path()) {
        return mcp_guard(&state, request, next).await;
    }
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

/// `/mcp`: the origin of a web page that sends the request, the methods MCP uses, and a body
/// on POST alone, of a bounded length.
async fn mcp_guard(state: &AppState, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let local = request.extensions().get::<Connection>().map(|c| c.local).or(state.listening());
        let allowed = origin.to_str().ok().and_then(origin_authority).is_some_and(|authority| host_allowed(state, authority, local));
        if !allowed {
            let body = "fluxgraph answers MCP only for pages of the hosts it serves (the request's Origin is another web site)\n";
            return (StatusCode::FORBIDDEN, body).into_response();
        }
    }
    let method = request.method();
    if method != Method::POST && method != Method::GET && method != Method::DELETE {
        let mut response = (StatusCode::METHOD_NOT_ALLOWED, "/mcp answers POST, GET and DELETE (the MCP streamable HTTP transport)\n").into_response();
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
        return response;
    }
    if method != Method::POST && has_body(&request) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "only a POST to /mcp carries a body\n").into_response();
    }
    let max = state.options().limits.max_mcp_body;
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return (StatusCode::PAYLOAD_TOO_LARGE, format!("an MCP message is at most {max} bytes\n")).into_response();
    }
    next.run(request).await
}

fn is_mcp(state: &AppState, path: &str) -> bool {
    path.strip_prefix(state.options().base_path.as_str()) == Some("/mcp")
}

/// The `host[:port]` of an `Origin` (`https://app.example:8443`); `None` for `null` or
/// anything that is not an origin.
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, authority) = origin.trim().split_once("://")?;
    let plain = !authority.is_empty() && !authority.contains(['/', '?', '#', '@']);
    (matches!(scheme, "http" | "https") && plain).then_some(authority)
}

fn is_probe(state: &AppState, path: &str) -> bool {
    let base = state.options().base_path.as_str();
    path.strip_prefix(base).is_some_and(|rest| rest == "/healthz" || rest == "/readyz")
}

fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::trim);
    headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|l| l != "0")
}

fn misdirected(host: &str) -> Response {
    // Only what a host name may hold is echoed, and not much of it.
    let shown: String = host.chars().filter(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(*c)).take(80).collect();
    let body = format!(
        "fluxgraph does not answer for the host {shown}. If this is its name, start it with --allowed-host {shown} (or --public-url); this check keeps other web sites from reading it through your browser.\n"
    );
    (StatusCode::MISDIRECTED_REQUEST, body).into_response()
}

/// A `Host` value as a lower-case name (an IPv6 address without brackets, no final dot) and
/// its port, if it names one; `None` when it is not a host.
pub fn split_host(host: &str) -> Option<(String, Option<u16>)> {
    let host = host.trim();
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (name, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        (name, port)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') => (name, Some(port.parse().ok()?)),
            Some(_) => return None,
            None => (host, None),
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some((name, port))
}

/// The host of a URL (`https://fluxgraph.example.com:8443/x` → `fluxgraph.example.com`).
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    split_host(authority).map(|(name, _)| name)
}

/// Whether a request for `host`, on a connection accepted at `local`, is for this server.
pub fn host_allowed(state: &AppState, host: &str, local: Option<SocketAddr>) -> bool {
    let Some((name, port)) = split_host(host) else { return false };
    let ip = name.parse::<IpAddr>().ok();
    if name == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return true;
    }
    if let (Some(ip), Some(local)) = (ip, local) {
        if ip == local.ip() && port.unwrap_or(80) == local.port() {
            return true;
        }
    }
    let options = state.options();
    if options.public_url.as_deref().and_then(url_host).is_some_and(|public| public == name) {
        return true;
    }
    options.allowed_hosts.iter().filter_map(|a| split_host(a)).any(|(allowed, allowed_port)| allowed == name && (allowed_port.is_none() || allowed_port == port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Options;

    #[test]
    fn hosts_are_split() {
        assert_eq!(split_host("LocalHost:7420"), Some(("localhost".into(), Some(7420))));
        assert_eq!(split_host("[::1]:80"), Some(("::1".into(), Some(80))));
        assert_eq!(split_host("[::1]"), Some(("::1".into(), None)));
        assert_eq!(split_host("example.com."), Some(("example.com".into(), None)));
        assert_eq!(split_host("a:b"), None);
        assert_eq!(split_host("::1"), None);
        assert_eq!(split_host(""), None);
        assert_eq!(url_host("https://user@Fluxgraph.Example.com:8443/x?y"), Some("fluxgraph.example.com".into()));
    }

    #[test]
    fn which_hosts_are_answered() {
        let state = AppState::new(Options {
            public_url: Some("https://fluxgraph.example.com".into()),
            allowed_hosts: vec!["fluxgraph.tools.svc.cluster.local".into(), "box:8080".into()],
            ..Options::default()
        });
        let local: SocketAddr = "10.0.0.7:7420".parse().unwrap();
        let yes = [
            "localhost:7420",
            "localhost:8080",
            "127.0.0.1:7420",
            "[::1]:7420",
            "10.0.0.7:7420",
            "fluxgraph.example.com",
            "fluxgraph.example.com:443",
            "fluxgraph.tools.svc.cluster.local",
            "box:8080",
        ];
        let no = ["evil.example", "evil.example:7420", "10.0.0.7:80", "10.0.0.8:7420", "box", "box:9090", "localhost.evil.example", "fluxgraph.example.com.evil.example", "x y"];
        for host in yes {
            assert!(host_allowed(&state, host, Some(local)), "{host}");
        }
        for host in no {
            assert!(!host_allowed(&state, host, Some(local)), "{host}");
        }
    }

    #[test]
    fn an_origin_is_a_scheme_and_an_authority() {
        assert_eq!(origin_authority("http://localhost:7420"), Some("localhost:7420"));
        assert_eq!(origin_authority("https://fluxgraph.example.com"), Some("fluxgraph.example.com"));
        for no in ["null", "", "file://", "chrome-extension://abc", "http://a@evil.example", "http://evil.example/x", "localhost:7420"] {
            assert_eq!(origin_authority(no), None, "{no}");
        }
    }
}
