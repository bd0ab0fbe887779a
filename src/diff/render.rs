//! Renders a diff [`Report`]: plain text for a terminal, Markdown for a pull-request comment
//! (a verdict, a table, the critical path before and after, details folded away, links to
//! each changed object's view when the server's public URL is known), JSON for tools.

use std::fmt::Write;

use super::builds::{BuildChanges, VersionChange};
use super::{ClusterDiff, Compared, DiagnosticChanges, PathSummary, Report, Status};
use crate::diagnostic::Diagnostic;
use crate::model::{Duration, ObjectId};
use crate::model::link::encode;

/// The JSON document.
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("a report serialises");
    text.push('\n');
    text
}

pub(crate) fn seconds(s: u64) -> String {
    if s == 0 { "0s".to_string() } else { Duration::from_secs(s).to_string() }
}

pub(crate) fn signed_seconds(delta: i64) -> String {
    match delta {
        0 => "±0s".to_string(),
        d if d > 0 => format!("+{}", seconds(d as u64)),
        d => format!("-{}", seconds(d.unsigned_abs())),
    }
}

fn level(l: Option<u32>) -> String {
    l.map_or_else(|| "none (cycle)".to_string(), |l| l.to_string())
}

pub(crate) fn side(s: &super::Side) -> String {
    match &s.commit {
        Some(commit) => format!("{} ({})", s.name, &commit[..commit.len().min(7)]),
        None => s.name.clone(),
    }
}

pub(crate) fn path_line(p: &Option<PathSummary>) -> String {
    match p {
        None => "(no cluster)".to_string(),
        Some(p) if p.nodes.is_empty() => "(empty)".to_string(),
        Some(p) => format!("{} hops, {} worst case: {}", p.hops, seconds(p.worst_case_seconds), p.nodes.iter().map(short).collect::<Vec<_>>().join(" → ")),
    }
}

/// A Kustomization by its name, anything else by kind and name.
fn short(id: &ObjectId) -> String {
    if id.kind == crate::model::Kind::Kustomization { id.name.clone() } else { format!("{}/{}", id.kind, id.name) }
}

fn hops(c: &Compared<PathSummary>) -> String {
    let one = |p: &Option<PathSummary>| p.as_ref().map_or("–".to_string(), |p| format!("{} hops, {}", p.hops, seconds(p.worst_case_seconds)));
    if c.before == c.after { one(&c.after) } else { format!("{} → {}", one(&c.before), one(&c.after)) }
}

pub(crate) fn diagnostic_line(d: &Diagnostic) -> String {
    let at = if d.file.is_empty() { String::new() } else if d.line > 0 { format!("{}:{}: ", d.file, d.line) } else { format!("{}: ", d.file) };
    format!("{}[{}] {at}{}", d.severity.as_str(), d.code, d.message)
}

/// Plain text, for a terminal.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "fluxgraph diff {} → {}", side(&report.base), side(&report.head));
    let _ = writeln!(out, "{}", report.verdict);
    let _ = writeln!(out, "{} changed file{}", report.changed_files.len(), if report.changed_files.len() == 1 { "" } else { "s" });
    for c in &report.clusters {
        let _ = writeln!(out, "\ncluster {} ({})", c.name, status(c.status));
        if c.is_empty() {
            continue;
        }
        let o = &c.objects;
        let _ = writeln!(out, "  objects: {} added, {} removed, {} changed, {} moved", o.added.len(), o.removed.len(), o.changed.len(), o.moved.len());
        for a in &o.added {
            let _ = writeln!(out, "    + {}  {}", a.id, at(&a.file, a.line));
        }
        for r in &o.removed {
            let _ = writeln!(out, "    - {}  {}", r.id, at(&r.file, r.line));
        }
        for ch in &o.changed {
            let _ = writeln!(out, "    ~ {}  {}", ch.id, at(&ch.file, ch.line));
            for f in &ch.fields {
                let _ = writeln!(out, "        {f}");
            }
        }
        for m in &o.moved {
            let _ = writeln!(out, "    > {}  moved from {} to {}", m.id, m.from, m.to);
        }
        builds_text(&mut out, c);
        let _ = writeln!(out, "  edges: {} added, {} removed", c.edges.added.len(), c.edges.removed.len());
        for (mark, edges) in [("+", &c.edges.added), ("-", &c.edges.removed)] {
            for e in edges {
                let _ = writeln!(out, "    {mark} {} {} {}", e.from, e.kind, e.to);
            }
        }
        if !c.levels.is_empty() {
            let _ = writeln!(out, "  levels: {} changed", c.levels.len());
            for l in &c.levels {
                let _ = writeln!(out, "    {}: {} → {}", l.id, level(l.before), level(l.after));
            }
        }
        let _ = writeln!(out, "  critical path before: {}", path_line(&c.critical_path.before));
        let _ = writeln!(out, "  critical path after:  {}", path_line(&c.critical_path.after));
        let cs = &c.cold_start;
        let _ = writeln!(out, "  cold start: {} → {} ({})", seconds(cs.before_seconds), seconds(cs.after_seconds), signed_seconds(cs.delta_seconds));
        diagnostics_text(&mut out, "  ", &c.diagnostics);
        let r = &c.blast_radius;
        let _ = writeln!(out, "  blast radius: {} object{} ({} changed, {} downstream)", r.count, if r.count == 1 { "" } else { "s" }, r.changed.len(), r.downstream.len());
        for id in &r.changed {
            let _ = writeln!(out, "    * {id}");
        }
        for id in &r.downstream {
            let _ = writeln!(out, "    ↳ {id}");
        }
    }
    if !report.diagnostics.introduced.is_empty() || !report.diagnostics.resolved.is_empty() {
        let _ = writeln!(out, "\noutside every cluster");
        diagnostics_text(&mut out, "  ", &report.diagnostics);
    }
    out
}

