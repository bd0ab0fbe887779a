//! What each MCP tool answers: pure functions from the snapshot served (and the live status,
//! for `blocked`) and the tool's arguments to an [`Answer`] — structured content and a short
//! text a person can read — or the message of a tool error. They reuse what the pages show
//! (`server::views`, the search box, the diff and status reports) rather than derive it again.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::McpError;
use super::args::{self, Paging};
use crate::analysis::prerequisites::Wait;
use crate::model::link::encode;
use crate::model::{Kind, ObjectId};
use crate::server::views::{self, DiagnosticFilter};
use crate::server::{AppState, Current, pages};
use crate::snapshot::ClusterView;

/// A tool's result: the structured content (always a JSON object) and its text.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: String,
    pub structured: Value,
}

/// A tool's answer, or the message of its error for the assistant to read and act on.
pub type Reply = Result<Answer, McpError>;

/// Items listed by one page of a long list when the caller names no `limit`, and at most.
pub const PAGE: usize = 50;
pub const MAX_PAGE: usize = 200;

/// Objects listed whole in an `object` answer's upstream and downstream; beyond, counted.
const MAX_NEIGHBOURS: usize = 100;

/// What every answer reads: the server (its options, links, live status) and the snapshot.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub current: &'a Current,
}

impl Ctx<'_> {
    /// The cluster `name`, or the one the pages open on.
    pub fn view(&self, name: Option<&str>) -> Result<&ClusterView, McpError> {
        let snapshot = &self.current.snapshot;
        Ok(&snapshot.clusters[snapshot.cluster_index(name)?])
    }

    /// The web link of an app path, when the server's public URL is known (`--public-url`).
    fn link(&self, view: &ClusterView, path: &str) -> Option<String> {
        let options = self.state.options();
        let public = options.public_url.as_deref()?;
        let query = if self.current.snapshot.clusters.len() > 1 { format!("?cluster={}", encode(&view.cluster.name)) } else { String::new() };
        Some(format!("{}{}{path}{query}", public.trim_end_matches('/'), options.base_path))
    }

    /// The forge link of a file's line, when `--repo-url` is known.
    fn file_link(&self, file: &str, line: u32) -> Option<String> {
        let forge = self.state.options().repo_url.as_deref().filter(|_| !file.is_empty())?;
        Some(format!("{}/{file}#L{line}", forge.trim_end_matches('/')))
    }

    /// An object as every answer names it: its id, where it is written, its level and link.
    fn object(&self, view: &ClusterView, id: &ObjectId) -> Value {
        let object = view.cluster.objects.get(id);
        let mut out = json!({
            "id": id.to_string(),
            "kind": id.kind.as_str(),
            "namespace": id.namespace,
            "name": id.name,
            "level": level(view, id),
        });
        if let Some(o) = object.filter(|o| !o.file.is_empty()) {
            out["file"] = json!(o.file);
            out["line"] = json!(o.line);
        }
        if let Some(link) = self.link(view, &id.path()) {
            out["link"] = json!(link);
        }
        out
    }
}

fn level(view: &ClusterView, id: &ObjectId) -> Option<u32> {
    view.analysis.levels.get(id).copied().flatten()
}

fn level_text(view: &ClusterView, id: &ObjectId) -> String {
    match level(view, id) {
        Some(l) => format!("level {l}"),
        None if view.analysis.cycles.iter().any(|c| c.members.contains(id)) => "no level: on a dependency cycle, it never reconciles".into(),
        None => "no level: it waits behind a cycle and never reconciles".into(),
    }
}

fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The object `given` names: a whole id (`Kind/namespace/name`), or a name — the
/// Kustomization of that name when there is one, else the one object that has it. The error
/// names the nearest objects.
pub fn resolve(view: &ClusterView, given: &str) -> Result<ObjectId, McpError> {
    let given = given.trim();
    if let Some(id) = ObjectId::parse(given).filter(|id| view.cluster.objects.contains_key(id)) {
        return Ok(id);
    }
    if !given.contains('/') {
        let named: Vec<&ObjectId> = view.cluster.objects.keys().filter(|id| id.name == given).collect();
        let kustomizations: Vec<&ObjectId> = named.iter().copied().filter(|id| id.kind == Kind::Kustomization).collect();
        match (kustomizations.as_slice(), named.as_slice()) {
            ([one], _) | ([], [one]) => return Ok((*one).clone()),
            ([], []) => {}
            _ => {
                let ids: Vec<String> = named.iter().map(ToString::to_string).collect();
                return Err(McpError::Tool(format!("{given} names several objects in cluster {} ({}); give the whole id", view.cluster.name, ids.join(", "))));
            }
        }
    }
    let name = given.rsplit('/').next().unwrap_or(given);
    let near: Vec<String> = pages::search(view, name, 5).into_iter().map(ToString::to_string).collect();
    let hint = if near.is_empty() { "; the search tool finds objects by name".to_string() } else { format!("; did you mean {}?", near.join(", ")) };
    Err(McpError::Tool(format!("no object {given} in cluster {}{hint}", view.cluster.name)))
}

