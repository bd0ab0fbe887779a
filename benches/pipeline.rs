//! The pipeline on large synthetic repositories in the seed's layout (`fluxgraph::synthetic`):
//! the whole snapshot (walk, parse, resolve, graph, analysis) and each stage alone, at 1,000
//! and 10,000 components (about 1,300 and 13,400 Kustomizations with as many HelmReleases,
//! 4,200 and 42,000 files). Freeing each result is left out of the timings
//! (`iter_with_large_drop`): the server frees old snapshots off the request path and the
//! CLI exits without freeing. `hostile/*` times inputs built to be slow. `build-all` is
//! `fluxgraph build --all --format json` (the snapshot and every build written out) beside
//! `check` (the snapshot and the text report); `per-build/*` sets one build of ours against one
//! of real kustomize through `../shared/tools/fluxsim.py`, on a corpus repository, when
//! `../shared` and python3 are there. Run with `cargo bench --bench pipeline`.

// The allocator the shipped binary uses (src/main.rs), so that the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use fluxgraph::{analysis, cluster, graph, load, render, snapshot::Snapshot, synthetic};

/// `fluxgraph build --all --format json`: every Kustomization built from the repository.
fn all_builds(snapshot: &Snapshot) -> String {
    let selected: Vec<render::build::Selected<'_>> = snapshot
        .clusters
        .iter()
        .flat_map(|v| v.cluster.builds.iter().map(move |(id, build)| render::build::Selected { cluster: &v.cluster.name, kustomization: &v.cluster.objects[id], build }))
        .collect();
    render::build::json(&selected)
}

/// One build of ours against one of real kustomize (fluxsim runs it in-process through
/// ctypes) on a real repository of the corpus: both whole runs, divided by their builds.
fn per_build(c: &mut Criterion) {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let repo = shared.join("corpus/onedr0p__home-ops");
    let fluxsim = shared.join("tools/fluxsim.py");
    if !repo.is_dir() || !fluxsim.is_file() {
        eprintln!("per-build: ../shared is absent, skipped");
        return;
    }
    let builds = Snapshot::read(&repo, None).expect("snapshot").clusters.iter().map(|v| v.cluster.builds.len()).sum::<usize>();
    let mut group = c.benchmark_group("per-build");
    group.sample_size(10);
    group.bench_function(format!("fluxgraph-{builds}-builds"), |b| b.iter_with_large_drop(|| {
        let snapshot = Snapshot::read(&repo, None).expect("snapshot");
        let json = all_builds(&snapshot);
        (snapshot, json)
    }));
    let run = || std::process::Command::new("python3").arg(&fluxsim).arg(&repo).arg("--builds").output();
    match run() {
        Ok(out) if out.status.success() => {
            let theirs = serde_json::from_slice::<serde_json::Value>(&out.stdout).map_or(0, |d| d["builds"].as_array().map_or(0, Vec::len));
            group.bench_function(format!("fluxsim-{theirs}-builds"), |b| b.iter(|| run().expect("fluxsim")));
        }
        _ => eprintln!("per-build: fluxsim did not run (python3, PyYAML, pykustomize), skipped"),
    }
    group.finish();
}

/// A memory-backed folder when there is one, so that the disk does not blur the figures.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("a scratch folder")
}

fn pipeline(c: &mut Criterion) {
    for components in [1_000, 10_000] {
        let dir = scratch();
        let spec = synthetic::Spec { components, ..synthetic::Spec::default() };
        let summary = synthetic::write_repository(dir.path(), &spec).expect("synthetic repository");
        eprintln!(
            "{components} components: {} files, {} Kustomizations, {} HelmReleases",
            summary.files, summary.kustomizations, summary.helm_releases
        );
        let mut group = c.benchmark_group(format!("{components}-components"));
        group.sample_size(10);
        group.bench_function("snapshot", |b| b.iter_with_large_drop(|| Snapshot::read(dir.path(), None).expect("snapshot")));
        group.bench_function("check", |b| {
            b.iter_with_large_drop(|| {
                let snapshot = Snapshot::read(dir.path(), None).expect("snapshot");
                let report = render::text::report(&snapshot, &snapshot.clusters.iter().collect::<Vec<_>>(), true);
                (snapshot, report)
            })
        });
        group.bench_function("build-all", |b| b.iter_with_large_drop(|| {
            let snapshot = Snapshot::read(dir.path(), None).expect("snapshot");
            let json = all_builds(&snapshot);
            (snapshot, json)
        }));
        group.bench_function("load", |b| b.iter_with_large_drop(|| load::read_repository(dir.path()).expect("load")));
        let repo = load::read_repository(dir.path()).expect("load");
        group.bench_function("resolve", |b| b.iter_with_large_drop(|| cluster::resolve(&repo, None).expect("resolve")));
        let resolution = cluster::resolve(&repo, None).expect("resolve");
        let cluster = &resolution.clusters[0];
        group.bench_function("graph", |b| b.iter_with_large_drop(|| graph::build(cluster)));
        let g = graph::build(cluster);
        group.bench_function("analysis", |b| b.iter_with_large_drop(|| analysis::analyze(cluster, &g)));
        group.finish();
    }
}

/// Hostile shapes that must stay linear: one mapping of 80,000 keys (8.8 s when each key was
/// looked for among those before it; a set of keys per open mapping makes it linear); 2,000
/// Kustomizations each depending on the 50 before it (2 million redundant-dependency findings
/// when each was reported once per sibling implying it, now one per dependsOn entry).
fn hostile(c: &mut Criterion) {
    let dir = scratch();
    let write = |rel: &str, text: String| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a folder");
        std::fs::write(path, text).expect("a file");
    };
    let ks = |name: &str, path: &str, deps: String| {
        format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: {path}\n  prune: true\n  wait: true\n{deps}  sourceRef:\n    kind: GitRepository\n    name: flux-system\n")
    };
    write("clusters/test/apps.yaml", ks("apps", "./apps", String::new()));
    write("empty/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n".into());
    for i in 0..2_000usize {
        let deps: String = (i.saturating_sub(50)..i).map(|j| format!("    - name: k{j}\n")).collect();
        let deps = if deps.is_empty() { deps } else { format!("  dependsOn:\n{deps}") };
        write(&format!("apps/k{i}.yaml"), ks(&format!("k{i}"), "./empty", deps));
    }

    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n");
    for i in 0..80_000 {
        text.push_str(&format!("  k{i}: v{i}\n"));
    }
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    group.bench_function("mapping-80000-keys", |b| b.iter_with_large_drop(|| load::yaml::parse_documents(&text)));
    group.bench_function("depends-on-2000x50", |b| b.iter_with_large_drop(|| Snapshot::read(dir.path(), None).expect("snapshot")));
    group.finish();
}

criterion_group!(benches, pipeline, hostile, per_build);
criterion_main!(benches);
