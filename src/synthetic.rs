//! Synthetic GitOps repositories for benchmarks and tests.
//!
//! [`write_repository`] lays out `kubernetes/<cluster>/` the way our users do (the seed document and the
//! rpi-cluster fixture): the four root Kustomizations in `flux/config/cluster.yaml`, HelmRepositories, cluster
//! settings, then any number of components under `infrastructure/` and `apps/`, each a `ks.yaml` whose stages
//! chain through `dependsOn`. Components only depend on earlier ones, so the graph is acyclic, and the files are
//! a pure function of the [`Spec`]: real repositories are too small to measure and cannot be shared.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Number of components (`ks.yaml` files); about a fifth are infrastructure.
    pub components: usize,
    /// Seed of the pseudo-random choices: the same `Spec` always writes the same bytes.
    pub seed: u64,
    /// Cluster folder name under `kubernetes/`, used verbatim in paths and YAML.
    pub cluster: String,
    /// Give every stage a HelmRelease; without them each stage holds a ConfigMap.
    pub helm_releases: bool,
    /// Most `dependsOn` entries a component's first stage has on earlier components.
    pub max_depends: usize,
}

impl Default for Spec {
    fn default() -> Self {
        Self { components: 100, seed: 1, cluster: "synthetic".to_owned(), helm_releases: true, max_depends: 3 }
    }
}

/// What [`write_repository`] wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
    /// Flux Kustomizations, the four roots included.
    pub kustomizations: usize,
    pub helm_releases: usize,
    /// `dependsOn` entries, those of the roots included.
    pub depends_on_edges: usize,
}

/// Writes the repository described by `spec` under `root/kubernetes/<cluster>/`, creating folders as needed
/// and overwriting files; nothing else under `root` is touched.
///
/// # Errors
///
/// The first error creating a folder or writing a file; what was written before it stays.
pub fn write_repository(root: &Path, spec: &Spec) -> io::Result<Summary> {
    let mut graph = Rng(spec.seed);
    // A second stream for the stage folders' contents, so `helm_releases` leaves every ks.yaml unchanged.
    let manifests = Rng(graph.next());
    let mut generator = Generator {
        spec,
        base: root.join("kubernetes").join(&spec.cluster),
        // Infrastructure comes first so that apps, depending only on earlier components, can depend on it.
        infrastructure: spec.components / 5,
        graph,
        manifests,
        outputs: Vec::with_capacity(spec.components),
        summary: Summary::default(),
    };
    generator.flux()?;
    generator.section(Section::Infrastructure)?;
    generator.section(Section::Apps)?;
    Ok(generator.summary)
}

/// Components per category folder, and so per namespace.
const CATEGORY_SIZE: usize = 50;

/// The HelmRepositories in `flux/repositories/`: name, URL and a chart it serves.
const REPOSITORIES: [(&str, &str, &str); 8] = [
    ("bitnami", "https://charts.bitnami.com/bitnami", "redis"),
    ("bjw-s", "https://bjw-s-labs.github.io/helm-charts", "app-template"),
    ("cloudnative-pg", "https://cloudnative-pg.github.io/charts", "cloudnative-pg"),
    ("grafana", "https://grafana.github.io/helm-charts", "loki"),
    ("jetstack", "https://charts.jetstack.io", "cert-manager"),
    ("metrics-server", "https://kubernetes-sigs.github.io/metrics-server", "metrics-server"),
    ("prometheus-community", "https://prometheus-community.github.io/helm-charts", "kube-prometheus-stack"),
    ("rook-release", "https://charts.rook.io/release", "rook-ceph"),
];

// Stage folders of a component, in dependsOn order. As in the seed, the `app` stage's Kustomization takes the
// bare component name and the others a suffix (`app-000123-crds`).
const SINGLE: &[&str] = &["app"];
const WITH_CRDS: &[&str] = &["crds", "app"];
const CHAIN: &[&str] = &["common", "operator", "cluster", "rbd"];

const INTERVALS: [&str; 3] = ["10m", "30m", "1h"];

const KUSTOMIZE_HEADER: &str = "---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n";

#[derive(Clone, Copy)]
enum Section {
    Infrastructure,
    Apps,
}

