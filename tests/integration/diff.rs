//! `fluxgraph diff` on real git repositories: a base committed from the example repository, then
//! heads that each make one kind of change a pull request makes. Each case reads the report in all
//! three formats and checks the exit status (1 when the head brings a new error). The `git` binary
//! only builds the repositories; fluxgraph reads them with gix.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const RPI: &str = "kubernetes/rpi-cluster";

/// A git repository in a temporary folder, its `main` branch one commit of the example repository
/// (under `prefix`, "" for the top).
pub(crate) struct Repo {
    dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
}

impl Repo {
    pub(crate) fn new() -> Repo {
        Repo::at("")
    }

    fn at(prefix: &str) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(prefix);
        std::fs::create_dir_all(&root).unwrap();
        crate::util::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rpi-cluster"), &root);
        let repo = Repo { dir, root };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit("base");
        repo
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?} failed");
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// A branch `pr` off main holding what `change` does, committed.
    pub(crate) fn branch(&self, change: impl FnOnce(&Repo)) {
        self.git(&["checkout", "-q", "-b", "pr"]);
        change(self);
        self.commit("change");
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.root.join(RPI).join(rel)
    }

    pub(crate) fn edit(&self, rel: &str, change: impl FnOnce(String) -> String) {
        let path = self.file(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        let changed = change(text.clone());
        assert_ne!(text, changed, "the edit of {rel} changes nothing");
        std::fs::write(path, changed).unwrap();
    }

    /// `fluxgraph diff ROOT <extra…>` in the three formats: the exit status (the same in all
    /// three, or the test fails), the text, the Markdown and the JSON document.
    fn diff(&self, extra: &[&str]) -> Report {
        let run = |format: &str| {
            let output = Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
                .arg("diff")
                .arg(&self.root)
                .args(["--format", format])
                .args(extra)
                .output()
                .expect("fluxgraph runs");
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            (output.status.code().expect("an exit status"), String::from_utf8(output.stdout).unwrap(), stderr)
        };
        let (code, text, stderr) = run("text");
        assert!(code == 0 || code == 1, "fluxgraph diff could not run ({code}): {stderr}");
        let (md_code, markdown, _) = run("markdown");
        let (json_code, json, _) = run("json");
        assert_eq!((md_code, json_code), (code, code), "the exit status depends on the format");
        let json: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("not JSON ({e}):\n{json}"));
        Report { code, text, markdown, json }
    }
}

struct Report {
    code: i32,
    text: String,
    markdown: String,
    json: Value,
}

impl Report {
    fn cluster(&self) -> &Value {
        let clusters = self.json["clusters"].as_array().unwrap();
        assert_eq!(clusters.len(), 1, "the example holds one cluster");
        &clusters[0]
    }

    fn ids(&self, pointer: &str) -> Vec<String> {
        let list = self.cluster().pointer(pointer).unwrap_or_else(|| panic!("no {pointer} in {}", self.json)).as_array().unwrap();
        list.iter().map(|v| v.get("id").unwrap_or(v).as_str().unwrap().to_string()).collect()
    }

    fn codes(&self, which: &str) -> Vec<String> {
        let list = self.cluster()["diagnostics"][which].as_array().unwrap();
        list.iter().map(|d| format!("{}:{}", d["severity"].as_str().unwrap(), d["code"].as_str().unwrap())).collect()
    }

    fn edges(&self, which: &str) -> Vec<String> {
        let list = self.cluster()["edges"][which].as_array().unwrap();
        list.iter().map(|e| format!("{} {} {}", e["from"].as_str().unwrap(), e["kind"].as_str().unwrap(), e["to"].as_str().unwrap())).collect()
    }

    /// Every format says `needle`.
    fn all_say(&self, needle: &str) {
        assert!(self.text.contains(needle), "the text lacks {needle:?}:\n{}", self.text);
        assert!(self.markdown.contains(needle), "the Markdown lacks {needle:?}:\n{}", self.markdown);
        assert!(self.json.to_string().contains(needle), "the JSON lacks {needle:?}:\n{}", self.json);
    }
}