/// What the change does in the cluster: the versions that move, then each Kustomization's
/// built objects added, removed and changed, field by field.
fn builds_text(out: &mut String, c: &ClusterDiff) {
    if !c.versions.is_empty() {
        let _ = writeln!(out, "  versions: {} changed", c.versions.len());
        for v in &c.versions {
            let _ = writeln!(out, "    {}", version_line(v));
        }
    }
    if c.builds.is_empty() {
        return;
    }
    let n = c.built_objects_changed();
    let _ = writeln!(out, "  built objects: {n} change{} in the cluster, applied by {} Kustomization{}", if n == 1 { "s" } else { "" }, c.builds.len(), if c.builds.len() == 1 { "" } else { "s" });
    for b in &c.builds {
        let _ = writeln!(out, "    {} ({})", b.kustomization, build_status(b));
        for a in &b.added {
            let _ = writeln!(out, "      + {}  {}", a.id, at(&a.file, a.line));
        }
        for r in &b.removed {
            let _ = writeln!(out, "      - {}  {}", r.id, at(&r.file, r.line));
        }
        for ch in &b.changed {
            let _ = writeln!(out, "      ~ {}  {}", ch.id, at(&ch.file, ch.line));
            for f in &ch.fields {
                let _ = writeln!(out, "          {f}");
            }
            if ch.more > 0 {
                let _ = writeln!(out, "          … and {} more field{}", ch.more, if ch.more == 1 { "" } else { "s" });
            }
        }
    }
}

/// `chart podinfo: 6.5.0 → 6.6.0 (HelmRelease/podinfo/podinfo)`, marked when major.
pub(crate) fn version_line(v: &VersionChange) -> String {
    let kind = v.kind.as_str();
    let major = if v.major { " (major)" } else { "" };
    format!("{kind} {}: {} → {}{major}  ({}, {})", v.name, v.before, v.after, v.object, v.path)
}

/// Whether a Kustomization's build is new, gone, or changed.
fn build_status(b: &BuildChanges) -> &'static str {
    match b.status {
        Status::Added => "new build",
        Status::Removed => "no longer built",
        _ => "build changed",
    }
}

fn diagnostics_text(out: &mut String, indent: &str, d: &DiagnosticChanges) {
    for (what, list) in [("introduced", &d.introduced), ("resolved", &d.resolved)] {
        if !list.is_empty() {
            let _ = writeln!(out, "{indent}diagnostics {what}: {}", list.len());
            for d in list {
                let _ = writeln!(out, "{indent}  {}", diagnostic_line(d));
            }
        }
    }
}

fn at(file: &str, line: u32) -> String {
    if file.is_empty() { "(created by Flux)".to_string() } else { format!("{file}:{line}") }
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Added => "added",
        Status::Removed => "removed",
        Status::Changed => "changed",
        Status::Unchanged => "unchanged",
    }
}

