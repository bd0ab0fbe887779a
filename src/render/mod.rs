//! Render: a [`Snapshot`](crate::snapshot::Snapshot) → text for people and machines:
//! the JSON contract, Graphviz DOT, Mermaid, and compiler-style diagnostics.

pub mod dot;
pub mod json;
pub mod mermaid;
pub mod redact;
pub mod svg;
pub mod text;
