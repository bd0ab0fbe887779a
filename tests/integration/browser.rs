//! End to end in a real headless Chromium driven over WebDriver (Debian's chromium and
//! chromium-driver): the real `fluxgraph serve` binary, its real file watcher, real HTTP.
//! Ignored, saying so, where Chromium is absent (`cfg(has_chromium)`, set by build.rs) —
//! except under `CI=true`, where `.ci/run` has installed it and its absence is a failure.
//! Screenshots of the pages land in `target/screenshots/` for a person to look at; they are
//! not assertions.

use std::ffi::OsStr;
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

/// `fluxgraph serve <repo>` on a free port, once ready; the server and its URL.
fn serve(repo: &Path) -> (crate::util::Served, String) {
    serve_with(repo, &[], &[("FLUXGRAPH_LOG", OsStr::new("warn"))])
}

/// `fluxgraph serve` on `repo` with more arguments and environment; the server and its URL.
fn serve_with(repo: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> (crate::util::Served, String) {
    let args: Vec<&str> = [repo.to_str().unwrap()].into_iter().chain(args.iter().copied()).collect();
    let served = crate::util::Served::start(&args, env);
    let url = format!("http://{}", served.address);
    (served, url)
}

struct Browser {
    client: Client,
    _driver: Process,
    _profile: tempfile::TempDir,
}

/// The window a browser opens with: the existing tests' size, a desktop, or a phone (emulated, so that
/// the page sees a 390 px wide viewport whatever Chromium's smallest window).
#[derive(Clone, Copy, PartialEq)]
enum Screen {
    Default,
    Desktop,
    Phone,
}

async fn browser() -> Browser {
    browser_for(Screen::Default).await
}

async fn browser_for(screen: Screen) -> Browser {
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
    let mut capabilities = match capabilities {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    };
    if screen == Screen::Phone {
        capabilities["goog:chromeOptions"]["mobileEmulation"] = json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 1, "touch": true}});
    }
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(client) => {
                if screen == Screen::Desktop {
                    set_viewport(&client, 1600, 1000).await;
                }
                return Browser { client, _driver: driver, _profile: profile };
            }
            Err(e) if started.elapsed() < Duration::from_secs(15) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot start a WebDriver session: {e}"),
        }
    }
}

/// Sizes the window so that the page's viewport is `width`×`height` (the window's frame, if any, added).
async fn set_viewport(client: &Client, width: u32, height: u32) {
    client.set_window_size(width, height).await.unwrap();
    let inner = client.execute("return [window.innerWidth, window.innerHeight];", vec![]).await.unwrap();
    let (w, h) = (inner[0].as_u64().unwrap() as u32, inner[1].as_u64().unwrap() as u32);
    if (w, h) != (width, height) {
        client.set_window_size(2 * width - w, 2 * height - h).await.unwrap();
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

    // Clicking a component's box opens its view. The first paint is at a readable scale, so the box
    // may lie outside the view: focusing it brings it in, as the keyboard does.
    c.execute("document.querySelector(\"g.node[data-id='Kustomization/flux-system/linkding']\").closest('a').focus();", vec![]).await.unwrap();
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


/// In a repository whose largest cluster is not the first, the page opens on the largest and
/// the search box suggests from it: the box sends the cluster the page shows, though the URL
/// names none.
#[tokio::test]
#[cfg_attr(not(has_chromium), ignore = "needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")]
async fn the_search_box_suggests_from_the_cluster_shown() {
    let (_server, url) = serve(&crate::util::repo("largest-cluster-last"));
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("{url}/")).await.unwrap();
    assert!(node_ids(c).await.contains(&"Kustomization/flux-system/monitoring".to_string()), "the page shows another cluster");
    c.find(Locator::Id("search")).await.unwrap().send_keys("monitor").await.unwrap();
    let suggestion = c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#search-results a")).await.unwrap();
    let href = suggestion.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.ends_with("/k/Kustomization/flux-system/monitoring?cluster=zulu"), "{href}");
    b.client.close().await.unwrap();
}