/// GitHub refuses a comment longer than this many characters.
const COMMENT_LIMIT: usize = 65_536;
/// Kept free for the note that says what was left out.
const NOTE_ROOM: usize = 1_024;
/// Rows of the versions table at most, and built objects listed per Kustomization at most.
const MAX_ROWS: usize = 100;

/// Markdown, for a pull-request comment. `public_url` is the fluxgraph server's address: each
/// changed object then links to its view there. The comment stays under GitHub's limit: the
/// details that do not fit are left out, counted, and linked to the `/diff` page.
pub fn markdown(report: &Report, public_url: Option<&str>) -> String {
    let several = report.clusters.len() > 1;
    let link = |id: &ObjectId, cluster: &str| -> String {
        let name = md(&id.to_string());
        match public_url {
            Some(base) => {
                let mut url = format!("{}{}", base.trim_end_matches('/'), id.path());
                if several {
                    let _ = write!(url, "?cluster={}", encode(cluster));
                }
                format!("[{name}]({url})")
            }
            None => name,
        }
    };
    let mut out = String::new();
    let mark = if report.errors_introduced > 0 { "❌" } else { "✅" };
    let _ = writeln!(out, "### fluxgraph: {mark} {}\n", md(&report.verdict));
    let _ = writeln!(out, "`{}` → `{}`, {} changed file{}\n", side(&report.base).replace('`', "'"), side(&report.head).replace('`', "'"), report.changed_files.len(), if report.changed_files.len() == 1 { "" } else { "s" });
    let _ = writeln!(out, "| cluster | objects (+ − ~ moved) | edges (+ −) | levels changed | critical path | cold start | errors introduced | built objects changed | blast radius |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for c in &report.clusters {
        let o = &c.objects;
        let errors = c.diagnostics.introduced.iter().filter(|d| d.severity == crate::diagnostic::Severity::Error).count();
        let _ = writeln!(
            out,
            "| {} ({}) | +{} −{} ~{} ↔{} | +{} −{} | {} | {} | {} → {} ({}) | {} | {} | {} |",
            md(&c.name),
            status(c.status),
            o.added.len(),
            o.removed.len(),
            o.changed.len(),
            o.moved.len(),
            c.edges.added.len(),
            c.edges.removed.len(),
            c.levels.len(),
            hops(&c.critical_path),
            seconds(c.cold_start.before_seconds),
            seconds(c.cold_start.after_seconds),
            signed_seconds(c.cold_start.delta_seconds),
            errors,
            c.built_objects_changed(),
            c.blast_radius.count,
        );
    }
    let versions: Vec<(&ClusterDiff, &VersionChange)> = report.clusters.iter().flat_map(|c| c.versions.iter().map(move |v| (c, v))).collect();
    if !versions.is_empty() {
        let _ = writeln!(out, "\n**Versions**\n");
        if several {
            let _ = writeln!(out, "| | cluster | kind | name | before | after | in |");
            let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        } else {
            let _ = writeln!(out, "| | kind | name | before | after | in |");
            let _ = writeln!(out, "|---|---|---|---|---|---|");
        }
        for (c, v) in versions.iter().take(MAX_ROWS) {
            let kind = v.kind.as_str();
            let place = match &v.link {
                Some(id) if id.to_string() == v.object => link(id, &c.name),
                Some(id) => format!("{} (applied by {})", md(&v.object), link(id, &c.name)),
                None => md(&v.object),
            };
            let cluster = if several { format!(" {} |", md(&c.name)) } else { String::new() };
            let _ = writeln!(out, "| {} |{cluster} {kind} | {} | {} | {} | {place} |", if v.major { "⚠️ major" } else { "" }, md(&v.name), md(&v.before), md(&v.after));
        }
        if versions.len() > MAX_ROWS {
            let _ = writeln!(out, "\n… and {} more versions", versions.len() - MAX_ROWS);
        }
    }
    // The details, one block at a time, as long as they fit.
    let mut blocks: Vec<String> = Vec::new();
    for c in report.clusters.iter().filter(|c| !c.is_empty()) {
        let mut block = String::new();
        let _ = writeln!(block);
        if several {
            let _ = writeln!(block, "#### {}\n", md(&c.name));
        }
        let _ = writeln!(block, "**Critical path before:** {}  ", md(&path_line(&c.critical_path.before)));
        let _ = writeln!(block, "**Critical path after:** {}\n", md(&path_line(&c.critical_path.after)));
        for d in c.diagnostics.introduced.iter().filter(|d| d.severity == crate::diagnostic::Severity::Error) {
            let _ = writeln!(block, "- ❌ {}", md(&diagnostic_line(d)));
        }
        let _ = writeln!(block, "\n<details><summary>Details of {}</summary>\n", md(&c.name));
        details_markdown(&mut block, c, &|id| link(id, &c.name));
        let _ = writeln!(block, "</details>");
        blocks.push(block);
        for b in &c.builds {
            blocks.push(build_markdown(b, &|id| link(id, &c.name)));
        }
    }
    if !report.diagnostics.introduced.is_empty() || !report.diagnostics.resolved.is_empty() {
        let mut block = String::new();
        let _ = writeln!(block, "\n<details><summary>Outside every cluster</summary>\n");
        diagnostics_markdown(&mut block, &report.diagnostics);
        let _ = writeln!(block, "</details>");
        blocks.push(block);
    }
    let mut left_out = 0;
    for block in blocks {
        if out.len() + block.len() + NOTE_ROOM > COMMENT_LIMIT {
            left_out += 1;
            continue;
        }
        out.push_str(&block);
    }
    if left_out > 0 {
        let page = public_url.map(|base| {
            let mut url = format!("{}/diff", base.trim_end_matches('/'));
            if let Some(commit) = &report.base.commit {
                let _ = write!(url, "?base={commit}");
                if let Some(head) = &report.head.commit {
                    let _ = write!(url, "&head={head}");
                }
            }
            url
        });
        let _ = writeln!(
            out,
            "\n_{left_out} more section{} left out to stay under GitHub's comment limit{}._",
            if left_out == 1 { "" } else { "s" },
            page.map_or_else(|| ": run `fluxgraph diff` for the whole report".to_string(), |url| format!(": see [the whole diff]({url})")),
        );
    }
    out
}

