//! Helpers shared by the integration tests: run `fluxgraph` on a case repository and read its JSON
//! document as sets, since the order of nodes, edges and diagnostics carries no meaning.
//!
//! The document is `{"version": 1, "clusters": [...], "diagnostics": [...]}` whatever the number of
//! clusters: [`graph_json`] and [`check`] return it whole, [`only_cluster`] the document of its one
//! cluster and [`cluster`] a cluster by name. Every helper below that reads `diagnostics` reads those
//! of the document it is given: a cluster's own, or, given the whole document, the findings that
//! belong to no cluster.
//!
//! Every document read here is first checked for the invariants the contract states (the version,
//! every cluster named with its entry, ids are `Kind/namespace/name`, edge kinds are known, `levels`
//! agrees with each node's `level`, cycle members have no level), so a test only spells out what is
//! particular to its case.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The `GitRepository` that `flux bootstrap` creates. Most cases reference it without defining it, so
/// it is an implied node (file `""`, line 0).
pub const FLUX_SYSTEM_SOURCE: &str = "GitRepository/flux-system/flux-system";

/// The case repository `tests/repos/<case>`.
pub fn repo(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repos").join(case)
}

/// `fluxgraph graph <path> --format json`, which must succeed: the whole document.
pub fn graph_json(path: &Path) -> Value {
    graph_json_with(path, &[])
}

/// `fluxgraph graph <path> --format json <extra…>`, which must succeed.
pub fn graph_json_with(path: &Path, extra: &[&str]) -> Value {
    let output = fluxgraph("graph", path, extra);
    assert!(
        output.status.success(),
        "`fluxgraph graph {}` failed ({}):\n{}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    parse(&output)
}

/// `fluxgraph check <path> --format json`: its exit code (0 clean, 1 errors found, 2 could not run)
/// and the whole document.
pub fn check(path: &Path) -> (i32, Value) {
    check_with(path, &[])
}

/// `fluxgraph check <path> --format json <extra…>`: its exit code and the whole document.
pub fn check_with(path: &Path, extra: &[&str]) -> (i32, Value) {
    let output = fluxgraph("check", path, extra);
    let code = output.status.code().expect("fluxgraph check was killed by a signal");
    (code, parse(&output))
}

/// `../shared` beside the project (the workplace's fixtures and corpus; or the folder
/// `FLUXGRAPH_SHARED` named at build time). The tests that call this are ignored where it is absent
/// (`cfg(has_shared)`, set by build.rs); one that runs anyway, under `CI=true`, fails saying why.
pub fn shared() -> PathBuf {
    let shared = PathBuf::from(env!("FLUXGRAPH_SHARED_DIR"));
    assert!(shared.is_dir(), "{} is absent: this test needs the workplace's corpus and fixtures beside the project", shared.display());
    shared
}

/// Runs `fluxgraph <args…>` and returns its output, whatever its status.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxgraph")).args(args).output().unwrap_or_else(|e| panic!("cannot run fluxgraph: {e}"))
}

fn fluxgraph(subcommand: &str, path: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
        .arg(subcommand)
        .arg(path)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("cannot run fluxgraph: {e}"))
}

fn parse(output: &Output) -> Value {
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_document(&doc);
    doc
}

/// The shape of the whole document (version, clusters named with their entries, diagnostics),
/// and the invariants of each cluster's document.
pub fn assert_document(doc: &Value) {
    assert_eq!(doc["version"], 1, "the document's version");
    for cluster in array(doc, "clusters") {
        assert!(cluster["name"].is_string() && cluster["entry"].is_string(), "a cluster without name or entry: {:#}", cluster["name"]);
        assert_consistent(cluster);
    }
    array(doc, "diagnostics");
}

/// The invariants every cluster's document keeps, whatever the repository.
fn assert_consistent(doc: &Value) {
    let mut seen = BTreeSet::new();
    for node in array(doc, "nodes") {
        let id = string(&node["id"]);
        let composed = format!("{}/{}/{}", string(&node["kind"]), string(&node["namespace"]), string(&node["name"]));
        assert_eq!(id, composed, "a node id is Kind/namespace/name");
        assert!(seen.insert(id.clone()), "node {id} is listed twice");
    }
    for edge in array(doc, "edges") {
        let kind = string(&edge["kind"]);
        assert!(["dependsOn", "applies", "source"].contains(&kind.as_str()), "unknown edge kind in {edge}");
    }
    let by_level = levels(doc);
    for id in &seen {
        match level(doc, id) {
            Some(l) => {
                let l = usize::try_from(l).expect("level fits usize");
                assert!(by_level.get(l).is_some_and(|ids| ids.contains(id)), "{id} has level {l} but is not in levels[{l}]");
            }
            None => assert!(by_level.iter().all(|ids| !ids.contains(id)), "{id} has no level but is in `levels`"),
        }
    }
    let listed: usize = by_level.iter().map(BTreeSet::len).sum();
    let leveled = seen.iter().filter(|id| level(doc, id).is_some()).count();
    assert_eq!(listed, leveled, "`levels` lists exactly the nodes that have a level");
    for member in cycles(doc).iter().flatten() {
        assert_eq!(level(doc, member), None, "{member} is on a cycle, so it has no level");
    }
}

