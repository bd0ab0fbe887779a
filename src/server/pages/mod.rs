//! The HTML pages. Each handler reads the reader's view state from the query string, takes
//! the current snapshot, and renders a template; with `X-Fluxgraph-Fragment: 1` only the
//! page's `<main>` is returned, which is how open pages update in place. A page is a function
//! of the snapshot, the URL and that one header — never of the `Host` or another header — so
//! that it can be drawn once and kept (`cache`).
//!
//! One file per view; this one holds what they share: the page context, the view state read
//! from the URL, the stats header, the toggles, and the layout that frames every page.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::LazyLock;

use askama::Template;
use super::request::{Body, Frame};
use super::state::{AppState, Current};
use super::views::ViewState;
use crate::model::link::{encode, encode_path};
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::EdgeKind;
use crate::layout::Direction;
use crate::model::{Duration, Kind, ObjectId};
use crate::snapshot::ClusterView;
use crate::status::State;

mod applies;
pub mod blocked;
mod component;
mod critical_path;
mod cycles;
mod diagnostics;
pub mod diff;
mod levels;
mod object;
mod overview;
mod search;

pub use applies::applies;
pub use component::component;
pub use critical_path::critical_path;
pub use cycles::cycles;
pub use diagnostics::diagnostics;
pub use diff::{diff, served_report};
pub use levels::levels;
pub use object::{object, source};
pub use overview::overview;
pub use search::{search, search_page};

/// The query string, in a stable order so that links are canonical.
pub type Params = BTreeMap<String, String>;

/// What every page needs: the snapshot, the cluster shown, the view state, the links.
pub struct Page<'a> {
    pub state: &'a AppState,
    pub current: &'a Current,
    pub view: &'a ClusterView,
    /// The view's place in the snapshot.
    pub index: usize,
    pub params: &'a Params,
    pub view_state: ViewState,
}

impl Page<'_> {
    fn base(&self) -> &str {
        &self.state.options().base_path
    }

    /// The query string that keeps the cluster (and nothing else) when following a link.
    fn cluster_query(&self) -> String {
        cluster_query(self.params.get("cluster").map(String::as_str))
    }

    /// The current query with `key` set to `value` (or removed when `None`).
    fn with(&self, key: &str, value: Option<&str>) -> String {
        let mut p = self.params.clone();
        match value {
            Some(v) => p.insert(key.to_string(), v.to_string()),
            None => p.remove(key),
        };
        query_string(&p)
    }

    fn href(&self, id: &ObjectId) -> String {
        format!("{}{}{}", self.base(), id.path(), self.cluster_query())
    }

    fn file_href(&self, file: &str, line: u32) -> String {
        match &self.state.options().repo_url {
            Some(forge) if !file.is_empty() => format!("{}/{}#L{line}", forge.trim_end_matches('/'), file),
            _ => String::new(),
        }
    }

    /// A file:line link that always leads somewhere: the forge when one is given, else the
    /// file as the snapshot holds it.
    fn line_href(&self, file: &str, line: u32) -> String {
        match self.file_href(file, line) {
            href if href.is_empty() && self.current.snapshot.repository.files.contains_key(file) => {
                format!("{}/source/{}{}#L{line}", self.base(), encode_path(file), self.cluster_query())
            }
            href => href,
        }
    }
}

/// `?cluster=NAME` when the URL names a cluster: what links keep of it.
pub fn cluster_query(named: Option<&str>) -> String {
    named.map_or(String::new(), |c| format!("?cluster={}", encode(c)))
}

pub fn query_string(params: &Params) -> String {
    if params.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v).replace("%2C", ","))).collect();
    format!("?{}", parts.join("&"))
}

/// The view state from `edges=dependsOn,applies&show=hr,src&dir=tb&fold=1&depth=3`.
pub fn view_state(params: &Params) -> ViewState {
    let mut state = ViewState::default();
    if let Some(edges) = params.get("edges") {
        state.edges = edges
            .split(',')
            .filter_map(|e| match e {
                "dependsOn" => Some(EdgeKind::DependsOn),
                "applies" => Some(EdgeKind::Applies),
                "source" => Some(EdgeKind::Source),
                _ => None,
            })
            .collect();
    }
    if let Some(show) = params.get("show") {
        state.helm_releases = show.split(',').any(|s| s == "hr");
        state.sources = show.split(',').any(|s| s == "src");
    }
    state.direction = if params.get("dir").map(String::as_str) == Some("tb") { Direction::TopToBottom } else { Direction::LeftToRight };
    state.fold = params.get("fold").map(String::as_str) == Some("1");
    state.depth = match params.get("depth").map(String::as_str) {
        Some("all") => None,
        Some(n) => n.parse().ok().map(|n: usize| n.clamp(1, 50)).or(Some(2)),
        None => Some(2),
    };
    state
}

