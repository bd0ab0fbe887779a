//! The cluster's live status as the server holds it: the [`Store`] the watchers feed, which
//! cluster of the snapshot it is (the one holding most of the live objects), that view's
//! counts kept up to date event by event, and a channel that tells open pages of each
//! change (the `status` events of `/events`). An event costs a map update and one small
//! JSON message; the root blockers are computed only when a page or the API asks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::model::{Kind, ObjectId};
use crate::snapshot::Snapshot;
use crate::status::{self, Counts, Event, ObjectStatus, Store, report};

/// What `/events` sends pages after status events: the changes of the view's objects.
#[derive(Debug, Clone, Serialize)]
pub struct StatusUpdate {
    pub version: u64,
    /// The repository's cluster the status is of.
    pub cluster: String,
    pub changes: Vec<Change>,
    pub counts: Counts,
    pub stale: Option<report::Stale>,
    /// Pages should fetch the whole status again (a relist, a new snapshot, a source's new
    /// revision, which changes what is behind).
    pub resync: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: ObjectId,
    #[serde(flatten)]
    pub status: ObjectStatus,
}

pub struct Live {
    enabled: AtomicBool,
    inner: Mutex<Inner>,
    updates: broadcast::Sender<Arc<str>>,
}

#[derive(Default)]
pub struct Inner {
    pub store: Store,
    pub version: u64,
    matched: Option<Matched>,
}

/// The snapshot cluster the store is matched to, and its counts.
struct Matched {
    /// `Current::version` of the snapshot matched.
    snapshot: u64,
    index: usize,
    counts: Counts,
}

impl Default for Live {
    fn default() -> Live {
        Live { enabled: AtomicBool::new(false), inner: Mutex::default(), updates: broadcast::channel(1024).0 }
    }
}

impl Live {
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::SeqCst);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.updates.subscribe()
    }

    /// Applies a watcher's event against the snapshot shown (`version`), and tells pages.
    pub fn apply(&self, event: Event, snapshot: Option<(&Snapshot, u64)>) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let stale_before = inner.store.stale();
        let (single, resync_kind) = match &event {
            Event::Applied(id, s) => (Some((id.clone(), inner.store.state(id))), id.kind.is_source() && inner.store.get(id).map(|o| &o.artifact_revision) != Some(&s.artifact_revision)),
            Event::Deleted(id) => (Some((id.clone(), inner.store.state(id))), false),
            _ => (None, true),
        };
        let changed = inner.store.apply(event);
        let stale_changed = inner.store.stale() != stale_before;
        if changed.is_empty() && !stale_changed && !resync_kind {
            return;
        }
        inner.version += 1;
        let Some((snapshot, snapshot_version)) = snapshot else { return };
        let rematch = resync_kind || inner.matched.as_ref().is_none_or(|m| m.snapshot != snapshot_version);
        if rematch {
            inner.matched = status::matching_cluster(snapshot, &inner.store).map(|index| Matched { snapshot: snapshot_version, index, counts: status::counts(&snapshot.clusters[index], &inner.store) });
        }
        let Some(matched) = inner.matched.as_mut() else { return };
        let view = &snapshot.clusters[matched.index];
        match single {
            Some((id, old)) if !rematch && view.cluster.objects.contains_key(&id) => {
                matched.counts.remove(old);
                matched.counts.add(inner.store.state(&id));
            }
            _ => {}
        }
        if self.updates.receiver_count() == 0 {
            return;
        }
        let changes = changed
            .iter()
            .filter(|id| view.cluster.objects.contains_key(id))
            .map(|id| Change { id: id.clone(), status: inner.store.status(id).into_owned() })
            .collect();
        let update = StatusUpdate { version: inner.version, cluster: view.cluster.name.clone(), changes, counts: matched.counts.clone(), stale: report::stale(&inner.store), resync: rematch };
        if let Ok(json) = serde_json::to_string(&update) {
            let _ = self.updates.send(Arc::from(json));
        }
    }
}

