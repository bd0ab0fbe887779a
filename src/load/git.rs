//! Git: a revision of the repository a folder belongs to → the files Flux would see in it, read
//! straight from git's object database (no checkout, no `git` binary), then a [`Repository`]
//! through [`tree`](super::tree), with the same rules as a read of the folder on disk.
//!
//! The folder may lie below the work tree's top: a revision is then read at that folder. A
//! symbolic link in a revision is followed inside the tree as the disk walk follows it inside
//! the root: a link to a file reads as that file, a link to a folder holds that folder's files
//! (links met there are not followed again), a link leaving the folder is reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::tree::{Blob, Exclusions, TreeFile};
use super::{MAX_DEPTH, MAX_FILE_BYTES, ReadOptions, Repository, is_yaml_name, parent_dir};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::{join, normalize};

/// Branches taken as the default one, in this order, when `--base` is not given.
const DEFAULT_BRANCHES: &[&str] = &["origin/HEAD", "origin/main", "origin/master", "main", "master"];

/// A revision's tree: each entry's mode and object, by path below the folder.
type Listing = BTreeMap<String, (gix::object::tree::EntryMode, gix::ObjectId)>;

/// Why a revision cannot be read; each message names the revision or path it is about.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot read {path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("{} is not in a git repository: {message}", root.display())]
    NotARepository { root: PathBuf, message: String },
    #[error("{} is in a bare git repository, without a work tree", root.display())]
    Bare { root: PathBuf },
    #[error("{} is not inside the work tree {}", root.display(), top.display())]
    OutsideWorkTree { root: PathBuf, top: PathBuf },
    #[error("no revision {rev:?} in {}: {message}", root.display())]
    NoRevision { rev: String, root: PathBuf, message: String },
    #[error("cannot read revision {rev:?}: {message}")]
    RevisionUnreadable { rev: String, message: String },
    #[error("revision {rev:?} is not a commit: {message}")]
    NotACommit { rev: String, message: String },
    #[error("no default branch found (none of {}); name the base with --base REV", DEFAULT_BRANCHES.join(", "))]
    NoDefaultBranch,
    #[error("no merge base of {head} and {branch}: {message}")]
    NoMergeBase { head: String, branch: String, message: String },
    /// A tree of the revision could not be read (`revision` as it was named or found).
    #[error("cannot read revision {revision}: {message}")]
    TreeUnreadable { revision: String, message: String },
    #[error("revision {revision} is refused: its tree at {at} holds an entry named {name:?}, {why}; git fsck rejects such a tree")]
    BadTree { revision: String, at: String, name: String, why: &'static str },
    #[error("cannot open the git repository: {0}")]
    Open(String),
    #[error("a reader thread failed")]
    ReaderFailed,
}

/// The git repository holding a folder.
pub struct Revisions {
    repo: gix::Repository,
    /// The folder, as the repository's root for Flux.
    root: PathBuf,
    /// The folder below the work tree's top, `/`-separated ("" at the top).
    prefix: String,
    /// The limits of every revision's read.
    options: ReadOptions,
}

/// A revision resolved to a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// As the user named it, or as it was found (`merge-base of HEAD and origin/main`).
    pub name: String,
    /// The commit's full hexadecimal id.
    pub commit: String,
    id: gix::ObjectId,
}

impl Revisions {
    /// Finds the git repository that `root` belongs to; its revisions are read within `options`.
    pub fn open(root: &Path, options: ReadOptions) -> Result<Revisions, GitError> {
        let root = root.canonicalize().map_err(|e| GitError::Unreadable { path: root.display().to_string(), message: e.to_string() })?;
        let repo = gix::discover(&root).map_err(|e| GitError::NotARepository { root: root.clone(), message: e.to_string() })?;
        let top = repo.workdir().ok_or_else(|| GitError::Bare { root: root.clone() })?;
        let top = top.canonicalize().map_err(|e| GitError::Unreadable { path: top.display().to_string(), message: e.to_string() })?;
        let prefix = root.strip_prefix(&top).map_err(|_| GitError::OutsideWorkTree { root: root.clone(), top: top.clone() })?;
        let prefix = prefix.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/");
        Ok(Revisions { repo, root, prefix, options })
    }

    /// The commit `rev` names (`main`, `HEAD~2`, a tag, an id…).
    pub fn revision(&self, rev: &str) -> Result<Revision, GitError> {
        let id = self.repo.rev_parse_single(rev).map_err(|e| GitError::NoRevision { rev: rev.to_string(), root: self.root.clone(), message: e.to_string() })?;
        let object = id.object().map_err(|e| GitError::RevisionUnreadable { rev: rev.to_string(), message: e.to_string() })?;
        let commit = object.peel_to_commit().map_err(|e| GitError::NotACommit { rev: rev.to_string(), message: e.to_string() })?;
        Ok(Revision { name: rev.to_string(), commit: commit.id.to_string(), id: commit.id })
    }

