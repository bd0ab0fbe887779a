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