#[derive(Clone)]
pub struct Toggle {
    pub name: String,
    pub href: String,
    pub on: bool,
}

#[derive(Clone)]
pub struct NamedLink {
    pub name: String,
    pub href: String,
    pub current: bool,
}

#[derive(Clone)]
pub struct Link {
    pub name: String,
    pub href: String,
    pub note: String,
}

#[derive(Clone)]
pub struct DiagnosticRow {
    pub severity: &'static str,
    pub code: &'static str,
    pub object: String,
    pub href: String,
    pub location: String,
    pub file_href: String,
    pub message: String,
    /// The message's start when it is long (a list of owners, say), to show folded; else empty.
    pub short: String,
    pub hint: String,
}

/// Messages longer than this are shown folded.
const LONG_MESSAGE: usize = 160;

fn diagnostic_row(page: &Page<'_>, d: &Diagnostic) -> DiagnosticRow {
    let location = match (d.file.is_empty(), d.line) {
        (true, _) => String::new(),
        (false, 0) => d.file.clone(),
        (false, l) => format!("{}:{l}", d.file),
    };
    // Into the forge with --repo-url; else to the line on the object's page, which shows its source.
    let object_href = d.object.as_ref().filter(|id| page.view.cluster.objects.get(id).is_some_and(|o| o.file == d.file)).map(|id| page.href(id));
    let file_href = match page.file_href(&d.file, d.line) {
        f if f.is_empty() => object_href.map_or(String::new(), |h| if d.line > 0 { format!("{h}#L{}", d.line) } else { h }),
        f => f,
    };
    let short = if d.message.chars().count() > LONG_MESSAGE {
        let cut: String = d.message.chars().take(LONG_MESSAGE - 30).collect();
        format!("{}…", cut.trim_end())
    } else {
        String::new()
    };
    DiagnosticRow {
        severity: d.severity.as_str(),
        code: d.code.as_str(),
        object: d.object.as_ref().map_or(String::new(), ToString::to_string),
        href: d.object.as_ref().filter(|id| page.view.cluster.objects.contains_key(id)).map_or(String::new(), |id| page.href(id)),
        location,
        file_href,
        message: d.message.clone(),
        short,
        hint: d.hint.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "stats.html")]
struct Stats {
    objects: Count,
    kustomizations: Count,
    helm_releases: Count,
    levels: Count,
    critical: usize,
    worst_case: Duration,
    /// Objects that never get Ready (on or behind a cycle): then there is no cold start.
    never: usize,
    cycles: Count,
    errors: Count,
    warnings: Count,
    cycles_href: String,
    errors_href: String,
    warnings_href: String,
    failure: String,
    revision: String,
}

/// A number and its noun, plural unless it is one: (1, "level"), (2, "levels").
type Count = (usize, String);

fn count(n: usize, noun: &str) -> Count {
    (n, if n == 1 { noun.to_string() } else { format!("{noun}s") })
}

fn stats(page: &Page<'_>) -> askama::Result<String> {
    let v = page.view;
    let of_kind = |k: Kind| v.cluster.objects.keys().filter(|id| id.kind == k).count();
    let sev = |s: Severity| v.analysis.diagnostics.iter().filter(|d| d.severity == s).count();
    let q = page.cluster_query();
    let sep = if q.is_empty() { "?" } else { "&" };
    Stats {
        objects: count(v.cluster.objects.len(), "object"),
        kustomizations: count(of_kind(Kind::Kustomization), "Kustomization"),
        helm_releases: count(of_kind(Kind::HelmRelease), "HelmRelease"),
        levels: count(v.analysis.waves.len(), "level"),
        critical: v.analysis.critical_path.nodes.len(),
        worst_case: v.analysis.weighted_path.total,
        never: v.analysis.cold_start.never,
        cycles: count(v.analysis.cycles.len(), "cycle"),
        errors: count(sev(Severity::Error), "error"),
        warnings: count(sev(Severity::Warning), "warning"),
        cycles_href: format!("{}/cycles{q}", page.base()),
        errors_href: format!("{}/diagnostics{q}{sep}severity=error", page.base()),
        warnings_href: format!("{}/diagnostics{q}{sep}severity=warning", page.base()),
        failure: page.current.failure.clone().unwrap_or_default(),
        revision: page.current.revision.clone().unwrap_or_default(),
    }
    .render()
}