/// One page of `items` from `paging`'s cursor, and the cursor of the next page.
fn page<T: Clone>(items: &[T], paging: &Paging) -> Result<(Vec<T>, Option<String>), McpError> {
    let start = match paging.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse::<usize>().ok().filter(|&n| n <= items.len()).ok_or_else(|| McpError::Tool(format!("bad cursor {c:?}: pass back the next_cursor of the previous page")))?,
    };
    let limit = paging.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let end = (start + limit).min(items.len());
    Ok((items[start..end].to_vec(), (end < items.len()).then(|| end.to_string())))
}

/// "…and 3 more (next_cursor 50)" when a page is not the last.
fn more(total: usize, shown_to: usize, next: &Option<String>) -> String {
    match next {
        Some(cursor) => format!("…and {} more (call again with cursor {cursor:?})\n", total - shown_to),
        None => String::new(),
    }
}

fn offset(paging: &Paging) -> usize {
    paging.cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0)
}

pub fn clusters(ctx: &Ctx<'_>) -> Reply {
    let snapshot = &ctx.current.snapshot;
    let main = snapshot.main_cluster();
    let mut text = String::new();
    let list: Vec<Value> = snapshot
        .clusters
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let a = &v.analysis;
            let count = |s: crate::diagnostic::Severity| a.diagnostics.iter().filter(|d| d.severity == s).count();
            let of_kind = |k: Kind| v.cluster.objects.keys().filter(|id| id.kind == k).count();
            let (errors, warnings) = (count(crate::diagnostic::Severity::Error), count(crate::diagnostic::Severity::Warning));
            text.push_str(&format!(
                "{}{} ({}): {}, {} Kustomizations, {} levels, critical path {} hops, worst-case cold start {}, {}, {}, {}\n",
                v.cluster.name,
                if i == main { " (default)" } else { "" },
                v.cluster.entry,
                plural(v.cluster.objects.len(), "object"),
                of_kind(Kind::Kustomization),
                a.waves.len(),
                a.critical_path.nodes.len().saturating_sub(1),
                a.weighted_path.total,
                plural(a.cycles.len(), "cycle"),
                plural(errors, "error"),
                plural(warnings, "warning"),
            ));
            let mut c = json!({
                "name": v.cluster.name,
                "entry": v.cluster.entry,
                "default": i == main,
                "objects": v.cluster.objects.len(),
                "kustomizations": of_kind(Kind::Kustomization),
                "helm_releases": of_kind(Kind::HelmRelease),
                "levels": a.waves.len(),
                "critical_path_hops": a.critical_path.nodes.len().saturating_sub(1),
                "worst_case_seconds": a.weighted_path.total.as_secs(),
                "cold_start_seconds": a.cold_start.total.as_secs(),
                "cycles": a.cycles.len(),
                "errors": errors,
                "warnings": warnings,
                "resource": format!("fluxgraph://cluster/{}", v.cluster.name),
            });
            if let Some(link) = ctx.link(v, "/") {
                c["link"] = json!(link);
            }
            c
        })
        .collect();
    if list.is_empty() {
        text.push_str("no cluster was found in the repository\n");
    }
    let outside = snapshot.diagnostics.len();
    if outside > 0 {
        text.push_str(&format!("{} belong to no cluster (the diagnostics tool lists them)\n", plural(outside, "finding")));
    }
    Ok(Answer { text, structured: json!({ "snapshot": ctx.current.version, "clusters": list, "diagnostics_outside_clusters": outside }) })
}

