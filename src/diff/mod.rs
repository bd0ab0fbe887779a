//! Diff: two snapshots of one repository (a base and a head revision) → a [`Report`] of what
//! the change does to the graph, cluster by cluster: objects added, removed, changed (in the
//! fields the graph depends on) and moved; edges added and removed; levels, the critical path
//! and the cold-start estimate before and after; diagnostics introduced and resolved; and the
//! blast radius, what the change may reconcile anew; and what it changes in the cluster itself,
//! the built manifests each Kustomization applies and the versions that move ([`builds`]). Pure: [`sides`] reads the two
//! snapshots from git (at the edge, for the CLI and the server). [`render`] writes the report as text or Markdown; the
//! report itself serialises as the JSON document.

pub mod builds;
pub mod render;
pub mod sides;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::analysis::Level;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::graph::{EdgeKind, Graph};
use crate::load::Repository;
use crate::model::{self, Duration, FluxObject, ObjectId, Reference, Spec};
use crate::snapshot::{ClusterView, Snapshot};

/// What a diff compares: one side's name and commit (`None` for the work tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub name: String,
    pub commit: Option<String>,
}

/// The whole comparison: the JSON document of `fluxgraph diff --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub base: Side,
    pub head: Side,
    /// One line saying what the change does.
    pub verdict: String,
    /// Error diagnostics the head has and the base has not: CI fails on any.
    pub errors_introduced: usize,
    /// Files Flux sees that the change added or removed, YAML files and kustomize generator
    /// inputs it edited; relative to the root.
    pub changed_files: Vec<String>,
    pub clusters: Vec<ClusterDiff>,
    /// Findings that belong to no cluster (left out with `--cluster`).
    pub diagnostics: DiagnosticChanges,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Added,
    Removed,
    Changed,
    Unchanged,
}

/// One cluster, in the base, the head or both.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterDiff {
    pub name: String,
    pub status: Status,
    pub objects: ObjectChanges,
    pub edges: EdgeChanges,
    /// Objects in both whose level differs (`null`: on or behind a cycle).
    pub levels: Vec<LevelChange>,
    pub critical_path: Compared<PathSummary>,
    pub cold_start: ColdStartChange,
    pub diagnostics: DiagnosticChanges,
    pub blast_radius: BlastRadius,
    /// What each Kustomization applies differently: built objects added, removed, changed.
    pub builds: Vec<builds::BuildChanges>,
    /// Chart versions, source refs and images that move.
    pub versions: Vec<builds::VersionChange>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectChanges {
    pub added: Vec<ObjectRef>,
    pub removed: Vec<ObjectRef>,
    pub changed: Vec<ChangedObject>,
    /// Same id, another file.
    pub moved: Vec<MovedObject>,
}

/// An object and where it is written (`file` empty for one Flux creates without a manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub id: ObjectId,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedObject {
    pub id: ObjectId,
    pub file: String,
    pub line: u32,
    pub fields: Vec<FieldChange>,
}

