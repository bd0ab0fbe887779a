//! The store: every Flux object the watchers have seen in the cluster, with its status, and
//! how each kind's watch is going. Events in, the ids whose status changed out; no clock and
//! no I/O (a failed watch brings its own time). An object the store does not hold is "not
//! applied" only once its kind has been listed whole; until then it is "loading".

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::SystemTime;

use super::{ObjectStatus, State};
use crate::model::{Kind, ObjectId};

/// What a watcher reports.
#[derive(Debug, Clone)]
pub enum Event {
    /// Every object of a kind, after a (re)list: objects of that kind not in it are gone.
    Listed(Kind, Vec<(ObjectId, ObjectStatus)>),
    Applied(ObjectId, ObjectStatus),
    Deleted(ObjectId),
    /// The watch of a kind failed; what the store holds of it may be stale from `since`.
    Down { kind: Kind, why: String, since: SystemTime },
    /// The cluster has no such kind (a CRD not installed): not an error.
    Absent(Kind),
    /// A Flux Operator FluxInstance (not a kind of the graph): `namespace/name` and status.
    Instance(String, Option<ObjectStatus>),
}

/// How the watch of one kind is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindWatch {
    Watching,
    Absent,
    Down { why: String, since: SystemTime },
}

#[derive(Debug, Clone, Default)]
pub struct Store {
    objects: HashMap<ObjectId, ObjectStatus>,
    kinds: BTreeMap<Kind, KindWatch>,
    /// The kinds listed whole at least once (or that the cluster does not have).
    complete: BTreeSet<Kind>,
    /// FluxInstances by `namespace/name`.
    pub instances: BTreeMap<String, ObjectStatus>,
}

impl Store {
    pub fn get(&self, id: &ObjectId) -> Option<&ObjectStatus> {
        self.objects.get(id)
    }

