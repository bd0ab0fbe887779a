//! Kustomizations nothing in the repository applies → groups by folder, applied by hand
//! (`kubectl apply -k` of the folder, or `-f` of the files).
//!
//! A group is the Kustomizations of one folder that no other Kustomization's build holds,
//! with what that folder's kustomization file applies beside them (their source, the
//! cluster's settings). When no bootstrap or operator entry is live, the groups are the
//! entry points (those inside a larger group's build, or reaching nothing, are dropped);
//! when one is, a group that reads the live entry's source and gives its cluster what it
//! lacks was applied by hand into that cluster and joins it.
//!
//! Two layouts need a root that is not written: a group whose Kustomizations read
//! bootstrap's `flux-system` GitRepository, which no file defines, was synced by a
//! `flux bootstrap --path` whose output is not committed (its root is the one bootstrap
//! makes for the folder); and a hand-made `<folder>/flux-system/` whose sync reads an OCI
//! artifact copies bootstrap's layout, so that artifact is `<folder>` (and the other
//! artifacts its cluster reads are rooted at the one folder holding all their paths).
//! A Kustomization of another repository, or without `spec.path` on a source not proven to
//! be this repository, is never a root, and never "applies" local files.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Catalog, Facts};
use crate::cluster::entry::{self, Entry, EntryKind, add_root_sources, cluster_name, resource_id, sync_path};
use crate::cluster::{BOOTSTRAP_NAMESPACE, Cluster, normalize_url};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::{self, Overlay, Resource, join, normalize};
use crate::load::{Manifest, Node, Repository, is_inside, parent_dir};
use crate::model::{Kind, Identity, ObjectId, ResourceId};

/// The groups of Kustomizations nothing applies, by folder. `urls` are this repository's;
/// `taken` the entries already found, whose own documents are roots, not guesses.
pub fn groups(catalog: &Catalog<'_>, facts: &Facts, urls: &BTreeSet<String>, taken: &[&Entry]) -> Vec<Entry> {
    let repo = catalog.repo;
    let entry_roots: BTreeSet<(&str, u32)> = taken.iter().flat_map(|e| e.roots.iter().map(|r| (&*r.file, r.line))).collect();
    let documents: Vec<_> = catalog.documents.iter().filter(|d| !entry_roots.contains(&(d.file, d.line))).collect();
    let mut foreign = facts.foreign.clone();
    if !urls.is_empty() {
        for d in documents.iter().filter(|d| d.kind == Kind::GitRepository) {
            let url = d.node.at(&["spec", "url"]).and_then(Node::as_str);
            if let (Some(url), Some(id)) = (url, d.id()) {
                if !url.contains("${") && !urls.contains(&normalize_url(url)) && !facts.proven.contains_key(&id) {
                    foreign.insert(id);
                }
            }
        }
    }
    // Most repositories name no other repository: then no document's sourceRef is looked at.
    let reads_foreign = |d: &super::Doc<'_>| !foreign.is_empty() && d.source().is_some_and(|s| foreign.contains(&s));
    let mut applied = Applied::of(catalog, facts, &documents, taken, &BTreeSet::new(), &reads_foreign);
    // A file nothing applies that still writes a source's URL or a path as a ${VARIABLE} is a
    // template: no postBuild ever substitutes it, so applied as written it never works. It is
    // no root, and what its Kustomizations would build is not "applied" by them.
    let applied_files: BTreeSet<&str> = documents.iter().filter(|d| applied.by_other(d.file, d.line)).map(|d| d.file).collect();
    let templates: BTreeSet<&str> = documents
        .iter()
        .filter(|d| !applied_files.contains(d.file))
        .filter(|d| ["url", "path"].iter().any(|k| d.node.at(&["spec", k]).and_then(Node::as_str).is_some_and(|v| v.contains("${"))))
        .map(|d| d.file)
        .collect();
    if !templates.is_empty() {
        applied = Applied::of(catalog, facts, &documents, taken, &templates, &reads_foreign);
    }
    // A Kustomization of another repository is never a root of this one, nor a template.
    let never_root = |d: &super::Doc<'_>| templates.contains(d.file) || (d.kind == Kind::Kustomization && reads_foreign(d));
    let root_files: BTreeSet<&str> = documents
        .iter()
        .filter(|d| d.kind == Kind::Kustomization && !never_root(d) && !applied.by_other(d.file, d.line))
        .map(|d| d.file)
        .collect();
    let mut groups: BTreeMap<&str, Vec<Resource>> = BTreeMap::new();
    for d in &documents {
        if root_files.contains(d.file) && !applied.by_other(d.file, d.line) && !never_root(d) {
            groups.entry(parent_dir(d.file)).or_default().push(Resource::new(Arc::from(d.file), d.line, Arc::clone(d.node), false));
        }
    }
    groups
        .into_iter()
        .map(|(dir, roots)| {
            let mut entry = Entry::new(cluster_name(dir, repo), dir.to_string(), EntryKind::Unapplied);
            // Applied by hand with `kubectl apply -k`: the folder's kustomization applies the
            // rest of what it lists too (the roots' source, the cluster's settings).
            let unit = kustomize::kustomization_file(repo, dir).map(|_| kustomize::build(repo, dir, &Overlay::default()));
            match unit.filter(|b| roots.iter().all(|r| b.files.contains(&*r.file))) {
                Some(build) => {
                    for r in build.resources {
                        if r.manifest.flux_kind().is_some() { entry.roots.push(r) } else { entry.applied.push(r) }
                    }
                }
                None => entry.roots = roots,
            }
            add_root_sources(&mut entry, facts);
            imply_proven_sources(catalog, facts, &mut entry);
            entry
        })
        .collect()
}

