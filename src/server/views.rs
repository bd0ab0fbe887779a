//! What each page shows, computed from the snapshot: pure functions from a cluster and the
//! reader's view state (the query string) to the data the templates print and the drawings
//! the SVG renderer lays out.

use std::collections::{BTreeMap, BTreeSet};

use crate::analysis::closure::{Direction, closure};
use crate::analysis::prerequisites::Wait;
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::EdgeKind;
use crate::layout;
use crate::load::parent_dir;
use crate::model::link::encode_path;
pub use crate::model::link::encode;
use crate::model::{FluxObject, Kind, ObjectId, Spec};
use crate::render::drawing::{Members, Partition, collapse};
use crate::render::svg::{DrawEdge, DrawId, DrawNode, Drawing, EdgeFlag, EdgeFlags, Mark, NodeFlag, NodeFlags, NodeKind};
use crate::snapshot::ClusterView;

/// The view state every graph page reads from its query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewState {
    pub edges: BTreeSet<EdgeKind>,
    /// Kinds shown besides Kustomizations.
    pub helm_releases: bool,
    pub sources: bool,
    pub direction: layout::Direction,
    /// Each component's stages folded into one box.
    pub fold: bool,
    /// Hops around the focused object (object pages); `None`: all.
    pub depth: Option<usize>,
}

impl Default for ViewState {
    fn default() -> Self {
        ViewState {
            edges: BTreeSet::from([EdgeKind::DependsOn, EdgeKind::Applies]),
            helm_releases: false,
            sources: false,
            direction: layout::Direction::LeftToRight,
            fold: false,
            depth: Some(2),
        }
    }
}

/// The component a Kustomization belongs to in the seed's sense: the folder of its `ks.yaml`.
pub fn component_of(object: &FluxObject) -> Option<&str> {
    let name = object.file.rsplit('/').next()?;
    (object.id.kind == Kind::Kustomization && (name == "ks.yaml" || name == "ks.yml")).then(|| parent_dir(&object.file))
}

/// The object page's link for an id ([`ObjectId::path`]).
pub fn object_path(id: &ObjectId) -> String {
    id.path()
}

