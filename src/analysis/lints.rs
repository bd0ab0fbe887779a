//! Lints: diagnostics that need the whole graph — cycles, dependencies and sources that
//! point nowhere, objects with two owners, and dependencies that reconcile but probably
//! not as meant (false-ready, suspended, redundant).

use std::collections::{BTreeMap, BTreeSet};

use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use super::cycles::Cycle;
use super::prerequisites::{Prerequisites, Wait};
use crate::cluster::Cluster;
use crate::diagnostic::{Code, Diagnostic};
use crate::graph::{Graph, depends_on_target};
use crate::model::{FluxObject, Kind, ObjectId, Spec};

pub fn run(cluster: &Cluster, graph: &Graph, pre: &Prerequisites, cycles: &[Cycle]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for cycle in cycles {
        out.push(cycle_diagnostic(cluster, cycle));
    }
    // Each object is looked at on its own: on every core, in the objects' order.
    let per_object: Vec<Vec<Diagnostic>> = cluster.objects.par_iter().map(|(_, object)| object_lints(cluster, object)).collect();
    out.extend(per_object.into_iter().flatten());
    redundant(cluster, graph, pre, &mut out);
    out
}

/// What one object's own fields say: dependencies and sources that point nowhere or wait
/// wrongly, and more than one Kustomization applying it.
fn object_lints(cluster: &Cluster, object: &FluxObject) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    dependencies(cluster, object, &mut out);
    sources(cluster, object, &mut out);
    if let Some(parents) = cluster.parents.get(&object.id).filter(|p| p.len() > 1) {
        let names = parents.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        // Never an error: every Kustomization applies with kustomize-controller's field
        // manager, so the object flips between definitions and nothing stops.
        let d = if let Some(fields) = cluster.conflicting.get(&object.id) {
            Diagnostic::warning(
                Code::MultipleOwners,
                &object.file,
                object.line,
                format!(
                    "{} is applied by {} Kustomizations with different definitions: {names}; they differ in {}, and each reconcile overwrites the other's",
                    object.id,
                    parents.len(),
                    fields.join(", ")
                ),
            )
        } else {
            Diagnostic::warning(
                Code::MultipleOwners,
                &object.file,
                object.line,
                format!("{} is applied, identically, by {} Kustomizations: {names}; ownership flips between them and removing it from one prunes it for all", object.id, parents.len()),
            )
        };
        out.push(d.on(&object.id).with_hint("keep it in the build of one Kustomization only"));
    }
    out
}

/// Where `from` says `dependsOn: to`: its file and the entry's line.
pub fn cut_location(cluster: &Cluster, from: &ObjectId, to: &ObjectId) -> Option<String> {
    let object = cluster.objects.get(from)?;
    let entry = object
        .depends_on()
        .iter().find(|r| r.name == to.name && r.namespace.as_deref().is_none_or(|n| n == to.namespace))?;
    (!object.file.is_empty()).then(|| format!("{}:{}", object.file, if entry.line > 0 { entry.line } else { object.line }))
}

fn cycle_diagnostic(cluster: &Cluster, cycle: &Cycle) -> Diagnostic {
    let first = &cycle.members[0];
    let object = &cluster.objects[first];
    let mut text: Vec<String> = cycle.members.iter().map(ToString::to_string).collect();
    text.push(first.to_string());
    let (from, to) = &cycle.cut;
    let why = cycle.edges.iter().find(|e| &e.0 == from && &e.1 == to).map(|e| e.2);
    let hint = match why {
        Some(Wait::Parent) => format!("{from} is applied by {to}, which waits on it: move {from} out of {to}'s path or drop the dependsOn"),
        _ => format!("remove `dependsOn: {}` from {from}{}", to.name, cut_location(cluster, from, to).map_or(String::new(), |at| format!(" ({at})"))),
    };
    Diagnostic::error(
        Code::DependencyCycle,
        &object.file,
        object.line,
        format!("dependency cycle: {}; none of these ever reconciles", text.join(" -> ")),
    )
    .on(first)
    .with_hint(hint)
}

