//! The server's state: the current snapshot behind an `Arc`, swapped whole when a new one
//! is built, the pages drawn from it, and the channel that tells open pages about it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::cache::Cache;
use super::live::Live;
use crate::snapshot::Snapshot;

/// How the server was started: what links look like.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The public URL (`https://fluxgraph.example.com`): shared links point there.
    pub public_url: Option<String>,
    /// The forge URL of the repository's tree (`https://github.com/me/home-ops/blob/main`):
    /// file:line links point there.
    pub repo_url: Option<String>,
    /// A path prefix (`/fluxgraph`) the app is served under; empty for the root.
    pub base_path: String,
    /// Host names answered besides the loopback names, the listening address and the public
    /// URL's host (`--allowed-host`); `name` matches any port, `name:port` that port only.
    pub allowed_hosts: Vec<String>,
    /// Folders of the server's machine (the repository as given, the artifact folder) whose
    /// absolute paths never appear in a response: messages name what is inside them relative
    /// to them. The snapshot's own root is always hidden.
    pub hidden_paths: Vec<PathBuf>,
    pub limits: Limits,
    /// The entry point the snapshots are read with (`--entry`): the diff page reads revisions
    /// with it too.
    pub entry: Option<String>,
    /// The limits of every read of the repository (`--max-files`, `--max-repository-bytes`):
    /// the diff page's reads of revisions take them too.
    pub read: crate::load::ReadOptions,
}

/// What one client may hold of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A request's headers must have arrived in full this long after the connection opened
    /// or the previous response ended, or the connection is closed (slowloris, idle
    /// keep-alive connections).
    pub header_timeout: Duration,
    /// A response the client does not read for this long is abandoned and its connection
    /// closed.
    pub write_timeout: Duration,
    /// Connections open at once; beyond, a connection is answered 503 and closed.
    pub max_connections: usize,
    /// Open pages following updates (`/events`), and MCP clients following theirs (`GET
    /// /mcp`), at once; beyond, 503.
    pub max_subscribers: usize,
    /// MCP sessions open at once (each a client that sent `initialize` to `/mcp`, kept until
    /// it ends it or is idle for `mcp_idle`); beyond, a new one is answered 503.
    pub max_mcp_sessions: usize,
    /// How long an MCP session may stay idle before it is closed.
    pub mcp_idle: Duration,
    /// The largest MCP message a client may post (JSON-RPC requests are small).
    pub max_mcp_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 256,
            max_subscribers: 128,
            max_mcp_sessions: 64,
            mcp_idle: Duration::from_secs(300),
            max_mcp_body: 256 * 1024,
        }
    }
}

/// What the pages show: a snapshot, its version, and how the last refresh went.
#[derive(Debug, Clone)]
pub struct Current {
    pub snapshot: Arc<Snapshot>,
    /// Increases with every snapshot swapped in.
    pub version: u64,
    /// When the last refresh failed (the snapshot shown is then the last good one), why.
    pub failure: Option<String>,
    /// True while the repository itself is gone (its folder deleted, to be created again):
    /// the last good snapshot is still shown, but `/readyz` answers 503.
    pub source_missing: bool,
    /// The source revision shown, when known (Flux artifact mode).
    pub revision: Option<String>,
    pub loaded_at: SystemTime,
    /// Changes with every snapshot swapped in and every failed refresh: what the page cache
    /// is keyed on.
    pub generation: u64,
}

/// What the event stream tells pages after a refresh.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Update {
    pub version: u64,
    /// False when the refresh failed or the change broke a file.
    pub ok: bool,
    pub message: String,
}

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Option<Arc<Current>>>,
    updates: broadcast::Sender<Update>,
    options: Options,
    pages: Cache,
    subscribers: AtomicUsize,
    /// The address bound, once `serve` has bound it.
    listening: OnceLock<SocketAddr>,
    /// True once the server is shutting down: the event streams end.
    closing: tokio::sync::watch::Sender<bool>,
    /// The cluster's live status, when it is watched.
    live: Live,
    /// The MCP sessions of `/mcp`, and what ends them when the server stops.
    mcp_sessions: Arc<LocalSessionManager>,
    mcp_stop: CancellationToken,
}

