//! The Model Context Protocol: the snapshot served, asked from an assistant. `fluxgraph mcp`
//! answers over stdio (with the same file watcher and live status as `serve`), and `serve`
//! answers at `/mcp` (streamable HTTP, `server::mcp_route`); both run this handler over an
//! [`AppState`], so every call reads the snapshot the watcher last swapped in.
//!
//! It gives tools ([`tools`]: what each answers is a pure function in [`answers`]), one
//! resource per cluster (`fluxgraph://cluster/NAME`, the document `fluxgraph graph --format
//! json --cluster NAME` prints), and a prompt that asks why an object is not ready. A client
//! that subscribed to a cluster's resource (`resources/subscribe`, or `subscriptions/listen`
//! from protocol 2026-07-28 on) hears `notifications/resources/updated` with each new
//! snapshot. Everything is read-only: nothing a client sends reaches the file system but the
//! git revisions the `diff` tool reads.

pub mod answers;
pub mod args;
pub mod tools;
pub mod http;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams, Role,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, ServiceExt};

use crate::server::cache::Lane;
use crate::server::{AppState, Current};
use answers::Ctx;

/// Why a request of the session fails: a tool's error is told to the assistant as the
/// tool's result, the others as the protocol's errors.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("fluxgraph cannot read the repository: {0}")]
    Unreadable(String),
    #[error("fluxgraph is shutting down")]
    ShuttingDown,
    #[error("fluxgraph is still reading the repository; try again in a moment")]
    StillReading,
    #[error("the answer could not be computed: {0}")]
    Task(tokio::task::JoinError),
    #[error("the answer could not be computed")]
    Panicked,
    /// The lane the tool's work goes through is full (as the diff page answers 503).
    #[error("fluxgraph is busy with other comparisons; try again in a moment")]
    Busy,
    #[error("the MCP session did not start: {0}")]
    Start(String),
    #[error("the MCP session ended: {0}")]
    Ended(String),
    /// A request names a cluster the snapshot does not have, or it has none.
    #[error(transparent)]
    Cluster(#[from] crate::snapshot::NoCluster),
    /// A comparison that cannot be made.
    #[error(transparent)]
    Server(#[from] crate::server::Problem),
    #[error(transparent)]
    Build(#[from] crate::render::build::SelectError),
    /// A tool's arguments name nothing it can answer about, told with what they could name.
    #[error("{0}")]
    Tool(String),
}

/// How long a call waits for the first snapshot while the repository is being read.
const FIRST_SNAPSHOT: Duration = Duration::from_secs(60);

/// How long a call waits for the live status's first listing, when the status is on.
const FIRST_STATUS: Duration = Duration::from_secs(10);

/// The resource of a cluster's JSON document.
const CLUSTER_URI: &str = "fluxgraph://cluster/";

/// The prompt that asks why an object is not ready.
const EXPLAIN: &str = "explain_not_ready";

const INSTRUCTIONS: &str = "fluxgraph knows the dependency graph of a Flux GitOps repository: in what order Flux reconciles it (levels), \
the critical path, dependency cycles, diagnostics, what each Kustomization applies, what a change does, and (with --kube-status) what blocks the live cluster. \
Objects are named Kind/namespace/name (e.g. Kustomization/flux-system/linkding) or by name alone. Start with `clusters`; \
`search` finds an object by an approximate name; long lists come in pages (pass back next_cursor).";

/// One client's MCP server over the shared [`AppState`]. Cheap to clone: the HTTP transport
/// makes one per session.
#[derive(Clone)]
pub struct Fluxgraph {
    state: AppState,
    /// The resources this client subscribed to with `resources/subscribe`.
    subscribed: Arc<Mutex<BTreeSet<String>>>,
    /// Set once the task that tells the client of new snapshots runs.
    notifying: Arc<OnceLock<()>>,
}

impl Fluxgraph {
    pub fn new(state: AppState) -> Fluxgraph {
        Fluxgraph { state, subscribed: Arc::default(), notifying: Arc::default() }
    }

    /// The snapshot to answer from, waiting a little for the first one.
    async fn current(&self) -> Result<Arc<Current>, McpError> {
        let mut updates = self.state.subscribe();
        let deadline = tokio::time::sleep(FIRST_SNAPSHOT);
        tokio::pin!(deadline);
        loop {
            if let Some(current) = self.state.current() {
                return Ok(current);
            }
            tokio::select! {
                update = updates.recv() => match update {
                    Ok(update) if !update.ok && update.version == 0 => return Err(McpError::Unreadable(update.message)),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Err(McpError::ShuttingDown),
                },
                () = &mut deadline => return Err(McpError::StillReading),
            }
        }
    }

    /// With the live status on, waits a little for its first listing of Kustomizations (or
    /// for the watch to say it is down), so that a session's first call does not report every
    /// object as not applied.
    async fn first_status(&self) {
        let live = self.state.live();
        let started = tokio::time::Instant::now();
        while live.enabled() && !live.lock().store.kinds().contains_key(&crate::model::Kind::Kustomization) && started.elapsed() < FIRST_STATUS {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `answer` on the current snapshot, off the async runtime (a diff reads git, a build
    /// list may be long).
    async fn answer<T: Send + 'static>(&self, answer: impl FnOnce(&Ctx<'_>) -> T + Send + 'static) -> Result<T, McpError> {
        self.answer_in(None, answer).await
    }

    /// [`Self::answer`], admitted through the server's `lane` when there is one: heavy work
    /// queues with the pages of its kind, and is refused when their queue is full.
    async fn answer_in<T: Send + 'static>(&self, lane: Option<Lane>, answer: impl FnOnce(&Ctx<'_>) -> T + Send + 'static) -> Result<T, McpError> {
        let current = self.current().await?;
        self.first_status().await;
        let state = self.state.clone();
        let work = move || answer(&Ctx { state: &state, current: &current });
        match lane {
            None => tokio::task::spawn_blocking(work).await.map_err(McpError::Task),
            Some(lane) => match self.state.pages().admit(lane, work).await {
                Ok(Some(answer)) => Ok(answer),
                Ok(None) => Err(McpError::Panicked),
                Err(_) => Err(McpError::Busy),
            },
        }
    }

    /// Tells the client of every new snapshot, for each resource it subscribed to, until it is
    /// gone or the server stops.
    fn notify_from_now_on(&self, peer: Peer<RoleServer>) {
        if self.notifying.set(()).is_err() {
            return;
        }
        let (state, subscribed) = (self.state.clone(), Arc::clone(&self.subscribed));
        tokio::spawn(async move {
            let closing = state.closing();
            let told = async {
                let mut snapshots = snapshots(&state);
                while snapshots.changed().await {
                    let uris: Vec<String> = subscribed.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
                    for uri in uris {
                        if peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri)).await.is_err() {
                            return;
                        }
                    }
                }
            };
            tokio::select! {
                () = told => {},
                () = closing => {},
            }
        });
    }
}