impl Section {
    fn dir(self) -> &'static str {
        match self {
            Self::Infrastructure => "infrastructure",
            Self::Apps => "apps",
        }
    }

    /// Starts component and namespace names, keeping both unique across sections.
    fn prefix(self) -> &'static str {
        match self {
            Self::Infrastructure => "infra",
            Self::Apps => "app",
        }
    }
}

fn component_name(section: Section, index: usize) -> String {
    format!("{}-{index:06}", section.prefix())
}

/// A category folder, as its components need it.
struct Category {
    section: Section,
    dir: PathBuf,
    /// The folder relative to the repository root, for Kustomization paths.
    path: String,
    namespace: String,
}

struct Generator<'a> {
    spec: &'a Spec,
    base: PathBuf,
    infrastructure: usize,
    /// Drives everything in ks.yaml files: stage shapes, dependencies, intervals.
    graph: Rng,
    manifests: Rng,
    /// The last Kustomization of each component written so far: the one dependents wait for.
    outputs: Vec<String>,
    summary: Summary,
}

impl Generator<'_> {
    fn write(&mut self, path: &Path, contents: &str) -> io::Result<()> {
        fs::write(path, contents)?;
        self.summary.files += 1;
        self.summary.bytes += contents.len() as u64;
        Ok(())
    }

    fn flux(&mut self) -> io::Result<()> {
        let cluster = &self.spec.cluster;
        let flux = self.base.join("flux");
        for dir in ["config", "repositories", "settings"] {
            fs::create_dir_all(flux.join(dir))?;
        }

        self.write(&flux.join("config/cluster.yaml"), &cluster_yaml(cluster))?;
        self.summary.kustomizations += 4;
        self.summary.depends_on_edges += 2;

        // No kustomization.yaml here: Flux generates one, as in the seed.
        for (name, url, _) in REPOSITORIES {
            let repository = format!(
                "---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 1h
  url: {url}
"
            );
            self.write(&flux.join(format!("repositories/{name}.yaml")), &repository)?;
        }

        let settings = flux.join("settings");
        self.write(&settings.join("kustomization.yaml"), &format!("{KUSTOMIZE_HEADER}  - cluster-settings.yaml\n"))?;
        let config_map = format!(
            "---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
  namespace: flux-system
data:
  CLUSTER_NAME: {cluster}
  CLUSTER_DOMAIN: {cluster}.example.com
  TIMEZONE: Etc/UTC
  GATEWAY_NAME: cilium-gateway
  GATEWAY_NAMESPACE: network
  STORAGE_CLASS: ceph-block
"
        );
        self.write(&settings.join("cluster-settings.yaml"), &config_map)
    }

    fn section(&mut self, section: Section) -> io::Result<()> {
        let components = match section {
            Section::Infrastructure => 0..self.infrastructure,
            Section::Apps => self.infrastructure..self.spec.components,
        };
        let categories = components.len().div_ceil(CATEGORY_SIZE);
        // An even split: sizes differ by at most one, none above CATEGORY_SIZE.
        let start = |category: usize| components.start + category * components.len() / categories;
        for category in 0..categories {
            self.category(section, category, start(category)..start(category + 1))?;
        }
        Ok(())
    }

    fn category(&mut self, section: Section, number: usize, components: Range<usize>) -> io::Result<()> {
        let folder = format!("cat-{number:03}");
        let category = Category {
            section,
            dir: self.base.join(section.dir()).join(&folder),
            path: format!("./kubernetes/{}/{}/{folder}", self.spec.cluster, section.dir()),
            namespace: format!("{}-{folder}", section.prefix()),
        };
        fs::create_dir_all(&category.dir)?;

        let namespace = format!(
            "---
apiVersion: v1
kind: Namespace
metadata:
  name: {}
  labels:
    kustomize.toolkit.fluxcd.io/prune: disabled
",
            category.namespace
        );
        self.write(&category.dir.join("namespace.yaml"), &namespace)?;

        let mut resources = format!("{KUSTOMIZE_HEADER}  - namespace.yaml\n");
        for index in components.clone() {
            resources += &format!("  - {}/ks.yaml\n", component_name(section, index));
        }
        self.write(&category.dir.join("kustomization.yaml"), &resources)?;

        components.into_iter().try_for_each(|index| self.component(&category, index))
    }

    fn component(&mut self, category: &Category, index: usize) -> io::Result<()> {
        let name = component_name(category.section, index);
        let stages = match self.graph.below(100) {
            0..75 => SINGLE,
            75..95 => WITH_CRDS,
            _ => CHAIN,
        };
        let mut depends_on: Vec<String> =
            self.dependencies(index).into_iter().map(|target| self.outputs[target].clone()).collect();

        let mut ks = String::new();
        for (position, &folder) in stages.iter().enumerate() {
            let stage = if folder == "app" { name.clone() } else { format!("{name}-{folder}") };
            let path = format!("{}/{name}/{folder}", category.path);
            // Both spellings occur in real repositories; readers must accept either.
            let path = if self.graph.below(2) == 0 { format!("\"{path}\"") } else { path };
            let interval = INTERVALS[self.graph.below(INTERVALS.len())];
            ks += &format!(
                "---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {stage}
  namespace: flux-system
spec:
  interval: {interval}
  path: {path}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  wait: true
  timeout: 5m
  targetNamespace: {}
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-settings
        optional: true
",
                category.namespace
            );
            if !depends_on.is_empty() {
                ks += "  dependsOn:\n";
                for target in &depends_on {
                    ks += &format!("    - name: {target}\n");
                }
            }
            self.summary.kustomizations += 1;
            self.summary.depends_on_edges += depends_on.len();

            let routable = matches!(category.section, Section::Apps) && position + 1 == stages.len();
            self.stage(&category.dir.join(&name).join(folder), &stage, &category.namespace, routable)?;
            depends_on = vec![stage];
        }
        self.write(&category.dir.join(&name).join("ks.yaml"), &ks)?;
        // Now only the last stage is left: what later components depend on.
        self.outputs.extend(depends_on);
        Ok(())
    }

    /// Earlier components whose last stage `index`'s first stage waits for, ascending. The later of two uniform
    /// draws favours recent components, so chains grow long but only like log(components); apps pick an
    /// infrastructure component a quarter of the time.
    fn dependencies(&mut self, index: usize) -> Vec<usize> {
        let infrastructure = self.infrastructure;
        let mut targets = Vec::new();
        for _ in 0..self.graph.below(self.spec.max_depends + 1) {
            let pool = if index <= infrastructure || (infrastructure > 0 && self.graph.below(4) == 0) {
                0..infrastructure.min(index)
            } else {
                infrastructure..index
            };
            if !pool.is_empty() {
                let offset = self.graph.below(pool.len()).max(self.graph.below(pool.len()));
                targets.push(pool.start + offset);
            }
        }
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// Writes a stage folder: its kustomization.yaml and what it lists.
    fn stage(&mut self, dir: &Path, name: &str, namespace: &str, routable: bool) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let mut resources = KUSTOMIZE_HEADER.to_owned();

        if self.spec.helm_releases {
            let (repository, _, chart) = REPOSITORIES[self.manifests.below(REPOSITORIES.len())];
            let version =
                format!("{}.{}.{}", 1 + self.manifests.below(9), self.manifests.below(30), self.manifests.below(10));
            let replicas = 1 + self.manifests.below(3);
            let release = format!(
                "---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: {namespace}
spec:
  interval: 1h
  chart:
    spec:
      chart: {chart}
      version: {version}
      sourceRef:
        kind: HelmRepository
        name: {repository}
        namespace: flux-system
  install:
    remediation:
      retries: 3
  upgrade:
    remediation:
      retries: 3
  values:
    fullnameOverride: {name}
    replicaCount: {replicas}
"
            );
            self.write(&dir.join("release.yaml"), &release)?;
            self.summary.helm_releases += 1;
            resources += "  - release.yaml\n";
        }

        // Without a HelmRelease the ConfigMap keeps the resource list from being empty.
        if !self.spec.helm_releases || self.manifests.below(5) == 0 {
            let config_map = format!(
                "---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
  namespace: {namespace}
data:
  BASE_URL: \"https://{name}.${{CLUSTER_DOMAIN}}\"
  TZ: \"${{TIMEZONE}}\"
"
            );
            self.write(&dir.join("configmap.yaml"), &config_map)?;
            resources += "  - configmap.yaml\n";
        }

        if routable && self.manifests.below(10) < 3 {
            let route = format!(
                "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {name}
  namespace: {namespace}
spec:
  parentRefs:
    - name: cilium-gateway
      namespace: network
  hostnames:
    - \"{name}.${{CLUSTER_DOMAIN}}\"
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /
      backendRefs:
        - name: {name}
          port: 80
"
            );
            self.write(&dir.join("httproute.yaml"), &route)?;
            resources += "  - httproute.yaml\n";
        }

        self.write(&dir.join("kustomization.yaml"), &resources)
    }
}

