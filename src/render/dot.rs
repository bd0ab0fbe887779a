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

/// A DOT double-quoted string. `"` and `\` are escaped and a line end becomes `\n` (a centred
/// line break in a label); other control characters, which Graphviz refuses or a reader cannot
/// see (NUL ends its string), are shown as `\u{…}`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                write!(out, "\\\\u{{{:x}}}", c as u32).unwrap();
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    const HOSTILE: &str = "we\"b\\\n\0x";

    #[test]
    fn hostile_names_are_escaped() {
        let out = render(&fixture::hostile(HOSTILE));
        assert!(out.contains(r#""Kustomization/flux-system/we\"b\\\n\\u{0}x""#), "{out}");
        assert!(!out.contains('\0'));
        assert_eq!(quote("a\"b\\c\nd\re"), r#""a\"b\\c\nd\\u{d}e""#);
    }

    /// Needs `dot`: ignored where it is missing (`cfg(has_graphviz)`, set by build.rs).
    #[test]
    #[cfg_attr(not(has_graphviz), ignore = "needs Graphviz `dot` on PATH (apt-get install graphviz)")]
    fn graphviz_reads_what_we_write_for_hostile_names() {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let out = render(&fixture::hostile(HOSTILE));
        let mut child = Command::new("dot").arg("-Tsvg").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(out.as_bytes()).unwrap();
        let result = child.wait_with_output().unwrap();
        assert!(result.status.success(), "{}\n{out}", String::from_utf8_lossy(&result.stderr));
        let svg = String::from_utf8_lossy(&result.stdout);
        assert_eq!(svg.matches("<g id=\"node").count(), fixture::hostile(HOSTILE).cluster.objects.len(), "{svg}");
    }
}
