//! The real file watcher: git-sync's layout, where `/repo/current` is a symbolic link swapped
//! atomically to a new worktree on every sync; and a root folder deleted and created again.

use std::path::Path;
use std::time::{Duration, Instant};

use fluxgraph::model::{Kind, ObjectId};
use fluxgraph::server::{AppState, Options};

const KS: &str = "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: NAME\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  wait: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

fn worktree(root: &Path, name: &str, kustomization: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("clusters/test")).unwrap();
    std::fs::create_dir_all(dir.join("apps")).unwrap();
    std::fs::write(dir.join("clusters/test/cluster.yaml"), KS.replace("NAME", kustomization)).unwrap();
    std::fs::write(dir.join("apps/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n").unwrap();
}

fn shows(state: &AppState, name: &str) -> bool {
    state.current().is_some_and(|c| {
        c.snapshot.clusters.first().is_some_and(|v| v.cluster.objects.contains_key(&ObjectId::new(Kind::Kustomization, "flux-system", name)))
    })
}

fn until(state: &AppState, what: &str, check: impl Fn(&AppState) -> bool) {
    let started = Instant::now();
    while !check(state) {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn git_sync_symlink_swap_is_followed() {
    let repo = tempfile::tempdir().unwrap();
    let worktrees = repo.path().join(".worktrees");
    worktree(&worktrees, "aaaa", "first");
    std::os::unix::fs::symlink(worktrees.join("aaaa"), repo.path().join("current")).unwrap();

    let state = AppState::new(Options::default());
    let _watching = fluxgraph::watch::spawn(repo.path().join("current"), None, fluxgraph::load::ReadOptions::default(), state.clone()).unwrap();
    until(&state, "the first worktree", |s| shows(s, "first"));

    // git-sync: a new worktree, a new link beside the old, renamed over it; the old removed.
    worktree(&worktrees, "bbbb", "second");
    std::os::unix::fs::symlink(worktrees.join("bbbb"), repo.path().join("current.tmp")).unwrap();
    std::fs::rename(repo.path().join("current.tmp"), repo.path().join("current")).unwrap();
    std::fs::remove_dir_all(worktrees.join("aaaa")).unwrap();
    until(&state, "the swapped worktree", |s| shows(s, "second"));

    // Edits inside the new worktree are followed too.
    let file = worktrees.join("bbbb/clusters/test/cluster.yaml");
    std::fs::write(&file, KS.replace("NAME", "third")).unwrap();
    until(&state, "an edit in the new worktree", |s| shows(s, "third"));
}

/// Copies a folder's files into `to`, created.

/// Status and body of one request to the app, as `fluxgraph serve` answers it.
fn fetch(runtime: &tokio::runtime::Runtime, state: &AppState, uri: &str) -> (u16, String) {
    use axum::body::{Body, to_bytes};
    use tower::ServiceExt;
    runtime.block_on(async {
        let request = axum::http::Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = fluxgraph::server::app(state.clone()).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = to_bytes(response.into_body(), 64 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    })
}

#[test]
fn root_deleted_and_created_again_is_followed() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repos/levels-chain");
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("R");
    crate::util::copy_dir(&source, &root);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let state = AppState::new(Options::default());
    let _watching = fluxgraph::watch::spawn(root.clone(), None, fluxgraph::load::ReadOptions::default(), state.clone()).unwrap();
    until(&state, "the first snapshot", |s| shows(s, "apps"));
    assert_eq!(fetch(&runtime, &state, "/readyz").0, 200);

    // The folder goes: the last good snapshot stays, the refresh is marked failed, unready.
    std::fs::remove_dir_all(&root).unwrap();
    until(&state, "/readyz to answer 503", |s| fetch(&runtime, s, "/readyz").0 == 503);
    assert!(shows(&state, "apps"), "the last good snapshot is kept");
    assert!(state.current().unwrap().failure.as_deref().is_some_and(|f| f.contains("gone")), "the failed refresh says why");

    // It comes back with one more Kustomization: followed again, ready again.
    crate::util::copy_dir(&source, &root);
    std::fs::write(root.join("clusters/test/extra.yaml"), KS.replace("NAME", "extra")).unwrap();
    until(&state, "the folder back with its change", |s| fetch(&runtime, s, "/api/graph").1.contains("Kustomization/flux-system/extra"));
    until(&state, "/readyz to answer 200", |s| fetch(&runtime, s, "/readyz").0 == 200);
    assert!(state.current().unwrap().failure.is_none());

    // And edits inside the new folder are followed.
    std::fs::write(root.join("clusters/test/extra.yaml"), KS.replace("NAME", "edited")).unwrap();
    until(&state, "an edit in the folder created again", |s| shows(s, "edited"));

    // Deleted and created again at once (within one debounce): the new folder is watched.
    std::fs::remove_dir_all(&root).unwrap();
    crate::util::copy_dir(&source, &root);
    std::fs::write(root.join("clusters/test/extra.yaml"), KS.replace("NAME", "again")).unwrap();
    until(&state, "the folder replaced at once", |s| shows(s, "again"));
    std::fs::write(root.join("clusters/test/extra.yaml"), KS.replace("NAME", "last")).unwrap();
    until(&state, "an edit in the folder replaced at once", |s| shows(s, "last"));
    assert_eq!(fetch(&runtime, &state, "/readyz").0, 200);
}