/// New snapshots as they are swapped in (a failed refresh keeps the snapshot: not one).
struct Snapshots {
    updates: tokio::sync::broadcast::Receiver<crate::server::Update>,
    version: u64,
}

fn snapshots(state: &AppState) -> Snapshots {
    let updates = state.subscribe();
    Snapshots { updates, version: state.current().map_or(0, |c| c.version) }
}

impl Snapshots {
    /// Waits for the next snapshot; false once the server is gone.
    async fn changed(&mut self) -> bool {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match self.updates.recv().await {
                Ok(update) if update.version > self.version => {
                    self.version = update.version;
                    return true;
                }
                Ok(_) => {}
                // Fell behind: a snapshot came, whichever it was.
                Err(RecvError::Lagged(_)) => return true,
                Err(RecvError::Closed) => return false,
            }
        }
    }
}

/// The cluster a `fluxgraph://cluster/NAME` URI names.
fn cluster_of(uri: &str) -> Option<&str> {
    uri.strip_prefix(CLUSTER_URI).filter(|name| !name.is_empty())
}

fn tool_result(reply: answers::Reply, current_failure: Option<String>) -> CallToolResult {
    match reply {
        Ok(answer) => {
            let text = match current_failure {
                Some(why) => format!("(The last refresh failed, so this is from the last good snapshot: {why})\n{}", answer.text),
                None => answer.text,
            };
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(answer.structured);
            result
        }
        Err(message) => CallToolResult::error(vec![ContentBlock::text(message.to_string())]),
    }
}