/// The chain from a root to `id`, as the object page's "why it is at its level" shows it.
fn chain(ctx: &Ctx<'_>, view: &ClusterView, id: &ObjectId) -> (Vec<Value>, String) {
    let steps = views::why_level(view, id);
    let mut text = String::new();
    let values = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let level = s.level.map_or("-".to_string(), |l| l.to_string());
            if i == 0 {
                text.push_str(&format!("{} ({level})", s.id));
            } else {
                let how = if steps[i - 1].why == "dependsOn" { "is needed by" } else { "applies" };
                text.push_str(&format!(" {how} {} ({level})", s.id));
            }
            let mut step = ctx.object(view, &s.id);
            // How the next step waits on this one.
            if !s.why.is_empty() {
                step["next_waits_by"] = json!(s.why);
            }
            step
        })
        .collect();
    (values, text)
}

pub fn why_level(ctx: &Ctx<'_>, a: &args::Object) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    let id = resolve(view, &a.id)?;
    let (steps, line) = chain(ctx, view, &id);
    let text = match level(view, &id) {
        Some(0) => format!("{id} is at level 0: nothing it waits on (a root, applied by bootstrap, or with no dependsOn and no parent).\n"),
        Some(l) => format!("{id} is at level {l}: one more than the highest of what it waits on. The chain that puts it there, root first:\n{line}\n"),
        None => format!("{id} has {}.\n", level_text(view, &id)),
    };
    Ok(Answer { text, structured: json!({ "cluster": view.cluster.name, "object": ctx.object(view, &id), "level": level(view, &id), "chain": steps }) })
}

pub fn object(ctx: &Ctx<'_>, a: &args::Object) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    let id = resolve(view, &a.id)?;
    let object = &view.cluster.objects[&id];
    let fields: Vec<Value> = views::spec_fields(view, object, "").into_iter().map(|f| json!({ "field": f.label, "value": f.value })).collect();
    let node = view.graph.node(&id).map(|n| n.index());
    let pre = &view.analysis.prerequisites;
    let neighbours = |list: &[(usize, Wait)], parent: &str, depends: &str| -> (Vec<Value>, usize) {
        let all: Vec<Value> = list
            .iter()
            .map(|&(i, w)| {
                let other = view.graph.id(petgraph::graph::NodeIndex::new(i));
                let mut v = ctx.object(view, other);
                v["how"] = json!(if w == Wait::Parent { parent } else { depends });
                v
            })
            .collect();
        let total = all.len();
        (all.into_iter().take(MAX_NEIGHBOURS).collect(), total)
    };
    let (waits_on, waits_on_total) = node.map_or((Vec::new(), 0), |n| neighbours(&pre.waits_on[n], "applies it", "dependsOn"));
    let (waited_by, waited_by_total) = node.map_or((Vec::new(), 0), |n| neighbours(&pre.waited_by[n], "applied by it", "dependsOn it"));
    let diagnostics: Vec<&crate::diagnostic::Diagnostic> = views::diagnostics_of(view, &id);
    let (chain, chain_line) = chain(ctx, view, &id);
    let at = if object.file.is_empty() { "made by bootstrap, not written in the repository".to_string() } else { format!("{}:{}", object.file, object.line) };
    let mut text = format!("{id} ({at}), {}\n", level_text(view, &id));
    if chain.len() > 1 {
        text.push_str(&format!("why: {chain_line}\n"));
    }
    for f in &fields {
        text.push_str(&format!("  {}: {}\n", f["field"].as_str().unwrap_or_default(), f["value"].as_str().unwrap_or_default()));
    }
    let names = |list: &[Value]| list.iter().map(|v| format!("{} ({})", v["id"].as_str().unwrap_or_default(), v["how"].as_str().unwrap_or_default())).collect::<Vec<_>>().join(", ");
    text.push_str(&format!("waits on {}: {}\n", waits_on_total, if waits_on.is_empty() { "nothing".into() } else { names(&waits_on) }));
    text.push_str(&format!("waited on by {}{}\n", waited_by_total, if waited_by.is_empty() { String::new() } else { format!(": {}", names(&waited_by)) }));
    for d in &diagnostics {
        text.push_str(&format!("  {} [{}] {}\n", d.severity.as_str(), d.code, d.message));
    }
    let mut out = ctx.object(view, &id);
    out["cluster"] = json!(view.cluster.name);
    if let Some(link) = ctx.file_link(&object.file, object.line) {
        out["file_link"] = json!(link);
    }
    if let Some(component) = views::component_of(object) {
        out["component"] = json!(component);
    }
    out["spec"] = json!(fields);
    out["why_level"] = json!(chain);
    out["waits_on"] = json!(waits_on);
    out["waits_on_total"] = json!(waits_on_total);
    out["waited_by"] = json!(waited_by);
    out["waited_by_total"] = json!(waited_by_total);
    out["diagnostics"] = json!(diagnostics);
    if let Some(status) = live_status(ctx, view, &id) {
        text.push_str(&format!("live: {}\n", status.1));
        out["status"] = status.0;
    }
    Ok(Answer { text, structured: out })
}

