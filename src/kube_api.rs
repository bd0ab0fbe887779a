//! The Kubernetes API, read within bounds: a path → its JSON (an object, a whole list, or a
//! watch's events one at a time). kube's client makes the connection (kubeconfig or service
//! account, TLS, authentication, its retries of 429 and 503); every answer is read here, so
//! that no API server, however broken or hostile, can exhaust memory or time:
//!
//! - a body is read up to [`Limits::max_bytes`] (64 MiB by default, `--max-api-bytes`), and a
//!   list's pages together too; a watch's body is read line by line, each line up to the same;
//! - lists come in pages (`limit`, `continue`);
//! - a request must have answered, body and all, within [`Limits::request_timeout`]; a watch
//!   its headers, and then a line at least every [`WATCH_SECONDS`] and a margin;
//! - a body that is not the JSON expected is named by its size and first bytes, never whole,
//!   and so is every error made here.
//!
//! [`Backoff`] spaces out the attempts of whoever retries: exponential, with jitter.

use std::time::Duration;

use axum::http::{Request, Response, header};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::model::link::encode;

/// How long the server is asked to keep a watch open before it ends it (and it is opened again).
pub const WATCH_SECONDS: u64 = 290;

/// How much one answer may hold and take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one body (a list: of all its pages), or of one line of a watch.
    pub max_bytes: usize,
    /// A request's whole answer (a watch: its headers).
    pub request_timeout: Duration,
    /// Objects asked for per page of a list.
    pub page_size: u32,
}

/// The default of `--max-api-bytes`.
pub const MAX_BYTES: usize = 64 << 20;

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_bytes: MAX_BYTES, request_timeout: Duration::from_secs(30), page_size: 500 }
    }
}

/// Why a read failed. Every message is short: a body appears by its size and first bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the Kubernetes API: {0}")]
    Unreachable(String),
    #[error("{path}: {code} {reason}: {message}")]
    Refused { path: String, code: u16, reason: String, message: String },
    #[error("{path}: the answer is over {limit} bytes, the most fluxgraph reads (--max-api-bytes)")]
    TooLarge { path: String, limit: usize },
    #[error("{path}: no answer within {} s", .after.as_secs())]
    TimedOut { path: String, after: Duration },
    #[error("{path}: the answer is not the JSON expected ({size} bytes, starting {head}): {why}")]
    Malformed { path: String, size: usize, head: String, why: String },
}

impl Error {
    /// The server no longer has the version asked for (410 Gone): list again.
    pub fn is_gone(&self) -> bool {
        matches!(self, Error::Refused { code: 410, .. })
    }

    /// The resource does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Refused { code: 404, .. })
    }
}

/// The first bytes of a body, quoted, for a message.
fn head(bytes: &[u8]) -> String {
    const SHOWN: usize = 64;
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]).into_owned();
    format!("{:?}{}", shown, if bytes.len() > SHOWN { "…" } else { "" })
}

/// `bytes` parsed as JSON, or why not (by size and first bytes).
fn parse(path: &str, bytes: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Malformed { path: path.to_string(), size: bytes.len(), head: head(bytes), why: e.to_string() })
}

/// Every object of a kind, as one consistent list.
#[derive(Debug, Clone, Default)]
pub struct List {
    pub items: Vec<Value>,
    /// Where a watch of the same kind starts.
    pub resource_version: String,
}

/// The API at the other end of a kube client, read within `limits`.
#[derive(Clone)]
pub struct Api {
    client: kube::Client,
    limits: Limits,
}

impl Api {
    pub fn new(client: kube::Client, limits: Limits) -> Api {
        Api { client, limits }
    }

