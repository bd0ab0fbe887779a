//! Watch: file changes under the repository → a new snapshot, built off the request path and
//! published to a [`Sink`] (the server's state, which swaps it in and tells open pages over
//! server-sent events).
//!
//! notify with notify-debouncer-full (editors' atomic saves and renames arrive as one
//! change); only create, modify and remove events on files Flux would read count (YAML,
//! `.sourceignore`, or anything whose removal may be a whole folder), and `.git/` is
//! ignored. A rebuild that fails keeps the last good snapshot and says why (mdBook's rule).
//!
//! The root may be a symbolic link that is swapped atomically to a new folder (git-sync's
//! `/repo/current`): the link's own folder is watched too, and when the link points
//! elsewhere the watch moves to the new folder and the snapshot is rebuilt from it.
//!
//! The root folder may be deleted and created again (`rm -rf R; cp -r … R`): while it is
//! gone the last good snapshot stays, the refresh is marked failed and `/readyz` answers
//! 503; its parent folder is watched, and when it is back it is watched again and read whole.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

use crate::diagnostic::{Code, Severity};
use crate::load::ReadOptions;
use crate::snapshot::{Sink, Snapshot};

/// How long a burst of changes must be quiet before the repository is read again.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

type Debouncer = notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>;

/// Keeps the watcher running; dropping it stops watching.
pub struct Watching {
    _debouncer: Arc<Mutex<Debouncer>>,
}