/// `key=value&…` of `params`, in key order, each part percent-encoded.
pub fn query_string(params: &std::collections::BTreeMap<String, String>) -> String {
    params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Which objects a graph shows, under the view state.
pub fn shown(view: &ClusterView, state: &ViewState, id: &ObjectId) -> bool {
    let kind_shown = match id.kind {
        // A ResourceSet applies what it generates, as a Kustomization does.
        Kind::Kustomization | Kind::ResourceSet => true,
        Kind::HelmRelease => state.helm_releases,
        k if k.is_source() => state.sources,
        _ => false,
    };
    kind_shown && view.cluster.objects.contains_key(id)
}

/// A drawing of `ids` (and the edges between them the view state shows), one column per
/// level; objects on or behind a cycle go in a last column of their own.
pub fn drawing(view: &ClusterView, ids: &BTreeSet<ObjectId>, state: &ViewState, base: &str, query: &str, decorate: &dyn Fn(&ObjectId, &mut DrawNode)) -> Drawing {
    let levels = &view.analysis.levels;
    let has_cycle = ids.iter().any(|id| levels.get(id).copied().flatten().is_none());
    // Columns are the levels present, renumbered so that no column is empty.
    let present: BTreeSet<usize> = ids.iter().filter_map(|id| levels.get(id).copied().flatten()).map(|l| l as usize).collect();
    let column: BTreeMap<usize, usize> = present.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let cycle_column = column.len();
    let mut layer_titles: Vec<String> = present.iter().map(|l| format!("level {l}")).collect();
    if has_cycle {
        layer_titles.push("never (cycle)".into());
    }
    let diagnostics = diagnostics_by_object(view);
    let critical: BTreeSet<&ObjectId> = view.analysis.critical_path.nodes.iter().collect();
    // Only an edge between consecutive members is a step of the path: two members further apart
    // may be joined too (an `applies` fan), and lighting that up would hide the chain.
    let critical_steps: BTreeSet<(&ObjectId, &ObjectId)> =
        view.analysis.critical_path.nodes.windows(2).map(|w| (std::cmp::min(&w[0], &w[1]), std::cmp::max(&w[0], &w[1]))).collect();
    let on_cycle: BTreeSet<&ObjectId> = view.analysis.cycles.iter().flat_map(|c| &c.members).collect();
    let mut index = BTreeMap::new();
    let mut nodes = Vec::new();
    for id in ids {
        let object = &view.cluster.objects[id];
        let level = levels.get(id).copied().flatten();
        let (errors, warnings) = diagnostics.get(id).copied().unwrap_or((0, 0));
        let mut marks = Vec::new();
        if let Some(k) = object.kustomization() {
            if k.waits() {
                marks.push(Mark::Wait);
            }
        }
        if object.suspended() {
            marks.push(Mark::Suspended);
        }
        if view.cluster.external.contains_key(id) {
            marks.push(Mark::External);
        }
        // Without a level: on a cycle, or waiting behind one (blocked, not itself a member).
        if on_cycle.contains(id) {
            marks.push(Mark::Cycle);
        } else if level.is_none() {
            marks.push(Mark::Blocked);
        }
        if errors > 0 {
            marks.push(Mark::Errors(errors));
        }
        if warnings > 0 {
            marks.push(Mark::Warnings(warnings));
        }
        let mut flags = NodeFlags::default();
        if critical.contains(id) {
            flags.insert(NodeFlag::Critical);
        }
        if on_cycle.contains(id) {
            flags.insert(NodeFlag::Cycle);
        } else if level.is_none() {
            flags.insert(NodeFlag::Blocked);
        }
        if errors > 0 {
            flags.insert(NodeFlag::Error);
        } else if warnings > 0 {
            flags.insert(NodeFlag::Warning);
        }
        let mut node = DrawNode {
            id: DrawId::Object(id.clone()),
            kind: NodeKind::of(id.kind),
            flags,
            title: id.name.clone(),
            subtitle: format!("{} · {}", id.kind, id.namespace),
            layer: level.map_or(cycle_column, |l| column[&(l as usize)]),
            href: format!("{base}{}{query}", id.path()),
            marks,
            tooltip: tooltip(object, level, on_cycle.contains(id)),
        };
        decorate(id, &mut node);
        index.insert(id.clone(), nodes.len());
        nodes.push(node);
    }
    let mut edges = Vec::new();
    for (from, to, kind) in view.graph.edges() {
        if from == to || !state.edges.contains(&kind) {
            continue;
        }
        if let (Some(&a), Some(&b)) = (index.get(from), index.get(to)) {
            let mut flags = EdgeFlags::default();
            if kind != EdgeKind::Source && critical_steps.contains(&(from.min(to), from.max(to))) {
                flags.insert(EdgeFlag::Critical);
            }
            edges.push(DrawEdge { from: a, to: b, kind, flags, label: String::new() });
        }
    }
    Drawing { nodes, edges, direction: state.direction, layer_titles }
}

fn tooltip(object: &FluxObject, level: Option<u32>, on_cycle: bool) -> String {
    let at = if object.file.is_empty() { "made by bootstrap".to_string() } else { format!("{}:{}", object.file, object.line) };
    let level = match level {
        Some(l) => format!("level {l}"),
        None if on_cycle => "never reconciles (on a cycle)".to_string(),
        None => "never reconciles (waits behind a cycle)".to_string(),
    };
    format!("{}\n{at}\n{level}", object.id)
}

/// (errors, warnings) per object.
pub fn diagnostics_by_object(view: &ClusterView) -> BTreeMap<ObjectId, (usize, usize)> {
    let mut out: BTreeMap<ObjectId, (usize, usize)> = BTreeMap::new();
    for d in &view.analysis.diagnostics {
        if let Some(id) = &d.object {
            let e = out.entry(id.clone()).or_default();
            match d.severity {
                Severity::Error => e.0 += 1,
                Severity::Warning => e.1 += 1,
                Severity::Info => {}
            }
        }
    }
    out
}

/// The overview: every object the view state shows, or each component folded into one box.
/// The critical path is always drawn whole, hidden kinds included, so that the boxes lit up are
/// as many as the header counts.
pub fn overview(view: &ClusterView, state: &ViewState, base: &str, query: &str) -> Drawing {
    let critical: BTreeSet<&ObjectId> = view.analysis.critical_path.nodes.iter().collect();
    let ids: BTreeSet<ObjectId> = view.cluster.objects.keys().filter(|id| shown(view, state, id) || critical.contains(id)).cloned().collect();
    let drawing = drawing(view, &ids, state, base, query, &|_, _| {});
    if state.fold { fold(view, drawing, base, query) } else { drawing }
}

/// Folds the stages of each component (the Kustomizations of one `ks.yaml` folder) into one
/// box, placed at its first stage's column; edges inside a component disappear.
fn fold(view: &ClusterView, drawing: Drawing, base: &str, query: &str) -> Drawing {
    let component_of_node: Vec<Option<&str>> =
        drawing.nodes.iter().map(|node| node.id.object().and_then(|id| view.cluster.objects.get(id)).and_then(component_of)).collect();
    let mut members: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in component_of_node.iter().enumerate() {
        if let Some(c) = c {
            members.entry(c).or_default().push(i);
        }
    }
    // Components of one stage stay as they are.
    members.retain(|_, stages| stages.len() > 1);
    let mut into = vec![None; drawing.nodes.len()];
    let mut boxes = Vec::new();
    for (c, stages) in &members {
        let s = Members::of(&drawing, stages);
        let mut marks = vec![Mark::Folded(stages.len())];
        if s.errors > 0 {
            marks.push(Mark::Errors(s.errors));
        }
        for &stage in stages {
            into[stage] = Some(boxes.len());
        }
        boxes.push(DrawNode {
            id: DrawId::Component(c.to_string()),
            kind: NodeKind::Kustomization,
            flags: stages.iter().fold(NodeFlags::default(), |all, &stage| all.union(drawing.nodes[stage].flags)),
            title: c.rsplit('/').next().unwrap_or(c).to_string(),
            subtitle: format!("{} stages · {}", stages.len(), parent_dir(c).rsplit('/').next().unwrap_or("")),
            layer: s.first,
            href: format!("{base}/component/{}{query}", encode_path(c)),
            marks,
            tooltip: format!("{c}\n{} stages, folded", stages.len()),
        });
    }
    collapse(drawing, Partition { into, boxes, in_place: true, bundle: false })
}

/// Everything within `depth` hops of `id` upstream and downstream, with the sources it reads.
pub fn neighbourhood(view: &ClusterView, id: &ObjectId, depth: Option<usize>, state: &ViewState) -> BTreeSet<ObjectId> {
    let Some(n) = view.graph.node(id) else { return BTreeSet::new() };
    let pre = &view.analysis.prerequisites;
    let mut ids: BTreeSet<ObjectId> = [Direction::Upstream, Direction::Downstream]
        .into_iter()
        .flat_map(|d| closure(pre, n.index(), d, depth))
        .map(|(i, _)| view.graph.id(petgraph::graph::NodeIndex::new(i)).clone())
        .collect();
    ids.insert(id.clone());
    if state.sources {
        let sources: Vec<ObjectId> = ids
            .iter()
            .filter_map(|i| view.cluster.objects.get(i))
            .flat_map(|o| o.source_refs().into_iter().map(|(k, r)| r.resolve(k, &o.id.namespace)).collect::<Vec<_>>())
            .collect();
        ids.extend(sources);
    }
    // The kinds the reader turned off are left out, the focused object itself excepted.
    ids.retain(|i| i == id || shown(view, state, i));
    ids
}

/// One step of "why it is at its level": the prerequisite that puts it there.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: ObjectId,
    pub level: Option<u32>,
    /// How the next step of the chain waits on this one: "dependsOn" or "applied by".
    pub why: &'static str,
}

