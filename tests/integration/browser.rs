//! End to end in a real headless Chromium driven over WebDriver (Debian's chromium and
//! chromium-driver): the real `fluxgraph serve` binary, its real file watcher, real HTTP.
//! Ignored, saying so, where Chromium is absent (`cfg(has_chromium)`, set by build.rs) —
//! except under `CI=true`, where `.ci/run` has installed it and its absence is a failure.
//! Screenshots of the pages land in `target/screenshots/` for a person to look at; they are
//! not assertions.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Found on PATH, as build.rs looks for it.
const CHROMEDRIVER: &str = "chromedriver";
const MISSING: &str = "this test needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)";

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `fluxgraph serve <repo>` on a free port; returns the process and its URL.
fn serve(repo: &Path) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
        .args(["serve", repo.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("FLUXGRAPH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("fluxgraph serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("the URL it serves on").to_string();
    (Process(child), url.trim_end_matches('/').to_string())
}

struct Browser {
    client: Client,
    _driver: Process,
    _profile: tempfile::TempDir,
}

async fn browser() -> Browser {
    let port = free_port();
    assert!(Path::new(CHROMIUM).is_file(), "{CHROMIUM} is absent: {MISSING}");
    let driver = Process(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER} ({e}): {MISSING}")),
    );
    let profile = tempfile::tempdir().unwrap();
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }
    });
    let capabilities = match capabilities {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    };
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => return Browser { client, _driver: driver, _profile: profile },
            Err(e) if started.elapsed() < Duration::from_secs(15) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session: {e}"),
        }
    }
}

async fn screenshot(client: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    if let Ok(png) = client.screenshot().await {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

async fn node_ids(client: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for e in client.find_all(Locator::Css("svg.graph g.node")).await.unwrap() {
        ids.push(e.attr("data-id").await.unwrap().unwrap_or_default());
    }
    ids.sort();
    ids
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster")
}

#[tokio::test]
#[cfg_attr(not(has_chromium), ignore = "needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")]
async fn overview_click_and_shared_link() {
    let (_server, url) = serve(&example());
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("{url}/")).await.unwrap();
    let ids = node_ids(c).await;
    for name in ["cluster-repositories", "rook-ceph-rbd", "cert-manager-certificates", "linkding", "loki"] {
        assert!(ids.contains(&format!("Kustomization/flux-system/{name}")), "overview lacks {name}: {ids:?}");
    }
    screenshot(c, "overview").await;

    // Clicking a component's box opens its view.
    c.find(Locator::Css("g.node[data-id='Kustomization/flux-system/linkding']")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(5)).for_url(&url::Url::parse(&format!("{url}/k/Kustomization/flux-system/linkding")).unwrap()).await.unwrap();
    let heading = c.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert!(heading.starts_with("linkding"), "{heading}");

    // The view with its state in the query string; the copied link reproduces it.
    c.goto(&format!("{url}/k/Kustomization/flux-system/linkding?depth=1&show=hr")).await.unwrap();
    let button = c.find(Locator::Id("copy-link")).await.unwrap();
    let shared = button.attr("data-url").await.unwrap().expect("the link to copy");
    button.click().await.unwrap();
    let before = node_ids(c).await;
    screenshot(c, "object").await;
    let other = browser().await;
    other.client.goto(&shared).await.unwrap();
    assert_eq!(node_ids(&other.client).await, before, "the shared link {shared} shows another view");
    assert!(other.client.current_url().await.unwrap().as_str().ends_with("?depth=1&show=hr"));
    other.client.close().await.unwrap();
    c.goto(&format!("{url}/component/kubernetes/rpi-cluster/infrastructure/security/cert-manager")).await.unwrap();
    screenshot(c, "component").await;
    c.goto(&format!("{url}/critical-path")).await.unwrap();
    screenshot(c, "critical-path").await;
    b.client.close().await.unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
#[cfg_attr(not(has_chromium), ignore = "needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")]
async fn editing_a_file_updates_the_open_page_in_place() {
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&example(), repo.path());
    let (_server, url) = serve(repo.path());
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("{url}/")).await.unwrap();
    c.find(Locator::Css("svg.graph")).await.unwrap();
    // A mark only this page load carries, and a zoom the reader chose (two wheel turns over
    // the graph): both must survive the update.
    let zoomed = c
        .execute(
            "window.fluxgraphTestMark = 42;
             const svg = document.querySelector('svg.graph');
             const r = svg.getBoundingClientRect();
             for (let i = 0; i < 2; i++) {
               svg.dispatchEvent(new WheelEvent('wheel', {deltaY: -240, clientX: r.left + r.width / 3, clientY: r.top + r.height / 2, bubbles: true, cancelable: true}));
             }
             return svg.getAttribute('viewBox');",
            vec![],
        )
        .await
        .unwrap();

    let ks = repo.path().join("kubernetes/rpi-cluster/apps/monitoring/metrics-server/ks.yaml");
    let text = std::fs::read_to_string(&ks).unwrap();
    std::fs::write(&ks, text.replace("name: metrics-server\n", "name: metrics-server-renamed\n")).unwrap();
    let written = Instant::now();

    let renamed = "Kustomization/flux-system/metrics-server-renamed";
    c.wait()
        .at_most(Duration::from_secs(2))
        .every(Duration::from_millis(25))
        .for_element(Locator::Css(&format!("g.node[data-id='{renamed}']")))
        .await
        .unwrap_or_else(|e| panic!("the page did not show {renamed} within 2 s of the write: {e}"));
    eprintln!("file write → page updated in {:?}", written.elapsed());
    let kept = c.execute("return [window.fluxgraphTestMark, document.querySelector('svg.graph').getAttribute('viewBox')];", vec![]).await.unwrap();
    assert_eq!(kept, json!([42, zoomed]), "the page reloaded or lost the reader's zoom");

    // A change that breaks a file: its diagnostic in the banner; the graph stays.
    let broken = repo.path().join("kubernetes/rpi-cluster/apps/home/homepage/app/release.yaml");
    std::fs::write(&broken, "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: [broken\n").unwrap();
    let banner = c.wait().at_most(Duration::from_secs(2)).for_element(Locator::Css("#banner:not([hidden])")).await.expect("a banner");
    let message = banner.text().await.unwrap();
    assert!(message.contains("homepage/app/release.yaml"), "{message}");
    assert!(c.find(Locator::Css("g.node[data-id='Kustomization/flux-system/linkding']")).await.is_ok(), "the rest of the graph stays");
    screenshot(c, "broken-file-banner").await;
    b.client.close().await.unwrap();
}