/// The object's live state and its root blockers, when the live status is on.
fn live_status(ctx: &Ctx<'_>, view: &ClusterView, id: &ObjectId) -> Option<(Value, String)> {
    use crate::status::{self, blockers};
    let live = ctx.state.live();
    if !live.enabled() {
        return None;
    }
    let inner = live.lock();
    let s = inner.store.status(id);
    let found = blockers::find(&view.graph, &status::states(view, &inner.store));
    let node = view.graph.node(id)?.index();
    let roots: Vec<ObjectId> = found.roots_of[node].iter().filter(|&&r| r != node).map(|&r| view.graph.id(petgraph::graph::NodeIndex::new(r)).clone()).collect();
    let mut text = format!("{}{}", s.state.label(), if s.reason.is_empty() { String::new() } else { format!(" ({}): {}", s.reason, s.message) });
    if !roots.is_empty() {
        text.push_str(&format!("; blocked by {}", roots.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")));
    }
    let mut value = serde_json::to_value(s).unwrap_or(Value::Null);
    value["blocked_by"] = json!(roots.iter().map(ToString::to_string).collect::<Vec<_>>());
    Some((value, text))
}

pub fn critical_path(ctx: &Ctx<'_>, a: &args::Cluster) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    let an = &view.analysis;
    let hops: Vec<Value> = an.critical_path.nodes.iter().map(|id| ctx.object(view, id)).collect();
    let timed: Vec<Value> = an
        .weighted_path
        .steps
        .iter()
        .map(|s| {
            let mut v = ctx.object(view, &s.id);
            v["start_seconds"] = json!(s.start.as_secs());
            v["worst_case_seconds"] = json!(s.worst_case.as_secs());
            v["ready_seconds"] = json!(s.ready.as_secs());
            v["why"] = json!(views::worst_case_reason(view, &s.id));
            v
        })
        .collect();
    // A HelmRelease often shares its Kustomization's name: say which is which.
    let names = |ids: &mut dyn Iterator<Item = &ObjectId>| ids.map(|id| if id.kind == Kind::Kustomization { id.name.clone() } else { format!("{} {}", id.kind, id.name) }).collect::<Vec<_>>().join(" → ");
    let mut text = format!(
        "Cluster {}: the longest chain has {} ({} hops): {}\n",
        view.cluster.name,
        plural(an.critical_path.nodes.len(), "object"),
        an.critical_path.nodes.len().saturating_sub(1),
        names(&mut an.critical_path.nodes.iter())
    );
    text.push_str(&format!("By worst-case time ({} at the latest, cold start estimated at {}): {}\n", an.weighted_path.total, an.cold_start.total, names(&mut an.weighted_path.steps.iter().map(|s| &s.id))));
    if let Some(d) = an.weighted_path.steps.iter().max_by_key(|s| s.worst_case).filter(|s| s.worst_case.as_secs() > 0) {
        text.push_str(&format!("{} dominates: it may take {} ({}).\n", d.id, d.worst_case, views::worst_case_reason(view, &d.id)));
    }
    if an.cold_start.never > 0 {
        text.push_str(&format!("{} never get Ready (on or behind a cycle).\n", plural(an.cold_start.never, "object")));
    }
    let mut out = json!({
        "cluster": view.cluster.name,
        "by_hops": { "hops": an.critical_path.nodes.len().saturating_sub(1), "path": hops },
        "by_time": { "total_seconds": an.weighted_path.total.as_secs(), "steps": timed },
        "cold_start_seconds": an.cold_start.total.as_secs(),
        "never_ready": an.cold_start.never,
    });
    if let Some(link) = ctx.link(view, "/critical-path") {
        out["link"] = json!(link);
    }
    Ok(Answer { text, structured: out })
}

pub fn cycles(ctx: &Ctx<'_>, a: &args::Cluster) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    let mut text = String::new();
    let list: Vec<Value> = view
        .analysis
        .cycles
        .iter()
        .map(|c| {
            let advice = views::cycle_advice(view, c);
            text.push_str(&format!(
                "{}: none of these ever reconciles, nor anything that waits on them. Cut {} → {} ({}{})\n",
                advice.path,
                advice.cut.0,
                advice.cut.1,
                advice.remedy,
                advice.location.as_ref().map_or(String::new(), |at| format!(", at {at}"))
            ));
            json!({
                "members": c.members.iter().map(|m| ctx.object(view, m)).collect::<Vec<_>>(),
                "cut": { "from": advice.cut.0.to_string(), "to": advice.cut.1.to_string(), "remedy": advice.remedy, "location": advice.location },
            })
        })
        .collect();
    if list.is_empty() {
        text = format!("Cluster {} has no dependency cycle.\n", view.cluster.name);
    }
    Ok(Answer { text, structured: json!({ "cluster": view.cluster.name, "cycles": list }) })
}

pub fn diagnostics(ctx: &Ctx<'_>, a: &args::Diagnostics) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    let filter = DiagnosticFilter { severity: a.severity.map(crate::diagnostic::Severity::as_str), code: a.code.as_deref(), object: a.object.as_deref(), file: a.file.as_deref() };
    if let Some(code) = filter.code {
        let known: BTreeSet<&str> = view.analysis.diagnostics.iter().chain(&ctx.current.snapshot.diagnostics).map(|d| d.code.as_str()).collect();
        if !known.contains(code) && !code.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            return Err(McpError::Tool(format!("{code:?} is not a diagnostic code: codes are kebab-case, e.g. dependency-cycle, missing-dependency")));
        }
    }
    // The cluster's own, then those that belong to no cluster, as the diagnostics page lists them.
    let all: Vec<&crate::diagnostic::Diagnostic> = view.analysis.diagnostics.iter().chain(&ctx.current.snapshot.diagnostics).filter(|d| filter.matches(d)).collect();
    let (shown, next) = page(&all, &a.paging())?;
    let start = offset(&a.paging());
    let mut text = format!("{} in cluster {}{}\n", plural(all.len(), "diagnostic"), view.cluster.name, if shown.len() < all.len() { format!(", {}–{} shown", start + 1, start + shown.len()) } else { String::new() });
    for d in &shown {
        let at = match (d.file.is_empty(), d.line) {
            (true, _) => String::new(),
            (false, 0) => format!("{}: ", d.file),
            (false, l) => format!("{}:{l}: ", d.file),
        };
        text.push_str(&format!("{at}{} [{}] {}{}\n", d.severity.as_str(), d.code, d.message, d.object.as_ref().map_or(String::new(), |o| format!(" ({o})"))));
    }
    text.push_str(&more(all.len(), start + shown.len(), &next));
    let items: Vec<Value> = shown
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            if let Some(link) = d.object.as_ref().filter(|id| view.cluster.objects.contains_key(id)).and_then(|id| ctx.link(view, &id.path())) {
                v["link"] = json!(link);
            }
            v
        })
        .collect();
    Ok(Answer { text, structured: json!({ "cluster": view.cluster.name, "total": all.len(), "diagnostics": items, "next_cursor": next }) })
}

