//! The integration tests: the real `fluxgraph` binary run on tiny Flux repositories under `tests/repos/`,
//! checked against its JSON output (the contract of DESIGN.md, "Machine-readable output").

mod browser;
mod build;
mod corpus;
mod discovery;
mod diff;
mod entries;
mod example;
mod fake_api;
mod fixture;
mod flux_source;
mod fuzz;
mod hostile_api;
mod kustomize;
mod load;
mod mcp;
mod pages;
mod rules;
mod server;
mod server_load;
mod status;
mod util;
mod watch;
