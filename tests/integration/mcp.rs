//! The Model Context Protocol, driven by real clients over the example repository (a git copy
//! of it, so that the `diff` tool has revisions to read), with the live status read from the
//! fake Kubernetes API:
//!
//! - the SDK's own client (rmcp) over stdio (`fluxgraph mcp`, a child process) and over
//!   streamable HTTP (`/mcp` of a served app on a loopback socket): it initialises, lists the
//!   tools, calls each with good arguments and once with bad ones (a tool error, never a
//!   protocol error), reads each cluster's resource, gets the prompt, and subscribes to a
//!   cluster: after a file changes, the next call answers from the new snapshot and the
//!   client hears `notifications/resources/updated`;
//! - the official MCP Inspector's command-line mode, the same calls over both transports
//!   (ignored where Node.js or the installed Inspector is absent, `cfg(has_mcp_inspector)`);
//! - `/mcp`'s place in the server: what the guard lets through and what it refuses.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fluxgraph::server::{AppState, Options, app};
use rmcp::model::{CallToolRequestParams, CallToolResult, GetPromptRequestParams, ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam, SubscribeRequestParams};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower::ServiceExt as _;

use crate::diff::Repo;
use crate::fake_api::{FakeApi, object, ready};

const CLUSTER: &str = "fluxgraph://cluster/rpi-cluster";
const PUBLIC: &str = "https://fluxgraph.example.com";

/// Every tool, in the order `tools/list` gives them.
const TOOLS: [&str; 11] = ["clusters", "object", "why_level", "critical_path", "cycles", "diagnostics", "blast_radius", "build", "diff", "blocked", "search"];

/// The client: it hands on the resources it is told were updated.
#[derive(Clone)]
struct Listener {
    updated: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Listener {
    async fn on_resource_updated(&self, params: ResourceUpdatedNotificationParam, _context: NotificationContext<RoleClient>) {
        let _ = self.updated.send(params.uri);
    }
}

type Client = RunningService<RoleClient, Listener>;

/// One call per tool that must answer (its arguments, and what its text must say), and one
/// that must be a tool error (its arguments, and what the error must say).
struct Case {
    tool: &'static str,
    good: Value,
    says: &'static str,
    bad: Value,
    error: &'static str,
}

fn cases() -> Vec<Case> {
    let case = |tool, good, says, bad, error| Case { tool, good, says, bad, error };
    vec![
        case("clusters", json!({}), "rpi-cluster (default)", json!({"verbose": true}), "unknown field `verbose`"),
        case("object", json!({"id": "linkding"}), "level 7", json!({"id": "linkdin"}), "did you mean Kustomization/flux-system/linkding"),
        case("why_level", json!({"id": "HelmRelease/home/linkding"}), "cluster-repositories", json!({}), "missing field `id`"),
        case("critical_path", json!({}), "dominates", json!({"cluster": "mars"}), "no cluster named \"mars\"; the clusters are: rpi-cluster"),
        case("cycles", json!({}), "has no dependency cycle", json!({"cluster": 7}), "invalid type"),
        case("diagnostics", json!({"severity": "info", "limit": 1}), "call again with cursor", json!({"severity": "fatal"}), "unknown variant `fatal`"),
        case("blast_radius", json!({"file": "kubernetes/rpi-cluster/apps/home/linkding/app/httproute.yaml"}), "Kustomization/flux-system/linkding", json!({"id": "linkding", "file": "x"}), "either id"),
        case("build", json!({"id": "linkding"}), "HelmRelease home/linkding", json!({"id": "HelmRelease/home/linkding"}), "only a Kustomization has a build"),
        case("diff", json!({"base": "HEAD"}), "no change to the graph", json!({"base": "HEAD:secrets.yaml"}), "is not a revision"),
        case("blocked", json!({}), "HealthCheckFailed", json!({"cluster": "mars"}), "no cluster named \"mars\""),
        case("search", json!({"query": "rok-ceph"}), "Kustomization/flux-system/rook-ceph-operator", json!({"query": " "}), "the query is empty"),
    ]
}

fn text(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("\n")
}

async fn call(client: &Client, tool: &str, arguments: &Value) -> CallToolResult {
    let arguments = arguments.as_object().cloned().unwrap_or_default();
    client.call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments)).await.unwrap_or_else(|e| panic!("{tool}: a protocol error instead of an answer: {e}"))
}