/// Holds one of the `/events` places; gives it back when dropped.
pub struct Subscriber {
    state: AppState,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.state.inner.subscribers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AppState {
    pub fn new(options: Options) -> AppState {
        let (updates, _) = broadcast::channel(16);
        AppState {
            inner: Arc::new(Inner {
                current: RwLock::new(None),
                updates,
                pages: Cache::default(),
                subscribers: AtomicUsize::new(0),
                listening: OnceLock::new(),
                closing: tokio::sync::watch::Sender::new(false),
                live: Live::default(),
                mcp_sessions: Arc::new(mcp_sessions(&options.limits)),
                mcp_stop: CancellationToken::new(),
                options,
            }),
        }
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The snapshot to show, or `None` before the first one is loaded.
    pub fn current(&self) -> Option<Arc<Current>> {
        self.inner.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Swaps in a new snapshot and tells every open page.
    pub fn publish(&self, mut snapshot: Snapshot, revision: Option<String>, message: Option<String>) {
        hide_paths(&mut snapshot, &self.inner.options.hidden_paths);
        let message = message.map(|m| self.hide(&m, Some(&snapshot)));
        let (version, generation, previous) = {
            let mut current = self.inner.current.write().unwrap_or_else(|e| e.into_inner());
            let version = current.as_ref().map_or(1, |c| c.version + 1);
            let generation = current.as_ref().map_or(1, |c| c.generation + 1);
            let next = Arc::new(Current { snapshot: Arc::new(snapshot), version, failure: None, source_missing: false, revision, loaded_at: SystemTime::now(), generation });
            (version, generation, current.replace(next))
        };
        // Pages drawn from the old snapshot go with it (off the lock, before the pages are told).
        self.inner.pages.reset(generation);
        let ok = message.is_none();
        let _ = self.inner.updates.send(Update { version, ok, message: message.unwrap_or_default() });
        // The old snapshot is freed after the pages are told, off their critical path.
        drop(previous);
    }

    /// Shows the cluster's live status from now on (`--kube-status`, `--flux-source`).
    pub fn enable_status(&self) {
        self.inner.live.enable();
    }

    /// Applies a status watcher's event and tells open pages.
    pub fn status_event(&self, event: crate::status::Event) {
        let current = self.current();
        self.inner.live.apply(event, current.as_ref().map(|c| (&*c.snapshot, c.version)));
    }

    pub fn live(&self) -> &Live {
        &self.inner.live
    }

    /// Records a failed refresh: the last good snapshot stays, and says so. The log keeps
    /// the whole message; pages see it without the server's paths.
    pub fn fail(&self, why: String) {
        self.fail_with(why, false);
    }

    /// Records that the repository is gone (its folder deleted): a failed refresh that also
    /// makes the server unready until a snapshot is published again.
    pub fn source_gone(&self, why: String) {
        self.fail_with(why, true);
    }

    fn fail_with(&self, why: String, source_missing: bool) {
        tracing::warn!(%why, "refresh failed; keeping the last good snapshot");
        let (version, generation, why) = {
            let mut current = self.inner.current.write().unwrap_or_else(|e| e.into_inner());
            let why = self.hide(&why, current.as_ref().map(|c| c.snapshot.as_ref()));
            match current.as_ref() {
                Some(c) => {
                    let kept = Current { failure: Some(why.clone()), source_missing, generation: c.generation + 1, ..(**c).clone() };
                    let (version, generation) = (kept.version, kept.generation);
                    *current = Some(Arc::new(kept));
                    (version, generation, why)
                }
                None => (0, 0, why),
            }
        };
        self.inner.pages.reset(generation);
        let _ = self.inner.updates.send(Update { version, ok: false, message: why });
    }

    /// `text` without the absolute paths of the server's folders.
    fn hide(&self, text: &str, snapshot: Option<&Snapshot>) -> String {
        let roots = snapshot.map(|s| s.repository.root.clone());
        hide_in(text, self.inner.options.hidden_paths.iter().chain(roots.iter()))
    }

    /// The rendered pages of the current snapshot (tests read how much it holds).
    pub fn pages(&self) -> &Cache {
        &self.inner.pages
    }

    /// Takes one of the `/events` places, or `None` when all are taken.
    pub fn subscriber(&self) -> Option<Subscriber> {
        let max = self.inner.options.limits.max_subscribers;
        let before = self.inner.subscribers.fetch_add(1, Ordering::SeqCst);
        let taken = Subscriber { state: self.clone() };
        (before < max).then_some(taken)
    }

    /// Completes when the server starts shutting down.
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.inner.closing.subscribe();
        async move {
            let _ = closing.wait_for(|c| *c).await;
        }
    }

    /// Ends the event streams and the MCP sessions: the server is shutting down.
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
        self.inner.mcp_stop.cancel();
    }

    /// The MCP sessions open on `/mcp`.
    pub(crate) fn mcp_sessions(&self) -> &Arc<LocalSessionManager> {
        &self.inner.mcp_sessions
    }

    /// Cancelled when the server stops: rmcp's streams and sessions end with it.
    pub(crate) fn mcp_stop(&self) -> &CancellationToken {
        &self.inner.mcp_stop
    }

    /// Records the address `serve` bound.
    pub fn set_listening(&self, address: SocketAddr) {
        let _ = self.inner.listening.set(address);
    }

    pub fn listening(&self) -> Option<SocketAddr> {
        self.inner.listening.get().copied()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.inner.updates.subscribe()
    }

    /// A link inside the app, with the base path.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.inner.options.base_path, path)
    }