pub fn blast_radius(ctx: &Ctx<'_>, a: &args::BlastRadius) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    let repository = &ctx.current.snapshot.repository;
    let (what, seeds): (String, BTreeSet<ObjectId>) = match (a.id.as_deref(), a.file.as_deref()) {
        (Some(id), None) => {
            let id = resolve(view, id)?;
            (id.to_string(), BTreeSet::from([id]))
        }
        (None, Some(file)) => {
            let file = file.trim_matches('/');
            let inside = |f: &str| f == file || f.strip_prefix(file).is_some_and(|rest| rest.starts_with('/'));
            let files: Vec<&String> = repository.files.keys().chain(&repository.other_files).filter(|f| inside(f)).collect();
            if files.is_empty() {
                return Err(McpError::Tool(no_such_file(ctx, file)));
            }
            let mut seeds: BTreeSet<ObjectId> = view.cluster.objects.values().filter(|o| inside(&o.file)).map(|o| o.id.clone()).collect();
            // A file of Flux objects alone changes those objects; any other file, the builds that hold it.
            let others: BTreeSet<&str> = files.iter().filter(|f| !crate::diff::only_flux_objects(repository, f)).map(|f| f.as_str()).collect();
            seeds.extend(crate::diff::builds_holding(view, |f| others.contains(f)).cloned());
            (file.to_string(), seeds)
        }
        _ => return Err(McpError::Tool("give either id (an object) or file (a file or folder of the repository), not both".into())),
    };
    let downstream = crate::diff::downstream_of(&[&view.graph], &seeds);
    let (shown, next) = page(&downstream, &a.paging())?;
    let start = offset(&a.paging());
    let count = seeds.len() + downstream.len();
    let mut text = if seeds.is_empty() {
        format!("Nothing in cluster {} is built from {what}: changing it reconciles nothing anew.\n", view.cluster.name)
    } else {
        let names: Vec<String> = seeds.iter().map(ToString::to_string).collect();
        format!("Changing {what} reconciles {} anew in cluster {}: {} it touches ({}), and {} downstream (what waits on them or is applied by them)\n", plural(count, "object"), view.cluster.name, seeds.len(), names.join(", "), downstream.len())
    };
    for id in &shown {
        text.push_str(&format!("  {id} ({})\n", level_text(view, id)));
    }
    text.push_str(&more(downstream.len(), start + shown.len(), &next));
    Ok(Answer {
        text,
        structured: json!({
            "cluster": view.cluster.name,
            "of": what,
            "count": count,
            "changed": seeds.iter().map(|id| ctx.object(view, id)).collect::<Vec<_>>(),
            "downstream_total": downstream.len(),
            "downstream": shown.iter().map(|id| ctx.object(view, id)).collect::<Vec<_>>(),
            "next_cursor": next,
        }),
    })
}

