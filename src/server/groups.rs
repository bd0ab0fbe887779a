//! Semantic zoom: a whole-cluster [`Drawing`] with its objects gathered into groups, one box per
//! closed group. Takes the full drawing (no layout yet, so it is cheap at any size) and the groups
//! the reader opened; gives a drawing of a few dozen boxes whose layout stays small.
//!
//! The groups come from the seed's layout: `apps/<category>` and `infrastructure/<category>`;
//! else the namespace (when not `flux-system`); else the folder. A closed group shows its count,
//! its level span, its worst diagnostic and whether the critical path crosses it; edges between
//! boxes are bundled, with counts. The critical path's members are always drawn as themselves, so
//! that the chain reads through closed groups.

use std::collections::{BTreeMap, BTreeSet};

use crate::load::parent_dir;
use crate::graph::EdgeKind;
use crate::model::FluxObject;
use crate::render::svg::{DrawEdge, DrawId, DrawNode, Drawing, EdgeFlags, Mark, NodeFlag, NodeFlags, NodeKind};
use crate::snapshot::ClusterView;

/// Above this many Kustomizations the overview opens grouped. Measured on the 26 corpus
/// repositories (drawing height at 1:1, the scale at which its text reads at 11 px): up to 27
/// Kustomizations the whole drawing is at most 1,644 px tall (two screens at 1600×1000); from 62
/// on it is 3,100 to 10,600 px (4 to 14 screens) and grouped 900 to 2,300 px.
pub const GROUP_ABOVE: usize = 40;

/// The group of a file in the seed's layout: `…/apps/<category>/…` or `…/infrastructure/<category>/…`
/// (the last such folder), when the category is a folder and not the file itself.
fn layout_group(file: &str) -> Option<String> {
    let folders: Vec<&str> = file.split('/').collect();
    let folders = &folders[..folders.len().saturating_sub(1)];
    let at = folders.iter().rposition(|f| matches!(*f, "apps" | "infrastructure" | "infra"))?;
    folders.get(at + 1).map(|category| format!("{}/{category}", folders[at]))
}

/// The group an object belongs to.
pub fn group_of(object: &FluxObject) -> String {
    if let Some(g) = layout_group(&object.file) {
        return g;
    }
    if object.id.namespace != "flux-system" && !object.id.namespace.is_empty() {
        return format!("namespace {}", object.id.namespace);
    }
    match parent_dir(&object.file) {
        "" => object.id.namespace.clone(),
        folder => folder.to_string(),
    }
}

/// The group of a drawn node: an object's, or a folded component's (its `ks.yaml` folder).
fn group_of_node(view: &ClusterView, node: &DrawNode) -> Option<String> {
    match &node.id {
        DrawId::Component(component) => Some(layout_group(&format!("{component}/ks.yaml")).unwrap_or_else(|| component.to_string())),
        DrawId::Object(id) => view.cluster.objects.get(id).map(group_of),
        DrawId::Group(_) => None,
    }
}

/// The groups of a drawing's nodes, with their members' indices.
pub fn groups(view: &ClusterView, drawing: &Drawing) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, node) in drawing.nodes.iter().enumerate() {
        if let Some(g) = group_of_node(view, node) {
            out.entry(g).or_default().push(i);
        }
    }
    out
}

/// What a closed group's box says about its members.
struct Summary {
    count: usize,
    /// Lowest and highest column (layer) of the members, and their titles.
    first: usize,
    last: usize,
    errors: usize,
    warnings: usize,
    cycle: bool,
    /// A member waits behind a cycle without being on one.
    blocked: bool,
    critical: bool,
}

fn summarise(drawing: &Drawing, members: &[usize], critical: &BTreeSet<usize>) -> Summary {
    let mut s = Summary { count: members.len(), first: usize::MAX, last: 0, errors: 0, warnings: 0, cycle: false, blocked: false, critical: false };
    for &m in members {
        let node = &drawing.nodes[m];
        s.first = s.first.min(node.layer);
        s.last = s.last.max(node.layer);
        for mark in &node.marks {
            match mark {
                Mark::Errors(n) => s.errors += n,
                Mark::Warnings(n) => s.warnings += n,
                Mark::Cycle => s.cycle = true,
                Mark::Blocked => s.blocked = true,
                _ => {}
            }
        }
        s.critical |= critical.contains(&m);
    }
    s
}

