//! Status: what the cluster says of each Flux object → a state per object (Ready,
//! Progressing, Failed, Waiting on a dependency, Suspended, Stalled, not applied, or not known
//! yet while its kind's first list has not come back), the
//! "behind" check, counts, and the root blockers of everything that is not Ready
//! ([`blockers`]). It reads the objects as the Kubernetes API gives them (JSON) and keeps
//! them in a [`store::Store`]; everything here is a pure function of the store and a
//! snapshot. The watchers that feed the store are at the edge, in [`crate::status_watch`].

pub mod blockers;
pub mod report;
pub mod store;
pub mod timing;


use serde::Serialize;
use serde_json::Value;

use crate::model::{Kind, ObjectId};
use crate::snapshot::{ClusterView, Snapshot};
pub use blockers::{Blockers, Root};
pub use store::{Event, KindWatch, Store};

/// What an object is doing, as the page colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Ready,
    /// Reconciling, or not reconciled yet since its spec changed.
    Progressing,
    /// `Ready=False` for a reason of its own.
    Failed,
    /// `Ready=False` with `DependencyNotReady`: a dependsOn target is not Ready.
    Waiting,
    /// `spec.suspend: true`: Flux does not reconcile it.
    Suspended,
    /// `Stalled=True`: Flux gave up until the spec changes.
    Stalled,
    /// In the repository, absent from the cluster (said only from a complete list).
    NotApplied,
    /// Not known yet: the first list of its kind has not come back.
    Loading,
}

impl State {
    pub const ALL: [State; 8] = [State::Ready, State::Progressing, State::Failed, State::Waiting, State::Suspended, State::Stalled, State::NotApplied, State::Loading];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Progressing => "progressing",
            State::Failed => "failed",
            State::Waiting => "waiting",
            State::Suspended => "suspended",
            State::Stalled => "stalled",
            State::NotApplied => "not-applied",
            State::Loading => "loading",
        }
    }

    /// How people say it: "not yet applied", "waiting on a dependency".
    pub fn label(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Progressing => "progressing",
            State::Failed => "failed",
            State::Waiting => "waiting on a dependency",
            State::Suspended => "suspended",
            State::Stalled => "stalled",
            State::NotApplied => "not yet applied",
            State::Loading => "loading",
        }
    }

    /// Whether the counts (the header's, `/blocked`'s) show it when no object is in it: the
    /// usual states always; stalled, not applied and loading only when some object is.
    pub fn shown_at_zero(self) -> bool {
        !matches!(self, State::Stalled | State::NotApplied | State::Loading)
    }

    /// Its field in [`Counts`], and so its key in the status JSON's `counts`: `not_applied`.
    pub fn counts_key(self) -> String {
        self.as_str().replace('-', "_")
    }

    /// Whether the object is in a state of its own that blocks, rather than in progress (or
    /// not known yet).
    pub fn blocks(self) -> bool {
        !matches!(self, State::Ready | State::Progressing | State::Loading)
    }
}

/// One object's status, read from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectStatus {
    pub state: State,
    /// The Ready (or Stalled) condition's reason: `HealthCheckFailed`, `DependencyNotReady`…
    pub reason: String,
    pub message: String,
    /// When the Ready condition last changed (RFC 3339, as the API gives it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// A source's `status.artifact.revision`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_revision: Option<String>,
    /// A Kustomization's `spec.sourceRef`, for the behind check.
    #[serde(skip)]
    pub source: Option<ObjectId>,
    /// Made by a controller, not by anyone's manifest (helm-controller's HelmCharts): never
    /// "not in git".
    #[serde(skip)]
    pub generated: bool,
    /// Ready=False while Flux retries (`Reconciling` with `ProgressingWithRetry`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retrying: bool,
    /// A HelmRelease's failures since its last success (`failures`, `installFailures`,
    /// `upgradeFailures`).
    #[serde(skip_serializing_if = "is_zero")]
    pub failures: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ObjectStatus {
    /// The status of an object that is in the repository but not in the cluster.
    pub fn not_applied() -> ObjectStatus {
        ObjectStatus {
            state: State::NotApplied,
            reason: "NotApplied".into(),
            message: "in the repository, not in the cluster".into(),
            since: None,
            last_applied_revision: None,
            last_attempted_revision: None,
            artifact_revision: None,
            source: None,
            generated: false,
            retrying: false,
            failures: 0,
        }
    }

    /// The status of an object whose kind's first list has not come back: not known yet.
    pub fn loading(kind: Kind) -> ObjectStatus {
        ObjectStatus {
            state: State::Loading,
            reason: "Loading".into(),
            message: format!("not known yet: the cluster's list of {kind}s has not come back"),
            ..ObjectStatus::not_applied()
        }
    }
}

