//! A bounded fuzzer over the YAML reader and the resolver: repositories assembled from the
//! pieces real Flux repositories are made of (Kustomizations with dependsOn, kustomization files
//! with resources and components, postBuild variables, FluxInstances, ResourceSets, anchors),
//! then damaged at random (cut, repeated, spliced with YAML's special characters), are read and
//! run through the whole pipeline and every renderer. Nothing may panic; every failure must be a
//! diagnostic. Deterministic from its seed; `FLUXGRAPH_FUZZ_CASES` and `FLUXGRAPH_FUZZ_SEED` run
//! it longer or elsewhere (the default is bounded for CI).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use fluxgraph::layout::rng::Rng;
use fluxgraph::load::Repository;
use fluxgraph::render;
use fluxgraph::snapshot::Snapshot;

const NAMES: &[&str] = &["apps", "infra", "db", "web", "flux-system", "a", "b", "${APP}", "cluster"];
const DIRS: &[&str] = &["apps", "apps/web", "infra", "infra/db", "clusters/main", ".", "..", "../..", "missing", "apps/${APP}"];
const SPECIALS: &[&str] = &["*", "&a ", "*a", ":", ": ", "{", "}", "[", "]", "<<: *a\n", "\t", "\u{feff}", "\0", "---\n", "'", "\"", "|\n", "- ", "!!str ", "%YAML 1.2\n", "${", "<<", ">>", "\r\n", "#", "? "];

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

fn kustomization(rng: &mut Rng) -> String {
    let name = pick(rng, NAMES);
    let mut text = format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: {}m\n  path: ./{}\n  sourceRef:\n    kind: {}\n    name: flux-system\n",
        rng.below(90),
        pick(rng, DIRS),
        pick(rng, &["GitRepository", "OCIRepository", "ExternalArtifact", "Bucket"]),
    );
    if rng.chance(0.6) {
        text.push_str("  dependsOn:\n");
        for _ in 0..rng.below(4) {
            text.push_str(&format!("    - name: {}\n", pick(rng, NAMES)));
        }
    }
    if rng.chance(0.4) {
        text.push_str("  postBuild:\n    substitute:\n      APP: web\n    substituteFrom:\n      - kind: ConfigMap\n        name: settings\n        optional: true\n");
    }
    if rng.chance(0.2) {
        text.push_str(&format!("  components:\n    - ../{}\n", pick(rng, DIRS)));
    }
    if rng.chance(0.2) {
        text.push_str("  patches:\n    - patch: |\n        - op: add\n          path: /spec/wait\n          value: true\n      target:\n        kind: Kustomization\n");
    }
    text
}

fn kustomize_file(rng: &mut Rng) -> String {
    let mut text = String::from("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for _ in 0..rng.below(5) {
        text.push_str(&format!("  - {}\n", pick(rng, &["./ks.yaml", "../web", "web", "../../infra", "github.com/x/y?ref=v1", "missing.yaml", "."])));
    }
    if rng.chance(0.3) {
        text.push_str("namespace: ${NS}\nconfigMapGenerator:\n  - name: settings\n    literals:\n      - APP=web\n    envs:\n      - cluster.env\n");
    }
    text
}

fn other(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata:\n  name: flux\n  namespace: flux-system\nspec:\n  sync:\n    kind: GitRepository\n    path: ${CLUSTER}/apps\n    url: https://example.com/r\n".into(),
        1 => "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\nmetadata:\n  name: rs\n  namespace: apps\nspec:\n  inputs:\n    - name: one\n    - name: two\n  resources:\n    - apiVersion: helm.toolkit.fluxcd.io/v2\n      kind: HelmRelease\n      metadata:\n        name: << inputs.name >>\n      spec:\n        chart: << inputs.missing | default \"x\" >>\n".into(),
        2 => "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: flux-system\ndata:\n  APP: web\n  NS: apps\n".into(),
        3 => "defaults: &a\n  interval: 1h\nspec:\n  <<: *a\n  *a: x\n".into(),
        _ => "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  chart:\n    spec:\n      chart: web\n      sourceRef:\n        kind: HelmRepository\n        name: charts\n  dependsOn:\n    - name: db\n".into(),
    }
}

/// Damages a document the way editors, merges and hostile authors do.
fn damage(rng: &mut Rng, text: String) -> String {
    let mut text = text;
    for _ in 0..rng.below(4) {
        if text.is_empty() {
            break;
        }
        let mut at = rng.below(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        match rng.below(4) {
            0 => text.insert_str(at, pick(rng, SPECIALS)),
            1 => text.truncate(at),
            2 => {
                let copy = text[at..].to_string();
                text.push_str(&copy);
            }
            _ => {
                let indent = " ".repeat(rng.below(6));
                text.insert_str(at, &indent);
            }
        }
    }
    text
}

fn repository(rng: &mut Rng) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for _ in 0..1 + rng.below(8) {
        let dir = pick(rng, &["apps", "apps/web", "infra", "infra/db", "clusters/main", "clusters/main/flux-system"]);
        let (name, text) = match rng.below(4) {
            0 => ("kustomization.yaml", kustomize_file(rng)),
            1 => ("gotk-sync.yaml", kustomization(rng)),
            2 => ("ks.yaml", [kustomization(rng), kustomization(rng)].join("---\n")),
            _ => ("other.yaml", other(rng)),
        };
        let text = if rng.chance(0.5) { damage(rng, text) } else { text };
        files.push((format!("{dir}/{name}"), text));
    }
    files
}

#[test]
fn the_yaml_reader_and_the_resolver_never_panic() {
    let cases: usize = std::env::var("FLUXGRAPH_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let seed: u64 = std::env::var("FLUXGRAPH_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    let mut rng = Rng::new(seed);
    let (mut documents, mut diagnostics, mut clusters) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for case in 0..cases {
        let files = repository(&mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let repo = Repository::from_files(Path::new("/fuzz"), files.iter().map(|(p, t)| (p.as_str(), t.as_str())));
            let docs: usize = repo.files.values().map(|f| f.documents.len()).sum();
            let snapshot = Snapshot::from_repository(repo, None).expect("the pipeline runs on any repository");
            render::json::render(&snapshot, None).expect("JSON renders");
            let views: Vec<_> = snapshot.clusters.iter().collect();
            render::text::report(&snapshot, &views, true);
            for view in &snapshot.clusters {
                render::dot::render(view);
                render::mermaid::render(view);
            }
            let found = snapshot.diagnostics.len() + snapshot.clusters.iter().map(|v| v.analysis.diagnostics.len()).sum::<usize>();
            (docs, found, snapshot.clusters.len())
        }));
        match outcome {
            Ok((d, f, c)) => {
                documents += d;
                diagnostics += f;
                clusters += c;
            }
            Err(_) => failures.push((case, files)),
        }
    }
    eprintln!("fuzz: {cases} repositories (seed {seed}), {documents} YAML documents, {clusters} clusters, {diagnostics} diagnostics, {} panics", failures.len());
    assert!(failures.is_empty(), "panics on {} repositories; the first (case {}):\n{:#?}", failures.len(), failures[0].0, failures[0].1);
}
