//! Command line: `fluxgraph check`, `fluxgraph graph`, `fluxgraph build`, `fluxgraph diff`, `fluxgraph blocked`, `fluxgraph serve`, `fluxgraph mcp`. Parses arguments, builds a
//! snapshot, renders it, and turns the outcome into an exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Severity;
use crate::render;
use crate::snapshot::{ClusterView, Snapshot, UnknownCluster};

/// Why a command could not run (exit status 2), besides the library's own errors.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Build(#[from] render::build::SelectError),
    #[error("no cluster found in the repository")]
    NoClusterFound,
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    /// The async runtime could not start.
    #[error("{0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot watch {}: {source}", path.display())]
    Watch { path: PathBuf, source: notify::Error },
    #[error("cannot serve on {listen}: {source}")]
    Serve { listen: std::net::SocketAddr, source: std::io::Error },
}

#[derive(Parser, Debug)]
#[command(
    name = "fluxgraph",
    version,
    about = "See in what order Flux will reconcile a GitOps repository: levels, critical path, cycles.",
    long_about = "fluxgraph reads a Flux v2 GitOps repository from disk, finds its clusters' entry points, \
resolves every Kustomization's path as Flux would (kustomize, patches, postBuild substitution), \
and reports the reconciliation levels, the critical path, dependency cycles and everything that \
would block a component.\n\nExamples:\n  fluxgraph check .\n  fluxgraph graph . --format dot | dot -Tsvg > graph.svg",
    after_long_help = "Reference, in fluxgraph's source: docs/commands.md (every command and flag, the JSON contract), docs/web.md (the pages), docs/clusters.md (how entry points are found), docs/diagnostics.md (every code), docs/timing.md, docs/in-the-cluster.md, docs/mcp.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Report problems the way a compiler does; exit 0 when clean, 1 on errors, 2 when it could not run.
    #[command(after_help = "Examples:\n  fluxgraph check .\n  fluxgraph check ~/home-ops --format json | jq '.clusters[].diagnostics[], .diagnostics[] | select(.severity == \"error\")'\n  fluxgraph check . --entry kubernetes/main/flux/config/cluster.yaml")]
    Check {
        #[command(flatten)]
        input: Input,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Print the whole graph: JSON (the API contract), Graphviz DOT or Mermaid.
    #[command(after_help = "Examples:\n  fluxgraph graph . --format json\n  fluxgraph graph . --cluster staging --format dot | dot -Tsvg > staging.svg\n  fluxgraph graph . --format mermaid >> README.md")]
    Graph {
        #[command(flatten)]
        input: Input,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Json)]
        format: GraphFormat,
    },
    /// Compare the graph of two revisions: what a change does to the order of reconciliation.
    /// Exit 0 when the head brings no new error, 1 when it does, 2 when it could not run.
    #[command(after_help = "Examples:\n  fluxgraph diff .\n  fluxgraph diff . --base origin/main --format markdown --public-url https://fluxgraph.example.com\n  fluxgraph diff ~/home-ops --base v1.2.0 --head v1.3.0 --format json\n\n--base defaults to the merge base of the head with the default branch (origin/HEAD, origin/main, origin/master, main or master), or to HEAD when the work tree differs from it; --head to the work tree. Revisions are read from git's object database: nothing is checked out.")]
    Diff(DiffArgs),
    /// What is stuck in the cluster, and why: the root blockers of everything not Ready, read
    /// live from the current kubeconfig context; exit 1 when something is blocked.
    #[command(after_help = "Examples:\n  fluxgraph blocked .\n  fluxgraph blocked ~/home-ops --context home --format json | jq '.root_blockers[] | {id, reason, waiting}'\n\nA root blocker is an object that is not Ready while everything it waits on (its dependsOn targets, the Kustomization that applies it, its source) is. Exit status: 0 nothing blocked (objects merely progressing do not count), 1 something blocked, 2 could not run.")]
    Blocked {
        #[command(flatten)]
        input: Input,
        /// The kubeconfig context to read (default: the current one, or the pod's service account).
        #[arg(long, value_name = "NAME")]
        context: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        /// Seconds the whole reading of the cluster may take; beyond, exit 2 saying so.
        #[arg(long, default_value_t = 30, value_name = "SECONDS")]
        timeout: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Print what Flux Kustomizations apply, as kustomize-controller builds them: the parent's
    /// patches and postBuild already in, Secret values redacted. Exit 0 when every build
    /// shown succeeds, 1 when one fails, 2 when the Kustomization or the path does not exist.
    #[command(after_help = "Examples:\n  fluxgraph build . linkding\n  fluxgraph build ~/home-ops Kustomization/flux-system/cluster-apps --cluster main\n  fluxgraph build . --all --format json > builds.json\n\nIn YAML each object follows a `# from FILE:LINE` comment: the file and line of the document it was built from. Objects Flux leaves out of its apply (kustomize.toolkit.fluxcd.io/reconcile: disabled, kustomize.toolkit.fluxcd.io/ssa: Ignore) are not printed, nor the owner labels kustomize-controller adds when it applies.")]
    Build(BuildArgs),
    /// Serve the interactive views; the page follows the files as they change.
    #[command(after_help = "Examples:\n  fluxgraph serve .\n  fluxgraph serve ~/home-ops --listen 0.0.0.0:7420 --public-url https://fluxgraph.example.com --repo-url https://github.com/me/home-ops/blob/main\n  fluxgraph serve --flux-source flux-system/flux-system --listen 0.0.0.0:7420 --allowed-host fluxgraph.tools.svc.cluster.local\n\nRequests are answered only for localhost, 127.0.0.1 and [::1], the address they came in on, the --public-url host and every --allowed-host (others get 421, which keeps web pages from reading the server through a browser); /healthz and /readyz are always answered.")]
    Serve(ServeArgs),
    /// Answer the Model Context Protocol over stdin and stdout, for an assistant that starts
    /// fluxgraph itself; the answers follow the files as they change.
    #[command(after_help = "Examples:\n  fluxgraph mcp ~/home-ops\n  fluxgraph mcp ~/home-ops --kube-status --context home --public-url https://fluxgraph.example.com\n\nIn an assistant's MCP configuration: {\"mcpServers\": {\"fluxgraph\": {\"command\": \"fluxgraph\", \"args\": [\"mcp\", \"/path/to/home-ops\"]}}}. A running `fluxgraph serve` answers the same at /mcp (streamable HTTP). Logs go to stderr (FLUXGRAPH_LOG=info for more).")]
    Mcp(McpArgs),
}

