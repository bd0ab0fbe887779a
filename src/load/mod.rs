//! Load: a repository folder on disk → [`Repository`], an immutable in-memory snapshot.
//!
//! Walks the tree once (the `ignore` crate: hidden files kept, git rules off, as in Flux's
//! artifact; `.sourceignore` files honoured, nested ones scoped to their folder; Flux's
//! default exclusions first), reads and parses every `.yaml`/`.yml` file in parallel, and
//! records every other file's path so that kustomize resolution can check that it exists.
//! Files that cannot be used (too large, binary, not UTF-8, symlink loops or links leaving
//! the root, FIFOs and other special files, YAML errors) become diagnostics; the rest still
//! loads. Nothing after this stage touches the file system.
//!
//! The repository is a boundary. The walk does not follow links itself; each link is resolved
//! after it ([`follow_links`]), in path order: a link whose target (links resolved) leaves the
//! root, or that loops, is reported by its relative path and its own text, and nothing behind it
//! is read; a folder is walked through one link at most, so that links cannot multiply the walk
//! (a "link bomb" of 19 folders with two links each to the next takes milliseconds, not 2^19
//! walks). A special file is never opened: opening a FIFO blocks.
//!
//! A read has a budget: [`MAX_FILES`] files (100,000) and [`MAX_REPOSITORY_BYTES`] of YAML
//! (256 MiB), set with `--max-files` and `--max-repository-bytes` ([`ReadOptions`]). Beyond it
//! the walk stops, the files beyond are left out, and one `repository-too-large` says so.

pub mod edit;
pub mod kustomize;
pub mod manifest;
pub mod patch;
pub mod git;
pub mod scalar;
pub mod sealed;
pub mod substitute;
pub mod tree;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};
use ignore::overrides::OverrideBuilder;

use crate::diagnostic::{Code, Diagnostic};
pub use manifest::Manifest;
pub use yaml::{Document, Node, Value, YamlError};

/// Why a step of the load stage failed. Only [`LoadError::Root`] fails a whole read; the
/// others fail one patch, substitution or kustomize build, and become its diagnostic.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The repository's folder itself cannot be read.
    #[error("cannot read {}: {source}", root.display())]
    Root { root: PathBuf, source: std::io::Error },
    #[error("the patch is empty")]
    EmptyPatch,
    #[error("the patch is not valid YAML: {0}")]
    PatchYaml(YamlError),
    #[error("not a JSON 6902 patch: {0}")]
    NotJson6902(serde_json::Error),
    #[error("a patch must be a mapping (strategic merge) or a list (JSON 6902)")]
    PatchShape,
    /// A JSON 6902 operation that does not apply, in json-patch's words.
    #[error("{0}")]
    PatchOperation(json_patch::PatchError),
    /// A `${…}` Flux's envsubst fork cannot parse, in its words.
    #[error("{0}")]
    Substitution(&'static str),
    /// A scalar that does not read as YAML again, in the YAML parser's words.
    #[error("{0}")]
    Scalar(String),
    /// A build kustomize fails (a replacement, a generator's merge, a name reference), told
    /// as kustomize's case is.
    #[error("{0}")]
    Kustomize(String),
}

/// The default budget of a repository: at most this many bytes of YAML read in all
/// (`--max-repository-bytes`)…
pub const MAX_REPOSITORY_BYTES: u64 = 256 * 1024 * 1024;
/// …and at most this many files recorded (`--max-files`). Beyond either, files are left out
/// (which ones depends on the walk's order) with one `repository-too-large` diagnostic, so
/// that a hostile or mistaken root (a home folder) cannot exhaust memory or time.
pub const MAX_FILES: usize = 100_000;

/// How much one read of a repository may take in all: given by each caller (the CLI's
/// `--max-repository-bytes` and `--max-files`, the watcher's and the diff's rereads take the
/// same), so that two reads in one process may have different limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    pub max_bytes: u64,
    pub max_files: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { max_bytes: MAX_REPOSITORY_BYTES, max_files: MAX_FILES }
    }
}

/// What one read has spent of its budget, shared by the walker's threads.
struct Spend {
    budget: ReadOptions,
    files: std::sync::atomic::AtomicUsize,
    bytes: std::sync::atomic::AtomicU64,
    over: std::sync::atomic::AtomicBool,
}

impl Spend {
    fn new(budget: ReadOptions) -> Spend {
        Spend { budget, files: Default::default(), bytes: Default::default(), over: Default::default() }
    }

