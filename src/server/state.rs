//! The server's state: the current snapshot behind an `Arc`, swapped whole when a new one
//! is built, and the channel that tells open pages about it.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio::sync::broadcast;

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
}

/// What the pages show: a snapshot, its version, and how the last refresh went.
#[derive(Debug, Clone)]
pub struct Current {
    pub snapshot: Arc<Snapshot>,
    /// Increases with every snapshot swapped in.
    pub version: u64,
    /// When the last refresh failed (the snapshot shown is then the last good one), why.
    pub failure: Option<String>,
    /// The source revision shown, when known (Flux artifact mode).
    pub revision: Option<String>,
    pub loaded_at: SystemTime,
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
}

impl AppState {
    pub fn new(options: Options) -> AppState {
        let (updates, _) = broadcast::channel(16);
        AppState { inner: Arc::new(Inner { current: RwLock::new(None), updates, options }) }
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The snapshot to show, or `None` before the first one is loaded.
    pub fn current(&self) -> Option<Arc<Current>> {
        self.inner.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Swaps in a new snapshot and tells every open page.
    pub fn publish(&self, snapshot: Snapshot, revision: Option<String>, message: Option<String>) {
        let (version, previous) = {
            let mut current = self.inner.current.write().unwrap_or_else(|e| e.into_inner());
            let version = current.as_ref().map_or(1, |c| c.version + 1);
            let next = Arc::new(Current { snapshot: Arc::new(snapshot), version, failure: None, revision, loaded_at: SystemTime::now() });
            (version, current.replace(next))
        };
        let ok = message.is_none();
        let _ = self.inner.updates.send(Update { version, ok, message: message.unwrap_or_default() });
        // The old snapshot is freed after the pages are told, off their critical path.
        drop(previous);
    }

    /// Records a failed refresh: the last good snapshot stays, and says so.
    pub fn fail(&self, why: String) {
        let version = {
            let mut current = self.inner.current.write().unwrap_or_else(|e| e.into_inner());
            match current.as_ref() {
                Some(c) => {
                    let kept = Current { failure: Some(why.clone()), ..(**c).clone() };
                    let version = kept.version;
                    *current = Some(Arc::new(kept));
                    version
                }
                None => 0,
            }
        };
        tracing::warn!(%why, "refresh failed; keeping the last good snapshot");
        let _ = self.inner.updates.send(Update { version, ok: false, message: why });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.inner.updates.subscribe()
    }

    /// A link inside the app, with the base path.
    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.inner.options.base_path, path)
    }

    /// The absolute URL of an app path, on the public host when one is set.
    pub fn share_url(&self, path_and_query: &str, host: Option<&str>) -> String {
        match (&self.inner.options.public_url, host) {
            (Some(public), _) => format!("{}{}", public.trim_end_matches('/'), path_and_query),
            (None, Some(host)) => format!("http://{host}{path_and_query}"),
            (None, None) => path_and_query.to_string(),
        }
    }
}
