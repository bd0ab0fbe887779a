//! Discovery: the loaded [`Repository`] → every candidate entry point of its clusters, each
//! with its evidence and a verdict (live, or dead and why), and what the repository itself
//! proves about which sources are this repository.
//!
//! A repository at HEAD reconciles, so the reading chosen is the one in which Flux can be
//! running it. Evidence, strongest first:
//! - `flux bootstrap`'s `gotk-sync.yaml`, live only where bootstrap writes it
//!   (`<path>/<namespace>/gotk-sync.yaml`, [`bootstrap`]);
//! - a Flux Operator FluxInstance, written as one, as the values of a flux-instance
//!   HelmRelease, inside a ResourceSet, or in the values a bootstrap tool installs the chart
//!   with (a helmfile release, an install values file) ([`instance`]);
//! - failing those, the Kustomizations nothing applies, applied by hand with their folder
//!   ([`hand_applied`]).
//!
//! Underneath all three: a Kustomization whose own build applies its own file proves its
//! source is this repository (its artifact holds the file), with or without `.git`, and
//! even when that source is in no file (bootstrap made it). The proven source's URL is this
//! repository's; a GitRepository with another URL is another repository ([`Facts`]).

pub mod bootstrap;
pub mod hand_applied;
pub mod instance;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::entry::{Entry, sync_path};
use super::{BOOTSTRAP_NAMESPACE, normalize_url};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::{self, Overlay, join, normalize};
use crate::load::{Manifest, Node, Repository, is_inside};
use crate::model::{Kind, Identity, ObjectId};

/// Whether a candidate is taken as a cluster's entry point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Live,
    /// Not an entry point, and why (said in a `dead-entry` info).
    Dead(String),
}

/// One possible entry point, what it was found in, and whether it is live.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub entry: Entry,
    /// What it was found in, as a reader would check it.
    pub evidence: String,
    pub verdict: Verdict,
    /// The folder it is rooted at when it is another repository's bootstrap, kept inside
    /// this one: live only while its URL is not shown to be this repository's.
    pub kept_in: Option<String>,
}

impl Candidate {
    pub fn live(entry: Entry, evidence: impl Into<String>) -> Candidate {
        Candidate { entry, evidence: evidence.into(), verdict: Verdict::Live, kept_in: None }
    }

    pub fn dead(entry: Entry, evidence: impl Into<String>, why: impl Into<String>) -> Candidate {
        Candidate { entry, evidence: evidence.into(), verdict: Verdict::Dead(why.into()), kept_in: None }
    }

    pub fn is_live(&self) -> bool {
        self.verdict == Verdict::Live
    }

    /// The `dead-entry` info of a dead candidate.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        match &self.verdict {
            Verdict::Live => None,
            Verdict::Dead(why) => Some(dead_entry(&self.entry, why)),
        }
    }
}

/// The `dead-entry` info: `entry` is not taken as a cluster's entry point, and why.
pub fn dead_entry(entry: &Entry, why: &str) -> Diagnostic {
    let line = entry.roots.first().map_or(0, |r| r.line);
    Diagnostic::info(Code::DeadEntry, &entry.path, line, format!("{} is not taken as a cluster's entry point: {why}", entry.path))
}

/// One Flux document of the repository.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'r> {
    pub file: &'r str,
    pub line: u32,
    pub node: &'r Arc<Node>,
    pub kind: Kind,
}

impl Doc<'_> {
    /// The namespace the document writes, or flux-system, where what bootstrap and a hand
    /// apply without namespace lands.
    pub fn namespace(&self) -> &str {
        self.node.namespace().unwrap_or(BOOTSTRAP_NAMESPACE)
    }

    /// The source a Kustomization reads: `sourceRef`, its namespace defaulting to the
    /// Kustomization's, its kind to GitRepository.
    pub fn source(&self) -> Option<ObjectId> {
        let r = self.node.at(&["spec", "sourceRef"])?;
        let kind = self.source_kind()?;
        let name = r.get("name").and_then(Node::scalar_str)?;
        let ns = r.get("namespace").and_then(Node::scalar_str).filter(|s| !s.is_empty()).unwrap_or(self.namespace());
        Some(ObjectId::new(kind, ns, name))
    }

    /// The kind of [`Doc::source`], without building its id (looked at for every document).
    pub fn source_kind(&self) -> Option<Kind> {
        let r = self.node.at(&["spec", "sourceRef"])?;
        r.get("name").and_then(Node::scalar_str)?;
        r.get("kind").and_then(Node::as_str).map_or(Some(Kind::GitRepository), Kind::parse)
    }

    pub fn id(&self) -> Option<ObjectId> {
        Some(ObjectId::new(self.kind, self.namespace(), self.node.name()?))
    }

    /// A Kustomization's `spec.components`, as folders of the repository under `path`.
    pub fn components(&self, path: &str) -> Vec<String> {
        self.node
            .at(&["spec", "components"])
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| normalize(&join(path, c.scalar_str()?)))
            .collect()
    }
}

