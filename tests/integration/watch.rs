//! The real file watcher: git-sync's layout, where `/repo/current` is a symbolic link swapped
//! atomically to a new worktree on every sync.

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
    let _watching = fluxgraph::watch::spawn(repo.path().join("current"), None, state.clone()).unwrap();
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