    /// The merge base of `head` (`HEAD` when `None`) with the default branch: the first of
    /// `origin/HEAD`, `origin/main`, `origin/master`, `main`, `master` that exists.
    pub fn merge_base_with_default(&self, head: Option<&Revision>) -> Result<Revision, GitError> {
        let head = match head {
            Some(head) => head.clone(),
            None => self.revision("HEAD")?,
        };
        let Some(branch) = DEFAULT_BRANCHES.iter().find_map(|b| self.revision(b).ok()) else {
            return Err(GitError::NoDefaultBranch);
        };
        let base = self
            .repo
            .merge_base(head.id, branch.id)
            .map_err(|e| GitError::NoMergeBase { head: head.name.clone(), branch: branch.name.clone(), message: e.to_string() })?
            .detach();
        Ok(Revision { name: format!("merge-base of {} and {}", head.name, branch.name), commit: base.to_string(), id: base })
    }

    /// The files of `revision` (at the folder) that Flux would see: YAML files read, other
    /// files only listed.
    pub fn tree(&self, revision: &Revision) -> Result<Tree, GitError> {
        let (listed, too_deep) = self.listing(revision)?;
        let (files, mut problems) = self.files_of(&listed)?;
        problems.extend(too_deep);
        Ok(Tree { files, problems, listed })
    }

    /// Reads `revision` as a [`Repository`] rooted at the folder.
    pub fn read(&self, revision: &Revision, earlier: Option<&Repository>) -> Result<Repository, GitError> {
        Ok(self.repository(self.tree(revision)?, earlier))
    }

    /// The repository of a tree read with [`Revisions::tree`]. The files `earlier` (the work
    /// tree, say) holds with the same text are taken from it, not parsed again.
    pub fn repository(&self, tree: Tree, earlier: Option<&Repository>) -> Repository {
        let Tree { files, problems, listed } = tree;
        let read_input = |path: &str| {
            let (_, oid) = listed.get(path).filter(|(mode, _)| mode.is_blob())?;
            if self.repo.find_header(*oid).ok()?.size() > super::MAX_INPUT_BYTES {
                return None;
            }
            Some(self.repo.find_blob(*oid).ok()?.take_data())
        };
        super::tree::repository(&self.root, &self.options, files, problems, earlier, read_input)
    }

    /// Every entry of the revision's tree at the folder, by path (empty when the folder is not
    /// in that revision), and the folders left out for lying deeper than [`MAX_DEPTH`]. Trees
    /// are read one at a time from a list of those still to read, never by recursion, and each
    /// tree's entry names are checked as `git fsck` checks them before anything is listed: a
    /// revision holding a bad name is refused whole.
    fn listing(&self, revision: &Revision) -> Result<(Listing, Vec<Diagnostic>), GitError> {
        let cannot = |e: &dyn std::fmt::Display| GitError::TreeUnreadable { revision: revision.name.clone(), message: e.to_string() };
        let commit = self.repo.find_commit(revision.id).map_err(|e| cannot(&e))?;
        let mut tree = commit.tree().map_err(|e| cannot(&e))?;
        if !self.prefix.is_empty() {
            let entry = tree.lookup_entry_by_path(&self.prefix).map_err(|e| cannot(&e))?;
            let Some(entry) = entry.filter(|e| e.mode().is_tree()) else {
                return Ok((Listing::new(), Vec::new()));
            };
            tree = entry.object().map_err(|e| cannot(&e))?.into_tree();
        }
        let mut listed = Listing::new();
        let mut too_deep = Vec::new();
        // (tree, its path, how many folders deep it is)
        let mut to_read = vec![(tree.id, String::new(), 0usize)];
        while let Some((id, dir, depth)) = to_read.pop() {
            let tree = self.repo.find_tree(id).map_err(|e| cannot(&e))?;
            let decoded = tree.decode().map_err(|e| cannot(&e))?;
            let names = decoded.entries.iter().map(|e| e.filename.as_ref());
            if let Some((name, why)) = bad_entry(names) {
                let at = if dir.is_empty() { "the top folder".to_string() } else { dir.clone() };
                return Err(GitError::BadTree { revision: revision.name.clone(), at, name: String::from_utf8_lossy(name).into_owned(), why });
            }
            for entry in &decoded.entries {
                let name = String::from_utf8_lossy(entry.filename);
                let path = if dir.is_empty() { name.into_owned() } else { format!("{dir}/{name}") };
                if entry.mode.is_tree() {
                    if depth + 1 > MAX_DEPTH {
                        too_deep.push(super::too_deep(&path));
                        continue;
                    }
                    to_read.push((entry.oid.to_owned(), path.clone(), depth + 1));
                }
                listed.insert(path, (entry.mode, entry.oid.to_owned()));
            }
        }
        too_deep.sort();
        Ok((listed, too_deep))
    }

