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

    /// Runs `git <args…>` with `input` on its standard input; what it printed, trimmed.
    fn git_with_input(&self, args: &[&str], input: &[u8]) -> String {
        use std::io::Write;
        let mut child = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("git runs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "git {args:?} failed");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    /// A branch `name` off main whose commit's tree is `tree` (raw tree bytes, written as they
    /// are: git's own checks of names skipped, as a hostile pusher would).
    fn branch_with_tree(&self, name: &str, tree: &[u8]) {
        let tree = self.git_with_input(&["hash-object", "-t", "tree", "--literally", "-w", "--stdin"], tree);
        let commit = self.git_with_input(&["commit-tree", &tree, "-p", "main", "-m", name], b"");
        self.git(&["update-ref", &format!("refs/heads/{name}"), &commit]);
    }

    /// Writes `bytes` as a blob; its id, as the 20 bytes a tree entry holds.
    fn blob(&self, bytes: &[u8]) -> Vec<u8> {
        let hex = self.git_with_input(&["hash-object", "-w", "--stdin"], bytes);
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
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

/// A branch `deep` off main adding one file `depth` folders down (`d/d/…/d/cm.yaml`), made by
/// `git fast-import` in one process (the path is longer than a file system allows).
fn deep_branch(repo: &Repo, depth: usize) {
    let path = format!("{}/cm.yaml", vec!["d"; depth].join("/"));
    let data = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n";
    let stream = format!("commit refs/heads/deep\ncommitter test <test@example.com> 0 +0000\ndata 4\ndeep\nfrom refs/heads/main\nM 100644 inline {path}\ndata {}\n{data}\n", data.len());
    repo.git_with_input(&["fast-import", "--quiet"], stream.as_bytes());
}

/// A revision 10,000 folders deep overflowed the stack (the CLI aborted, 134). Its folders are
/// read to the depth limit, as on disk, and the one beyond is reported, in bounded time.
#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn a_revision_ten_thousand_folders_deep_is_read_to_the_depth_limit() {
    let repo = Repo::new();
    deep_branch(&repo, 10_000);
    let started = std::time::Instant::now();
    let r = repo.diff(&["--base", "main", "--head", "deep"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(r.code, 0, "{}", r.text);
    let introduced = r.json["diagnostics"]["introduced"].as_array().unwrap();
    assert_eq!(introduced.len(), 1, "{introduced:?}");
    let limit = fluxgraph::load::MAX_DEPTH;
    assert_eq!(introduced[0]["code"], "unreadable-file");
    assert_eq!(introduced[0]["file"], vec!["d"; limit + 1].join("/"), "the first folder beyond the limit");
    assert!(text_of(&introduced[0]).contains(&format!("more than {limit} folders deep")), "{}", introduced[0]);
}

fn text_of(diagnostic: &Value) -> String {
    diagnostic["message"].as_str().unwrap().to_string()
}

/// The same revision on `/diff` took the whole server down (its threads had less stack than
/// the CLI's main thread): the page answers and the server stays up.
#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn the_diff_page_of_a_revision_ten_thousand_folders_deep_leaves_the_server_up() {
    let repo = Repo::new();
    deep_branch(&repo, 10_000);
    let mut served = crate::util::Served::start(&[repo.root.to_str().unwrap()], &[("FLUXGRAPH_LOG", std::ffi::OsStr::new("error"))]);
    let within = std::time::Duration::from_secs(30);
    let (status, _, body) = served.get("/diff?base=main&head=deep", within);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no change to the graph"), "the page compares the two revisions: {body}");
    assert!(served.alive(), "the server is still up");
    assert_eq!(served.get("/healthz", within).0, 200);
}

/// Tree entries `git fsck` rejects were trusted: `a/b.yaml` or `../ks.yaml` scrambled paths,
/// and a name held twice replaced a file's content (`interval: 1h` read as `99h`). Each such
/// revision is refused whole, the message naming the entry.
#[test]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
fn tree_entries_git_fsck_rejects_refuse_the_revision() {
    let repo = Repo::new();
    let ks = repo.blob(b"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: x\n  namespace: flux-system\nspec:\n  interval: 1h\n");
    let other = repo.blob(b"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: x\n  namespace: flux-system\nspec:\n  interval: 99h\n");
    let entry = |mode: &str, name: &[u8], id: &[u8]| [mode.as_bytes(), b" ", name, b"\0", id].concat();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("slash", entry("100644", b"a/b.yaml", &ks), "\"a/b.yaml\""),
        ("dotdot", entry("100644", b"..", &ks), "\"..\""),
        ("dot", entry("100644", b".", &ks), "\".\""),
        ("empty", entry("100644", b"", &ks), "\"\""),
        ("dotgit", entry("100644", b".GIT", &ks), "\".GIT\""),
        ("twice", [entry("100644", b"ks.yaml", &ks), entry("100644", b"ks.yaml", &other)].concat(), "\"ks.yaml\""),
    ];
    for (name, tree, shown) in &cases {
        repo.branch_with_tree(name, tree);
        let output = Command::new(env!("CARGO_BIN_EXE_fluxgraph")).arg("diff").arg(&repo.root).args(["--base", "main", "--head", name]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&format!("entry named {shown}")) && stderr.contains("git fsck"), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}: nothing half-read is reported");
    }
    // One folder down, the message says which folder.
    let inner = repo.git_with_input(&["hash-object", "-t", "tree", "--literally", "-w", "--stdin"], &entry("100644", b"../ks.yaml", &ks));
    let inner: Vec<u8> = (0..inner.len()).step_by(2).map(|i| u8::from_str_radix(&inner[i..i + 2], 16).unwrap()).collect();
    repo.branch_with_tree("nested", &entry("40000", b"apps", &inner));
    let output = Command::new(env!("CARGO_BIN_EXE_fluxgraph")).arg("diff").arg(&repo.root).args(["--base", "main", "--head", "nested"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tree at apps holds an entry named \"../ks.yaml\""), "{stderr}");
}

/// An unknown parameter (`&x=N`) made each request a new cache entry that redid the whole diff,
/// and nothing capped how many diffs waited (60 at once held ordinary pages for 28 s). The page
/// is named by its canonical view state, and diffs beyond one per core and a short queue get
/// 503 with `Retry-After` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_git), ignore = "needs git on PATH to build its repositories")]
async fn diffs_are_admitted_through_a_bounded_queue_and_named_by_their_view_state() {
    use axum::body::{Body, to_bytes};
    use fluxgraph::server::{AppState, Options, app};
    use tower::ServiceExt;
    let repo = Repo::new();
    rename_rbd_and_slow_linkding(&repo);
    let root = repo.root.canonicalize().unwrap();
    let state = AppState::new(Options { hidden_paths: vec![root.clone()], ..Options::default() });
    state.publish(fluxgraph::snapshot::Snapshot::read(&root, None).expect("snapshot"), None, None);
    let get = |uri: String| {
        let app = app(state.clone());
        async move {
            let response = app.oneshot(axum::http::Request::builder().uri(uri).body(Body::empty()).unwrap()).await.unwrap();
            let retry = response.headers().get("retry-after").is_some();
            let status = response.status().as_u16();
            let body = to_bytes(response.into_body(), 64 << 20).await.unwrap();
            (status, retry, body.len())
        }
    };
    for n in 0..8 {
        let (status, _, _) = get(format!("/diff?base=main&x={n}&depth={n}")).await;
        assert_eq!(status, 200);
    }
    assert_eq!(state.pages().usage().0, 1, "one page, whatever the noise in its URL");
    // Distinct diffs at once (each spelling of main is another revision name).
    let spellings: Vec<String> = (1..40).map(|n| format!("main{}", "^0".repeat(n))).collect();
    let answers = futures_util::future::join_all(spellings.iter().map(|base| get(format!("/diff?base={base}")))).await;
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert!(!refused.is_empty(), "{} diffs at once, none refused", answers.len());
    assert!(refused.iter().all(|a| a.1), "a refusal says when to come back");
    assert!(answers.iter().all(|a| a.0 == 200 || a.0 == 503), "{answers:?}");
    // Once they are done, a refused diff is drawn when asked again.
    let (status, _, _) = get(format!("/diff?base={}", spellings.last().unwrap())).await;
    assert_eq!(status, 200);
}
