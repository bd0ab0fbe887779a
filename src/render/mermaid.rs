//! Mermaid flowchart: for pasting into a Markdown README or a pull request.

use std::collections::HashMap;
use std::fmt::Write;

use crate::graph::EdgeKind;
use crate::snapshot::ClusterView;

pub fn render(view: &ClusterView) -> String {
    let mut out = String::from("flowchart LR\n");
    // Mermaid ids must be plain words; number the nodes in id order.
    let ids: HashMap<_, String> = view.cluster.objects.keys().enumerate().map(|(i, id)| (id, format!("n{i}"))).collect();
    for (level, wave) in view.analysis.waves.iter().enumerate() {
        writeln!(out, "  subgraph level{level}[\"level {level}\"]").unwrap();
        for id in wave {
            writeln!(out, "    {}[\"{}<br/><small>{} · {}</small>\"]", ids[id], escape(&id.name), id.kind, escape(&id.namespace)).unwrap();
        }
        out.push_str("  end\n");
    }
    for id in view.analysis.levels.iter().filter(|(_, l)| l.is_none()).map(|(id, _)| id) {
        writeln!(out, "  {}[\"{} (cycle)\"]", ids[id], escape(&id.name)).unwrap();
    }
    for (from, to, kind) in view.graph.edges() {
        let arrow = match kind {
            EdgeKind::DependsOn => "-->|dependsOn|",
            EdgeKind::Applies => "-.->|applies|",
            EdgeKind::Source => "-.-o|source|",
        };
        writeln!(out, "  {} {arrow} {}", ids[from], ids[to]).unwrap();
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}