/// The prompt's text: the question, the facts fluxgraph has about the object, and where to
/// look further.
fn explain_prompt(ctx: &Ctx<'_>, id: &str, cluster: Option<&str>) -> Result<String, McpError> {
    let object = answers::object(ctx, &args::Object { id: id.to_string(), cluster: cluster.map(str::to_string) })?;
    let id = object.structured["id"].as_str().unwrap_or(id).to_string();
    let cluster = object.structured["cluster"].as_str().unwrap_or_default().to_string();
    let live = if ctx.state.live().enabled() {
        "The live status is on: call `blocked` for the cluster's root blockers, and read the object's `status` above."
    } else {
        "The live status is off (fluxgraph runs without --kube-status), so reason from the repository: what it waits on, cycles, diagnostics, suspended or false-ready dependencies."
    };
    Ok(format!(
        "Explain why {id} (cluster {cluster}) is not ready, for a platform engineer who will fix it. \
Name the root cause first (the object that is not Ready while everything it waits on is, or the repository problem that keeps it from reconciling), \
then the chain from it to {id}, then the fix, citing files and lines.\n\n\
What fluxgraph knows of it from the repository:\n{}\n{live} Use fluxgraph's tools to look further: `why_level` for the chain of prerequisites, \
`object` for anything it waits on, `diagnostics` with object={id}, `cycles`, and `build` for what a Kustomization applies.",
        object.text
    ))
}

