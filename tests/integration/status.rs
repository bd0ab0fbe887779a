//! The cluster's live status against the fake Kubernetes API (`fake_api.rs`), on
//! `tests/repos/live-status`: infra → storage-operator → storage-cluster → storage-health
//! (level 3, with a health check) and twelve apps that dependsOn storage-health.
//! `fluxgraph blocked` for each scenario the issue names; the server's pages, its event
//! stream, and the watch's reconnection in `server_status`.

use serde_json::{Value, json};

use crate::fake_api::{FakeApi, object, ready};
use crate::util::repo;

pub const KUSTOMIZATIONS: [&str; 17] = [
    "infra", "apps", "storage-operator", "storage-cluster", "storage-health", "app-01", "app-02", "app-03", "app-04", "app-05", "app-06", "app-07", "app-08", "app-09", "app-10", "app-11", "app-12",
];

pub fn apps() -> impl Iterator<Item = String> {
    (1..=12).map(|i| format!("app-{i:02}"))
}

/// Every object of the repository, Ready, in the fake.
pub fn healthy(fake: &FakeApi) {
    for name in KUSTOMIZATIONS {
        fake.put(ready("Kustomization", name));
    }
    fake.put(ready("GitRepository", "flux-system"));
}

/// The health check of storage-health fails; the twelve apps wait on it.
pub fn health_check_fails(fake: &FakeApi) {
    fake.put(object("Kustomization", "storage-health", "False", "HealthCheckFailed", "health check failed after 5m0s: timeout waiting for: [CephCluster/rook-ceph/rook-ceph status: 'InProgress']"));
    for app in apps() {
        fake.put(object("Kustomization", &app, "False", "DependencyNotReady", "dependency 'flux-system/storage-health' is not ready"));
    }
}

/// `fluxgraph blocked tests/repos/live-status --format json` against `fake`: exit code and
/// document (and the text output for the same).
async fn blocked(fake: &FakeApi, extra: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let run = |format: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
                .arg("blocked")
                .arg(repo("live-status"))
                .args(["--format", format])
                .args(&extra)
                .env("KUBECONFIG", &kubeconfig)
                .output()
                .unwrap()
        };
        let json_run = run("json");
        let text_run = run("text");
        let code = json_run.status.code().unwrap();
        assert!(code == 0 || code == 1, "exit {code}: {}", String::from_utf8_lossy(&json_run.stderr));
        assert_eq!(text_run.status.code(), Some(code));
        (code, serde_json::from_slice(&json_run.stdout).unwrap(), String::from_utf8(text_run.stdout).unwrap())
    })
    .await
    .unwrap()
}

fn roots(report: &Value) -> Vec<(String, String, u64)> {
    report["root_blockers"].as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap().to_string(), r["reason"].as_str().unwrap().to_string(), r["waiting"].as_u64().unwrap())).collect()
}