/// One Kustomization's built objects added, removed and changed, folded.
fn build_markdown(b: &BuildChanges, link: &dyn Fn(&ObjectId) -> String) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n<details><summary>{}: {} (+{} −{} ~{})</summary>\n",
        md(&b.kustomization.to_string()),
        build_status(b),
        b.added.len(),
        b.removed.len(),
        b.changed.len()
    );
    let _ = writeln!(out, "What {} applies:\n", link(&b.kustomization));
    let mut rows = 0;
    for a in &b.added {
        rows += 1;
        if rows <= MAX_ROWS {
            let _ = writeln!(out, "- added `{}` from {}", a.id.replace('`', "'"), md(&at(&a.file, a.line)));
        }
    }
    for r in &b.removed {
        rows += 1;
        if rows <= MAX_ROWS {
            let _ = writeln!(out, "- removed `{}` (was from {})", r.id.replace('`', "'"), md(&at(&r.file, r.line)));
        }
    }
    for ch in &b.changed {
        rows += 1;
        if rows > MAX_ROWS {
            continue;
        }
        let _ = writeln!(out, "- changed `{}` from {}", ch.id.replace('`', "'"), md(&at(&ch.file, ch.line)));
        for f in &ch.fields {
            let _ = writeln!(out, "  - {}", md(&f.to_string()));
        }
        if ch.more > 0 {
            let _ = writeln!(out, "  - … and {} more", ch.more);
        }
    }
    if rows > MAX_ROWS {
        let _ = writeln!(out, "- … and {} more objects", rows - MAX_ROWS);
    }
    let _ = writeln!(out, "\n</details>");
    out
}

