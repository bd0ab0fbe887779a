//! Compiler-style diagnostics and a summary, for `fluxgraph check`.

use std::collections::BTreeMap;
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
        "cluster {}: {}, {}{}, {}; {}; {}; worst-case cold start {}\n  critical path ({}): {}\n",
        view.cluster.name,
        counted(count(Kind::Kustomization), "Kustomization"),
        counted(count(Kind::HelmRelease), "HelmRelease"),
        match count(Kind::ResourceSet) {
            0 => String::new(),
            n => format!(", {}", counted(n, "ResourceSet")),
        },
        counted(sources, "source"),
        counted(a.waves.len(), "level"),
        counted(a.cycles.len(), "cycle"),
        cold_start(view),
        counted(a.critical_path.nodes.len(), "object") + if a.cold_start.never > 0 { ", of those that reconcile" } else { "" },
        if path.is_empty() { "-".into() } else { path },
    )
}

/// The worst-case cold start, or why there is none: behind a cycle, objects never get Ready, and a
/// time computed over the rest would read as if the cluster came up.
pub fn cold_start(view: &ClusterView) -> String {
    let a = &view.analysis;
    match a.cold_start.never {
        0 => format!("{} ({} with 4 workers per controller)", a.weighted_path.total, a.cold_start.total),
        n => format!("never: {} on or behind a cycle", counted(n, "object")),
    }
}

/// Two diagnostics are one finding when they say the same thing at the same place.
type FindingKey<'a> = (Severity, &'a str, u32, crate::diagnostic::Code, &'a str);

/// One finding, with where it was found: the names of the clusters, and whether outside every cluster.
struct Finding<'a> {
    diagnostic: &'a Diagnostic,
    clusters: Vec<&'a str>,
    outside: bool,
}

impl Finding<'_> {
    /// How many times it counts: once per cluster it is found in, and once outside.
    fn count(&self) -> usize {
        self.clusters.len() + usize::from(self.outside)
    }
}

/// The whole report of `fluxgraph check`: each finding once, each cluster's summary, and a count
/// line that counts a finding once per cluster it is in and, when there are several clusters,
/// names them.
pub fn report<'a>(snapshot: &'a Snapshot, views: &[&'a ClusterView], include_outside: bool) -> String {
    let mut findings: BTreeMap<FindingKey<'a>, Finding<'a>> = BTreeMap::new();
    let mut add = |d: &'a Diagnostic, cluster: Option<&'a str>| {
        let key = (d.severity, d.file.as_str(), d.line, d.code, d.message.as_str());
        let finding = findings.entry(key).or_insert(Finding { diagnostic: d, clusters: Vec::new(), outside: false });
        match cluster {
            Some(name) if !finding.clusters.contains(&name) => finding.clusters.push(name),
            Some(_) => {}
            None => finding.outside = true,
        }
    };
    for v in views {
        for d in &v.analysis.diagnostics {
            add(d, Some(v.cluster.name.as_str()));
        }
    }
    if include_outside {
        for d in &snapshot.diagnostics {
            add(d, None);
        }
    }
    let several = views.len() > 1;
    let mut out = String::new();
    for finding in findings.values() {
        out.push_str(&diagnostic(finding.diagnostic));
        if several && !finding.clusters.is_empty() {
            let noun = if finding.clusters.len() == 1 { "cluster" } else { "clusters" };
            writeln!(out, "   = {noun}: {}", and_list(&finding.clusters)).unwrap();
        }
        out.push('\n');
    }
    for v in views {
        out.push_str(&cluster_summary(v));
    }
    let counts: Vec<String> = [(Severity::Error, "error"), (Severity::Warning, "warning"), (Severity::Info, "info")]
        .into_iter()
        .map(|(severity, noun)| {
            let of_severity: Vec<&Finding> = findings.values().filter(|f| f.diagnostic.severity == severity).collect();
            let n = of_severity.iter().map(|f| f.count()).sum();
            let count = if severity == Severity::Info { format!("{n} info") } else { counted(n, noun) };
            if several && n > 0 { format!("{count}, {}", places(views, &of_severity)) } else { count }
        })
        .collect();
    writeln!(out, "{}", counts.join(if several { "; " } else { ", " })).unwrap();
    out
}

/// Where findings were found, clusters in the order they are listed: "in clusters a and b",
/// "in cluster a and outside any cluster", "outside any cluster".
fn places(views: &[&ClusterView], findings: &[&Finding]) -> String {
    let clusters: Vec<&str> = views
        .iter()
        .map(|v| v.cluster.name.as_str())
        .filter(|name| findings.iter().any(|f| f.clusters.contains(name)))
        .collect();
    let outside = findings.iter().any(|f| f.outside);
    match (clusters.as_slice(), outside) {
        ([], _) => "outside any cluster".to_string(),
        ([one], false) => format!("in cluster {one}"),
        ([one], true) => format!("in cluster {one} and outside any cluster"),
        (many, false) => format!("in clusters {}", and_list(many)),
        (many, true) => format!("in clusters {}, and outside any cluster", and_list(many)),
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "1 level", "2 levels", "0 levels".
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    fn last_line(report: &str) -> &str {
        report.lines().last().unwrap()
    }

    #[test]
    fn counts_are_plural_only_when_not_one() {
        assert_eq!(counted(0, "level"), "0 levels");
        assert_eq!(counted(1, "level"), "1 level");
        assert_eq!(counted(2, "level"), "2 levels");
        assert_eq!(counted(1, "cycle"), "1 cycle");
        assert_eq!(and_list(&["a"]), "a");
        assert_eq!(and_list(&["a", "b"]), "a and b");
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
    }

    #[test]
    fn one_cluster_counts_without_naming_it() {
        let snapshot = fixture::one_cluster();
        let views: Vec<&ClusterView> = snapshot.clusters.iter().collect();
        let report = report(&snapshot, &views, true);
        assert!(report.contains("cluster a: 3 Kustomizations, 0 HelmReleases, 1 source; 3 levels; 0 cycles;"), "{report}");
        assert!(!report.contains("= cluster"), "{report}");
        // web's missing dependency; what only cluster b applies, outside this one, said once for
        // its folder; and the orphan.
        assert!(report.contains("./clusters/b/ holds 4 Flux objects"), "{report}");
        assert_eq!(last_line(&report), "1 error, 2 warnings, 0 info");
    }

    #[test]
    fn several_clusters_count_each_clusters_findings_and_name_the_clusters() {
        let snapshot = fixture::two_clusters();
        let views: Vec<&ClusterView> = snapshot.clusters.iter().collect();
        let report = report(&snapshot, &views, true);
        // web's missing dependency is one finding in both clusters: shown once, counted twice.
        assert_eq!(report.matches("error[missing-dependency]").count(), 1, "{report}");
        assert!(report.contains("   = object: Kustomization/flux-system/web\n   = clusters: a and b\n"), "{report}");
        assert!(report.contains("   = cluster: b\n"), "lost's path-not-found: {report}");
        assert_eq!(last_line(&report), "3 errors, in clusters a and b; 1 warning, outside any cluster; 0 info");

        // Cluster b alone, as `--cluster b` asks: the findings outside every cluster are left out.
        let report = super::report(&snapshot, &views[1..], false);
        assert_eq!(last_line(&report), "2 errors, 0 warnings, 0 info");
    }
}
