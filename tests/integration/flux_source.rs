//! The Flux-source mode end to end against a local fake of the Kubernetes API and of
//! source-controller (an axum server here, serving a recorded GitRepository object, its
//! watch stream and the artifact tarballs): first load, a revision change, a wrong digest,
//! a tarball with `../` entries and an oversized one — each refused with the last good
//! snapshot kept. No real cluster is needed (or available) for these fake-API tests.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fluxgraph::flux_source::{Follow, Limits, SourceRef, follow};
use fluxgraph::model::{Kind, ObjectId};
use fluxgraph::server::{AppState, Options};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;

const KS: &str = "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: NAME\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  wait: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

/// A gzipped tarball of `files` (path, content); paths are written as given, `../` included.
fn tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        // Written by hand: tar's own path setter refuses `..`, which is what a hostile
        // artifact would hold.
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *content).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn repository(root_name: &str) -> Vec<u8> {
    let ks = KS.replace("NAME", root_name);
    tarball(&[("./clusters/test/cluster.yaml", ks.as_bytes()), ("./apps/cm.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")])
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone)]
struct Fake {
    object: watch::Sender<Value>,
    tarballs: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    base: String,
}

impl Fake {
    /// Publishes a new artifact: the tarball, and the GitRepository's status pointing at it
    /// with `digest` (the right one unless given).
    fn publish(&self, revision: &str, bytes: Vec<u8>, digest: Option<String>) {
        let digest = digest.unwrap_or_else(|| format!("sha256:{}", sha256(&bytes)));
        let file = format!("{}.tar.gz", sha256(revision.as_bytes()));
        self.tarballs.lock().unwrap().insert(file.clone(), bytes);
        let object = json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "flux-system", "namespace": "flux-system", "resourceVersion": revision},
            "spec": {"interval": "1m", "url": "ssh://git@github.com/me/home-ops", "ref": {"branch": "main"}},
            "status": {"artifact": {"path": format!("gitrepository/flux-system/flux-system/{file}"), "url": format!("{}/gitrepository/flux-system/flux-system/{file}", self.base), "revision": revision, "digest": digest}}
        });
        self.object.send_replace(object);
    }
}

async fn object(State(fake): State<Fake>) -> Response {
    axum::Json(fake.object.borrow().clone()).into_response()
}