    /// Takes one file of `bytes` from the budget; `false` (and the budget marked as reached)
    /// when it does not fit.
    fn take(&self, bytes: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.over.load(Relaxed) {
            return false;
        }
        let files = self.files.fetch_add(1, Relaxed) + 1;
        let total = self.bytes.fetch_add(bytes, Relaxed) + bytes;
        if files > self.budget.max_files || total > self.budget.max_bytes {
            self.over.store(true, Relaxed);
            return false;
        }
        true
    }

    fn diagnostic(&self) -> Option<Diagnostic> {
        self.over.load(std::sync::atomic::Ordering::Relaxed).then(|| {
            Diagnostic::warning(
                Code::RepositoryTooLarge,
                "",
                0,
                format!(
                    "the repository is over its budget of {} files or {} MiB of YAML (--max-files, --max-repository-bytes); the files beyond it are left out",
                    self.budget.max_files,
                    self.budget.max_bytes / (1024 * 1024)
                ),
            )
        })
    }
}

/// Folders nested deeper than this below the root are not entered, on disk as in a git
/// revision: no repository needs more, and every later stage that follows folders (kustomize's
/// generated kustomization, the exclusions) then stays within a thread's stack whatever the
/// input. Each folder beyond the limit is reported ([`too_deep`]) and nothing in it is read.
pub const MAX_DEPTH: usize = 256;

/// The diagnostic for a folder deeper than [`MAX_DEPTH`].
pub fn too_deep(dir: &str) -> Diagnostic {
    Diagnostic::warning(
        Code::UnreadableFile,
        dir,
        0,
        format!("{dir} lies more than {MAX_DEPTH} folders deep, deeper than fluxgraph reads; what it holds is left out"),
    )
}

/// Whether a folder `depth` folders below the root is beyond [`MAX_DEPTH`].
fn beyond_depth(depth: usize, is_dir: bool) -> bool {
    is_dir && depth > MAX_DEPTH
}

/// Files larger than this are not read: no Flux manifest is this big, and a generated
/// bundle of this size is better left out than allowed to stall every reload.
pub const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// Flux's default exclusions (source-controller's `sourceignore` defaults: VCS, CI,
/// binary extensions and SOPS/Flux config files), applied before `.sourceignore`.
const DEFAULT_EXCLUSIONS: &[&str] = &[
    ".git/", ".gitignore", ".gitmodules", ".gitattributes",
    "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
    ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
    "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
    "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
];

/// One file of the repository. YAML files carry their text and documents.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the repository root, with `/` separators.
    pub path: String,
    pub text: Arc<str>,
    pub documents: Vec<Result<Document, YamlError>>,
    /// Why the file could not be read as YAML at all, when it could not.
    pub unreadable: Option<Diagnostic>,
}

/// A non-YAML file a kustomize generator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A ConfigMap's input: its text.
    Text(Arc<str>),
    /// A Secret's input: its bytes, which may only be hashed.
    Sealed(sealed::Sealed),
}

/// What a directory holds, by full relative path, in name order.
#[derive(Debug, Clone, Default)]
pub struct Dir {
    pub files: BTreeSet<String>,
    pub dirs: BTreeSet<String>,
}

/// The loaded repository: every file Flux would see, parsed where it is YAML.
#[derive(Debug, Clone, Default)]
pub struct Repository {
    pub root: PathBuf,
    /// YAML files (and files named `Kustomization`), and the JSON files kustomizations list
    /// as resources, by relative path.
    pub files: BTreeMap<String, SourceFile>,
    /// Every other file Flux would see, by relative path.
    pub other_files: BTreeSet<String>,
    /// Every directory holding at least one such file, and its ancestors; "" is the root.
    pub dirs: BTreeMap<String, Dir>,
    /// Problems found while walking (links, unreadable files).
    pub diagnostics: Vec<Diagnostic>,
    /// Non-YAML inputs of kustomize generators (`.env`, `.conf`…), by relative path: a
    /// ConfigMap's as text, a Secret's sealed (they can only be hashed).
    pub inputs: BTreeMap<String, Input>,
    /// The URLs of the git remotes of the work tree (`.git/config`): a source with one of
    /// these URLs is this repository.
    pub remotes: Vec<String>,
}