    /// Sends `GET path`; the response once its headers are in, or why not (an error status
    /// read from its bounded body).
    async fn send(&self, path: &str) -> Result<Response<kube::client::Body>, Error> {
        let request = Request::get(path).header(header::ACCEPT, "application/json").body(kube::client::Body::from(Vec::new()));
        let request = request.map_err(|e| Error::Unreachable(format!("{path}: {e}")))?;
        let response = self.client.send(request).await.map_err(|e| Error::Unreachable(short(&e.to_string())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = self.body(path, response, self.limits.max_bytes).await.unwrap_or_default();
        let status_doc = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
        let text = |key: &str| status_doc[key].as_str().map(short);
        Err(Error::Refused {
            path: path.to_string(),
            code: status.as_u16(),
            reason: text("reason").unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string()),
            message: text("message").unwrap_or_else(|| head(&body)),
        })
    }

    /// A response's body, up to `limit` bytes.
    async fn body(&self, path: &str, response: Response<kube::client::Body>, limit: usize) -> Result<Vec<u8>, Error> {
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Error::Unreachable(format!("{path}: {}", short(&e.to_string()))))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > limit {
                    return Err(Error::TooLarge { path: path.to_string(), limit: self.limits.max_bytes });
                }
                bytes.extend_from_slice(data);
            }
        }
        Ok(bytes)
    }

    /// `GET path` as JSON, answered in full within the time limit.
    pub async fn get(&self, path: &str) -> Result<Value, Error> {
        self.read(path, self.limits.max_bytes).await.map(|(value, _)| value)
    }

    /// `GET path` as JSON and its size, its body at most `limit` bytes.
    async fn read(&self, path: &str, limit: usize) -> Result<(Value, usize), Error> {
        let read = async {
            let response = self.send(path).await?;
            let bytes = self.body(path, response, limit).await?;
            Ok((parse(path, &bytes)?, bytes.len()))
        };
        tokio::time::timeout(self.limits.request_timeout, read).await.unwrap_or_else(|_| Err(Error::TimedOut { path: path.to_string(), after: self.limits.request_timeout }))
    }

    /// Every object at the collection `path` (which may carry a query, e.g. a field
    /// selector), page by page; all pages together within the byte limit.
    pub async fn list(&self, path: &str) -> Result<List, Error> {
        let mut list = List::default();
        let mut bytes = 0usize;
        let mut token: Option<String> = None;
        loop {
            let mut url = format!("{path}{}limit={}", joiner(path), self.limits.page_size);
            if let Some(t) = &token {
                url.push_str(&format!("&continue={}", encode(t)));
            }
            // Every page within what the pages before it left of the limit.
            let (mut page, size) = self.read(&url, self.limits.max_bytes - bytes).await.map_err(|e| match e {
                Error::TooLarge { .. } => Error::TooLarge { path: path.to_string(), limit: self.limits.max_bytes },
                e => e,
            })?;
            bytes += size;
            if let Some(items) = page.get_mut("items").and_then(Value::as_array_mut) {
                list.items.append(items);
            }
            let metadata = &page["metadata"];
            list.resource_version = metadata["resourceVersion"].as_str().unwrap_or_default().to_string();
            token = metadata["continue"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(list);
            }
        }
    }

    /// Opens a watch of the collection `path` from `resource_version`; its events come from
    /// [`Watch::next`].
    pub async fn watch(&self, path: &str, resource_version: &str) -> Result<Watch, Error> {
        let url = format!(
            "{path}{}watch=true&allowWatchBookmarks=true&timeoutSeconds={WATCH_SECONDS}&resourceVersion={}",
            joiner(path),
            encode(resource_version)
        );
        let response = tokio::time::timeout(self.limits.request_timeout, self.send(&url))
            .await
            .unwrap_or_else(|_| Err(Error::TimedOut { path: path.to_string(), after: self.limits.request_timeout }))?;
        Ok(Watch {
            path: path.to_string(),
            body: response.into_body(),
            lines: Lines::new(self.limits.max_bytes),
            idle: Duration::from_secs(WATCH_SECONDS) + self.limits.request_timeout,
        })
    }
}

/// `?` to start a query, `&` to add to one.
fn joiner(path: &str) -> char {
    if path.contains('?') { '&' } else { '?' }
}