/// The fake cluster: every Kustomization of the example Ready but rook-ceph-cluster, whose
/// health check fails, and rook-ceph-rbd, which waits on it (so it is the root blocker).
async fn fake_cluster(repo: &Path) -> FakeApi {
    let fake = FakeApi::start(false).await;
    let snapshot = fluxgraph::snapshot::Snapshot::read(repo, None).unwrap();
    for id in snapshot.clusters[0].cluster.objects.keys().filter(|id| id.kind == fluxgraph::model::Kind::Kustomization) {
        fake.put(ready("Kustomization", &id.name));
    }
    fake.put(ready("GitRepository", "flux-system"));
    fake.put(object("Kustomization", "rook-ceph-cluster", "False", "HealthCheckFailed", "health check failed after 20m0s: timeout waiting for: [CephCluster/rook-ceph/rook-ceph status: 'InProgress']"));
    fake.put(object("Kustomization", "rook-ceph-rbd", "False", "DependencyNotReady", "dependency 'flux-system/rook-ceph-cluster' is not ready"));
    fake
}

/// What both transports must do, in order: the handshake, the tools, the resources, the
/// prompt, and following the files.
async fn exercise(client: &Client, updated: &mut mpsc::UnboundedReceiver<String>, repo: &Repo) {
    let info = client.peer_info().expect("the server introduced itself");
    assert_eq!(info.server_info.as_ref().map(|i| i.name.as_str()), Some("fluxgraph"));
    assert!(info.capabilities.tools.is_some() && info.capabilities.resources.as_ref().is_some_and(|r| r.subscribe == Some(true)) && info.capabilities.prompts.is_some());

    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>(), TOOLS);
    for tool in &tools {
        assert_eq!(tool.input_schema.get("type"), Some(&json!("object")), "{}", tool.name);
        assert!(tool.annotations.as_ref().is_some_and(|a| a.read_only_hint == Some(true)), "{} is read-only", tool.name);
    }

    // The live status comes from the fake API a little after the start.
    wait_for(client, "blocked", &json!({}), "HealthCheckFailed").await;
    for case in cases() {
        let result = call(client, case.tool, &case.good).await;
        let said = text(&result);
        assert_ne!(result.is_error, Some(true), "{}: {said}", case.tool);
        assert!(said.contains(case.says), "{} should say {:?}: {said}", case.tool, case.says);
        assert!(result.structured_content.as_ref().is_some_and(Value::is_object), "{}: structured content", case.tool);
        let result = call(client, case.tool, &case.bad).await;
        let said = text(&result);
        assert_eq!(result.is_error, Some(true), "{} {}: {said}", case.tool, case.bad);
        assert!(said.contains(case.error), "{} {} should say {:?}: {said}", case.tool, case.bad, case.error);
    }
    let linkding = call(client, "object", &json!({"id": "linkding"})).await.structured_content.unwrap();
    assert_eq!(linkding["link"], format!("{PUBLIC}/k/Kustomization/flux-system/linkding"));
    let blocked_by = call(client, "object", &json!({"id": "rook-ceph-rbd"})).await.structured_content.unwrap();
    assert_eq!(blocked_by["status"]["blocked_by"], json!(["Kustomization/flux-system/rook-ceph-cluster"]));
    let unknown = client.call_tool(CallToolRequestParams::new("nope")).await.unwrap();
    assert!(unknown.is_error == Some(true) && text(&unknown).contains("the tools are clusters"), "{}", text(&unknown));

    let resources = client.list_all_resources().await.unwrap();
    assert_eq!(resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(), [CLUSTER]);
    let expected = crate::util::graph_json_with(&repo.root, &["--cluster", "rpi-cluster"]);
    assert_eq!(read(client, CLUSTER).await, expected, "the resource is `fluxgraph graph --format json --cluster rpi-cluster`");
    assert!(client.read_resource(ReadResourceRequestParams::new("fluxgraph://cluster/mars")).await.is_err());

    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["explain_not_ready"]);
    let arguments = json!({"id": "rook-ceph-rbd"}).as_object().cloned().unwrap();
    let prompt = client.get_prompt(GetPromptRequestParams::new("explain_not_ready").with_arguments(arguments)).await.unwrap();
    let message = serde_json::to_value(&prompt.messages).unwrap().to_string();
    assert!(message.contains("Kustomization/flux-system/rook-ceph-rbd") && message.contains("blocked by Kustomization/flux-system/rook-ceph-cluster"), "{message}");

    // A change to the files: the next call answers from the new snapshot, and a subscriber hears of it.
    #[allow(deprecated)] // the subscription of protocol 2025-11-25, which the client negotiated
    client.subscribe(SubscribeRequestParams::new(CLUSTER)).await.unwrap();
    repo.edit("apps/home/linkding/ks.yaml", |text| text.replace("timeout: 5m", "timeout: 7m"));
    let uri = tokio::time::timeout(Duration::from_secs(30), updated.recv()).await.expect("an update within 30 s").unwrap();
    assert_eq!(uri, CLUSTER);
    wait_for(client, "object", &json!({"id": "linkding"}), "timeout: 7m").await;
    let changed = call(client, "diff", &json!({"base": "HEAD"})).await;
    assert!(text(&changed).contains("timeout: 5m → 7m"), "{}", text(&changed));
}

