//! The builder's own rules, on repositories in memory; kustomize's transformers have their
//! tests beside them, and whole builds are compared with real kustomize's in tests/integration.

use super::*;
use std::path::Path;

fn repo(files: &[(&str, &str)]) -> Repository {
    Repository::from_files(Path::new("/r"), files.iter().copied())
}

fn names(build: &Build) -> Vec<String> {
    build
        .resources
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r.manifest.namespace().unwrap_or_default(),
                r.manifest.name().unwrap_or_default()
            )
        })
        .collect()
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ";

#[test]
fn generated_kustomization_stops_at_units() {
    let r = repo(&[
        ("apps/a.yaml", &format!("{CM}a\n")),
        ("apps/deep/b.yml", &format!("{CM}b\n")),
        ("apps/unit/kustomization.yaml", "resources:\n  - c.yaml\n"),
        ("apps/unit/c.yaml", &format!("{CM}c\n")),
        ("apps/unit/not-listed.yaml", &format!("{CM}d\n")),
        ("apps/notes.txt", "hello"),
    ]);
    let b = build(&r, "apps", &Overlay::default());
    assert_eq!(names(&b), ["/a", "/b", "/c"]);
    assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
}

#[test]
fn overlay_components_apply_to_a_generated_kustomization() {
    let r = repo(&[
        ("apps/a.yaml", &format!("{CM}a\n")),
        ("comp/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - b.yaml\n"),
        ("comp/b.yaml", &format!("{CM}b\n")),
    ]);
    let b = build(&r, "apps", &Overlay { components: vec!["comp".into()], ..Overlay::default() });
    assert_eq!(names(&b), ["/a", "/b"]);
    assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
}

#[test]
fn outermost_namespace_wins_and_overlay_wins_over_all() {
    let r = repo(&[
        ("a/kustomization.yaml", "namespace: outer\nresources:\n  - ../b\n"),
        ("b/kustomization.yaml", "namespace: inner\nresources:\n  - cm.yaml\n"),
        ("b/cm.yaml", &format!("{CM}x\n  namespace: own\n")),
    ]);
    assert_eq!(names(&build(&r, "a", &Overlay::default())), ["outer/x"]);
    assert_eq!(names(&build(&r, "b", &Overlay::default())), ["inner/x"]);
    let o = Overlay { namespace: Some("target".into()), ..Overlay::default() };
    assert_eq!(names(&build(&r, "a", &o)), ["target/x"]);
}

#[test]
fn a_chain_deeper_than_the_limit_is_too_deep_not_a_cycle() {
    let chain = |n: usize| {
        let mut files: Vec<(String, String)> =
            (0..n).map(|i| (format!("f{i}/kustomization.yaml"), format!("resources:\n  - ../f{}\n", i + 1))).collect();
        files.push((format!("f{n}/kustomization.yaml"), "resources:\n  - cm.yaml\n".into()));
        files.push((format!("f{n}/cm.yaml"), format!("{CM}x\n")));
        Repository::from_files(Path::new("/r"), files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
    };
    let b = build(&chain(30), "f0", &Overlay::default());
    assert_eq!(names(&b), ["/x"]);
    assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
    let b = build(&chain(66), "f0", &Overlay::default());
    let codes: Vec<_> = b.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::KustomizationTooDeep]);
    assert!(b.diagnostics[0].message.contains("more than 64 deep (f0 -> … -> f65)"), "{}", b.diagnostics[0].message);
}

#[test]
fn missing_resources_remote_urls_and_cycles_are_reported() {
    let r = repo(&[
        ("a/kustomization.yaml", "resources:\n  - missing.yaml\n  - https://example.com/x.yaml\n  - ../b\n"),
        ("b/kustomization.yaml", "resources:\n  - ../a\n"),
    ]);
    let b = build(&r, "a", &Overlay::default());
    let codes: Vec<_> = b.diagnostics.iter().map(|d| (d.code, d.line)).collect();
    assert_eq!(codes, [(Code::PathNotFound, 2), (Code::RemoteResource, 3), (Code::KustomizationCycle, 0)]);
}

#[test]
fn components_add_and_patch() {
    let r = repo(&[
        ("app/kustomization.yaml", "resources:\n  - cm.yaml\ncomponents:\n  - ../comp\n"),
        ("app/cm.yaml", &format!("{CM}x\n")),
        ("comp/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - extra.yaml\npatches:\n  - patch: |\n      - op: add\n        path: /data\n        value: {k: v}\n    target:\n      kind: ConfigMap\n"),
        ("comp/extra.yaml", &format!("{CM}y\n")),
    ]);
    let b = build(&r, "app", &Overlay::default());
    assert_eq!(names(&b), ["/x", "/y"]);
    assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
    assert!(b.resources.iter().all(|r| r.manifest.at(&["data", "k"]).is_some()), "{:?}", b.resources);
}

#[test]
fn generated_build_rejects_non_objects() {
    let r = repo(&[("d/values.yaml", "replicas: 2\n"), ("d/bad.yaml", "a: [\n")]);
    let b = build(&r, "d", &Overlay::default());
    let codes: Vec<_> = b.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::InvalidYaml, Code::InvalidObject]);
}