/// An error's text, cut to a line's length: a client error may quote what it received.
fn short(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// An open watch.
pub struct Watch {
    path: String,
    body: kube::client::Body,
    lines: Lines,
    /// The longest silence taken before the watch is given up.
    idle: Duration,
}

impl Watch {
    /// The next event (`{"type": …, "object": …}`); `None` when the server ended the watch.
    /// After an error, the watch is over.
    pub async fn next(&mut self) -> Option<Result<Value, Error>> {
        loop {
            match self.lines.next_line() {
                Ok(Some(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(Some(line)) => return Some(parse(&self.path, &line)),
                Ok(None) => {}
                Err(()) => return Some(Err(Error::TooLarge { path: self.path.clone(), limit: self.lines.max })),
            }
            match tokio::time::timeout(self.idle, self.body.frame()).await {
                Err(_) => return Some(Err(Error::TimedOut { path: self.path.clone(), after: self.idle })),
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some(Err(Error::Unreachable(format!("{}: {}", self.path, short(&e.to_string()))))),
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        self.lines.push(data);
                    }
                }
            }
        }
    }
}

/// Bytes in, lines out (without their `\n`), none longer than `max`: a line over it is an
/// error as soon as it is, not once it ends.
#[derive(Debug)]
pub struct Lines {
    buffer: Vec<u8>,
    /// How far `buffer` is known to hold no line end.
    scanned: usize,
    max: usize,
}

impl Lines {
    pub fn new(max: usize) -> Lines {
        Lines { buffer: Vec::new(), scanned: 0, max }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        // Grown by doubling, but never past the limit and this piece: a line that will be
        // refused does not get twice its room first.
        let needed = self.buffer.len() + bytes.len();
        if needed > self.buffer.capacity() {
            let room = (self.buffer.capacity() * 2).clamp(needed, needed.max(self.max + 1));
            self.buffer.reserve_exact(room - self.buffer.len());
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole line; `Ok(None)` when more bytes are needed; `Err` when the line being
    /// read is over the limit.
    #[allow(clippy::result_unit_err)] // the caller knows the limit and names it
    pub fn next_line(&mut self) -> Result<Option<Vec<u8>>, ()> {
        match self.buffer[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(at) => {
                let end = self.scanned + at;
                if end > self.max {
                    return Err(());
                }
                let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                line.pop();
                self.scanned = 0;
                Ok(Some(line))
            }
            None if self.buffer.len() > self.max => Err(()),
            None => {
                self.scanned = self.buffer.len();
                Ok(None)
            }
        }
    }
}

/// Waits between attempts: doubling from `first` up to `most`, each wait drawn between half
/// and all of it (jitter), so that many clients of one server do not come back together.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    most: Duration,
    next: Duration,
    seed: u64,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    pub fn new(first: Duration, most: Duration) -> Backoff {
        // Any varying seed will do: the jitter only keeps clients apart.
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1;
        Backoff { first, most, next: first, seed }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        // xorshift64: enough randomness for spreading retries.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let full = self.next;
        self.next = (self.next * 2).min(self.most);
        let half = full / 2;
        half + half.mul_f64((self.seed % 1_000) as f64 / 1_000.0)
    }

    /// After a success: the next failure waits the shortest again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_a_line_over_the_limit_fails_before_it_ends() {
        let mut lines = Lines::new(8);
        lines.push(b"{\"a\":1}\n{\"b\"");
        assert_eq!(lines.next_line(), Ok(Some(b"{\"a\":1}".to_vec())));
        assert_eq!(lines.next_line(), Ok(None));
        lines.push(b":2}\n\n");
        assert_eq!(lines.next_line(), Ok(Some(b"{\"b\":2}".to_vec())));
        assert_eq!(lines.next_line(), Ok(Some(Vec::new())));
        lines.push(b"123456789");
        assert_eq!(lines.next_line(), Err(()), "nine bytes and no end yet");
        let mut whole = Lines::new(8);
        whole.push(b"123456789\n");
        assert_eq!(whole.next_line(), Err(()));
    }

    #[test]
    fn backoff_doubles_up_to_its_most_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(800));
        let waits: Vec<Duration> = (0..6).map(|_| b.next_wait()).collect();
        for (wait, full) in waits.iter().zip([100, 200, 400, 800, 800, 800]) {
            let full = Duration::from_millis(full);
            assert!(*wait >= full / 2 && *wait <= full, "{wait:?} within half of {full:?}");
        }
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(100));
    }

    #[test]
    fn a_body_that_is_not_json_is_named_by_its_size_and_first_bytes() {
        let body = format!("<html>{}</html>", "x".repeat(10 << 20));
        let e = parse("/apis/x", body.as_bytes()).unwrap_err();
        let text = e.to_string();
        assert!(text.len() < 400, "{} bytes of message", text.len());
        assert!(text.contains(&format!("{} bytes", body.len())) && text.contains("<html>xxx"), "{text}");
    }
}