    fn files_of(&self, listed: &Listing) -> Result<(Vec<TreeFile>, Vec<Diagnostic>), GitError> {
        let exclusions = self.exclusions(listed)?;
        let mut reader = Reader { revisions: self, listed, exclusions: &exclusions, wanted: Vec::new(), problems: Vec::new() };
        for (path, (mode, oid)) in listed {
            if mode.is_tree() || mode.is_commit() || exclusions.excludes(path, false) {
                continue;
            }
            if mode.is_link() {
                reader.link(path, *oid)?;
            } else {
                reader.file(path.clone(), *oid)?;
            }
        }
        reader.read()
    }

    /// The default exclusions and every `.sourceignore` of a folder Flux enters, shallowest first.
    fn exclusions(&self, listed: &Listing) -> Result<Exclusions, GitError> {
        let mut exclusions = Exclusions::new(&self.root);
        let mut ignore_files: Vec<(&String, gix::ObjectId)> = listed
            .iter()
            .filter(|(path, (mode, _))| mode.is_blob() && path.rsplit('/').next() == Some(".sourceignore"))
            .map(|(path, (_, oid))| (path, *oid))
            .collect();
        ignore_files.sort_by_key(|(path, _)| path.matches('/').count());
        for (path, oid) in ignore_files {
            let dir = parent_dir(path);
            if !dir.is_empty() && exclusions.excludes(dir, true) {
                continue;
            }
            let blob = self.repo.find_blob(oid).map_err(|e| GitError::Unreadable { path: path.to_string(), message: e.to_string() })?;
            exclusions.add_sourceignore(dir, &String::from_utf8_lossy(&blob.data));
        }
        Ok(exclusions)
    }
}

/// What a revision holds that Flux would see.
pub struct Tree {
    pub files: Vec<TreeFile>,
    /// What could not be followed (links).
    pub problems: Vec<Diagnostic>,
    listed: Listing,
}

/// Reads the files of one revision, within the budget.
struct Reader<'a> {
    revisions: &'a Revisions,
    listed: &'a Listing,
    exclusions: &'a Exclusions,
    /// The files Flux sees and the blob each holds (a link's, its target's), in path order.
    wanted: Vec<(String, gix::ObjectId)>,
    problems: Vec<Diagnostic>,
}

