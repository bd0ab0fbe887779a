//! Tells the tests what this machine has, so that a test that cannot run here shows as
//! `ignored`, with its reason, instead of passing without having run:
//!
//! - `has_shared`: `../shared` beside the project (the workplace's corpus and fixtures), or the
//!   folder `FLUXGRAPH_SHARED` names (relative to the project); the tests read the folder
//!   checked through `env!("FLUXGRAPH_SHARED_DIR")`.
//! - `has_chromium`: `/usr/bin/chromium` and `chromedriver` on PATH (Debian's chromium and
//!   chromium-driver), for the browser tests.
//! - `has_graphviz`: Graphviz `dot` on PATH, for the layout's comparison with it.
//! - `has_git`: `git` on PATH, with which the diff tests build their repositories.
//! - `has_mcp_inspector`: `node` on PATH and the official MCP Inspector installed with npm in
//!   `target/mcp-inspector` (or the folder `FLUXGRAPH_MCP_INSPECTOR` names, relative to the
//!   project), as `.ci/run` installs it; the test runs the binary
//!   `env!("FLUXGRAPH_MCP_INSPECTOR_BIN")` names.
//!
//! Under `CI=true` all five are set whatever is here: CI runs every test, and one whose
//! resource is missing fails, saying what it needs (`.ci/run` installs the packages first).
//!
//! A resource that is present is watched, so that its removal is noticed. One that is absent is
//! not, nor is PATH: watching a missing path makes cargo rerun this script, and so rebuild the
//! crate, on every build, and PATH differs between shells and editors. After installing one or
//! adding `../shared`, `touch build.rs`.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=FLUXGRAPH_SHARED");
    println!("cargo::rerun-if-env-changed=FLUXGRAPH_MCP_INSPECTOR");
    for cfg in ["has_shared", "has_chromium", "has_graphviz", "has_git", "has_mcp_inspector"] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    let ci = env::var("CI").as_deref() == Ok("true");

    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let shared = manifest_dir.join(env::var_os("FLUXGRAPH_SHARED").unwrap_or_else(|| "../shared".into()));
    println!("cargo::rustc-env=FLUXGRAPH_SHARED_DIR={}", shared.display());
    let has_shared = shared.is_dir();
    watch(has_shared.then_some(shared.as_path()));

    let chromium = Path::new("/usr/bin/chromium");
    let chromedriver = on_path("chromedriver");
    watch(chromium.is_file().then_some(chromium));
    watch(chromedriver.as_deref());
    let has_chromium = chromium.is_file() && chromedriver.is_some();

    let dot = on_path("dot");
    watch(dot.as_deref());
    let has_graphviz = dot.is_some();

    let git = on_path("git");
    watch(git.as_deref());
    let has_git = git.is_some();

    let inspector = manifest_dir.join(env::var_os("FLUXGRAPH_MCP_INSPECTOR").unwrap_or_else(|| "target/mcp-inspector".into())).join("node_modules/.bin/mcp-inspector");
    println!("cargo::rustc-env=FLUXGRAPH_MCP_INSPECTOR_BIN={}", inspector.display());
    let node = on_path("node");
    watch(node.as_deref());
    watch(inspector.is_file().then_some(inspector.as_path()));
    let has_mcp_inspector = node.is_some() && inspector.is_file();

    let found = [("has_shared", has_shared), ("has_chromium", has_chromium), ("has_graphviz", has_graphviz), ("has_git", has_git), ("has_mcp_inspector", has_mcp_inspector)];
    for (cfg, present) in found {
        if present || ci {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}

fn watch(path: Option<&Path>) {
    if let Some(path) = path {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

/// The first file named `name` in a folder of PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}