impl ServerHandler for Fluxgraph {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder().enable_tools().enable_resources().enable_resources_subscribe().enable_prompts().build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("fluxgraph", env!("CARGO_PKG_VERSION")).with_title("fluxgraph: the order Flux reconciles a GitOps repository in"))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list()))
    }

    async fn call_tool(&self, request: CallToolRequestParams, _context: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
        let (name, arguments) = (request.name.to_string(), request.arguments);
        let lane = tools::spec(&name).and_then(|t| t.lane);
        let result = self
            .answer_in(lane, move |ctx| {
                let failure = ctx.current.failure.clone();
                tool_result(tools::call(ctx, &name, arguments), failure)
            })
            .await;
        Ok(result.unwrap_or_else(|why| CallToolResult::error(vec![ContentBlock::text(why.to_string())])).into())
    }

    async fn list_resources(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> Result<ListResourcesResult, ErrorData> {
        let current = self.current().await.map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let resources = current
            .snapshot
            .clusters
            .iter()
            .map(|v| {
                Resource::new(format!("{CLUSTER_URI}{}", v.cluster.name), v.cluster.name.clone())
                    .with_title(format!("Cluster {}: its graph", v.cluster.name))
                    .with_description(format!("The graph of cluster {} (entry {}): nodes, edges, levels, critical path, cycles and diagnostics, as `fluxgraph graph --format json --cluster {}` prints it.", v.cluster.name, v.cluster.entry, v.cluster.name))
                    .with_mime_type("application/json")
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> Result<ListResourceTemplatesResult, ErrorData> {
        let template = ResourceTemplate::new(format!("{CLUSTER_URI}{{name}}"), "cluster").with_title("A cluster's graph").with_mime_type("application/json");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(&self, request: ReadResourceRequestParams, _context: RequestContext<RoleServer>) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let Some(name) = cluster_of(&uri).map(str::to_string) else {
            return Err(ErrorData::resource_not_found(format!("no resource {uri:?}: fluxgraph's resources are {CLUSTER_URI}NAME, one per cluster"), None));
        };
        let document = self.answer(move |ctx| crate::render::json::render(&ctx.current.snapshot, Some(&name))).await.map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let document = document.map_err(|e| ErrorData::resource_not_found(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![ResourceContents::text(document, uri).with_mime_type("application/json")]).into())
    }

    #[allow(deprecated)] // the subscription of protocols before 2026-07-28, which clients still speak
    async fn subscribe(&self, request: SubscribeRequestParams, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        let current = self.current().await.map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let known = cluster_of(&request.uri).is_some_and(|name| current.snapshot.cluster(name).is_some());
        if !known {
            return Err(ErrorData::resource_not_found(format!("no resource {:?} to subscribe to; list them with resources/list", request.uri), None));
        }
        self.subscribed.lock().unwrap_or_else(|e| e.into_inner()).insert(request.uri);
        self.notify_from_now_on(context.peer);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(&self, request: UnsubscribeRequestParams, _context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        self.subscribed.lock().unwrap_or_else(|e| e.into_inner()).remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(requested.supported_by(&self.get_info().capabilities))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let uris = context.accepted().resource_subscriptions.clone().unwrap_or_default();
        let mut snapshots = snapshots(&self.state);
        let told = async {
            while snapshots.changed().await {
                for uri in &uris {
                    if context.sink().notify_resource_updated(uri.clone()).await.is_err() {
                        return;
                    }
                }
            }
        };
        tokio::select! {
            () = told => {},
            () = context.cancelled() => {},
            () = self.state.closing() => {},
        }
        Ok(())
    }

    async fn list_prompts(&self, _request: Option<PaginatedRequestParams>, _context: RequestContext<RoleServer>) -> Result<ListPromptsResult, ErrorData> {
        let arguments = vec![
            PromptArgument::new("id").with_description("The object: Kind/namespace/name, or its name").with_required(true),
            PromptArgument::new("cluster").with_description("The cluster's name (default: the one with the most Kustomizations)").with_required(false),
        ];
        let prompt = Prompt::new(EXPLAIN, Some("Explain why an object is not ready: its chain of prerequisites, what blocks it, and the fix"), Some(arguments)).with_title("Explain why X is not ready");
        Ok(ListPromptsResult::with_all_items(vec![prompt]))
    }

    async fn get_prompt(&self, request: GetPromptRequestParams, _context: RequestContext<RoleServer>) -> Result<GetPromptResponse, ErrorData> {
        if request.name != EXPLAIN {
            return Err(ErrorData::invalid_params(format!("no prompt {:?}; the prompt is {EXPLAIN}", request.name), None));
        }
        let arguments = request.arguments.unwrap_or_default();
        let text_argument = |key: &str| arguments.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let Some(id) = text_argument("id") else {
            return Err(ErrorData::invalid_params("the prompt needs id: the object, as Kind/namespace/name or its name", None));
        };
        let cluster = text_argument("cluster");
        let text = self.answer(move |ctx| explain_prompt(ctx, &id, cluster.as_deref())).await.map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let text = text.map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description("Why an object is not ready").into())
    }
}

/// Serves MCP over stdin and stdout until the client closes them.
pub async fn serve_stdio(state: AppState) -> Result<(), McpError> {
    let running = Fluxgraph::new(state).serve(rmcp::transport::stdio()).await.map_err(|e| McpError::Start(e.to_string()))?;
    running.waiting().await.map_err(|e| McpError::Ended(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::server::Options;
    use crate::server::cache::DIFF_QUEUE;
    use crate::snapshot::Snapshot;

    /// The diff tool reads and resolves two revisions: it waits its turn with the diff pages,
    /// and is refused at once when their queue is full, as the page is (503); the light tools
    /// never wait behind it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_diff_tool_is_admitted_with_the_diff_pages() {
        assert_eq!(tools::spec("diff").and_then(|t| t.lane), Some(Lane::Diffs));
        assert!(tools::spec("critical_path").is_some_and(|t| t.lane.is_none()));
        let state = AppState::new(Options::default());
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster");
        state.publish(Snapshot::read(&root, None).unwrap(), None, None);
        let server = Fluxgraph::new(state.clone());
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let release = Arc::new(std::sync::Barrier::new(cores + 1));
        let started = Arc::new(AtomicUsize::new(0));
        let mut held = Vec::new();
        for _ in 0..cores + DIFF_QUEUE {
            let (state, release, started) = (state.clone(), Arc::clone(&release), Arc::clone(&started));
            held.push(tokio::spawn(async move {
                state
                    .pages()
                    .admit(Lane::Diffs, move || {
                        if started.fetch_add(1, Ordering::SeqCst) < cores {
                            release.wait();
                        }
                    })
                    .await
            }));
        }
        while started.load(Ordering::SeqCst) < cores {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = server.answer_in(Some(Lane::Diffs), |_| ()).await;
        assert!(matches!(refused, Err(McpError::Busy)), "{refused:?}");
        assert!(McpError::Busy.to_string().contains("try again"));
        let light = tokio::time::timeout(Duration::from_secs(5), server.answer_in(None, |ctx| ctx.current.snapshot.clusters.len()));
        assert_eq!(light.await.ok().and_then(Result::ok), Some(1), "a light tool answers while every diff place is taken");
        tokio::task::spawn_blocking(move || release.wait()).await.unwrap();
        for h in held {
            assert!(h.await.unwrap().is_ok());
        }
        assert!(server.answer_in(Some(Lane::Diffs), |_| ()).await.is_ok(), "admitted again once the lane has room");
    }
}