impl Repository {
    pub fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains_key(path)
    }

    pub fn is_file(&self, path: &str) -> bool {
        self.files.contains_key(path) || self.other_files.contains(path)
    }

    /// YAML files directly in `dir`, in name order.
    pub fn files_in<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a SourceFile> + 'a {
        self.dirs.get(dir).into_iter().flat_map(|d| d.files.iter()).filter_map(|p| self.files.get(p))
    }

    /// Sub-directories directly below `dir`, in name order.
    pub fn subdirs<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.dirs.get(dir).into_iter().flat_map(|d| d.dirs.iter()).map(String::as_str)
    }

    /// Builds a repository from in-memory files (tests, and the Flux-artifact mode).
    pub fn from_files<'a>(root: &Path, files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Repository {
        let files = files
            .into_iter()
            .map(|(path, text)| {
                let documents = if is_yaml_name(path) { documents_of(path, text) } else { Vec::new() };
                SourceFile { path: path.to_string(), text: text.into(), documents, unreadable: None }
            })
            .collect();
        Repository::with_files(root.to_path_buf(), files, Vec::new())
    }

    /// A repository at `root` holding `found` (any order), with the read's findings on its
    /// files (each unreadable file's included). The maps are built in one sorted pass, not
    /// an insertion per file: a large repository has tens of thousands.
    fn with_files(root: PathBuf, mut found: Vec<SourceFile>, mut diagnostics: Vec<Diagnostic>) -> Repository {
        found.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        let mut repo = Repository { root, ..Repository::default() };
        repo.dirs.insert(String::new(), Dir::default());
        for file in &found {
            diagnostics.extend(file.unreadable.clone());
            repo.link(&file.path);
        }
        let (yaml, other): (Vec<SourceFile>, Vec<SourceFile>) = found.into_iter().partition(|f| is_yaml_name(&f.path));
        repo.files = yaml.into_iter().map(|f| (f.path.clone(), f)).collect();
        repo.other_files = other.into_iter().map(|f| f.path).collect();
        diagnostics.sort();
        repo.diagnostics = diagnostics;
        repo
    }

    /// Lists the file at `path` in its folder, and the folder in its parents.
    fn link(&mut self, path: &str) {
        let folder = parent_dir(path);
        let entry = self.dirs.entry(folder.to_string()).or_default();
        if is_yaml_name(path) {
            entry.files.insert(path.to_string());
        }
        // Link the folder into its parents, up to the first one already linked.
        let mut dir = folder;
        while !dir.is_empty() {
            let parent = parent_dir(dir);
            if !self.dirs.entry(parent.to_string()).or_default().dirs.insert(dir.to_string()) {
                break;
            }
            dir = parent;
        }
    }
}

/// The folder part of a relative path ("" for the root).
pub fn parent_dir(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Whether the relative path `path` lies inside the folder `dir` (below it, not `dir` itself).
pub fn is_inside(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

pub fn is_yaml_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".yaml") || name.ends_with(".yml") || name == "Kustomization"
}

/// Reads the repository at `root` within the default limits. Fails only when `root` itself
/// cannot be read.
pub fn read_repository(root: &Path) -> std::io::Result<Repository> {
    read_repository_again(root, &ReadOptions::default(), None)
}

/// What an earlier read can lend a new one: its files, and which of them changed since.
#[derive(Clone, Copy)]
pub struct Earlier<'a> {
    pub repository: &'a Repository,
    /// Paths (relative to the root) that changed; their files are read again.
    pub changed: &'a BTreeSet<String>,
}

/// Reads the repository again after a change: files that did not change are taken from the
/// earlier read instead of being read and parsed anew (the walk still runs, so new and
/// deleted files are seen). Without `earlier`, everything is read.
pub fn read_repository_again(root: &Path, options: &ReadOptions, earlier: Option<Earlier<'_>>) -> std::io::Result<Repository> {
    let root = root.canonicalize()?;
    if !root.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::NotADirectory, format!("{} is not a directory", root.display())));
    }
    // A root that cannot be listed is an input that cannot be read, not an empty repository.
    std::fs::read_dir(&root)?;
    // A different folder (a swapped link) shares nothing with the earlier read.
    let earlier = earlier.filter(|e| e.repository.root == root);
    let (found, diagnostics) = walk(&root, earlier, &Spend::new(*options));
    let mut repo = Repository::with_files(root, found, diagnostics);
    let root = repo.root.clone();
    add_listed_inputs(&mut repo, |path| read_input(&root, path));
    repo.remotes = git_remotes(&repo.root);
    Ok(repo)
}