/// `/api/status`: every object of the view with its status, and what blocks it.
#[derive(Debug, Clone, Serialize)]
pub struct StatusDocument {
    pub version: u64,
    /// The cluster asked for, and whether the live status is of it.
    pub cluster: String,
    pub applies: bool,
    pub counts: Counts,
    pub stale: Option<report::Stale>,
    pub objects: std::collections::BTreeMap<String, ObjectView>,
    /// The Flux Operator's FluxInstances (`namespace/name`).
    pub instances: std::collections::BTreeMap<String, ObjectStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectView {
    #[serde(flatten)]
    pub status: ObjectStatus,
    /// Applied revision and the source's, when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind: Option<(String, String)>,
    /// Its root blockers, when it is not Ready (itself when it is one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<ObjectId>,
}

/// The status document of the snapshot's cluster `index`.
pub fn document(inner: &Inner, snapshot: &Snapshot, index: usize) -> StatusDocument {
    let view = &snapshot.clusters[index];
    let applies = status::matching_cluster(snapshot, &inner.store) == Some(index);
    let mut objects = std::collections::BTreeMap::new();
    let mut counts = Counts::default();
    if applies {
        let states = status::states(view, &inner.store);
        let found = status::blockers::find(&view.graph, &states);
        for (node, id) in view.graph.graph.node_indices().map(|n| (n.index(), view.graph.id(n))) {
            let status = inner.store.status(id).into_owned();
            counts.add(status.state);
            let behind = (id.kind == Kind::Kustomization).then(|| status::behind(&status, &inner.store)).flatten();
            let blocked_by = found.roots_of[node].iter().map(|&r| view.graph.id(petgraph::graph::NodeIndex::new(r)).clone()).collect();
            objects.insert(id.to_string(), ObjectView { status, behind, blocked_by });
        }
    }
    StatusDocument { version: inner.version, cluster: view.cluster.name.clone(), applies, counts, stale: report::stale(&inner.store), objects, instances: inner.store.instances.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, ready: &str, reason: &str) -> Event {
        let object = json!({"metadata": {"name": name, "namespace": "flux-system"}, "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason}]}});
        let (id, s) = status::read(Kind::Kustomization, &object).unwrap();
        Event::Applied(id, s)
    }

    /// The counts kept event by event are those a full count gives, and each change is sent.
    #[test]
    fn counts_follow_events_and_changes_are_sent() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repos/live-status");
        let snapshot = Snapshot::read(&root, None).unwrap();
        let live = Live::default();
        let mut updates = live.subscribe();
        let names: Vec<String> = snapshot.clusters[0].cluster.objects.keys().filter(|id| id.kind == Kind::Kustomization).map(|id| id.name.clone()).collect();
        let steps = [("True", "Succeeded"), ("False", "HealthCheckFailed"), ("False", "DependencyNotReady"), ("Unknown", "Progressing")];
        for i in 0..200 {
            let name = &names[(i * 7) % names.len()];
            let (ready, reason) = steps[(i * 3) % steps.len()];
            live.apply(event(name, ready, reason), Some((&snapshot, 1)));
            if i % 13 == 0 {
                live.apply(Event::Deleted(ObjectId::new(Kind::Kustomization, "flux-system", name.as_str())), Some((&snapshot, 1)));
            }
            let inner = live.lock();
            assert_eq!(inner.matched.as_ref().unwrap().counts, status::counts(&snapshot.clusters[0], &inner.store), "after event {i}");
        }
        let mut last = None;
        while let Ok(update) = updates.try_recv() {
            last = Some(update);
        }
        let last: serde_json::Value = serde_json::from_str(&last.expect("updates were sent")).unwrap();
        assert_eq!(last["cluster"], "test");
        let inner = live.lock();
        assert_eq!(last["counts"], serde_json::to_value(status::counts(&snapshot.clusters[0], &inner.store)).unwrap());
    }
}
