//! `fluxgraph diff` on the 1,000-component synthetic repository (`fluxgraph::synthetic`, about
//! 4,200 files) committed to git, with one file changed in the work tree: the whole diff as the CLI
//! runs it (work tree read, HEAD's tree read from the object database, both snapshots, the
//! comparison), against `check`'s snapshot of the same tree. The goal: under twice `check`.
//! The objects are packed, as in a clone; `FLUXGRAPH_BENCH_LOOSE=1` leaves them loose, as
//! right after a local commit. `50-bumps/*`: the same repository with 50 HelmReleases' chart
//! versions bumped, the diff (built manifests compared) against `build --all` of both
//! revisions, which is what a tool that renders both sides does. Run with
//! `cargo bench --bench diff` (needs the `git` binary).

// The allocator the shipped binary uses (src/main.rs), so that the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use fluxgraph::{diff, snapshot::Snapshot, synthetic};

/// A memory-backed folder when there is one, so that the disk does not blur the figures.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("a scratch folder")
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

/// The first `ks.yaml` below `dir`, in name order.
fn first_ks(dir: &Path) -> Option<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    entries.iter().find(|p| p.file_name().is_some_and(|n| n == "ks.yaml")).cloned().or_else(|| entries.iter().filter(|p| p.is_dir()).find_map(|p| first_ks(p)))
}

fn diff_vs_check(c: &mut Criterion) {
    let dir = scratch();
    let spec = synthetic::Spec { components: 1_000, ..synthetic::Spec::default() };
    let summary = synthetic::write_repository(dir.path(), &spec).expect("synthetic repository");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    // Packed, as a clone (CI's checkout) has it; loose objects cost an open each.
    if std::env::var_os("FLUXGRAPH_BENCH_LOOSE").is_none() {
        git(dir.path(), &["gc", "-q"]);
    }
    let ks = first_ks(dir.path()).expect("a ks.yaml");
    let text = std::fs::read_to_string(&ks).expect("ks.yaml");
    std::fs::write(&ks, text.replacen("interval: ", "interval: 1", 1)).expect("ks.yaml written");
    eprintln!("1,000 components: {} files; changed {}", summary.files, ks.strip_prefix(dir.path()).unwrap().display());

    let mut group = c.benchmark_group("1000-components");
    group.sample_size(10);
    group.bench_function("check", |b| b.iter_with_large_drop(|| Snapshot::read(dir.path(), None).expect("snapshot")));
    group.bench_function("diff", |b| {
        b.iter_with_large_drop(|| {
            let work_tree = || Snapshot::read(dir.path(), None).map(Arc::new);
            let sides = diff::sides::read(dir.path(), None, None, None, fluxgraph::load::ReadOptions::default(), work_tree).expect("sides");
            let report = diff::compare(&sides.base, &sides.head, (sides.base_side.clone(), sides.head_side.clone()), None).expect("report");
            assert_eq!(report.changed_files.len(), 1);
            (sides, report)
        })
    });
    // The diff's parts: HEAD's tree out of the object database, and the base's snapshot from it.
    let revisions = fluxgraph::load::git::Revisions::open(dir.path(), fluxgraph::load::ReadOptions::default()).expect("a git repository");
    let head = revisions.revision("HEAD").expect("HEAD");
    group.bench_function("read-tree", |b| b.iter_with_large_drop(|| revisions.tree(&head).expect("a tree")));
    let work_tree = Snapshot::read(dir.path(), None).expect("snapshot");
    group.bench_function("base-snapshot", |b| {
        b.iter_with_large_drop(|| Snapshot::from_repository(revisions.repository(revisions.tree(&head).expect("a tree"), Some(&work_tree.repository)), None).expect("base"))
    });
    group.finish();
}

/// Every build of a snapshot written out, as `fluxgraph build --all --format json` does.
fn all_builds(snapshot: &Snapshot) -> String {
    let selected: Vec<fluxgraph::render::build::Selected<'_>> = snapshot
        .clusters
        .iter()
        .flat_map(|v| v.cluster.builds.iter().map(move |(id, build)| fluxgraph::render::build::Selected { cluster: &v.cluster.name, kustomization: &v.cluster.objects[id], build }))
        .collect();
    fluxgraph::render::build::json(&selected)
}

/// The HelmRelease files below `dir`, in name order.
fn releases(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            releases(&p, out);
        } else if std::fs::read_to_string(&p).is_ok_and(|t| t.contains("kind: HelmRelease\n")) {
            out.push(p);
        }
    }
}

fn diff_of_fifty_bumps(c: &mut Criterion) {
    let dir = scratch();
    let spec = synthetic::Spec { components: 1_000, ..synthetic::Spec::default() };
    synthetic::write_repository(dir.path(), &spec).expect("synthetic repository");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    git(dir.path(), &["gc", "-q"]);
    let mut files = Vec::new();
    releases(dir.path(), &mut files);
    for file in files.iter().step_by((files.len() / 50).max(1)).take(50) {
        let text = std::fs::read_to_string(file).expect("a release");
        std::fs::write(file, text.replacen("version: ", "version: 9", 1)).expect("a release written");
    }
    let mut group = c.benchmark_group("50-bumps");
    group.sample_size(10);
    group.bench_function("diff", |b| {
        b.iter_with_large_drop(|| {
            let work_tree = || Snapshot::read(dir.path(), None).map(Arc::new);
            let sides = diff::sides::read(dir.path(), None, None, None, fluxgraph::load::ReadOptions::default(), work_tree).expect("sides");
            let report = diff::compare(&sides.base, &sides.head, (sides.base_side.clone(), sides.head_side.clone()), None).expect("report");
            assert_eq!(report.changed_files.len(), 50);
            assert_eq!(report.clusters.iter().map(|c| c.versions.len()).sum::<usize>(), 50);
            let markdown = diff::render::markdown(&report, None);
            (sides, report, markdown)
        })
    });
    let revisions = fluxgraph::load::git::Revisions::open(dir.path(), fluxgraph::load::ReadOptions::default()).expect("a git repository");
    let head = revisions.revision("HEAD").expect("HEAD");
    group.bench_function("build-all-of-both", |b| {
        b.iter_with_large_drop(|| {
            let head_side = Snapshot::read(dir.path(), None).expect("snapshot");
            let base_side = Snapshot::from_repository(revisions.repository(revisions.tree(&head).expect("a tree"), None), None).expect("base");
            let texts = (all_builds(&head_side), all_builds(&base_side));
            (head_side, base_side, texts)
        })
    });
    group.finish();
}

criterion_group!(benches, diff_vs_check, diff_of_fifty_bumps);
criterion_main!(benches);
