//! Bad files in the user's repository become diagnostics with file and line, never a panic, and
//! the rest of the graph still shows: huge, binary and non-UTF-8 files, symlink loops, links
//! leaving the root, paths that climb out of the repository.

use std::fs;
use std::path::Path;

use crate::util::{assert_codes, check, node_ids, only_cluster, set};

const ROOT_KS: &str = "---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./apps\n  prune: true\n  wait: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A repository whose apps folder (generated kustomization) holds one good ConfigMap.
fn base() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "clusters/test/cluster.yaml", ROOT_KS.as_bytes());
    write(dir.path(), "apps/ok.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n");
    dir
}

const APPS: &str = "Kustomization/flux-system/apps";

#[test]
fn huge_binary_and_non_utf8_files_fail_the_build_that_holds_them_and_nothing_else() {
    let dir = base();
    let mut huge = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  x: \"".to_vec();
    huge.resize(6 * 1024 * 1024, b'a');
    write(dir.path(), "apps/huge.yaml", &huge);
    write(dir.path(), "apps/binary.yaml", b"apiVersion: v1\0\x01\x02");
    write(dir.path(), "apps/latin1.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n");
    // Outside every build: reported, but only as information.
    write(dir.path(), "notes/broken.yaml", b"key: [unclosed\n");

    let (status, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set([APPS, "GitRepository/flux-system/flux-system"]));
    // The build that holds them fails; what the loader found in the files is the repository's.
    assert_codes(
        doc,
        &[("invalid-yaml", "error", Some(APPS)), ("invalid-yaml", "error", Some(APPS)), ("invalid-yaml", "error", Some(APPS))],
    );
    assert_codes(
        &whole,
        &[
            ("file-too-large", "warning", None),
            ("binary-file", "warning", None),
            ("not-utf8", "warning", None),
            ("invalid-yaml", "info", None),
        ],
    );
    let lines: Vec<(String, u64)> = whole["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "not-utf8" || d["file"] == "notes/broken.yaml")
        .map(|d| (d["file"].as_str().unwrap().to_string(), d["line"].as_u64().unwrap()))
        .collect();
    assert!(lines.contains(&("apps/latin1.yaml".to_string(), 4)), "the line of the bad byte: {lines:?}");
    assert!(lines.iter().any(|(f, l)| f == "notes/broken.yaml" && *l >= 1), "{lines:?}");
    assert_eq!(status, 1);
}

#[cfg(unix)]
#[test]
fn symlink_loops_and_links_out_of_the_repository_are_not_followed() {
    let dir = base();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.yaml", ROOT_KS.replace("name: apps", "name: outside").as_bytes());
    std::os::unix::fs::symlink(dir.path().join("apps"), dir.path().join("apps/loop")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.yaml"), dir.path().join("apps/outside.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("apps/outside-dir")).unwrap();

    let (status, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set([APPS, "GitRepository/flux-system/flux-system"]));
    assert_codes(doc, &[]);
    assert_codes(
        &whole,
        &[
            ("symlink-loop", "warning", None),
            ("symlink-outside-root", "warning", None),
            ("symlink-outside-root", "warning", None),
        ],
    );
    let text = whole["diagnostics"].to_string();
    assert!(text.contains("apps/loop is a link to apps, a folder that holds it"), "{text}");
    assert!(text.contains("apps/outside.yaml is a link to ") && text.contains("outside the repository"), "{text}");
    assert!(!text.contains("\"name\": \"outside\""), "nothing behind the link is read");
    assert_eq!(status, 0);
}

#[cfg(unix)]
#[test]
fn a_link_to_the_file_system_root_is_reported_and_not_walked() {
    let dir = base();
    std::os::unix::fs::symlink("/", dir.path().join("apps/everything")).unwrap();
    let started = std::time::Instant::now();
    let (status, whole) = check(dir.path());
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    assert_eq!(node_ids(only_cluster(&whole)), set([APPS, "GitRepository/flux-system/flux-system"]));
    assert_codes(&whole, &[("symlink-outside-root", "warning", None)]);
    let message = whole["diagnostics"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("apps/everything is a link to /, outside the repository"), "{message}");
    assert_eq!(status, 0);
}

/// Folders d0..d18 each with two links to the next: 2^19 paths when every link is followed.
#[cfg(unix)]
#[test]
fn a_link_bomb_is_walked_once_per_folder() {
    let dir = base();
    for i in 0..19 {
        write(dir.path(), &format!("bomb/d{i}/cm.yaml"), format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d{i}\n").as_bytes());
    }
    for i in 0..18 {
        for link in ["a", "b"] {
            std::os::unix::fs::symlink(format!("../d{}", i + 1), dir.path().join(format!("bomb/d{i}/{link}"))).unwrap();
        }
    }
    let started = std::time::Instant::now();
    let (status, whole) = check(dir.path());
    let took = started.elapsed();
    eprintln!("link bomb: {took:?}");
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    assert_eq!(node_ids(only_cluster(&whole)), set([APPS, "GitRepository/flux-system/flux-system"]));
    let diagnostics = whole["diagnostics"].as_array().unwrap();
    assert!(diagnostics.iter().any(|d| d["code"] == "symlink-loop"
        && d["message"].as_str().unwrap().contains("already read through bomb/d")), "{diagnostics:?}");
    assert!(diagnostics.len() < 200, "{}", diagnostics.len());
    assert_eq!(status, 0);
}

/// A link out of the root to a folder holding a Kustomization that would otherwise be applied.
#[cfg(unix)]
#[test]
fn a_link_out_of_the_root_reads_nothing_behind_it() {
    let dir = base();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "ks.yaml", ROOT_KS.replace("name: apps", "name: stolen").as_bytes());
    std::os::unix::fs::symlink(outside.path(), dir.path().join("apps/elsewhere")).unwrap();
    std::os::unix::fs::symlink("../../apps/ok.yaml", dir.path().join("clusters/test/inside.yaml")).unwrap();
    let (status, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set([APPS, "GitRepository/flux-system/flux-system"]));
    assert_codes(&whole, &[("symlink-outside-root", "warning", None)]);
    let everything = whole.to_string();
    assert!(!everything.contains("stolen"), "{everything}");
    let message = whole["diagnostics"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("apps/elsewhere is a link to "), "{message}");
    for format in ["json", "dot", "mermaid"] {
        let output = crate::util::run(&["graph", dir.path().to_str().unwrap(), "--format", format]);
        assert!(!String::from_utf8_lossy(&output.stdout).contains("stolen"), "{format}");
    }
    assert_eq!(status, 0);
}

/// A FIFO named like a manifest is reported as a FIFO and never opened (opening one blocks),
/// and a link to nothing says so; the build holding them fails, the rest loads.
#[cfg(unix)]
#[test]
fn a_fifo_and_a_dangling_link_are_reported_as_what_they_are() {
    let dir = base();
    let fifo = dir.path().join("apps/x.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("nowhere.yaml", dir.path().join("apps/dangling.yaml")).unwrap();
    let (status, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set([APPS, "GitRepository/flux-system/flux-system"]));
    let text = whole.to_string();
    assert!(text.contains("apps/x.yaml is a FIFO, not a file"), "{text}");
    assert!(text.contains("apps/dangling.yaml is a link to nowhere.yaml, which cannot be read"), "{text}");
    assert!(doc["diagnostics"].as_array().unwrap().iter().any(|d| d["severity"] == "error" && d["file"] == "apps/x.yaml" && d["object"] == APPS), "{doc}");
    assert_eq!(status, 1);
}

#[test]
fn a_path_that_climbs_out_of_the_repository_is_not_found() {
    let dir = base();
    let escaping = ROOT_KS.replace("name: apps", "name: escape").replace("path: ./apps", "path: ../../../etc");
    write(dir.path(), "clusters/test/escape.yaml", escaping.as_bytes());
    let (status, whole) = check(dir.path());
    assert_codes(only_cluster(&whole), &[("path-not-found", "error", Some("Kustomization/flux-system/escape"))]);
    assert_codes(&whole, &[]);
    assert_eq!(status, 1);
}

#[test]
fn a_missing_repository_could_not_run() {
    let output = crate::util::run(&["check", "/nonexistent/fluxgraph-test"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}

#[test]
fn a_duplicate_key_fails_its_document_at_its_line_and_the_rest_still_loads() {
    let dir = base();
    let twice = ROOT_KS.replace("name: apps", "name: twice").replace("path: ./apps", "path: ./other") + "  wait: false\n";
    write(dir.path(), "apps/twice.yaml", twice.as_bytes());
    let (status, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set([APPS, "GitRepository/flux-system/flux-system"]));
    assert_codes(doc, &[("invalid-yaml", "error", Some(APPS))]);
    let d = &doc["diagnostics"][0];
    assert_eq!((d["file"].as_str(), d["line"].as_u64()), (Some("apps/twice.yaml"), Some(15)));
    assert!(d["message"].as_str().unwrap().contains("duplicate key wait"), "{d}");
    assert_eq!(status, 1);
}

#[test]
fn an_invalid_name_is_an_error_and_stays_out_of_every_output() {
    let dir = base();
    let bad = ROOT_KS.replace("name: apps", "name: \"Bad\\\"na\\nme\"").replace("path: ./apps", "path: ./other");
    let bad_ns = ROOT_KS.replace("name: apps", "name: fine").replace("namespace: flux-system", "namespace: a.b").replace("path: ./apps", "path: ./other");
    write(dir.path(), "apps/bad.yaml", bad.as_bytes());
    write(dir.path(), "apps/bad-ns.yaml", bad_ns.as_bytes());
    let (status, whole) = check(dir.path());
    let doc = only_cluster(&whole);
    assert_eq!(node_ids(doc), set([APPS, "GitRepository/flux-system/flux-system"]));
    assert_codes(doc, &[("invalid-name", "error", Some(APPS)), ("invalid-name", "error", Some(APPS))]);
    let messages: Vec<&str> = doc["diagnostics"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains(r#"invalid name "Bad\"na\nme""#)), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains(r#"invalid namespace "a.b""#)), "{messages:?}");
    assert_eq!(status, 1);
    for format in ["dot", "mermaid"] {
        let output = crate::util::run(&["graph", dir.path().to_str().unwrap(), "--format", format]);
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains("apps") && !text.contains("Bad") && !text.contains("fine"), "{format}:\n{text}");
    }
}

#[test]
fn a_repository_over_its_budget_is_read_up_to_it_with_one_diagnostic() {
    let dir = base();
    for i in 0..20 {
        write(dir.path(), &format!("notes/n{i}.txt"), b"x");
    }
    for extra in [&["--max-files", "5"][..], &["--max-repository-bytes", "100"][..]] {
        let (status, whole) = crate::util::check_with(dir.path(), extra);
        let found: Vec<&serde_json::Value> = whole["diagnostics"].as_array().unwrap().iter().filter(|d| d["code"] == "repository-too-large").collect();
        assert_eq!(found.len(), 1, "{extra:?}: {whole}");
        assert!(found[0]["message"].as_str().unwrap().contains("files beyond it are left out"), "{}", found[0]);
        assert!(status <= 1, "{extra:?}: {status}");
    }
    let (_, whole) = check(dir.path());
    assert!(!whole.to_string().contains("repository-too-large"), "the default budget holds a small repository");
}

/// Tests run as root, where a folder without read permission is still readable: a FIFO and a
/// dangling link stand in for a root that cannot be read.
#[cfg(unix)]
#[test]
fn a_root_that_cannot_be_read_could_not_run_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink("nowhere", &dangling).unwrap();
    for (root, why) in [(&fifo, "is not a directory"), (&dangling, "No such file")] {
        let output = crate::util::run(&["check", root.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{}", root.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("cannot read") && stderr.contains(why), "{stderr}");
    }
}

/// Files without read permission, read as an unprivileged user (through `setpriv` when the tests run
/// as root, as CI does, since root reads anything): an unreadable cluster.yaml is an error, and no
/// cluster is invented from what it may apply (apps, which it applies, is not guessed as a root, and
/// nothing is blamed as missing); a root without permission could not run, and says why.
#[cfg(unix)]
#[test]
fn unreadable_input_is_an_error_and_nothing_is_invented_from_its_absence() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    write(&root, "clusters/test/cluster.yaml", ROOT_KS.as_bytes());
    write(&root, "apps/ks.yaml", ROOT_KS.replace("name: apps", "name: web").replace("path: ./apps", "path: ./web").as_bytes());
    write(&root, "web/ok.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n");
    for p in [dir.path(), &root, &root.join("clusters"), &root.join("clusters/test"), &root.join("apps"), &root.join("web")] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(root.join("clusters/test/cluster.yaml"), fs::Permissions::from_mode(0o000)).unwrap();
    let is_root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    // A copy the unprivileged user can run, whatever the permissions of the build folder.
    let binary = dir.path().join("fluxgraph");
    fs::copy(env!("CARGO_BIN_EXE_fluxgraph"), &binary).unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
    let run = |path: &Path| {
        let mut command = if is_root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&binary);
            c
        } else {
            std::process::Command::new(&binary)
        };
        command.args(["check", path.to_str().unwrap(), "--format", "json"]).output().expect("fluxgraph runs (setpriv from util-linux when root)")
    };
    let output = run(&root);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 0, "no cluster is guessed from what the unreadable file may apply");
    let errors: Vec<(&str, &str)> = doc["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| (d["code"].as_str().unwrap(), d["file"].as_str().unwrap()))
        .collect();
    assert!(errors.contains(&("unreadable-file", "clusters/test/cluster.yaml")), "{errors:?}");
    assert!(!errors.iter().any(|(code, _)| *code == "missing-dependency"), "{errors:?}");

    fs::set_permissions(&root, fs::Permissions::from_mode(0o000)).unwrap();
    let output = run(&root);
    fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Permission denied"));
}

/// Folders deeper than the limit are not entered, on disk as in a git revision, with the same
/// diagnostic (a revision 10,000 deep overflowed the stack; on disk the same depth gave an
/// unreadable-file naming an absolute path). A link into the deep folders counts its own depth.
#[test]
fn folders_deeper_than_the_limit_are_reported_once_and_not_read() {
    let dir = base();
    let limit = fluxgraph::load::MAX_DEPTH;
    let deep = vec!["d"; limit + 20].join("/");
    write(dir.path(), &format!("apps/{deep}/cm.yaml"), b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n");
    let (status, whole) = check(dir.path());
    assert_eq!(status, 0, "{whole}");
    let first_beyond = format!("apps/{}", vec!["d"; limit].join("/"));
    let found: Vec<&serde_json::Value> = whole["diagnostics"].as_array().unwrap().iter().filter(|d| d["code"] == "unreadable-file").collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["file"], first_beyond.as_str());
    assert!(found[0]["message"].as_str().unwrap().contains(&format!("more than {limit} folders deep")), "{}", found[0]);
}
