//! Status watch: the cluster's Flux objects → [`status::Event`]s, through kube-rs watchers,
//! one per kind (no polling). Discovery first says which kinds the cluster has: the Flux
//! Operator's FluxInstance and ResourceSet are often absent, which is not an error. A watch
//! that fails is reported `Down` (the pages then say the status is stale), and started
//! again after kube's default backoff with a fresh list, which also tells what was missed.
//!
//! [`list_once`] is the same without watching, for `fluxgraph blocked`.

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::runtime::watcher::{self, DefaultBackoff};
use serde_json::Value;

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

/// Where events go.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// The kinds the cluster serves, each with its resource (preferred version); absent ones
/// with `None`.
pub async fn discover(client: &kube::Client) -> Result<Vec<(Watched, Option<ApiResource>)>, String> {
    let mut groups: Vec<&str> = WATCHED.iter().map(|w| w.1).collect();
    groups.dedup();
    let discovery = kube::Discovery::new(client.clone()).filter(&groups).run().await.map_err(|e| format!("cannot discover the Flux APIs: {e}"))?;
    Ok(WATCHED
        .iter()
        .map(|&(watched, group, kind)| (watched, discovery.get(group).and_then(|g| g.recommended_kind(kind)).map(|(resource, _)| resource)))
        .collect())
}

/// An object as JSON, for [`status::read`].
fn json(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn instance_key(object: &DynamicObject) -> String {
    format!("{}/{}", object.metadata.namespace.as_deref().unwrap_or(""), object.metadata.name.as_deref().unwrap_or(""))
}

/// The status of a FluxInstance, read as a Kustomization's would be.
fn instance_status(object: &DynamicObject) -> Option<status::ObjectStatus> {
    status::read(Kind::Kustomization, &json(object)).map(|(_, s)| s)
}

/// Lists every watched kind once: a store as the cluster is now.
pub async fn list_once(client: &kube::Client) -> Result<Store, String> {
    let mut store = Store::default();
    for (watched, resource) in discover(client).await? {
        let Some(resource) = resource else {
            if let Watched::Graph(kind) = watched {
                store.apply(Event::Absent(kind));
            }
            continue;
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let list = api.list(&ListParams::default()).await.map_err(|e| format!("cannot list {}: {e}", resource.plural))?;
        match watched {
            Watched::Graph(kind) => {
                let listed = list.items.iter().filter_map(|o| status::read(kind, &json(o))).collect();
                store.apply(Event::Listed(kind, listed));
            }
            Watched::FluxInstance => {
                for o in &list.items {
                    store.apply(Event::Instance(instance_key(o), instance_status(o)));
                }
            }
        }
    }
    Ok(store)
}

/// Watches every kind the cluster has, for as long as the process runs. Discovery is
/// retried (with backoff) until it works.
pub async fn watch(client: kube::Client, sink: Sink) {
    let mut backoff = DefaultBackoff::default();
    let found = loop {
        match discover(&client).await {
            Ok(found) => break found,
            Err(why) => {
                for (watched, _, _) in WATCHED {
                    if let Watched::Graph(kind) = watched {
                        sink(Event::Down { kind, why: why.clone(), since: SystemTime::now() });
                    }
                }
                tokio::time::sleep(backoff.next().unwrap_or(std::time::Duration::from_secs(30))).await;
            }
        }
    };
    for (watched, resource) in found {
        match (watched, resource) {
            (Watched::Graph(kind), None) => sink(Event::Absent(kind)),
            (Watched::FluxInstance, None) => {}
            (watched, Some(resource)) => {
                tokio::spawn(watch_kind(Api::all_with(client.clone(), &resource), watched, Arc::clone(&sink)));
            }
        }
    }
}

/// One kind's watch: a list, then changes; on an error, `Down`, a pause, and a fresh start.
async fn watch_kind(api: Api<DynamicObject>, watched: Watched, sink: Sink) {
    let mut backoff = DefaultBackoff::default();
    loop {
        let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
        let mut listed = Vec::new();
        while let Some(event) = stream.next().await {
            match (event, watched) {
                (Ok(watcher::Event::Init), _) => listed.clear(),
                (Ok(watcher::Event::InitApply(o)), _) => listed.push(o),
                (Ok(watcher::Event::InitDone), Watched::Graph(kind)) => {
                    sink(Event::Listed(kind, listed.drain(..).filter_map(|o| status::read(kind, &json(&o))).collect()));
                    backoff = DefaultBackoff::default();
                }
                (Ok(watcher::Event::InitDone), Watched::FluxInstance) => {
                    for o in listed.drain(..) {
                        sink(Event::Instance(instance_key(&o), instance_status(&o)));
                    }
                    backoff = DefaultBackoff::default();
                }
                (Ok(watcher::Event::Apply(o)), Watched::Graph(kind)) => {
                    if let Some((id, s)) = status::read(kind, &json(&o)) {
                        sink(Event::Applied(id, s));
                    }
                }
                (Ok(watcher::Event::Delete(o)), Watched::Graph(kind)) => {
                    if let Some((id, _)) = status::read(kind, &json(&o)) {
                        sink(Event::Deleted(id));
                    }
                }
                (Ok(watcher::Event::Apply(o)), Watched::FluxInstance) => sink(Event::Instance(instance_key(&o), instance_status(&o))),
                (Ok(watcher::Event::Delete(o)), Watched::FluxInstance) => sink(Event::Instance(instance_key(&o), None)),
                (Err(e), watched) => {
                    tracing::warn!(error = %e, ?watched, "a status watch failed; starting it again");
                    if let Watched::Graph(kind) = watched {
                        sink(Event::Down { kind, why: e.to_string(), since: SystemTime::now() });
                    }
                    break;
                }
            }
        }
        tokio::time::sleep(backoff.next().unwrap_or(std::time::Duration::from_secs(30))).await;
    }
}

/// A client for `--context NAME` of the kubeconfig, or the default one (in a pod, its
/// service account; else the kubeconfig's current context).
pub async fn client(context: Option<&str>) -> Result<kube::Client, String> {
    let config = match context {
        Some(name) => {
            let options = kube::config::KubeConfigOptions { context: Some(name.to_string()), ..Default::default() };
            kube::Config::from_kubeconfig(&options).await.map_err(|e| format!("cannot use the kubeconfig context {name}: {e}"))?
        }
        None => kube::Config::infer().await.map_err(|e| format!("cannot find a Kubernetes cluster (no kubeconfig, not in a pod): {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("cannot reach the Kubernetes API: {e}"))
}