fn no_such_file(ctx: &Ctx<'_>, file: &str) -> String {
    let repository = &ctx.current.snapshot.repository;
    let mut near: Vec<(f64, &String)> = repository.files.keys().map(|f| (strsim::jaro_winkler(file, f), f)).filter(|(score, _)| *score > 0.85).collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let near: Vec<&str> = near.iter().take(3).map(|(_, f)| f.as_str()).collect();
    let hint = if near.is_empty() { String::new() } else { format!("; did you mean {}?", near.join(", ")) };
    format!("no file or folder {file} in the repository (paths are relative to its root){hint}")
}

pub fn build(ctx: &Ctx<'_>, a: &args::Build) -> Reply {
    use crate::load::Manifest;
    use crate::render::build;
    let view = ctx.view(a.cluster.as_deref())?;
    let given = match resolve(view, &a.id) {
        Ok(id) if id.kind == Kind::Kustomization => id.to_string(),
        Ok(id) => return Err(McpError::Tool(format!("{id} is a {}: only a Kustomization has a build; the object tool says what applies it", id.kind))),
        Err(e) => return Err(e),
    };
    let chosen = build::select(&[view], Some(&given))?;
    let selected = &chosen[0];
    let id = &selected.kustomization.id;
    let objects: Vec<&crate::load::kustomize::Resource> = build::applied(selected.build).collect();
    let (shown, next) = page(&objects, &a.paging())?;
    let start = offset(&a.paging());
    let path = selected.kustomization.kustomization().and_then(|k| k.path.as_ref()).map(|p| p.value.clone());
    let mut text = format!("{id} (path {}) applies {}", path.as_deref().unwrap_or("./"), plural(objects.len(), "object"));
    text.push_str(if objects.is_empty() { "\n" } else { ":\n" });
    if let Some(e) = &selected.build.error {
        text.push_str(&format!("the build fails ({}): {}\n", e.code, e.message));
    }
    let items: Vec<Value> = shown
        .iter()
        .map(|r| {
            let m = &r.manifest;
            let (name, namespace) = (m.name().unwrap_or_default(), m.namespace().unwrap_or_default());
            text.push_str(&format!("  {} {}{name}  from {}:{}\n", m.kind(), if namespace.is_empty() { String::new() } else { format!("{namespace}/") }, r.file, r.line));
            json!({
                "apiVersion": m.api_version(),
                "kind": m.kind(),
                "namespace": namespace,
                "name": name,
                "file": &*r.file,
                "line": r.line,
                "manifest": serde_json::to_value(build::redacted(r)).unwrap_or(Value::Null),
            })
        })
        .collect();
    text.push_str(&more(objects.len(), start + shown.len(), &next));
    let mut out = json!({
        "cluster": view.cluster.name,
        "kustomization": id.to_string(),
        "path": path,
        "error": selected.build.error.as_ref().map(|e| json!({ "code": e.code.to_string(), "message": e.message })),
        "total": objects.len(),
        "objects": items,
        "next_cursor": next,
    });
    if let Some(link) = ctx.link(view, &format!("{}/applies", id.path())) {
        out["link"] = json!(link);
    }
    Ok(Answer { text, structured: out })
}