/// How `mcp` runs.
#[derive(clap::Args, Debug)]
pub struct McpArgs {
    /// The repository's root folder.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The entry point, as for `check`.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub entry: Option<String>,
    /// Also read the cluster's live status (the `blocked` tool, each object's state), from the
    /// kubeconfig (--context) or, in a pod, its service account.
    #[arg(long)]
    pub kube_status: bool,
    /// The kubeconfig context for --kube-status (default: the current one).
    #[arg(long, value_name = "NAME", requires = "kube_status")]
    pub context: Option<String>,
    /// The URL of a fluxgraph server showing this repository (its base path included): every
    /// object in an answer links to its page there.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The forge URL of the repository's files, e.g. https://github.com/me/home-ops/blob/main;
    /// answers link file:line there.
    #[arg(long, value_name = "URL")]
    pub repo_url: Option<String>,
    #[command(flatten)]
    pub budget: BudgetArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How `serve` runs.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The repository's root folder (a link that is swapped, like git-sync's, is followed).
    pub path: Option<PathBuf>,
    /// The entry point, as for `check`.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub entry: Option<String>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:7420", value_name = "ADDRESS:PORT")]
    pub listen: std::net::SocketAddr,
    /// The public URL the app is reached at (for shared links), e.g. https://fluxgraph.example.com.
    /// Its host is answered.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Also answer requests for this host name (`name`, any port; `name:port`, that port),
    /// e.g. a Service's DNS name in a cluster; repeatable. Without it, only localhost, the
    /// address a request came in on and the --public-url host are answered.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// The forge URL of the repository's files, e.g. https://github.com/me/home-ops/blob/main;
    /// file:line references link there.
    #[arg(long, value_name = "URL")]
    pub repo_url: Option<String>,
    /// Serve under this path prefix, e.g. /fluxgraph.
    #[arg(long, default_value = "", value_name = "PATH")]
    pub base_path: String,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// In a cluster: show the artifact of this Flux GitRepository (NAMESPACE/NAME), read through
    /// the Kubernetes API and downloaded from source-controller, instead of PATH.
    #[arg(long, value_name = "NAMESPACE/NAME", conflicts_with = "path")]
    pub flux_source: Option<String>,
    /// Where unpacked artifacts go (--flux-source).
    #[arg(long, default_value = "/tmp/fluxgraph", value_name = "DIR")]
    pub artifact_dir: PathBuf,
    /// Seconds between looks at the GitRepository when its watch is down (--flux-source).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub poll_interval: u64,
    /// Show the cluster's live status on the graphs (colours, root blockers, /blocked), read
    /// from the kubeconfig (--context) or, in a pod, its service account. Always on with
    /// --flux-source.
    #[arg(long)]
    pub kube_status: bool,
    /// The kubeconfig context for --kube-status (default: the current one).
    #[arg(long, value_name = "NAME", requires = "kube_status")]
    pub context: Option<String>,
    #[command(flatten)]
    pub budget: BudgetArgs,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// How much of the Kubernetes API's answers is read at most.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ApiArgs {
    /// Bytes of one answer of the Kubernetes API read at most (a list, all its pages; a
    /// watch, one event); a larger one is an error.
    #[arg(long, default_value_t = crate::kube_api::MAX_BYTES, value_name = "BYTES")]
    pub max_api_bytes: usize,
}