/// A Kustomization's page shows what it applies, grouped by kind; one click opens an object's YAML
/// (Secret values redacted), its origin opens the file at that line, and the section's link shows the
/// same section to whoever opens it.
#[tokio::test]
#[cfg_attr(not(has_chromium), ignore = "needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")]
async fn what_a_kustomization_applies_is_one_click_from_its_page() {
    let (_server, url) = serve(&example());
    let b = browser_for(Screen::Desktop).await;
    let c = &b.client;
    c.goto(&format!("{url}/k/Kustomization/flux-system/linkding")).await.unwrap();
    let kinds: Vec<String> = {
        let mut out = Vec::new();
        for e in c.find_all(Locator::Css("section.applies details.applied-kind > summary")).await.unwrap() {
            out.push(e.text().await.unwrap());
        }
        out
    };
    assert!(kinds.iter().any(|k| k.starts_with("HelmRelease")) && kinds.iter().any(|k| k.starts_with("Secret")), "{kinds:?}");
    screenshot(c, "applies-section").await;
    // The Secret's YAML, one click away: keys, no values.
    let secret_row = c.find(Locator::XPath("//section[@id='applies']//tr[td[2][contains(., 'linkding-postgres-credentials')]]//a[@class='yaml-link']")).await.unwrap();
    secret_row.click().await.unwrap();
    let yaml = c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("section#yaml pre.yaml")).await.unwrap().text().await.unwrap();
    assert!(yaml.contains("password: <redacted>"), "{yaml}");
    assert!(!yaml.contains("ENC[") && !yaml.contains("AGE ENCRYPTED"), "SOPS material shown: {yaml}");
    assert!(c.current_url().await.unwrap().as_str().contains("/applies?object=Secret%2Fhome%2Flinkding-postgres-credentials"));
    screenshot(c, "applies-yaml").await;
    // Its origin opens the file at the line.
    let origin = c.find(Locator::XPath("//section[@id='applies']//tr[td[2][contains(., 'linkding-postgres-config')]]/td[3]/a")).await.unwrap();
    origin.click().await.unwrap();
    c.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("pre.source span#L2")).await.unwrap();
    assert!(c.current_url().await.unwrap().as_str().contains("/source/kubernetes/rpi-cluster/apps/home/linkding/app/postgres-config.yaml"));
    // The section's own link, opened in another browser, shows the same groups.
    c.goto(&format!("{url}/k/Kustomization/flux-system/linkding")).await.unwrap();
    let share = c.find(Locator::Css("section.applies a.share")).await.unwrap().attr("href").await.unwrap().unwrap();
    let other = browser().await;
    other.client.goto(&format!("{url}{share}")).await.unwrap();
    let count = other.client.find_all(Locator::Css("section.applies details.applied-kind")).await.unwrap().len();
    assert_eq!(count, kinds.len(), "the shared section shows other groups");
    other.client.close().await.unwrap();
    b.client.close().await.unwrap();
}

#[tokio::test]
#[cfg_attr(not(has_chromium), ignore = "needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")]
async fn editing_a_file_updates_the_open_page_in_place() {
    let repo = tempfile::tempdir().unwrap();
    crate::util::copy_dir(&example(), repo.path());
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

/// The smallest font size of the graph's text on screen (its CSS size times the SVG's scale), over the
/// boxes' titles and subtitles and the level titles that are inside the frame.
const SMALLEST_TEXT: &str = "
    const frame = document.querySelector('.graph-frame');
    const svg = frame.querySelector('svg.graph');
    const scale = svg.getScreenCTM().a;
    const f = frame.getBoundingClientRect();
    let smallest = Infinity, seen = 0;
    for (const t of svg.querySelectorAll('.node .title, .node .subtitle, .layer-title')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0 || r.right < f.left || r.left > f.right || r.bottom < f.top || r.top > f.bottom) continue;
      seen++;
      smallest = Math.min(smallest, parseFloat(getComputedStyle(t).fontSize) * scale);
    }
    return [smallest, seen];";

/// Whether an element is displayed and at least partly inside the viewport.
async fn in_view(client: &Client, selector: &str) -> bool {
    let script = "const e = document.querySelector(arguments[0]); if (!e) return false;
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;";
    client.execute(script, vec![json!(selector)]).await.unwrap() == json!(true)
}