/// The collection: a watch stream when `watch=true` (one event now, one per change).
async fn collection(State(fake): State<Fake>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("watch").map(String::as_str) != Some("true") {
        let item = fake.object.borrow().clone();
        return axum::Json(json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepositoryList", "metadata": {"resourceVersion": "1"}, "items": [item]})).into_response();
    }
    let events = WatchStream::new(fake.object.subscribe()).map(|object| {
        let line = format!("{}\n", json!({"type": "MODIFIED", "object": object}));
        Ok::<_, Infallible>(Bytes::from(line))
    });
    Response::builder().header("content-type", "application/json").body(Body::from_stream(events)).unwrap()
}

async fn artifact(State(fake): State<Fake>, Path(file): Path<String>) -> Response {
    match fake.tarballs.lock().unwrap().get(&file) {
        Some(bytes) => bytes.clone().into_response(),
        None => (axum::http::StatusCode::NOT_FOUND, "no such artifact").into_response(),
    }
}

async fn start_fake() -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Fake { object: watch::channel(json!({})).0, tarballs: Arc::default(), base };
    let app = Router::new()
        .route("/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system", get(object))
        .route("/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories", get(collection))
        .route("/gitrepository/flux-system/flux-system/{file}", get(artifact))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

/// Waits until `check` holds for the state, or fails after a few seconds.
async fn until(state: &AppState, what: &str, check: impl Fn(&AppState) -> bool) {
    let started = Instant::now();
    while !check(state) {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn shows(state: &AppState, revision: &str, root: &str) -> bool {
    state.current().is_some_and(|c| {
        c.revision.as_deref() == Some(revision)
            && c.snapshot.clusters.first().is_some_and(|v| v.cluster.objects.contains_key(&ObjectId::new(Kind::Kustomization, "flux-system", root)))
    })
}

fn failure(state: &AppState) -> String {
    state.current().and_then(|c| c.failure.clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_api_follows_revisions_and_refuses_bad_artifacts() {
    let fake = start_fake().await;
    fake.publish("main@sha1:1111111", repository("first"), None);
    let work = tempfile::tempdir().unwrap();
    let client = kube::Client::try_from(kube::Config::new(fake.base.parse().unwrap())).unwrap();
    let state = AppState::new(Options::default());
    let limits = Limits { max_unpacked: 1 << 20, ..Limits::default() };
    let settings = Follow {
        source: SourceRef::parse("flux-system/flux-system").unwrap(),
        work_dir: work.path().to_path_buf(),
        entry: None,
        limits,
        poll: Duration::from_millis(300),
    };
    tokio::spawn(follow(fluxgraph::kube_api::Api::new(client, fluxgraph::kube_api::Limits::default()), settings, state.clone()));

    // First load; the page says which revision it shows.
    until(&state, "the first revision", |s| shows(s, "main@sha1:1111111", "first")).await;
    let page = axum::body::to_bytes(
        tower::ServiceExt::oneshot(fluxgraph::server::app(state.clone()), axum::http::Request::builder().uri("/").body(Body::empty()).unwrap())
            .await
            .unwrap()
            .into_body(),
        1 << 24,
    )
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&page).contains("main@sha1:1111111"));

    // A new revision is picked up (through the watch, or the poll).
    fake.publish("main@sha1:2222222", repository("second"), None);
    until(&state, "the second revision", |s| shows(s, "main@sha1:2222222", "second")).await;
    assert!(failure(&state).is_empty());

    // A wrong digest: refused, the last good snapshot stays and says why.
    fake.publish("main@sha1:3333333", repository("third"), Some(format!("sha256:{}", "0".repeat(64))));
    until(&state, "the digest to be refused", |s| failure(s).contains("sha256")).await;
    assert!(shows(&state, "main@sha1:2222222", "second"));

    // Entries that climb out of the folder: refused, and nothing written outside.
    let escape = tarball(&[("./apps/cm.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), ("../../escaped.yaml", b"owned: true\n")]);
    fake.publish("main@sha1:4444444", escape, None);
    until(&state, "the ../ entry to be refused", |s| failure(s).contains("leaves its folder")).await;
    assert!(shows(&state, "main@sha1:2222222", "second"));
    assert!(!work.path().join("../escaped.yaml").exists() && !work.path().parent().unwrap().join("escaped.yaml").exists());

    // More than the limit once unpacked (2 MiB of zeros, a few KiB compressed): refused.
    let zeros = vec![0u8; 2 << 20];
    fake.publish("main@sha1:5555555", tarball(&[("./apps/big.yaml", &zeros)]), None);
    until(&state, "the oversized artifact to be refused", |s| failure(s).contains("more than")).await;
    assert!(shows(&state, "main@sha1:2222222", "second"));

    // And a good revision after all that is shown again, without the failure.
    fake.publish("main@sha1:6666666", repository("sixth"), None);
    until(&state, "recovery", |s| shows(s, "main@sha1:6666666", "sixth") && failure(s).is_empty()).await;
}

/// The binary started as the image starts it (`serve --flux-source flux-system/flux-system
/// --listen …`), finding the fake API through a kubeconfig: ready once the example's artifact
/// is loaded. Prints the cold start to `/readyz`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_api_image_command_gets_ready_on_the_example() {
    let fake = start_fake().await;
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster");
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    builder.append_dir_all(".", &example).unwrap();
    fake.publish("main@sha1:example", builder.into_inner().unwrap().finish().unwrap(), None);

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
            fake.base
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
        .args(["serve", "--flux-source", "flux-system/flux-system", "--listen", &format!("127.0.0.1:{port}"), "--log-format", "json"])
        .arg("--artifact-dir")
        .arg(dir.path().join("artifacts"))
        .env("KUBECONFIG", &kubeconfig)
        .env("FLUXGRAPH_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<http_body_util::Empty<Bytes>>();
    let url: axum::http::Uri = format!("http://127.0.0.1:{port}/readyz").parse().unwrap();
    let ready = loop {
        if let Ok(response) = client.get(url.clone()).await {
            if response.status().is_success() {
                use http_body_util::BodyExt;
                break String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
            }
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("not ready within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!("image command: cold start to /readyz on the example in {:?}", started.elapsed());
    assert!(ready.contains("revision main@sha1:example"), "{ready}");
    // Kubernetes stops a pod with SIGTERM: the server shuts down gracefully and exits 0.
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stopping.elapsed() < Duration::from_secs(5), "still running 5 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
}