impl ApiArgs {
    fn limits(self) -> crate::kube_api::Limits {
        crate::kube_api::Limits { max_bytes: self.max_api_bytes, ..crate::kube_api::Limits::default() }
    }
}

/// Which builds `build` prints, and how.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["id", "all"]))]
pub struct BuildArgs {
    #[command(flatten)]
    pub input: Input,
    /// The Kustomization: `Kustomization/NAMESPACE/NAME`, or its name when only one has it.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// Every Kustomization built from this repository, in every cluster (or --cluster's).
    #[arg(long)]
    pub all: bool,
    /// Output format: YAML documents, or JSON (the shape fluxsim.py --builds prints).
    #[arg(long, value_enum, default_value_t = BuildFormat::Yaml)]
    pub format: BuildFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildFormat {
    Yaml,
    Json,
}

/// What `diff` compares and how it reports.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The repository's root folder, in a git work tree.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The revision compared against (a branch, tag, commit, `HEAD~1`…).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// The revision under review; the work tree when not given.
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// The entry point, as for `check`, in both revisions.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub entry: Option<String>,
    /// Only this cluster, when the repository holds several.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Output format: text, a pull-request comment in Markdown, or JSON.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// The fluxgraph server's public URL: Markdown links each changed object to its view there.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Text,
    Markdown,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Input {
    /// The repository's root folder.
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// The entry point (a file of root Kustomizations, or a folder bootstrap syncs), relative
    /// to PATH; overrides the discovery of gotk-sync.yaml, FluxInstance and unapplied roots.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub entry: Option<String>,
    /// Only this cluster, when the repository holds several.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// How much of a repository is read at most; beyond, files are left out with a diagnostic.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct BudgetArgs {
    /// Bytes of YAML read from the repository at most.
    #[arg(long, default_value_t = crate::load::MAX_REPOSITORY_BYTES, value_name = "BYTES")]
    pub max_repository_bytes: u64,
    /// Files recorded from the repository at most.
    #[arg(long, default_value_t = crate::load::MAX_FILES, value_name = "COUNT")]
    pub max_files: usize,
}

impl BudgetArgs {
    fn options(self) -> crate::load::ReadOptions {
        crate::load::ReadOptions { max_bytes: self.max_repository_bytes, max_files: self.max_files }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Json,
    Dot,
    Mermaid,
}

/// Exit statuses of `check`.
const CLEAN: u8 = 0;
const ERRORS: u8 = 1;
const COULD_NOT_RUN: u8 = 2;

pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Check { input, format } => check(&input, format),
        Command::Graph { input, format } => graph(&input, format),
        Command::Blocked { input, context, format, timeout, api } => blocked(&input, context.as_deref(), format, std::time::Duration::from_secs(timeout), api),
        Command::Serve(args) => serve(args),
        Command::Mcp(args) => mcp(args),
        Command::Diff(args) => diff(&args),
        Command::Build(args) => build(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("fluxgraph: {message}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

fn load(input: &Input) -> crate::Result<Snapshot> {
    let entry = input.entry.as_deref().map(|e| entry_relative(&input.path, e));
    Snapshot::read_with(&input.path, entry.as_deref(), &input.budget.options())
}

/// `--entry` may be given relative to PATH, or as a path that lies inside PATH.
fn entry_relative(root: &Path, entry: &str) -> String {
    let as_given = Path::new(entry);
    if let (Ok(root), Ok(abs)) = (root.canonicalize(), as_given.canonicalize()) {
        if let Ok(rel) = abs.strip_prefix(&root) {
            return rel.to_string_lossy().into_owned();
        }
    }
    entry.to_string()
}

fn selected<'a>(snapshot: &'a Snapshot, cluster: Option<&str>) -> Result<Vec<&'a ClusterView>, UnknownCluster> {
    match cluster {
        Some(name) => snapshot.named(name).map(|c| vec![c]),
        None => Ok(snapshot.clusters.iter().collect()),
    }
}

fn check(input: &Input, format: CheckFormat) -> crate::Result<u8> {
    let snapshot = load(input)?;
    let views = selected(&snapshot, input.cluster.as_deref())?;
    let outside = input.cluster.is_none();
    let errors = views.iter().flat_map(|v| &v.analysis.diagnostics).chain(if outside { &snapshot.diagnostics[..] } else { &[] })
        .any(|d| d.severity == Severity::Error);
    let text = match format {
        CheckFormat::Text => render::text::report(&snapshot, &views, outside),
        CheckFormat::Json => render::json::render(&snapshot, input.cluster.as_deref())?,
    };
    print(&text)?;
    // The process ends now: freeing a large snapshot piece by piece would only delay it.
    std::mem::forget(snapshot);
    Ok(if errors { ERRORS } else { CLEAN })
}

fn graph(input: &Input, format: GraphFormat) -> crate::Result<u8> {
    let snapshot = load(input)?;
    let views = selected(&snapshot, input.cluster.as_deref())?;
    let text = match format {
        GraphFormat::Json => render::json::render(&snapshot, input.cluster.as_deref())?,
        GraphFormat::Dot => views.iter().map(|v| render::dot::render(v)).collect(),
        GraphFormat::Mermaid => {
            if views.len() > 1 {
                let names: Vec<&str> = views.iter().map(|v| v.cluster.name.as_str()).collect();
                eprintln!("fluxgraph: showing cluster {}; the others are {} (pick one with --cluster)", names[0], names[1..].join(", "));
            }
            views.first().map(|v| render::mermaid::render(v)).unwrap_or_default()
        }
    };
    print(&text)?;
    std::mem::forget(snapshot);
    Ok(CLEAN)
}

fn build(args: &BuildArgs) -> crate::Result<u8> {
    let snapshot = load(&args.input)?;
    let views = selected(&snapshot, args.input.cluster.as_deref())?;
    let chosen = render::build::select(&views, args.id.as_deref()).map_err(CliError::from)?;
    let text = match args.format {
        BuildFormat::Yaml => render::build::yaml(&chosen),
        BuildFormat::Json => render::build::json(&chosen),
    };
    print(&text)?;
    let failed = chosen.iter().any(|s| s.build.error.is_some());
    std::mem::forget(snapshot);
    Ok(if failed { ERRORS } else { CLEAN })
}

fn diff(args: &DiffArgs) -> crate::Result<u8> {
    use crate::diff;
    let entry = args.entry.as_deref().map(|e| entry_relative(&args.path, e));
    let options = args.budget.options();
    let work_tree = || Snapshot::read_with(&args.path, entry.as_deref(), &options).map(std::sync::Arc::new);
    let sides = diff::sides::read(&args.path, args.base.as_deref(), args.head.as_deref(), entry.as_deref(), options, work_tree)?;
    let report = diff::compare(&sides.base, &sides.head, (sides.base_side.clone(), sides.head_side.clone()), args.cluster.as_deref())?;
    let text = match args.format {
        DiffFormat::Text => diff::render::text(&report),
        DiffFormat::Markdown => diff::render::markdown(&report, args.public_url.as_deref()),
        DiffFormat::Json => diff::render::json(&report),
    };
    print(&text)?;
    std::mem::forget(sides);
    Ok(if report.errors_introduced > 0 { ERRORS } else { CLEAN })
}

fn blocked(input: &Input, context: Option<&str>, format: CheckFormat, timeout: std::time::Duration, api: ApiArgs) -> crate::Result<u8> {
    let snapshot = load(input)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CliError::Runtime)?;
    // No one request, nor all of them, may take longer than --timeout.
    let limits = crate::kube_api::Limits { request_timeout: timeout, ..api.limits() };
    let store = runtime.block_on(async {
        let read = async {
            let client = crate::status_watch::client(context).await?;
            crate::status_watch::list_once(&crate::kube_api::Api::new(client, limits)).await
        };
        tokio::time::timeout(timeout, read)
            .await
            .unwrap_or_else(|_| Err(crate::status_watch::StatusError::Timeout(format!("the Kubernetes API did not answer within {} s (--timeout)", timeout.as_secs()))))
    })?;
    let view = match input.cluster.as_deref() {
        Some(name) => snapshot.named(name)?,
        None => crate::status::matching_cluster(&snapshot, &store).map(|i| &snapshot.clusters[i]).ok_or(CliError::NoClusterFound)?,
    };
    let report = crate::status::report::build(&snapshot, view, &store);
    let text = match format {
        CheckFormat::Text => report.text(),
        CheckFormat::Json => serde_json::to_string_pretty(&report).map_err(CliError::from)? + "\n",
    };
    print(&text)?;
    Ok(if report.blocked { ERRORS } else { CLEAN })
}

fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Output(e)),
    }
}

