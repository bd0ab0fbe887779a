//! Writes a large synthetic repository in the seed's layout, for benchmarks and for trying
//! fluxgraph at scale:
//!
//!     cargo run --release --example synthetic -- /tmp/big 10000
//!     cargo run --release -- check /tmp/big

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: synthetic OUTPUT_DIR COMPONENTS");
        std::process::exit(2);
    };
    let Ok(components) = count.parse() else {
        eprintln!("COMPONENTS must be a number, not {count:?}");
        std::process::exit(2);
    };
    let spec = fluxgraph::synthetic::Spec { components, ..Default::default() };
    match fluxgraph::synthetic::write_repository(&PathBuf::from(&root), &spec) {
        Ok(s) => println!(
            "{root}: {} files, {} bytes, {} Kustomizations, {} HelmReleases, {} dependsOn",
            s.files, s.bytes, s.kustomizations, s.helm_releases, s.depends_on_edges
        ),
        Err(e) => {
            eprintln!("cannot write {root}: {e}");
            std::process::exit(1);
        }
    }
}