async fn read(client: &Client, uri: &str) -> Value {
    let result = client.read_resource(ReadResourceRequestParams::new(uri)).await.unwrap();
    match &result.contents[..] {
        [ResourceContents::TextResourceContents { text, mime_type, .. }] => {
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            serde_json::from_str(text).unwrap()
        }
        other => panic!("{uri}: {other:?}"),
    }
}

/// Calls `tool` until its text says `what` (twenty seconds at most: the suite runs beside it).
async fn wait_for(client: &Client, tool: &str, arguments: &Value, what: &str) {
    let started = std::time::Instant::now();
    loop {
        let said = text(&call(client, tool, arguments).await);
        if said.contains(what) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{tool} never said {what:?}: {said}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_git), ignore = "needs git, which builds the repository the diff tool reads")]
async fn an_sdk_client_over_stdio_asks_every_tool_and_follows_the_files() {
    let repo = Repo::new();
    let fake = fake_cluster(&repo.root).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_fluxgraph"));
    command.arg("mcp").arg(&repo.root).args(["--kube-status", "--public-url", PUBLIC]).env("KUBECONFIG", fake.kubeconfig(dir.path()));
    let (updates, mut updated) = mpsc::unbounded_channel();
    let client = Listener { updated: updates }.serve(TokioChildProcess::new(command).unwrap()).await.unwrap();
    exercise(&client, &mut updated, &repo).await;
    client.cancel().await.unwrap();
}

/// A served app on a loopback socket, following `repo`'s files and `fake`'s status.
async fn served(repo: &Repo, fake: &FakeApi) -> (AppState, std::net::SocketAddr, fluxgraph::watch::Watching) {
    let state = AppState::new(Options { public_url: Some(PUBLIC.into()), ..Options::default() });
    let watching = fluxgraph::watch::spawn(repo.root.clone(), None, fluxgraph::load::ReadOptions::default(), state.clone()).unwrap();
    state.enable_status();
    let sink = state.clone();
    tokio::spawn(fluxgraph::status_watch::watch(fake.api(fluxgraph::kube_api::Limits::default()), std::sync::Arc::new(move |event| sink.status_event(event))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(fluxgraph::server::serve_on(listener, state.clone(), std::future::pending()));
    (state, address, watching)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_git), ignore = "needs git, which builds the repository the diff tool reads")]
async fn an_sdk_client_over_http_asks_every_tool_and_follows_the_files() {
    let repo = Repo::new();
    let fake = fake_cluster(&repo.root).await;
    let (_state, address, _watching) = served(&repo, &fake).await;
    let (updates, mut updated) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_uri(format!("http://{address}/mcp"));
    let client = Listener { updated: updates }.serve(transport).await.unwrap();
    exercise(&client, &mut updated, &repo).await;
    client.cancel().await.unwrap();
}

