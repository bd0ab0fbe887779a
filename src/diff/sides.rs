//! The two sides of a diff, read from git: `--base` and `--head` resolved as `fluxgraph diff`
//! documents them, each revision's tree read into a snapshot (files the work tree holds with
//! the same text are taken from it, already parsed). The edge where a diff touches the disk.

use std::path::Path;
use std::sync::Arc;

use super::Side;
use crate::load::ReadOptions;
use crate::load::git::{self, Revision, Revisions};
use crate::snapshot::Snapshot;

/// Longest revision name taken from a request.
const MAX_REVISION: usize = 200;

/// A revision as a request may give it (the diff page's URL, the MCP `diff` tool): the characters of branch and tag names, ids and `~`/`^`
/// suffixes, nothing that reaches into a tree (`:`) or a reflog by date.
pub fn valid_revision(rev: &str) -> bool {
    !rev.is_empty() && rev.len() <= MAX_REVISION && !rev.starts_with('-') && rev.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./~^@".contains(&b))
}

/// A base and a head, and what each is.
pub struct Sides {
    pub base: Snapshot,
    pub head: Arc<Snapshot>,
    pub base_side: Side,
    pub head_side: Side,
}

/// Reads the sides of a diff of the repository at `root`. `base` defaults to the merge base of
/// the head with the default branch, or to `HEAD` when the head is the work tree and it differs
/// from `HEAD`; `head` to the work tree, which `work_tree` reads (or hands over, already read).
pub fn read(
    root: &Path,
    base: Option<&str>,
    head: Option<&str>,
    entry: Option<&str>,
    options: ReadOptions,
    work_tree: impl FnOnce() -> crate::Result<Arc<Snapshot>>,
) -> crate::Result<Sides> {
    let revisions = Revisions::open(root, options)?;
    let (head, head_revision) = match head {
        Some(rev) => {
            let revision = revisions.revision(rev)?;
            (Arc::new(Snapshot::from_repository(revisions.read(&revision, None)?, entry)?), Some(revision))
        }
        None => (work_tree()?, None),
    };
    let (base_revision, base_tree) = match (base, &head_revision) {
        (Some(rev), _) => (revisions.revision(rev)?, None),
        (None, Some(head)) => (revisions.merge_base_with_default(Some(head))?, None),
        (None, None) => {
            // Uncommitted changes are what the work tree adds to HEAD.
            let last = revisions.revision("HEAD")?;
            let tree = revisions.tree(&last)?;
            if git::same_files(&tree, &head.repository) { (revisions.merge_base_with_default(None)?, None) } else { (last, Some(tree)) }
        }
    };
    // What the head parsed is not parsed again.
    let base_repository = match base_tree {
        Some(tree) => revisions.repository(tree, Some(&head.repository)),
        None => revisions.read(&base_revision, Some(&head.repository))?,
    };
    let base = Snapshot::from_repository(base_repository, entry)?;
    let side = |r: &Revision| Side { name: r.name.clone(), commit: Some(r.commit.clone()) };
    let head_side = head_revision.as_ref().map_or_else(|| Side { name: "work tree".to_string(), commit: None }, side);
    Ok(Sides { base, head, base_side: side(&base_revision), head_side })
}

#[cfg(test)]
mod tests {
    use super::valid_revision;

    #[test]
    fn revisions_from_a_url_are_names_not_paths() {
        for ok in ["main", "origin/main", "HEAD~2", "v1.2.0", "HEAD^", "0123abc", "@"] {
            assert!(valid_revision(ok), "{ok}");
        }
        for bad in ["", "HEAD:secrets.yaml", "main@{yesterday}", "--output=x", "a b", &"a".repeat(300)] {
            assert!(!valid_revision(bad), "{bad}");
        }
    }
}