/// `drawing` with every group not in `open` gathered into one box (`href(group)` opens it), its
/// critical members excepted; columns renumbered so that none is empty.
pub fn group(view: &ClusterView, drawing: Drawing, open: &BTreeSet<String>, href: &dyn Fn(&str) -> String) -> Drawing {
    let critical: BTreeSet<usize> = drawing.nodes.iter().enumerate().filter(|(_, n)| n.flags.contains(NodeFlag::Critical)).map(|(i, _)| i).collect();
    let groups = groups(view, &drawing);
    // Each old node's box in the new drawing: itself, or its group's.
    let mut unit: Vec<Option<usize>> = vec![None; drawing.nodes.len()];
    let mut nodes: Vec<DrawNode> = Vec::new();
    let mut closed_groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (name, members) in &groups {
        let closed = !open.contains(name) && members.len() > 1;
        if closed {
            closed_groups.push((name.clone(), members.clone()));
        }
    }
    let in_closed: BTreeSet<usize> = closed_groups.iter().flat_map(|(_, m)| m.iter().copied()).filter(|m| !critical.contains(m)).collect();
    for (i, node) in drawing.nodes.iter().enumerate() {
        if !in_closed.contains(&i) {
            unit[i] = Some(nodes.len());
            nodes.push(node.clone());
        }
    }
    for (name, members) in &closed_groups {
        let s = summarise(&drawing, members, &critical);
        let rest: Vec<usize> = members.iter().copied().filter(|m| in_closed.contains(m)).collect();
        if rest.is_empty() {
            continue;
        }
        let span = |a: usize, b: usize| {
            let title = |l: usize| drawing.layer_titles.get(l).cloned().unwrap_or_default();
            if a == b { title(a) } else { format!("{} – {}", title(a), title(b).trim_start_matches("level ")) }
        };
        let mut marks = Vec::new();
        if s.critical {
            marks.push(Mark::Critical);
        }
        if s.cycle {
            marks.push(Mark::Cycle);
        } else if s.blocked {
            marks.push(Mark::Blocked);
        }
        if s.errors > 0 {
            marks.push(Mark::Errors(s.errors));
        } else if s.warnings > 0 {
            marks.push(Mark::Warnings(s.warnings));
        }
        let mut flags = NodeFlags::default();
        if s.errors > 0 {
            flags.insert(NodeFlag::Error);
        } else if s.warnings > 0 {
            flags.insert(NodeFlag::Warning);
        }
        if s.critical {
            flags.insert(NodeFlag::Crossed);
        }
        let index = nodes.len();
        for &m in &rest {
            unit[m] = Some(index);
        }
        nodes.push(DrawNode {
            id: DrawId::Group(name.clone()),
            kind: NodeKind::Group,
            flags,
            title: name.clone(),
            subtitle: format!("{} object{} · {}", s.count, if s.count == 1 { "" } else { "s" }, span(s.first, s.last)),
            layer: rest.iter().map(|&m| drawing.nodes[m].layer).min().unwrap_or(0),
            href: href(name),
            marks,
            tooltip: format!("{name}: {} objects, {}\nopen the group to see them", s.count, span(s.first, s.last)),
        });
    }
    // Bundle the edges between boxes: one per pair and kind, with its count.
    // Keyed by the kind's name: bundles are drawn in the order of their names.
    let mut bundles: BTreeMap<(usize, usize, &'static str), (EdgeKind, usize, EdgeFlags)> = BTreeMap::new();
    for e in &drawing.edges {
        let (Some(a), Some(b)) = (unit[e.from], unit[e.to]) else { continue };
        if a == b {
            continue;
        }
        let bundle = bundles.entry((a, b, e.kind.as_str())).or_insert((e.kind, 0, EdgeFlags::default()));
        bundle.1 += 1;
        bundle.2 = bundle.2.union(e.flags);
    }
    let edges = bundles
        .into_iter()
        .map(|((from, to, _), (kind, count, flags))| DrawEdge { from, to, kind, flags, label: if count > 1 { format!("×{count}") } else { String::new() } })
        .collect();
    // Columns left empty by the grouping go.
    let used: BTreeSet<usize> = nodes.iter().map(|n| n.layer).collect();
    let column: BTreeMap<usize, usize> = used.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    let layer_titles = used.iter().map(|&l| drawing.layer_titles.get(l).cloned().unwrap_or_default()).collect();
    for n in &mut nodes {
        n.layer = column[&n.layer];
    }
    Drawing { nodes, edges, direction: drawing.direction, layer_titles }
}

#[cfg(test)]
mod tests {
    use super::layout_group;

    #[test]
    fn groups_follow_the_seed_layout() {
        assert_eq!(layout_group("kubernetes/main/apps/media/plex/ks.yaml").as_deref(), Some("apps/media"));
        assert_eq!(layout_group("kubernetes/rpi/infrastructure/security/cert-manager/ks.yaml").as_deref(), Some("infrastructure/security"));
        assert_eq!(layout_group("apps/media/ks.yaml").as_deref(), Some("apps/media"));
        assert_eq!(layout_group("apps/ks.yaml"), None, "no category: the file is in apps/ itself");
        assert_eq!(layout_group("clusters/test/cluster.yaml"), None);
    }
}