/// Largest generator input read; a bigger one is left out (its data is then unknown).
pub(super) const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Reads the non-YAML files that kustomization files name, inside the root only, with `read`
/// (the disk, or a revision's tree): what `configMapGenerator` and `secretGenerator` take
/// ([`Repository::inputs`]), and the files kustomize reads as YAML whatever their name (JSON
/// is YAML): resources, patches, replacements, configurations and transformers, which join
/// [`Repository::files`].
fn add_listed_inputs(repo: &mut Repository, read: impl Fn(&str) -> Option<Vec<u8>>) {
    let mut inputs = BTreeMap::new();
    let mut read_as_yaml = Vec::new();
    // Nearly every entry names a YAML file or a folder: a name no other file has is passed
    // over before its path is worked out.
    let other_names: HashSet<&str> = repo.other_files.iter().map(|p| p.rsplit('/').next().unwrap_or(p)).collect();
    for file in repo.files.values() {
        let name = file.path.rsplit('/').next().unwrap_or("");
        if !kustomize::KUSTOMIZATION_FILES.contains(&name) {
            continue;
        }
        let Some(Ok(doc)) = file.documents.first() else { continue };
        let dir = parent_dir(&file.path);
        let listed = |rel: &str| {
            let name = rel.trim_end_matches('/').rsplit('/').next().unwrap_or(rel);
            (matches!(name, "" | "." | "..") || other_names.contains(name)).then(|| kustomize::normalize(&kustomize::join(dir, rel))).flatten().filter(|p| repo.other_files.contains(p))
        };
        for key in ["resources", "bases", "patchesStrategicMerge", "configurations", "transformers"] {
            read_as_yaml.extend(doc.root.get(key).map(Node::as_seq).unwrap_or_default().iter().filter_map(|e| listed(&e.scalar_text()?)));
        }
        for key in ["patches", "patchesJson6902", "replacements"] {
            let paths = doc.root.get(key).map(Node::as_seq).unwrap_or_default().iter().filter_map(|e| e.get("path")?.scalar_text());
            read_as_yaml.extend(paths.filter_map(|rel| listed(&rel)));
        }
        for (key, secret) in [("configMapGenerator", false), ("secretGenerator", true)] {
            for generator in doc.root.get(key).map(Node::as_seq).unwrap_or_default() {
                let files = generator.get("files").map(Node::as_seq).unwrap_or_default().iter();
                let envs = generator.get("envs").map(Node::as_seq).unwrap_or_default().iter().chain(generator.get("env"));
                for entry in files.chain(envs) {
                    let Some(text) = entry.scalar_text() else { continue };
                    let rel = text.split_once('=').map_or(text.as_str(), |(_, p)| p);
                    let Some(path) = listed(rel) else { continue };
                    // A file a ConfigMap reads is readable config; one only Secrets read is sealed.
                    match inputs.get(&path) {
                        Some(Input::Text(_)) => continue,
                        Some(Input::Sealed(_)) if secret => continue,
                        _ => {}
                    }
                    let Some(content) = read(&path) else { continue };
                    let input = if secret {
                        Input::Sealed(sealed::Sealed::new(content))
                    } else {
                        match String::from_utf8(content) {
                            Ok(text) => Input::Text(Arc::from(text)),
                            Err(_) => continue,
                        }
                    };
                    inputs.insert(path, input);
                }
            }
        }
    }
    repo.inputs = inputs;
    for path in read_as_yaml {
        if repo.files.contains_key(&path) {
            continue;
        }
        let Some(text) = read(&path).and_then(|b| String::from_utf8(b).ok()) else { continue };
        let documents = yaml::parse_documents(&text);
        repo.files.insert(path.clone(), SourceFile { path, text: text.into(), documents, unreadable: None });
    }
}

/// A YAML file's documents, typed as their reader types them: kustomize decodes a
/// kustomization file through sigs.k8s.io/yaml (YAML 1.1: `yes` and `n` are booleans), and
/// every other file with yaml.v3.
fn documents_of(path: &str, text: &str) -> Vec<Result<yaml::Document, yaml::YamlError>> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let schema = if kustomize::KUSTOMIZATION_FILES.contains(&name) { yaml::Schema::Yaml11 } else { yaml::Schema::Go };
    yaml::parse_documents_with(text, schema)
}

fn read_input(root: &Path, rel: &str) -> Option<Vec<u8>> {
    let full = root.join(rel).canonicalize().ok()?;
    let meta = std::fs::metadata(&full).ok()?;
    if !full.starts_with(root) || !meta.is_file() || meta.len() > MAX_INPUT_BYTES {
        return None;
    }
    std::fs::read(full).ok()
}