fn edge_toggles(page: &Page<'_>) -> Vec<Toggle> {
    [(EdgeKind::DependsOn, "dependsOn"), (EdgeKind::Applies, "applies"), (EdgeKind::Source, "source")]
        .into_iter()
        .map(|(kind, name)| {
            let mut edges = page.view_state.edges.clone();
            let on = !edges.insert(kind);
            if on {
                edges.remove(&kind);
            }
            let value: Vec<&str> = edges.iter().map(|e| e.as_str()).collect();
            Toggle { name: name.into(), href: page.with("edges", Some(&value.join(","))), on }
        })
        .collect()
}

fn kind_toggles(page: &Page<'_>) -> Vec<Toggle> {
    let s = &page.view_state;
    let show = |hr: bool, src: bool| {
        let v: Vec<&str> = [(hr, "hr"), (src, "src")].into_iter().filter(|x| x.0).map(|x| x.1).collect();
        if v.is_empty() { page.with("show", None) } else { page.with("show", Some(&v.join(","))) }
    };
    vec![
        Toggle { name: "HelmReleases".into(), href: show(!s.helm_releases, s.sources), on: s.helm_releases },
        Toggle { name: "sources".into(), href: show(s.helm_releases, !s.sources), on: s.sources },
    ]
}

fn layout_toggles(page: &Page<'_>) -> Vec<Toggle> {
    let s = &page.view_state;
    vec![
        Toggle { name: "left to right".into(), href: page.with("dir", None), on: s.direction == Direction::LeftToRight },
        Toggle { name: "top to bottom".into(), href: page.with("dir", Some("tb")), on: s.direction == Direction::TopToBottom },
        Toggle { name: "fold components".into(), href: page.with("fold", if s.fold { None } else { Some("1") }), on: s.fold },
    ]
}

/// Above this many Kustomizations, `applies` edges are off unless asked for: in the seed's
/// layout they fan out from two Kustomizations to every component, which on a large cluster
/// hides the dependsOn chains (and costs the layout most of its time).
const LARGE: usize = 300;

/// The view state of whole-cluster drawings: as asked, with the large-cluster default.
fn whole_cluster_state(page: &Page<'_>) -> ViewState {
    let mut state = page.view_state.clone();
    let kustomizations = page.view.cluster.kustomization_count();
    if kustomizations > LARGE && !page.params.contains_key("edges") {
        state.edges.remove(&EdgeKind::Applies);
    }
    state
}

pub struct ChainStep {
    pub name: String,
    pub href: String,
    pub level: String,
    pub why: String,
    pub current: bool,
}

fn level_text(level: Option<u32>) -> String {
    level.map_or("cycle".into(), |l| format!("level {l}"))
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub heading: String,
    pub text: String,
    pub suggestions: Vec<Link>,
    pub home: String,
}

#[derive(Template)]
#[template(path = "layout.html")]
struct Layout<'a> {
    title: &'a str,
    base: &'a str,
    banner: String,
    repository: String,
    /// The cluster the search box asks about; empty when there is no choice to make.
    cluster: String,
    cluster_query: String,
    clusters: Vec<NamedLink>,
    views: Vec<NamedLink>,
    /// The diff switch; its `href` is empty when the served folder is no git work tree.
    diff: NamedLink,
    share_url: String,
    version: u64,
    content: &'a str,
    footer: String,
    /// `/api/status` when the live status is on, else empty.
    status: String,
    /// [`STATES`], for the live status.
    states: &'static str,
}

/// The live states as the page's script reads them from `<body data-states>`, in the order of
/// [`State::ALL`] (the header counts them so): each one's name (its `st-` class, and `state` in
/// the status JSON), label, key in the status JSON's `counts`, and whether the header counts it
/// at zero. The list of states is the Rust enum's; the script keeps none of its own.
static STATES: LazyLock<String> = LazyLock::new(|| {
    let states = State::ALL.map(|s| serde_json::json!({"state": s.as_str(), "label": s.label(), "counts": s.counts_key(), "shown_at_zero": s.shown_at_zero()}));
    serde_json::Value::from(states.to_vec()).to_string()
});