impl Reader<'_> {
    /// A regular file at `path`, its content the blob `oid`.
    fn file(&mut self, path: String, oid: gix::ObjectId) -> Result<(), GitError> {
        self.wanted.push((path, oid));
        Ok(())
    }

    /// Reads the wanted files' blobs on every core (YAML files only; others are listed), within
    /// the budget: past it, no more are read and the tree's repository reports it. Each thread
    /// opens the repository for itself (gix's handles are not shared between threads).
    fn read(self) -> Result<(Vec<TreeFile>, Vec<Diagnostic>), GitError> {
        use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
        let budget = self.revisions.options;
        let (count, bytes) = (AtomicUsize::new(0), AtomicU64::new(0));
        let git_dir = self.revisions.repo.git_dir().to_path_buf();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let chunk = self.wanted.len().div_ceil(threads).max(256);
        let read_chunk = |part: &[(String, gix::ObjectId)]| -> Result<Vec<TreeFile>, GitError> {
            let repo = gix::open(&git_dir).map_err(|e| GitError::Open(e.to_string()))?;
            let mut out = Vec::with_capacity(part.len());
            for (path, oid) in part {
                if count.fetch_add(1, Relaxed) > budget.max_files || bytes.load(Relaxed) > budget.max_bytes {
                    break;
                }
                let path = path.clone();
                if !is_yaml_name(&path) {
                    out.push(TreeFile { path, blob: Blob::Other });
                    continue;
                }
                let size = repo.find_header(*oid).map_err(|e| GitError::Unreadable { path: path.to_string(), message: e.to_string() })?.size();
                if size > MAX_FILE_BYTES {
                    out.push(TreeFile { path, blob: Blob::TooLarge(size) });
                    continue;
                }
                let mut blob = repo.find_blob(*oid).map_err(|e| GitError::Unreadable { path: path.to_string(), message: e.to_string() })?;
                bytes.fetch_add(size, Relaxed);
                out.push(TreeFile { path, blob: Blob::Bytes(blob.take_data()) });
            }
            Ok(out)
        };
        let parts: Vec<Result<Vec<TreeFile>, GitError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self.wanted.chunks(chunk).map(|part| scope.spawn(move || read_chunk(part))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(GitError::ReaderFailed))).collect()
        });
        let mut files = Vec::with_capacity(self.wanted.len());
        for part in parts {
            files.extend(part?);
        }
        Ok((files, self.problems))
    }

    /// A symbolic link at `path`, its target the text of the blob `oid`.
    fn link(&mut self, path: &str, oid: gix::ObjectId) -> Result<(), GitError> {
        let says = {
            let blob = self.revisions.repo.find_blob(oid).map_err(|e| GitError::Unreadable { path: path.to_string(), message: e.to_string() })?;
            String::from_utf8_lossy(&blob.data).into_owned()
        };
        let target = if says.starts_with('/') { None } else { normalize(&join(parent_dir(path), &says)) };
        let Some(target) = target.filter(|t| !t.is_empty() || !says.is_empty()) else {
            self.problems.push(Diagnostic::warning(
                Code::SymlinkOutsideRoot,
                path,
                0,
                format!("{path} is a link to {says}, outside the repository; Flux's artifact would not hold it, so nothing behind it is read"),
            ));
            return Ok(());
        };
        if let Some((mode, target_oid)) = self.listed.get(&target) {
            if mode.is_blob() {
                return self.file(path.to_string(), *target_oid);
            }
            if mode.is_link() {
                self.problems.push(Diagnostic::warning(Code::SymlinkLoop, path, 0, format!("{path} is a link to {says}, another link; in a revision it is not followed further")));
                return Ok(());
            }
        }
        let below = if target.is_empty() { String::new() } else { format!("{target}/") };
        if path.starts_with(&below) {
            self.problems.push(Diagnostic::warning(Code::SymlinkLoop, path, 0, format!("{path} is a link to {says}, a folder that holds it: a symbolic link loop; it is not followed")));
            return Ok(());
        }
        let inside: Vec<(String, gix::ObjectId)> = self
            .listed
            .range(below.clone()..)
            .take_while(|(p, _)| p.starts_with(&below))
            .filter(|(_, (mode, _))| mode.is_blob())
            .map(|(p, (_, oid))| (format!("{path}/{}", &p[below.len()..]), *oid))
            .collect();
        if inside.is_empty() {
            self.problems.push(Diagnostic::warning(Code::UnreadableFile, path, 0, format!("{path} is a link to {says}, which is not in the revision; it is left out")));
        }
        for (at, oid) in inside {
            if !self.exclusions.excludes(&at, false) {
                self.file(at, oid)?;
            }
        }
        Ok(())
    }
}

/// The first entry name of one tree that `git fsck` rejects, and why: a name that is empty,
/// holds a `/`, is `.` or `..`, is `.git` in any case, or that the tree holds twice. Such a name
/// would make a path other than the one written, or a file that replaces another.
fn bad_entry<'a>(names: impl Iterator<Item = &'a [u8]>) -> Option<(&'a [u8], &'static str)> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        let why = if name.is_empty() {
            "an empty name"
        } else if name.contains(&b'/') {
            "a name with a slash"
        } else if name == b"." || name == b".." {
            "a name that means a folder itself or its parent"
        } else if name.eq_ignore_ascii_case(b".git") {
            "the name of git's own folder"
        } else if !seen.insert(name) {
            "a name the tree holds twice"
        } else {
            continue;
        };
        return Some((name, why));
    }
    None
}

/// Whether `root` lies in a git work tree (a `.git` folder or file in it or above it).
pub fn is_work_tree(root: &Path) -> bool {
    root.ancestors().any(|dir| dir.join(".git").exists())
}

/// Whether `repo` (the work tree, read from disk) holds the same files as `files` (a revision
/// read with [`Revisions::tree`]): same paths, same YAML texts.
pub fn same_files(tree: &Tree, repo: &Repository) -> bool {
    let files = &tree.files;
    let count = repo.files.len() + repo.other_files.len();
    count == files.len()
        && files.iter().all(|f| match &f.blob {
            // A file that could not be read from disk (binary, not UTF-8) is taken as the same.
            Blob::Bytes(bytes) => repo.files.get(&f.path).is_some_and(|s| s.unreadable.is_some() || s.text.as_bytes() == bytes.as_slice()),
            Blob::TooLarge(_) => repo.files.contains_key(&f.path),
            Blob::Other => repo.other_files.contains(&f.path),
        })
}