#[tokio::test]
#[cfg_attr(not(all(has_chromium, has_git)), ignore = "needs /usr/bin/chromium, chromedriver and git on PATH (apt-get install chromium chromium-driver git)")]
async fn the_diff_page_shows_the_marks_and_its_link_reproduces_it() {
    let repo = crate::diff::Repo::new();
    crate::diff::rename_rbd_and_slow_linkding(&repo);
    let (_server, url) = serve(&repo.root);
    let b = browser().await;
    let c = &b.client;
    // The switch on every page opens the diff against the default branch.
    c.goto(&format!("{url}/")).await.unwrap();
    c.find(Locator::Css("#diff-switch")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(10)).for_url(&url::Url::parse(&format!("{url}/diff")).unwrap()).await.unwrap();
    c.goto(&format!("{url}/diff?base=main")).await.unwrap();
    let marked = |class: &'static str| async move {
        let mut ids = Vec::new();
        for e in c.find_all(Locator::Css(&format!("svg.graph g.node.{class}"))).await.unwrap() {
            ids.push(e.attr("data-id").await.unwrap().unwrap_or_default());
        }
        ids
    };
    let (added, removed, changed) = (marked("added").await, marked("removed").await, marked("changed").await);
    assert_eq!(added, ["Kustomization/flux-system/rook-ceph-block"]);
    assert_eq!(removed, ["Kustomization/flux-system/rook-ceph-rbd"]);
    assert!(changed.contains(&"Kustomization/flux-system/linkding".to_string()), "{changed:?}");
    let dashed = c.find(Locator::Css("svg.graph g.node.removed > rect")).await.unwrap().css_value("stroke-dasharray").await.unwrap();
    assert_ne!(dashed, "none", "a removed box is dashed");
    let verdict = c.find(Locator::Css("#diff-verdict")).await.unwrap().text().await.unwrap();
    assert!(verdict.contains("introduces 4 errors"), "{verdict}");
    let summary = c.find(Locator::Css("#diff-summary")).await.unwrap().text().await.unwrap();
    assert!(summary.contains("rook-ceph-block") && summary.contains("interval: 1h → 2h"), "{summary}");
    screenshot(c, "diff").await;
    // The copied link opens the same view.
    let shared = c.find(Locator::Css("#copy-link")).await.unwrap().attr("data-url").await.unwrap().unwrap();
    assert!(shared.ends_with("/diff?base=main"), "{shared}");
    let before = node_ids(c).await;
    c.goto(&format!("{url}/")).await.unwrap();
    c.goto(&shared).await.unwrap();
    assert_eq!(node_ids(c).await, before, "the shared link {shared} shows another view");
    assert_eq!(marked("removed").await, removed);
    b.client.close().await.unwrap();
}

