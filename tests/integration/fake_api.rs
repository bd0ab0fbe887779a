//! A fake Kubernetes API for the live-status tests (an axum server, like the one of
//! `flux_source.rs`, grown to many kinds): discovery (`/apis`, `/apis/{group}/{version}`),
//! lists (in pages, with `limit` and `continue`) and watch streams of every Flux kind (objects
//! with their `status`; a watch from a version first gets what it missed), and switches that
//! drop every open watch or take the whole API down (500), as a restarting API server would.
//! The Flux Operator's group is served only when asked for. [`Hostile`] makes it answer as a
//! broken or hostile server does: slowly, without end, with a line that never ends, with
//! garbage, or closing every watch at once.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

/// (group, kind, plural) of every kind served; the last two only with the Flux Operator.
const KINDS: [(&str, &str, &str); 9] = [
    ("kustomize.toolkit.fluxcd.io", "Kustomization", "kustomizations"),
    ("helm.toolkit.fluxcd.io", "HelmRelease", "helmreleases"),
    ("source.toolkit.fluxcd.io", "GitRepository", "gitrepositories"),
    ("source.toolkit.fluxcd.io", "OCIRepository", "ocirepositories"),
    ("source.toolkit.fluxcd.io", "HelmRepository", "helmrepositories"),
    ("source.toolkit.fluxcd.io", "HelmChart", "helmcharts"),
    ("source.toolkit.fluxcd.io", "Bucket", "buckets"),
    ("fluxcd.controlplane.io", "ResourceSet", "resourcesets"),
    ("fluxcd.controlplane.io", "FluxInstance", "fluxinstances"),
];

/// How the fake misbehaves for one kind (or every kind).
#[derive(Debug, Clone)]
pub enum Hostile {
    /// Lists answer only after this long.
    SlowLists(Duration),
    /// A list's body never ends: a valid start, then blanks for ever.
    EndlessLists,
    /// A watch sends one line that never ends.
    EndlessLine,
    /// A watch is answered with an empty body, ended at once.
    ClosedWatches,
    /// A list is answered 200 with this many bytes that are not JSON.
    GarbageLists(usize),
}

#[derive(Clone)]
pub struct FakeApi {
    pub base: String,
    inner: Arc<Inner>,
}

struct Inner {
    operator: bool,
    /// (plural, namespace, name) → object.
    objects: Mutex<BTreeMap<(String, String, String), Value>>,
    resource_version: Mutex<u64>,
    /// (plural, watch event) as they happen.
    events: broadcast::Sender<(String, Value)>,
    /// Every event so far, (resource version, plural, event): a watch from a version is
    /// sent what it missed first, as an API server does.
    history: Mutex<Vec<(u64, String, Value)>>,
    /// True while the API answers 500 to everything.
    down: watch::Sender<bool>,
    /// Bumped to end every open watch stream.
    drops: watch::Sender<u64>,
    /// Requests served, by path (watch or not), to see reconnections.
    pub requests: Mutex<HashMap<String, usize>>,
    /// Artifact tarballs source-controller would serve, by file name.
    artifacts: Mutex<HashMap<String, Vec<u8>>>,
    /// How each kind (by plural, `*` for all) misbehaves.
    hostile: Mutex<HashMap<String, Hostile>>,
}

fn plural_of(kind: &str) -> &'static str {
    KINDS.iter().find(|k| k.1 == kind).map(|k| k.2).unwrap_or_else(|| panic!("the fake API has no kind {kind}"))
}

