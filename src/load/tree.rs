//! Tree: the files of a revision held in memory (path → bytes, as git's object database
//! gives them) → a [`Repository`], read as [`read_repository`](super::read_repository) reads a
//! folder: Flux's default exclusions first, `.sourceignore` files scoped to their folder, an
//! excluded folder never entered, the same limits on one file (size, binary, UTF-8) and the
//! same budget. What reads a revision ([`super::git`]) asks [`Exclusions`] which paths Flux
//! would see before it reads their contents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::overrides::Override;
use ignore::Match;
use rayon::prelude::*;

use super::{MAX_FILE_BYTES, ReadOptions, Repository, SourceFile, Spend, decode, is_yaml_name, parent_dir, too_large, yaml};
use crate::diagnostic::Diagnostic;

/// What Flux's artifact leaves out of a tree: the default exclusions, then the `.sourceignore`
/// files, the nearest one with a say deciding (as the `ignore` crate's walk does on disk).
pub struct Exclusions {
    root: PathBuf,
    defaults: Override,
    /// The `.sourceignore` of each folder that has one, by folder ("" for the root).
    ignores: BTreeMap<String, Gitignore>,
    /// Folders judged so far: excluded or not (cleared when a `.sourceignore` is added).
    folders: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

impl Exclusions {
    /// Flux's default exclusions only; `root` is where the tree would lie on disk.
    pub fn new(root: &Path) -> Exclusions {
        let defaults = super::default_exclusions(root);
        Exclusions { root: root.to_path_buf(), defaults, ignores: BTreeMap::new(), folders: Default::default() }
    }

