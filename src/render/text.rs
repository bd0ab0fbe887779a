//! Compiler-style diagnostics and a summary, for `fluxgraph check`.

use std::fmt::Write;

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Kind;
use crate::snapshot::{ClusterView, Snapshot};

pub fn diagnostic(d: &Diagnostic) -> String {
    let mut out = String::new();
    let severity = d.severity.as_str();
    writeln!(out, "{severity}[{}]: {}", d.code, d.message).unwrap();
    let location = if d.line > 0 { format!("{}:{}", d.file, d.line) } else { d.file.clone() };
    if !location.is_empty() {
        writeln!(out, "  --> {location}").unwrap();
    }
    if let Some(object) = &d.object {
        writeln!(out, "   = object: {object}").unwrap();
    }
    if let Some(hint) = &d.hint {
        writeln!(out, "   = hint: {hint}").unwrap();
    }
    out
}

/// One line per cluster: what it holds, how deep it is, how long it takes.
pub fn cluster_summary(view: &ClusterView) -> String {
    let count = |k: Kind| view.cluster.objects.keys().filter(|id| id.kind == k).count();
    let sources = view.cluster.objects.keys().filter(|id| id.kind.is_source()).count();
    let a = &view.analysis;
    // Kustomizations by name, anything else with its kind (a HelmRelease often shares its name).
    let path = a
        .critical_path
        .nodes
        .iter()
        .map(|id| if id.kind == Kind::Kustomization { id.name.clone() } else { format!("{}/{}", id.kind, id.name) })
        .collect::<Vec<_>>()
        .join(" → ");
    format!(
        "cluster {}: {} Kustomizations, {} HelmReleases, {} sources; {} levels; {} cycles; worst-case cold start {} ({} with 4 workers per controller)\n  critical path ({} objects): {}\n",
        view.cluster.name,
        count(Kind::Kustomization),
        count(Kind::HelmRelease),
        sources,
        a.waves.len(),
        a.cycles.len(),
        a.weighted_path.total,
        a.cold_start.total,
        a.critical_path.nodes.len(),
        if path.is_empty() { "-".into() } else { path },
    )
}

/// The whole report of `fluxgraph check`.
pub fn report(snapshot: &Snapshot, views: &[&ClusterView], include_outside: bool) -> String {
    let mut out = String::new();
    let mut diagnostics: Vec<&Diagnostic> = views.iter().flat_map(|v| v.analysis.diagnostics.iter()).collect();
    if include_outside {
        diagnostics.extend(&snapshot.diagnostics);
    }
    diagnostics.sort_by(|a, b| (a.severity, &a.file, a.line, a.code).cmp(&(b.severity, &b.file, b.line, b.code)));
    diagnostics.dedup();
    for d in &diagnostics {
        out.push_str(&diagnostic(d));
        out.push('\n');
    }
    for v in views {
        out.push_str(&cluster_summary(v));
    }
    let n = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
    let (errors, warnings, infos) = (n(Severity::Error), n(Severity::Warning), n(Severity::Info));
    writeln!(out, "{errors} error{}, {warnings} warning{}, {infos} info", plural(errors), plural(warnings)).unwrap();
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