/// The repository's Flux documents, read once for every part of discovery. Documents of
/// files that kustomization files use as patches are not resources, and are left out.
pub struct Catalog<'r> {
    pub repo: &'r Repository,
    pub patches: BTreeSet<String>,
    pub documents: Vec<Doc<'r>>,
    /// Each Kustomization's [`local_path`], by file and line: worked out once, on every core.
    local_paths: HashMap<(&'r str, u32), String>,
}

impl<'r> Catalog<'r> {
    pub fn new(repo: &'r Repository) -> Catalog<'r> {
        use rayon::prelude::*;
        let patches = super::entry::patch_files(repo);
        // Every document of a large repository is looked at: on every core, in file order.
        let documents = repo
            .files
            .par_iter()
            .filter(|(path, _)| !patches.contains(*path))
            .flat_map_iter(|(path, f)| f.documents.iter().flatten().map(move |d| (path.as_str(), d)))
            .filter_map(|(file, d)| Some(Doc { file, line: d.line, node: &d.root, kind: d.root.flux_kind()? }))
            .collect::<Vec<_>>();
        let local_paths = documents
            .par_iter()
            .filter(|d| d.kind == Kind::Kustomization)
            .filter_map(|d| Some(((d.file, d.line), local_path(repo, d)?)))
            .collect();
        Catalog { repo, patches, documents, local_paths }
    }

    /// A Kustomization's `spec.path` as a folder of this repository ([`local_path`]).
    pub fn local_path(&self, doc: &Doc<'r>) -> Option<&str> {
        self.local_paths.get(&(doc.file, doc.line)).map(String::as_str)
    }

    pub fn kustomizations(&self) -> impl Iterator<Item = &Doc<'r>> {
        self.documents.iter().filter(|d| d.kind == Kind::Kustomization)
    }

    /// The documents that define `id` (kind, name and the namespace they write or land in
    /// without one).
    pub fn defining(&self, id: &ObjectId) -> impl Iterator<Item = &Doc<'r>> {
        self.documents.iter().filter(move |d| d.kind == id.kind && d.node.name() == Some(id.name.as_str()) && d.namespace() == id.namespace)
    }

    /// The Kustomizations whose build (as a local path) includes `file`: first those whose
    /// path is a folder above it, which is where nearly every build finds its files; only
    /// when none does, every other one (a `../` resource may reach anywhere).
    pub fn applying(&self, file: &str) -> Vec<(&Doc<'r>, &str)> {
        let candidates: Vec<(&Doc<'r>, &str)> = self
            .kustomizations()
            .filter_map(|d| Some((d, self.local_path(d)?)))
            .filter(|(d, _)| d.file != file)
            .filter(|(_, p)| !p.is_empty())
            .collect();
        let holds = |(d, p): &&(&Doc<'r>, &str)| kustomize::files(self.repo, p, &Overlay { components: d.components(p), ..Overlay::default() }).contains(file);
        let above = |p: &str| is_inside(file, p);
        let near: Vec<(&Doc<'r>, &str)> = candidates.iter().filter(|(_, p)| above(p)).filter(holds).cloned().collect();
        if !near.is_empty() {
            return near;
        }
        candidates.iter().filter(|(_, p)| !above(p)).filter(holds).cloned().collect()
    }
}

/// A Kustomization's `spec.path` as a folder of this repository, when it can be one: a
/// GitRepository source, no variable, a folder that exists. An absent path is the source's
/// root, which is this repository's only when its source is (see [`Facts`]).
pub fn local_path(repo: &Repository, doc: &Doc<'_>) -> Option<String> {
    if doc.source_kind().is_some_and(|k| k != Kind::GitRepository) {
        return None;
    }
    let written = doc.node.at(&["spec", "path"]).and_then(Node::scalar_str).unwrap_or("");
    let path = normalize(written)?;
    (!written.contains("${") && repo.is_dir(&path)).then_some(path)
}

/// What the repository proves about which sources are this repository.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// This repository's URLs, normalised: the work tree's remotes, and the URLs of the
    /// sources proven to be it.
    pub urls: BTreeSet<String>,
    /// Sources proven to be this repository: a Kustomization reading one applies its own
    /// file. With the file and line of that Kustomization.
    pub proven: BTreeMap<ObjectId, (String, u32)>,
    /// GitRepositories whose URL is known not to be this repository's.
    pub foreign: BTreeSet<ObjectId>,
    /// The Kustomizations that apply their own file (by file and line), with every file
    /// their build reads.
    pub self_applying: BTreeMap<(String, u32), BTreeSet<String>>,
}

impl Facts {
    /// Reads the evidence: self-applying Kustomizations first, then the URLs of the sources
    /// they prove, then which GitRepositories those URLs make foreign.
    pub fn gather(catalog: &Catalog<'_>) -> Facts {
        let repo = catalog.repo;
        let mut facts = Facts { urls: repo.remotes.iter().map(|u| normalize_url(u)).collect(), ..Facts::default() };
        for doc in catalog.kustomizations() {
            // A path-less Kustomization builds its source's root: that proves nothing about
            // which repository the source is.
            let Some(path) = catalog.local_path(doc).filter(|p| !p.is_empty()) else { continue };
            if !is_inside(doc.file, &path) {
                continue;
            }
            let files = kustomize::files(repo, &path, &Overlay { components: doc.components(&path), ..Overlay::default() });
            if !files.contains(doc.file) {
                continue;
            }
            if let Some(source) = doc.source() {
                facts.proven.entry(source).or_insert_with(|| (doc.file.to_string(), doc.line));
            }
            facts.self_applying.insert((doc.file.to_string(), doc.line), files);
        }
        for source in facts.proven.keys() {
            for doc in catalog.defining(source) {
                if let Some(url) = doc.node.at(&["spec", "url"]).and_then(Node::as_str).filter(|u| !u.contains("${")) {
                    facts.urls.insert(normalize_url(url));
                }
            }
        }
        if !facts.urls.is_empty() {
            for doc in catalog.documents.iter().filter(|d| d.kind == Kind::GitRepository) {
                let Some(url) = doc.node.at(&["spec", "url"]).and_then(Node::as_str) else { continue };
                let Some(id) = doc.id() else { continue };
                if !url.contains("${") && !facts.urls.contains(&normalize_url(url)) && !facts.proven.contains_key(&id) {
                    facts.foreign.insert(id);
                }
            }
        }
        facts
    }

    /// Whether `source` is known to be another repository.
    pub fn is_foreign(&self, source: &ObjectId) -> bool {
        self.foreign.contains(source)
    }
}

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Bootstrap and operator candidates, live and dead.
    pub candidates: Vec<Candidate>,
    /// Groups of Kustomizations nothing in the repository applies, by folder: the entry
    /// points when no other is live, else candidates to join a live cluster.
    pub hand_applied: Vec<Entry>,
    pub facts: Facts,
}