/// The chain from a root to `id` through the prerequisite one level down at each step.
pub fn why_level(view: &ClusterView, id: &ObjectId) -> Vec<Step> {
    let levels = &view.analysis.levels;
    let pre = &view.analysis.prerequisites;
    let Some(mut n) = view.graph.node(id).map(|n| n.index()) else { return Vec::new() };
    let mut chain = Vec::new();
    let mut why = "";
    loop {
        let this = view.graph.id(petgraph::graph::NodeIndex::new(n)).clone();
        let level = levels.get(&this).copied().flatten();
        chain.push(Step { id: this, level, why });
        let Some(l) = level.filter(|&l| l > 0) else { break };
        let Some(&(p, wait)) = pre.waits_on[n]
            .iter()
            .filter(|(p, _)| levels.get(view.graph.id(petgraph::graph::NodeIndex::new(*p))).copied().flatten() == Some(l - 1))
            .min_by_key(|(p, w)| (*w != Wait::DependsOn, *p))
        else {
            break;
        };
        why = match wait {
            Wait::DependsOn => "dependsOn",
            Wait::Parent => "applied by",
        };
        n = p;
    }
    // Root first; each step's `why` says how the step after it waits on it.
    chain.reverse();
    chain
}

/// A labelled value of the spec-at-a-glance list.
#[derive(Debug, Clone)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
    /// A link for the value, when it names another object.
    pub href: Option<String>,
}