/// What the issue asks of the pages at 1600×1000 and 390×844, on one repository served at `url`
/// (`query` names its cluster); screenshots of every page at both sizes under `name`.
async fn check_readable(url: &str, query: &str, name: &str) {
    let desktop = browser_for(Screen::Desktop).await;
    let c = &desktop.client;
    let sep = if query.is_empty() { "?" } else { "&" };
    c.goto(&format!("{url}/{query}")).await.unwrap();
    c.wait().at_most(Duration::from_secs(60)).for_element(Locator::Css(".graph-frame svg.graph")).await.unwrap();
    screenshot(c, &format!("{name}-overview-1600")).await;

    // First paint: readable text, grouped, the legend in view.
    let smallest = c.execute(SMALLEST_TEXT, vec![]).await.unwrap();
    let (px, seen) = (smallest[0].as_f64().unwrap_or(0.0), smallest[1].as_u64().unwrap());
    assert!(seen > 0 && px >= 10.95, "{name}: the first paint's smallest text is {px:.2} px on screen ({seen} labels in view)");
    assert!(!c.find_all(Locator::Css("g.node.group")).await.unwrap().is_empty(), "{name}: the overview opens grouped");
    assert!(in_view(c, ".graph-view .legend").await, "{name}: the legend is not in view");
    // The zoom controls have a column of their own: they cover no part of the drawing.
    let overlap = c
        .execute("const a = document.querySelector('.graph-controls').getBoundingClientRect(), b = document.querySelector('.graph-frame svg.graph').getBoundingClientRect(); return a.left < b.right;", vec![])
        .await
        .unwrap();
    assert_eq!(overlap, json!(false), "{name}: the zoom buttons cover the drawing");

    // Scrolling the drawing down: the level titles stay at the top of the frame.
    let moved = c
        .execute(
            "const frame = document.querySelector('.graph-frame');
             const before = frame.querySelector('svg.graph').getAttribute('viewBox');
             frame.focus();
             for (let i = 0; i < 8; i++) frame.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown', bubbles: true, cancelable: true}));
             const f = frame.getBoundingClientRect();
             const titles = [...frame.querySelectorAll('.layer-title')].map((t) => t.getBoundingClientRect())
               .filter((r) => r.left >= f.left && r.right <= f.right);
             return [before !== frame.querySelector('svg.graph').getAttribute('viewBox'),
                     titles.length > 0 && titles.every((r) => r.top >= f.top && r.bottom <= f.top + 40),
                     document.querySelector('.minimap.shown') !== null];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(moved, json!([true, true, true]), "{name}: [the drawing scrolled, the level titles stayed at the top, the minimap shows]");
    screenshot(c, &format!("{name}-overview-scrolled-1600")).await;
    // Scrolling the page past the frame's top: the titles stay just below the window's top.
    let page_scrolled = c
        .execute(
            "const frame = document.querySelector('.graph-frame');
             document.body.style.paddingBottom = '2000px'; // room to scroll past the frame on a short page
             window.scrollTo(0, frame.getBoundingClientRect().top + scrollY + 150);
             window.dispatchEvent(new Event('scroll'));
             const f = frame.getBoundingClientRect();
             const titles = [...frame.querySelectorAll('.layer-title')].map((t) => t.getBoundingClientRect())
               .filter((r) => r.left >= f.left && r.right <= f.right);
             const ok = f.top < -100 && titles.length > 0 && titles.every((r) => r.top >= 0 && r.bottom <= 40);
             window.scrollTo(0, 0);
             document.body.style.paddingBottom = '';
             window.dispatchEvent(new Event('scroll'));
             return ok;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(page_scrolled, json!(true), "{name}: the level titles scrolled away with the page");

    // Opening a group: in place, into the URL; a second browser given the URL shows the same picture.
    c.refresh().await.unwrap();
    c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(".graph-frame svg.graph")).await.unwrap();
    let visible_group = "const f = document.querySelector('.graph-frame').getBoundingClientRect();
        const g = [...document.querySelectorAll('g.node.group')].find((g) => { const r = g.getBoundingClientRect();
          return r.left >= f.left && r.right <= f.right && r.top >= f.top && r.bottom <= f.bottom; });
        return g ? g.dataset.id : null;";
    let group_id = c.execute(visible_group, vec![]).await.unwrap().as_str().unwrap_or_else(|| panic!("{name}: no group in view at first paint")).to_string();
    c.find(Locator::Css(&format!("a.node-link:has(g.node[data-id='{group_id}'])"))).await.unwrap().click().await.unwrap();
    let open = c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("a.open-group")).await.unwrap();
    assert_eq!(open.text().await.unwrap().trim_end_matches(" ×"), group_id.trim_start_matches("group:"));
    let shared = c.current_url().await.unwrap().to_string();
    assert!(shared.contains("open="), "{name}: opening a group left the URL as it was: {shared}");
    let opened = node_ids(c).await;
    assert!(!opened.contains(&group_id), "{name}: {group_id} is still closed");
    screenshot(c, &format!("{name}-group-open-1600")).await;
    let second = browser_for(Screen::Desktop).await;
    second.client.goto(&shared).await.unwrap();
    second.client.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(".graph-frame svg.graph")).await.unwrap();
    assert_eq!(node_ids(&second.client).await, opened, "{name}: the shared link {shared} shows another picture");
    second.client.close().await.unwrap();

    // The critical path page draws the path's members and nothing else.
    c.goto(&format!("{url}/critical-path{query}")).await.unwrap();
    let members = c.find_all(Locator::Css(".by-hops ol.chain li")).await.unwrap().len();
    let drawn = c.find_all(Locator::Css(".by-hops svg.graph g.node")).await.unwrap();
    assert_eq!(drawn.len(), members, "{name}: the critical path page draws other objects than the path's");
    for node in &drawn {
        let class = node.attr("class").await.unwrap().unwrap_or_default();
        assert!(class.contains("critical"), "{name}: a drawn object is not on the path: {class}");
    }
    screenshot(c, &format!("{name}-critical-path-1600")).await;

    // Every other page, for a person to look at.
    let first = c.find(Locator::Css(".by-hops ol.chain li:last-child a")).await.unwrap().attr("href").await.unwrap().unwrap();
    let pages = [("levels", format!("/levels{query}")), ("diagnostics", format!("/diagnostics{query}{sep}by=file")), ("cycles", format!("/cycles{query}")), ("object", first.clone())];
    for (page, path) in &pages {
        c.goto(&format!("{url}{path}")).await.unwrap();
        screenshot(c, &format!("{name}-{page}-1600")).await;
    }
    desktop.client.close().await.unwrap();

    // A phone: the overview is the level list, readable; the graph one tap away.
    let phone = browser_for(Screen::Phone).await;
    let p = &phone.client;
    p.goto(&format!("{url}/{query}")).await.unwrap();
    let list = p
        .execute(
            "const list = document.querySelector('.phone-list');
             const link = list && list.querySelector('.level-row a');
             return [innerWidth, list ? list.getBoundingClientRect().height > 0 : false,
                     document.querySelector('.graph-view').getBoundingClientRect().height,
                     link ? parseFloat(getComputedStyle(link).fontSize) : 0,
                     list ? list.querySelectorAll('.level-row').length : 0];",
            vec![],
        )
        .await
        .unwrap();
    screenshot(p, &format!("{name}-overview-390")).await;
    let widest = p
        .execute("let w = null; for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect();
            if ((r.right > 400 || e.scrollWidth > 400) && (!w || e.scrollWidth < w[1])) w = [e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 60), e.scrollWidth, r.right]; }
            return [w, document.documentElement.scrollWidth, document.documentElement.clientWidth, visualViewport.scale, visualViewport.width];", vec![])
        .await
        .unwrap();
    assert_eq!(list[0], json!(390), "{name}: the page is wider than the phone; the narrowest element past its edge: {widest}");
    assert_eq!(list[1], json!(true), "{name}: the level list is not shown on a phone: {list}");
    assert_eq!(list[2].as_f64(), Some(0.0), "{name}: the graph is shown on a phone: {list}");
    assert!(list[3].as_f64().unwrap() >= 14.0 && list[4].as_u64().unwrap() > 2, "{name}: the list is not readable: {list}");
    screenshot(p, &format!("{name}-overview-390")).await;
    for (page, path) in [("critical-path", format!("/critical-path{query}")), ("graph", format!("/{query}{sep}graph=1"))].iter().chain(&pages) {
        p.goto(&format!("{url}{path}")).await.unwrap();
        screenshot(p, &format!("{name}-{page}-390")).await;
    }
    phone.client.close().await.unwrap();
}