/// The folders of this machine whose absolute paths never appear in a response (relative
/// names do): `folders`, what they resolve to, and the working directory.
fn hidden_paths(folders: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut hidden: Vec<PathBuf> = folders.into_iter().map(|p| std::path::absolute(&p).unwrap_or(p)).collect();
    hidden.extend(hidden.clone().iter().filter_map(|p| p.canonicalize().ok()));
    hidden.extend(std::env::current_dir().ok());
    hidden
}

fn serve(args: ServeArgs) -> crate::Result<u8> {
    init_logging(args.log_format, "info");
    let base_path = normalize_base_path(&args.base_path);
    let hidden_paths = hidden_paths([args.artifact_dir.clone()].into_iter().chain(args.path.clone()).collect());
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let entry = args.entry.as_deref().map(|e| entry_relative(&root, e));
    let options = crate::server::Options {
        public_url: args.public_url,
        repo_url: args.repo_url,
        base_path,
        allowed_hosts: args.allowed_hosts,
        hidden_paths,
        limits: crate::server::Limits::default(),
        entry: entry.clone(),
        read: args.budget.options(),
    };
    let state = crate::server::AppState::new(options);
    let runtime = server_runtime()?;
    runtime.block_on(async move {
        // Keeps the file watcher alive for as long as the server runs.
        let mut _watching = None;
        if let Some(source) = &args.flux_source {
            let follow = crate::flux_source::Follow {
                source: crate::flux_source::SourceRef::parse(source)?,
                work_dir: args.artifact_dir.clone(),
                entry: args.entry.clone(),
                limits: crate::flux_source::Limits { read: args.budget.options(), ..crate::flux_source::Limits::default() },
                poll: std::time::Duration::from_secs(args.poll_interval.max(1)),
            };
            let client = kube::Client::try_default().await.map_err(crate::status_watch::StatusError::Client)?;
            let api = crate::kube_api::Api::new(client, args.api.limits());
            tokio::spawn(crate::flux_source::follow(api.clone(), follow, state.clone()));
            watch_status(api, &state);
        } else {
            _watching = Some(crate::watch::spawn(root.clone(), entry, args.budget.options(), state.clone()).map_err(|source| CliError::Watch { path: root.clone(), source })?);
            if args.kube_status {
                let client = crate::status_watch::client(args.context.as_deref()).await?;
                watch_status(crate::kube_api::Api::new(client, args.api.limits()), &state);
            }
        }
        crate::server::serve(state, args.listen, shutdown_signal()).await.map_err(|source| crate::Error::from(CliError::Serve { listen: args.listen, source }))
    })?;
    Ok(CLEAN)
}

