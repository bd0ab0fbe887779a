//! Rendered responses, kept per snapshot: a page is drawn once for each URL (the view state
//! is the query string) and snapshot, off the async runtime, and every later request for it
//! is a copy of bytes. Requests that arrive while a page is being drawn wait for that one
//! drawing instead of starting their own, and at most one drawing per core runs at a time,
//! so that `/healthz` and `/readyz` (which touch nothing heavy) are answered at once
//! whatever the pages cost.
//!
//! The cache belongs to one snapshot generation: swapping a snapshot in (or recording a
//! failed refresh, which changes the banner) empties it. It holds at most [`BUDGET`] bytes
//! (the compressed copies made later are not counted); the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OnceCell, Semaphore};

/// The most bytes (bodies plain and compressed, keys) the cache keeps.
pub const BUDGET: usize = 48 << 20;

/// A response as the cache keeps it: its body, and the body gzip-compressed once a client
/// that accepts gzip has asked for it.
#[derive(Debug)]
pub struct Rendered {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    gzip: OnceCell<Option<Bytes>>,
}

/// Bodies smaller than this are sent as they are.
const COMPRESS_ABOVE: usize = 1024;

impl Rendered {
    pub fn new(status: StatusCode, content_type: &'static str, body: String) -> Rendered {
        Rendered { status, content_type, body: Bytes::from(body), gzip: OnceCell::new() }
    }

    pub fn html(status: StatusCode, body: String) -> Rendered {
        Rendered::new(status, "text/html; charset=utf-8", body)
    }

    fn worth_compressing(&self) -> bool {
        self.body.len() > COMPRESS_ABOVE
    }

    fn size(&self) -> usize {
        self.body.len() + self.gzip.get().and_then(Option::as_ref).map_or(0, Bytes::len)
    }

    /// The body compressed, made on the blocking pool by the first request that wants it.
    async fn gzip(self: &Arc<Self>) -> Option<Bytes> {
        let this = Arc::clone(self);
        self.gzip
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(this.body.len() / 6), flate2::Compression::fast());
                    encoder.write_all(&this.body).ok()?;
                    encoder.finish().ok().map(Bytes::from)
                })
                .await
                .ok()
                .flatten()
            })
            .await
            .clone()
    }

    /// The response for a request with these headers: compressed when the client accepts it
    /// (the compression layer leaves a response with a `Content-Encoding` alone, and one
    /// whose client does not take gzip).
    pub async fn response(self: &Arc<Self>, request: &HeaderMap) -> Response {
        let gzip = match self.worth_compressing() && accepts_gzip(request) {
            true => self.gzip().await,
            false => None,
        };
        let compressed = gzip.is_some();
        let body = gzip.unwrap_or_else(|| self.body.clone());
        let mut response = (self.status, [(header::CONTENT_TYPE, self.content_type)], body).into_response();
        let headers = response.headers_mut();
        if compressed {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if self.worth_compressing() {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        response
    }
}

/// Whether `Accept-Encoding` lists gzip (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

type Cell = Arc<OnceCell<Arc<Rendered>>>;

#[derive(Default)]
struct Entries {
    /// The snapshot generation the entries were drawn from.
    generation: u64,
    cells: HashMap<String, Cell>,
    /// Finished entries, oldest first, with their sizes.
    order: VecDeque<(String, usize)>,
    bytes: usize,
}

/// The cache, and the permits that bound how many drawings run at once.
pub struct Cache {
    entries: Mutex<Entries>,
    drawing: Semaphore,
}

impl Default for Cache {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Cache { entries: Mutex::default(), drawing: Semaphore::new(cores) }
    }
}

impl Cache {
    /// Forgets everything drawn from generations before `generation`.
    pub fn reset(&self, generation: u64) {
        let old = {
            let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if generation <= e.generation {
                return;
            }
            std::mem::replace(&mut *e, Entries { generation, ..Entries::default() })
        };
        drop(old);
    }