fn details_markdown(out: &mut String, c: &ClusterDiff, link: &dyn Fn(&ObjectId) -> String) {
    let o = &c.objects;
    if !(o.added.is_empty() && o.removed.is_empty() && o.changed.is_empty() && o.moved.is_empty()) {
        let _ = writeln!(out, "**Objects**\n");
        for a in &o.added {
            let _ = writeln!(out, "- added {} at {}", link(&a.id), md(&at(&a.file, a.line)));
        }
        for r in &o.removed {
            let _ = writeln!(out, "- removed {} (was at {})", md(&r.id.to_string()), md(&at(&r.file, r.line)));
        }
        for ch in &o.changed {
            let fields: Vec<String> = ch
                .fields
                .iter()
                .map(ToString::to_string)
                .collect();
            let _ = writeln!(out, "- changed {}: {}", link(&ch.id), md(&fields.join("; ")));
        }
        for m in &o.moved {
            let _ = writeln!(out, "- moved {} from {} to {}", link(&m.id), md(&m.from), md(&m.to));
        }
        let _ = writeln!(out);
    }
    if !c.edges.added.is_empty() || !c.edges.removed.is_empty() {
        let _ = writeln!(out, "**Edges**\n");
        for (what, edges) in [("added", &c.edges.added), ("removed", &c.edges.removed)] {
            for e in edges {
                let _ = writeln!(out, "- {what}: {} {} {}", md(&e.from.to_string()), e.kind, md(&e.to.to_string()));
            }
        }
        let _ = writeln!(out);
    }
    if !c.levels.is_empty() {
        let _ = writeln!(out, "**Levels**\n");
        for l in &c.levels {
            let _ = writeln!(out, "- {}: {} → {}", md(&l.id.to_string()), level(l.before), level(l.after));
        }
        let _ = writeln!(out);
    }
    diagnostics_markdown(out, &c.diagnostics);
    let r = &c.blast_radius;
    if r.count > 0 {
        let _ = writeln!(out, "**Blast radius:** {} changed, {} downstream\n", r.changed.len(), r.downstream.len());
        for id in &r.changed {
            let _ = writeln!(out, "- {}", link(id));
        }
        for id in &r.downstream {
            let _ = writeln!(out, "- ↳ {}", md(&id.to_string()));
        }
        let _ = writeln!(out);
    }
}

fn diagnostics_markdown(out: &mut String, d: &DiagnosticChanges) {
    for (what, list) in [("Diagnostics introduced", &d.introduced), ("Diagnostics resolved", &d.resolved)] {
        if !list.is_empty() {
            let _ = writeln!(out, "**{what}**\n");
            for d in list {
                let _ = writeln!(out, "- {}", md(&diagnostic_line(d)));
            }
            let _ = writeln!(out);
        }
    }
}

/// Text from the repository, escaped so that Markdown and the HTML GitHub allows in it show it
/// as written.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hundreds of Kustomizations whose builds change: the comment stays under GitHub's limit,
    /// says how many sections it left out, and links to the whole diff.
    #[test]
    fn a_large_change_stays_under_the_comment_limit() {
        use crate::load::Repository;
        use crate::snapshot::Snapshot;
        let ks = |i: usize| format!("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app-{i}\n  namespace: flux-system\nspec:\n  path: ./apps/{i}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n");
        let cm = |i: usize, v: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-{i}\n  namespace: default\ndata:\n  value: {}\n", v.repeat(40));
        let side = |v: &str| {
            let mut files: Vec<(String, String)> = (0..400).flat_map(|i| [(format!("clusters/main/app-{i}.yaml"), ks(i)), (format!("apps/{i}/cm.yaml"), cm(i, v))]).collect();
            files.push(("clusters/main/flux-system/gotk-sync.yaml".into(), "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  path: ./clusters/main\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n".into()));
            Snapshot::from_repository(Repository::from_files(std::path::Path::new("/r"), files.iter().map(|(p, t)| (p.as_str(), t.as_str()))), None).unwrap()
        };
        let (base, head) = (side("old "), side("new "));
        let sides = (super::super::Side { name: "main".into(), commit: Some("a".repeat(40)) }, super::super::Side { name: "pr".into(), commit: Some("b".repeat(40)) });
        let report = super::super::compare(&base, &head, sides, None).unwrap();
        assert_eq!(report.clusters[0].builds.len(), 400);
        let text = markdown(&report, Some("https://fluxgraph.example.com"));
        assert!(text.chars().count() <= COMMENT_LIMIT, "{} characters", text.chars().count());
        let note = text.lines().last().unwrap();
        assert!(note.contains("sections left out to stay under GitHub's comment limit"), "{note}");
        assert!(note.contains(&format!("https://fluxgraph.example.com/diff?base={}&head={}", "a".repeat(40), "b".repeat(40))), "{note}");
    }

    #[test]
    fn markdown_escapes_what_the_repository_wrote() {
        assert_eq!(md("a|b <script> *x* [l](u)"), "a\\|b &lt;script&gt; \\*x\\* \\[l\\](u)");
        // Links to the server's views percent-encode what the repository wrote.
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