/// The spec fields that decide what the object applies and when it is ready.
pub fn spec_fields(view: &ClusterView, object: &FluxObject, base: &str) -> Vec<Field> {
    let mut out = Vec::new();
    let mut push = |label, value: String| out.push(Field { label, value, href: None });
    match &object.spec {
        Spec::Kustomization(k) => {
            push("path", k.path.as_ref().map_or("./ (source root)".into(), |p| p.value.clone()));
            if let Some(e) = view.cluster.external.get(&object.id) {
                push("source", format!("external: {e}"));
            }
            push("interval", k.interval.map_or("not set".into(), |d| d.to_string()));
            let timeout = match k.timeout {
                Some(t) => t.to_string(),
                None => format!("{} (not set: interval − 30 s, at least 30 s)", k.effective_timeout()),
            };
            push("timeout", timeout);
            if let Some(r) = k.retry_interval {
                push("retryInterval", r.to_string());
            }
            push("wait", if k.wait { "true".into() } else if k.health_checks > 0 { format!("false, {} healthChecks", k.health_checks) } else { "false: Ready once applied".into() });
            push("prune", k.prune.to_string());
            if k.suspend {
                push("suspend", "true: never reconciles until resumed".into());
            }
            if let Some(t) = &k.target_namespace {
                push("targetNamespace", t.clone());
            }
            push("decryption", k.decryption.clone().unwrap_or_else(|| "none".into()));
            if let Some(pb) = &k.post_build {
                let mut parts: Vec<String> = pb.substitute.iter().map(|(k, _)| k.clone()).collect();
                parts.extend(pb.substitute_from.iter().map(|s| format!("{} {}{}", s.kind, s.name, if s.optional { " (optional)" } else { "" })));
                push("postBuild", parts.join(", "));
            }
            if !k.components.is_empty() {
                push("components", k.components.join(", "));
            }
        }
        Spec::HelmRelease(h) => {
            push("chart", format!("{}{}", h.chart.clone().unwrap_or_else(|| "(chartRef)".into()), h.version.as_ref().map_or(String::new(), |v| format!(" {v}"))));
            push("interval", h.interval.map_or("not set".into(), |d| d.to_string()));
            push("timeout", h.timeout.map_or(format!("{} (default)", h.effective_timeout()), |t| t.to_string()));
            if let Some(t) = &h.target_namespace {
                push("targetNamespace", t.clone());
            }
            if h.suspend {
                push("suspend", "true".into());
            }
        }
        Spec::Source(s) => {
            if let Some(u) = &s.url {
                push("url", u.clone());
            }
            if let Some(r) = &s.reference {
                push("ref", r.clone());
            }
            if let Some(i) = s.interval {
                push("interval", i.to_string());
            }
            if object.implied {
                push("created by", "flux bootstrap (not in the repository)".into());
            }
        }
        Spec::ResourceSet(r) => {
            push("wait", if r.wait { format!("true (reconcileTimeout {})", r.timeout) } else { "false: Ready once applied".into() });
            if r.disabled {
                push("reconcile", "disabled: never reconciles".into());
            }
            let generated = view.cluster.inventory.get(&object.id).map_or(0, Vec::len);
            push("generates", format!("{generated} object{}", if generated == 1 { "" } else { "s" }));
        }
        Spec::Other => {}
    }
    for (kind, r) in object.source_refs() {
        let id = r.resolve(kind, &object.id.namespace);
        let href = view.cluster.objects.contains_key(&id).then(|| format!("{base}{}", id.path()));
        out.push(Field { label: "sourceRef", value: id.to_string(), href });
    }
    out
}