/// Finds every candidate entry point of the repository.
pub fn discover(catalog: &Catalog<'_>) -> Discovery {
    let facts = Facts::gather(catalog);
    let mut candidates = bootstrap::candidates(catalog, &facts);
    // The same sync path found twice (a bootstrap and an instance, or an instance and the
    // values that install it) is one entry: the first, strongest, evidence stands.
    let mut synced: BTreeSet<String> = candidates.iter().filter(|c| c.is_live()).filter_map(|c| entry_sync_path(&c.entry)).collect();
    for c in instance::candidates(catalog) {
        if c.is_live() && !entry_sync_path(&c.entry).is_none_or(|p| synced.insert(p)) {
            continue;
        }
        candidates.push(c);
    }
    let mut urls = facts.urls.clone();
    urls.extend(candidates.iter().filter(|c| c.is_live()).flat_map(|c| c.entry.urls.iter().cloned()));
    let taken: Vec<&Entry> = candidates.iter().map(|c| &c.entry).collect();
    let hand_applied = hand_applied::groups(catalog, &facts, &urls, &taken);
    // Another repository's bootstrap kept inside this one is a copy after all when the
    // roots applied by hand read its URL as this repository's.
    let read_here: BTreeSet<&String> = hand_applied.iter().flat_map(|g| g.urls.iter()).collect();
    for c in candidates.iter_mut().filter(|c| c.kept_in.is_some() && c.is_live()) {
        if c.entry.urls.iter().any(|u| read_here.contains(u)) {
            c.verdict = Verdict::Dead("its URL is the one the roots applied by hand read as this repository's: it is a copy, not another repository kept here".into());
        }
    }
    Discovery { candidates, hand_applied, facts }
}

