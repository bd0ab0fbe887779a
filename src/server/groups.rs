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
use crate::model::FluxObject;
use crate::render::drawing::{Members, Partition, collapse};
use crate::render::svg::{DrawId, DrawNode, Drawing, Mark, NodeFlag, NodeFlags, NodeKind};
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

/// `drawing` with every group not in `open` gathered into one box (`href(group)` opens it), its
/// critical members excepted; columns renumbered so that none is empty.
pub fn group(view: &ClusterView, drawing: Drawing, open: &BTreeSet<String>, href: &dyn Fn(&str) -> String) -> Drawing {
    let mut into = vec![None; drawing.nodes.len()];
    let mut boxes = Vec::new();
    for (name, members) in groups(view, &drawing) {
        if open.contains(&name) || members.len() < 2 {
            continue;
        }
        // The critical path's members are drawn as themselves, so that the chain reads through.
        let rest: Vec<usize> = members.iter().copied().filter(|&m| !drawing.nodes[m].flags.contains(NodeFlag::Critical)).collect();
        if rest.is_empty() {
            continue;
        }
        let s = Members::of(&drawing, &members);
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
        for &m in &rest {
            into[m] = Some(boxes.len());
        }
        boxes.push(DrawNode {
            id: DrawId::Group(name.clone()),
            kind: NodeKind::Group,
            flags,
            title: name.clone(),
            subtitle: format!("{} object{} · {}", s.count, if s.count == 1 { "" } else { "s" }, span(s.first, s.last)),
            layer: rest.iter().map(|&m| drawing.nodes[m].layer).min().unwrap_or(0),
            href: href(&name),
            marks,
            tooltip: format!("{name}: {} objects, {}\nopen the group to see them", s.count, span(s.first, s.last)),
        });
    }
    let mut grouped = collapse(drawing, Partition { into, boxes, in_place: false, bundle: true });
    // Columns left empty by the grouping go.
    let used: BTreeSet<usize> = grouped.nodes.iter().map(|n| n.layer).collect();
    let column: BTreeMap<usize, usize> = used.iter().enumerate().map(|(i, &l)| (l, i)).collect();
    grouped.layer_titles = used.iter().map(|&l| grouped.layer_titles.get(l).cloned().unwrap_or_default()).collect();
    for n in &mut grouped.nodes {
        n.layer = column[&n.layer];
    }
    grouped
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
