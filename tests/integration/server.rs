//! The HTTP app (`fluxgraph::server::app`), called without a socket: every route's status,
//! content type and the names that must appear; helpful 404s; hostile paths; no secret
//! value and no server path in any response; the host check, bodies refused, the `/events`
//! cap and the page cache. What needs a socket (timeouts, the connection cap, the probes
//! under load) is in `server_load`.

use std::path::Path;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use fluxgraph::server::{AppState, Options, app};
use fluxgraph::snapshot::Snapshot;
use tower::ServiceExt;

use crate::util::repo;

pub(crate) fn state_for(path: &Path, options: Options) -> AppState {
    let state = AppState::new(options);
    state.publish(Snapshot::read(path, None).expect("snapshot"), None, None);
    state
}

pub(crate) fn example() -> AppState {
    state_for(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster"), Options::default())
}

pub(crate) struct Reply {
    pub status: StatusCode,
    content_type: String,
    pub body: String,
    csp: String,
}

pub(crate) async fn get(state: &AppState, uri: &str) -> Reply {
    get_with(state, uri, &[]).await
}

async fn get_with(state: &AppState, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder().uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app(state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (status, content_type, csp) = (response.status(), header(header::CONTENT_TYPE), header(header::CONTENT_SECURITY_POLICY));
    let body = String::from_utf8_lossy(&to_bytes(response.into_body(), 64 << 20).await.unwrap()).into_owned();
    Reply { status, content_type, body, csp }
}

#[tokio::test]
async fn every_route_answers_with_what_it_must_show() {
    let state = example();
    let cases: &[(&str, &str, &[&str])] = &[
        ("/", "text/html", &["cluster-repositories", "rook-ceph-rbd", "linkding", "<svg", "level 0", "Kustomizations"]),
        ("/?edges=dependsOn,source&show=hr,src&dir=tb&fold=1", "text/html", &["rook-ceph", "stages", "<svg"]),
        ("/k/Kustomization/flux-system/linkding", "text/html", &["linkding", "apps/home/linkding/ks.yaml", "Spec at a glance", "rook-ceph-rbd", "Why it is at this level", "level 7"]),
        ("/k/HelmRelease/home/linkding?depth=all", "text/html", &["linkding", "HelmRelease", "app-template"]),
        ("/component/kubernetes/rpi-cluster/infrastructure/security/cert-manager", "text/html", &["cert-manager-webhooks", "cert-manager-issuers", "cert-manager-certificates", "jetstack", "HelmReleases"]),
        ("/component/kubernetes/rpi-cluster/apps/home/linkding", "text/html", &["linkding.", "Routes", "SOPS files"]),
        ("/critical-path", "text/html", &["Critical path", "rook-ceph-operator", "worst case"]),
        ("/cycles", "text/html", &["No dependency cycle"]),
        ("/diagnostics", "text/html", &["false-ready-dependency", "cluster.yaml"]),
        ("/diagnostics?severity=info&code=remote-resource", "text/html", &["remote-resource"]),
        ("/search?q=lnkding", "text/html", &["linkding"]),
        ("/api/search?q=rok-ceph", "application/json", &["rook-ceph"]),
        ("/api/graph", "application/json", &["\"critical_path\"", "Kustomization/flux-system/linkding"]),
        ("/graph.dot", "text/vnd.graphviz", &["digraph", "rank=same"]),
        ("/graph.mmd", "text/vnd.mermaid", &["flowchart LR"]),
        ("/healthz", "text/plain", &["ok"]),
        ("/readyz", "text/plain", &["ready: snapshot 1"]),
        ("/assets/app.css", "text/css", &[]),
        ("/assets/app.js", "text/javascript", &[]),
        ("/assets/icon.svg", "image/svg+xml", &["<svg"]),
    ];
    for (uri, content_type, names) in cases {
        let reply = get(&state, uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert!(reply.content_type.starts_with(content_type), "{uri}: {}", reply.content_type);
        for name in *names {
            assert!(reply.body.contains(name), "{uri} lacks {name:?}");
        }
        assert!(reply.csp.contains("script-src 'self'") && !reply.csp.contains("unsafe-inline"), "{uri}: CSP {}", reply.csp);
        if content_type == &"text/html" {
            assert!(!reply.body.contains("<script>") && !reply.body.contains(" style=\"") && !reply.body.contains(" onclick="), "{uri}: inline script or style");
        }
    }
}

/// `/api/graph` is the CLI's document, of one shape whatever the number of clusters: every
/// cluster, or the one `?cluster=` names.
#[tokio::test]
async fn api_graph_is_the_document_of_the_cli() {
    for (case, clusters) in [("levels-chain", vec!["test"]), ("two-clusters", vec!["prod", "staging"])] {
        let path = repo(case);
        let state = state_for(&path, Options::default());
        let mut queries = vec![(String::new(), Vec::new())];
        queries.extend(clusters.iter().map(|c| (format!("?cluster={c}"), vec!["--cluster", c])));
        for (query, flags) in &queries {
            let reply = get(&state, &format!("/api/graph{query}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{case}: /api/graph{query}");
            let document: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            crate::util::assert_document(&document);
            assert_eq!(document, crate::util::graph_json_with(&path, flags), "{case}: /api/graph{query}");
        }
        let all: serde_json::Value = serde_json::from_str(&get(&state, "/api/graph").await.body).unwrap();
        assert_eq!(crate::util::cluster_names(&all), clusters.iter().map(|c| c.to_string()).collect(), "{case}");
        assert_eq!(get(&state, "/api/graph?cluster=mars").await.status, StatusCode::NOT_FOUND, "{case}");
    }
}

#[tokio::test]
async fn unknown_objects_get_a_helpful_404() {
    let state = example();
    let reply = get(&state, "/k/Kustomization/flux-system/linkdin").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.contains("Did you mean") && reply.body.contains("/k/Kustomization/flux-system/linkding"), "{}", reply.body);
    for uri in ["/k/Nonsense/a/b", "/component/no/such/folder", "/nope", "/?cluster=mars", "/assets/nope.js"] {
        assert_eq!(get(&state, uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test]
async fn hostile_paths_never_read_outside_the_repository() {
    let state = example();
    for uri in [
        "/k/Kustomization/..%2F..%2F..%2Fetc/passwd",
        "/component/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/component/../../../../etc/passwd",
        "/component//etc/passwd",
        "/component/%2Fetc%2Fpasswd",
        "/assets/..%2F..%2FCargo.toml",
        "/assets/../Cargo.toml",
        "/assets/%2Fetc%2Fpasswd",
        "//etc/passwd",
        "/k/Kustomization/flux-system/..",
        "/source/..%2F..%2F..%2Fetc%2Fpasswd",
        "/source/../../../../etc/passwd",
        "/source//etc/passwd",
        "/source/%2Fetc%2Fpasswd",
        "/source/Cargo.toml",
        "/source/kubernetes/../../Cargo.toml",
        "/k/Kustomization/flux-system/linkding/applies/..%2F..%2F..%2Fetc%2Fpasswd",
    ] {
        let reply = get(&state, uri).await;
        assert!(reply.status.is_client_error(), "{uri}: {}", reply.status);
        assert!(!reply.body.contains("root:x:0:0") && !reply.body.contains("[package]"), "{uri} leaked a file");
    }
}

/// The scripts are ES modules served as they are: the page loads `app.js` as a module, and
/// each module under `assets/js/` is served with a JavaScript type (a browser runs a module
/// script of no other) and opens with a comment saying what it does. An asset is a name the
/// embed knows, never a path: another spelling of a known name, or a folder, is refused in a
/// debug build (which reads the folder at run time) as in a release one.
#[tokio::test]
async fn assets_are_served_by_name_only() {
    let state = example();
    let page = get(&state, "/").await;
    assert!(page.body.contains(r#"<script type="module" src="/assets/app.js"></script>"#), "{}", page.body);
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/js");
    let mut modules = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let uri = format!("/assets/js/{name}");
        let reply = get(&state, &uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.content_type, "text/javascript; charset=utf-8", "{uri}");
        assert!(reply.body.starts_with("// "), "{uri} does not open with what it does");
        modules += 1;
    }
    assert!(modules >= 5, "{modules} modules under assets/js");
    for uri in ["/assets/./app.js", "/assets//app.js", "/assets/js/../app.js", "/assets/js/..%2F..%2FCargo.toml", "/assets/x/..%2Fapp.css", "/assets/%2E%2E/Cargo.toml", "/assets/"] {
        let reply = get(&state, uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(!reply.body.contains("[package]") && !reply.content_type.starts_with("text/javascript"), "{uri} served a file");
    }
}

#[tokio::test]
async fn no_secret_value_appears_in_any_response() {
    let state = state_for(&repo("secrets"), Options::default());
    let mut uris: Vec<String> = ["/", "/?show=hr,src&edges=dependsOn,applies,source", "/critical-path", "/cycles", "/diagnostics", "/api/graph", "/graph.dot", "/graph.mmd", "/search?q=vault", "/api/search?q=vault"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let graph: serde_json::Value = serde_json::from_str(&get(&state, "/api/graph").await.body).unwrap();
    for node in crate::util::only_cluster(&graph)["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap();
        uris.push(format!("/k/{id}?depth=all"));
    }
    // What each Kustomization applies, each object's YAML, and every file of the repository.
    for (id, objects) in [("apps", ["Secret/vault/vault-admin", "Secret/flux-system/cluster-secrets", "ConfigMap/vault/vault-env"])] {
        uris.push(format!("/k/Kustomization/flux-system/{id}/applies"));
        uris.extend(objects.iter().map(|o| format!("/k/Kustomization/flux-system/{id}/applies?object={}", o.replace('/', "%2F"))));
    }
    for file in ["apps/vault/plain-secret.yaml", "apps/vault/cluster-secrets.sops.yaml", "apps/vault/release.yaml", "apps/vault/configmap.yaml"] {
        uris.push(format!("/source/{file}"));
    }
    let mut seen_object_page = false;
    for uri in &uris {
        let reply = get(&state, uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        for marker in ["MARKER", "UExBSU5URVhULU1BUktFUi1CQVNFNjQ="] {
            assert!(!reply.body.contains(marker), "{uri} shows a secret value ({marker})");
        }
        if uri.starts_with("/k/Kustomization/flux-system/apps?") {
            // The source view is there, redacted: keys shown, values not.
            assert!(reply.body.contains("decryption"), "{uri}");
            seen_object_page = true;
        }
    }
    assert!(seen_object_page);
}

#[tokio::test]
async fn fragments_base_path_and_share_links() {
    let options = Options {
        base_path: "/fluxgraph".into(),
        public_url: Some("https://fluxgraph.example.com".into()),
        repo_url: Some("https://github.com/me/home-ops/blob/main".into()),
        ..Options::default()
    };
    let state = state_for(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster"), options);
    let page = get(&state, "/fluxgraph/k/Kustomization/flux-system/linkding?depth=3").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-url=\"https://fluxgraph.example.com/fluxgraph/k/Kustomization/flux-system/linkding?depth=3\""), "share link");
    assert!(page.body.contains("href=\"/fluxgraph/assets/app.css\""));
    assert!(page.body.contains("https://github.com/me/home-ops/blob/main/kubernetes/rpi-cluster/apps/home/linkding/ks.yaml#L"), "forge link");
    let fragment = get_with(&state, "/fluxgraph/k/Kustomization/flux-system/linkding?depth=3", &[("x-fluxgraph-fragment", "1")]).await;
    assert!(!fragment.body.contains("<html") && fragment.body.contains("Spec at a glance"));
    // The whole page again, after the fragment of the same URL was kept: not mixed up.
    assert!(get(&state, "/fluxgraph/k/Kustomization/flux-system/linkding?depth=3").await.body.contains("<html"));
    assert_eq!(get(&state, "/k/Kustomization/flux-system/linkding").await.status, StatusCode::NOT_FOUND, "outside the base path");
}

#[tokio::test]
async fn not_ready_until_the_first_snapshot() {
    let state = AppState::new(Options::default());
    assert_eq!(get(&state, "/readyz").await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&state, "/healthz").await.status, StatusCode::OK);
    assert_eq!(get(&state, "/").await.status, StatusCode::SERVICE_UNAVAILABLE);
    state.publish(Snapshot::read(&repo("levels-chain"), None).unwrap(), None, None);
    assert_eq!(get(&state, "/readyz").await.status, StatusCode::OK);
    state.fail("cannot read the repository".into());
    let ready = get(&state, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "the last good snapshot is still served");
    assert!(ready.body.contains("last refresh failed"), "{}", ready.body);
    assert!(get(&state, "/").await.body.contains("The last refresh failed"));
}

/// A page served while the repository loads opens its event stream after the first snapshot
/// may already be in: the stream starts with the current version, so the page still learns
/// it (it waited for an event that had gone by before).
#[tokio::test]
async fn an_event_stream_opens_with_the_current_version() {
    let state = AppState::new(Options::default());
    let loading = get(&state, "/").await;
    assert_eq!(loading.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(loading.body.contains(r#"data-version="0""#), "{}", loading.body);
    state.publish(Snapshot::read(&repo("levels-chain"), None).unwrap(), None, None);
    let response = app(state.clone()).oneshot(Request::builder().uri("/events").body(Body::empty()).unwrap()).await.unwrap();
    let mut body = response.into_body();
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), http_body_util::BodyExt::frame(&mut body))
        .await
        .expect("an event at once, not after the next change")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.starts_with("event: snapshot\n"), "{text}");
    assert!(text.contains(r#""version":1"#) && text.contains(r#""ok":true"#), "{text}");
}

/// The Copy-link URL is the public URL's, or the address listened on; never the `Host` a
/// request names (a page kept for everyone must not carry one client's header either).
#[tokio::test]
async fn share_links_never_reflect_the_host_header() {
    let state = example();
    let page = get_with(&state, "/k/Kustomization/flux-system/linkding", &[("host", "localhost:9999")]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("9999"), "the share link reflects the Host header");
    assert!(page.body.contains("data-url=\"\""), "no public URL and no address: the page copies its own location");
    state.set_listening("127.0.0.1:7420".parse().unwrap());
    let page = get_with(&state, "/cycles?x=1", &[("host", "localhost:9999")]).await;
    assert!(page.body.contains("data-url=\"http://127.0.0.1:7420/cycles?x=1\""), "the address listened on");
}

/// DNS rebinding: a page on another site whose name resolves to this server gets 421;
/// this server's own names are answered, and the probes whatever the host.
#[tokio::test]
async fn other_hosts_get_421_and_probes_are_exempt() {
    let state = state_for(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster"),
        Options { public_url: Some("https://fluxgraph.example.com".into()), allowed_hosts: vec!["fluxgraph.tools.svc.cluster.local".into()], ..Options::default() },
    );
    state.set_listening("127.0.0.1:7420".parse().unwrap());
    for host in ["evil.example", "evil.example:7420", "127.0.0.1.evil.example", "fluxgraph.example.com.evil.example", "10.1.2.3:7420"] {
        for uri in ["/", "/api/graph", "/events", "/assets/app.js", "/nope"] {
            let reply = get_with(&state, uri, &[("host", host)]).await;
            assert_eq!(reply.status, StatusCode::MISDIRECTED_REQUEST, "{host} {uri}");
            assert!(reply.body.contains("--allowed-host"), "{}", reply.body);
        }
        for probe in ["/healthz", "/readyz"] {
            assert_eq!(get_with(&state, probe, &[("host", host)]).await.status, StatusCode::OK, "{host} {probe}: probes are exempt");
        }
    }
    for host in ["localhost", "localhost:7420", "127.0.0.1:7420", "[::1]:7420", "localhost:8080", "fluxgraph.example.com", "FluxGraph.Example.com:443", "fluxgraph.tools.svc.cluster.local"] {
        assert_eq!(get_with(&state, "/api/graph", &[("host", host)]).await.status, StatusCode::OK, "{host}");
    }
    // Under a base path, the probes there are exempt.
    let based = state_for(&repo("levels-chain"), Options { base_path: "/fg".into(), ..Options::default() });
    assert_eq!(get_with(&based, "/fg/healthz", &[("host", "10.1.2.3:7420")]).await.status, StatusCode::OK);
    assert_eq!(get_with(&based, "/fg/", &[("host", "10.1.2.3:7420")]).await.status, StatusCode::MISDIRECTED_REQUEST);
}

/// fluxgraph only reads: other methods get 405, and a request with a body 413, unread.
#[tokio::test]
async fn bodies_and_other_methods_are_refused() {
    let state = example();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let request = Request::builder().method(method).uri("/").body(Body::empty()).unwrap();
        let response = app(state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(response.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
    }
    let with_length = Request::builder().uri("/api/graph").header(header::CONTENT_LENGTH, "5").body(Body::from("hello")).unwrap();
    assert_eq!(app(state.clone()).oneshot(with_length).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let chunked = Request::builder().uri("/healthz").header(header::TRANSFER_ENCODING, "chunked").body(Body::from("hello")).unwrap();
    assert_eq!(app(state.clone()).oneshot(chunked).await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let empty = Request::builder().uri("/healthz").header(header::CONTENT_LENGTH, "0").body(Body::empty()).unwrap();
    assert_eq!(app(state.clone()).oneshot(empty).await.unwrap().status(), StatusCode::OK);
    let head = Request::builder().method("HEAD").uri("/").body(Body::empty()).unwrap();
    assert_eq!(app(state).oneshot(head).await.unwrap().status(), StatusCode::OK);
}

/// Each open `/events` stream holds a connection: beyond the cap, a clear 503; a place is
/// given back when its page goes.
#[tokio::test]
async fn event_streams_beyond_the_cap_get_503() {
    let limits = fluxgraph::server::Limits { max_subscribers: 2, ..Default::default() };
    let state = state_for(&repo("levels-chain"), Options { limits, ..Options::default() });
    let open = || app(state.clone()).oneshot(Request::builder().uri("/events").body(Body::empty()).unwrap());
    let first = open().await.unwrap();
    let second = open().await.unwrap();
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    assert!(first.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/event-stream"));
    let third = open().await.unwrap();
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = String::from_utf8(to_bytes(third.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap();
    assert!(body.contains("too many open pages"), "{body}");
    drop(first);
    assert_eq!(open().await.unwrap().status(), StatusCode::OK, "the place of a closed page is free again");
}

/// A page is drawn once per snapshot and URL: the same bytes again, compressed once for
/// clients that take gzip; a new snapshot draws anew.
#[tokio::test]
async fn pages_are_kept_per_snapshot() {
    let state = example();
    let first = get(&state, "/critical-path").await;
    let again = get(&state, "/critical-path").await;
    assert_eq!(first.body, again.body);
    let request = Request::builder().uri("/critical-path").header(header::ACCEPT_ENCODING, "gzip, br").body(Body::empty()).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let zipped = to_bytes(response.into_body(), 64 << 20).await.unwrap();
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, first.body);
    assert!(first.body.contains("snapshot 1"));
    state.publish(Snapshot::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster"), None).unwrap(), None, None);
    assert!(get(&state, "/critical-path").await.body.contains("snapshot 2"), "a new snapshot is drawn anew");
    state.fail("cannot read the repository".into());
    assert!(get(&state, "/critical-path").await.body.contains("The last refresh failed"), "a failed refresh shows at once");
}

/// No absolute path of the server's machine in a page, the API or the probes: a failed
/// refresh naming the repository's folder is shown with the folder's name only.
#[tokio::test]
async fn no_server_path_appears_in_any_response() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster");
    let state = state_for(&root, Options { hidden_paths: vec![root.clone()], ..Options::default() });
    let canonical = root.canonicalize().unwrap();
    state.fail(format!("cannot read {}: No such file or directory; also {}/apps/x.yaml", canonical.display(), root.display()));
    for uri in ["/", "/diagnostics", "/api/graph", "/readyz", "/nope", "/k/Kustomization/flux-system/linkding"] {
        let reply = get(&state, uri).await;
        for absolute in [&root, &canonical] {
            assert!(!reply.body.contains(&*absolute.to_string_lossy()), "{uri} shows {}", absolute.display());
        }
    }
    let ready = get(&state, "/readyz").await.body;
    assert!(ready.contains("cannot read rpi-cluster: No such file or directory; also apps/x.yaml"), "{ready}");
}

/// Every page of every cluster of the real repositories in `../shared/corpus` answers 200:
/// each object's view, each component's, and the whole-cluster views.
#[tokio::test]
#[cfg_attr(not(has_shared), ignore = "needs ../shared beside the project (the workplace corpus and fixtures)")]
async fn every_page_of_the_corpus_renders() {
    let mut pages = 0;
    for entry in std::fs::read_dir(crate::util::shared().join("corpus")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let state = state_for(&dir, Options::default());
        let snapshot = state.current().unwrap().snapshot.clone();
        for view in &snapshot.clusters {
            let cluster = format!("cluster={}", fluxgraph::server::views::encode(&view.cluster.name));
            let mut uris: Vec<String> = ["/", "/critical-path", "/cycles", "/diagnostics", "/?fold=1&show=hr,src&edges=dependsOn,applies,source"]
                .iter()
                .map(|p| format!("{p}{}{cluster}", if p.contains('?') { "&" } else { "?" }))
                .collect();
            uris.extend(view.cluster.objects.keys().map(|id| format!("{}?{cluster}", fluxgraph::server::views::object_path(id))));
            uris.extend(fluxgraph::server::views::components(view).into_iter().map(|c| format!("/component/{c}?{cluster}")));
            for uri in uris {
                let reply = get(&state, &uri).await;
                assert_eq!(reply.status, StatusCode::OK, "{}: {uri}", dir.display());
                pages += 1;
            }
        }
    }
    assert!(pages > 500, "only {pages} pages");
}

/// A repository whose largest cluster (`zulu`, the only one with `monitoring`) is not the first
/// by name (`alpha`): a URL that names no cluster is about the largest on every route, pages
/// and machine routes alike, the 404 page and the MCP tools included, and the search box asks
/// about the cluster the page shows. `/graph.dot`, `/graph.mmd`, `/api/search` and the 404 page
/// took the first cluster, and the search box sent none.
#[tokio::test]
async fn every_route_and_the_search_box_answer_about_the_cluster_shown() {
    let state = state_for(&repo("largest-cluster-last"), Options::default());
    state.enable_status();
    let current = state.current().unwrap();
    let names: Vec<&str> = current.snapshot.clusters.iter().map(|c| c.cluster.name.as_str()).collect();
    assert_eq!(names, ["alpha", "zulu"], "the largest cluster comes last");
    let monitoring = "/k/Kustomization/flux-system/monitoring";
    let switcher = |name: &str| format!(r#"<a href="/?cluster={name}" class="current" aria-current="page">{name}</a>"#);
    let search_box = |name: &str| format!(r#"<input type="hidden" name="cluster" value="{name}">"#);
    let pages: &[(&str, StatusCode, &str)] = &[
        ("/", StatusCode::OK, monitoring),
        ("/levels", StatusCode::OK, monitoring),
        ("/critical-path", StatusCode::OK, monitoring),
        ("/cycles", StatusCode::OK, "No dependency cycle"),
        ("/diagnostics", StatusCode::OK, "false-ready-dependency"),
        ("/search?q=monitor", StatusCode::OK, monitoring),
        ("/blocked", StatusCode::OK, "what blocks"),
        (monitoring, StatusCode::OK, "Spec at a glance"),
        ("/k/Kustomization/flux-system/monitoring/applies", StatusCode::OK, "ConfigMap"),
        // The helpful 404s suggest from the cluster shown.
        ("/k/Kustomization/flux-system/monitorin", StatusCode::NOT_FOUND, monitoring),
        ("/no/such/monitorin", StatusCode::NOT_FOUND, monitoring),
    ];
    for (uri, status, shows) in pages {
        let reply = get(&state, uri).await;
        assert_eq!(reply.status, *status, "{uri}: {}", reply.body);
        for part in [switcher("zulu"), search_box("zulu"), shows.to_string()] {
            assert!(reply.body.contains(&part), "{uri} lacks {part}");
        }
    }
    for part in ["/blocked/timing", "/blocked/k/Kustomization/flux-system/monitoring"] {
        assert_eq!(get(&state, part).await.status, StatusCode::OK, "{part}");
    }
    for uri in ["/graph.dot", "/graph.mmd"] {
        let reply = get(&state, uri).await;
        assert!(reply.status == StatusCode::OK && reply.body.contains("monitoring"), "{uri}: {}", reply.body);
    }
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    for uri in ["/api/status", "/api/blocked"] {
        assert_eq!(json(&get(&state, uri).await.body)["cluster"], "zulu", "{uri}");
    }
    let all = json(&get(&state, "/api/graph").await.body);
    assert_eq!(crate::util::cluster_names(&all), ["alpha", "zulu"].map(String::from).into(), "the document holds every cluster unless one is named");
    // The search box: the suggestions without a cluster, and with the one its form sends.
    let ids = |uri: &str| {
        let state = state.clone();
        let uri = uri.to_string();
        async move { json(&get(&state, &uri).await.body).as_array().unwrap().iter().map(|s| s["href"].as_str().unwrap().to_string()).collect::<Vec<_>>() }
    };
    assert_eq!(ids("/api/search?q=monitor").await, [monitoring]);
    assert_eq!(ids("/api/search?q=monitor&cluster=zulu").await, [format!("{monitoring}?cluster=zulu")]);
    assert!(ids("/api/search?q=monitor&cluster=alpha").await.is_empty(), "alpha has no monitoring");
    // The MCP tools choose alike.
    let ctx = fluxgraph::server::mcp::answers::Ctx { state: &state, current: &current };
    let object = fluxgraph::server::mcp::answers::object(&ctx, &fluxgraph::server::mcp::args::Object { id: "monitoring".into(), cluster: None }).unwrap();
    assert_eq!(object.structured["cluster"], "zulu");
    // A URL that names a cluster is about that one, and the search box says so.
    let alpha = get(&state, "/?cluster=alpha").await.body;
    assert!(alpha.contains(&switcher("alpha")) && alpha.contains(&search_box("alpha")) && !alpha.contains(monitoring));
    assert!(!get(&state, "/graph.dot?cluster=alpha").await.body.contains("monitoring"));
    // A cluster the repository does not have is a 404 everywhere, told as a page or as text.
    for uri in ["/?cluster=mars", "/graph.dot?cluster=mars", "/api/search?q=web&cluster=mars", "/api/status?cluster=mars", "/nope?cluster=mars"] {
        let reply = get(&state, uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(reply.body.contains("alpha") && reply.body.contains("zulu"), "{uri} names the clusters there are: {}", reply.body);
    }
}