/// The folder an entry's root Kustomization syncs, under its source's root.
fn entry_sync_path(entry: &Entry) -> Option<String> {
    let root = entry.roots.iter().find(|r| r.manifest.flux_kind() == Some(Kind::Kustomization))?;
    let path = sync_path(root)?;
    let source = root.manifest.at(&["spec", "sourceRef", "name"]).and_then(Node::scalar_str).unwrap_or("");
    let base = entry.sources.iter().find(|(id, _)| id.name == source).map_or("", |(_, b)| b.as_str());
    Some(join(base, &path).trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const GIT: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: NAME\n  namespace: flux-system\nspec:\n  url: URL\n";
    const KS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: NAME\n  namespace: flux-system\nspec:\n  PATH\n  sourceRef:\n    kind: GitRepository\n    name: SOURCE\n";

    fn ks(name: &str, path: &str, source: &str) -> String {
        let path = if path.is_empty() { "interval: 1h".to_string() } else { format!("path: {path}") };
        KS.replace("NAME", name).replace("PATH", &path).replace("SOURCE", source)
    }

    fn git(name: &str, url: &str) -> String {
        GIT.replace("NAME", name).replace("URL", url)
    }

    #[test]
    fn a_kustomization_that_applies_itself_proves_its_source_and_makes_other_urls_foreign() {
        let root = format!("{}---\n{}", git("home", "https://github.com/me/home"), ks("cluster", "./cluster", "home"));
        let upstream = format!("{}---\n{}", git("upstream", "https://github.com/them/crds"), ks("crds", "", "upstream"));
        let repo = Repository::from_files(
            Path::new("/r"),
            [("cluster/config/cluster.yaml", root.as_str()), ("cluster/crds/crds.yaml", upstream.as_str()), ("cluster/config/kustomization.yaml", "resources:\n  - cluster.yaml\n")],
        );
        let facts = Facts::gather(&Catalog::new(&repo));
        assert_eq!(facts.proven.keys().map(ToString::to_string).collect::<Vec<_>>(), ["GitRepository/flux-system/home"]);
        assert!(facts.urls.contains("github.com/me/home"));
        assert_eq!(facts.foreign.iter().map(ToString::to_string).collect::<Vec<_>>(), ["GitRepository/flux-system/upstream"]);
    }

    fn discover_in(files: &[(&str, &str)]) -> Discovery {
        let repo = Repository::from_files(Path::new("/r"), files.iter().copied());
        discover(&Catalog::new(&repo))
    }

    #[test]
    fn one_flux_instance_written_twice_is_one_entry() {
        let instance = "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n  namespace: flux-system\nspec:\n  sync:\n    kind: GitRepository\n    path: kubernetes/flux/cluster\n";
        let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: flux-instance\n  namespace: flux-system\nspec:\n  values:\n    instance:\n      sync:\n        path: ./kubernetes/flux/cluster\n";
        let found = discover_in(&[("a/instance.yaml", instance), ("b/release.yaml", release), ("kubernetes/flux/cluster/ks.yaml", "")]);
        let live: Vec<&Candidate> = found.candidates.iter().filter(|c| c.is_live()).collect();
        assert_eq!(live.len(), 1, "{:?}", live.iter().map(|c| &c.entry.path).collect::<Vec<_>>());
        assert_eq!(live[0].entry.kind, super::super::entry::EntryKind::FluxInstance);
    }

    #[test]
    fn a_template_gotk_sync_is_dead() {
        let sync = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  url: ${REPOSITORY}\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  path: ./cluster\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
        let found = discover_in(&[("tmpl/gotk-sync.yaml", sync), ("cluster/a.yaml", "")]);
        assert!(matches!(&found.candidates[0].verdict, Verdict::Dead(why) if why.contains("template")), "{:?}", found.candidates[0].verdict);
    }

    #[test]
    fn a_gotk_sync_is_live_only_where_bootstrap_writes_it() {
        let sync = |path: &str| format!("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  url: https://github.com/me/fleet\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  path: {path}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n");
        let (live, moved) = (sync("./clusters/prod"), sync("./clusters/prod"));
        let found = discover_in(&[("clusters/prod/flux-system/gotk-sync.yaml", &live), ("clusters/prod/flux-system/kustomization.yaml", "resources:\n  - gotk-sync.yaml\n"), ("backup/gotk-sync.yaml", &moved)]);
        let verdicts: Vec<(&str, bool)> = found.candidates.iter().map(|c| (c.entry.path.as_str(), c.is_live())).collect();
        assert_eq!(verdicts, [("backup/gotk-sync.yaml", false), ("clusters/prod/flux-system/gotk-sync.yaml", true)]);
    }

    #[test]
    fn a_path_less_kustomization_proves_nothing() {
        let only = format!("{}---\n{}", git("home", "https://github.com/me/home"), ks("all", "", "home"));
        let repo = Repository::from_files(Path::new("/r"), [("sync.yaml", only.as_str())]);
        let facts = Facts::gather(&Catalog::new(&repo));
        assert!(facts.proven.is_empty() && facts.foreign.is_empty() && facts.urls.is_empty(), "{facts:?}");
    }
}