fn dependencies(cluster: &Cluster, object: &FluxObject, out: &mut Vec<Diagnostic>) {
    for r in object.depends_on() {
        let target = depends_on_target(object, r);
        let Some(found) = cluster.objects.get(&target) else {
            if let Some(d) = unresolved(cluster, object, &target, r.line, "dependsOn") {
                out.push(d);
                continue;
            }
            // It may be applied by a Kustomization of the cluster that reads another repository:
            // what that applies is not seen here, and a live cluster shows the target is there.
            if let Some((applier, source)) = external_applier(cluster, &target) {
                out.push(
                    Diagnostic::info(
                        Code::MissingDependency,
                        &object.file,
                        r.line,
                        format!("dependsOn {target} is not found here, but may be applied by {applier}, which reads {source}"),
                    )
                    .on(&object.id),
                );
                continue;
            }
            // It may be in a file the cluster applies but that cannot be read.
            if let Some(file) = cluster.unreadable.iter().next() {
                out.push(
                    Diagnostic::info(Code::MissingDependency, &object.file, r.line, format!("dependsOn {target} is not found, but may be in {file}, which cannot be read"))
                        .on(&object.id),
                );
                continue;
            }
            let d = Diagnostic::error(
                Code::MissingDependency,
                &object.file,
                r.line,
                format!("dependsOn {target}: no such object; {} waits for it forever", object.id),
            )
            .on(&object.id);
            out.push(match near_miss(cluster, &target) {
                Some(hint) => d.with_hint(hint),
                None => d,
            });
            continue;
        };
        // A ResourceSet's entry without `ready: true` waits only for the object to exist.
        if found.suspended() && r.ready {
            out.push(
                Diagnostic::warning(
                    Code::SuspendedDependency,
                    &object.file,
                    r.line,
                    format!("dependsOn {target}, which is suspended: {} waits until it is resumed", object.id),
                )
                .on(&object.id),
            );
        }
        if let Spec::Kustomization(k) = &found.spec {
            if !k.waits() && !found.implied && r.ready {
                out.push(
                    Diagnostic::warning(
                        Code::FalseReadyDependency,
                        &object.file,
                        r.line,
                        format!("dependsOn {target}, which has neither wait: true nor healthChecks, so it is Ready as soon as it is applied, before what it deploys is running"),
                    )
                    .on(&object.id)
                    .with_hint(format!("set spec.wait: true on {target}, or add healthChecks")),
                );
            }
        }
    }
}

/// A Kustomization of the cluster reading another repository whose objects may land in
/// `target`'s namespace — its targetNamespace, or, without one, its own namespace — with what
/// it reads. Flux's own manifests are not such a repository: they hold Flux, nothing else.
fn external_applier<'c>(cluster: &'c Cluster, target: &ObjectId) -> Option<(&'c ObjectId, &'c str)> {
    cluster.external.iter().find_map(|(id, source)| {
        if crate::cluster::is_flux_distribution(source) {
            return None;
        }
        let k = cluster.objects.get(id)?.kustomization()?;
        (k.target_namespace.as_deref().unwrap_or(&id.namespace) == target.namespace).then_some((id, source.as_str()))
    })
}

/// A reference that still holds a variable whose value is not known here (from a Secret,
/// or a source outside the repository) may be right in the cluster: shown, never blamed.
fn unresolved(cluster: &Cluster, object: &FluxObject, target: &ObjectId, line: u32, what: &str) -> Option<Diagnostic> {
    let open = |s: &str| s.contains("${");
    (cluster.unresolved.contains(&object.id) && (open(&target.name) || open(&target.namespace))).then(|| {
        Diagnostic::info(
            Code::UnresolvedVariable,
            &object.file,
            line,
            format!("{what} {target} depends on a variable whose value is not known here; it is not checked"),
        )
        .on(&object.id)
    })
}

/// A hint when a missing dependency exists under another namespace or kind.
fn near_miss(cluster: &Cluster, target: &ObjectId) -> Option<String> {
    let others: Vec<&ObjectId> = cluster.objects.keys().filter(|id| id.name == target.name && *id != target).collect();
    let other = others.first()?;
    Some(if other.kind != target.kind {
        format!(
            "{other} exists, but a {} can only depend on a {}: Flux never sees a dependency across kinds as Ready",
            target.kind, target.kind
        )
    } else {
        format!("{other} exists in namespace {}: add `namespace: {}` to the dependsOn entry", other.namespace, other.namespace)
    })
}

fn sources(cluster: &Cluster, object: &FluxObject, out: &mut Vec<Diagnostic>) {
    for (kind, r) in object.source_refs() {
        let source = r.resolve(kind, &object.id.namespace);
        if cluster.objects.contains_key(&source) || (kind == Kind::ExternalArtifact && cluster.artifact_spec(&source).is_some()) {
            continue;
        }
        if let Some(d) = unresolved(cluster, object, &source, r.line, "source") {
            out.push(d);
            continue;
        }
        out.push(
            Diagnostic::error(
                Code::SourceNotFound,
                &object.file,
                r.line,
                format!("source {source} is not in this cluster; {} cannot fetch anything", object.id),
            )
            .on(&object.id),
        );
    }
}