#[tokio::test]
#[cfg_attr(not(all(has_chromium, has_shared)), ignore = "needs Chromium and chromedriver, and ../shared (the corpus)")]
async fn readable_at_any_size_on_the_corpus() {
    let (_server, url) = serve(&crate::util::shared().join("corpus/thaynes43__haynes-ops"));
    check_readable(&url, "?cluster=main", "haynes-ops").await;
}

#[tokio::test]
#[cfg_attr(not(has_chromium), ignore = "needs /usr/bin/chromium and chromedriver on PATH (apt-get install chromium chromium-driver)")]
async fn readable_at_any_size_on_1000_components() {
    let repo = tempfile::tempdir().unwrap();
    fluxgraph::synthetic::write_repository(repo.path(), &fluxgraph::synthetic::Spec { components: 1000, ..Default::default() }).unwrap();
    let (_server, url) = serve(repo.path());
    check_readable(&url, "", "synthetic-1000").await;
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

/// A dependency bump on the diff page: the HelmRelease whose chart moves is marked changed on the
/// graph, the versions list marks the major bump, and what each Kustomization applies differently
/// opens field by field.
#[tokio::test]
#[cfg_attr(not(all(has_chromium, has_git)), ignore = "needs /usr/bin/chromium, chromedriver and git on PATH (apt-get install chromium chromium-driver git)")]
async fn the_diff_page_shows_what_a_version_bump_changes_in_the_cluster() {
    let repo = crate::diff::Repo::new();
    crate::diff::bump_versions(&repo);
    let (_server, url) = serve(&repo.root);
    let b = browser_for(Screen::Desktop).await;
    let c = &b.client;
    c.goto(&format!("{url}/diff?base=main")).await.unwrap();
    let changed = {
        let mut ids = Vec::new();
        for e in c.find_all(Locator::Css("svg.graph g.node.changed")).await.unwrap() {
            ids.push(e.attr("data-id").await.unwrap().unwrap_or_default());
        }
        ids
    };
    for id in ["HelmRelease/home/linkding", "Kustomization/flux-system/linkding"] {
        assert!(changed.contains(&id.to_string()), "{id} is not marked: {changed:?}");
    }
    let versions = c.find(Locator::Css("ul.diff-versions")).await.unwrap().text().await.unwrap();
    assert!(versions.contains("chart app-template: 3.6.1 → 4.0.0 (major)"), "{versions}");
    assert_eq!(c.find_all(Locator::Css("ul.diff-versions .pill.diff-major")).await.unwrap().len(), 1, "one major bump, marked");
    assert!(versions.contains("image ghcr.io/fluxgraph/fluxgraph: 0.1.0 → 0.2.0"), "{versions}");
    let build = c.find(Locator::XPath("//details[@class='diff-build'][summary[contains(., 'Kustomization/flux-system/linkding')]]")).await.unwrap();
    // Open it as a reader does, by its count (the name is a link to the Kustomization's page).
    build.find(Locator::Css("summary small")).await.unwrap().click().await.unwrap();
    let fields = build.text().await.unwrap();
    assert!(fields.contains("spec.values.controllers.linkding.containers.app.image.tag: 1.36.0 → 1.37.0"), "{fields}");
    screenshot(c, "diff-versions").await;
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
    let env = [("FLUXGRAPH_LOG", OsStr::new("error")), ("KUBECONFIG", kubeconfig.as_os_str())];
    let (_server, url) = serve_with(&crate::util::repo("live-status"), &["--kube-status", "--context", "fake"], &env);

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
        // Generous: under load (CI's two cores running the whole suite) the list takes longer.
        assert!(started.elapsed() < Duration::from_secs(10), "the root blocker on /blocked: {root}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    screenshot(c, "live-status-blocked").await;

    fake.set_down(true);
    // The watches notice the API is gone on their next request, after a backoff: wait for it.
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("#live-status .stale")).await.expect("the stale notice");
    // The status bar is rebuilt on every status event: read the notice by script, as it is now.
    let stale = c.execute("const s = document.querySelector('#live-status .stale'); return s ? s.innerText : '';", vec![]).await.unwrap();
    assert!(stale.as_str().unwrap_or("").contains("status stale since"), "{stale}");
    fake.put(object("Kustomization", "storage-health", "True", "ReconciliationSucceeded", "Applied"));
    b.client.close().await.unwrap();
}