pub fn diff(ctx: &Ctx<'_>, a: &args::Diff) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    if let Some(bad) = [&a.base, &a.head].into_iter().flatten().find(|r| !crate::diff::sides::valid_revision(r)) {
        return Err(McpError::Tool(format!("{bad:?} is not a revision: name a branch, a tag or a commit (HEAD~1, origin/main, v1.2.0)")));
    }
    let (report, _) = pages::served_report(ctx.state, ctx.current.snapshot.clone(), a.base.as_deref(), a.head.as_deref(), &view.cluster.name)?;
    let text = crate::diff::render::text(&report);
    let structured = serde_json::to_value(&report).map_err(|e| McpError::Tool(e.to_string()))?;
    Ok(Answer { text, structured })
}

pub fn blocked(ctx: &Ctx<'_>, a: &args::Cluster) -> Reply {
    let live = ctx.state.live();
    if !live.enabled() {
        return Err(McpError::Tool("the live status is off: start fluxgraph (mcp or serve) with --kube-status to read the cluster's Flux objects".into()));
    }
    let snapshot = &ctx.current.snapshot;
    let inner = live.lock();
    let view = match a.cluster.as_deref() {
        Some(name) => ctx.view(Some(name))?,
        None => match crate::status::matching_cluster(snapshot, &inner.store) {
            Some(i) => &snapshot.clusters[i],
            None => ctx.view(None)?,
        },
    };
    let report = crate::status::report::build(snapshot, view, &inner.store);
    let structured = serde_json::to_value(&report).map_err(|e| McpError::Tool(e.to_string()))?;
    Ok(Answer { text: report.text(), structured })
}