/// The remote URLs in the work tree's git configuration, following a `.git` file (a linked
/// work tree) to its common folder.
pub(crate) fn git_remotes(root: &Path) -> Vec<String> {
    let dot_git = root.join(".git");
    let git_dir = if dot_git.is_file() {
        let Ok(text) = std::fs::read_to_string(&dot_git) else { return Vec::new() };
        let Some(dir) = text.trim().strip_prefix("gitdir:") else { return Vec::new() };
        let dir = root.join(dir.trim());
        match std::fs::read_to_string(dir.join("commondir")) {
            Ok(common) => dir.join(common.trim()),
            Err(_) => dir,
        }
    } else {
        dot_git
    };
    let Ok(config) = std::fs::read_to_string(git_dir.join("config")) else { return Vec::new() };
    let mut out = Vec::new();
    let mut in_remote = false;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_remote = line.starts_with("[remote ");
        } else if in_remote {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "url" {
                    out.push(value.trim().to_string());
                }
            }
        }
    }
    out
}

/// What the walk found at one path: a YAML file read and parsed, or another file.
enum Found {
    File(SourceFile),
    Other(String),
    Problem(Diagnostic),
    /// A symbolic link, resolved after the walk ([`follow_links`]): its relative path and
    /// where it is on disk.
    Link(String, PathBuf),
}

/// Flux's default exclusions as overrides rooted at `root`, for the walk of a folder and
/// for a revision's tree alike.
pub(super) fn default_exclusions(root: &Path) -> ignore::overrides::Override {
    let mut overrides = OverrideBuilder::new(root);
    for pattern in DEFAULT_EXCLUSIONS {
        overrides.add(&format!("!{pattern}")).expect("default exclusions are valid globs");
    }
    overrides.build().expect("default exclusions are valid globs")
}

/// A walk of `root` as Flux's artifact sees it: hidden files kept, git's rules off, Flux's
/// default exclusions first, `.sourceignore` files honoured, links not followed (they are
/// resolved afterwards, inside the root only).
fn walk_builder(root: &Path) -> WalkBuilder {
    let overrides = default_exclusions(root);
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .git_ignore(false)
        .git_global(false)
        .git_exclude(false)
        .ignore(false)
        .parents(false)
        .follow_links(false)
        .overrides(overrides)
        .add_custom_ignore_filename(".sourceignore");
    builder
}

/// Walks the tree on every core, reading and parsing each YAML file where it is found.
fn walk(root: &Path, earlier: Option<Earlier<'_>>, spend: &Spend) -> (Vec<SourceFile>, Vec<Diagnostic>) {
    let walker = walk_builder(root).build_parallel();
    let results: Mutex<Vec<Vec<Found>>> = Mutex::new(Vec::new());
    walker.run(|| {
        let mut batch = Batch { found: Vec::new(), results: &results };
        Box::new(move |entry| {
            let deepest = entry.as_ref().ok().filter(|e| beyond_depth(e.depth(), e.file_type().is_some_and(|t| t.is_dir())));
            if let Some(dir) = deepest {
                // Not entered: what it holds, folders or files, is not read.
                batch.found.extend(relative(root, dir.path()).map(|rel| Found::Problem(too_deep(&rel))));
                return WalkState::Skip;
            }
            if let Some(found) = visit(root, entry, earlier, spend) {
                batch.found.push(found);
            }
            if spend.over.load(std::sync::atomic::Ordering::Relaxed) { WalkState::Quit } else { WalkState::Continue }
        })
    });
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    let mut links = BTreeMap::new();
    let found = results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten();
    collect(found, &mut files, &mut diagnostics, &mut links);
    follow_links(root, links, earlier, spend, &mut files, &mut diagnostics);
    diagnostics.extend(spend.diagnostic());
    (files, diagnostics)
}

fn collect(
    found: impl IntoIterator<Item = Found>,
    files: &mut Vec<SourceFile>,
    diagnostics: &mut Vec<Diagnostic>,
    links: &mut BTreeMap<String, PathBuf>,
) {
    for found in found {
        match found {
            Found::File(f) => files.push(f),
            Found::Other(path) => files.push(SourceFile { path, text: "".into(), documents: Vec::new(), unreadable: None }),
            Found::Problem(d) => diagnostics.push(d),
            Found::Link(rel, abs) => {
                links.insert(rel, abs);
            }
        }
    }
}