    /// The status of `id`: as the cluster says, or not applied when its kind was listed whole
    /// without it, or loading before that.
    pub fn status(&self, id: &ObjectId) -> Cow<'_, ObjectStatus> {
        match self.objects.get(id) {
            Some(s) => Cow::Borrowed(s),
            None if self.complete.contains(&id.kind) => Cow::Owned(ObjectStatus::not_applied()),
            None => Cow::Owned(ObjectStatus::loading(id.kind)),
        }
    }

    /// The state of `id`, as [`Store::status`] gives it.
    pub fn state(&self, id: &ObjectId) -> State {
        match self.objects.get(id) {
            Some(s) => s.state,
            None if self.complete.contains(&id.kind) => State::NotApplied,
            None => State::Loading,
        }
    }

    /// The kinds among `kinds` whose first list has not come back yet.
    pub fn loading(&self, kinds: impl IntoIterator<Item = Kind>) -> Vec<Kind> {
        let mut waiting: Vec<Kind> = kinds.into_iter().filter(|k| !self.complete.contains(k)).collect();
        waiting.sort();
        waiting.dedup();
        waiting
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ObjectId, &ObjectStatus)> {
        self.objects.iter()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    pub fn kinds(&self) -> &BTreeMap<Kind, KindWatch> {
        &self.kinds
    }

    /// When some watch is down: since when (the earliest) and why (each kind's reason).
    pub fn stale(&self) -> Option<(SystemTime, String)> {
        let down: Vec<(SystemTime, String)> = self
            .kinds
            .iter()
            .filter_map(|(k, w)| match w {
                KindWatch::Down { why, since } => Some((*since, format!("{k}: {why}"))),
                _ => None,
            })
            .collect();
        let since = down.iter().map(|d| d.0).min()?;
        Some((since, down.into_iter().map(|d| d.1).collect::<Vec<_>>().join("; ")))
    }

    /// Applies an event; gives the ids whose status changed (appeared, changed or went).
    pub fn apply(&mut self, event: Event) -> Vec<ObjectId> {
        match event {
            Event::Applied(id, status) => {
                self.kinds.insert(id.kind, KindWatch::Watching);
                match self.objects.get(&id) {
                    Some(old) if *old == status => Vec::new(),
                    _ => {
                        self.objects.insert(id.clone(), status);
                        vec![id]
                    }
                }
            }
            Event::Deleted(id) => self.objects.remove(&id).map(|_| id).into_iter().collect(),
            Event::Listed(kind, listed) => {
                self.kinds.insert(kind, KindWatch::Watching);
                self.complete.insert(kind);
                let listed: HashMap<ObjectId, ObjectStatus> = listed.into_iter().collect();
                let mut changed: Vec<ObjectId> = self.objects.keys().filter(|id| id.kind == kind && !listed.contains_key(id)).cloned().collect();
                for id in &changed {
                    self.objects.remove(id);
                }
                for (id, status) in listed {
                    if self.objects.get(&id) != Some(&status) {
                        self.objects.insert(id.clone(), status);
                        changed.push(id);
                    }
                }
                changed.sort();
                changed
            }
            Event::Down { kind, why, since } => {
                // The first failure dates the staleness; later ones keep that date.
                let since = match self.kinds.get(&kind) {
                    Some(KindWatch::Down { since, .. }) => *since,
                    _ => since,
                };
                self.kinds.insert(kind, KindWatch::Down { why, since });
                Vec::new()
            }
            Event::Absent(kind) => {
                self.kinds.insert(kind, KindWatch::Absent);
                self.complete.insert(kind);
                Vec::new()
            }
            Event::Instance(key, status) => {
                match status {
                    Some(s) => self.instances.insert(key, s),
                    None => self.instances.remove(&key),
                };
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::read;
    use serde_json::json;

    fn object(name: &str, ready: &str) -> (ObjectId, ObjectStatus) {
        read(Kind::Kustomization, &json!({"metadata": {"name": name, "namespace": "ns"}, "status": {"conditions": [{"type": "Ready", "status": ready}]}})).unwrap()
    }

    #[test]
    fn events_change_what_they_say() {
        let mut store = Store::default();
        let (a, ready) = object("a", "True");
        assert_eq!(store.apply(Event::Applied(a.clone(), ready.clone())), vec![a.clone()]);
        // The same status again changes nothing.
        assert!(store.apply(Event::Applied(a.clone(), ready.clone())).is_empty());
        let (_, failed) = object("a", "False");
        assert_eq!(store.apply(Event::Applied(a.clone(), failed)), vec![a.clone()]);
        assert_eq!(store.get(&a).unwrap().state, State::Failed);
        // A relist drops what it does not hold.
        let (b, b_ready) = object("b", "True");
        let changed = store.apply(Event::Listed(Kind::Kustomization, vec![(b.clone(), b_ready)]));
        assert_eq!(changed, vec![a.clone(), b.clone()]);
        assert!(store.get(&a).is_none());
        assert_eq!(store.apply(Event::Deleted(b.clone())), vec![b]);
        assert!(store.is_empty());
    }

    #[test]
    fn a_failed_watch_is_stale_until_it_works_again() {
        let mut store = Store::default();
        let t0 = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(100);
        store.apply(Event::Down { kind: Kind::Kustomization, why: "connection refused".into(), since: t0 });
        store.apply(Event::Down { kind: Kind::Kustomization, why: "still refused".into(), since: t0 + std::time::Duration::from_secs(5) });
        store.apply(Event::Absent(Kind::ResourceSet));
        let (since, why) = store.stale().unwrap();
        assert_eq!(since, t0);
        assert_eq!(why, "Kustomization: still refused");
        store.apply(Event::Listed(Kind::Kustomization, Vec::new()));
        assert!(store.stale().is_none());
        assert_eq!(store.kinds()[&Kind::ResourceSet], KindWatch::Absent);
    }

    /// While the first list of a kind has not come back, what it lacks is loading, not "not
    /// in the cluster" (a slow API server made every object "not applied").
    #[test]
    fn an_object_is_not_applied_only_once_its_kind_was_listed_whole() {
        let mut store = Store::default();
        let (a, ready) = object("a", "True");
        let (b, _) = object("b", "True");
        let git = ObjectId::new(Kind::GitRepository, "ns", "flux-system");
        assert_eq!((store.state(&a), store.state(&git)), (State::Loading, State::Loading));
        assert!(store.status(&git).message.contains("has not come back"), "{:?}", store.status(&git));
        // A watch event is not a list: what it does not name is still not known.
        store.apply(Event::Applied(a.clone(), ready.clone()));
        assert_eq!((store.state(&a), store.state(&b)), (State::Ready, State::Loading));
        store.apply(Event::Down { kind: Kind::Kustomization, why: "timeout".into(), since: SystemTime::UNIX_EPOCH });
        assert_eq!(store.state(&b), State::Loading);
        store.apply(Event::Listed(Kind::Kustomization, vec![(a.clone(), ready)]));
        assert_eq!((store.state(&a), store.state(&b), store.state(&git)), (State::Ready, State::NotApplied, State::Loading));
        assert_eq!(store.loading([Kind::Kustomization, Kind::GitRepository, Kind::GitRepository]), [Kind::GitRepository]);
        store.apply(Event::Absent(Kind::GitRepository));
        assert_eq!(store.status(&git).state, State::NotApplied);
        assert!(store.loading([Kind::Kustomization, Kind::GitRepository]).is_empty());
    }
}