/// Which files some Kustomization of the repository (or an entry point's) applies.
struct Applied<'r> {
    /// Files the builds of Kustomizations that do not apply themselves read.
    shared: BTreeSet<String>,
    /// Files each self-applying Kustomization (by file and line) reads.
    by_self: BTreeMap<String, Vec<(&'r str, u32)>>,
}

impl<'r> Applied<'r> {
    /// What every Kustomization of `documents` (but those in `left_out` files) and every entry
    /// point's root applies. Those that apply their own file are followed one by one, so
    /// that a file they alone include is not "applied by another".
    fn of(catalog: &Catalog<'r>, facts: &Facts, documents: &[&super::Doc<'r>], taken: &[&Entry], left_out: &BTreeSet<&str>, reads_foreign: &dyn Fn(&super::Doc<'_>) -> bool) -> Applied<'r> {
        let repo = catalog.repo;
        let mut shared_paths = Vec::new();
        let mut self_applying: Vec<((&'r str, u32), String, Vec<String>)> = Vec::new();
        for d in documents.iter().filter(|d| d.kind == Kind::Kustomization && !left_out.contains(d.file)) {
            // Paths into OCI artifacts, buckets, generated artifacts and other repositories are
            // not this tree; a document without sourceRef is a patch or a partial.
            if d.node.at(&["spec", "sourceRef", "kind"]).and_then(Node::as_str) != Some("GitRepository") || reads_foreign(d) {
                continue;
            }
            let Some(path) = catalog.local_path(d).map(str::to_string) else { continue };
            // Without a path, a Kustomization builds its source's root: this repository's only
            // when that source is proven to be it.
            if path.is_empty() && !d.source().is_some_and(|s| facts.proven.contains_key(&s)) {
                continue;
            }
            let components = d.components(&path);
            if path.is_empty() || is_inside(d.file, &path) {
                self_applying.push(((d.file, d.line), path, components));
            } else {
                shared_paths.push((path, components));
            }
        }
        for e in taken {
            for root in e.roots.iter().filter(|r| r.manifest.flux_kind() == Some(Kind::Kustomization)) {
                let source = root.manifest.at(&["spec", "sourceRef", "name"]).and_then(Node::scalar_str).unwrap_or_default();
                let base = e.sources.iter().find(|(id, _)| id.name == source).map_or("", |(_, b)| b.as_str());
                if let Some(path) = sync_path(root).map(|p| join(base, &p).trim_end_matches('/').to_string()).filter(|p| repo.is_dir(p)) {
                    shared_paths.push((path, Vec::new()));
                }
            }
        }
        let shared = kustomize::reachable_files(repo, &shared_paths);
        let mut by_self: BTreeMap<String, Vec<(&'r str, u32)>> = BTreeMap::new();
        for (who, path, components) in &self_applying {
            let files = match facts.self_applying.get(&(who.0.to_string(), who.1)) {
                Some(files) => files.clone(),
                None => kustomize::files(repo, path, &Overlay { components: components.clone(), ..Overlay::default() }),
            };
            for f in files {
                by_self.entry(f).or_default().push(*who);
            }
        }
        Applied { shared, by_self }
    }

    /// Whether something other than the document at `file:line` applies its file.
    fn by_other(&self, file: &str, line: u32) -> bool {
        self.shared.contains(file) || self.by_self.get(file).is_some_and(|s| s.iter().any(|&k| k != (file, line)))
    }
}

/// A source proven to be this repository (a Kustomization reading it applies its own file)
/// that no file defines was made when the cluster was bootstrapped: it is there all the same.
fn imply_proven_sources(catalog: &Catalog<'_>, facts: &Facts, entry: &mut Entry) {
    let applied: BTreeSet<ObjectId> = entry.roots.iter().chain(&entry.applied).filter_map(|r| r.manifest.object_id(BOOTSTRAP_NAMESPACE)).collect();
    let missing: Vec<ObjectId> = entry
        .sources
        .keys()
        .filter(|s| facts.proven.contains_key(*s) && !applied.contains(*s) && catalog.defining(s).next().is_none())
        .cloned()
        .collect();
    for source in missing {
        let (file, line) = &facts.proven[&source];
        let made = entry::synthetic_source(source.kind, &source.namespace, &source.name, None, None, file, *line);
        entry.implied.insert(source);
        entry.roots.push(made);
    }
}

/// The group read as `flux bootstrap --path=<its folder>` whose output is not committed
/// (flux2 `sync.go`: a GitRepository and a Kustomization named flux-system, syncing
/// `./<path>`), when its Kustomizations read bootstrap's `flux-system` GitRepository, which
/// no file defines. The caller takes this reading only when it is the one in which the
/// repository works: when the group's cluster needs something that only a sync of the
/// whole folder applies (a `substituteFrom` ConfigMap beside the roots).
pub fn with_bootstrap_root(catalog: &Catalog<'_>, group: &Entry) -> Option<Entry> {
    let bootstrap = ObjectId::new(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system");
    let kustomization = ObjectId::new(Kind::Kustomization, BOOTSTRAP_NAMESPACE, "flux-system");
    let reads_bootstrap = group.roots.iter().any(|r| {
        let doc = super::Doc { file: &r.file, line: r.line, node: &r.manifest, kind: Kind::Kustomization };
        r.manifest.flux_kind() == Some(Kind::Kustomization) && doc.source().as_ref() == Some(&bootstrap)
    });
    let written = |id: &ObjectId| catalog.defining(id).next().is_some() || group.roots.iter().any(|r| r.manifest.object_id(BOOTSTRAP_NAMESPACE).as_ref() == Some(id));
    if !reads_bootstrap || written(&bootstrap) || written(&kustomization) || !catalog.repo.is_dir(&group.path) {
        return None;
    }
    let mut entry = group.clone();
    let line = group.roots.first().map_or(0, |r| r.line);
    let file = group.roots.first().map_or_else(|| group.path.clone(), |r| r.file.to_string());
    let source = entry::synthetic_source(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system", None, None, &file, line);
    let root = entry::synthetic_kustomization(BOOTSTRAP_NAMESPACE, "flux-system", &format!("./{}", group.path), Kind::GitRepository, &file, line);
    entry.implied.extend([resource_id(&root), resource_id(&source)]);
    entry.sources.insert(resource_id(&source), String::new());
    entry.roots.extend([root, source]);
    entry.notes.push(Diagnostic::info(
        Code::HandApplied,
        &file,
        line,
        format!(
            "./{} reads flux bootstrap's GitRepository flux-system, which no file defines, and needs what only a sync of the whole folder applies: it was bootstrapped with --path={} and its flux-system/ is not committed; the Kustomization bootstrap makes is shown",
            group.path, group.path
        ),
    ));
    Some(entry)
}

/// A hand-made `<folder>/flux-system/` whose sync Kustomization reads an OCI artifact or a
/// bucket defined beside it copies bootstrap's layout: the artifact is `<folder>` with the
/// sync's path taken off, when the folder's build then holds the sync's own file.
pub fn root_parent_artifact(repo: &Repository, group: &mut Entry) {
    let Some(folder) = group.path.strip_suffix("/flux-system") else { return };
    // Flux's own distribution artifacts hold Flux, never a repository's folder.
    let distribution = |r: &Resource| {
        r.manifest.at(&["spec", "url"]).and_then(Node::as_str).is_some_and(crate::cluster::is_flux_distribution)
    };
    let defined: BTreeSet<ObjectId> = group.roots.iter().filter(|r| !distribution(r)).filter_map(|r| r.manifest.object_id(BOOTSTRAP_NAMESPACE)).collect();
    let mut found = Vec::new();
    for r in group.roots.iter().filter(|r| r.manifest.flux_kind() == Some(Kind::Kustomization)) {
        let doc = super::Doc { file: &r.file, line: r.line, node: &r.manifest, kind: Kind::Kustomization };
        let Some(source) = doc.source().filter(|s| matches!(s.kind, Kind::OCIRepository | Kind::Bucket) && defined.contains(s)) else { continue };
        let Some(path) = sync_path(r) else { continue };
        let base = if path.is_empty() { Some(folder) } else { folder.strip_suffix(&format!("/{path}")) };
        let Some(base) = base else { continue };
        if kustomize::files(repo, folder, &Overlay::default()).contains(&*r.file) {
            found.push((source, base.to_string(), r.file.clone(), r.line));
        }
    }
    // A cluster has one sync of its own folder: two candidates leave it unknown.
    if found.len() != 1 {
        return;
    }
    for (source, base, file, line) in found {
        group.notes.push(Diagnostic::info(
            Code::ArtifactRoot,
            &*file,
            line,
            format!("the {} artifact's root is taken to be ./{base}: {} syncs it from ./{}, as flux bootstrap lays a cluster out", source, group.path, folder),
        ));
        group.sources.insert(source, base);
    }
}

/// The other artifacts (OCI, buckets) a cluster rooted by [`root_parent_artifact`] reads:
/// each is rooted at the one folder under which every path read from it exists. Whether any
/// was rooted (the cluster is then resolved again).
pub fn root_cluster_artifacts(repo: &Repository, entry: &mut Entry, cluster: &Cluster) -> bool {
    let mut paths: BTreeMap<ObjectId, Vec<String>> = BTreeMap::new();
    for object in cluster.objects.values().filter(|o| cluster.external.contains_key(&o.id)) {
        let Some((kind, reference)) = object.source_refs().into_iter().next() else { continue };
        let source = reference.resolve(kind, &object.id.namespace);
        let defined_here = cluster.objects.get(&source).is_some_and(|s| !s.implied);
        if !matches!(kind, Kind::OCIRepository | Kind::Bucket) || !defined_here || entry.sources.contains_key(&source) {
            continue;
        }
        let path = object.kustomization().and_then(|k| k.path.as_ref()).and_then(|p| normalize(&p.value)).unwrap_or_default();
        paths.entry(source).or_default().push(path);
    }
    let mut rooted = false;
    for (source, paths) in paths {
        if paths.iter().any(|p| p.is_empty()) {
            continue;
        }
        let holders: Vec<&String> = repo.dirs.keys().filter(|d| paths.iter().all(|p| repo.is_dir(&join(d, p)))).collect();
        if let [one] = holders.as_slice() {
            entry.notes.push(Diagnostic::info(
                Code::ArtifactRoot,
                &entry.path,
                0,
                format!("the {source} artifact's root is taken to be ./{one}: the one folder that holds every path read from it ({})", paths.iter().map(|p| format!("./{p}")).collect::<Vec<_>>().join(", ")),
            ));
            entry.sources.insert(source, (*one).clone());
            rooted = true;
        }
    }
    rooted
}

/// What a cluster lacks that only something applied by hand could give it: sources that
/// its objects read, and ConfigMaps and Secrets that its postBuilds substitute from.
pub fn needs(cluster: &Cluster) -> BTreeSet<ResourceId> {
    let mut out = BTreeSet::new();
    // Nearly every Kustomization substitutes from the same few ConfigMaps: each is looked
    // for once, among what the builds apply.
    let mut substituted: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    for o in cluster.objects.values() {
        for (kind, r) in o.source_refs() {
            let id = r.resolve(kind, &o.id.namespace);
            if !cluster.objects.contains_key(&id) && kind != Kind::ExternalArtifact {
                out.insert(ResourceId::of(&id));
            }
        }
        let Some(post_build) = o.kustomization().and_then(|k| k.post_build.as_ref()) else { continue };
        substituted.extend(post_build.substitute_from.iter().map(|from| (from.kind.as_str(), o.id.namespace.as_str(), from.name.as_str())));
    }
    if !substituted.is_empty() {
        for (_, kind, namespace, name) in applied_settings(cluster).filter(|(group, ..)| group.is_empty()) {
            substituted.remove(&(kind, namespace, name));
        }
        out.extend(substituted.into_iter().map(|(kind, namespace, name)| ResourceId::new("", kind, namespace, name)));
    }
    out
}

/// What a cluster holds: its Flux objects and every ConfigMap and Secret its builds apply.
fn provides(cluster: &Cluster) -> BTreeSet<ResourceId> {
    let objects = cluster.objects.keys().map(ResourceId::of);
    objects.chain(applied_settings(cluster).map(|(group, kind, namespace, name)| ResourceId::new(group, kind, namespace, name))).collect()
}

/// The ConfigMaps and Secrets a cluster's builds apply, as (group, kind, namespace, name); an
/// object without a namespace lands in its applier's.
fn applied_settings(cluster: &Cluster) -> impl Iterator<Item = (&str, &str, &str, &str)> {
    cluster.inventory.iter().flat_map(|(by, items)| {
        items.iter().filter(|a| a.kind == "ConfigMap" || a.kind == "Secret").map(move |a| {
            let group = a.api_version.rsplit_once('/').map_or("", |(g, _)| g);
            (group, a.kind.as_str(), a.namespace.as_deref().unwrap_or(&by.namespace), a.name.as_str())
        })
    })
}

/// Whether `group` (Kustomizations nothing applies, reading an entry's own source) was
/// applied by hand into that entry's cluster: it gives the cluster something it lacks
/// (`needs`) — a source its objects read, or the ConfigMap its variables come from. A dead
/// copy of an app (commented out of its parent) gives nothing the live cluster reads.
pub fn applied_by_hand(group: &Entry, group_cluster: &Cluster, needs: &BTreeSet<ResourceId>) -> bool {
    let mut gives = provides(group_cluster);
    gives.extend(group.applied.iter().filter_map(|r| r.manifest.resource_id(BOOTSTRAP_NAMESPACE)));
    needs.iter().any(|n| gives.contains(n))
}

/// A cheap first look before resolving a group: whether any file its roots could apply
/// holds an object of a kind and name the cluster needs (namespaces are left to resolution,
/// kustomize may change them).
pub fn could_give(repo: &Repository, group: &Entry, needs: &BTreeSet<ResourceId>) -> bool {
    let wanted: BTreeSet<(&str, &str)> = needs.iter().map(|id| (id.kind.as_str(), id.name.as_str())).collect();
    let paths: Vec<(String, Vec<String>)> = group.roots.iter().filter_map(sync_path).filter(|p| repo.is_dir(p)).map(|p| (p, Vec::new())).collect();
    let mut files = kustomize::reachable_files(repo, &paths);
    files.extend(group.roots.iter().chain(&group.applied).map(|r| r.file.to_string()));
    files.iter().filter_map(|f| repo.files.get(f)).flat_map(|f| f.documents.iter().flatten()).any(|d| d.root.name().is_some_and(|n| wanted.contains(&(d.root.kind(), n))))
}

/// A cheap first look before reading a group as bootstrap's folder: whether a sync of the
/// folder `dir` would apply an object of a kind and name the cluster needs.
pub fn folder_could_give(repo: &Repository, dir: &str, needs: &BTreeSet<ResourceId>) -> bool {
    let wanted: BTreeSet<(&str, &str)> = needs.iter().map(|id| (id.kind.as_str(), id.name.as_str())).collect();
    kustomize::files(repo, dir, &Overlay::default())
        .iter()
        .filter_map(|f| repo.files.get(f))
        .flat_map(|f| f.documents.iter().flatten())
        .any(|d| d.root.name().is_some_and(|n| wanted.contains(&(d.root.kind(), n))))
}

/// Whether `group`'s Kustomizations read `entry`'s own source, by name or by URL.
pub fn shares_source(entry: &Entry, group: &Entry) -> bool {
    group.sources.keys().any(|s| entry.sources.contains_key(s)) || group.urls.iter().any(|u| entry.urls.contains(u))
}

/// Whether `group`'s Kustomizations read this repository: a source proven to be it (one of
/// them applies its own file), or the URL of `entry`'s source or of the repository's remotes.
pub fn reads_this_repository(group: &Entry, entry: &Entry, facts: &Facts) -> bool {
    group.sources.keys().any(|s| facts.proven.contains_key(s)) || group.urls.iter().any(|u| entry.urls.contains(u) || facts.urls.contains(u))
}

/// Joins a group applied by hand to `entry`, saying why it was (`because`, after "it").
pub fn adjoin(entry: &mut Entry, group: &Entry, because: &str) {
    entry.roots.extend(group.roots.iter().cloned());
    entry.applied.extend(group.applied.iter().cloned());
    entry.notes.push(Diagnostic::info(
        Code::HandApplied,
        &group.path,
        group.roots.first().map_or(0, |r| r.line),
        format!("{} is applied by nothing in the repository, but it {because}: it was applied by hand into that cluster, and its Kustomizations are roots there", group.path),
    ));
}

/// Keeps only the groups that are real clusters: a group inside what a larger cluster
/// builds is part of it (just not listed), and a group that reaches nothing because its
/// paths are gone (an `.archive/` folder) is no cluster beside groups that do reach
/// something (alone, it is what the repository has, and its errors are worth showing).
pub fn real_groups(entries: &[Entry], clusters: &[Cluster]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..clusters.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(clusters[i].objects.len()));
    let mut keep = vec![false; clusters.len()];
    let mut reaching_nothing = Vec::new();
    let mut covered: Vec<String> = Vec::new();
    for i in order {
        let (entry, cluster) = (&entries[i], &clusters[i]);
        if entry.kind != EntryKind::Unapplied {
            keep[i] = true;
            continue;
        }
        if covered.iter().any(|d| d.is_empty() || entry.path == *d || is_inside(&entry.path, d)) {
            continue;
        }
        let beyond_roots = cluster.objects.values().any(|o| !o.implied && !cluster.roots.contains(&o.id));
        if !beyond_roots && cluster.diagnostics.iter().any(|d| d.code == Code::PathNotFound) {
            reaching_nothing.push(i);
            continue;
        }
        keep[i] = true;
        covered.extend(
            cluster
                .objects
                .values()
                .filter(|o| !cluster.external.contains_key(&o.id))
                .filter_map(|o| o.kustomization()?.path.as_ref().and_then(|p| normalize(&p.value))),
        );
    }
    if !keep.contains(&true) {
        for i in reaching_nothing {
            keep[i] = true;
        }
    }
    keep
}