/// Resolves the links the walk met, in path order, so that the result does not depend on the
/// walker's threads. The repository is a boundary: a link is followed only when its target,
/// links resolved, is inside the root; a link to a folder holding it (a loop) is not followed;
/// and a folder is walked through one link only, so that links cannot multiply the walk (19
/// folders each with two links to the next would otherwise be 2^19 walks). A link to a file is
/// read as a file at the link's path; a link to a folder is walked at the link's path, and the
/// links met there join the queue. Messages name the link and what it says, never a resolved
/// absolute path.
fn follow_links(
    root: &Path,
    mut queue: BTreeMap<String, PathBuf>,
    earlier: Option<Earlier<'_>>,
    spend: &Spend,
    files: &mut Vec<SourceFile>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut walked: BTreeMap<PathBuf, String> = BTreeMap::new();
    while let Some((rel, abs)) = queue.pop_first() {
        if spend.over.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        let says = std::fs::read_link(&abs).map(|t| t.display().to_string()).unwrap_or_default();
        let target = match abs.canonicalize() {
            Ok(target) => target,
            Err(e) if e.raw_os_error() == Some(40) => {
                diagnostics.push(Diagnostic::warning(Code::SymlinkLoop, rel.clone(), 0, format!("{rel} is a symbolic link loop (to {says}); it is not followed")));
                continue;
            }
            Err(e) => {
                diagnostics.push(Diagnostic::warning(Code::UnreadableFile, rel.clone(), 0, format!("{rel} is a link to {says}, which cannot be read ({}); it is left out", error_kind(&e))));
                continue;
            }
        };
        if !target.starts_with(root) {
            diagnostics.push(Diagnostic::warning(
                Code::SymlinkOutsideRoot,
                rel.clone(),
                0,
                format!("{rel} is a link to {says}, outside the repository; Flux's artifact would not hold it, so nothing behind it is read"),
            ));
            continue;
        }
        let shown = relative(root, &target).unwrap_or_else(|| ".".into());
        let meta = match std::fs::metadata(&target) {
            Ok(meta) => meta,
            Err(e) => {
                diagnostics.push(Diagnostic::warning(Code::UnreadableFile, rel.clone(), 0, format!("{rel} is a link to {shown}, which cannot be read ({})", error_kind(&e))));
                continue;
            }
        };
        if meta.is_file() {
            collect(file(&rel, &target, earlier, spend), files, diagnostics, &mut queue);
            continue;
        }
        if !meta.is_dir() {
            if let Some(found) = special(&rel, meta.file_type()) {
                collect([found], files, diagnostics, &mut queue);
            }
            continue;
        }
        let holder = abs.parent().and_then(|p| p.canonicalize().ok());
        if holder.is_some_and(|h| h.starts_with(&target)) {
            diagnostics.push(Diagnostic::warning(
                Code::SymlinkLoop,
                rel.clone(),
                0,
                format!("{rel} is a link to {shown}, a folder that holds it: a symbolic link loop; it is not followed"),
            ));
            continue;
        }
        if let Some(first) = walked.get(&target) {
            diagnostics.push(Diagnostic::warning(
                Code::SymlinkLoop,
                rel.clone(),
                0,
                format!("{rel} is a link to {shown}, already read through {first}; a folder is read through one link only"),
            ));
            continue;
        }
        walked.insert(target.clone(), rel.clone());
        // The link's own folders count towards the depth limit.
        let above = rel.split('/').count();
        let walker = walk_builder(&target).max_depth(Some((MAX_DEPTH + 1).saturating_sub(above))).build();
        let found: Vec<Found> = walker
            .filter_map(|entry| {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(err) => return Some(Found::Problem(walk_error(&target, &err))),
                };
                let below = relative(&target, entry.path())?;
                if beyond_depth(above + entry.depth(), entry.file_type().is_some_and(|t| t.is_dir())) {
                    return Some(Found::Problem(too_deep(&format!("{rel}/{below}"))));
                }
                found_at(format!("{rel}/{below}"), &entry, earlier, spend)
            })
            .take_while(|_| !spend.over.load(std::sync::atomic::Ordering::Relaxed))
            .collect();
        collect(found, files, diagnostics, &mut queue);
    }
}

/// The kind of an I/O error, without the path it may carry.
fn error_kind(e: &std::io::Error) -> String {
    e.kind().to_string()
}

/// One walker thread's findings, handed over when the thread's visitor is dropped.
struct Batch<'a> {
    found: Vec<Found>,
    results: &'a Mutex<Vec<Vec<Found>>>,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let found = std::mem::take(&mut self.found);
        self.results.lock().unwrap_or_else(|e| e.into_inner()).push(found);
    }
}