/// A set of ids, from literals.
pub fn set<const N: usize>(ids: [&str; N]) -> BTreeSet<String> {
    ids.into_iter().map(str::to_owned).collect()
}

/// A set of (from, to) pairs, from literals.
pub fn pairs<const N: usize>(pairs: [(&str, &str); N]) -> BTreeSet<(String, String)> {
    pairs.into_iter().map(|(from, to)| (from.to_owned(), to.to_owned())).collect()
}

/// The pairs (from, `to`) for every `from`: e.g. the source edges of Kustomizations sharing one source.
pub fn each_to<const N: usize>(from: [&str; N], to: &str) -> BTreeSet<(String, String)> {
    from.into_iter().map(|from| (from.to_owned(), to.to_owned())).collect()
}

/// The document of the one cluster of a whole document; panics unless there is exactly one.
pub fn only_cluster(doc: &Value) -> &Value {
    match array(doc, "clusters") {
        [one] => one,
        clusters => panic!("expected one cluster, found {}: {:?}", clusters.len(), cluster_names(doc)),
    }
}

/// The document of cluster `name` in a whole document.
pub fn cluster<'a>(doc: &'a Value, name: &str) -> &'a Value {
    array(doc, "clusters")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name:?}; clusters are {:?}", cluster_names(doc)))
}

/// The whole document as it would be with cluster `name` alone.
pub fn with_only(doc: &Value, name: &str) -> Value {
    serde_json::json!({"version": doc["version"], "clusters": [cluster(doc, name)], "diagnostics": doc["diagnostics"]})
}

/// The names of the clusters of a whole document.
pub fn cluster_names(doc: &Value) -> BTreeSet<String> {
    array(doc, "clusters").iter().map(|c| string(&c["name"])).collect()
}

/// The node with this id; panics, listing the ids, when there is none.
pub fn node<'a>(doc: &'a Value, id: &str) -> &'a Value {
    array(doc, "nodes")
        .iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("no node {id}; nodes are {:#?}", node_ids(doc)))
}

/// The ids of all nodes.
pub fn node_ids(doc: &Value) -> BTreeSet<String> {
    array(doc, "nodes").iter().map(|n| string(&n["id"])).collect()
}

/// Asserts where a node is defined: its file (relative to the repository root) and the 1-based line of
/// its document's first key.
pub fn assert_located(doc: &Value, id: &str, file: &str, line: u64) {
    let node = node(doc, id);
    assert_eq!(node["file"], file, "file of {id}");
    assert_eq!(node["line"], line, "line of {id}");
}

/// A node's level; `None` when it is `null` (on or behind a cycle).
pub fn level(doc: &Value, id: &str) -> Option<u64> {
    let level = &node(doc, id)["level"];
    if level.is_null() {
        None
    } else {
        Some(level.as_u64().unwrap_or_else(|| panic!("level of {id} is not a count: {level}")))
    }
}

/// The ids of the Kustomizations that apply a node.
pub fn parents(doc: &Value, id: &str) -> BTreeSet<String> {
    array(node(doc, id), "parents").iter().map(string).collect()
}

/// The (from, to) pairs of the edges of one kind: `dependsOn`, `applies` or `source`.
pub fn edges(doc: &Value, kind: &str) -> BTreeSet<(String, String)> {
    array(doc, "edges")
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| (string(&e["from"]), string(&e["to"])))
        .collect()
}

/// The `applies` edges between two different objects. Whether flux-system's applying its own file is
/// also an edge is pinned once, by `rules::kustomization_applying_its_own_file_is_not_a_cycle`; the
/// other bootstrap cases use this.
pub fn applies_others(doc: &Value) -> BTreeSet<(String, String)> {
    edges(doc, "applies").into_iter().filter(|(from, to)| from != to).collect()
}

/// The reconciliation waves, level 0 first, each as a set.
pub fn levels(doc: &Value) -> Vec<BTreeSet<String>> {
    array(doc, "levels").iter().map(|wave| as_array(wave).iter().map(string).collect()).collect()
}

/// The critical path, root first.
pub fn critical_path(doc: &Value) -> Vec<String> {
    array(doc, "critical_path").iter().map(string).collect()
}