fn ks(name: &str) -> String {
    format!("Kustomization/flux-system/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_healthy_cluster_without_flux_operator() {
    // The Flux Operator's CRDs are absent: not an error.
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    let (code, report, text) = blocked(&fake, &[]).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["cluster"], "test");
    assert_eq!(report["counts"]["ready"], 18);
    assert_eq!(report["counts"]["not_applied"], 0);
    assert_eq!(report["blocked"], false);
    assert!(roots(&report).is_empty());
    assert!(report["stale"].is_null());
    assert!(text.contains("nothing is blocked"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_names_the_failing_health_check_as_the_one_root() {
    let fake = FakeApi::start(true).await;
    healthy(&fake);
    health_check_fails(&fake);
    let (code, report, text) = blocked(&fake, &["--context", "fake"]).await;
    assert_eq!(code, 1);
    assert_eq!(roots(&report), [(ks("storage-health"), "HealthCheckFailed".to_string(), 12)]);
    let root = &report["root_blockers"][0];
    assert_eq!(root["state"], "failed");
    assert!(root["message"].as_str().unwrap().contains("CephCluster"));
    let chains: Vec<Vec<String>> = serde_json::from_value(root["chains"].clone()).unwrap();
    let want: Vec<Vec<String>> = apps().map(|a| vec![ks(&a), ks("storage-health")]).collect();
    assert_eq!(chains, want);
    assert_eq!((report["counts"]["failed"].as_u64(), report["counts"]["waiting"].as_u64()), (Some(1), Some(12)));
    assert!(text.contains("Kustomization/flux-system/storage-health is failed (HealthCheckFailed)"), "{text}");
    assert!(text.contains("12 waiting behind it") && text.contains("Kustomization/flux-system/app-07 -> Kustomization/flux-system/storage-health"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_by_a_failed_git_repository_and_by_a_suspended_kustomization() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    fake.put(object("GitRepository", "flux-system", "False", "GitOperationFailed", "failed to checkout and determine revision: unable to clone: authentication required"));
    for name in ["storage-operator", "storage-cluster"] {
        fake.put(object("Kustomization", name, "False", "ArtifactFailed", "Source artifact not found, retrying in 30s"));
    }
    let (code, report, _) = blocked(&fake, &[]).await;
    assert_eq!(code, 1);
    assert_eq!(roots(&report), [("GitRepository/flux-system/flux-system".to_string(), "GitOperationFailed".to_string(), 2)]);

    // Suspended, with what depends on it waiting.
    healthy(&fake);
    let mut suspended = ready("Kustomization", "storage-operator");
    suspended["spec"]["suspend"] = json!(true);
    fake.put(suspended);
    fake.put(object("Kustomization", "storage-cluster", "False", "DependencyNotReady", "dependency 'flux-system/storage-operator' is not ready"));
    let (code, report, _) = blocked(&fake, &[]).await;
    assert_eq!(code, 1);
    assert_eq!(roots(&report), [(ks("storage-operator"), "Suspended".to_string(), 1)]);
    assert_eq!(report["root_blockers"][0]["state"], "suspended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_shows_what_is_not_applied_and_what_is_not_in_git() {
    let fake = FakeApi::start(true).await;
    healthy(&fake);
    fake.delete("Kustomization", "flux-system", "app-12");
    fake.put(ready("Kustomization", "hand-made"));
    // helm-controller's own HelmChart is neither.
    let mut chart = ready("HelmChart", "flux-system-podinfo");
    chart["metadata"]["labels"] = json!({"helm.toolkit.fluxcd.io/name": "podinfo"});
    fake.put(chart);
    let (code, report, text) = blocked(&fake, &[]).await;
    assert_eq!(code, 1);
    assert_eq!(roots(&report), [(ks("app-12"), "NotApplied".to_string(), 0)]);
    assert_eq!(report["root_blockers"][0]["state"], "not-applied");
    assert_eq!(report["counts"]["not_applied"], 1);
    let not_in_git: Vec<&str> = report["not_in_git"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(not_in_git, [ks("hand-made")]);
    assert!(text.contains("in the cluster, not in git:\n  Kustomization/flux-system/hand-made (ready)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_without_a_cluster_could_not_run() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 of loopback.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\nclusters:\n- name: none\n  cluster:\n    server: http://127.0.0.1:9\ncontexts:\n- name: none\n  context:\n    cluster: none\n    user: none\ncurrent-context: none\nusers:\n- name: none\n  user: {}\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fluxgraph")).arg("blocked").arg(repo("live-status")).env("KUBECONFIG", &kubeconfig).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot discover the Flux APIs"), "{}", String::from_utf8_lossy(&output.stderr));
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_fluxgraph")).args(["blocked", "--context", "nope"]).arg(repo("live-status")).env("KUBECONFIG", &kubeconfig).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------------
// The server: live status on the pages, over `/events`, and through a watch that fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use fluxgraph::server::{AppState, Options, app};
use fluxgraph::snapshot::Snapshot;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A server state showing `tests/repos/live-status`, its status fed by watchers of `fake`
/// reading within `limits`.
pub fn watched_state(fake: &FakeApi, limits: fluxgraph::kube_api::Limits) -> AppState {
    let state = AppState::new(Options::default());
    state.publish(Snapshot::read(&repo("live-status"), None).unwrap(), None, None);
    state.enable_status();
    let sink = state.clone();
    tokio::spawn(fluxgraph::status_watch::watch(fake.api(limits), Arc::new(move |event| sink.status_event(event))));
    state
}

/// The body of `GET uri`, whatever its status.
pub async fn page(state: &AppState, uri: &str) -> String {
    get(state, uri).await.1
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    let response = app(state.clone()).oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    (status, String::from_utf8_lossy(&to_bytes(response.into_body(), 16 << 20).await.unwrap()).into_owned())
}

async fn status_json(state: &AppState) -> Value {
    let (code, body) = get(state, "/api/status").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until `check` holds for `/api/status`, or fails after ten seconds.
pub async fn until_status(state: &AppState, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let doc = status_json(state).await;
        if check(&doc) {
            return doc;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}: {doc}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn state_of(doc: &Value, name: &str) -> String {
    doc["objects"][ks(name)]["state"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shows_live_status_blockers_and_sends_changes() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    let state = watched_state(&fake, fluxgraph::kube_api::Limits::default());
    let doc = until_status(&state, "everything ready", |d| d["counts"]["ready"] == 18).await;
    assert_eq!(doc["applies"], true);
    assert_eq!(doc["cluster"], "test");
    assert!(doc["stale"].is_null());

    // Pages say the live status is on: the bar, the view, the object's live part.
    let (_, home) = get(&state, "/").await;
    assert!(home.contains(r#"data-status="/api/status""#) && home.contains(r#"id="live-status""#) && home.contains(r#"href="/blocked""#), "{home}");
    let (_, object) = get(&state, "/k/Kustomization/flux-system/app-03").await;
    assert!(object.contains(r#"data-live="/blocked/k/Kustomization/flux-system/app-03""#), "{object}");
    let (_, nothing) = get(&state, "/blocked").await;
    assert!(nothing.contains("Nothing is blocked"), "{nothing}");

    // An open page's event stream gets each change as it happens.
    let events = app(state.clone()).oneshot(Request::builder().uri("/events").body(Body::empty()).unwrap()).await.unwrap();
    let mut events = events.into_body();
    health_check_fails(&fake);
    let started = Instant::now();
    let mut seen = String::new();
    while !(seen.contains("event: status") && seen.contains("\"id\":\"Kustomization/flux-system/storage-health\",\"state\":\"failed\"")) {
        assert!(started.elapsed() < Duration::from_secs(10), "no status event: {seen}");
        if let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(10), events.frame()).await {
            if let Ok(data) = frame.into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
    assert!(seen.contains("HealthCheckFailed"), "{seen}");

    let doc = until_status(&state, "twelve waiting", |d| d["counts"]["waiting"] == 12).await;
    assert_eq!(state_of(&doc, "storage-health"), "failed");
    assert_eq!(doc["objects"][ks("app-05")]["blocked_by"], json!([ks("storage-health")]));
    assert_eq!(doc["objects"][ks("storage-health")]["blocked_by"], json!([ks("storage-health")]));

    // /blocked: the one root blocker, its reason and message, the count and the chains.
    let (code, page) = get(&state, "/blocked").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(page.matches(r#"<li class="st-failed" data-id="#).count(), 1, "{page}");
    assert!(page.contains("Kustomization/flux-system/storage-health</a>") && page.contains("HealthCheckFailed") && page.contains("CephCluster/rook-ceph/rook-ceph"), "{page}");
    assert!(page.contains("<b>12</b> waiting behind it"), "{page}");
    assert!(page.contains(r#"<a href="/k/Kustomization/flux-system/app-09">Kustomization/flux-system/app-09</a> → <a href="/k/Kustomization/flux-system/storage-health">"#), "{page}");
    let (_, part) = get(&state, "/blocked?part=1").await;
    assert!(!part.contains("<html") && part.contains("waiting behind it"), "{part}");
    let (_, api) = get(&state, "/api/blocked").await;
    let api: Value = serde_json::from_str(&api).unwrap();
    assert_eq!(roots(&api), [(ks("storage-health"), "HealthCheckFailed".to_string(), 12)]);

    // The object view: blocked by X (reason), with the chain.
    let (code, part) = get(&state, "/blocked/k/Kustomization/flux-system/app-03").await;
    assert_eq!(code, StatusCode::OK);
    assert!(part.contains(r#"blocked by <a href="/k/Kustomization/flux-system/storage-health">Kustomization/flux-system/storage-health</a> (failed: HealthCheckFailed)"#), "{part}");
    assert!(part.contains("DependencyNotReady"), "{part}");
    let (_, root) = get(&state, "/blocked/k/Kustomization/flux-system/storage-health").await;
    assert!(root.contains("It is a root blocker") && root.contains("12 waiting behind it"), "{root}");
    // Objects that are not in the snapshot are not looked for anywhere.
    assert_eq!(get(&state, "/blocked/k/Kustomization/flux-system/..%2F..%2Fetc").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&state, "/blocked/k/Secret/flux-system/x").await.0, StatusCode::NOT_FOUND);

    // Recovery reaches the counts; the critical path shows how long each hop took, and
    // which took longer than its timeout allows (storage-health: 20 minutes for 5m + 30 s).
    healthy(&fake);
    let mut late = ready("Kustomization", "storage-health");
    late["status"]["conditions"][0]["lastTransitionTime"] = json!("2026-12-01T10:20:00Z");
    fake.put(late);
    until_status(&state, "ready again", |d| d["counts"]["ready"] == 18 && d["objects"][ks("storage-health")]["since"] == "2026-12-01T10:20:00Z").await;
    let (_, critical) = get(&state, "/critical-path").await;
    assert!(critical.contains(r#"data-live="/blocked/timing""#), "{critical}");
    let (code, timing) = get(&state, "/blocked/timing").await;
    assert_eq!(code, StatusCode::OK);
    assert!(timing.contains("<b>20m</b> from the first to the last"), "{timing}");
    let slow: Vec<&str> = timing.split("<tr").filter(|row| row.contains("slower than its timeout allows")).collect();
    assert_eq!(slow.len(), 1, "{timing}");
    assert!(slow[0].contains(">storage-health</a>") && slow[0].contains("<td>20m</td><td>5m30s</td>"), "{timing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_watch_reconnects_and_says_when_status_is_stale() {
    let fake = FakeApi::start(true).await;
    healthy(&fake);
    let state = watched_state(&fake, fluxgraph::kube_api::Limits::default());
    until_status(&state, "everything ready", |d| d["counts"]["ready"] == 18).await;

    // The API ends the watches (as it does every few minutes): the watchers watch again and
    // see what changes next, and nothing is stale.
    let before = fake.watches("kustomizations");
    fake.drop_watches();
    let started = Instant::now();
    while fake.watches("kustomizations") == before {
        assert!(started.elapsed() < Duration::from_secs(10), "no new watch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.put(object("Kustomization", "app-01", "False", "BuildFailed", "kustomize build failed"));
    let doc = until_status(&state, "the change after the reconnection", |d| state_of(d, "app-01") == "failed").await;
    assert!(doc["stale"].is_null());

    // The API goes down: the status is stale, and the pages say so.
    fake.set_down(true);
    let doc = until_status(&state, "stale", |d| !d["stale"].is_null()).await;
    assert!(doc["stale"]["why"].as_str().unwrap().contains("etcdserver: request timed out"), "{doc}");
    let (_, page) = get(&state, "/blocked").await;
    assert!(page.contains("The live status is stale"), "{page}");
    let (_, part) = get(&state, "/blocked/k/Kustomization/flux-system/app-01").await;
    assert!(part.contains("The live status is stale"), "{part}");
    // What changes meanwhile is seen once it is back: a fresh list, and no longer stale.
    fake.put(ready("Kustomization", "app-01"));
    fake.set_down(false);
    let doc = until_status(&state, "fresh again", |d| d["stale"].is_null() && state_of(d, "app-01") == "ready").await;
    assert_eq!(doc["counts"]["ready"], 18);
}

/// In the cluster: `serve --flux-source` reads the repository from the GitRepository's
/// artifact and watches the status of everything, with no other flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_cluster_the_flux_source_mode_shows_live_status() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    health_check_fails(&fake);
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    builder.append_dir_all(".", repo("live-status")).unwrap();
    fake.publish_artifact("main@sha1:1111111", builder.into_inner().unwrap().finish().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
        .args(["serve", "--flux-source", "flux-system/flux-system", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--artifact-dir")
        .arg(dir.path().join("artifacts"))
        .env("KUBECONFIG", &kubeconfig)
        .env("FLUXGRAPH_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<http_body_util::Empty<axum::body::Bytes>>();
    let url: axum::http::Uri = format!("http://127.0.0.1:{port}/api/blocked").parse().unwrap();
    let started = Instant::now();
    let report = loop {
        if let Ok(response) = client.get(url.clone()).await {
            if response.status().is_success() {
                let report: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
                if report["counts"]["waiting"] == 12 {
                    break report;
                }
            }
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("no live status within 20 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(roots(&report), [(ks("storage-health"), "HealthCheckFailed".to_string(), 12)]);
}

/// Without `?cluster`, the live status describes the cluster the pages open on (the largest),
/// not the first one: here `staging`, which has one Kustomization more than `prod`.
#[tokio::test]
async fn the_live_status_describes_the_cluster_the_pages_show() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_dir(&repo("two-clusters"), dir.path());
    let extra = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: extra\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps/staging\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
    std::fs::write(dir.path().join("clusters/staging/extra.yaml"), extra).unwrap();
    let snapshot = Snapshot::read(dir.path(), None).unwrap();
    assert_eq!(snapshot.clusters[0].cluster.name, "prod");
    assert_eq!(snapshot.clusters[snapshot.main_cluster()].cluster.name, "staging");
    let state = AppState::new(Options::default());
    state.publish(snapshot, None, None);
    state.enable_status();
    assert_eq!(status_json(&state).await["cluster"], "staging");
    let (_, home) = get(&state, "/").await;
    assert!(home.contains("staging"), "{home}");
}

/// The page's script has no list of states: the page carries every state of the Rust enum,
/// in its order, with its Rust label, the key of its count in `/api/status`, and whether the
/// header counts it at zero (as `/blocked` does).
#[tokio::test]
async fn the_page_carries_every_state_with_its_label() {
    use fluxgraph::status::State;
    let state = AppState::new(Options::default());
    state.publish(Snapshot::read(&repo("live-status"), None).unwrap(), None, None);
    state.enable_status();
    let (_, home) = get(&state, "/").await;
    let attribute = regex::Regex::new(r#"<body [^>]*data-states="([^"]*)""#).unwrap().captures(&home).expect("data-states on <body>")[1].to_string();
    // As askama escapes an attribute.
    let text = attribute.replace("&#34;", "\"").replace("&#39;", "'").replace("&#60;", "<").replace("&#62;", ">").replace("&#38;", "&");
    let states: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let expected: Vec<Value> = State::ALL.iter().map(|s| json!({"state": s.as_str(), "label": s.label(), "counts": s.counts_key(), "shown_at_zero": s.shown_at_zero()})).collect();
    assert_eq!(states, Value::from(expected));
    assert!(text.contains(r#""label":"waiting on a dependency""#), "{text}");
    let counts = status_json(&state).await["counts"].clone();
    for s in states.as_array().unwrap() {
        assert!(counts[s["counts"].as_str().unwrap()].is_u64(), "{s} has no count in {counts}");
    }
}