fn visit(root: &Path, entry: Result<ignore::DirEntry, ignore::Error>, earlier: Option<Earlier<'_>>, spend: &Spend) -> Option<Found> {
    let entry = match entry {
        Ok(entry) => entry,
        Err(err) => return Some(Found::Problem(walk_error(root, &err))),
    };
    let rel = relative(root, entry.path())?;
    found_at(rel, &entry, earlier, spend)
}

/// What the walk makes of one entry (links not followed), found at `rel`.
fn found_at(rel: String, entry: &ignore::DirEntry, earlier: Option<Earlier<'_>>, spend: &Spend) -> Option<Found> {
    let file_type = entry.file_type()?;
    if file_type.is_symlink() {
        return Some(Found::Link(rel, entry.path().to_path_buf()));
    }
    if file_type.is_dir() {
        return None;
    }
    if !file_type.is_file() {
        return special(&rel, file_type);
    }
    file(&rel, entry.path(), earlier, spend)
}

/// A regular file at `rel`, read from `abs`; `None` when it does not fit in the budget.
fn file(rel: &str, abs: &Path, earlier: Option<Earlier<'_>>, spend: &Spend) -> Option<Found> {
    let rel = rel.to_string();
    if !is_yaml_name(&rel) {
        return spend.take(0).then_some(Found::Other(rel));
    }
    if let Some(file) = earlier.filter(|e| !e.changed.contains(&rel)).and_then(|e| e.repository.files.get(&rel)) {
        return spend.take(file.text.len() as u64).then(|| Found::File(file.clone()));
    }
    // Opened once and asked its size once: a 10,000-component repository has 20,000 such
    // files, and every extra `stat` of each costs more than the rest of the walk.
    let opened = std::fs::File::open(abs).and_then(|f| Ok((f.metadata()?.len(), f)));
    // A file over MAX_FILE_BYTES is not read: it costs nothing but its place.
    let len = opened.as_ref().map_or(0, |(len, _)| *len);
    if !spend.take(if len > MAX_FILE_BYTES { 0 } else { len }) {
        return None;
    }
    Some(Found::File(match read_text(&rel, opened) {
        Ok(text) => SourceFile { documents: documents_of(&rel, &text), path: rel, text: text.into(), unreadable: None },
        Err(diag) => SourceFile { path: rel, text: "".into(), documents: Vec::new(), unreadable: Some(diag) },
    }))
}

/// A FIFO, socket or device with a YAML name: reported as what it is and never opened (opening
/// a FIFO blocks until something writes to it). Others are not Flux's concern.
fn special(rel: &str, file_type: std::fs::FileType) -> Option<Found> {
    if !is_yaml_name(rel) {
        return None;
    }
    #[cfg(unix)]
    let what = {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            "a FIFO"
        } else if file_type.is_socket() {
            "a socket"
        } else if file_type.is_block_device() {
            "a block device"
        } else if file_type.is_char_device() {
            "a character device"
        } else {
            "not a regular file"
        }
    };
    #[cfg(not(unix))]
    let what = { let _ = file_type; "not a regular file" };
    let diag = Diagnostic::warning(Code::UnreadableFile, rel, 0, format!("{rel} is {what}, not a file; it is not read"));
    Some(Found::File(SourceFile { path: rel.to_string(), text: "".into(), documents: Vec::new(), unreadable: Some(diag) }))
}

fn walk_error(root: &Path, err: &ignore::Error) -> Diagnostic {
    let mut path = None;
    let mut is_loop = false;
    let mut cur = err;
    loop {
        match cur {
            ignore::Error::WithPath { path: p, err } => {
                path.get_or_insert_with(|| p.clone());
                cur = err;
            }
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => cur = err,
            ignore::Error::Loop { child, .. } => {
                path.get_or_insert_with(|| child.clone());
                is_loop = true;
                break;
            }
            _ => break,
        }
    }
    let rel = path.as_deref().and_then(|p| relative(root, p)).unwrap_or_default();
    if is_loop {
        Diagnostic::warning(Code::SymlinkLoop, rel.clone(), 0, format!("{rel} is a symbolic link loop; it is not followed"))
    } else {
        Diagnostic::warning(Code::UnreadableFile, rel, 0, format!("could not read: {err}"))
    }
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    // On Unix the path is already `/`-separated: no need to split and join it.
    if cfg!(unix) {
        return rel.to_str().filter(|r| !r.is_empty()).map(str::to_string);
    }
    let parts: Vec<&str> = rel.components().filter_map(|c| c.as_os_str().to_str()).collect();
    if parts.is_empty() { None } else { Some(parts.join("/")) }
}

