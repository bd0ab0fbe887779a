//! `fluxgraph build`: what a Kustomization applies, as kustomize-controller builds it, on the case
//! repositories: the parent's patches and postBuild in, Secret values redacted, what Flux skips left
//! out, each object with the file and line it came from; and its exit statuses.

use serde_json::Value;

use crate::util::*;

/// `fluxgraph build <case> <args…>`: exit code, stdout, stderr.
fn build(case: &str, args: &[&str]) -> (i32, String, String) {
    let path = repo(case);
    let mut all = vec!["build", path.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    let output = run(&all);
    let code = output.status.code().expect("fluxgraph build was killed by a signal");
    (code, String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The JSON builds of `case` (`--all`, or the given id), checked for the shape fluxsim prints.
fn builds(case: &str, which: &[&str]) -> Vec<Value> {
    let mut args = which.to_vec();
    args.extend(["--format", "json"]);
    let (_, out, err) = build(case, &args);
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["tool"], "fluxgraph");
    let builds = doc["builds"].as_array().expect("builds").clone();
    for b in &builds {
        for key in ["cluster", "kustomization", "path", "objects", "error"] {
            assert!(b.get(key).is_some(), "{key} missing in {b}");
        }
    }
    builds
}

fn find<'a>(builds: &'a [Value], id: &str) -> &'a Value {
    builds.iter().find(|b| b["kustomization"] == id).unwrap_or_else(|| panic!("no build of {id}"))
}

fn object<'a>(build: &'a Value, kind: &str, name: &str) -> &'a Value {
    build["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {build}"))
}

/// A parent's `spec.patches` rewrite the child Kustomizations it applies, and kustomization.yaml
/// `patches:` apply before them: the build shows the children as Flux creates them.
#[test]
fn a_build_shows_children_after_the_parents_patches() {
    let all = builds("patches", &["--all"]);
    let apps = find(&all, "Kustomization/flux-system/cluster-apps");
    assert_eq!(apps["path"], "./apps");
    assert_eq!(apps["error"], Value::Null);
    let db = object(apps, "Kustomization", "linkding-db");
    assert_eq!(db["spec"]["decryption"]["provider"], "sops");
    assert_eq!(db["spec"]["postBuild"]["substitute"]["TIMEZONE"], "Europe/Paris");
    assert_eq!(db["spec"]["dependsOn"][0]["name"], "cert-manager", "the labelSelector patch reaches the database child");
    assert_eq!(db["spec"]["wait"], true, "the JSON 6902 patch by name");
    let app = object(apps, "Kustomization", "linkding");
    assert_eq!(app["spec"]["dependsOn"][0]["name"], "linkding-db", "the kustomization.yaml patch file");
    assert!(app["spec"].get("wait").is_none(), "the JSON 6902 patch names only linkding-db");
    // One Kustomization by name gives the same build alone.
    let one = builds("patches", &["cluster-apps"]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0], *apps);
}

/// postBuild substitutes what it defines (substitute, then substituteFrom), keeps a variable's
/// default, and leaves objects that disable substitution as written.
#[test]
fn a_build_substitutes_postbuild_variables() {
    let all = builds("postbuild-substitution", &["--all"]);
    let apps = find(&all, "Kustomization/flux-system/cluster-apps");
    let web = object(apps, "Kustomization", "web");
    assert_eq!(web["metadata"]["namespace"], "apps", "NS from the substituteFrom ConfigMap");
    assert_eq!(web["spec"]["path"], "./apps/web/app");
    assert_eq!(web["spec"]["dependsOn"][0]["name"], "base", "the default of ${{DEP:=base}}");
    object(apps, "Kustomization", "legacy-${APP}");
}