/// One field of a spec, as text before and after (`null`: not set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// `field: before → after`, `(unset)` where there is no value.
impl std::fmt::Display for FieldChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unset = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
        write!(f, "{}: {} → {}", self.field, unset(&self.before), unset(&self.after))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedObject {
    pub id: ObjectId,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EdgeChanges {
    pub added: Vec<Edge>,
    pub removed: Vec<Edge>,
}

/// `from` `kind` `to`, read as a sentence, as in the graph document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Edge {
    pub from: ObjectId,
    pub to: ObjectId,
    pub kind: EdgeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelChange {
    pub id: ObjectId,
    pub before: Option<Level>,
    pub after: Option<Level>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compared<T> {
    /// `null` when the cluster is not in that side.
    pub before: Option<T>,
    pub after: Option<T>,
}

/// A critical path: by hops (its objects, root first) and by worst-case time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathSummary {
    pub hops: usize,
    pub nodes: Vec<ObjectId>,
    pub worst_case_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColdStartChange {
    pub before_seconds: u64,
    pub after_seconds: u64,
    pub delta_seconds: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DiagnosticChanges {
    pub introduced: Vec<Diagnostic>,
    pub resolved: Vec<Diagnostic>,
}

/// What the change may reconcile anew: the objects it touches (added, removed, changed, or
/// whose build holds a changed file), then everything downstream of them over `dependsOn`
/// (what waits on them) and `applies` (what they apply).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BlastRadius {
    pub changed: Vec<ObjectId>,
    pub downstream: Vec<ObjectId>,
    pub count: usize,
}

impl ClusterDiff {
    /// Whether anything in this cluster's graph or findings differs.
    pub fn is_empty(&self) -> bool {
        let o = &self.objects;
        o.added.is_empty()
            && o.removed.is_empty()
            && o.changed.is_empty()
            && o.moved.is_empty()
            && self.edges.added.is_empty()
            && self.edges.removed.is_empty()
            && self.levels.is_empty()
            && self.critical_path.before == self.critical_path.after
            && self.cold_start.delta_seconds == 0
            && self.diagnostics.introduced.is_empty()
            && self.diagnostics.resolved.is_empty()
            && self.blast_radius.count == 0
            && self.builds.is_empty()
    }

    /// How many built objects the change adds, removes or modifies in the cluster.
    pub fn built_objects_changed(&self) -> usize {
        self.builds.iter().map(|b| b.added.len() + b.removed.len() + b.changed.len()).sum()
    }
}

/// Why two snapshots cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("no cluster {name:?} in either revision; the clusters are: {}", known.join(", "))]
    UnknownCluster { name: String, known: Vec<String> },
}

/// Compares `base` with `head`; only the cluster `cluster` when given (an error when neither
/// side has it).
pub fn compare(base: &Snapshot, head: &Snapshot, sides: (Side, Side), cluster: Option<&str>) -> Result<Report, DiffError> {
    let mut names: Vec<&str> = head.clusters.iter().map(|c| c.cluster.name.as_str()).collect();
    names.extend(base.clusters.iter().map(|c| c.cluster.name.as_str()).filter(|n| head.cluster(n).is_none()));
    if let Some(name) = cluster {
        if !names.contains(&name) {
            return Err(DiffError::UnknownCluster { name: name.to_string(), known: names.iter().map(|n| n.to_string()).collect() });
        }
        names.retain(|n| *n == name);
    }
    let changed_files = changed_files(&base.repository, &head.repository);
    let touched: BTreeSet<&str> = changed_files
        .iter()
        .filter(|f| !only_flux_objects(&base.repository, f) || !only_flux_objects(&head.repository, f))
        .map(String::as_str)
        .collect();
    let clusters: Vec<ClusterDiff> = names.iter().map(|n| compare_cluster(n, base.cluster(n), head.cluster(n), &touched)).collect();
    let diagnostics = if cluster.is_none() { diagnostic_changes(&base.diagnostics, &head.diagnostics) } else { DiagnosticChanges::default() };
    let errors_introduced = clusters
        .iter()
        .map(|c| &c.diagnostics)
        .chain([&diagnostics])
        .flat_map(|d| &d.introduced)
        .filter(|d| d.severity == Severity::Error)
        .count();
    let mut report = Report { version: 1, base: sides.0, head: sides.1, verdict: String::new(), errors_introduced, changed_files, clusters, diagnostics };
    report.verdict = verdict(&report);
    Ok(report)
}

/// The one line that opens every rendering.
pub fn verdict(report: &Report) -> String {
    let errors: BTreeSet<Code> = report.clusters.iter().map(|c| &c.diagnostics).chain([&report.diagnostics]).flat_map(|d| &d.introduced).filter(|d| d.severity == Severity::Error).map(|d| d.code).collect();
    if report.errors_introduced > 0 {
        let codes: Vec<&str> = errors.iter().map(|c| c.as_str()).collect();
        let s = if report.errors_introduced == 1 { "" } else { "s" };
        return format!("introduces {} error{s} ({})", report.errors_introduced, codes.join(", "));
    }
    if report.clusters.iter().all(ClusterDiff::is_empty) && report.diagnostics.introduced.is_empty() && report.diagnostics.resolved.is_empty() {
        return "no change to the graph".to_string();
    }
    let count = |f: fn(&ClusterDiff) -> usize| report.clusters.iter().map(f).sum::<usize>();
    let objects = count(|c| c.objects.added.len() + c.objects.removed.len() + c.objects.changed.len() + c.objects.moved.len());
    let edges = count(|c| c.edges.added.len() + c.edges.removed.len());
    let radius = count(|c| c.blast_radius.count);
    let resolved = count(|c| c.diagnostics.resolved.len()) + report.diagnostics.resolved.len();
    let built = count(ClusterDiff::built_objects_changed);
    let mut parts = vec![format!("no new errors; {objects} object{} and {edges} edge{} of the graph changed", plural(objects), plural(edges))];
    if built > 0 {
        parts.push(format!("{built} applied object{} change{}", plural(built), if built == 1 { "s" } else { "" }));
    }
    parts.push(format!("{radius} object{} in the blast radius", plural(radius)));
    if resolved > 0 {
        parts.push(format!("{resolved} finding{} resolved", plural(resolved)));
    }
    parts.join(", ")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Files added or removed, and YAML files and generator inputs whose text differs (the text of
/// other files is not read: Flux's build does not use it).
pub fn changed_files(base: &Repository, head: &Repository) -> Vec<String> {
    let mut out = BTreeSet::new();
    for (path, file) in &head.files {
        if base.files.get(path).is_none_or(|b| b.text != file.text) {
            out.insert(path.clone());
        }
    }
    out.extend(base.files.keys().filter(|p| !head.files.contains_key(*p)).cloned());
    out.extend(head.other_files.symmetric_difference(&base.other_files).cloned());
    for (path, text) in &head.inputs {
        if base.inputs.get(path).is_some_and(|b| b != text) {
            out.insert(path.clone());
        }
    }
    out.into_iter().collect()
}

/// Whether `path` holds Flux objects only (or is absent): such a change is seen as the objects'
/// own change, not as a change to every build that holds the file.
pub fn only_flux_objects(repo: &Repository, path: &str) -> bool {
    let Some(file) = repo.files.get(path) else { return !repo.other_files.contains(path) };
    !file.documents.is_empty() && file.documents.iter().all(|d| d.as_ref().is_ok_and(|d| model::flux_kind(&d.root).is_some()))
}

fn compare_cluster(name: &str, base: Option<&ClusterView>, head: Option<&ClusterView>, touched: &BTreeSet<&str>) -> ClusterDiff {
    let empty = BTreeMap::new();
    let (before, after) = (base.map_or(&empty, |v| &v.cluster.objects), head.map_or(&empty, |v| &v.cluster.objects));
    let mut objects = ObjectChanges::default();
    for (id, object) in after {
        match before.get(id) {
            None => objects.added.push(object_ref(object)),
            Some(old) => {
                let fields = field_changes(old, object);
                if !fields.is_empty() {
                    objects.changed.push(ChangedObject { id: id.clone(), file: object.file.clone(), line: object.line, fields });
                }
                if old.file != object.file && !old.implied && !object.implied {
                    objects.moved.push(MovedObject { id: id.clone(), from: old.file.clone(), to: object.file.clone() });
                }
            }
        }
    }
    objects.removed = before.iter().filter(|(id, _)| !after.contains_key(*id)).map(|(_, o)| object_ref(o)).collect();
    let edges_of = |v: Option<&ClusterView>| -> BTreeSet<Edge> {
        v.map(|v| v.graph.edges().into_iter().map(|(from, to, kind)| Edge { from: from.clone(), to: to.clone(), kind }).collect()).unwrap_or_default()
    };
    let (edges_before, edges_after) = (edges_of(base), edges_of(head));
    let edges = EdgeChanges {
        added: edges_after.difference(&edges_before).cloned().collect(),
        removed: edges_before.difference(&edges_after).cloned().collect(),
    };
    let levels = match (base, head) {
        (Some(b), Some(h)) => h
            .analysis
            .levels
            .iter()
            .filter_map(|(id, after)| {
                let before = *b.analysis.levels.get(id)?;
                (before != *after).then(|| LevelChange { id: id.clone(), before, after: *after })
            })
            .collect(),
        _ => Vec::new(),
    };
    let cold = |v: Option<&ClusterView>| v.map_or(Duration::ZERO, |v| v.analysis.cold_start.total).as_secs();
    let cold_start = ColdStartChange { before_seconds: cold(base), after_seconds: cold(head), delta_seconds: cold(head) as i64 - cold(base) as i64 };
    let no_diagnostics = Vec::new();
    let diagnostics = diagnostic_changes(base.map_or(&no_diagnostics, |v| &v.analysis.diagnostics), head.map_or(&no_diagnostics, |v| &v.analysis.diagnostics));
    let built = builds::compare(base, head);
    let versions = builds::versions(base, head);
    let rebuilt: BTreeSet<ObjectId> = built.iter().map(|b| b.kustomization.clone()).collect();
    let blast_radius = blast_radius(&objects, &diagnostics, &rebuilt, base, head, touched);
    let status = match (base, head) {
        (None, _) => Status::Added,
        (_, None) => Status::Removed,
        _ => Status::Unchanged,
    };
    let mut diff = ClusterDiff {
        name: name.to_string(),
        status,
        objects,
        edges,
        levels,
        critical_path: Compared { before: base.map(path_summary), after: head.map(path_summary) },
        cold_start,
        diagnostics,
        blast_radius,
        builds: built,
        versions,
    };
    if diff.status == Status::Unchanged && !diff.is_empty() {
        diff.status = Status::Changed;
    }
    diff
}

fn object_ref(object: &FluxObject) -> ObjectRef {
    ObjectRef { id: object.id.clone(), file: object.file.clone(), line: object.line }
}

fn path_summary(view: &ClusterView) -> PathSummary {
    let nodes = view.analysis.critical_path.nodes.clone();
    PathSummary { hops: nodes.len().saturating_sub(1), nodes, worst_case_seconds: view.analysis.weighted_path.total.as_secs() }
}

/// The fields of a spec that the graph and its timings depend on, as text.
fn fields(object: &FluxObject) -> Vec<(&'static str, Option<String>)> {
    let refs = |refs: &[Reference]| -> Option<String> {
        let targets: Vec<String> = refs.iter().map(|r| crate::graph::depends_on_target(object, r).to_string()).collect();
        (!targets.is_empty()).then(|| targets.join(", "))
    };
    let source = || -> Option<String> {
        let refs: Vec<String> = object.source_refs().into_iter().map(|(kind, r)| r.resolve(kind, &object.id.namespace).to_string()).collect();
        (!refs.is_empty()).then(|| refs.join(", "))
    };
    let duration = |d: Option<Duration>| d.map(|d| d.to_string());
    let flag = |b: bool| Some(b.to_string());
    match &object.spec {
        Spec::Kustomization(k) => vec![
            ("path", k.path.as_ref().map(|p| p.value.clone())),
            ("dependsOn", refs(&k.depends_on)),
            ("sourceRef", source()),
            ("wait", Some(if k.health_checks > 0 { format!("{} ({} healthChecks)", k.wait, k.health_checks) } else { k.wait.to_string() })),
            ("timeout", duration(k.timeout)),
            ("interval", duration(k.interval)),
            ("targetNamespace", k.target_namespace.clone()),
            ("postBuild", k.post_build.as_ref().map(post_build)),
            ("suspend", flag(k.suspend)),
        ],
        Spec::HelmRelease(h) => vec![
            ("dependsOn", refs(&h.depends_on)),
            ("sourceRef", source()),
            ("timeout", duration(h.timeout)),
            ("interval", duration(h.interval)),
            ("targetNamespace", h.target_namespace.clone()),
            ("suspend", flag(h.suspend)),
        ],
        Spec::ResourceSet(r) => vec![
            ("dependsOn", refs(&r.depends_on)),
            ("wait", flag(r.wait)),
            ("timeout", Some(r.timeout.to_string())),
            ("suspend", flag(r.disabled)),
        ],
        Spec::Source(s) => vec![("sourceRef", source()), ("interval", duration(s.interval)), ("suspend", flag(s.suspend))],
        Spec::Other => Vec::new(),
    }
}

fn post_build(p: &model::PostBuild) -> String {
    let mut parts: Vec<String> = p.substitute.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.extend(p.substitute_from.iter().map(|s| format!("from {}/{}{}", s.kind, s.name, if s.optional { " (optional)" } else { "" })));
    parts.join(", ")
}

fn field_changes(before: &FluxObject, after: &FluxObject) -> Vec<FieldChange> {
    let old: BTreeMap<&str, Option<String>> = fields(before).into_iter().collect();
    fields(after)
        .into_iter()
        .filter_map(|(field, value)| {
            let was = old.get(field).cloned().flatten();
            (was != value).then_some(FieldChange { field, before: was, after: value })
        })
        .collect()
}

/// Diagnostics are the same finding when code, severity, object and message agree (a line that
/// moved does not make a new finding).
fn diagnostic_changes(before: &[Diagnostic], after: &[Diagnostic]) -> DiagnosticChanges {
    type Key<'a> = (Code, Severity, Option<&'a ObjectId>, &'a str, &'a str);
    fn key(d: &Diagnostic) -> Key<'_> {
        (d.code, d.severity, d.object.as_ref(), if d.object.is_some() { "" } else { d.file.as_str() }, d.message.as_str())
    }
    let old: BTreeSet<Key<'_>> = before.iter().map(key).collect();
    let new: BTreeSet<Key<'_>> = after.iter().map(key).collect();
    DiagnosticChanges {
        introduced: after.iter().filter(|d| !old.contains(&key(d))).cloned().collect(),
        resolved: before.iter().filter(|d| !new.contains(&key(d))).cloned().collect(),
    }
}

/// The objects the change touches: added, removed, changed, given or relieved of an error (a
/// HelmRelease whose HelmRepository was deleted), or whose build holds a changed file that is
/// more than Flux objects (those count as the objects' own change); then what is downstream.
fn blast_radius(objects: &ObjectChanges, diagnostics: &DiagnosticChanges, rebuilt: &BTreeSet<ObjectId>, base: Option<&ClusterView>, head: Option<&ClusterView>, touched: &BTreeSet<&str>) -> BlastRadius {
    let mut seeds: BTreeSet<ObjectId> = objects.added.iter().chain(&objects.removed).map(|o| o.id.clone()).collect();
    seeds.extend(objects.changed.iter().map(|o| o.id.clone()));
    // A Kustomization whose built objects change applies something new.
    seeds.extend(rebuilt.iter().cloned());
    let errors = diagnostics.introduced.iter().chain(&diagnostics.resolved).filter(|d| d.severity == Severity::Error);
    let known = |id: &ObjectId| base.is_some_and(|v| v.graph.node(id).is_some()) || head.is_some_and(|v| v.graph.node(id).is_some());
    seeds.extend(errors.filter_map(|d| d.object.clone()).filter(known));
    for view in base.into_iter().chain(head) {
        seeds.extend(builds_holding(view, |f| touched.contains(f)).cloned());
    }
    let graphs: Vec<&Graph> = base.into_iter().chain(head).map(|v| &v.graph).collect();
    let downstream = downstream_of(&graphs, &seeds);
    BlastRadius { count: seeds.len() + downstream.len(), changed: seeds.into_iter().collect(), downstream }
}

/// The Kustomizations whose build holds a file for which `file` is true.
pub fn builds_holding(view: &ClusterView, file: impl Fn(&str) -> bool) -> impl Iterator<Item = &ObjectId> {
    view.cluster.builds.iter().filter(move |(_, build)| build.files.iter().any(|f| file(f.as_str()))).map(|(id, _)| id)
}

/// What reconciles anew when `seeds` change: everything downstream of them in any of `graphs`
/// (what waits on them, what they apply, and so on), the seeds left out; in id order.
pub fn downstream_of(graphs: &[&Graph], seeds: &BTreeSet<ObjectId>) -> Vec<ObjectId> {
    let mut reached: BTreeSet<ObjectId> = seeds.clone();
    let mut queue: VecDeque<ObjectId> = seeds.iter().cloned().collect();
    while let Some(id) = queue.pop_front() {
        for graph in graphs {
            for next in downstream(graph, &id) {
                if reached.insert(next.clone()) {
                    queue.push_back(next);
                }
            }
        }
    }
    reached.difference(seeds).cloned().collect()
}

/// What waits on `id` (`dependsOn` it) and what it applies.
fn downstream(graph: &Graph, id: &ObjectId) -> Vec<ObjectId> {
    use petgraph::Direction::{Incoming, Outgoing};
    use petgraph::visit::EdgeRef;
    let Some(n) = graph.node(id) else { return Vec::new() };
    let waiting = graph.graph.edges_directed(n, Incoming).filter(|e| *e.weight() == EdgeKind::DependsOn).map(|e| e.source());
    let applied = graph.graph.edges_directed(n, Outgoing).filter(|e| *e.weight() == EdgeKind::Applies).map(|e| e.target());
    waiting.chain(applied).filter(|&m| m != n).map(|m| graph.id(m).clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn snapshot(files: &[(&str, &str)]) -> Snapshot {
        Snapshot::from_repository(Repository::from_files(Path::new("/r"), files.iter().copied()), None).expect("a snapshot")
    }

    fn ks(name: &str, path: &str, deps: &[&str]) -> String {
        let deps: String = deps.iter().map(|d| format!("    - name: {d}\n")).collect();
        let deps = if deps.is_empty() { String::new() } else { format!("  dependsOn:\n{deps}") };
        format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: {path}\n{deps}  sourceRef:\n    kind: GitRepository\n    name: flux-system\n")
    }

    fn sides() -> (Side, Side) {
        (Side { name: "base".into(), commit: None }, Side { name: "head".into(), commit: None })
    }

    fn id(name: &str) -> ObjectId {
        ObjectId::new(model::Kind::Kustomization, "flux-system", name)
    }

    #[test]
    fn nothing_changed_is_an_empty_report() {
        let files = [("clusters/c/a.yaml", ks("a", "./apps", &[])), ("apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n".into())];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
        let report = compare(&snapshot(&files), &snapshot(&files), sides(), None).unwrap();
        assert_eq!(report.verdict, "no change to the graph");
        assert!(report.clusters.iter().all(|c| c.status == Status::Unchanged && c.is_empty()));
        assert_eq!(report.errors_introduced, 0);
    }

    #[test]
    fn a_dependency_closing_a_cycle_is_an_introduced_error_with_its_radius() {
        let root = ks("root", "./flux", &[]);
        let a = ks("a", "./apps/a", &[]);
        let b = ks("b", "./apps/b", &["a"]);
        let a_cycle = ks("a", "./apps/a", &["b"]);
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
        let base = snapshot(&[("clusters/c/root.yaml", &root), ("flux/a.yaml", &a), ("flux/b.yaml", &b), ("apps/a/cm.yaml", cm), ("apps/b/cm.yaml", cm)]);
        let head = snapshot(&[("clusters/c/root.yaml", &root), ("flux/a.yaml", &a_cycle), ("flux/b.yaml", &b), ("apps/a/cm.yaml", cm), ("apps/b/cm.yaml", cm)]);
        let report = compare(&base, &head, sides(), None).unwrap();
        assert_eq!(report.changed_files, ["flux/a.yaml"]);
        let c = &report.clusters[0];
        assert_eq!(c.objects.changed.len(), 1);
        assert_eq!(c.objects.changed[0].fields, [FieldChange { field: "dependsOn", before: None, after: Some("Kustomization/flux-system/b".into()) }]);
        assert_eq!(c.edges.added, [Edge { from: id("a"), to: id("b"), kind: EdgeKind::DependsOn }]);
        assert!(c.levels.iter().any(|l| l.id == id("a") && l.before == Some(1) && l.after.is_none()));
        assert!(c.diagnostics.introduced.iter().any(|d| d.code == Code::DependencyCycle));
        assert!(report.errors_introduced >= 1 && report.verdict.starts_with("introduces"), "{}", report.verdict);
        // a changed; root applies a's new manifest (its build changed), and b waits on a.
        assert_eq!(c.blast_radius.changed, [id("a"), id("root")]);
        assert_eq!(c.builds.iter().map(|b| b.kustomization.clone()).collect::<Vec<_>>(), [id("root")]);
        assert_eq!(c.blast_radius.downstream, [id("b")]);
    }

    #[test]
    fn a_cluster_added_is_all_added_and_one_removed_all_removed() {
        let one = ks("one", "./apps", &[]);
        let two = ks("two", "./apps", &[]);
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
        let base = snapshot(&[("clusters/one/root.yaml", &one), ("apps/cm.yaml", cm)]);
        let head = snapshot(&[("clusters/two/root.yaml", &two), ("apps/cm.yaml", cm)]);
        let report = compare(&base, &head, sides(), None).unwrap();
        let status: Vec<(&str, Status)> = report.clusters.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(status, [("two", Status::Added), ("one", Status::Removed)]);
        let flux_system = ObjectId::new(model::Kind::GitRepository, "flux-system", "flux-system");
        assert_eq!(report.clusters[0].objects.added.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [id("two"), flux_system.clone()]);
        assert_eq!(report.clusters[1].objects.removed.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [id("one"), flux_system]);
        assert!(report.clusters[0].critical_path.before.is_none() && report.clusters[1].critical_path.after.is_none());
        assert!(compare(&base, &head, sides(), Some("three")).is_err());
    }

    #[test]
    fn a_changed_manifest_hits_the_builds_that_hold_it() {
        let root = ks("root", "./flux", &[]);
        let a = ks("a", "./apps/a", &[]);
        let b = ks("b", "./apps/b", &["a"]);
        let cm = |v: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  v: {v}\n");
        let (one, two) = (cm("1"), cm("2"));
        let base = snapshot(&[("clusters/c/root.yaml", &root), ("flux/a.yaml", &a), ("flux/b.yaml", &b), ("apps/a/cm.yaml", &one)]);
        let head = snapshot(&[("clusters/c/root.yaml", &root), ("flux/a.yaml", &a), ("flux/b.yaml", &b), ("apps/a/cm.yaml", &two)]);
        let report = compare(&base, &head, sides(), None).unwrap();
        let c = &report.clusters[0];
        assert!(c.objects.changed.is_empty() && c.edges.added.is_empty());
        assert_eq!(c.blast_radius.changed, [id("a")]);
        assert_eq!(c.blast_radius.downstream, [id("b")]);
        assert_eq!(c.status, Status::Changed);
    }
}