/// Which page a layout frames, to mark it in the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Levels,
    CriticalPath,
    Cycles,
    Diagnostics,
    Diff,
    Blocked,
    Other,
}

/// The request header that asks for a page's `<main>` alone.
pub const FRAGMENT: &str = "x-fluxgraph-fragment";

/// Wraps a page's content in the layout, or gives the content alone for a fragment request.
pub fn respond(frame: &Frame, section: Section, (title, content): Body) -> askama::Result<String> {
    if frame.fragment {
        return Ok(content);
    }
    let state = &frame.state;
    let current = frame.current.as_deref();
    let base = state.options().base_path.as_str();
    let cluster_query = frame.cluster_query();
    let snapshot = current.map(|c| &*c.snapshot);
    let clusters = snapshot
        .map(|s| {
            s.clusters
                .iter()
                .enumerate()
                .map(|(i, v)| NamedLink { name: v.cluster.name.clone(), href: format!("{base}/?cluster={}", encode(&v.cluster.name)), current: Some(i) == frame.index })
                .collect()
        })
        .unwrap_or_default();
    let views = [
        (Section::Levels, "Levels", "/"),
        (Section::CriticalPath, "Critical path", "/critical-path"),
        (Section::Cycles, "Cycles", "/cycles"),
        (Section::Diagnostics, "Diagnostics", "/diagnostics"),
        (Section::Blocked, "Blocked", "/blocked"),
    ]
    .into_iter()
    .filter(|(s, _, _)| *s != Section::Blocked || state.live().enabled())
    .map(|(s, name, path)| NamedLink { name: name.into(), href: format!("{base}{path}{cluster_query}"), current: s == section })
    .collect();
    // The switch to the change against the default branch, where there is a git work tree.
    let git = snapshot.is_some_and(|s| crate::load::git::is_work_tree(&s.repository.root));
    let diff = NamedLink { name: "Diff".into(), href: if git { format!("{base}/diff{cluster_query}") } else { String::new() }, current: section == Section::Diff };
    let path_and_query = frame.uri.0.path_and_query().map_or("/", |p| p.as_str());
    let mut footer = String::new();
    if let Some(c) = current {
        let _ = write!(footer, "snapshot {}", c.version);
        if let Some(r) = &c.revision {
            let _ = write!(footer, " · revision {r}");
        }
        let _ = write!(footer, " · {} files", c.snapshot.repository.files.len() + c.snapshot.repository.other_files.len());
    }
    // The search box asks about the cluster shown, named whenever there is a choice: the
    // largest cluster may be another by the time the reader types.
    let several = snapshot.is_some_and(|s| s.clusters.len() > 1);
    let search_cluster = frame.view().filter(|_| several || frame.named.is_some()).map_or(String::new(), |v| v.cluster.name.clone());
    let layout = Layout {
        title: &title,
        base,
        banner: current.and_then(|c| c.failure.clone()).map(|f| format!("The last refresh failed: {f}")).unwrap_or_default(),
        repository: snapshot.and_then(|s| s.repository.root.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_default(),
        cluster: search_cluster,
        cluster_query,
        clusters,
        views,
        diff,
        share_url: state.share_url(path_and_query),
        version: current.map_or(0, |c| c.version),
        content: &content,
        footer,
        status: if state.live().enabled() { format!("{base}/api/status") } else { String::new() },
        states: STATES.as_str(),
    };
    layout.render()
}

/// The helpful 404: what was asked for, and the closest objects by name.
pub fn not_found(state: &AppState, view: Option<&ClusterView>, cluster_query: &str, what: &str, name: &str) -> askama::Result<Body> {
    let base = &state.options().base_path;
    let suggestions = view
        .map(|v| {
            search(v, name, 5)
                .into_iter()
                .map(|id| Link { name: id.to_string(), href: format!("{base}{}{cluster_query}", id.path()), note: String::new() })
                .collect()
        })
        .unwrap_or_default();
    let message = Message {
        heading: "Not found".into(),
        text: format!("There is no {what} in this cluster."),
        suggestions,
        home: format!("{base}/{cluster_query}"),
    };
    Ok(("not found".into(), message.render()?))
}