/// A condition of `status.conditions`.
struct Condition<'a> {
    status: &'a str,
    reason: &'a str,
    message: &'a str,
    since: Option<&'a str>,
}

fn condition<'a>(object: &'a Value, kind: &str) -> Option<Condition<'a>> {
    let list = object["status"]["conditions"].as_array()?;
    let c = list.iter().find(|c| c["type"].as_str() == Some(kind))?;
    Some(Condition {
        status: c["status"].as_str().unwrap_or("Unknown"),
        reason: c["reason"].as_str().unwrap_or(""),
        message: c["message"].as_str().unwrap_or(""),
        since: c["lastTransitionTime"].as_str(),
    })
}

/// Reads one object as the API gives it: its id and status. `None` when it has no name.
pub fn read(kind: Kind, object: &Value) -> Option<(ObjectId, ObjectStatus)> {
    let metadata = &object["metadata"];
    let name = metadata["name"].as_str()?;
    let namespace = metadata["namespace"].as_str().unwrap_or("");
    let id = ObjectId::new(kind, namespace, name);
    let text = |v: &Value| v.as_str().map(str::to_string);
    let status = &object["status"];
    let ready = condition(object, "Ready");
    let stalled = condition(object, "Stalled").filter(|c| c.status == "True");
    let reconciling = condition(object, "Reconciling").filter(|c| c.status == "True");
    // A spec newer than what the controller has seen is not reconciled yet, whatever Ready says.
    let unseen = match (metadata["generation"].as_i64(), status["observedGeneration"].as_i64()) {
        (Some(generation), Some(observed)) => observed < generation,
        (Some(_), None) => true,
        _ => false,
    };
    let (state, reason, message) = if object["spec"]["suspend"].as_bool() == Some(true) {
        (State::Suspended, "Suspended".to_string(), "spec.suspend is true: Flux does not reconcile it".to_string())
    } else if let Some(c) = &stalled {
        (State::Stalled, c.reason.to_string(), c.message.to_string())
    } else {
        match &ready {
            Some(c) if c.status == "False" && c.reason == "DependencyNotReady" => (State::Waiting, c.reason.to_string(), c.message.to_string()),
            Some(c) if c.status == "False" => (State::Failed, c.reason.to_string(), c.message.to_string()),
            Some(c) if c.status == "True" && !unseen => (State::Ready, c.reason.to_string(), c.message.to_string()),
            Some(c) if c.status == "True" => (State::Progressing, "Progressing".into(), "the spec changed; not reconciled yet".into()),
            Some(c) => (State::Progressing, c.reason.to_string(), c.message.to_string()),
            None => (State::Progressing, "Progressing".into(), "not reconciled yet: no Ready condition".into()),
        }
    };
    let source = match kind {
        Kind::Kustomization => {
            let r = &object["spec"]["sourceRef"];
            match (r["kind"].as_str().and_then(Kind::parse), r["name"].as_str()) {
                (Some(k), Some(n)) => Some(ObjectId::new(k, r["namespace"].as_str().unwrap_or(namespace), n)),
                _ => None,
            }
        }
        _ => None,
    };
    let labels = &metadata["labels"];
    let generated = kind == Kind::HelmChart && (labels.get("helm.toolkit.fluxcd.io/name").is_some() || metadata["annotations"].get("helm.toolkit.fluxcd.io/name").is_some());
    let status = ObjectStatus {
        state,
        reason,
        message,
        since: ready.as_ref().or(stalled.as_ref()).and_then(|c| c.since).map(str::to_string),
        last_applied_revision: text(&status["lastAppliedRevision"]),
        last_attempted_revision: text(&status["lastAttemptedRevision"]),
        artifact_revision: text(&status["artifact"]["revision"]),
        source,
        generated,
        retrying: state == State::Failed && reconciling.is_some_and(|c| c.reason == "ProgressingWithRetry"),
        failures: ["failures", "installFailures", "upgradeFailures"].iter().filter_map(|k| status[*k].as_u64()).sum(),
    };
    Some((id, status))
}

