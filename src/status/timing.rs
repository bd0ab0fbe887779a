//! Observed timing: the Ready transition times the cluster reports along the weighted
//! critical path → when each hop became Ready after the one before, next to what the
//! estimate allows it (its own worst case — its timeout when it waits — plus Flux's 30 s
//! dependency re-check); which hops took longer, and which Flux retried.
//!
//! A transition time says when Ready last changed: a rollout during which an object stayed
//! Ready leaves it as it was, so what is shown is the last cold start or rollout that
//! changed those objects' Ready, and says so.

use serde::Serialize;

use super::{State, Store};
use crate::analysis::WeightedPath;
use crate::model::{Duration, ObjectId};

/// kustomize-controller's and helm-controller's `--requeue-dependency`.
pub const REQUEUE_DEPENDENCY: Duration = Duration(30_000);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    pub id: ObjectId,
    pub state: State,
    /// When it became Ready (seconds since the epoch), when it is.
    pub ready_at: Option<i64>,
    /// How long after the hop before it.
    pub took: Option<Duration>,
    /// What the estimate allows that hop.
    pub allowed: Duration,
    /// Took longer than allowed.
    pub slow: bool,
    /// Flux retried it (a failure count, or Ready=False while retrying).
    pub retried: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observed {
    pub hops: Vec<Hop>,
    /// From the first hop's Ready to the latest, when all are Ready.
    pub total: Option<Duration>,
    /// The estimate of the same chain.
    pub estimate: Duration,
}

/// Seconds since the epoch of an RFC 3339 time as the API writes it
/// (`2026-12-01T10:00:00Z`, fractions and offsets allowed).
pub fn parse_time(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> { text.get(range)?.parse().ok() };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day, hour, minute, second) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        rest = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && &rest[3..4] == ":" => {
            let minutes = rest[1..3].parse::<i64>().ok()? * 60 + rest[4..6].parse::<i64>().ok()?;
            if rest.starts_with('-') { -minutes * 60 } else { minutes * 60 }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// The hops of `path` as the store reports them.
pub fn observed(path: &WeightedPath, store: &Store) -> Observed {
    let mut hops: Vec<Hop> = Vec::with_capacity(path.steps.len());
    for (i, step) in path.steps.iter().enumerate() {
        let status = store.get(&step.id);
        let state = store.state(&step.id);
        let ready_at = status.filter(|s| s.state == State::Ready).and_then(|s| s.since.as_deref()).and_then(parse_time);
        let previous = i.checked_sub(1).and_then(|p| hops[p].ready_at);
        let took = match (previous, ready_at) {
            (Some(before), Some(at)) if at >= before => Some(Duration::from_secs((at - before) as u64)),
            _ => None,
        };
        let allowed = if i == 0 { step.worst_case } else { Duration(step.worst_case.0 + REQUEUE_DEPENDENCY.0) };
        hops.push(Hop {
            id: step.id.clone(),
            state,
            ready_at,
            took,
            allowed,
            slow: took.is_some_and(|t| t > allowed),
            retried: status.is_some_and(|s| s.retrying || s.failures > 0),
        });
    }
    // The chain is Ready once its latest hop is (a later hop's time may be older: it
    // stayed Ready through a rollout of those before it).
    let first = hops.first().and_then(|h| h.ready_at);
    let latest = hops.iter().filter_map(|h| h.ready_at).max();
    let total = match (first, latest) {
        (Some(first), Some(latest)) if hops.iter().all(|h| h.ready_at.is_some()) => Some(Duration::from_secs((latest - first).max(0) as u64)),
        _ => None,
    };
    Observed { hops, total, estimate: path.total }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::critical_path::Step;
    use crate::model::Kind;
    use crate::status::{Event, read};
    use serde_json::json;

    #[test]
    fn times_as_the_api_writes_them() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-12-01T10:00:00Z"), Some(1_796_119_200));
        assert_eq!(parse_time("2026-12-01T10:00:00.123456Z"), Some(1_796_119_200));
        assert_eq!(parse_time("2026-12-01T11:30:00+01:30"), Some(1_796_119_200));
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        for bad in ["", "yesterday", "2026-13-01T10:00:00Z", "2026-12-01T10:00:00", "2026-12-01T10:00:00+0100"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn slow_and_retried_hops_along_the_path() {
        let step = |name: &str, worst: u64| Step { id: ObjectId::new(Kind::Kustomization, "ns", name), start: Duration::ZERO, ready: Duration::ZERO, worst_case: Duration::from_secs(worst) };
        let path = WeightedPath { steps: vec![step("a", 0), step("b", 60), step("c", 60)], total: Duration::from_secs(180) };
        let mut store = Store::default();
        let put = |store: &mut Store, name: &str, at: &str, status: serde_json::Value| {
            let mut object = json!({"metadata": {"name": name, "namespace": "ns"}, "status": status});
            object["status"]["conditions"] = json!([{"type": "Ready", "status": "True", "lastTransitionTime": at}]);
            let (id, s) = read(Kind::Kustomization, &object).unwrap();
            store.apply(Event::Applied(id, s));
        };
        put(&mut store, "a", "2026-12-01T10:00:00Z", json!({}));
        put(&mut store, "b", "2026-12-01T10:01:00Z", json!({}));
        put(&mut store, "c", "2026-12-01T10:05:00Z", json!({"failures": 2}));
        let o = observed(&path, &store);
        let took: Vec<Option<u64>> = o.hops.iter().map(|h| h.took.map(Duration::as_secs)).collect();
        assert_eq!(took, [None, Some(60), Some(240)]);
        assert_eq!(o.hops.iter().map(|h| (h.slow, h.retried)).collect::<Vec<_>>(), [(false, false), (false, false), (true, true)]);
        assert_eq!(o.total, Some(Duration::from_secs(300)));
        // Not all Ready: no total.
        store.apply(Event::Deleted(ObjectId::new(Kind::Kustomization, "ns", "c")));
        assert_eq!(observed(&path, &store).total, None);
    }
}
