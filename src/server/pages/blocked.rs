//! What blocks (`/blocked`) and an object's live status (its part of `/k/…`): the root
//! blockers with their reason, how many wait behind each and the chain from each; what is
//! in the cluster but not in git; for one object, "blocked by X (reason)" with the chain.
//! Both are drawn from the live status at request time, never kept in the page cache
//! (it changes without a new snapshot), and open pages fetch them again on `status` events
//! (`data-live`).

use askama::Template;
use petgraph::graph::NodeIndex;

use super::{Body, Page, stats};
use crate::model::ObjectId;
use crate::server::live::Inner;
use crate::status::{self, ObjectStatus, State, blockers, report, timing};

pub struct Step {
    pub name: String,
    pub href: String,
}

pub struct RootRow {
    pub id: String,
    pub href: String,
    pub state: &'static str,
    pub label: &'static str,
    pub reason: String,
    pub message: String,
    pub since: String,
    pub waiting: usize,
    pub chains: Vec<Vec<Step>>,
    pub more: usize,
}

pub struct CountPill {
    pub state: &'static str,
    pub label: &'static str,
    pub count: usize,
}

pub struct Listed {
    pub name: String,
    pub state: &'static str,
    pub label: &'static str,
    pub note: String,
}

#[derive(Template)]
#[template(path = "blocked_part.html")]
struct BlockedPart {
    off: bool,
    stale: String,
    /// Which kinds' first list has not come back, or empty.
    loading: String,
    other: String,
    counts: Vec<CountPill>,
    roots: Vec<RootRow>,
    not_in_git: Vec<Listed>,
    instances: Vec<Listed>,
}

#[derive(Template)]
#[template(path = "blocked.html")]
struct BlockedPage {
    stats: String,
    part_href: String,
    part: String,
}

pub struct BlockedBy {
    pub name: String,
    pub href: String,
    pub reason: String,
    pub chain: Vec<Step>,
}

#[derive(Template)]
#[template(path = "object_status.html")]
struct ObjectStatusPart {
    stale: String,
    other: String,
    state: &'static str,
    label: &'static str,
    reason: String,
    message: String,
    since: String,
    revision: String,
    behind: String,
    blocked_by: Vec<BlockedBy>,
    root: bool,
    waiting: usize,
    blocked_href: String,
}

/// The whole `/blocked` page.
pub fn page(page: &Page<'_>) -> askama::Result<Body> {
    let part_href = format!("{}/blocked{}", page.base(), page.with("part", Some("1")));
    Ok(("what blocks".into(), BlockedPage { stats: stats(page)?, part_href, part: part(page)? }.render()?))
}

fn stale_text(inner: &Inner) -> String {
    report::stale(&inner.store).map_or(String::new(), |s| {
        let ago = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()).saturating_sub(s.since);
        format!("The live status is stale: a watch has been down for {ago} s ({}). What is shown is as it was.", s.why)
    })
}

/// Why the live status does not apply to this page's cluster, or empty when it does.
fn other_cluster(page: &Page<'_>, inner: &Inner) -> String {
    match status::matching_cluster(&page.current.snapshot, &inner.store) {
        Some(i) if i == page.index => String::new(),
        Some(i) => format!("The live status is of cluster {} of this repository, not of this one.", page.current.snapshot.clusters[i].cluster.name),
        None => "No live status yet.".into(),
    }
}

fn step(page: &Page<'_>, id: &ObjectId) -> Step {
    Step { name: id.to_string(), href: page.href(id) }
}

/// The list of `/blocked`, alone: what open pages fetch again.
pub fn part(page: &Page<'_>) -> askama::Result<String> {
    let live = page.state.live();
    if !live.enabled() {
        return BlockedPart { off: true, stale: String::new(), loading: String::new(), other: String::new(), counts: Vec::new(), roots: Vec::new(), not_in_git: Vec::new(), instances: Vec::new() }.render();
    }
    let inner = live.lock();
    let other = other_cluster(page, &inner);
    let report = report::build(&page.current.snapshot, page.view, &inner.store);
    let counts = State::ALL
        .into_iter()
        .filter(|s| report.counts.get(*s) > 0 || s.shown_at_zero())
        .map(|s| CountPill { state: s.as_str(), label: s.label(), count: report.counts.get(s) })
        .collect();
    let roots = report
        .root_blockers
        .iter()
        .map(|r| RootRow {
            id: r.id.to_string(),
            href: page.href(&r.id),
            state: r.status.state.as_str(),
            label: r.status.state.label(),
            reason: r.status.reason.clone(),
            message: r.status.message.clone(),
            since: r.status.since.clone().unwrap_or_default(),
            waiting: r.waiting,
            chains: r.chains.iter().map(|c| c.iter().map(|id| step(page, id)).collect()).collect(),
            more: r.waiting.saturating_sub(r.chains.len()),
        })
        .collect();
    let listed = |name: String, s: &ObjectStatus| Listed { name, state: s.state.as_str(), label: s.state.label(), note: [s.reason.as_str(), s.message.as_str()].iter().filter(|t| !t.is_empty()).copied().collect::<Vec<_>>().join(": ") };
    let not_in_git = report.not_in_git.iter().map(|l| listed(l.id.to_string(), &l.status)).collect();
    let instances = inner.store.instances.iter().map(|(k, s)| listed(k.clone(), s)).collect();
    let loading = if report.loading.is_empty() {
        String::new()
    } else {
        let kinds: Vec<String> = report.loading.iter().map(ToString::to_string).collect();
        format!("Loading: the cluster's list of {} has not come back yet. Those objects are not known yet, neither applied nor missing.", kinds.join(", "))
    };
    BlockedPart { off: false, stale: stale_text(&inner), loading, other, counts, roots, not_in_git, instances }.render()
}