    /// The response cached under `key` for `generation`, drawn by `render` on the blocking
    /// pool when it is not there yet. A request holding an older generation than the cache's
    /// is answered without touching it.
    pub async fn get_or_render(&self, generation: u64, key: String, render: impl FnOnce() -> Rendered + Send + 'static) -> Arc<Rendered> {
        let cell = {
            let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if generation > e.generation {
                *e = Entries { generation, ..Entries::default() };
            }
            (generation == e.generation).then(|| Arc::clone(e.cells.entry(key.clone()).or_default()))
        };
        let Some(cell) = cell else { return self.draw(render).await };
        let mut fresh = false;
        let rendered = Arc::clone(
            cell.get_or_init(|| {
                fresh = true;
                self.draw(render)
            })
            .await,
        );
        if fresh {
            // The key and the map's own share count too: many small entries are not free.
            let size = rendered.size() + key.len() + 256;
            self.account(generation, key, size);
        }
        rendered
    }

    async fn draw(&self, render: impl FnOnce() -> Rendered + Send + 'static) -> Arc<Rendered> {
        // The semaphore is never closed.
        let _permit = self.drawing.acquire().await.ok();
        match tokio::task::spawn_blocking(render).await {
            Ok(rendered) => Arc::new(rendered),
            Err(e) => {
                tracing::error!(error = %e, "rendering a page failed");
                Arc::new(Rendered::new(StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", "this page could not be drawn\n".into()))
            }
        }
    }

    /// Counts a finished entry and evicts the oldest ones beyond the budget.
    fn account(&self, generation: u64, key: String, size: usize) {
        let evicted: Vec<Cell> = {
            let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if e.generation != generation || !e.cells.contains_key(&key) {
                return;
            }
            e.bytes += size;
            e.order.push_back((key, size));
            let mut evicted = Vec::new();
            while e.bytes > BUDGET && e.order.len() > 1 {
                let Some((old, size)) = e.order.pop_front() else { break };
                e.bytes -= size;
                evicted.extend(e.cells.remove(&old));
            }
            evicted
        };
        drop(evicted);
    }

    /// How many entries and bytes the cache holds (for tests and logs).
    pub fn usage(&self) -> (usize, usize) {
        let e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        (e.order.len(), e.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        for (value, yes) in [("gzip", true), ("deflate, gzip;q=0.5", true), ("br", false), ("gzip;q=0", false), ("*", true), ("identity", false)] {
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            assert_eq!(accepts_gzip(&h), yes, "{value}");
        }
    }

    #[tokio::test]
    async fn one_drawing_per_key_and_generation() {
        let cache = Cache::default();
        let drawn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let draw = |n: &Arc<std::sync::atomic::AtomicUsize>| {
            let n = Arc::clone(n);
            move || {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Rendered::html(StatusCode::OK, "x".repeat(2000))
            }
        };
        let mut gzip = HeaderMap::new();
        gzip.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        for _ in 0..3 {
            let r = cache.get_or_render(1, "/".into(), draw(&drawn)).await;
            assert_eq!(r.body.len(), 2000);
            assert!(r.response(&HeaderMap::new()).await.headers().get(header::CONTENT_ENCODING).is_none());
            assert_eq!(r.response(&gzip).await.headers()[header::CONTENT_ENCODING], "gzip");
            assert!(r.gzip.get().cloned().flatten().is_some_and(|z| z.len() < 2000));
        }
        assert_eq!(drawn.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(cache.usage().0, 1);
        // A request still holding generation 1 after 2 came in is answered, not cached.
        cache.get_or_render(2, "/".into(), draw(&drawn)).await;
        cache.get_or_render(1, "/".into(), draw(&drawn)).await;
        assert_eq!(drawn.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(cache.usage().0, 1);
        cache.reset(3);
        assert_eq!(cache.usage(), (0, 0));
    }
}