pub fn search(ctx: &Ctx<'_>, a: &args::Search) -> Reply {
    let view = ctx.view(a.cluster.as_deref())?;
    if a.query.trim().is_empty() {
        return Err(McpError::Tool("the query is empty: give part of an object's name (typos are forgiven)".into()));
    }
    let found: Vec<&ObjectId> = pages::search(view, &a.query, usize::MAX);
    let (shown, next) = page(&found, &a.paging())?;
    let start = offset(&a.paging());
    let mut text = if found.is_empty() { format!("nothing in cluster {} is named like {:?}\n", view.cluster.name, a.query) } else { format!("{} match{} in cluster {}:\n", found.len(), if found.len() == 1 { "" } else { "es" }, view.cluster.name) };
    for id in &shown {
        text.push_str(&format!("  {id} ({})\n", level_text(view, id)));
    }
    text.push_str(&more(found.len(), start + shown.len(), &next));
    let items: Vec<Value> = shown.iter().map(|id| ctx.object(view, id)).collect();
    Ok(Answer { text, structured: json!({ "cluster": view.cluster.name, "query": a.query, "total": found.len(), "results": items, "next_cursor": next }) })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::server::Options;
    use crate::snapshot::Snapshot;

    fn example(options: Options) -> (AppState, std::sync::Arc<Current>) {
        let state = AppState::new(options);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster");
        state.publish(Snapshot::read(&root, None).unwrap(), None, None);
        let current = state.current().unwrap();
        (state, current)
    }

    #[test]
    fn an_id_is_whole_or_a_name_and_a_typo_gets_the_nearest_names() {
        let (state, current) = example(Options::default());
        let ctx = Ctx { state: &state, current: &current };
        let view = ctx.view(None).unwrap();
        let linkding = ObjectId::new(Kind::Kustomization, "flux-system", "linkding");
        assert_eq!(resolve(view, "Kustomization/flux-system/linkding").unwrap(), linkding);
        // The HelmRelease shares the name: a name alone means the Kustomization.
        assert_eq!(resolve(view, "linkding").unwrap(), linkding);
        assert_eq!(resolve(view, "HelmRelease/home/linkding").unwrap(), ObjectId::new(Kind::HelmRelease, "home", "linkding"));
        let error = resolve(view, "Kustomization/flux-system/linkdin").unwrap_err();
        assert!(error.to_string().contains("no object Kustomization/flux-system/linkdin") && error.to_string().contains("did you mean Kustomization/flux-system/linkding"), "{error}");
        assert!(resolve(view, "zzzzzz").unwrap_err().to_string().contains("search tool"));
        assert!(ctx.view(Some("mars")).unwrap_err().to_string().contains("the clusters are: rpi-cluster"));
    }

    #[test]
    fn long_lists_come_in_pages_that_add_up_to_the_whole() {
        let (state, current) = example(Options::default());
        let ctx = Ctx { state: &state, current: &current };
        let search = |cursor: Option<String>| args::Search { query: "rook".into(), cluster: None, cursor, limit: Some(3) };
        let whole = super::search(&ctx, &args::Search { query: "rook".into(), cluster: None, cursor: None, limit: Some(200) }).unwrap();
        let (mut seen, mut cursor) = (Vec::new(), None);
        loop {
            let page = super::search(&ctx, &search(cursor)).unwrap().structured;
            seen.extend(page["results"].as_array().unwrap().iter().map(|r| r["id"].clone()));
            cursor = page["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        let all: Vec<Value> = whole.structured["results"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
        assert_eq!(seen, all);
        assert!(seen.len() > 3, "{seen:?}");
        let bad = super::search(&ctx, &search(Some("x".into()))).unwrap_err();
        assert!(bad.to_string().contains("bad cursor"), "{bad}");
    }

    #[test]
    fn the_blast_radius_of_a_file_is_what_builds_it_and_what_waits_on_that() {
        let (state, current) = example(Options::default());
        let ctx = Ctx { state: &state, current: &current };
        let of_file = |file: &str| args::BlastRadius { id: None, file: Some(file.into()), cluster: None, cursor: None, limit: Some(200) };
        let changed = |file: &str| -> Vec<String> {
            let radius = blast_radius(&ctx, &of_file(file)).unwrap().structured;
            radius["changed"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
        };
        // A manifest that is no Flux object changes the build that holds it; a file of Flux
        // objects alone changes those objects.
        assert_eq!(changed("kubernetes/rpi-cluster/apps/home/linkding/app/httproute.yaml"), ["Kustomization/flux-system/linkding"]);
        assert_eq!(changed("kubernetes/rpi-cluster/apps/home/linkding/app/release.yaml"), ["HelmRelease/home/linkding"]);
        assert!(changed("kubernetes/rpi-cluster/apps/home/linkding").len() >= 2, "a folder is every file in it");
        let of_object = blast_radius(&ctx, &args::BlastRadius { id: Some("rook-ceph-rbd".into()), file: None, cluster: None, cursor: None, limit: Some(200) }).unwrap().structured;
        let downstream: Vec<&str> = of_object["downstream"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
        assert!(downstream.contains(&"Kustomization/flux-system/linkding"), "{downstream:?}");
        assert!(blast_radius(&ctx, &of_file("kubernetes/rpi-cluster/apps/home/linkdin/ks.yaml")).unwrap_err().to_string().contains("did you mean kubernetes/rpi-cluster/apps/home/linkding/ks.yaml"));
    }

    #[test]
    fn objects_link_to_their_page_only_under_a_public_url() {
        let (state, current) = example(Options { public_url: Some("https://fluxgraph.example.com/".into()), ..Options::default() });
        let ctx = Ctx { state: &state, current: &current };
        let answer = object(&ctx, &args::Object { id: "linkding".into(), cluster: None }).unwrap();
        assert_eq!(answer.structured["link"], "https://fluxgraph.example.com/k/Kustomization/flux-system/linkding");
        let (state, current) = example(Options::default());
        let plain = object(&Ctx { state: &state, current: &current }, &args::Object { id: "linkding".into(), cluster: None }).unwrap();
        assert!(plain.structured.get("link").is_none());
        assert!(plain.text.contains("level 7") && plain.text.contains("ks.yaml:2"), "{}", plain.text);
    }

    #[test]
    fn secret_values_never_reach_a_build_answer() {
        let (state, current) = example(Options::default());
        let ctx = Ctx { state: &state, current: &current };
        for id in current.snapshot.clusters[0].cluster.builds.keys() {
            let answer = build(&ctx, &args::Build { id: id.to_string(), cluster: None, cursor: None, limit: Some(200) }).unwrap();
            let text = answer.structured.to_string();
            assert!(!text.contains("ENC["), "{id}: SOPS ciphertext in {text}");
            for object in answer.structured["objects"].as_array().unwrap() {
                if object["kind"] == "Secret" {
                    for field in ["data", "stringData"] {
                        for value in object["manifest"][field].as_object().into_iter().flat_map(|m| m.values()) {
                            assert_eq!(value, crate::render::build::REDACTED, "{id}");
                        }
                    }
                }
            }
        }
    }
}