/// The cycles, each as the set of its members.
pub fn cycles(doc: &Value) -> BTreeSet<BTreeSet<String>> {
    array(doc, "cycles").iter().map(|cycle| as_array(cycle).iter().map(string).collect()).collect()
}

/// Every diagnostic as (code, severity, object), sorted: a multiset, since two diagnostics may share
/// all three.
pub fn codes(doc: &Value) -> Vec<(String, String, Option<String>)> {
    let mut codes: Vec<_> = array(doc, "diagnostics")
        .iter()
        .map(|d| (string(&d["code"]), string(&d["severity"]), d["object"].as_str().map(str::to_owned)))
        .collect();
    codes.sort();
    codes
}

/// Asserts the exact multiset of diagnostics as (code, severity, object).
pub fn assert_codes(doc: &Value, expected: &[(&str, &str, Option<&str>)]) {
    let mut expected: Vec<_> = expected
        .iter()
        .map(|&(code, severity, object)| (code.to_owned(), severity.to_owned(), object.map(str::to_owned)))
        .collect();
    expected.sort();
    assert_eq!(codes(doc), expected, "diagnostics: {:#}", doc["diagnostics"]);
}

/// The diagnostics with this code.
pub fn diag<'a>(doc: &'a Value, code: &str) -> Vec<&'a Value> {
    array(doc, "diagnostics").iter().filter(|d| d["code"] == code).collect()
}

/// The single diagnostic with this code about this object (`None`: about no object).
pub fn diag_on<'a>(doc: &'a Value, code: &str, object: Option<&str>) -> &'a Value {
    let found: Vec<_> = diag(doc, code).into_iter().filter(|d| d["object"].as_str() == object).collect();
    assert_eq!(found.len(), 1, "expected one {code} diagnostic on {object:?}, got {found:#?}");
    found[0]
}

/// What a diagnostic tells a reader: its message and, when present, its hint.
pub fn text(diagnostic: &Value) -> String {
    let message = string(&diagnostic["message"]);
    match diagnostic.get("hint").and_then(Value::as_str) {
        Some(hint) => format!("{message}\n{hint}"),
        None => message,
    }
}

fn array<'a>(doc: &'a Value, key: &str) -> &'a [Value] {
    doc.get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no array `{key}` in {doc:#}"))
}

fn as_array(value: &Value) -> &[Value] {
    value.as_array().unwrap_or_else(|| panic!("not an array: {value}"))
}

fn string(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}")).to_owned()
}

/// Copies the folder `from` into `to`, recursively (a case repository into a scratch folder).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `fluxgraph serve` as its own process on a free loopback port, stopped (killed) when dropped:
/// for what only the real binary shows (its threads' stacks, its runtime, that it stays up).
pub struct Served {
    child: std::process::Child,
    /// Kept open: a closed stdout would fail the server's later writes.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    pub address: std::net::SocketAddr,
}

impl Served {
    /// `fluxgraph serve <args…> --listen 127.0.0.1:0` with `env` set, once its first snapshot
    /// is loaded; its log goes to the tests' standard error (`FLUXGRAPH_LOG` quiets it).
    pub fn start(args: &[&str], env: &[(&str, &OsStr)]) -> Served {
        Served::run(args, env, std::process::Stdio::inherit())
    }

    /// [`Served::start`], its log (standard error) written to `log`.
    pub fn start_logging(args: &[&str], env: &[(&str, &OsStr)], log: &Path) -> Served {
        Served::run(args, env, std::fs::File::create(log).unwrap().into())
    }

    fn run(args: &[&str], env: &[(&str, &OsStr)], stderr: std::process::Stdio) -> Served {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_fluxgraph"))
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run fluxgraph: {e}"));
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let address = line.split("http://").nth(1).and_then(|r| r.split('/').next()).and_then(|a| a.parse().ok());
        let address = address.unwrap_or_else(|| panic!("fluxgraph serve did not say where it serves: {line:?}"));
        let served = Served { child, _stdout: stdout, address };
        // Ready once the first snapshot is loaded.
        let started = std::time::Instant::now();
        while served.get("/readyz", std::time::Duration::from_secs(5)).0 != 200 {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "fluxgraph serve did not get ready");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        served
    }

    /// `GET path` on a new connection, read within `within`: the status, the headers
    /// (lower-case names) and the body; status 0 when nothing came back in time.
    pub fn get(&self, path: &str, within: std::time::Duration) -> (u16, String, String) {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect_timeout(&self.address, within) else { return (0, String::new(), String::new()) };
        stream.set_read_timeout(Some(within)).unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.address);
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new(), String::new());
        }
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, head.to_lowercase(), body.to_string())
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().is_ok_and(|s| s.is_none())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
