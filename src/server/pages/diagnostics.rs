//! The diagnostics (`/diagnostics`), filtered by severity and code.

use std::collections::BTreeSet;

use askama::Template;

use super::{DiagnosticRow, Page, Toggle, diagnostic_row, stats};
use crate::diagnostic::Diagnostic;

#[derive(Template)]
#[template(path = "diagnostics.html")]
struct DiagnosticsPage {
    stats: String,
    severity_toggles: Vec<Toggle>,
    code_toggles: Vec<Toggle>,
    rows: Vec<DiagnosticRow>,
    filtered: bool,
}

pub fn diagnostics(page: &Page<'_>, outside: &[Diagnostic]) -> (String, String) {
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
    let rows = all
        .into_iter()
        .filter(|d| severity.is_none_or(|s| d.severity.as_str() == s) && code.is_none_or(|c| d.code.as_str() == c))
        .map(|d| diagnostic_row(page, d))
        .collect();
    let body = DiagnosticsPage { stats: stats(page), severity_toggles, code_toggles, rows, filtered: severity.is_some() || code.is_some() };
    ("diagnostics".into(), body.render().unwrap_or_default())
}
