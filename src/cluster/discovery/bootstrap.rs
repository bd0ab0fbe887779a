//! `flux bootstrap`'s `gotk-sync.yaml` → candidates.
//!
//! Bootstrap writes the file at `<path>/<namespace>/gotk-sync.yaml` (flux2
//! `pkg/manifestgen/sync/sync.go`, `Generate`: `path.Join(TargetPath, Namespace,
//! ManifestFile)`, its Kustomization syncing `./<TargetPath>`), so one found elsewhere is a
//! copy — moved into an archive folder, kept as a template — and not live. The exception is a
//! repository kept inside another folder (`repos/<name>/clusters/...`): a file at
//! `<folder>/<path>/<namespace>/gotk-sync.yaml` whose URL is not this repository's is that
//! repository's bootstrap, rooted at the folder. A template (its URL or path still a
//! `${VARIABLE}`) and a sync path that does not exist are dead too. The placeholder some
//! repositories commit before bootstrap runs (no Kustomization in it) stands for the one
//! bootstrap would write for the folder that holds `flux-system/`.

use super::{Candidate, Catalog, Facts};
use crate::cluster::BOOTSTRAP_NAMESPACE;
use crate::cluster::entry::{self, Entry, EntryKind, cluster_name, flux_documents, resource_id, sync_path};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::kustomize::join;
use crate::load::{Manifest, Node, parent_dir};
use crate::model::{Kind, Identity};

/// Every gotk-sync.yaml of the repository, with its verdict.
pub fn candidates(catalog: &Catalog<'_>, facts: &Facts) -> Vec<Candidate> {
    let repo = catalog.repo;
    let mut out = Vec::new();
    for file in repo.files.values() {
        let name = file.path.rsplit('/').next().unwrap_or("");
        if name != "gotk-sync.yaml" && name != "gotk-sync.yml" {
            continue;
        }
        let roots = flux_documents(repo, &file.path);
        let Some(kustomization) = roots.iter().find(|r| r.manifest.flux_kind() == Some(Kind::Kustomization)).cloned() else {
            out.push(placeholder(catalog, &file.path, name));
            continue;
        };
        let path = sync_path(&kustomization).unwrap_or_default();
        let namespace = kustomization.manifest.namespace().unwrap_or(BOOTSTRAP_NAMESPACE).to_string();
        let mut entry = Entry::new(cluster_name(&path, repo), file.path.clone(), EntryKind::Bootstrap);
        entry.roots = roots;
        let evidence = format!("flux bootstrap's {name}");
        let template = entry.roots.iter().any(|r| {
            let spec = r.manifest.get("spec");
            ["url", "path"].iter().any(|k| spec.and_then(|s| s.get(k)).and_then(Node::as_str).is_some_and(|v| v.contains("${")))
        });
        if template {
            out.push(Candidate::dead(entry, evidence, "it is a template: its URL or path is still a ${VARIABLE}, filled in by a script before bootstrap"));
            continue;
        }
        let written = join(&join(&path, &namespace), name);
        let url = source_url(&entry);
        if file.path == written {
            entry::add_root_sources(&mut entry, facts);
            if !repo.is_dir(&path) {
                out.push(Candidate::dead(entry, evidence, format!("its sync path ./{path} does not exist")));
            } else {
                out.push(Candidate::live(entry, evidence));
            }
            continue;
        }
        let nested = file.path.strip_suffix(&format!("/{written}")).map(str::to_string);
        let another_repository = url.as_ref().is_some_and(|u| !facts.urls.contains(u));
        match nested {
            Some(folder) if another_repository && repo.is_dir(&join(&folder, &path)) => {
                entry::add_root_sources(&mut entry, facts);
                for base in entry.sources.values_mut() {
                    *base = folder.clone();
                }
                entry.name = cluster_name(&join(&folder, &path), repo);
                entry.notes.push(Diagnostic::info(
                    Code::ArtifactRoot,
                    &file.path,
                    kustomization.line,
                    format!("{} is kept inside this one at ./{folder}: its bootstrap's paths are taken from there", url.as_deref().unwrap_or("another repository")),
                ));
                let mut candidate = Candidate::live(entry, format!("{evidence} of a repository kept in ./{folder}"));
                candidate.kept_in = Some(folder);
                out.push(candidate);
            }
            _ => {
                let why = match url {
                    Some(_) if nested.is_some() => format!("flux bootstrap writes it at ./{written}, and its URL is this repository's: it is a copy"),
                    _ => format!("flux bootstrap writes it at ./{written}, not here: it is a copy (an archive, a backup, a template)"),
                };
                out.push(Candidate::dead(entry, evidence, why));
            }
        }
    }
    out
}

/// The URL of the GitRepository a gotk-sync.yaml's Kustomization reads, normalised.
fn source_url(entry: &Entry) -> Option<String> {
    entry.roots.iter().find(|r| r.manifest.flux_kind() == Some(Kind::GitRepository))?.manifest.at(&["spec", "url"])?.as_str().map(crate::cluster::normalize_url)
}

/// The placeholder committed before `flux bootstrap` runs: bootstrap syncs the folder that
/// holds `flux-system/`.
fn placeholder(catalog: &Catalog<'_>, file: &str, name: &str) -> Candidate {
    let repo = catalog.repo;
    let holder = parent_dir(file);
    let dir = parent_dir(holder).to_string();
    let mut entry = Entry::new(cluster_name(&dir, repo), file.to_string(), EntryKind::Bootstrap);
    let source = entry::synthetic_source(Kind::GitRepository, BOOTSTRAP_NAMESPACE, "flux-system", None, None, file, 1);
    let root = entry::synthetic_kustomization(BOOTSTRAP_NAMESPACE, "flux-system", &format!("./{dir}"), Kind::GitRepository, file, 1);
    entry.implied.extend([resource_id(&root), resource_id(&source)]);
    entry.sources.insert(resource_id(&source), String::new());
    entry.roots = vec![root, source];
    let evidence = format!("the {name} placeholder committed before flux bootstrap");
    if holder.rsplit('/').next() != Some(BOOTSTRAP_NAMESPACE) {
        return Candidate::dead(entry, evidence, format!("flux bootstrap writes it in a {BOOTSTRAP_NAMESPACE}/ folder, not here"));
    }
    Candidate::live(entry, evidence)
}