    /// Takes the `.sourceignore` of folder `dir` ("" for the root). Lines that are not valid
    /// patterns are skipped, as the walk on disk skips them.
    pub fn add_sourceignore(&mut self, dir: &str, text: &str) {
        let mut builder = GitignoreBuilder::new(self.root.join(dir));
        for line in text.lines() {
            let _ = builder.add_line(None, line);
        }
        if let Ok(matcher) = builder.build() {
            self.ignores.insert(dir.to_string(), matcher);
            self.folders.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Whether the artifact leaves out `path` (a folder when `is_dir`): it, or a folder above it.
    pub fn excludes(&self, path: &str, is_dir: bool) -> bool {
        self.folder_excluded(super::parent_dir(path)) || self.excluded_here(path, is_dir)
    }

    /// Whether the folder `dir` or one above it is left out; each folder is judged once, from
    /// the nearest folder judged before down (a loop, not a recursion per folder).
    fn folder_excluded(&self, dir: &str) -> bool {
        let mut folders = self.folders.lock().unwrap_or_else(|e| e.into_inner());
        let mut unjudged = Vec::new();
        let mut at = dir;
        let mut excluded = loop {
            if at.is_empty() {
                break false;
            }
            if let Some(&known) = folders.get(at) {
                break known;
            }
            unjudged.push(at);
            at = super::parent_dir(at);
        };
        for folder in unjudged.into_iter().rev() {
            excluded = excluded || self.excluded_here(folder, true);
            folders.insert(folder.to_string(), excluded);
        }
        excluded
    }

    /// The rules for `path` alone, its folders taken as entered.
    fn excluded_here(&self, path: &str, is_dir: bool) -> bool {
        let abs = self.root.join(path);
        match self.defaults.matched(&abs, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
        let mut dir = parent_dir(path);
        loop {
            if let Some(matcher) = self.ignores.get(dir) {
                match matcher.matched(&abs, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            if dir.is_empty() {
                return false;
            }
            dir = parent_dir(dir);
        }
    }
}

/// One file of a tree that Flux would see.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// Relative to the tree's root, `/`-separated.
    pub path: String,
    pub blob: Blob,
}

#[derive(Debug, Clone)]
pub enum Blob {
    /// A YAML file's bytes.
    Bytes(Vec<u8>),
    /// A YAML file over [`MAX_FILE_BYTES`], unread: its size.
    TooLarge(u64),
    /// Any other file: only its path matters.
    Other,
}

/// Builds the repository of a tree. `problems` are what reading the tree found (links it
/// could not follow); a file that `earlier` holds with the same text is taken from it, parsed;
/// `read_input` gives a non-YAML file's bytes, for kustomize generators and JSON resources.
/// The YAML read stays within `options`.
pub fn repository(
    root: &Path,
    options: &ReadOptions,
    files: Vec<TreeFile>,
    problems: Vec<Diagnostic>,
    earlier: Option<&Repository>,
    read_input: impl Fn(&str) -> Option<Vec<u8>>,
) -> Repository {
    let spend = Spend::new(*options);
    crate::snapshot::ensure_pool();
    let found: Vec<SourceFile> = files.into_par_iter().filter_map(|file| source_file(file, earlier, &spend)).collect();
    let mut diagnostics = problems;
    diagnostics.extend(spend.diagnostic());
    let mut repo = Repository::with_files(root.to_path_buf(), found, diagnostics);
    super::add_listed_inputs(&mut repo, read_input);
    repo.remotes = super::git_remotes(root);
    repo
}

/// A file as the disk walk would record it; `None` beyond the budget.
fn source_file(file: TreeFile, earlier: Option<&Repository>, spend: &Spend) -> Option<SourceFile> {
    let TreeFile { path, blob } = file;
    if let (Blob::Bytes(bytes), Some(known)) = (&blob, earlier.and_then(|e| e.files.get(&path))) {
        if known.unreadable.is_none() && known.text.as_bytes() == bytes.as_slice() {
            return spend.take(bytes.len() as u64).then(|| known.clone());
        }
    }
    let unread = |path: String, unreadable: Option<Diagnostic>| SourceFile { path, text: "".into(), documents: Vec::new(), unreadable };
    match blob {
        Blob::Other => spend.take(0).then(|| unread(path, None)),
        _ if !is_yaml_name(&path) => spend.take(0).then(|| unread(path, None)),
        Blob::TooLarge(len) => spend.take(0).then(|| {
            let diag = too_large(&path, len);
            unread(path, Some(diag))
        }),
        Blob::Bytes(bytes) => {
            let len = bytes.len() as u64;
            if !spend.take(if len > MAX_FILE_BYTES { 0 } else { len }) {
                return None;
            }
            if len > MAX_FILE_BYTES {
                let diag = too_large(&path, len);
                return Some(unread(path, Some(diag)));
            }
            Some(match decode(&path, bytes) {
                Ok(text) => SourceFile { documents: yaml::parse_documents(&text), path, text: text.into(), unreadable: None },
                Err(diag) => unread(path, Some(diag)),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(ignores: &[(&str, &str)], path: &str) -> bool {
        let mut exclusions = Exclusions::new(Path::new("/r"));
        for (dir, text) in ignores {
            exclusions.add_sourceignore(dir, text);
        }
        exclusions.excludes(path, false)
    }

    #[test]
    fn default_exclusions_and_sourceignore_scoped_to_their_folder() {
        assert!(excluded(&[], ".github/workflows/ci.yaml"));
        assert!(excluded(&[], "apps/.sops.yaml"));
        assert!(excluded(&[], "docs/logo.png"));
        assert!(!excluded(&[], "apps/ks.yaml"));
        let ignores = [("", "/docs/\n*.tmp.yaml\n"), ("apps", "draft/\n!keep.tmp.yaml\n")];
        assert!(excluded(&ignores, "docs/a.yaml"), "a folder at the root");
        assert!(!excluded(&ignores, "apps/docs/a.yaml"), "anchored to the root only");
        assert!(excluded(&ignores, "apps/x.tmp.yaml"));
        assert!(!excluded(&ignores, "apps/keep.tmp.yaml"), "the nearest file decides");
        assert!(excluded(&ignores, "apps/draft/ks.yaml"));
        assert!(!excluded(&ignores, "infra/draft/ks.yaml"), "scoped to its folder");
    }

    #[test]
    fn a_tree_reads_as_a_folder_does() {
        let files = vec![
            TreeFile { path: "a/ks.yaml".into(), blob: Blob::Bytes(b"kind: A\n".to_vec()) },
            TreeFile { path: "a/bin.yaml".into(), blob: Blob::Bytes(b"\0\0".to_vec()) },
            TreeFile { path: "a/big.yaml".into(), blob: Blob::TooLarge(MAX_FILE_BYTES + 1) },
            TreeFile { path: "a/app.env".into(), blob: Blob::Other },
        ];
        let repo = repository(Path::new("/nowhere"), &ReadOptions::default(), files, Vec::new(), None, |_| None);
        assert_eq!(&*repo.files["a/ks.yaml"].text, "kind: A\n");
        assert!(repo.is_file("a/app.env") && repo.is_dir("a"));
        let codes: Vec<&str> = repo.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["file-too-large", "binary-file"]);
    }
}