#[test]
fn normalize_paths() {
    assert_eq!(normalize("./a/./b/../c").as_deref(), Some("a/c"));
    assert_eq!(normalize("/abs/x").as_deref(), Some("abs/x"));
    assert_eq!(normalize("a/../../x"), None);
    assert_eq!(normalize("./").as_deref(), Some(""));
    assert_eq!(normalize("").as_deref(), Some(""));
    assert_eq!(normalize("apps/base/podinfo").as_deref(), Some("apps/base/podinfo"));
    assert_eq!(normalize("apps/base/").as_deref(), Some("apps/base"));
    assert_eq!(normalize("apps//base").as_deref(), Some("apps/base"));
    assert_eq!(normalize("apps\\base").as_deref(), Some("apps/base"));
    assert_eq!(normalize("apps/..").as_deref(), Some(""));
    assert_eq!(normalize("a/b/../../c/./d/..").as_deref(), Some("c"));
    assert_eq!(normalize("a/b/../../..").as_deref(), None);
}

#[test]
fn a_resource_remembers_the_patches_that_changed_it_and_where_they_are_written() {
    let r = repo(&[
        (
            "apps/kustomization.yaml",
            "resources:\n  - cm.yaml\n  - other.yaml\npatches:\n  - target:\n      kind: ConfigMap\n      name: x\n    patch: |\n      - op: add\n        path: /data\n        value: {k: v}\n",
        ),
        ("apps/cm.yaml", &format!("{CM}x\n")),
        ("apps/other.yaml", &format!("{CM}y\n")),
    ]);
    let flux = crate::load::patch::Origin { file: Arc::from("clusters/apps.yaml"), line: 12 };
    let patch = Patch::parse_at("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    team: web\n", None, flux).unwrap();
    let b = build(&r, "apps", &Overlay { patches: vec![patch], ..Overlay::default() });
    assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
    let changes: Vec<(String, u32, Vec<String>)> = b.resources[0].changes.iter().map(|c| (c.file.to_string(), c.line, c.fields.clone())).collect();
    assert_eq!(
        changes,
        [
            ("apps/kustomization.yaml".to_string(), 5, vec!["data".to_string()]),
            ("clusters/apps.yaml".to_string(), 12, vec!["metadata.labels".to_string()]),
        ]
    );
    assert!(b.resources[1].changes.is_empty(), "the other ConfigMap is not patched");
}

#[test]
fn a_patch_that_finds_nothing_fails_at_its_entry_unless_a_remote_resource_may_hold_it() {
    let patch = "patches:\n  - patch: |\n      apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: absent\n      data: {k: v}\n";
    let r = repo(&[("apps/kustomization.yaml", &format!("resources:\n  - cm.yaml\n{patch}")), ("apps/cm.yaml", &format!("{CM}x\n"))]);
    let b = build(&r, "apps", &Overlay::default());
    let found: Vec<_> = b.diagnostics.iter().map(|d| (d.code, d.file.as_str(), d.line)).collect();
    assert_eq!(found, [(Code::PatchFailed, "apps/kustomization.yaml", 4)]);
    let r = repo(&[("apps/kustomization.yaml", &format!("resources:\n  - https://example.com/base.yaml\n{patch}"))]);
    let codes: Vec<_> = build(&r, "apps", &Overlay::default()).diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::RemoteResource]);
}

#[test]
fn an_object_listed_twice_fails_the_build_as_kustomize_refuses_it() {
    let r = repo(&[
        ("apps/kustomization.yaml", "resources:\n  - a.yaml\n  - b.yaml\n"),
        ("apps/a.yaml", &format!("{CM}x\n")),
        ("apps/b.yaml", &format!("{CM}x\n  namespace: default\n")),
    ]);
    let codes: Vec<_> = build(&r, "apps", &Overlay::default()).diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::InvalidObject], "no namespace and `default` are the same to kustomize");
}

#[test]
fn built_in_transformers_run_under_transformers_and_plugins_fail() {
    let r = repo(&[
        (
            "apps/kustomization.yaml",
            "resources:\n  - ns.yaml\n  - cm.yaml\ntransformers:\n  - |-\n    apiVersion: builtin\n    kind: LabelTransformer\n    metadata:\n      name: not-used\n    labels:\n      routed: \"true\"\n    fieldSpecs:\n      - kind: Namespace\n        path: metadata/labels\n        create: true\n",
        ),
        ("apps/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n"),
        ("apps/cm.yaml", &format!("{CM}x\n")),
    ]);
    let b = build(&r, "apps", &Overlay::default());
    assert!(b.diagnostics.is_empty(), "{:?}", b.diagnostics);
    assert_eq!(b.resources[0].manifest.at(&["metadata", "labels", "routed"]).and_then(Node::as_str), Some("true"));
    assert!(b.resources[1].manifest.at(&["metadata", "labels"]).is_none(), "only where its field specs say");
    let r = repo(&[
        ("apps/kustomization.yaml", "resources:\n  - cm.yaml\ntransformers:\n  - |-\n    apiVersion: example.com/v1\n    kind: MyPlugin\n    metadata:\n      name: p\n"),
        ("apps/cm.yaml", &format!("{CM}x\n")),
    ]);
    let codes: Vec<_> = build(&r, "apps", &Overlay::default()).diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::InvalidObject], "kustomize-controller runs no plugin");
}