/// The runtime `serve` and `mcp` answer on: its threads build and draw snapshots (the diff of two
/// revisions), which need [`crate::snapshot::THREAD_STACK`].
fn server_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread().thread_stack_size(crate::snapshot::THREAD_STACK).enable_all().build().map_err(CliError::Runtime)
}

/// Serves MCP over stdio from the repository at `args.path`, rebuilt as its files change.
fn mcp(args: McpArgs) -> crate::Result<u8> {
    // stdout carries the protocol: logs go to stderr, and only warnings unless asked.
    init_logging(LogFormat::Text, "warn");
    let entry = args.entry.as_deref().map(|e| entry_relative(&args.path, e));
    let options = crate::server::Options {
        public_url: args.public_url,
        repo_url: args.repo_url,
        hidden_paths: hidden_paths(vec![args.path.clone()]),
        entry: entry.clone(),
        read: args.budget.options(),
        ..crate::server::Options::default()
    };
    let state = crate::server::AppState::new(options);
    let runtime = server_runtime()?;
    runtime.block_on(async move {
        // Keeps the file watcher alive for as long as the session runs.
        let _watching = crate::watch::spawn(args.path.clone(), entry, args.budget.options(), state.clone()).map_err(|source| CliError::Watch { path: args.path.clone(), source })?;
        if args.kube_status {
            let client = crate::status_watch::client(args.context.as_deref()).await?;
            watch_status(crate::kube_api::Api::new(client, args.api.limits()), &state);
        }
        crate::server::mcp::serve_stdio(state).await.map_err(crate::Error::from)
    })?;
    // The watcher's thread and the status watch are not waited for.
    runtime.shutdown_background();
    Ok(CLEAN)
}

/// Feeds the cluster's live status to the server's pages.
fn watch_status(api: crate::kube_api::Api, state: &crate::server::AppState) {
    state.enable_status();
    let sink = state.clone();
    tokio::spawn(crate::status_watch::watch(api, std::sync::Arc::new(move |event| sink.status_event(event))));
}

/// `/fluxgraph/` → `/fluxgraph`; `/` → empty.
fn normalize_base_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() { String::new() } else { format!("/{trimmed}") }
}

/// Logs to stderr, at `default` unless FLUXGRAPH_LOG says otherwise.
fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLUXGRAPH_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Ctrl-C, or SIGTERM (what Kubernetes sends before stopping a pod).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
