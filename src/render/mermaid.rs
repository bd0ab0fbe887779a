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

/// Text for inside a quoted Mermaid label: every character that could end the label or the
/// line, open markup or start an entity becomes an entity code (`#quot;`, `#35;`…), control
/// characters (a line end, NUL) included, so a name can never add a statement.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' | '`' | '\\' | '|' | '[' | ']' | '{' | '}' | '(' | ')' => write!(out, "#{};", c as u32).unwrap(),
            c if c.is_control() => write!(out, "#{};", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn hostile_names_stay_inside_their_labels() {
        let view = fixture::hostile("we\"b\n}\0x#1;<b>");
        let out = render(&view);
        let line = out.lines().find(|l| l.contains("we#quot;b")).unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains("we#quot;b#10;#125;#0;x#35;1;#lt;b#gt;"), "{line}");
        assert!(!out.contains('\0'));
        // Every line is a statement of ours: no name made a line of its own.
        for l in out.lines() {
            let t = l.trim_start();
            assert!(t == "flowchart LR" || t == "end" || t.starts_with("subgraph level") || t.starts_with('n'), "{l:?}");
        }
    }
}