/// The seed's four root Kustomizations.
fn cluster_yaml(cluster: &str) -> String {
    format!(
        "---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-repositories
  namespace: flux-system
spec:
  interval: 30m
  path: ./kubernetes/{cluster}/flux/repositories
  prune: true
  wait: false
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-settings
  namespace: flux-system
spec:
  interval: 30m
  path: ./kubernetes/{cluster}/flux/settings
  prune: true
  wait: false
  sourceRef:
    kind: GitRepository
    name: flux-system
  decryption:
    provider: sops
    secretRef:
      name: flux-sops
  postBuild:
    substituteFrom:
      - kind: Secret
        name: cluster-secrets
        optional: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-infrastructure
  namespace: flux-system
spec:
  interval: 10m
  path: ./kubernetes/{cluster}/infrastructure
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  dependsOn:
    - name: cluster-repositories
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-settings
        optional: true
      - kind: Secret
        name: cluster-secrets
        optional: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster-apps
  namespace: flux-system
spec:
  interval: 10m
  path: ./kubernetes/{cluster}/apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  dependsOn:
    - name: cluster-repositories
"
    )
}

/// splitmix64: tiny and fully specified, so the output is the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0), by multiply-shift rather than a biased modulo.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// An empty folder of its own per test, since tests run concurrently.
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fluxgraph-synthetic-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    /// Every file below `dir`, sorted.
    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() { pending.push(path) } else { found.push(path) }
            }
        }
        found.sort();
        found
    }

    fn named(files: &[PathBuf], name: &str) -> Vec<PathBuf> {
        files.iter().filter(|path| path.file_name().unwrap() == name).cloned().collect()
    }

    /// The Flux Kustomizations' names and dependsOn targets, read from the text: `  name:` is only indented
    /// that far under metadata, `    - name:` only in dependsOn.
    fn kustomizations(files: &[PathBuf]) -> BTreeMap<String, Vec<String>> {
        let mut graph = BTreeMap::new();
        for path in [named(files, "cluster.yaml"), named(files, "ks.yaml")].concat() {
            for document in fs::read_to_string(path).unwrap().split("---\n").filter(|text| !text.is_empty()) {
                let name = document.lines().find_map(|line| line.strip_prefix("  name: ")).unwrap();
                let targets = document.lines().filter_map(|line| line.strip_prefix("    - name: "));
                let previous = graph.insert(name.to_owned(), targets.map(str::to_owned).collect());
                assert!(previous.is_none(), "{name} defined twice");
            }
        }
        graph
    }

    /// Kustomizations on the longest dependsOn chain; panics on a cycle or a missing target.
    fn longest_chain(graph: &BTreeMap<String, Vec<String>>) -> usize {
        fn visit<'a>(
            name: &'a str,
            graph: &'a BTreeMap<String, Vec<String>>,
            lengths: &mut BTreeMap<&'a str, Option<usize>>,
        ) -> usize {
            match lengths.get(name) {
                Some(Some(length)) => return *length,
                Some(None) => panic!("cycle through {name}"),
                None => {}
            }
            lengths.insert(name, None);
            let targets = graph.get(name).unwrap_or_else(|| panic!("missing dependsOn target {name}"));
            let length = 1 + targets.iter().map(|target| visit(target, graph, lengths)).max().unwrap_or(0);
            lengths.insert(name, Some(length));
            length
        }
        let mut lengths = BTreeMap::new();
        graph.keys().map(|name| visit(name, graph, &mut lengths)).max().unwrap_or(0)
    }

    #[test]
    fn same_spec_writes_same_bytes() {
        let (first, second, other) = (scratch("same-1"), scratch("same-2"), scratch("same-other"));
        let spec = Spec { components: 150, ..Spec::default() };
        assert_eq!(write_repository(&first, &spec).unwrap(), write_repository(&second, &spec).unwrap());
        let first_files = files(&first);
        assert_eq!(
            first_files.iter().map(|path| path.strip_prefix(&first).unwrap()).collect::<Vec<_>>(),
            files(&second).iter().map(|path| path.strip_prefix(&second).unwrap()).collect::<Vec<_>>(),
        );
        for path in &first_files {
            let twin = second.join(path.strip_prefix(&first).unwrap());
            assert_eq!(fs::read(path).unwrap(), fs::read(twin).unwrap(), "{}", path.display());
        }

        write_repository(&other, &Spec { seed: 2, ..spec }).unwrap();
        let reseeded = |path: &PathBuf| {
            fs::read(path).unwrap() != fs::read(other.join(path.strip_prefix(&first).unwrap())).unwrap()
        };
        assert!(named(&first_files, "ks.yaml").iter().any(reseeded));
        for dir in [first, second, other] {
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn summary_counts_what_was_written() {
        let root = scratch("counts");
        let summary = write_repository(&root, &Spec::default()).unwrap();
        let all = files(&root);
        let texts: Vec<String> = all.iter().map(|path| fs::read_to_string(path).unwrap()).collect();
        let occurrences = |needle: &str| texts.iter().map(|text| text.matches(needle).count()).sum::<usize>();
        let graph = kustomizations(&all);

        assert_eq!(summary.files, all.len());
        assert_eq!(summary.bytes, texts.iter().map(|text| text.len() as u64).sum::<u64>());
        assert_eq!(summary.kustomizations, graph.len());
        assert_eq!(
            summary.kustomizations,
            occurrences("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n")
        );
        assert_eq!(summary.helm_releases, occurrences("kind: HelmRelease\n"));
        assert_eq!(summary.helm_releases, named(&all, "release.yaml").len());
        assert_eq!(summary.depends_on_edges, graph.values().map(Vec::len).sum::<usize>());

        let base = root.join("kubernetes/synthetic");
        assert_eq!(fs::read_dir(base.join("flux/repositories")).unwrap().count(), REPOSITORIES.len());
        for dir in ["flux/repositories", "infrastructure", "apps"] {
            assert!(!base.join(dir).join("kustomization.yaml").exists(), "{dir}");
        }
        let ks = named(&all, "ks.yaml");
        assert_eq!(ks.len(), 100);
        assert_eq!(ks.iter().filter(|path| path.starts_with(base.join("infrastructure"))).count(), 20);
        // Each category lists its namespace and its components, 40 each for the 80 apps.
        let categories = named(&all, "namespace.yaml");
        assert_eq!(categories.len(), 3);
        let apps = fs::read_to_string(base.join("apps/cat-001/kustomization.yaml")).unwrap();
        assert_eq!(apps.lines().filter(|line| line.ends_with("/ks.yaml")).count(), 40);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn dependencies_exist_and_chains_stay_short() {
        let root = scratch("dependencies");
        write_repository(&root, &Spec { components: 1000, ..Spec::default() }).unwrap();
        let graph = kustomizations(&files(&root));
        let longest = longest_chain(&graph);
        assert!((10..100).contains(&longest), "longest chain {longest}");
        let on_infrastructure = |(name, targets): (&String, &Vec<String>)| {
            name.starts_with("app-") && targets.iter().any(|target| target.starts_with("infra-"))
        };
        assert!(graph.iter().any(on_infrastructure));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn without_helm_releases_the_graph_is_unchanged() {
        let (with, without) = (scratch("with-helm"), scratch("without-helm"));
        let spec = Spec { components: 200, ..Spec::default() };
        write_repository(&with, &spec).unwrap();
        let summary = write_repository(&without, &Spec { helm_releases: false, ..spec }).unwrap();
        assert_eq!(summary.helm_releases, 0);

        let (with_files, without_files) = (files(&with), files(&without));
        assert!(named(&without_files, "release.yaml").is_empty());
        let with_ks = named(&with_files, "ks.yaml");
        assert_eq!(with_ks.len(), named(&without_files, "ks.yaml").len());
        for path in with_ks {
            let twin = without.join(path.strip_prefix(&with).unwrap());
            assert_eq!(fs::read(&path).unwrap(), fs::read(twin).unwrap(), "{}", path.display());
        }
        for dir in [with, without] {
            fs::remove_dir_all(dir).unwrap();
        }
    }
}