    /// The absolute URL of an app path to copy: on the public host when one is set, else on
    /// the address listened on. Never the request's `Host`, which the client chose. Empty
    /// when listening on every interface without a public URL: the page then copies the
    /// address the browser shows.
    pub fn share_url(&self, path_and_query: &str) -> String {
        match (&self.inner.options.public_url, self.listening()) {
            (Some(public), _) => format!("{}{}", public.trim_end_matches('/'), path_and_query),
            (None, Some(address)) if !address.ip().is_unspecified() => format!("http://{address}{path_and_query}"),
            (None, _) => String::new(),
        }
    }
}

impl crate::snapshot::Sink for AppState {
    fn shown(&self) -> Option<Arc<Snapshot>> {
        self.current().map(|c| Arc::clone(&c.snapshot))
    }

    fn publish(&self, snapshot: Snapshot, revision: Option<String>, message: Option<String>) {
        AppState::publish(self, snapshot, revision, message);
    }

    fn fail(&self, why: String) {
        AppState::fail(self, why);
    }

    fn source_gone(&self, why: String) {
        AppState::source_gone(self, why);
    }
}

/// The `/mcp` session store: sessions closed when idle, and when `initialize` does not come.
fn mcp_sessions(limits: &Limits) -> LocalSessionManager {
    let mut config = SessionConfig::default();
    config.keep_alive = Some(limits.mcp_idle);
    config.init_timeout = Some(limits.header_timeout);
    let mut sessions = LocalSessionManager::default();
    sessions.session_config = config;
    sessions
}

/// Rewrites the snapshot's messages so that they name files relative to its root.
pub(crate) fn hide_paths(snapshot: &mut Snapshot, hidden: &[PathBuf]) {
    let folders: Vec<PathBuf> = hidden.iter().chain(std::iter::once(&snapshot.repository.root)).cloned().collect();
    let diagnostics = snapshot
        .diagnostics
        .iter_mut()
        .chain(snapshot.repository.diagnostics.iter_mut())
        .chain(snapshot.clusters.iter_mut().flat_map(|c| c.analysis.diagnostics.iter_mut()));
    for d in diagnostics {
        for text in std::iter::once(&mut d.message).chain(d.hint.as_mut()) {
            if folders.iter().any(|f| !f.as_os_str().is_empty() && text.contains(&*f.to_string_lossy())) {
                *text = hide_in(text, folders.iter());
            }
        }
    }
}

/// `text` with every `folder/` taken out (what is inside it is named relative to it) and
/// every bare `folder` named by its last component; longest folders first. A folder counts
/// only where a path can start (not inside `apps/tmp/…` when `/tmp` is hidden).
pub fn hide_in<'a>(text: &str, folders: impl Iterator<Item = &'a PathBuf>) -> String {
    let mut folders: Vec<String> = folders.map(|f| f.to_string_lossy().trim_end_matches('/').to_string()).filter(|f| f.len() > 1).collect();
    folders.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut out = text.to_string();
    for folder in folders {
        let name = folder.rsplit(['/', '\\']).next().filter(|n| !n.is_empty()).unwrap_or(".");
        let mut rest = out.as_str();
        let mut done = String::with_capacity(out.len());
        while let Some(i) = rest.find(&folder) {
            let starts_path = rest[..i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || "/\\._-~".contains(c)));
            let after = &rest[i + folder.len()..];
            let next = after.chars().next();
            done.push_str(&rest[..i]);
            if !starts_path || next.is_some_and(|c| c.is_alphanumeric() || "._-~".contains(c)) {
                // Not this folder: part of a longer name.
                done.push_str(&folder);
                rest = after;
            } else if let Some(inside) = after.strip_prefix('/').or_else(|| after.strip_prefix('\\')) {
                rest = inside;
            } else {
                done.push_str(name);
                rest = after;
            }
        }
        done.push_str(rest);
        out = done;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_hidden() {
        let hidden = [PathBuf::from("/home/me/home-ops"), PathBuf::from("/tmp")];
        let cases = [
            ("cannot read /home/me/home-ops: not a directory", "cannot read home-ops: not a directory"),
            ("could not read: /home/me/home-ops/apps/a.yaml: Permission denied", "could not read: apps/a.yaml: Permission denied"),
            ("cannot create /tmp/fluxgraph/artifact-1: full", "cannot create fluxgraph/artifact-1: full"),
            ("apps/tmp/x and /home/me/home-ops-old/y", "apps/tmp/x and /home/me/home-ops-old/y"),
            ("(/tmp)", "(tmp)"),
        ];
        for (text, want) in cases {
            assert_eq!(hide_in(text, hidden.iter()), want, "{text}");
        }
    }
}
