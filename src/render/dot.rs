//! Graphviz DOT: one `rank=same` group per level, left to right, edges styled by kind.

use std::fmt::Write;

use crate::graph::EdgeKind;
use crate::model::{Kind, ObjectId};
use crate::snapshot::ClusterView;

pub fn render(view: &ClusterView) -> String {
    let mut out = String::new();
    let name = &view.cluster.name;
    writeln!(out, "digraph {} {{", quote(name)).unwrap();
    out.push_str("  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef2f7\", fontname=\"Helvetica\"];\n");
    for (level, ids) in view.analysis.waves.iter().enumerate() {
        writeln!(out, "  subgraph level_{level} {{ rank=same;").unwrap();
        for id in ids {
            writeln!(out, "    {} [label={}{}];", quote(&id.to_string()), quote(&label(id)), style(id.kind)).unwrap();
        }
        out.push_str("  }\n");
    }
    for id in view.analysis.levels.iter().filter(|(_, l)| l.is_none()).map(|(id, _)| id) {
        writeln!(out, "  {} [label={}, color=\"#c0392b\"{}];", quote(&id.to_string()), quote(&label(id)), style(id.kind)).unwrap();
    }
    for (from, to, kind) in view.graph.edges() {
        let attrs = match kind {
            EdgeKind::DependsOn => "color=\"#1f4e79\"",
            EdgeKind::Applies => "style=dashed, color=\"#7f8c8d\"",
            EdgeKind::Source => "style=dotted, color=\"#16a085\"",
        };
        writeln!(out, "  {} -> {} [{attrs}, label={}];", quote(&from.to_string()), quote(&to.to_string()), quote(kind.as_str())).unwrap();
    }
    out.push_str("}\n");
    out
}

fn label(id: &ObjectId) -> String {
    format!("{}\n{} · {}", id.name, id.kind, id.namespace)
}

fn style(kind: Kind) -> &'static str {
    match kind {
        Kind::Kustomization => "",
        Kind::HelmRelease => ", fillcolor=\"#fdf2e9\"",
        Kind::ResourceSet => ", fillcolor=\"#fef9e7\"",
        _ => ", fillcolor=\"#e8f8f5\", shape=note",
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}
