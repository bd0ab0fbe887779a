//! Render: a [`Snapshot`](crate::snapshot::Snapshot) → text for people and machines:
//! the JSON contract, Graphviz DOT, Mermaid, compiler-style diagnostics, and what each
//! Kustomization builds.

pub mod build;
pub mod dot;
pub mod drawing;
pub mod json;
pub mod mermaid;
pub mod redact;
pub mod svg;
pub mod text;

/// Snapshots of small in-memory repositories for the renderers' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use std::path::Path;

    use crate::load::Repository;
    use crate::snapshot::Snapshot;

    const SYNC: &str = "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 1m\n  url: ssh://git@example.com/fleet\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/NAME\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
    const APPS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
    /// Applied by both clusters' `apps`: its missing dependency is an error in each.
    const WEB: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./web\n  prune: true\n  dependsOn:\n    - name: database\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
    /// Only in cluster `b`: a path that does not exist.
    const LOST: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: lost\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./nowhere\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";
    /// Applied by nothing, without a namespace.
    const ORPHAN: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: orphan\nspec:\n  interval: 10m\n  path: ./web\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

    /// Clusters `a` and `b` (`clusters/{a,b}/flux-system/gotk-sync.yaml`), both applying `apps/`,
    /// whose `web` dependsOn a Kustomization that does not exist; `b` also has `lost`, whose path
    /// is nowhere; and `orphan/ks.yaml` no cluster applies.
    pub fn two_clusters() -> Snapshot {
        let sync_a = SYNC.replace("NAME", "a");
        let sync_b = SYNC.replace("NAME", "b");
        let files = [
            ("clusters/a/flux-system/gotk-sync.yaml", sync_a.as_str()),
            ("clusters/a/apps.yaml", APPS),
            ("clusters/b/flux-system/gotk-sync.yaml", sync_b.as_str()),
            ("clusters/b/apps.yaml", APPS),
            ("clusters/b/lost.yaml", LOST),
            ("apps/web.yaml", WEB),
            ("web/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"),
            ("orphan/ks.yaml", ORPHAN),
        ];
        Snapshot::from_repository(Repository::from_files(Path::new("/r"), files), None).expect("a snapshot")
    }

    /// Cluster `a` of [`one_cluster`] with `web` renamed to `name`, as no repository can give it
    /// (the loader refuses such names), to feed the renderers directly.
    pub fn hostile(name: &str) -> crate::snapshot::ClusterView {
        use crate::model::ObjectId;
        let mut cluster = one_cluster().clusters.remove(0).cluster;
        let rename = |id: ObjectId| if id.name == "web" { ObjectId { name: name.to_string(), ..id } } else { id };
        cluster.objects = std::mem::take(&mut cluster.objects)
            .into_iter()
            .map(|(id, mut o)| {
                o.id = rename(o.id);
                (rename(id), o)
            })
            .collect();
        cluster.parents = std::mem::take(&mut cluster.parents)
            .into_iter()
            .map(|(id, ps)| (rename(id), ps.into_iter().map(rename).collect()))
            .collect();
        let graph = crate::graph::build(&cluster);
        let analysis = crate::analysis::analyze(&cluster, &graph);
        crate::snapshot::ClusterView { cluster, graph, analysis }
    }

    /// Cluster `a` of [`two_clusters`] alone.
    pub fn one_cluster() -> Snapshot {
        Snapshot::from_repository(two_clusters().repository, Some("clusters/a/flux-system/gotk-sync.yaml")).expect("a snapshot")
    }
}