impl FakeApi {
    /// Starts the fake on 127.0.0.1; `operator` serves the Flux Operator's CRDs too.
    pub async fn start(operator: bool) -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner {
            operator,
            objects: Mutex::default(),
            resource_version: Mutex::new(1),
            events: broadcast::channel(4096).0,
            history: Mutex::default(),
            down: watch::Sender::new(false),
            drops: watch::Sender::new(0),
            requests: Mutex::default(),
            artifacts: Mutex::default(),
            hostile: Mutex::default(),
        });
        let fake = FakeApi { base, inner };
        let app = Router::new()
            .route("/apis", get(groups))
            .route("/apis/{group}/{version}", get(resources))
            .route("/apis/{group}/{version}/{plural}", get(collection))
            .route("/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}", get(one))
            .route("/artifacts/{file}", get(artifact))
            .layer(axum::middleware::from_fn_with_state(fake.clone(), availability))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    fn served(&self) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> + '_ {
        KINDS.iter().filter(|k| self.inner.operator || k.0 != "fluxcd.controlplane.io")
    }

    /// Creates or replaces an object (its kind and metadata name it), as a watch event.
    pub fn put(&self, mut object: Value) {
        let kind = object["kind"].as_str().expect("an object with a kind").to_string();
        let group = KINDS.iter().find(|k| k.1 == kind).map(|k| k.0).unwrap();
        object["apiVersion"] = json!(format!("{group}/v1"));
        let rv = {
            let mut rv = self.inner.resource_version.lock().unwrap();
            *rv += 1;
            *rv
        };
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let key = (plural_of(&kind).to_string(), object["metadata"]["namespace"].as_str().unwrap_or("").to_string(), object["metadata"]["name"].as_str().unwrap().to_string());
        let kind_of_event = if self.inner.objects.lock().unwrap().insert(key.clone(), object.clone()).is_some() { "MODIFIED" } else { "ADDED" };
        self.send(rv, key.0, json!({"type": kind_of_event, "object": object}));
    }

    /// Records a watch event and sends it to the open watches.
    fn send(&self, rv: u64, plural: String, event: Value) {
        self.inner.history.lock().unwrap().push((rv, plural.clone(), event.clone()));
        let _ = self.inner.events.send((plural, event));
    }

    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let key = (plural_of(kind).to_string(), namespace.to_string(), name.to_string());
        if let Some(object) = self.inner.objects.lock().unwrap().remove(&key) {
            let rv = {
                let mut rv = self.inner.resource_version.lock().unwrap();
                *rv += 1;
                *rv
            };
            self.send(rv, key.0, json!({"type": "DELETED", "object": object}));
        }
    }

    /// Serves `tarball` as the artifact of GitRepository flux-system/flux-system at `revision`
    /// (Ready), as source-controller would.
    pub fn publish_artifact(&self, revision: &str, tarball: Vec<u8>) {
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(&tarball).iter().map(|b| format!("{b:02x}")).collect();
        let file = format!("{digest}.tar.gz");
        self.inner.artifacts.lock().unwrap().insert(file.clone(), tarball);
        let mut git = object("GitRepository", "flux-system", "True", "Succeeded", &format!("stored artifact for revision '{revision}'"));
        git["status"]["artifact"] = json!({"url": format!("{}/artifacts/{file}", self.base), "digest": format!("sha256:{digest}"), "revision": revision});
        self.put(git);
    }

    /// Ends every open watch stream (the client watches again).
    pub fn drop_watches(&self) {
        self.inner.drops.send_modify(|n| *n += 1);
    }

    /// Takes the API down (500 to everything, open watches end) or up again.
    pub fn set_down(&self, down: bool) {
        self.inner.down.send_replace(down);
        if down {
            self.drop_watches();
        }
    }

    /// Makes the kind `plural` (`*`: every kind) answer as `how` says.
    pub fn hostile(&self, plural: &str, how: Hostile) {
        self.inner.hostile.lock().unwrap().insert(plural.to_string(), how);
    }

    /// How `plural` misbehaves, if it does.
    fn hostility(&self, plural: &str) -> Option<Hostile> {
        let hostile = self.inner.hostile.lock().unwrap();
        hostile.get(plural).or_else(|| hostile.get("*")).cloned()
    }

    /// How many list requests (pages) have been made for `plural`.
    pub fn lists(&self, plural: &str) -> usize {
        self.inner.requests.lock().unwrap().get(&format!("list {plural}")).copied().unwrap_or(0)
    }

    /// How many watch requests have been made for `plural`.
    pub fn watches(&self, plural: &str) -> usize {
        self.inner.requests.lock().unwrap().get(&format!("watch {plural}")).copied().unwrap_or(0)
    }

    /// A kubeconfig whose context `fake` (the current one) points here.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
                self.base
            ),
        )
        .unwrap();
        path
    }

    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(kube::Config::new(self.base.parse().unwrap())).unwrap()
    }

    /// The fake as fluxgraph reads it, within `limits`.
    pub fn api(&self, limits: fluxgraph::kube_api::Limits) -> fluxgraph::kube_api::Api {
        fluxgraph::kube_api::Api::new(self.client(), limits)
    }
}

async fn availability(State(fake): State<FakeApi>, request: Request, next: Next) -> Response {
    if *fake.inner.down.borrow() {
        // A 500, as when etcd does not answer (kube's client retries a 503 for a long while itself).
        let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "etcdserver: request timed out", "reason": "InternalError", "code": 500});
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(status)).into_response();
    }
    next.run(request).await
}

async fn artifact(State(fake): State<FakeApi>, UrlPath(file): UrlPath<String>) -> Response {
    match fake.inner.artifacts.lock().unwrap().get(&file) {
        Some(bytes) => bytes.clone().into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "no such artifact").into_response(),
    }
}

async fn groups(State(fake): State<FakeApi>) -> Response {
    let mut names: Vec<&str> = fake.served().map(|k| k.0).collect();
    names.dedup();
    let groups: Vec<Value> = names
        .iter()
        .map(|g| json!({"name": g, "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}], "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"}}))
        .collect();
    axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})).into_response()
}

