//! The diagnostics (`/diagnostics`), filtered by severity and code.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;

use super::{Body, DiagnosticRow, Page, Toggle, diagnostic_row, stats};
use crate::diagnostic::Diagnostic;
use crate::server::views::DiagnosticFilter;

#[derive(Template)]
#[template(path = "diagnostics.html")]
struct DiagnosticsPage {
    stats: String,
    severity_toggles: Vec<Toggle>,
    code_toggles: Vec<Toggle>,
    by_toggles: Vec<Toggle>,
    /// The rows, under a heading per object or file when grouped (one untitled group otherwise).
    groups: Vec<DiagnosticGroup>,
    empty: bool,
    filtered: bool,
}

pub struct DiagnosticGroup {
    pub heading: String,
    pub href: String,
    pub rows: Vec<DiagnosticRow>,
}

pub fn diagnostics(page: &Page<'_>, outside: &[Diagnostic]) -> askama::Result<Body> {
    let all: Vec<&Diagnostic> = page.view.analysis.diagnostics.iter().chain(outside).collect();
    let severity = page.params.get("severity").map(String::as_str);
    let code = page.params.get("code").map(String::as_str);
    let severity_toggles = ["error", "warning", "info"]
        .iter()
        .map(|s| Toggle { name: (*s).into(), href: page.with("severity", if severity == Some(s) { None } else { Some(s) }), on: severity == Some(s) })
        .collect();
    let codes: BTreeSet<&'static str> = all.iter().map(|d| d.code.as_str()).collect();
    let code_toggles = codes
        .into_iter()
        .map(|c| Toggle { name: c.into(), href: page.with("code", if code == Some(c) { None } else { Some(c) }), on: code == Some(c) })
        .collect();
    let rows: Vec<DiagnosticRow> = all
        .into_iter()
        .filter(|d| DiagnosticFilter { severity, code, ..DiagnosticFilter::default() }.matches(d))
        .map(|d| diagnostic_row(page, d))
        .collect();
    let by = page.params.get("by").map(String::as_str).filter(|b| matches!(*b, "object" | "file"));
    let by_toggles = [("one list", None), ("by object", Some("object")), ("by file", Some("file"))]
        .into_iter()
        .map(|(name, value)| Toggle { name: name.into(), href: page.with("by", value), on: by == value })
        .collect();
    let empty = rows.is_empty();
    let groups = match by {
        None => vec![DiagnosticGroup { heading: String::new(), href: String::new(), rows }],
        Some(by) => {
            let mut groups: BTreeMap<(String, String), Vec<DiagnosticRow>> = BTreeMap::new();
            for row in rows {
                let key = if by == "object" {
                    (if row.object.is_empty() { "(no object)".to_string() } else { row.object.clone() }, row.href.clone())
                } else {
                    let file = row.location.rsplit_once(':').filter(|(_, l)| l.parse::<u32>().is_ok()).map_or(row.location.as_str(), |(f, _)| f);
                    (if file.is_empty() { "(no file)".to_string() } else { file.to_string() }, page.file_href(file, 1))
                };
                groups.entry(key).or_default().push(row);
            }
            groups.into_iter().map(|((heading, href), rows)| DiagnosticGroup { heading, href, rows }).collect()
        }
    };
    let body = DiagnosticsPage { stats: stats(page)?, severity_toggles, code_toggles, by_toggles, groups, empty, filtered: severity.is_some() || code.is_some() };
    Ok(("diagnostics".into(), body.render()?))
}
