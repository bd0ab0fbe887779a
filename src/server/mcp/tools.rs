//! The tool catalogue: each tool's name, description and argument schema as `tools/list`
//! gives them, and the call that reads its arguments and runs its answer. Arguments that do
//! not fit the schema are a tool error naming what is wrong, never a protocol error.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::answers::{self, Ctx, Reply};
use super::{McpError, args};
use crate::server::cache::Lane;

/// One tool: what `tools/list` says of it, and how a call is answered.
pub struct Spec {
    pub name: &'static str,
    title: &'static str,
    description: &'static str,
    schema: fn(Tool) -> Tool,
    call: fn(&Ctx<'_>, Value) -> Reply,
    /// Whether it reads the live cluster rather than the repository alone.
    live: bool,
    /// The server's lane its work is admitted through when it is heavy (a diff reads and
    /// resolves two revisions): it then queues with the diff pages, and is refused when they
    /// are full, as they are.
    pub lane: Option<Lane>,
}

/// Reads `arguments` as `T` and runs `answer` on them.
fn with<T: DeserializeOwned>(ctx: &Ctx<'_>, arguments: Value, answer: fn(&Ctx<'_>, &T) -> Reply) -> Reply {
    let arguments: T = serde_json::from_value(arguments).map_err(|e| McpError::Tool(format!("bad arguments: {e}")))?;
    answer(ctx, &arguments)
}

pub const TOOLS: &[Spec] = &[
    Spec {
        name: "clusters",
        title: "Clusters",
        description: "The clusters this repository holds (a cluster grows from one entry point), each with its size, levels, critical path, cycles and error counts; the first thing to call. Other tools take `cluster` to pick one (default: the one with the most Kustomizations).",
        schema: |t| t.with_input_schema::<args::None>(),
        call: |ctx, a| with(ctx, a, |ctx, _: &args::None| answers::clusters(ctx)),
        live: false,
        lane: None,
    },
    Spec {
        name: "object",
        title: "One Flux object",
        description: "One Flux object (Kustomization, HelmRelease, source…): its spec at a glance, file:line, reconciliation level and why, what it waits on and what waits on it, its diagnostics, and its live status when that is on.",
        schema: |t| t.with_input_schema::<args::Object>(),
        call: |ctx, a| with(ctx, a, answers::object),
        live: false,
        lane: None,
    },
    Spec {
        name: "why_level",
        title: "Why it is at its level",
        description: "The chain of prerequisites (dependsOn targets and the Kustomizations that apply it) that puts an object at its reconciliation level, root first.",
        schema: |t| t.with_input_schema::<args::Object>(),
        call: |ctx, a| with(ctx, a, answers::why_level),
        live: false,
        lane: None,
    },
    Spec {
        name: "critical_path",
        title: "Critical path",
        description: "The longest chain of prerequisites by hops, and the slowest by worst-case time (timeouts of Kustomizations that wait, HelmReleases, the 30 s dependency requeue), with the cold-start estimate and what dominates it.",
        schema: |t| t.with_input_schema::<args::Cluster>(),
        call: |ctx, a| with(ctx, a, answers::critical_path),
        live: false,
        lane: None,
    },
    Spec {
        name: "cycles",
        title: "Dependency cycles",
        description: "The dependency cycles (deadlocks: nothing on them, nor behind them, ever reconciles), each with the edge to cut and where it is written.",
        schema: |t| t.with_input_schema::<args::Cluster>(),
        call: |ctx, a| with(ctx, a, answers::cycles),
        live: false,
        lane: None,
    },
    Spec {
        name: "diagnostics",
        title: "Diagnostics",
        description: "Problems found in the repository (missing dependencies, cycles, paths not found, false-ready dependencies…), filtered by code, severity, object or file; paginated.",
        schema: |t| t.with_input_schema::<args::Diagnostics>(),
        call: |ctx, a| with(ctx, a, answers::diagnostics),
        live: false,
        lane: None,
    },
    Spec {
        name: "blast_radius",
        title: "Blast radius",
        description: "What reconciles anew when an object or a file (or folder) changes: the objects it touches, then everything downstream (what waits on them, what they apply); paginated.",
        schema: |t| t.with_input_schema::<args::BlastRadius>(),
        call: |ctx, a| with(ctx, a, answers::blast_radius),
        live: false,
        lane: None,
    },
    Spec {
        name: "build",
        title: "What a Kustomization applies",
        description: "What a Flux Kustomization applies, as kustomize-controller builds it (its parent's patches and postBuild in): each object with the file and line it came from and its manifest, Secret values and SOPS material redacted; paginated.",
        schema: |t| t.with_input_schema::<args::Build>(),
        call: |ctx, a| with(ctx, a, answers::build),
        live: false,
        lane: None,
    },
    Spec {
        name: "diff",
        title: "What a change does",
        description: "What a change does to the graph between two git revisions (default: the merge base with the default branch against the files served): objects and edges added, removed and changed, levels, critical path and cold start before and after, diagnostics introduced and resolved, blast radius. As `fluxgraph diff --format json`.",
        schema: |t| t.with_input_schema::<args::Diff>(),
        call: |ctx, a| with(ctx, a, answers::diff),
        live: false,
        lane: Some(Lane::Diffs),
    },
    Spec {
        name: "blocked",
        title: "What blocks the cluster",
        description: "From the live cluster (when fluxgraph runs with --kube-status): the root blockers of everything not Ready, with their reason, how many objects wait behind each and the chain from each.",
        schema: |t| t.with_input_schema::<args::Cluster>(),
        call: |ctx, a| with(ctx, a, answers::blocked),
        live: true,
        lane: None,
    },
    Spec {
        name: "search",
        title: "Search",
        description: "Objects whose name is like the query, as the page's search box finds them (exact and prefix matches first, then typos); paginated.",
        schema: |t| t.with_input_schema::<args::Search>(),
        call: |ctx, a| with(ctx, a, answers::search),
        live: false,
        lane: None,
    },
];

/// Every tool as `tools/list` gives it: all read-only and idempotent over the snapshot.
pub fn list() -> Vec<Tool> {
    TOOLS
        .iter()
        .map(|spec| {
            let annotations = ToolAnnotations::with_title(spec.title).read_only(true).destructive(false).idempotent(true).open_world(spec.live);
            (spec.schema)(Tool::new(spec.name, spec.description, Arc::new(JsonObject::new()))).with_title(spec.title).with_annotations(annotations)
        })
        .collect()
}

/// The tool named `name`.
pub fn spec(name: &str) -> Option<&'static Spec> {
    TOOLS.iter().find(|t| t.name == name)
}

/// Runs tool `name` with `arguments` (an absent object is taken as `{}`).
pub fn call(ctx: &Ctx<'_>, name: &str, arguments: Option<JsonObject>) -> Reply {
    let Some(spec) = spec(name) else {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        return Err(McpError::Tool(format!("no tool {name:?}; the tools are {}", names.join(", "))));
    };
    (spec.call)(ctx, Value::Object(arguments.unwrap_or_default()))
}