async fn resources(State(fake): State<FakeApi>, UrlPath((group, version)): UrlPath<(String, String)>) -> Response {
    let resources: Vec<Value> = fake
        .served()
        .filter(|k| k.0 == group)
        .map(|k| json!({"name": k.2, "singularName": k.1.to_lowercase(), "namespaced": true, "kind": k.1, "verbs": ["get", "list", "watch"]}))
        .collect();
    if resources.is_empty() {
        return (axum::http::StatusCode::NOT_FOUND, "no such group").into_response();
    }
    axum::Json(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{group}/{version}"), "resources": resources})).into_response()
}

async fn one(State(fake): State<FakeApi>, UrlPath((_, _, namespace, plural, name)): UrlPath<(String, String, String, String, String)>) -> Response {
    match fake.inner.objects.lock().unwrap().get(&(plural, namespace, name)) {
        Some(object) => axum::Json(object.clone()).into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}))).into_response(),
    }
}

/// A list, or with `watch=true` a stream of the changes from now on (one JSON line each),
/// until the watches are dropped or the API goes down.
async fn collection(State(fake): State<FakeApi>, UrlPath((_, _, plural)): UrlPath<(String, String, String)>, Query(q): Query<HashMap<String, String>>) -> Response {
    let watching = q.get("watch").map(String::as_str) == Some("true");
    *fake.inner.requests.lock().unwrap().entry(format!("{} {plural}", if watching { "watch" } else { "list" })).or_default() += 1;
    let hostile = fake.hostility(&plural);
    if !watching {
        match hostile {
            Some(Hostile::SlowLists(after)) => tokio::time::sleep(after).await,
            Some(Hostile::EndlessLists) => {
                let start = futures_util::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(b"{\"kind\": \"List\", \"items\": [")) });
                let blanks = futures_util::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from(vec![b' '; 64 << 10])));
                return Response::builder().header("content-type", "application/json").body(Body::from_stream(start.chain(blanks))).unwrap();
            }
            Some(Hostile::GarbageLists(size)) => {
                let mut garbage = b"<html><body>an ingress error page".to_vec();
                garbage.resize(size, b'x');
                return Response::builder().header("content-type", "application/json").body(Body::from(garbage)).unwrap();
            }
            _ => {}
        }
        let all: Vec<Value> = fake.inner.objects.lock().unwrap().iter().filter(|(k, _)| k.0 == plural).map(|(_, v)| v.clone()).collect();
        let rv = fake.inner.resource_version.lock().unwrap().to_string();
        // A page from `continue` (an offset here), `limit` objects at most.
        let from: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
        let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).filter(|&l| l > 0).unwrap_or(usize::MAX);
        let items: Vec<Value> = all.iter().skip(from).take(limit).cloned().collect();
        let next = from.saturating_add(limit);
        let metadata = if next < all.len() { json!({"resourceVersion": rv, "continue": next.to_string()}) } else { json!({"resourceVersion": rv}) };
        return axum::Json(json!({"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": items})).into_response();
    }
    match hostile {
        Some(Hostile::ClosedWatches) => return Response::builder().header("content-type", "application/json").body(Body::empty()).unwrap(),
        Some(Hostile::EndlessLine) => {
            let line = futures_util::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from(vec![b'x'; 64 << 10])));
            return Response::builder().header("content-type", "application/json").body(Body::from_stream(line)).unwrap();
        }
        _ => {}
    }
    let mut drops = fake.inner.drops.subscribe();
    drops.mark_unchanged();
    let ended = async move {
        let _ = drops.changed().await;
    };
    // What happened since the version asked for, then what happens from now on.
    let live = BroadcastStream::new(fake.inner.events.subscribe());
    let since: u64 = q.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
    let missed: Vec<Value> = fake.inner.history.lock().unwrap().iter().filter(|(rv, p, _)| *rv > since && *p == plural).map(|(_, _, e)| e.clone()).collect();
    let replayed = missed.len();
    let rv_of = |event: &Value| event["object"]["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let last_replayed = missed.last().map_or(0, rv_of);
    let missed = tokio_stream::iter(missed.into_iter().map(move |event| Ok::<_, Infallible>(Bytes::from(format!("{event}\n")))));
    let events = live.filter_map(move |e| match e {
        Ok((p, event)) if p == plural && (replayed == 0 || rv_of(&event) > last_replayed) => Some(Ok::<_, Infallible>(Bytes::from(format!("{event}\n")))),
        _ => None,
    });
    let events = futures_util::StreamExt::take_until(missed.chain(events), ended);
    Response::builder().header("content-type", "application/json").body(Body::from_stream(events)).unwrap()
}

/// A Flux object with a Ready condition (`status`, `reason`, `message`), generation observed.
pub fn object(kind: &str, name: &str, ready: &str, reason: &str, message: &str) -> Value {
    json!({
        "kind": kind,
        "metadata": {"name": name, "namespace": "flux-system", "generation": 1},
        "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        "status": {
            "observedGeneration": 1,
            "lastAppliedRevision": "main@sha1:1111111",
            "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": message, "lastTransitionTime": "2026-12-01T10:00:00Z"}],
            "artifact": if kind == "GitRepository" { json!({"revision": "main@sha1:1111111"}) } else { Value::Null }
        }
    })
}

pub fn ready(kind: &str, name: &str) -> Value {
    object(kind, name, "True", "ReconciliationSucceeded", "Applied revision: main@sha1:1111111")
}