/// One object's live status: its state, and what blocks it with the chain to each.
pub fn object_part(page: &Page<'_>, id: &ObjectId) -> askama::Result<String> {
    let live = page.state.live();
    let inner = live.lock();
    let other = if live.enabled() { other_cluster(page, &inner) } else { "The live status is off.".into() };
    let view = page.view;
    let s = &*inner.store.status(id);
    let states = status::states(view, &inner.store);
    let found = blockers::find(&view.graph, &states);
    let node = view.graph.node(id).map(NodeIndex::index);
    let roots = node.map(|n| found.roots_of[n].clone()).unwrap_or_default();
    let blocked_by = roots
        .iter()
        .filter(|&&r| Some(r) != node)
        .map(|&r| {
            let root = view.graph.id(NodeIndex::new(r));
            let rs = inner.store.status(root);
            let reason = format!("{}: {}", rs.state.label(), rs.reason);
            let chain = node.map(|n| found.chain(n, r)).unwrap_or_default().into_iter().map(|c| step(page, view.graph.id(NodeIndex::new(c)))).collect();
            BlockedBy { name: root.to_string(), href: page.href(root), reason, chain }
        })
        .collect();
    let root = node.is_some_and(|n| roots.contains(&n));
    let waiting = node.map_or(0, |n| found.roots.iter().find(|r| r.node == n).map_or(0, |r| r.waiting.len()));
    let revision = match (&s.last_applied_revision, &s.last_attempted_revision, &s.artifact_revision) {
        (Some(a), Some(t), _) if a != t => format!("applied {a}; attempted {t}"),
        (Some(a), _, _) => format!("applied {a}"),
        (None, _, Some(r)) => format!("artifact {r}"),
        _ => String::new(),
    };
    let behind = status::behind(s, &inner.store).map_or(String::new(), |(applied, source)| format!("Behind its source: applied {}, the source is at {source}.", if applied.is_empty() { "nothing yet".into() } else { applied }));
    let q = page.cluster_query();
    ObjectStatusPart {
        stale: if live.enabled() { stale_text(&inner) } else { String::new() },
        other,
        state: s.state.as_str(),
        label: s.state.label(),
        reason: s.reason.clone(),
        message: s.message.clone(),
        since: s.since.clone().unwrap_or_default(),
        revision,
        behind,
        blocked_by,
        root,
        waiting,
        blocked_href: format!("{}/blocked{q}", page.base()),
    }
    .render()
}

/// Where an object's live part is fetched from.
pub fn object_part_href(page: &Page<'_>, id: &ObjectId) -> String {
    format!("{}/blocked{}{}", page.base(), id.path(), page.cluster_query())
}

pub struct HopRow {
    pub name: String,
    pub kind: String,
    pub href: String,
    pub state: &'static str,
    pub label: &'static str,
    pub since: String,
    pub took: String,
    pub allowed: String,
    pub slow: bool,
    pub note: String,
}

#[derive(Template)]
#[template(path = "timing_part.html")]
struct TimingPart {
    other: String,
    total: String,
    estimate: String,
    hops: Vec<HopRow>,
}

/// The critical path's observed timing (its part of `/critical-path`).
pub fn timing_part(page: &Page<'_>) -> askama::Result<String> {
    let live = page.state.live();
    let inner = live.lock();
    let other = if live.enabled() { other_cluster(page, &inner) } else { "The live status is off.".into() };
    let observed = timing::observed(&page.view.analysis.weighted_path, &inner.store);
    let hops = observed
        .hops
        .iter()
        .map(|h| {
            let notes: Vec<String> = [
                h.slow.then(|| "slower than its timeout allows".to_string()),
                h.retried.then(|| "retried".to_string()),
            ]
            .into_iter()
            .flatten()
            .collect();
            HopRow {
                name: h.id.name.clone(),
                kind: h.id.kind.to_string(),
                href: page.href(&h.id),
                state: h.state.as_str(),
                label: h.state.label(),
                since: inner.store.get(&h.id).filter(|s| s.state == State::Ready).and_then(|s| s.since.clone()).unwrap_or_default(),
                took: h.took.map_or(String::new(), |t| t.to_string()),
                allowed: h.allowed.to_string(),
                slow: h.slow,
                note: notes.join(", "),
            }
        })
        .collect();
    TimingPart { other, total: observed.total.map_or(String::new(), |t| t.to_string()), estimate: observed.estimate.to_string(), hops }.render()
}