/// A dependsOn target already implied by another dependsOn chain of the same object: reported
/// once per (object, dependsOn entry), naming one sibling that implies it (the first found), not
/// once per sibling (2,000 Kustomizations with 50 dependsOn each gave 2 million findings).
///
/// One walk per object from all its dependsOn targets at once, each node remembering the
/// target it was first reached from: O(V · (V + E)) in all.
fn redundant(cluster: &Cluster, graph: &Graph, pre: &Prerequisites, out: &mut Vec<Diagnostic>) {
    let depends = |x: usize| pre.waits_on[x].iter().filter(move |e| e.1 == Wait::DependsOn && e.0 != x).map(|e| e.0);
    // Components come prerequisites first: what a node waits on, however far, sits in its own
    // component or an earlier one. A node before every direct target's component reaches none
    // of them, so its chain is not followed.
    let mut order = vec![0usize; pre.len()];
    for (i, component) in pre.components.iter().enumerate() {
        for &n in component {
            order[n] = i;
        }
    }
    let mut mark = vec![0u32; pre.len()];
    let mut generation = 0u32;
    for x in 0..pre.len() {
        let direct: BTreeSet<usize> = depends(x).collect();
        if direct.len() < 2 {
            continue;
        }
        let earliest = direct.iter().map(|&d| order[d]).min().unwrap_or(0);
        generation += 1;
        // (node, the direct target whose chain reached it)
        let mut stack: Vec<(usize, usize)> = direct.iter().flat_map(|&via| depends(via).map(move |y| (y, via))).collect();
        stack.reverse();
        let mut implied: BTreeMap<usize, usize> = BTreeMap::new();
        while let Some((y, via)) = stack.pop() {
            if mark[y] == generation || y == x || order[y] < earliest {
                continue;
            }
            // A target reached only through its own chain (a cycle) is not implied by a sibling:
            // leave it unmarked so that a sibling's chain may still reach it.
            if y == via {
                continue;
            }
            mark[y] = generation;
            if direct.contains(&y) {
                implied.entry(y).or_insert(via);
            }
            stack.extend(depends(y).map(|z| (z, via)));
        }
        for (y, via) in implied {
            let object = &cluster.objects[graph.id(NodeIndex::new(x))];
            let target = graph.id(NodeIndex::new(y));
            let via = graph.id(NodeIndex::new(via));
            let line = object
                .depends_on()
                .iter()
                .find(|r| r.name == target.name)
                .map_or(object.line, |r| r.line);
            out.push(
                Diagnostic::info(
                    Code::RedundantDependency,
                    &object.file,
                    line,
                    format!("dependsOn {target} is implied: {via} already waits on it"),
                )
                .on(&object.id),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::diagnostic::Severity;
    use crate::load::Repository;
    use crate::snapshot::Snapshot;

    /// A Kustomization of the test cluster: its name, path, extra spec lines.
    fn ks(name: &str, path: &str, spec: &str) -> String {
        format!("---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: {path}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n{spec}")
    }

    const SYNC: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  url: https://example.com/fleet\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  path: ./clusters/test\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

    /// The lints of the one cluster of a repository holding `clusters/test/ks.yaml` (and the
    /// other files given), as (code, severity, object).
    fn lints(ks_file: &str, others: &[(&str, &str)]) -> Vec<(String, Severity, String)> {
        let mut files = vec![("clusters/test/flux-system/gotk-sync.yaml", SYNC), ("clusters/test/ks.yaml", ks_file), ("apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n")];
        files.extend_from_slice(others);
        let snapshot = Snapshot::from_repository(Repository::from_files(Path::new("/r"), files), None).expect("a snapshot");
        let view = &snapshot.clusters[0];
        let mut out: Vec<(String, Severity, String)> = super::run(&view.cluster, &view.graph, &view.analysis.prerequisites, &view.analysis.cycles)
            .into_iter()
            .map(|d| (d.code.to_string(), d.severity, d.object.map(|o| o.name).unwrap_or_default()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn each_lint_on_the_smallest_repository_that_shows_it() {
        use Severity::{Error, Info, Warning};
        let wait = "  wait: true\n";
        let cases: Vec<(&str, String, Vec<(&str, Severity, &str)>)> = vec![
            ("nothing to say", ks("a", "./apps", wait) + &ks("b", "./apps", &format!("{wait}  dependsOn:\n    - name: a\n")), vec![]),
            ("a cycle", ks("a", "./apps", &format!("{wait}  dependsOn:\n    - name: b\n")) + &ks("b", "./apps", &format!("{wait}  dependsOn:\n    - name: a\n")), vec![("dependency-cycle", Error, "a")]),
            ("a dependsOn that finds nothing", ks("a", "./apps", "  dependsOn:\n    - name: nowhere\n"), vec![("missing-dependency", Error, "a")]),
            ("a suspended dependency", ks("a", "./apps", &format!("{wait}  suspend: true\n")) + &ks("b", "./apps", "  dependsOn:\n    - name: a\n"), vec![("suspended-dependency", Warning, "b")]),
            ("a dependency Ready before its objects", ks("a", "./apps", "") + &ks("b", "./apps", "  dependsOn:\n    - name: a\n"), vec![("false-ready-dependency", Warning, "b")]),
            (
                "a dependency another one implies",
                ks("a", "./apps", wait) + &ks("b", "./apps", &format!("{wait}  dependsOn:\n    - name: a\n")) + &ks("c", "./apps", &format!("{wait}  dependsOn:\n    - name: a\n    - name: b\n")),
                vec![("redundant-dependency", Info, "c")],
            ),
            ("a source that does not exist", ks("a", "./apps", wait).replace("    name: flux-system\n", "    name: elsewhere\n"), vec![("source-not-found", Error, "a")]),
        ];
        for (name, file, expected) in cases {
            let expected: Vec<(String, Severity, String)> = expected.into_iter().map(|(c, s, o)| (c.to_string(), s, o.to_string())).collect();
            assert_eq!(lints(&file, &[]), expected, "{name}");
        }
    }

    /// A dependsOn target that is not here but that a Kustomization reading another repository may
    /// put in its namespace is not blamed (a live cluster shows it is there); one nothing can put
    /// there is, and Flux's own manifests put nothing but Flux anywhere.
    #[test]
    fn a_dependency_another_repository_may_apply_is_not_blamed() {
        let (status, whole) = crate_check("external-source-may-apply-dependency");
        let app = crate::model::ObjectId::new(crate::model::Kind::Kustomization, "default", "app");
        let found: Vec<(Severity, bool)> = whole.iter().filter(|d| d.code.to_string() == "missing-dependency" && d.object.as_ref() == Some(&app)).map(|d| (d.severity, d.message.contains("volsync"))).collect();
        assert_eq!(found, [(Severity::Error, false), (Severity::Info, true)]);
        assert_eq!(status, 1);
    }

    /// The diagnostics of a case repository under `tests/repos/`, and whether any is an error.
    fn crate_check(case: &str) -> (i32, Vec<crate::diagnostic::Diagnostic>) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repos").join(case);
        let snapshot = Snapshot::read(&root, None).expect("a snapshot");
        let mut all: Vec<crate::diagnostic::Diagnostic> = snapshot.all_diagnostics().cloned().collect();
        all.sort_by_key(|d| d.severity);
        let status = if all.iter().any(|d| d.severity == Severity::Error) { 1 } else { 0 };
        (status, all)
    }

    #[test]
    fn an_object_two_kustomizations_apply_is_a_warning_that_says_whether_they_agree() {
        let owners = ks("a", "./shared", "  wait: true\n") + &ks("b", "./shared", "  wait: true\n");
        let child = ks("child", "./apps", "  wait: true\n");
        let same = lints(&owners, &[("shared/ks.yaml", &child)]);
        assert_eq!(same, [("multiple-owners".to_string(), Severity::Warning, "child".to_string())]);
        let two = ks("a", "./one", "  wait: true\n") + &ks("b", "./two", "  wait: true\n");
        let other = child.replace("interval: 10m", "interval: 1h");
        let files = [("one/ks.yaml", child.as_str()), ("two/ks.yaml", other.as_str())];
        let repo = Repository::from_files(Path::new("/r"), [("clusters/test/flux-system/gotk-sync.yaml", SYNC), ("clusters/test/ks.yaml", two.as_str()), ("apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")].into_iter().chain(files));
        let snapshot = Snapshot::from_repository(repo, None).expect("a snapshot");
        let view = &snapshot.clusters[0];
        let found = super::run(&view.cluster, &view.graph, &view.analysis.prerequisites, &view.analysis.cycles);
        let owners: Vec<&str> = found.iter().filter(|d| d.code.to_string() == "multiple-owners").map(|d| d.message.as_str()).collect();
        assert_eq!(owners.len(), 1, "{owners:?}");
        assert!(owners[0].contains("with different definitions") && owners[0].contains("spec.interval"), "{}", owners[0]);
    }
}
