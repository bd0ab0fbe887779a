//! Rendered responses, kept per snapshot: a page is drawn once for each URL (the view state
//! is the query string) and snapshot, off the async runtime, and every later request for it
//! is a copy of bytes. Requests that arrive while a page is being drawn wait for that one
//! drawing instead of starting their own.
//!
//! Drawings are admitted by their [`Lane`]: pages run at most one per core at a time, the
//! others waiting their turn; diffs (which read two revisions, seconds each on a large
//! repository) run in a lane of their own, at most one per core, with a short queue behind,
//! and beyond it a request is refused at once ([`Busy`]). So `/healthz`, `/readyz` and the
//! pages never wait behind a diff, and a crowd of diffs cannot queue without end. A place is
//! held until the work is done, even when its client has gone.
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

/// Diffs waiting for a turn beyond those running; more are refused.
pub const DIFF_QUEUE: usize = 4;

/// Which drawings a drawing waits behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Pages,
    Diffs,
}

/// The work was not admitted: the lane's queue is full. Try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Work admitted through a bounded queue: at most `running` at a time, at most `queue` more
/// waiting.
pub struct Admission {
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

impl Admission {
    pub fn new(running: usize, queue: usize) -> Admission {
        Admission { admitted: Arc::new(Semaphore::new(running.saturating_add(queue).min(Semaphore::MAX_PERMITS))), running: Arc::new(Semaphore::new(running)) }
    }

    /// Runs `work` on the blocking pool once its turn comes; [`Busy`] at once when the queue
    /// is full. The places go with the work, so a client that leaves frees none while its
    /// work still runs.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<Option<T>, Busy> {
        let admitted = Arc::clone(&self.admitted).try_acquire_owned().map_err(|_| Busy)?;
        // The semaphores are never closed.
        let Ok(running) = Arc::clone(&self.running).acquire_owned().await else { return Err(Busy) };
        let done = tokio::task::spawn_blocking(move || {
            let _places = (admitted, running);
            work()
        });
        Ok(done.await.map_err(|e| tracing::error!(error = %e, "rendering a page failed")).ok())
    }
}

/// The cache, and the lanes drawings are admitted through.
pub struct Cache {
    entries: Mutex<Entries>,
    pages: Admission,
    diffs: Admission,
}

impl Default for Cache {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Cache { entries: Mutex::default(), pages: Admission::new(cores, Semaphore::MAX_PERMITS), diffs: Admission::new(cores, DIFF_QUEUE) }
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
    /// pool through `lane` when it is not there yet; [`Busy`] when the lane refused it (it is
    /// then not cached, and a later request tries again). A request holding an older
    /// generation than the cache's is answered without touching it.
    pub async fn get_or_render(&self, generation: u64, key: String, lane: Lane, render: impl FnOnce() -> Rendered + Send + 'static) -> Result<Arc<Rendered>, Busy> {
        let cell = {
            let mut e = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if generation > e.generation {
                *e = Entries { generation, ..Entries::default() };
            }
            (generation == e.generation).then(|| Arc::clone(e.cells.entry(key.clone()).or_default()))
        };
        let Some(cell) = cell else { return self.draw(lane, render).await };
        let mut fresh = false;
        let rendered = Arc::clone(
            cell.get_or_try_init(|| {
                fresh = true;
                self.draw(lane, render)
            })
            .await?,
        );
        if fresh {
            // The key and the map's own share count too: many small entries are not free.
            let size = rendered.size() + key.len() + 256;
            self.account(generation, key, size);
        }
        Ok(rendered)
    }

    /// Runs `work` through `lane`, uncached: what is not a page (an MCP tool's answer) waits
    /// its turn with the pages of its kind. `None` when the work panicked.
    pub async fn admit<T: Send + 'static>(&self, lane: Lane, work: impl FnOnce() -> T + Send + 'static) -> Result<Option<T>, Busy> {
        self.admission(lane).run(work).await
    }

    fn admission(&self, lane: Lane) -> &Admission {
        match lane {
            Lane::Pages => &self.pages,
            Lane::Diffs => &self.diffs,
        }
    }

    async fn draw(&self, lane: Lane, render: impl FnOnce() -> Rendered + Send + 'static) -> Result<Arc<Rendered>, Busy> {
        Ok(Arc::new(self.admission(lane).run(render).await?.unwrap_or_else(|| {
            Rendered::new(StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", "this page could not be drawn\n".into())
        })))
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
            let r = cache.get_or_render(1, "/".into(), Lane::Pages, draw(&drawn)).await.unwrap();
            assert_eq!(r.body.len(), 2000);
            assert!(r.response(&HeaderMap::new()).await.headers().get(header::CONTENT_ENCODING).is_none());
            assert_eq!(r.response(&gzip).await.headers()[header::CONTENT_ENCODING], "gzip");
            assert!(r.gzip.get().cloned().flatten().is_some_and(|z| z.len() < 2000));
        }
        assert_eq!(drawn.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(cache.usage().0, 1);
        // A request still holding generation 1 after 2 came in is answered, not cached.
        cache.get_or_render(2, "/".into(), Lane::Pages, draw(&drawn)).await.unwrap();
        cache.get_or_render(1, "/".into(), Lane::Pages, draw(&drawn)).await.unwrap();
        assert_eq!(drawn.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(cache.usage().0, 1);
        cache.reset(3);
        assert_eq!(cache.usage(), (0, 0));
    }

    /// At most one diff per core runs and a few wait; the next is refused at once, and a
    /// refused key is drawn again later, not cached as a failure.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn diffs_beyond_the_queue_are_refused_at_once() {
        let cache = Arc::new(Cache::default());
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let release = Arc::new(std::sync::Barrier::new(cores + 1));
        let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut held = Vec::new();
        for i in 0..cores + DIFF_QUEUE {
            let (cache, release, started) = (Arc::clone(&cache), Arc::clone(&release), Arc::clone(&started));
            held.push(tokio::spawn(async move {
                cache
                    .get_or_render(1, format!("diff {i}"), Lane::Diffs, move || {
                        if started.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < cores {
                            release.wait();
                        }
                        Rendered::html(StatusCode::OK, "diff".into())
                    })
                    .await
            }));
        }
        while started.load(std::sync::atomic::Ordering::SeqCst) < cores {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(cache.get_or_render(1, "diff x".into(), Lane::Diffs, || Rendered::html(StatusCode::OK, "x".into())).await.err(), Some(Busy));
        // Pages do not wait behind the diffs.
        let page = tokio::time::timeout(std::time::Duration::from_secs(5), cache.get_or_render(1, "/".into(), Lane::Pages, || Rendered::html(StatusCode::OK, "page".into())));
        assert!(page.await.is_ok_and(|r| r.is_ok()), "a page is drawn while every diff place is taken");
        tokio::task::spawn_blocking(move || release.wait()).await.unwrap();
        for h in held {
            assert!(h.await.unwrap().is_ok());
        }
        let again = cache.get_or_render(1, "diff x".into(), Lane::Diffs, || Rendered::html(StatusCode::OK, "x".into())).await;
        assert_eq!(again.unwrap().body, "x");
    }
}