/// Loads the first snapshot, then rebuilds it on every relevant change, in a thread of its
/// own, each read within `options`. `root` is kept as given: when it is a link, it is
/// resolved again on every change.
pub fn spawn(root: PathBuf, entry: Option<String>, options: ReadOptions, sink: impl Sink) -> notify::Result<Watching> {
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let debouncer = Arc::new(Mutex::new(new_debouncer(DEBOUNCE, None, move |result| {
        let _ = tx.send(result);
    })?));
    let mut target = root.canonicalize()?;
    let mut target_id = identity(&target);
    {
        let mut d = debouncer.lock().unwrap_or_else(|e| e.into_inner());
        d.watch(&target, RecursiveMode::Recursive)?;
        // The folder holding the root (the link's own folder, or the real folder's parent) is
        // watched too: notify cannot watch a path that is gone, so this is where a swapped
        // link or a root deleted and created again is seen.
        if is_link(&root) {
            if let Some(parent) = root.parent() {
                d.watch(parent, RecursiveMode::NonRecursive)?;
            }
        } else if let Some(parent) = target.parent() {
            if let Err(e) = d.watch(parent, RecursiveMode::NonRecursive) {
                tracing::warn!(error = %e, "cannot watch {}: a deleted repository folder will not be followed", parent.display());
            }
        }
    }
    let shared = Arc::clone(&debouncer);
    std::thread::Builder::new()
        .name("fluxgraph-watch".into())
        .stack_size(crate::snapshot::THREAD_STACK)
        .spawn(move || {
            rebuild(&root, entry.as_deref(), &options, &sink, &BTreeSet::new(), false);
            // True while the root is gone: its watch is dropped and the parent's waits for it.
            let mut gone = false;
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                // Changes that arrived while the last rebuild ran are folded into this one.
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let Ok(now) = root.canonicalize() else {
                    if !gone {
                        gone = true;
                        let _ = shared.lock().unwrap_or_else(|e| e.into_inner()).unwatch(&target);
                        tracing::warn!(root = %root.display(), "the repository folder is gone; waiting for it to come back");
                        sink.source_gone(format!("the repository folder {} is gone; serving the last good snapshot until it comes back", root.display()));
                    }
                    continue;
                };
                // A link pointing elsewhere, or the same path deleted and created again (a new
                // folder, which the old watch does not see; its inode may be the old one's,
                // so the root's own removal or creation counts too): watch it anew, read it whole.
                let now_identity = identity(&now);
                let moved = gone || now != target || now_identity != target_id || batch.iter().any(|b| replaces(&target, b));
                if moved {
                    let mut d = shared.lock().unwrap_or_else(|e| e.into_inner());
                    if !gone {
                        let _ = d.unwatch(&target);
                    }
                    if let Err(e) = d.watch(&now, RecursiveMode::Recursive) {
                        tracing::warn!(error = %e, "cannot watch {}", now.display());
                    }
                    if gone {
                        tracing::info!(root = %now.display(), "the repository folder is back");
                    } else {
                        tracing::info!(from = %target.display(), to = %now.display(), "the repository moved");
                    }
                    target = now;
                    target_id = now_identity;
                    gone = false;
                }
                let changed: BTreeSet<String> = batch.into_iter().flat_map(|b| relevant(&target, b)).collect();
                if moved || !changed.is_empty() {
                    rebuild(&root, entry.as_deref(), &options, &sink, &changed, !moved);
                }
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(Watching { _debouncer: debouncer })
}

/// Whether a batch of events removed or created the root folder itself.
fn replaces(root: &Path, result: &DebounceEventResult) -> bool {
    result.as_ref().is_ok_and(|events| {
        events.iter().any(|e| matches!(e.event.kind, EventKind::Create(_) | EventKind::Remove(_)) && e.event.paths.iter().any(|p| p == root))
    })
}

/// What tells a folder from another created at the same path since (device and inode).
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_path: &Path) -> Option<(u64, u64)> {
    None
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Reads the repository again and swaps the snapshot in; says which changed file broke.
/// With `reuse`, files outside `changed` are taken from the current snapshot unparsed; a
/// lost track of events (the empty path) reads everything.
fn rebuild(root: &Path, entry: Option<&str>, options: &ReadOptions, sink: &impl Sink, changed: &BTreeSet<String>, reuse: bool) {
    let started = std::time::Instant::now();
    let shown = sink.shown().filter(|_| reuse && !changed.contains(""));
    match Snapshot::read_again(root, entry, options, shown.as_deref(), changed) {
        Ok(snapshot) => {
            let broken: Vec<String> = snapshot
                .all_diagnostics()
                .filter(|d| changed.contains(&d.file) && d.severity == Severity::Error && matches!(d.code, Code::InvalidYaml | Code::InvalidObject))
                .map(|d| {
                    // The message may already name its file.
                    let message = d.message.strip_prefix(&format!("{}: ", d.file)).unwrap_or(&d.message);
                    format!("{}:{}: {message}", d.file, d.line)
                })
                .collect();
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match what_was_read(changed, reuse) {
                Read::Whole => tracing::info!(elapsed_ms, files = snapshot.repository.files.len(), "repository read"),
                Read::Changed(n) => tracing::info!(elapsed_ms, changed = n, "snapshot rebuilt"),
            }
            let message = (!broken.is_empty()).then(|| broken.join("; "));
            sink.publish(snapshot, None, message);
        }
        Err(why) => sink.fail(why.to_string()),
    }
}

/// What a rebuild read, for its log line: "rebuilt, changed=0" would say that nothing changed
/// when the whole repository was read (at startup, after a move, or when events were lost).
#[derive(Debug, PartialEq, Eq)]
enum Read {
    Whole,
    Changed(usize),
}

fn what_was_read(changed: &BTreeSet<String>, reuse: bool) -> Read {
    if !reuse || changed.is_empty() || changed.contains("") { Read::Whole } else { Read::Changed(changed.len()) }
}

/// The files (relative to the root) that a batch of events touched and that Flux reads.
fn relevant(root: &Path, result: DebounceEventResult) -> BTreeSet<String> {
    let Ok(events) = result else {
        // The watcher lost track (overflow): everything may have changed.
        return BTreeSet::from([String::new()]);
    };
    let mut out = BTreeSet::new();
    for event in events {
        if !matches!(event.event.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any) {
            continue;
        }
        for path in &event.event.paths {
            if let Some(rel) = relative(root, path).filter(|rel| matters(rel)) {
                out.insert(rel);
            }
        }
    }
    out
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    Some(rel.components().filter_map(|c| c.as_os_str().to_str()).collect::<Vec<_>>().join("/"))
}

/// Whether a change to this path can change the graph.
fn matters(rel: &str) -> bool {
    if rel.split('/').any(|part| part == ".git") {
        return false;
    }
    let name = rel.rsplit('/').next().unwrap_or(rel);
    crate::load::is_yaml_name(rel) || name == ".sourceignore" || !name.contains('.')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{Read, matters, what_was_read};

    #[test]
    fn a_whole_read_is_not_logged_as_a_rebuild_with_nothing_changed() {
        let none = BTreeSet::new();
        let one = BTreeSet::from(["apps/ks.yaml".to_string()]);
        let lost = BTreeSet::from([String::new()]);
        assert_eq!(what_was_read(&none, false), Read::Whole, "startup");
        assert_eq!(what_was_read(&one, false), Read::Whole, "after a move");
        assert_eq!(what_was_read(&lost, true), Read::Whole, "events lost");
        assert_eq!(what_was_read(&one, true), Read::Changed(1));
    }

    #[test]
    fn which_changes_matter() {
        for yes in ["apps/ks.yaml", "a/b.yml", "a/Kustomization", ".sourceignore", "apps/deleted-folder"] {
            assert!(matters(yes), "{yes}");
        }
        for no in [".git/index", "README.md", "apps/.ks.yaml.swp", "notes.txt"] {
            assert!(!matters(no), "{no}");
        }
    }
}
