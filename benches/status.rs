//! Live status at scale: a snapshot of about 10,000 objects (the synthetic repository, Kustomizations and as many
//! HelmReleases), every object listed Ready, then 10,000 status events (an object failing or recovering) applied
//! as the watchers apply them (`AppState::status_event`). Figures: events per second with no page open and with
//! one page following `/events` over loopback (until its last message arrived), and the time from applying one
//! event to its SSE message arriving at that page (p50, p99, worst of 1,000 events sent one at a time). The
//! server runs in a runtime of its own with two workers (a small pod), as in `benches/server.rs`. Run with
//! `cargo bench --bench status` (no criterion: the latency is across threads and a socket).

// The allocator the shipped binary uses (src/main.rs), so that the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use fluxgraph::model::{Kind, ObjectId};
use fluxgraph::server::{AppState, Options};
use fluxgraph::snapshot::Snapshot;
use fluxgraph::status::{self, Event};
use fluxgraph::synthetic;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

mod loopback;
use loopback::{Server, scratch};

const EVENTS: usize = 10_000;
const LATENCY_SAMPLES: usize = 1_000;

/// The status an object has in event `n`: failing on odd events, Ready on even ones; the
/// message carries `n` so that the page can tell which event a message is.
fn event(id: &ObjectId, n: usize) -> Event {
    let ready = if n % 2 == 0 { "True" } else { "False" };
    let object = json!({"metadata": {"name": id.name, "namespace": id.namespace},
                        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "Bench", "message": format!("event n={n};")}]}});
    let (id, s) = status::read(id.kind, &object).expect("an object");
    Event::Applied(id, s)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Follows `/events` and records when each `event n=K;` message arrives; counts resyncs.
struct Page {
    arrived: Arc<Mutex<Vec<Option<Instant>>>>,
    resyncs: Arc<Mutex<usize>>,
}

async fn follow(address: SocketAddr, slots: usize) -> Page {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(format!("http://{address}/events").parse().expect("uri")).await.expect("events");
    assert_eq!(response.status(), 200);
    let arrived = Arc::new(Mutex::new(vec![None; slots]));
    let resyncs = Arc::new(Mutex::new(0));
    let (a, r) = (Arc::clone(&arrived), Arc::clone(&resyncs));
    tokio::spawn(async move {
        let mut body = response.into_body();
        let mut pending = String::new();
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(data) = frame.into_data() else { continue };
            let now = Instant::now();
            pending.push_str(&String::from_utf8_lossy(&data));
            while let Some(end) = pending.find("\n\n") {
                let message: String = pending.drain(..end + 2).collect();
                if message.contains("\"resync\":true") {
                    *r.lock().unwrap() += 1;
                }
                for part in message.split("event n=").skip(1) {
                    if let Some(n) = part.split(';').next().and_then(|n| n.parse::<usize>().ok()) {
                        if let Some(slot) = a.lock().unwrap().get_mut(n) {
                            slot.get_or_insert(now);
                        }
                    }
                }
            }
        }
    });
    Page { arrived, resyncs }
}

fn main() {
    let dir = scratch();
    let summary = synthetic::write_repository(dir.path(), &synthetic::Spec { components: 3_850, ..synthetic::Spec::default() }).expect("synthetic repository");
    let snapshot = Snapshot::read(dir.path(), None).expect("snapshot");
    let view = &snapshot.clusters[0];
    let ids: Vec<ObjectId> = view.cluster.objects.keys().filter(|id| id.kind == Kind::Kustomization || id.kind == Kind::HelmRelease).cloned().collect();
    eprintln!(
        "{} objects ({} Kustomizations, {} HelmReleases) in the snapshot; {EVENTS} status events",
        view.cluster.objects.len(),
        summary.kustomizations,
        summary.helm_releases
    );
    let state = AppState::new(Options::default());
    state.publish(snapshot.clone(), None, None);
    state.enable_status();
    // Everything Ready first, as a first list would say.
    for kind in [Kind::Kustomization, Kind::HelmRelease] {
        let listed = ids.iter().filter(|id| id.kind == kind).map(|id| match event(id, 0) {
            Event::Applied(id, s) => (id, s),
            _ => unreachable!(),
        });
        state.status_event(Event::Listed(kind, listed.collect()));
    }
    let events: Vec<Event> = (1..=EVENTS).map(|n| event(&ids[(n * 7919) % ids.len()], n)).collect();

    // No page open.
    let started = Instant::now();
    for e in events.iter().cloned() {
        state.status_event(e);
    }
    let alone = started.elapsed();
    eprintln!("no page open:   {:>9.0} events/s  ({EVENTS} events in {alone:.2?})", EVENTS as f64 / alone.as_secs_f64());

    let server = Server::start(state.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(async {
        // One page open, 10,000 events back to back: until the last message arrived.
        let offset = EVENTS + 1;
        let page = follow(server.address, offset + EVENTS + LATENCY_SAMPLES + 2).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        for n in 0..EVENTS {
            state.status_event(event(&ids[(n * 7919) % ids.len()], offset + n));
        }
        let applied = started.elapsed();
        let last = offset + EVENTS - 1;
        let waiting = Instant::now();
        while page.arrived.lock().unwrap()[last].is_none() && *page.resyncs.lock().unwrap() == 0 && waiting.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let delivered = started.elapsed();
        let received = page.arrived.lock().unwrap()[offset..offset + EVENTS].iter().filter(|a| a.is_some()).count();
        eprintln!(
            "one page open: {:>9.0} events/s applied ({applied:.2?}); {received} of {EVENTS} messages arrived, the last {delivered:.2?} after the first was applied ({:.0} events/s end to end); {} resyncs asked for",
            EVENTS as f64 / applied.as_secs_f64(),
            EVENTS as f64 / delivered.as_secs_f64(),
            page.resyncs.lock().unwrap()
        );

        // Event → SSE message at the page, one at a time.
        let base = offset + EVENTS;
        let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
        for k in 0..LATENCY_SAMPLES {
            // The message names the event, so every event is a change.
            let n = base + k;
            let sent = Instant::now();
            state.status_event(event(&ids[(k * 104_729) % ids.len()], n));
            loop {
                if let Some(at) = page.arrived.lock().unwrap()[n] {
                    latencies.push(at.saturating_duration_since(sent));
                    break;
                }
                assert!(sent.elapsed() < Duration::from_secs(10), "event {n} never arrived");
                tokio::task::yield_now().await;
            }
        }
        latencies.sort();
        eprintln!(
            "event → SSE message at the page: p50 {:.2?}  p99 {:.2?}  worst {:.2?}  ({LATENCY_SAMPLES} events, one at a time)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or_default()
        );
    });
    drop(server);
}