const RBD: &str = "Kustomization/flux-system/rook-ceph-rbd";
const LINKDING: &str = "Kustomization/flux-system/linkding";

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn a_dependency_closing_a_cycle_fails_the_change() {
    let repo = Repo::new();
    // Uncommitted: the base is HEAD.
    repo.edit("infrastructure/storage/rook-ceph/ks.yaml", |t| t.replace("    - name: rook-ceph-cluster\n", "    - name: rook-ceph-cluster\n    - name: linkding\n"));
    let r = repo.diff(&[]);
    assert_eq!(r.code, 1, "{}", r.text);
    assert_eq!(r.json["base"]["name"], "HEAD");
    assert_eq!(r.json["head"]["name"], "work tree");
    assert_eq!(r.ids("/objects/changed"), [RBD]);
    assert_eq!(r.cluster()["objects"]["changed"][0]["fields"][0]["field"], "dependsOn");
    assert_eq!(r.edges("added"), [format!("{RBD} dependsOn {LINKDING}")]);
    assert_eq!(r.codes("introduced"), ["error:dependency-cycle"]);
    let levels = r.cluster()["levels"].as_array().unwrap();
    assert!(levels.iter().any(|l| l["id"] == RBD && l["after"].is_null() && l["before"].is_u64()), "{levels:?}");
    assert!(r.ids("/blast_radius/downstream").contains(&LINKDING.to_string()));
    r.all_say("dependency-cycle");
    assert!(r.text.starts_with("fluxgraph diff HEAD (") && r.text.contains("introduces 1 error (dependency-cycle)"), "{}", r.text);
    assert!(r.markdown.starts_with("### fluxgraph: ❌ introduces 1 error"), "{}", r.markdown);
    assert!(r.markdown.contains("<details>") && r.markdown.contains("**Critical path before:**"));
}

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn renaming_a_kustomization_others_depend_on_breaks_them() {
    let repo = Repo::new();
    repo.branch(|r| r.edit("infrastructure/storage/rook-ceph/ks.yaml", |t| t.replace("  name: rook-ceph-rbd\n", "  name: rook-ceph-block\n")));
    // Committed on a branch: the base is its merge base with main.
    let r = repo.diff(&[]);
    assert_eq!(r.code, 1, "{}", r.text);
    assert!(r.json["base"]["name"].as_str().unwrap().starts_with("merge-base of HEAD and main"), "{}", r.json["base"]);
    assert_eq!(r.ids("/objects/added"), ["Kustomization/flux-system/rook-ceph-block"]);
    assert_eq!(r.ids("/objects/removed"), [RBD]);
    assert!(r.edges("removed").contains(&format!("{LINKDING} dependsOn {RBD}")));
    let introduced = r.codes("introduced");
    assert_eq!(introduced, vec!["error:missing-dependency"; 4], "four Kustomizations depend on it");
    r.all_say("missing-dependency");
    r.all_say("rook-ceph-block");
    assert!(r.markdown.contains("introduces 4 errors"), "{}", r.markdown);
}

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn moving_a_component_to_another_category_moves_it_without_errors() {
    let repo = Repo::new();
    repo.branch(|r| {
        std::fs::rename(r.file("apps/home/linkding"), r.file("apps/tools/linkding")).unwrap();
        r.edit("apps/tools/linkding/ks.yaml", |t| t.replace("apps/home/linkding", "apps/tools/linkding"));
        r.edit("apps/home/kustomization.yaml", |t| t.replace("  - linkding/ks.yaml\n", ""));
        r.edit("apps/tools/kustomization.yaml", |t| t + "  - linkding/ks.yaml\n");
    });
    let r = repo.diff(&["--base", "main", "--head", "pr"]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.json["base"]["name"], "main");
    assert_eq!(r.json["head"]["name"], "pr");
    let moved = r.cluster()["objects"]["moved"].as_array().unwrap();
    let moved: Vec<(&str, &str)> = moved.iter().map(|m| (m["id"].as_str().unwrap(), m["to"].as_str().unwrap())).collect();
    assert!(moved.contains(&(LINKDING, "kubernetes/rpi-cluster/apps/tools/linkding/ks.yaml")), "{moved:?}");
    assert!(moved.iter().any(|(id, _)| *id == "HelmRelease/home/linkding"));
    let changed = &r.cluster()["objects"]["changed"][0];
    assert_eq!((changed["id"].as_str(), changed["fields"][0]["field"].as_str()), (Some(LINKDING), Some("path")));
    assert_eq!(changed["fields"][0]["after"], "./kubernetes/rpi-cluster/apps/tools/linkding/app");
    assert!(r.edges("added").is_empty() && r.edges("removed").is_empty());
    assert!(r.codes("introduced").is_empty());
    // The kustomization.yaml files changed: what cluster-apps applies is reconciled anew.
    assert!(r.ids("/blast_radius/changed").contains(&"Kustomization/flux-system/cluster-apps".to_string()));
    r.all_say("apps/tools/linkding/ks.yaml");
    assert!(r.markdown.starts_with("### fluxgraph: ✅ no new errors"), "{}", r.markdown);
}

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn a_post_build_variable_a_childs_path_uses_changes_the_child() {
    let repo = Repo::new();
    // The base's cluster-apps gives its children a variable that linkding's path uses.
    repo.edit("flux/config/cluster.yaml", |t| {
        assert!(t.ends_with("  name: cluster-apps\n") || t.rsplit("---").next().unwrap().contains("  name: cluster-apps\n"), "cluster-apps is the last document");
        t + "  postBuild:\n    substitute:\n      HOME_CATEGORY: home\n"
    });
    repo.edit("apps/home/linkding/ks.yaml", |t| t.replace("apps/home/linkding/app", "apps/${HOME_CATEGORY}/linkding/app"));
    repo.commit("linkding's folder from a variable");
    repo.branch(|r| r.edit("flux/config/cluster.yaml", |t| t.replace("HOME_CATEGORY: home", "HOME_CATEGORY: house")));
    let r = repo.diff(&["--base", "main"]);
    assert_eq!(r.code, 1, "{}", r.text);
    let changed = r.cluster()["objects"]["changed"].as_array().unwrap();
    let field = |id: &str, field: &str| changed.iter().any(|c| c["id"] == id && c["fields"].as_array().unwrap().iter().any(|f| f["field"] == field));
    assert!(field("Kustomization/flux-system/cluster-apps", "postBuild"), "{changed:?}");
    assert!(field(LINKDING, "path"), "{changed:?}");
    assert!(r.codes("introduced").contains(&"error:path-not-found".to_string()), "{:?}", r.codes("introduced"));
    assert_eq!(r.ids("/objects/removed"), ["HelmRelease/home/linkding"], "no longer applied");
    r.all_say("apps/house/linkding/app");
    r.all_say("path-not-found");
}

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn deleting_a_helm_repository_still_in_use_fails_the_change() {
    let repo = Repo::new();
    repo.branch(|r| std::fs::remove_file(r.file("flux/repositories/jameswynn.yaml")).unwrap());
    let r = repo.diff(&["--base", "main", "--head", "pr"]);
    assert_eq!(r.code, 1, "{}", r.text);
    assert_eq!(r.json["changed_files"], serde_json::json!(["kubernetes/rpi-cluster/flux/repositories/jameswynn.yaml"]));
    assert_eq!(r.ids("/objects/removed"), ["HelmRepository/flux-system/jameswynn"]);
    assert!(r.edges("removed").contains(&"HelmRelease/home/homepage source HelmRepository/flux-system/jameswynn".to_string()));
    assert_eq!(r.codes("introduced"), ["error:source-not-found"]);
    assert!(r.ids("/blast_radius/changed").contains(&"HelmRelease/home/homepage".to_string()));
    r.all_say("source-not-found");
    r.all_say("HelmRepository/flux-system/jameswynn");
}

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn no_change_reports_nothing_and_passes() {
    // The repository in a folder below the work tree's top, with a change that is no manifest.
    let repo = Repo::at("gitops");
    repo.branch(|r| std::fs::write(r.root.join("README.md"), "edited\n").unwrap());
    let r = repo.diff(&[]);
    assert_eq!(r.code, 0, "{}", r.text);
    assert_eq!(r.json["verdict"], "no change to the graph");
    assert_eq!(r.json["changed_files"], serde_json::json!([]));
    assert_eq!(r.cluster()["status"], "unchanged");
    assert!(r.ids("/objects/added").is_empty() && r.codes("introduced").is_empty());
    r.all_say("no change to the graph");
    // Flux's default exclusions hold in a revision as on disk: a workflow is not a change.
    std::fs::create_dir_all(repo.root.join(".github")).unwrap();
    std::fs::write(repo.root.join(".github/ci.yaml"), "kind: Kustomization\n").unwrap();
    repo.commit("ci");
    let r = repo.diff(&["--base", "main", "--head", "HEAD"]);
    assert_eq!((r.code, r.json["changed_files"].clone()), (0, serde_json::json!([])));
}

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn a_bad_path_or_revision_cannot_run() {
    let repo = Repo::new();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_fluxgraph")).arg("diff").args(args).output().unwrap();
        (output.status.code().unwrap(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let root = repo.root.to_str().unwrap();
    let (code, stderr) = run(&[root, "--base", "no-such-branch"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no revision \"no-such-branch\""), "{stderr}");
    let (code, stderr) = run(&[root, "--head", "v9"]);
    assert_eq!(code, 2, "{stderr}");
    let missing = repo.dir.path().join("missing");
    let (code, stderr) = run(&[missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let outside = tempfile::tempdir().unwrap();
    let (code, stderr) = run(&[outside.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not in a git repository"), "{stderr}");
    let (code, stderr) = run(&[root, "--cluster", "nope", "--base", "main"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no cluster \"nope\""), "{stderr}");
}

/// A dependency bump, as most pull requests are: the linkding chart (a major version), the image in
/// its values, and the image of a plain Deployment. Every format says what changes in the cluster,
/// field by field, and lists the versions that move, the major one marked.
pub(crate) fn bump_versions(repo: &Repo) {
    repo.branch(|r| {
        r.edit("apps/home/linkding/app/release.yaml", |t| t.replace("version: 3.6.1", "version: 4.0.0").replace("tag: 1.36.0", "tag: 1.37.0"));
        r.edit("apps/tools/fluxgraph/app/deployment.yaml", |t| t.replace("ghcr.io/fluxgraph/fluxgraph:0.1.0", "ghcr.io/fluxgraph/fluxgraph:0.2.0"));
    });
}

fn builds_of<'a>(r: &'a Report, kustomization: &str) -> &'a Value {
    r.cluster()["builds"].as_array().unwrap().iter().find(|b| b["kustomization"] == kustomization).unwrap_or_else(|| panic!("no build change of {kustomization}: {}", r.cluster()["builds"]))
}

fn changed_fields(build: &Value, object: &str) -> Vec<String> {
    let changed = build["changed"].as_array().unwrap().iter().find(|c| c["id"] == object).unwrap_or_else(|| panic!("{object} not changed in {build}"));
    changed["fields"].as_array().unwrap().iter().map(|f| format!("{}: {} → {}", f["path"].as_str().unwrap(), f["before"], f["after"])).collect()
}

#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn a_dependency_bump_says_what_changes_in_the_cluster() {
    let repo = Repo::new();
    bump_versions(&repo);
    let r = repo.diff(&["--base", "main"]);
    assert_eq!(r.code, 0, "{}", r.text);
    let linkding = changed_fields(builds_of(&r, LINKDING), "HelmRelease/home/linkding");
    assert!(linkding.contains(&r#"spec.chart.spec.version: "3.6.1" → "4.0.0""#.to_string()), "{linkding:?}");
    assert!(linkding.contains(&r#"spec.values.controllers.linkding.containers.app.image.tag: "1.36.0" → "1.37.0""#.to_string()), "{linkding:?}");
    let deployment = changed_fields(builds_of(&r, "Kustomization/flux-system/fluxgraph"), "Deployment/tools/fluxgraph");
    assert_eq!(deployment, [r#"spec.template.spec.containers[fluxgraph].image: "ghcr.io/fluxgraph/fluxgraph:0.1.0" → "ghcr.io/fluxgraph/fluxgraph:0.2.0""#]);
    let versions: Vec<(String, String, String, bool)> = r.cluster()["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap().to_string(), v["before"].as_str().unwrap().to_string(), v["after"].as_str().unwrap().to_string(), v["major"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [
            ("app-template".to_string(), "3.6.1".to_string(), "4.0.0".to_string(), true),
            ("docker.io/sissbruecker/linkding".to_string(), "1.36.0".to_string(), "1.37.0".to_string(), false),
            ("ghcr.io/fluxgraph/fluxgraph".to_string(), "0.1.0".to_string(), "0.2.0".to_string(), false),
        ]
    );
    // What the graph knows stays as it was; the blast radius counts what is applied anew.
    assert!(r.ids("/objects/changed").is_empty(), "{:?}", r.ids("/objects/changed"));
    for id in [LINKDING, "Kustomization/flux-system/fluxgraph"] {
        assert!(r.ids("/blast_radius/changed").contains(&id.to_string()), "{id}");
    }
    assert!(r.json["verdict"].as_str().unwrap().contains("0 objects and 0 edges of the graph changed, 2 applied objects change"), "{}", r.json["verdict"]);
    r.all_say("app-template");
    r.all_say("1.37.0");
    assert!(r.text.contains("chart app-template: 3.6.1 → 4.0.0 (major)"), "{}", r.text);
    assert!(r.markdown.contains("**Versions**") && r.markdown.contains("| ⚠️ major | chart | app-template | 3.6.1 | 4.0.0 |"), "{}", r.markdown);
    assert!(r.markdown.contains("<details><summary>Kustomization/flux-system/linkding: build changed (+0 −0 ~1)</summary>"), "{}", r.markdown);
}

/// A kustomization.yaml patch changes what a Kustomization applies without touching the object's
/// own file: the built object changes, field by field.
#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn a_patch_that_changes_a_built_object_is_shown_where_it_lands() {
    let repo = Repo::new();
    repo.branch(|r| {
        r.edit("apps/tools/fluxgraph/app/kustomization.yaml", |t| {
            t + "patches:\n  - target:\n      kind: Deployment\n      name: fluxgraph\n    patch: |\n      - op: replace\n        path: /spec/replicas\n        value: 2\n"
        })
    });
    let r = repo.diff(&["--base", "main"]);
    assert_eq!(r.code, 0, "{}", r.text);
    let deployment = changed_fields(builds_of(&r, "Kustomization/flux-system/fluxgraph"), "Deployment/tools/fluxgraph");
    assert_eq!(deployment, [r#"spec.replicas: "1" → "2""#]);
    r.all_say("spec.replicas");
    assert!(r.json["changed_files"].as_array().unwrap().iter().all(|f| !f.as_str().unwrap().ends_with("deployment.yaml")));
}

/// A Secret that changes says which keys changed, never a value, before or after, in any format.
#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn a_changed_secret_says_which_keys_changed_and_no_value() {
    let repo = Repo::new();
    let old_value = "ENC[AES256_GCM,data:/WLFWd+WOIT+ptGSsPswple5pEzNknjK++QaK6Ig6zA=";
    let new_value = "ENC[AES256_GCM,data:NEWSECRETVALUEMARKER000000000000000000000=";
    repo.branch(|r| r.edit("apps/datastore/cloudnative-pg/clusters/credentials-linkding.sops.yaml", |t| t.replace(old_value, new_value)));
    let r = repo.diff(&["--base", "main"]);
    assert_eq!(r.code, 0, "{}", r.text);
    let build = builds_of(&r, "Kustomization/flux-system/cloudnative-pg-clusters");
    let change = build["changed"].as_array().unwrap().iter().find(|c| c["id"] == "Secret/datastore/linkding-postgres-credentials").expect("the Secret changed");
    let fields = change["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!((fields[0]["path"].as_str(), fields[0]["hidden"].as_bool()), (Some("stringData.password"), Some(true)));
    assert!(fields[0]["before"].is_null() && fields[0]["after"].is_null());
    for output in [&r.text, &r.markdown, &r.json.to_string()] {
        assert!(!output.contains("NEWSECRETVALUEMARKER") && !output.contains("/WLFWd+WOIT"), "a secret value is shown:\n{output}");
    }
    r.all_say("stringData.password");
}

/// `GET uri` on the app serving `root`, its folder hidden as `serve` hides it: status and body.
async fn get(root: &Path, uri: &str) -> (axum::http::StatusCode, String) {
    use axum::body::{Body, to_bytes};
    use fluxgraph::server::{AppState, Options, app};
    use tower::ServiceExt;
    let state = AppState::new(Options { hidden_paths: vec![root.to_path_buf()], ..Options::default() });
    state.publish(fluxgraph::snapshot::Snapshot::read(root, None).expect("snapshot"), None, None);
    let request = axum::http::Request::builder().uri(uri).body(Body::empty()).unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    let status = response.status();
    (status, String::from_utf8_lossy(&to_bytes(response.into_body(), 64 << 20).await.unwrap()).into_owned())
}

pub(crate) fn rename_rbd_and_slow_linkding(repo: &Repo) {
    repo.branch(|r| {
        r.edit("infrastructure/storage/rook-ceph/ks.yaml", |t| t.replace("  name: rook-ceph-rbd\n", "  name: rook-ceph-block\n"));
        r.edit("apps/home/linkding/ks.yaml", |t| t.replace("  interval: 1h\n", "  interval: 2h\n"));
    });
}

#[tokio::test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
async fn the_diff_page_marks_the_change_and_refuses_what_is_no_revision() {
    let repo = Repo::new();
    rename_rbd_and_slow_linkding(&repo);
    let root = repo.root.canonicalize().unwrap();
    let (status, body) = get(&root, "/diff?base=main").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("introduces 4 errors (missing-dependency)"), "{body}");
    for (class, id) in [("added", "Kustomization/flux-system/rook-ceph-block"), ("removed", RBD), ("changed", LINKDING)] {
        let node = body.split("<g class=\"node ").find(|g| g.contains(&format!("data-id=\"{id}\""))).unwrap_or_else(|| panic!("no node {id}"));
        let classes = node.split('"').next().unwrap();
        assert!(classes.split(' ').any(|c| c == class), "{id} is not {class}: {classes}");
    }
    let edge_classes = |class: &str| body.split("<path class=\"edge ").skip(1).any(|p| p.split('"').next().unwrap().split(' ').any(|c| c == class));
    assert!(edge_classes("removed") && edge_classes("added"), "removed and added edges are drawn");
    assert!(body.contains("id=\"diff-switch\""), "the switch is on the page");
    let (status, _) = get(&root, "/diff?base=HEAD:kubernetes").await;
    assert_eq!(status, 400, "a path inside a revision is not a revision");
    let (status, body) = get(&root, "/diff?base=no-such-branch").await;
    assert_eq!(status, 404);
    assert!(body.contains("no-such-branch") && !body.contains(&*root.to_string_lossy()), "{body}");
}