/// When a Kustomization has applied another revision than its source now holds: the
/// revision applied and the source's. Sources as the store knows them; in the Flux-source
/// mode the followed GitRepository's artifact is the snapshot shown.
pub fn behind(status: &ObjectStatus, store: &Store) -> Option<(String, String)> {
    let source = store.get(status.source.as_ref()?)?.artifact_revision.clone()?;
    let applied = status.last_applied_revision.clone().unwrap_or_default();
    (applied != source).then_some((applied, source))
}

/// How many objects of a view are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub ready: usize,
    pub progressing: usize,
    pub failed: usize,
    pub waiting: usize,
    pub suspended: usize,
    pub stalled: usize,
    pub not_applied: usize,
    pub loading: usize,
}

impl Counts {
    pub fn slot(&mut self, state: State) -> &mut usize {
        match state {
            State::Ready => &mut self.ready,
            State::Progressing => &mut self.progressing,
            State::Failed => &mut self.failed,
            State::Waiting => &mut self.waiting,
            State::Suspended => &mut self.suspended,
            State::Stalled => &mut self.stalled,
            State::NotApplied => &mut self.not_applied,
            State::Loading => &mut self.loading,
        }
    }

    pub fn get(&self, state: State) -> usize {
        match state {
            State::Ready => self.ready,
            State::Progressing => self.progressing,
            State::Failed => self.failed,
            State::Waiting => self.waiting,
            State::Suspended => self.suspended,
            State::Stalled => self.stalled,
            State::NotApplied => self.not_applied,
            State::Loading => self.loading,
        }
    }

    pub fn add(&mut self, state: State) {
        *self.slot(state) += 1;
    }

    pub fn remove(&mut self, state: State) {
        let slot = self.slot(state);
        *slot = slot.saturating_sub(1);
    }
}

/// The state of every node of the view's graph, by node index.
pub fn states(view: &ClusterView, store: &Store) -> Vec<State> {
    view.graph.graph.node_indices().map(|n| store.state(view.graph.id(n))).collect()
}

pub fn counts(view: &ClusterView, store: &Store) -> Counts {
    count(&states(view, store))
}

/// How many nodes are in each state.
pub fn count(states: &[State]) -> Counts {
    let mut counts = Counts::default();
    for &s in states {
        counts.add(s);
    }
    counts
}