/// A client of protocol 2026-07-28 (no `initialize`; `subscriptions/listen`) hears of each new
/// snapshot too. In process, over a pipe: the protocol is the same whatever carries it.
#[tokio::test]
async fn a_client_of_the_newest_protocol_listens_for_new_snapshots() {
    use rmcp::ClientServiceExt;
    use rmcp::model::{ProtocolVersion, ServerNotification, SubscriptionFilter};
    let state = crate::server::example();
    let (server_side, client_side) = tokio::io::duplex(1 << 20);
    let served = state.clone();
    tokio::spawn(async move {
        let running = fluxgraph::server::mcp::Fluxgraph::new(served).serve(server_side).await.unwrap();
        let _ = running.waiting().await;
    });
    let lifecycle = rmcp::ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
    let client = ().serve_with_lifecycle(client_side, lifecycle).await.unwrap();
    let clusters = client.call_tool(CallToolRequestParams::new("clusters")).await.unwrap();
    assert!(text(&clusters).contains("rpi-cluster"), "{}", text(&clusters));
    let mut subscription = client.listen(SubscriptionFilter::builder().resource_subscription(CLUSTER).build()).await.unwrap();
    assert_eq!(subscription.acknowledged().resource_subscriptions, Some(vec![CLUSTER.to_string()]));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster");
    // The listener starts just after the acknowledgment: snapshots go on coming until one is heard.
    let heard = async {
        loop {
            state.publish(fluxgraph::snapshot::Snapshot::read(&example, None).unwrap(), None, None);
            if let Ok(notification) = tokio::time::timeout(Duration::from_millis(500), subscription.next()).await {
                return notification.unwrap().expect("a notification");
            }
        }
    };
    let notification = tokio::time::timeout(Duration::from_secs(20), heard).await.expect("an update within 20 s");
    assert!(matches!(&notification, ServerNotification::ResourceUpdatedNotification(n) if n.params.uri == CLUSTER), "{notification:?}");
    client.cancel().await.unwrap();
}

/// `/mcp` takes POST, GET and DELETE, and a body only on POST and within its limit; other
/// web sites' pages are refused; every other route stays GET and HEAD without a body.
#[tokio::test]
async fn the_mcp_endpoint_keeps_the_server_limits() {
    let state = crate::server::example();
    let send = |method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>| {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request.body(Body::from(body)).unwrap();
        let state = state.clone();
        async move { app(state).oneshot(request).await.unwrap().status() }
    };
    let initialize = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#.to_vec();
    let json = [(header::CONTENT_TYPE.as_str(), "application/json"), (header::ACCEPT.as_str(), "application/json, text/event-stream"), (header::HOST.as_str(), "localhost:7420")];
    assert_eq!(send("POST", "/mcp", &json, initialize.clone()).await, StatusCode::OK);
    let from = |origin: &'static str| [json[0], json[1], json[2], (header::ORIGIN.as_str(), origin)];
    assert_eq!(send("POST", "/mcp", &from("http://localhost:7420"), initialize.clone()).await, StatusCode::OK);
    for foreign in ["http://evil.example", "null", "http://localhost.evil.example:7420"] {
        assert_eq!(send("POST", "/mcp", &from(foreign), initialize.clone()).await, StatusCode::FORBIDDEN, "{foreign}");
    }
    assert_eq!(send("POST", "/mcp", &[json[0], json[1], (header::HOST.as_str(), "evil.example")], initialize.clone()).await, StatusCode::MISDIRECTED_REQUEST);
    let large = vec![b' '; 300 * 1024];
    assert_eq!(send("POST", "/mcp", &json, large).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(send("PUT", "/mcp", &json, Vec::new()).await, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(send("DELETE", "/mcp", &[(header::CONTENT_LENGTH.as_str(), "1")], b"x".to_vec()).await, StatusCode::PAYLOAD_TOO_LARGE);
    // A declared length beyond the limit is refused before the body is read.
    assert_eq!(send("POST", "/mcp", &[json[0], json[1], json[2], (header::CONTENT_LENGTH.as_str(), "10000000")], Vec::new()).await, StatusCode::PAYLOAD_TOO_LARGE);
    // A bad message is rmcp's to answer, as JSON-RPC over HTTP: not a crash.
    assert!(send("POST", "/mcp", &json, b"{not json".to_vec()).await.is_client_error());
    for uri in ["/", "/api/graph", "/mcp/other"] {
        assert_eq!(send("POST", uri, &json, initialize.clone()).await, StatusCode::METHOD_NOT_ALLOWED, "{uri}");
    }
}

/// The Inspector's command line (`mcp-inspector --cli TARGET --method …`): its JSON output and
/// exit status (0 answered, 5 a tool error).
fn inspector(target: &[&str], method: &[&str]) -> (i32, Value, String) {
    let child = Command::new(env!("FLUXGRAPH_MCP_INSPECTOR_BIN"))
        .arg("--cli")
        .args(target)
        .args(["--method"])
        .args(method)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the MCP Inspector ({}): {e}; .ci/run installs it", env!("FLUXGRAPH_MCP_INSPECTOR_BIN")));
    // A call that hangs fails the test rather than holding CI: the child is killed by its id.
    let id = child.id();
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let output = match output.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("the MCP Inspector did not answer {method:?} within 60 s");
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // The answer is the first JSON document printed; a tool error adds a line of its own.
    let answer = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>().next().and_then(Result::ok).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), answer, format!("{stdout}\n{stderr}"))
}

