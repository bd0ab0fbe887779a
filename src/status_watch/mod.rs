//! Status watch: the cluster's Flux objects → [`status::Event`]s, one list-then-watch per
//! kind (no polling), each answer read within [`kube_api`]'s bounds. Discovery first says
//! which kinds the cluster has: the Flux Operator's FluxInstance and ResourceSet are often
//! absent, which is not an error. A kind's first list, then each relist, is `Listed` (until
//! then its objects are "loading"); its watch then gives each change. A watch that fails is
//! reported `Down` (the pages then say the status is stale), and the kind is listed again
//! after a wait that doubles, with jitter, while failures go on. A watch the server ends is
//! opened again from where it was, at once when it lasted, after the same growing wait when
//! it was closed at once (a server doing so is not asked again 160 times a second).
//!
//! [`list_once`] is the same without watching, for `fluxgraph blocked`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::kube_api::{self, Api, Backoff};
use crate::model::Kind;
use crate::status::{self, Event, Store};

/// What is watched: a kind of the graph, or the Flux Operator's FluxInstance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Graph(Kind),
    FluxInstance,
}

/// The kinds watched, with their API group.
pub const WATCHED: [(Watched, &str, &str); 9] = [
    (Watched::Graph(Kind::Kustomization), "kustomize.toolkit.fluxcd.io", "Kustomization"),
    (Watched::Graph(Kind::HelmRelease), "helm.toolkit.fluxcd.io", "HelmRelease"),
    (Watched::Graph(Kind::GitRepository), "source.toolkit.fluxcd.io", "GitRepository"),
    (Watched::Graph(Kind::OCIRepository), "source.toolkit.fluxcd.io", "OCIRepository"),
    (Watched::Graph(Kind::HelmRepository), "source.toolkit.fluxcd.io", "HelmRepository"),
    (Watched::Graph(Kind::HelmChart), "source.toolkit.fluxcd.io", "HelmChart"),
    (Watched::Graph(Kind::Bucket), "source.toolkit.fluxcd.io", "Bucket"),
    (Watched::Graph(Kind::ResourceSet), "fluxcd.controlplane.io", "ResourceSet"),
    (Watched::FluxInstance, "fluxcd.controlplane.io", "FluxInstance"),
];

/// A watch that lasted less than this and ended without error was closed at once: the next
/// one waits.
const BRIEF_WATCH: Duration = Duration::from_secs(5);

/// Why the cluster's live status cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot discover the Flux APIs: {0}")]
    Discovery(kube_api::Error),
    #[error("cannot list: {0}")]
    List(kube_api::Error),
    #[error("cannot use the kubeconfig context {context}: {source}")]
    Context { context: String, source: kube::config::KubeconfigError },
    #[error("cannot find a Kubernetes cluster (no kubeconfig, not in a pod): {0}")]
    NoCluster(kube::config::InferConfigError),
    #[error("cannot reach the Kubernetes API: {0}")]
    Client(kube::Error),
    /// The Kubernetes API did not answer in time, told with the option that bounds it.
    #[error("{0}")]
    Timeout(String),
}

/// Where events go.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// The kinds the cluster serves, each with the path of its collection in every namespace
/// (its group's preferred version, or another that has it); absent ones with `None`.
pub async fn discover(api: &Api) -> Result<Vec<(Watched, Option<String>)>, StatusError> {
    let cannot = StatusError::Discovery;
    let groups = api.get("/apis").await.map_err(cannot)?;
    let mut found = Vec::new();
    let mut served: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for &(watched, group, kind) in &WATCHED {
        let Some(entry) = groups["groups"].as_array().into_iter().flatten().find(|g| g["name"] == group) else {
            found.push((watched, None));
            continue;
        };
        let preferred = entry["preferredVersion"]["groupVersion"].as_str();
        let versions = preferred.into_iter().chain(entry["versions"].as_array().into_iter().flatten().filter_map(|v| v["groupVersion"].as_str()));
        let mut path = None;
        for group_version in versions {
            if !served.contains_key(group_version) {
                let resources = match api.get(&format!("/apis/{group_version}")).await {
                    Ok(resources) => resources,
                    Err(e) if e.is_not_found() => Value::Null,
                    Err(e) => return Err(cannot(e)),
                };
                served.insert(group_version.to_string(), resources);
            }
            let plural = served[group_version]["resources"].as_array().into_iter().flatten().find(|r| r["kind"] == kind && !r["name"].as_str().unwrap_or("/").contains('/'));
            if let Some(plural) = plural.and_then(|r| r["name"].as_str()) {
                path = Some(format!("/apis/{group_version}/{plural}"));
                break;
            }
        }
        found.push((watched, path));
    }
    Ok(found)
}

/// A FluxInstance's key in the store: `namespace/name`.
fn instance_key(object: &Value) -> String {
    let metadata = &object["metadata"];
    format!("{}/{}", metadata["namespace"].as_str().unwrap_or(""), metadata["name"].as_str().unwrap_or(""))
}

/// The status of a FluxInstance, read as a Kustomization's would be.
fn instance_status(object: &Value) -> Option<status::ObjectStatus> {
    status::read(Kind::Kustomization, object).map(|(_, s)| s)
}

/// What a list of `watched` tells the store.
fn listed(watched: Watched, items: &[Value]) -> Vec<Event> {
    match watched {
        Watched::Graph(kind) => vec![Event::Listed(kind, items.iter().filter_map(|o| status::read(kind, o)).collect())],
        Watched::FluxInstance => items.iter().map(|o| Event::Instance(instance_key(o), instance_status(o))).collect(),
    }
}