/// `serve --kube-status` against the fake Kubernetes API: a status change colours the open
/// page's box without a reload (the reader's zoom kept), the header counts follow, `/blocked`
/// names the root blocker, and the page says when the status is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_chromium), ignore = "needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")]
async fn a_status_change_recolours_the_open_page() {
    use crate::fake_api::{FakeApi, object};
    let fake = FakeApi::start(false).await;
    crate::status::healthy(&fake);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
        .args(["serve", crate::util::repo("live-status").to_str().unwrap(), "--listen", "127.0.0.1:0", "--kube-status", "--context", "fake"])
        .env("FLUXGRAPH_LOG", "error")
        .env("KUBECONFIG", &kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("fluxgraph serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _server = Process(child);
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("the URL it serves on").trim_end_matches('/').to_string();

    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("{url}/")).await.unwrap();
    let node = "g.node[data-id='Kustomization/flux-system/storage-health']";
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(&format!("{node}.st-ready"))).await.expect("the box coloured ready");
    let zoomed = c
        .execute(
            "window.fluxgraphTestMark = 7;
             const svg = document.querySelector('svg.graph');
             const r = svg.getBoundingClientRect();
             svg.dispatchEvent(new WheelEvent('wheel', {deltaY: -240, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true, cancelable: true}));
             return svg.getAttribute('viewBox');",
            vec![],
        )
        .await
        .unwrap();

    crate::status::health_check_fails(&fake);
    let changed = Instant::now();
    c.wait()
        .at_most(Duration::from_secs(3))
        .every(Duration::from_millis(20))
        .for_element(Locator::Css(&format!("{node}.st-failed")))
        .await
        .unwrap_or_else(|e| panic!("the box did not turn failed within 3 s: {e}"));
    eprintln!("status change → box recoloured in {:?}", changed.elapsed());
    let kept = c.execute("return [window.fluxgraphTestMark, document.querySelector('svg.graph').getAttribute('viewBox')];", vec![]).await.unwrap();
    assert_eq!(kept, json!([7, zoomed]), "the page reloaded or lost the reader's zoom");
    assert!(c.find(Locator::Css("g.node[data-id='Kustomization/flux-system/app-04'].st-waiting")).await.is_ok());
    let tooltip = c.execute(&format!("return document.querySelector(\"{node} > title\").textContent;"), vec![]).await.unwrap();
    assert!(tooltip.as_str().unwrap().contains("failed (HealthCheckFailed)"), "{tooltip}");
    let started = Instant::now();
    loop {
        // Flex items read as lines: one space for any run of blanks.
        let bar = c.find(Locator::Css("#live-status")).await.unwrap().text().await.unwrap().split_whitespace().collect::<Vec<_>>().join(" ");
        if bar.contains("1 failed") && bar.contains("12 waiting") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "the header counts: {bar}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(c, "live-status-failed").await;

    c.goto(&format!("{url}/blocked")).await.unwrap();
    // The list is fetched again once the page has the status (its element replaced): read it by script.
    let started = Instant::now();
    loop {
        let root = c.execute("const li = document.querySelector('ul.blockers > li'); return li ? li.innerText : '';", vec![]).await.unwrap();
        let root = root.as_str().unwrap_or("").to_string();
        if root.contains("storage-health") && root.contains("12 waiting behind it") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "the root blocker on /blocked: {root}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(c, "live-status-blocked").await;

    fake.set_down(true);
    let stale = c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("#live-status .stale")).await.expect("the stale notice");
    assert!(stale.text().await.unwrap().contains("status stale since"));
    fake.put(object("Kustomization", "storage-health", "True", "ReconciliationSucceeded", "Applied"));
    b.client.close().await.unwrap();
}