/// Where an object's worst case comes from.
pub fn worst_case_reason(view: &ClusterView, id: &ObjectId) -> String {
    let Some(object) = view.cluster.objects.get(id) else { return String::new() };
    match &object.spec {
        Spec::Kustomization(k) if k.waits() => {
            let timeout = match k.timeout {
                Some(t) => format!("its timeout {t}"),
                None => format!("no timeout set: interval − 30 s = {}", k.effective_timeout()),
            };
            let retry = k.retry_interval.map_or(String::new(), |r| format!("; on failure retried every {r}"));
            format!("waits for what it applies, up to {timeout}{retry}")
        }
        Spec::Kustomization(_) => "Ready once applied (no wait, no healthChecks)".into(),
        Spec::HelmRelease(h) => match h.timeout {
            Some(t) => format!("helm waits up to its timeout {t}"),
            None => format!("helm waits up to the default timeout {}", h.effective_timeout()),
        },
        Spec::ResourceSet(r) if r.wait => format!("waits up to its reconcileTimeout {}", r.timeout),
        _ => "Ready once fetched".into(),
    }
}

/// What the cycles page and the MCP `cycles` tool say about one cycle: the loop by name, the
/// edge to cut, how, and where that edge is written.
#[derive(Debug, Clone)]
pub struct CycleAdvice {
    /// `a → b → a`, by name.
    pub path: String,
    pub cut: (ObjectId, ObjectId),
    /// "move the object out of its parent's path" or "drop this dependsOn entry".
    pub remedy: &'static str,
    /// `FILE:LINE` of the dependsOn entry to remove, when it is written in the repository.
    pub location: Option<String>,
}

pub fn cycle_advice(view: &ClusterView, cycle: &crate::analysis::Cycle) -> CycleAdvice {
    let mut names: Vec<String> = cycle.members.iter().map(|m| m.name.clone()).collect();
    names.push(cycle.members[0].name.clone());
    let (from, to) = &cycle.cut;
    let parent = cycle.edges.iter().any(|e| &e.0 == from && &e.1 == to && e.2 == Wait::Parent);
    CycleAdvice {
        path: names.join(" → "),
        cut: cycle.cut.clone(),
        remedy: if parent { "move the object out of its parent's path" } else { "drop this dependsOn entry" },
        location: crate::analysis::lints::cut_location(&view.cluster, from, to),
    }
}

/// Which diagnostics a reader asks for (the diagnostics page's toggles, the MCP tool's
/// arguments): every field given must match.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiagnosticFilter<'a> {
    /// `error`, `warning` or `info`.
    pub severity: Option<&'a str>,
    pub code: Option<&'a str>,
    /// The object's whole id, or its name.
    pub object: Option<&'a str>,
    /// A file, or a folder holding it.
    pub file: Option<&'a str>,
}

impl DiagnosticFilter<'_> {
    pub fn matches(&self, d: &Diagnostic) -> bool {
        let object = |o: &str| d.object.as_ref().is_some_and(|id| id.name == o || id.to_string() == o);
        let file = |f: &str| {
            let f = f.trim_matches('/');
            d.file == f || d.file.strip_prefix(f).is_some_and(|rest| rest.starts_with('/'))
        };
        self.severity.is_none_or(|s| d.severity.as_str() == s) && self.code.is_none_or(|c| d.code.as_str() == c) && self.object.is_none_or(object) && self.file.is_none_or(file)
    }
}

/// Diagnostics about one object.
pub fn diagnostics_of<'a>(view: &'a ClusterView, id: &ObjectId) -> Vec<&'a Diagnostic> {
    view.analysis.diagnostics.iter().filter(|d| d.object.as_ref() == Some(id)).collect()
}

/// A component's stages in order of level, then name.
pub fn stages<'a>(view: &'a ClusterView, component: &str) -> Vec<&'a FluxObject> {
    let mut stages: Vec<&FluxObject> = view.cluster.objects.values().filter(|o| component_of(o) == Some(component)).collect();
    stages.sort_by_key(|o| (view.analysis.levels.get(&o.id).copied().flatten().unwrap_or(u32::MAX), o.id.name.clone()));
    stages
}

/// Every component folder of a cluster.
pub fn components(view: &ClusterView) -> BTreeSet<&str> {
    view.cluster.objects.values().filter_map(component_of).collect()
}