/// Lists every watched kind once: a store as the cluster is now.
pub async fn list_once(api: &Api) -> Result<Store, StatusError> {
    let mut store = Store::default();
    for (watched, path) in discover(api).await? {
        let Some(path) = path else {
            if let Watched::Graph(kind) = watched {
                store.apply(Event::Absent(kind));
            }
            continue;
        };
        let list = api.list(&path).await.map_err(StatusError::List)?;
        for event in listed(watched, &list.items) {
            store.apply(event);
        }
    }
    Ok(store)
}

/// Watches every kind the cluster has, for as long as the process runs. Discovery is
/// retried (with backoff) until it works.
pub async fn watch(api: Api, sink: Sink) {
    let mut backoff = Backoff::default();
    let found = loop {
        match discover(&api).await {
            Ok(found) => break found,
            Err(why) => {
                tracing::warn!(error = %why, "cannot discover the Flux APIs; trying again");
                for (watched, _, _) in WATCHED {
                    if let Watched::Graph(kind) = watched {
                        sink(Event::Down { kind, why: why.to_string(), since: SystemTime::now() });
                    }
                }
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
    };
    for (watched, path) in found {
        match (watched, path) {
            (Watched::Graph(kind), None) => sink(Event::Absent(kind)),
            (Watched::FluxInstance, None) => {}
            (watched, Some(path)) => {
                tokio::spawn(watch_kind(api.clone(), path, watched, Arc::clone(&sink)));
            }
        }
    }
}

/// Tells the sink a kind's watch failed, and the log why (in a line: errors quote no body).
fn down(sink: &Sink, watched: Watched, why: &kube_api::Error) {
    tracing::warn!(error = %why, ?watched, "a status watch failed; starting it again");
    if let Watched::Graph(kind) = watched {
        sink(Event::Down { kind, why: why.to_string(), since: SystemTime::now() });
    }
}

/// One kind's watch: a list, then changes from its version; on a failure, `Down`, a wait, and
/// a fresh list. The wait grows while failures (or watches closed at once) go on, and is
/// short again once a watch has lasted.
async fn watch_kind(api: Api, path: String, watched: Watched, sink: Sink) {
    let mut backoff = Backoff::default();
    loop {
        let list = match api.list(&path).await {
            Ok(list) => list,
            Err(e) => {
                down(&sink, watched, &e);
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
        };
        for event in listed(watched, &list.items) {
            sink(event);
        }
        let mut version = list.resource_version;
        // Watch from `version` until something fails; then list again.
        let failed = loop {
            let opened = Instant::now();
            let mut events = match api.watch(&path, &version).await {
                Ok(events) => events,
                Err(e) => break Some(e),
            };
            let mut failed = None;
            while let Some(event) = events.next().await {
                match event.and_then(|e| change(watched, &e, &path)) {
                    Ok((found, at)) => {
                        if let Some(at) = at {
                            version = at;
                        }
                        for event in found {
                            sink(event);
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if failed.is_some() {
                break failed;
            }
            // The server ended the watch: again from `version`, at once if it lasted.
            if opened.elapsed() < BRIEF_WATCH {
                tokio::time::sleep(backoff.next_wait()).await;
            } else {
                backoff.reset();
            }
        };
        match failed {
            // The version is too old to watch from: list again, at once.
            Some(e) if e.is_gone() => {}
            Some(e) => {
                down(&sink, watched, &e);
                tokio::time::sleep(backoff.next_wait()).await;
            }
            None => {}
        }
    }
}

/// What one watch event says: the store's events and the version it brings; an `ERROR`
/// event is an error (410 when the version is too old).
fn change(watched: Watched, event: &Value, path: &str) -> Result<(Vec<Event>, Option<String>), kube_api::Error> {
    let object = &event["object"];
    let version = object["metadata"]["resourceVersion"].as_str().map(str::to_string);
    let kind = event["type"].as_str().unwrap_or("");
    let events = match (kind, watched) {
        ("ADDED" | "MODIFIED", Watched::Graph(kind)) => status::read(kind, object).map(|(id, s)| Event::Applied(id, s)).into_iter().collect(),
        ("DELETED", Watched::Graph(kind)) => status::read(kind, object).map(|(id, _)| Event::Deleted(id)).into_iter().collect(),
        ("ADDED" | "MODIFIED", Watched::FluxInstance) => vec![Event::Instance(instance_key(object), instance_status(object))],
        ("DELETED", Watched::FluxInstance) => vec![Event::Instance(instance_key(object), None)],
        ("BOOKMARK", _) => Vec::new(),
        ("ERROR", _) => {
            let text = |k: &str| object[k].as_str().unwrap_or("").chars().take(300).collect::<String>();
            return Err(kube_api::Error::Refused { path: path.to_string(), code: object["code"].as_u64().unwrap_or(0) as u16, reason: text("reason"), message: text("message") });
        }
        (other, _) => {
            let other: String = other.chars().take(40).collect();
            return Err(kube_api::Error::Malformed { path: path.to_string(), size: 0, head: format!("{other:?}"), why: "a watch event of an unknown type".into() });
        }
    };
    Ok((events, version))
}

/// A client for `--context NAME` of the kubeconfig, or the default one (in a pod, its
/// service account; else the kubeconfig's current context).
pub async fn client(context: Option<&str>) -> Result<kube::Client, StatusError> {
    let config = match context {
        Some(name) => {
            let options = kube::config::KubeConfigOptions { context: Some(name.to_string()), ..Default::default() };
            kube::Config::from_kubeconfig(&options).await.map_err(|source| StatusError::Context { context: name.to_string(), source })?
        }
        None => kube::Config::infer().await.map_err(StatusError::NoCluster)?,
    };
    kube::Client::try_from(config).map_err(StatusError::Client)
}
