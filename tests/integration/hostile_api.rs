//! The live status against a broken or hostile Kubernetes API (the fake's [`Hostile`] modes):
//! every answer is read within a byte and a time limit, lists come in pages, a watch closed at
//! once is not reopened without pause, a body that is not JSON is named by its size and first
//! bytes, and until a kind's first list has come back its objects are loading, not missing.
//! Each attack is small (a limit of 1 MiB, a few seconds), so that the tests stay cheap even
//! where the limit would not hold.

use std::time::{Duration, Instant};

use fluxgraph::kube_api::Limits;
use serde_json::Value;

use crate::fake_api::{FakeApi, Hostile};
use crate::status::{healthy, until_status, watched_state};
use crate::util::repo;

const MIB: usize = 1 << 20;

/// `fluxgraph blocked tests/repos/live-status --format json <extra…>` against `fake`, killed if
/// still running after 30 s: exit code, stdout, stderr, and how long it took.
async fn blocked(fake: &FakeApi, extra: &[&str]) -> (i32, String, String, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
            .arg("blocked")
            .arg(repo("live-status"))
            .args(["--format", "json"])
            .args(&extra)
            .env("KUBECONFIG", &kubeconfig)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr), started.elapsed())
    })
    .await
    .unwrap()
}

/// A list whose body never ends grew memory with every byte (`blocked` reached 23.9 GB before
/// it was killed): it is read up to the byte limit, and the command could not run, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_never_ends_is_read_up_to_the_byte_limit() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    fake.hostile("kustomizations", Hostile::EndlessLists);
    let (code, _, stderr, took) = blocked(&fake, &["--max-api-bytes", &MIB.to_string()]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("over {MIB} bytes")) && stderr.contains("--max-api-bytes"), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// An API answering after 30 s kept `blocked` waiting 200 s with no output: the whole command
/// has a time limit (`--timeout`), and says it was reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_against_a_slow_api_gives_up_at_its_timeout() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    fake.hostile("*", Hostile::SlowLists(Duration::from_secs(60)));
    let (code, _, stderr, took) = blocked(&fake, &["--timeout", "2"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did not answer within 2 s (--timeout)"), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A 10 MB body that failed to parse was logged whole, at every retry (50 MB of log in 20 s):
/// the error names its size and first bytes only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_named_by_its_size_and_first_bytes() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    fake.hostile("kustomizations", Hostile::GarbageLists(10 * MIB));
    let (code, _, stderr, _) = blocked(&fake, &[]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.len() < 2_000, "{} bytes of error", stderr.len());
    assert!(stderr.contains(&format!("{} bytes, starting \"<html><body>an ingress error page", 10 * MIB)), "{stderr}");
}

/// And the server, whose watcher retries such a list, logs a line per attempt, not the body.
#[test]
fn the_server_logs_a_bad_body_by_its_size_not_whole() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(async {
        let fake = FakeApi::start(false).await;
        healthy(&fake);
        fake.hostile("kustomizations", Hostile::GarbageLists(2 * MIB));
        fake
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let log = dir.path().join("log");
    let root = repo("live-status");
    let served = crate::util::Served::start_logging(&[root.to_str().unwrap(), "--kube-status"], &[("KUBECONFIG", kubeconfig.as_os_str())], &log);
    // The first attempts, and the retries of the next seconds.
    std::thread::sleep(Duration::from_secs(3));
    drop(served);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(fake.lists("kustomizations") >= 2, "the list was retried");
    assert!(logged.len() < 20_000, "{} bytes of log in 3 s", logged.len());
    assert!(logged.contains(&format!("{} bytes, starting", 2 * MIB)), "{logged}");
    drop(runtime);
}

/// 7 watches each sending one 300 MB line aborted the server ("memory allocation failed"): a
/// line over the limit ends the watch as an error, and the status says it is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_line_over_the_limit_ends_the_watch() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    fake.hostile("kustomizations", Hostile::EndlessLine);
    let state = watched_state(&fake, Limits { max_bytes: MIB, ..Limits::default() });
    let doc = until_status(&state, "stale for the line over the limit", |d| d["stale"]["why"].as_str().is_some_and(|w| w.contains(&format!("over {MIB} bytes")))).await;
    assert!(doc["stale"]["why"].as_str().unwrap().contains("Kustomization"), "{doc}");
}

/// A watch the server closed at once was opened again about 160 times a second: it waits,
/// longer each time (with jitter).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_closed_at_once_is_opened_again_after_a_growing_wait() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    fake.hostile("*", Hostile::ClosedWatches);
    let state = watched_state(&fake, Limits::default());
    until_status(&state, "listed", |d| d["counts"]["ready"] == 18).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let watches = fake.watches("kustomizations");
    // 0.5 s, 1 s, 2 s… each between half and all of it: at most 6 in 3 s.
    assert!((1..=6).contains(&watches), "{watches} watches in 3 s");
}

/// Lists come in pages (`limit`, `continue`), and every page is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_come_in_pages() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    let store = fluxgraph::status_watch::list_once(&fake.api(Limits { page_size: 5, ..Limits::default() })).await.unwrap();
    assert_eq!(fake.lists("kustomizations"), 4, "17 Kustomizations, 5 a page");
    assert_eq!(store.iter().filter(|(id, _)| id.kind == fluxgraph::model::Kind::Kustomization).count(), 17);
}

/// While the first list of GitRepositories had not come back, `/api/blocked` reported every
/// object not applied and the GitRepository "in the repository, not in the cluster": its
/// objects are loading, and the report, the API and the page say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_a_kinds_first_list_its_objects_are_loading_not_missing() {
    let fake = FakeApi::start(false).await;
    healthy(&fake);
    fake.hostile("gitrepositories", Hostile::SlowLists(Duration::from_secs(4)));
    let state = watched_state(&fake, Limits::default());
    let doc = until_status(&state, "the Kustomizations listed", |d| d["counts"]["ready"] == 17).await;
    let git = "GitRepository/flux-system/flux-system";
    assert_eq!(doc["objects"][git]["state"], "loading", "{doc}");
    assert_eq!(doc["counts"]["not_applied"], 0);
    let report = json(&state, "/api/blocked").await;
    assert_eq!(report["loading"], serde_json::json!(["GitRepository"]), "{report}");
    assert!(!report.to_string().contains("not in the cluster"), "{report}");
    assert_eq!(report["blocked"], false);
    let page = crate::status::page(&state, "/blocked").await;
    assert!(page.contains("Loading: the cluster") && page.contains("list of GitRepository has not come back yet"), "{page}");
    // Once it has come back: known, and nothing is loading.
    let doc = until_status(&state, "the GitRepositories listed", |d| d["objects"][git]["state"] == "ready").await;
    assert_eq!(doc["counts"]["loading"], 0);
    assert_eq!(json(&state, "/api/blocked").await["loading"], serde_json::json!([]));
}

async fn json(state: &fluxgraph::server::AppState, uri: &str) -> Value {
    serde_json::from_str(&crate::status::page(state, uri).await).unwrap()
}
