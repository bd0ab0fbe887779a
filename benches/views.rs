//! The web views' costs: the overview SVG at 1,000 and 10,000 components (time and bytes);
//! the grouped overview page (`/` above 40 Kustomizations) at the same sizes, time and bytes;
//! the layered layout against Graphviz `dot` given the same layers (crossings and time,
//! side by side, on the example, a 200-node and a 2,000-node graph); and the time from a
//! file write to the server-sent event on a 1,000-component repository.
//! Run with `cargo bench --bench views`; a filter (`-- grouped`) also skips the two that are not
//! criterion benchmarks unless it names them (`graphviz`, `change`).

// The allocator the shipped binary uses (src/main.rs), so that the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use fluxgraph::layout::{self, graphviz, testing};
use fluxgraph::render::svg;
use fluxgraph::server::views::{self, ViewState};
use fluxgraph::server::{AppState, Options};
use fluxgraph::snapshot::Snapshot;
use fluxgraph::synthetic;

fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.expect("a scratch folder")
}

fn repository(components: usize) -> tempfile::TempDir {
    let dir = scratch();
    synthetic::write_repository(dir.path(), &synthetic::Spec { components, ..synthetic::Spec::default() }).expect("synthetic repository");
    dir
}

fn overview_svg(c: &mut Criterion) {
    for components in [1_000, 10_000] {
        let dir = repository(components);
        let snapshot = Snapshot::read(dir.path(), None).expect("snapshot");
        let view = &snapshot.clusters[0];
        // What `/` draws for a cluster this large: dependsOn edges (applies only on request).
        let mut page_default = ViewState::default();
        page_default.edges.remove(&fluxgraph::graph::EdgeKind::Applies);
        let all_edges = ViewState::default();
        let mut group = c.benchmark_group(format!("overview-svg-{components}-components"));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(if components > 1_000 { 30 } else { 5 }));
        for (name, state) in [("dependsOn (page default)", &page_default), ("dependsOn+applies", &all_edges)] {
            let render = || svg::render(&views::overview(view, state, "", ""));
            let started = Instant::now();
            let bytes = render().len();
            eprintln!(
                "overview of {} Kustomizations, {name}: {bytes} bytes of SVG, first render {:?}",
                view.cluster.kustomization_count(),
                started.elapsed()
            );
            group.bench_function(name, |b| b.iter(render));
        }
        group.finish();
    }
}

/// Whether the filters given on the command line (if any) name `what`.
fn wanted(what: &str) -> bool {
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    filters.is_empty() || filters.iter().any(|f| what.contains(f.as_str()))
}

/// The grouped overview: what `/` serves above 40 Kustomizations, drawn afresh (the server keeps a
/// page once drawn; this is the cost of the first request after a change).
fn grouped_overview(c: &mut Criterion) {
    use fluxgraph::server::pages::{self, Page, Params};
    for components in [1_000, 10_000] {
        let dir = repository(components);
        let state = AppState::new(Options::default());
        state.publish(Snapshot::read(dir.path(), None).expect("snapshot"), None, None);
        let current = state.current().expect("published");
        let view = &current.snapshot.clusters[0];
        let params = Params::new();
        let page = Page { state: &state, current: &current, view, index: 0, params: &params, view_state: pages::view_state(&params) };
        let render = || pages::overview(&page).expect("the overview renders").1;
        let started = Instant::now();
        let html = render();
        let svg_bytes = html.find("<svg class=\"graph\"").and_then(|a| html[a..].find("</svg>\n").map(|b| b + 7)).unwrap_or(0);
        eprintln!(
            "grouped overview of {} Kustomizations: {} bytes of page ({svg_bytes} of SVG, {} boxes), first render {:?}",
            view.cluster.kustomization_count(),
            html.len(),
            html.matches("<g class=\"node ").count(),
            started.elapsed()
        );
        let mut group = c.benchmark_group(format!("grouped-overview-{components}-components"));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(if components > 1_000 { 20 } else { 5 }));
        group.bench_function("page", |b| b.iter(render));
        group.finish();
    }
}

/// Crossings and times of our layout and of `dot` on the same layered graphs.
fn against_graphviz(_: &mut Criterion) {
    if !wanted("graphviz") {
        return;
    }
    let graphs = [("example", testing::example()), ("200 nodes", testing::flux_like(200, 7)), ("2,000 nodes", testing::flux_like(2_000, 7))];
    eprintln!("{:<12} {:>6} {:>6} | {:>10} {:>10} | {:>10} {:>10} | speed-up", "graph", "nodes", "edges", "crossings", "dot", "time", "dot");
    for (name, input) in graphs {
        let options = layout::Options::default();
        let best = (0..3)
            .map(|_| {
                let started = Instant::now();
                let result = layout::layout(&input, &options);
                (started.elapsed(), result.crossings)
            })
            .min()
            .expect("three runs");
        let dot = (0..3).filter_map(|_| graphviz::order(&input).ok()).min_by_key(|d| d.elapsed);
        match dot {
            Some(d) => eprintln!(
                "{name:<12} {:>6} {:>6} | {:>10} {:>10} | {:>10.1?} {:>10.1?} | {:.0}x",
                input.layer.len(),
                input.edges.len(),
                best.1,
                d.crossings,
                best.0,
                d.elapsed,
                d.elapsed.as_secs_f64() / best.0.as_secs_f64()
            ),
            None => eprintln!("{name:<12} {:>6} {:>6} | {:>10} {:>10} | {:>10.1?} {:>10} | (Graphviz not installed)", input.layer.len(), input.edges.len(), best.1, "-", best.0, "-"),
        }
    }
}

/// File write → server-sent event, on a 1,000-component repository watched for real.
fn change_to_event(_: &mut Criterion) {
    if !wanted("change-to-event") {
        return;
    }
    let dir = repository(1_000);
    let state = AppState::new(Options::default());
    let mut updates = state.subscribe();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _watching = fluxgraph::watch::spawn(dir.path().to_path_buf(), None, fluxgraph::load::ReadOptions::default(), state.clone()).expect("watch");
    runtime.block_on(async { updates.recv().await.expect("first snapshot") });
    let file = dir.path().join("kubernetes/synthetic/flux/settings/cluster-settings.yaml");
    let original = std::fs::read_to_string(&file).expect("cluster-settings.yaml");
    let mut samples = Vec::new();
    for i in 0..7 {
        std::thread::sleep(Duration::from_millis(300));
        let written = Instant::now();
        std::fs::write(&file, format!("{original}# edit {i}\n")).expect("write");
        runtime.block_on(async { updates.recv().await.expect("an update") });
        samples.push(written.elapsed());
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    let window = fluxgraph::watch::DEBOUNCE;
    eprintln!(
        "write → SSE event on 1,000 components: median {median:?} (min {:?}, max {:?}); after the {window:?} debounce window: {:?}",
        samples[0],
        samples[samples.len() - 1],
        median.saturating_sub(window)
    );
}

criterion_group!(benches, against_graphviz, change_to_event, overview_svg, grouped_overview);
criterion_main!(benches);