/// `key=value` pairs for `--tool-arg`, from a case's JSON arguments.
fn tool_args(arguments: &Value) -> Vec<String> {
    arguments.as_object().unwrap().iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect()
}

fn inspect(target: &[&str]) {
    let (code, answer, out) = inspector(target, &["initialize"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(answer["serverInfo"]["name"], "fluxgraph", "{out}");
    let (code, answer, out) = inspector(target, &["tools/list"]);
    assert_eq!(code, 0, "{out}");
    let names: Vec<&str> = answer["tools"].as_array().unwrap_or_else(|| panic!("{out}")).iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, TOOLS);
    for case in cases() {
        let call = |arguments: &Value| {
            let mut method = vec!["tools/call".to_string(), "--tool-name".into(), case.tool.into()];
            let args = tool_args(arguments);
            if !args.is_empty() {
                method.push("--tool-arg".into());
                method.extend(args);
            }
            let method: Vec<&str> = method.iter().map(String::as_str).collect();
            inspector(target, &method)
        };
        let (code, answer, out) = call(&case.good);
        assert_eq!(code, 0, "{}: {out}", case.tool);
        assert!(answer["content"][0]["text"].as_str().is_some_and(|t| t.contains(case.says)), "{}: {out}", case.tool);
        assert!(answer["structuredContent"].is_object(), "{}: {out}", case.tool);
        let (code, answer, out) = call(&case.bad);
        assert_ne!(code, 0, "{} {}: {out}", case.tool, case.bad);
        assert_eq!(answer["isError"], true, "{} {}: {out}", case.tool, case.bad);
        assert!(answer["content"][0]["text"].as_str().is_some_and(|t| t.contains(case.error)), "{} {}: {out}", case.tool, case.bad);
    }
    let (code, answer, out) = inspector(target, &["resources/read", "--uri", CLUSTER]);
    assert_eq!(code, 0, "{out}");
    assert!(answer["contents"][0]["text"].as_str().is_some_and(|t| t.contains("\"critical_path\"")), "{out}");
    let (code, answer, out) = inspector(target, &["prompts/get", "--prompt-name", "explain_not_ready", "--prompt-args", "id=linkding"]);
    assert_eq!(code, 0, "{out}");
    assert!(answer["messages"][0]["content"]["text"].as_str().is_some_and(|t| t.contains("Kustomization/flux-system/linkding")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(has_mcp_inspector, has_git)), ignore = "needs node and the MCP Inspector in target/mcp-inspector (.ci/run installs it; then touch build.rs), and git")]
async fn the_mcp_inspector_asks_every_tool_over_stdio_and_http() {
    let repo = Repo::new();
    let fake = fake_cluster(&repo.root).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.kubeconfig(dir.path());
    let (_state, address, _watching) = served(&repo, &fake).await;
    let root = repo.root.display().to_string();
    let url = format!("http://{address}/mcp");
    tokio::task::spawn_blocking(move || {
        // The Inspector gives the server it starts only the environment `-e` names.
        let kubeconfig = format!("KUBECONFIG={}", kubeconfig.display());
        let stdio = ["-e", kubeconfig.as_str(), env!("CARGO_BIN_EXE_fluxgraph"), "mcp", root.as_str(), "--kube-status", "--public-url", PUBLIC];
        inspect(&stdio);
        inspect(&[url.as_str()]);
    })
    .await
    .unwrap();
}
