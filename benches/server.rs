//! The server under load, over loopback, on the 1,000-component synthetic repository:
//! requests per second and latencies (p50, p99, worst) of `/` and `/api/graph` with 40
//! clients on keep-alive connections, and `/healthz` asked every 20 ms meanwhile. The first
//! drawing of each is timed alone, and a last round asks for a page never drawn before on
//! every request (`/?n=…`: each one a drawing, the worst case for the probes). The server runs in a runtime of its own with two workers
//! (a small pod); the clients share the machine with it, so on a 2-core machine the figures
//! are a floor. Run with `cargo bench --bench server` (no criterion: throughput under
//! concurrency is not a per-iteration time).

// The allocator the shipped binary uses (src/main.rs), so that the figures are its figures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use fluxgraph::server::{AppState, Options};
use fluxgraph::snapshot::Snapshot;
use fluxgraph::synthetic;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

mod loopback;
use loopback::{Server, scratch};

const CLIENTS: usize = 40;
const DURATION: Duration = Duration::from_secs(5);

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

async fn get(client: &HttpClient, address: SocketAddr, path: &str, gzip: bool) -> (u16, usize) {
    let mut request = axum::http::Request::get(format!("http://{address}{path}"));
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let response = client.request(request.body(Empty::new()).expect("request")).await.expect("response");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, body.len())
}

struct Figures {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn describe(name: &str, f: &mut Figures) -> String {
    f.latencies.sort();
    format!(
        "{name:<26} {:>7.0} req/s  p50 {:>9.2?}  p99 {:>9.2?}  worst {:>9.2?}  ({} requests)",
        f.requests as f64 / f.elapsed.as_secs_f64(),
        percentile(&f.latencies, 0.5),
        percentile(&f.latencies, 0.99),
        f.latencies.last().copied().unwrap_or_default(),
        f.requests
    )
}

/// 40 clients asking for `path` as fast as they are answered, and `/healthz` every 20 ms.
/// A `path` ending in `=` gets a new number on every request.
async fn load(client: &HttpClient, address: SocketAddr, path: &'static str, gzip: bool) -> (Figures, Figures) {
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < DURATION {
                    let asked = Instant::now();
                    let path = if path.ends_with('=') { format!("{path}{c}-{}", latencies.len()) } else { path.to_string() };
                    let (status, _) = get(&client, address, &path, gzip).await;
                    assert_eq!(status, 200, "{path}");
                    latencies.push(asked.elapsed());
                }
                latencies
            })
        })
        .collect();
    let prober = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < DURATION {
                let asked = Instant::now();
                assert_eq!(get(&client, address, "/healthz", false).await.0, 200);
                latencies.push(asked.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            latencies
        })
    };
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("client"));
    }
    let elapsed = started.elapsed();
    let probes = prober.await.expect("prober");
    (Figures { requests: latencies.len(), elapsed, latencies }, Figures { requests: probes.len(), elapsed, latencies: probes })
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once too: keep that short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let dir = scratch();
    let summary = synthetic::write_repository(dir.path(), &synthetic::Spec { components: 1_000, ..synthetic::Spec::default() }).expect("synthetic repository");
    let state = AppState::new(Options::default());
    state.publish(Snapshot::read(dir.path(), None).expect("snapshot"), None, None);
    let server = Server::start(state);
    let address = server.address;
    eprintln!("1,000 components ({} Kustomizations, {} HelmReleases), served on {address}", summary.kustomizations, summary.helm_releases);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(CLIENTS * 2).build_http();
        for (path, gzip) in [("/", false), ("/", true), ("/api/graph", false)] {
            let first = Instant::now();
            let (_, bytes) = get(&client, address, path, gzip).await;
            eprintln!("{path}{}: first answer (drawing{}) {:?}, {bytes} bytes", if gzip { " gzip" } else { "" }, if gzip { " kept, compressing" } else { "" }, first.elapsed());
        }
        if quick {
            return;
        }
        for (path, gzip) in [("/", false), ("/", true), ("/api/graph", false), ("/?n=", true)] {
            let (mut pages, mut probes) = load(&client, address, path, gzip).await;
            let name = match (path, gzip) {
                ("/?n=", _) => "/ never drawn before".to_string(),
                (path, gzip) => format!("{path}{}", if gzip { " (gzip)" } else { "" }),
            };
            eprintln!("{}", describe(&name, &mut pages));
            eprintln!("{}", describe("  /healthz meanwhile", &mut probes));
        }
    });
}