/// A Secret's values never appear, in either format; its keys do.
#[test]
fn a_build_never_shows_a_secret_value() {
    for format in ["yaml", "json"] {
        let (code, out, _) = build("secrets", &["--all", "--format", format]);
        assert_eq!(code, 0, "{out}");
        assert!(!out.contains("PLAINTEXT-MARKER"), "a secret value is shown in {format}:\n{out}");
        assert!(!out.contains("UExBSU5URVhULU1BUktFUi1CQVNFNjQ="), "a base64 secret value is shown in {format}");
        assert!(out.contains("password") && out.contains("apikey"), "the keys stay in {format}");
        assert!(out.contains("<redacted>"), "{format}");
    }
}

/// kustomize-controller leaves out of its apply what is marked `reconcile: disabled` or
/// `ssa: Ignore` (label or annotation); `ssa: Merge` is applied. YAML says where each object came from.
#[test]
fn a_build_leaves_out_what_flux_does_not_apply() {
    let all = builds("skipped-by-flux", &["--all"]);
    let apps = find(&all, "Kustomization/flux-system/apps");
    let names: Vec<&str> = apps["objects"].as_array().unwrap().iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["applied", "merged"]);
    assert_eq!(object(apps, "ConfigMap", "applied")["metadata"]["namespace"], "apps", "targetNamespace");
    let (code, yaml, _) = build("skipped-by-flux", &["Kustomization/flux-system/apps"]);
    assert_eq!(code, 0);
    assert!(yaml.starts_with("# Kustomization/flux-system/apps (cluster test, path ./apps)\n"), "{yaml}");
    assert!(yaml.contains("---\n# from apps/configmaps.yaml:3\napiVersion: v1\nkind: ConfigMap\n"), "{yaml}");
    assert!(yaml.contains("# from apps/configmaps.yaml:31\n"), "{yaml}");
    assert!(!yaml.contains("managed-by-hand") && !yaml.contains("ignored-by-ssa"), "{yaml}");
}

/// Exit 1 when a build shown fails (the error says why, and nothing is applied); 2 when the
/// Kustomization or the path does not exist, with the nearest names.
#[test]
fn build_exit_statuses() {
    let (code, out, _) = build("path-not-found", &["--all", "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let failed: Vec<&Value> = doc["builds"].as_array().unwrap().iter().filter(|b| !b["error"].is_null()).collect();
    assert!(!failed.is_empty(), "{out}");
    for b in failed {
        assert_eq!(b["error"]["code"], "path-not-found");
        assert_eq!(b["objects"], Value::Array(Vec::new()));
    }
    let (code, _, err) = build("patches", &["linkdin"]);
    assert_eq!(code, 2);
    assert!(err.contains("no Kustomization linkdin; did you mean Kustomization/flux-system/linkding"), "{err}");
    let (code, _, err) = build("patches", &["Kustomization/apps/linkding"]);
    assert_eq!(code, 2, "{err}");
    let output = run(&["build", "/nonexistent/repository", "--all"]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&["build", repo("patches").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "an ID or --all is required");
}

/// YAML says, above each object, which patches changed it (where each is written: the
/// kustomization file, or the Flux Kustomization for its spec.patches, and the entry's line; and
/// the fields it changed) and which postBuild variables were substituted into it.
#[test]
fn yaml_says_which_patches_changed_an_object_and_what_was_substituted() {
    let (code, yaml, _) = build("patches", &["cluster-apps"]);
    assert_eq!(code, 0);
    let db = "# from apps/linkding/ks.yaml:2\n# patched by clusters/test/cluster.yaml:29 (spec.decryption, spec.postBuild)\n# patched by clusters/test/cluster.yaml:46 (spec.dependsOn)\n# patched by clusters/test/cluster.yaml:58 (spec.wait)\n";
    assert!(yaml.contains(db), "{yaml}");
    assert!(yaml.contains("# from apps/linkding/ks.yaml:17\n# patched by apps/kustomization.yaml:7 (spec.dependsOn)\n"), "{yaml}");
    let (_, yaml, _) = build("postbuild-substitution-as-text", &["apps"]);
    assert!(yaml.contains("# from apps/workloads.yaml:2\n# substituted: VERSION, PORT, HOSTS, DOMAIN, MULTILINE\n"), "{yaml}");
}