/// The text of an opened file (and its size), or why it is not read.
#[allow(clippy::result_large_err)] // a Diagnostic is what a failed read becomes
fn read_text(rel: &str, opened: std::io::Result<(u64, std::fs::File)>) -> Result<String, Diagnostic> {
    use std::io::Read;
    // An error: what the file holds is unknown, and a build that includes it fails.
    let unreadable = |e: std::io::Error| Diagnostic::error(Code::UnreadableFile, rel, 0, format!("could not read {rel}: {e}; the objects it holds are unknown"));
    let (len, file) = opened.map_err(unreadable)?;
    if len > MAX_FILE_BYTES {
        return Err(too_large(rel, len));
    }
    // `take` reads without asking the size again, and stops a file that grows while read.
    let mut bytes = Vec::with_capacity(len as usize + 1);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(rel, bytes.len() as u64));
    }
    decode(rel, bytes)
}

fn too_large(rel: &str, len: u64) -> Diagnostic {
    Diagnostic::warning(
        Code::FileTooLarge,
        rel,
        0,
        format!("{rel} is {} MiB, over the {} MiB limit; it is not read", len / (1024 * 1024), MAX_FILE_BYTES / (1024 * 1024)),
    )
}

/// A file's bytes as text: a binary file or one that is not UTF-8 is a diagnostic.
#[allow(clippy::result_large_err)] // a Diagnostic is what a failed read becomes
fn decode(rel: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    if bytes.contains(&0) {
        return Err(Diagnostic::warning(Code::BinaryFile, rel, 0, format!("{rel} is a binary file, not YAML; it is not read")));
    }
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u32;
        Diagnostic::warning(Code::NotUtf8, rel, line, format!("{rel} is not valid UTF-8; it is not read"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_inside_a_folder_only_below_it() {
        assert!(is_inside("apps/a/ks.yaml", "apps"));
        assert!(is_inside("apps/a/ks.yaml", "apps/a"));
        assert!(!is_inside("apps", "apps"));
        assert!(!is_inside("apps-old/ks.yaml", "apps"));
        assert!(!is_inside("ks.yaml", ""));
    }

    #[test]
    fn folder_index_links_every_level() {
        let repo = Repository::from_files(
            Path::new("/r"),
            [("a/b/c/x.yaml", ""), ("a/b/y.yaml", ""), ("a/d/z.yml", ""), ("a/notes.txt", ""), ("top.yaml", "")],
        );
        let subdirs = |d: &str| repo.subdirs(d).map(str::to_string).collect::<Vec<_>>();
        let files = |d: &str| repo.files_in(d).map(|f| f.path.clone()).collect::<Vec<_>>();
        assert_eq!(subdirs(""), ["a"]);
        assert_eq!(subdirs("a"), ["a/b", "a/d"]);
        assert_eq!(subdirs("a/b"), ["a/b/c"]);
        assert_eq!(files(""), ["top.yaml"]);
        assert_eq!(files("a"), Vec::<String>::new());
        assert_eq!(files("a/b"), ["a/b/y.yaml"]);
        assert!(repo.is_file("a/notes.txt") && repo.is_dir("a/b/c") && !repo.is_dir("a/b/c/x.yaml"));
    }

    #[test]
    fn reading_again_reuses_unchanged_files_and_sees_new_and_deleted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("a/keep.yaml", "kind: A\n");
        write("a/edit.yaml", "kind: B\n");
        write("a/gone.yaml", "kind: C\n");
        let first = read_repository(dir.path()).unwrap();
        write("a/edit.yaml", "kind: B2\n");
        write("a/new.yaml", "kind: D\n");
        std::fs::remove_file(dir.path().join("a/gone.yaml")).unwrap();
        let changed = BTreeSet::from(["a/edit.yaml".to_string()]);
        let again = read_repository_again(dir.path(), &ReadOptions::default(), Some(Earlier { repository: &first, changed: &changed })).unwrap();
        assert!(Arc::ptr_eq(&first.files["a/keep.yaml"].text, &again.files["a/keep.yaml"].text), "unchanged: reused");
        assert_eq!(&*again.files["a/edit.yaml"].text, "kind: B2\n", "changed: read again");
        assert!(again.files.contains_key("a/new.yaml") && !again.files.contains_key("a/gone.yaml"));
    }
}