/// The cluster of the repository the live objects are: the one holding most of them (the
/// first on a tie). A repository often holds several clusters with the same names.
pub fn matching_cluster(snapshot: &Snapshot, store: &Store) -> Option<usize> {
    let score = |v: &ClusterView| v.cluster.objects.keys().filter(|id| store.get(id).is_some()).count();
    let mut best: Option<(usize, usize)> = None;
    for (i, view) in snapshot.clusters.iter().enumerate() {
        let s = score(view);
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map(|(i, _)| i)
}

/// Flux objects in the cluster that no cluster of the repository contains (controllers'
/// own objects, like helm-controller's HelmCharts, left out).
pub fn not_in_git<'a>(snapshot: &Snapshot, store: &'a Store) -> Vec<(&'a ObjectId, &'a ObjectStatus)> {
    let generated_charts: std::collections::BTreeSet<ObjectId> = snapshot
        .clusters
        .iter()
        .flat_map(|v| v.cluster.objects.values())
        .filter(|o| o.id.kind == Kind::HelmRelease)
        .flat_map(|o| {
            // helm-controller names a release's chart `<namespace>-<name>`, in the source's namespace.
            let name = format!("{}-{}", o.id.namespace, o.id.name);
            o.source_refs().into_iter().map(move |(kind, r)| ObjectId::new(Kind::HelmChart, r.resolve(kind, &o.id.namespace).namespace, name.clone()))
        })
        .collect();
    store
        .iter()
        .filter(|(id, s)| !s.generated && !generated_charts.contains(id) && !snapshot.clusters.iter().any(|v| v.cluster.objects.contains_key(id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ks(conditions: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "flux-system", "generation": 2},
               "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
               "status": {"observedGeneration": 2, "conditions": conditions, "lastAppliedRevision": "main@sha1:1"}})
    }

    fn state_of(object: &Value) -> (State, String) {
        let (_, s) = read(Kind::Kustomization, object).unwrap();
        (s.state, s.reason)
    }

    #[test]
    fn states_from_conditions() {
        let cases = [
            (ks(json!([{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}])), State::Ready, "ReconciliationSucceeded"),
            (ks(json!([{"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "message": "timeout"}])), State::Failed, "HealthCheckFailed"),
            (ks(json!([{"type": "Ready", "status": "False", "reason": "DependencyNotReady"}])), State::Waiting, "DependencyNotReady"),
            (ks(json!([{"type": "Ready", "status": "Unknown", "reason": "Progressing"}, {"type": "Reconciling", "status": "True"}])), State::Progressing, "Progressing"),
            (ks(json!([{"type": "Ready", "status": "False", "reason": "BuildFailed"}, {"type": "Stalled", "status": "True", "reason": "InvalidPath"}])), State::Stalled, "InvalidPath"),
            (ks(json!([])), State::Progressing, "Progressing"),
        ];
        for (object, state, reason) in cases {
            assert_eq!(state_of(&object), (state, reason.to_string()), "{object}");
        }
        let mut suspended = ks(json!([{"type": "Ready", "status": "True"}]));
        suspended["spec"]["suspend"] = json!(true);
        assert_eq!(state_of(&suspended).0, State::Suspended);
        // Ready, but for an older generation: the new spec is not reconciled yet.
        let mut newer = ks(json!([{"type": "Ready", "status": "True"}]));
        newer["metadata"]["generation"] = json!(3);
        assert_eq!(state_of(&newer).0, State::Progressing);
    }

    #[test]
    fn reads_ids_revisions_and_retries() {
        let object = ks(json!([{"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "lastTransitionTime": "2026-12-01T10:00:00Z"},
                               {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry"}]));
        let (id, s) = read(Kind::Kustomization, &object).unwrap();
        assert_eq!(id.to_string(), "Kustomization/flux-system/a");
        assert_eq!(s.since.as_deref(), Some("2026-12-01T10:00:00Z"));
        assert_eq!(s.last_applied_revision.as_deref(), Some("main@sha1:1"));
        assert_eq!(s.source, Some(ObjectId::new(Kind::GitRepository, "flux-system", "flux-system")));
        assert!(s.retrying);
        assert!(read(Kind::Kustomization, &json!({"metadata": {}})).is_none());
    }

    /// The page's script finds each state's count under `counts_key`: the key the status JSON
    /// gives it.
    #[test]
    fn each_state_is_counted_under_its_counts_key() {
        for state in State::ALL {
            let mut counts = Counts::default();
            counts.add(state);
            let json = serde_json::to_value(&counts).unwrap();
            assert_eq!(json[state.counts_key()], 1, "{state:?} in {json}");
            assert_eq!(json.as_object().unwrap().values().filter(|n| **n == 1).count(), 1, "{state:?} in {json}");
        }
        assert_eq!(serde_json::to_value(Counts::default()).unwrap().as_object().unwrap().len(), State::ALL.len());
    }

    #[test]
    fn behind_its_source() {
        let mut store = Store::default();
        let (id, ks_status) = read(Kind::Kustomization, &ks(json!([{"type": "Ready", "status": "True"}]))).unwrap();
        let git = json!({"metadata": {"name": "flux-system", "namespace": "flux-system"}, "status": {"artifact": {"revision": "main@sha1:2"}}});
        let (git_id, git_status) = read(Kind::GitRepository, &git).unwrap();
        store.apply(Event::Applied(id, ks_status.clone()));
        store.apply(Event::Applied(git_id.clone(), git_status.clone()));
        assert_eq!(behind(&ks_status, &store), Some(("main@sha1:1".into(), "main@sha1:2".into())));
        let mut caught_up = git_status;
        caught_up.artifact_revision = Some("main@sha1:1".into());
        store.apply(Event::Applied(git_id, caught_up));
        assert_eq!(behind(&ks_status, &store), None);
    }
}
