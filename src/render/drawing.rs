//! What a graph page asks to draw, typed: each box with what it stands for (an object, a
//! folded component, a closed group), its kind and its emphases; each edge with its kind and
//! emphases; the badges. [`svg`](super::svg) lays a [`Drawing`] out and writes it, deriving
//! the CSS classes from the kinds and flags, so that the pages decide what to show and never
//! how it is spelt. [`collapse`] gathers boxes into one, as folding a component's stages and
//! closing a group both do.

use std::fmt;
use std::marker::PhantomData;

use crate::graph::EdgeKind;
use crate::layout::Direction;
use crate::model::{Kind, ObjectId};

/// What to draw: the caller's choice of nodes, edges and their decorations; positions come from the layout.
#[derive(Debug, Clone)]
pub struct Drawing {
    pub nodes: Vec<DrawNode>,
    pub edges: Vec<DrawEdge>,
    pub direction: Direction,
    /// One title per layer ("level 0", …), drawn as column (or row) headers. Layers should be dense: an empty
    /// layer is drawn as an empty, narrow column without a title.
    pub layer_titles: Vec<String>,
}

/// What a box stands for; written to `data-id` as `Kind/namespace/name`, `component:PATH` or `group:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DrawId {
    Object(ObjectId),
    /// A component's stages folded into one box: the folder of their `ks.yaml`.
    Component(String),
    /// The objects of a closed group.
    Group(String),
}

impl DrawId {
    /// The object, when the box is one.
    pub fn object(&self) -> Option<&ObjectId> {
        match self {
            DrawId::Object(id) => Some(id),
            _ => None,
        }
    }
}

impl fmt::Display for DrawId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrawId::Object(id) => id.fmt(f),
            DrawId::Component(path) => write!(f, "component:{path}"),
            DrawId::Group(name) => write!(f, "group:{name}"),
        }
    }
}

/// The kind of box, which sets its colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Kustomization,
    HelmRelease,
    ResourceSet,
    Source,
    Group,
    Other,
}

impl NodeKind {
    /// The box of an object of `kind`.
    pub fn of(kind: Kind) -> NodeKind {
        match kind {
            Kind::Kustomization => NodeKind::Kustomization,
            Kind::HelmRelease => NodeKind::HelmRelease,
            Kind::ResourceSet => NodeKind::ResourceSet,
            k if k.is_source() => NodeKind::Source,
            _ => NodeKind::Other,
        }
    }

    /// Its CSS class.
    pub fn class(self) -> &'static str {
        match self {
            NodeKind::Kustomization => "kustomization",
            NodeKind::HelmRelease => "helmrelease",
            NodeKind::ResourceSet => "resourceset",
            NodeKind::Source => "source",
            NodeKind::Group => "group",
            NodeKind::Other => "other",
        }
    }
}

/// One emphasis of a box or an edge: a CSS class of its own.
pub trait Flag: Copy + fmt::Debug + 'static {
    /// Every flag, in the order their classes are written.
    const ALL: &'static [Self];
    fn class(self) -> &'static str;
    /// Its bit in a [`Flags`] set.
    fn bit(self) -> u32;
}

/// Defines a flag enum, its classes and its order (the order of its variants).
macro_rules! flags {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $class:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum $name { $($(#[$vdoc])* $variant,)* }

        impl Flag for $name {
            const ALL: &'static [Self] = &[$($name::$variant,)*];
            fn class(self) -> &'static str {
                match self { $($name::$variant => $class,)* }
            }
            fn bit(self) -> u32 {
                1 << self as u32
            }
        }
    };
}

flags!(
    /// How a box is emphasised.
    NodeFlag {
        /// On the critical path.
        Critical => "critical",
        /// The object its page is about.
        Focus => "focus",
        /// On a dependency cycle.
        Cycle => "cycle",
        /// Waits behind a cycle without being on one.
        Blocked => "blocked",
        /// Drawn for context only.
        Dim => "dim",
        /// Has errors.
        Error => "error",
        /// Has warnings, and no error.
        Warning => "warning",
        /// A closed group the critical path crosses.
        Crossed => "crossed",
        /// What a change added, removed or changed (the diff page).
        Added => "added",
        Removed => "removed",
        Changed => "changed",
    }
);

flags!(
    /// How an edge is emphasised.
    EdgeFlag {
        /// A step of the critical path.
        Critical => "critical",
        /// The edge to cut to break a cycle.
        Cut => "cut",
        /// Drawn for context only.
        Dim => "dim",
        /// What a change added or removed (the diff page).
        Added => "added",
        Removed => "removed",
    }
);

/// A set of flags.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Flags<F> {
    bits: u32,
    flag: PhantomData<F>,
}

pub type NodeFlags = Flags<NodeFlag>;
pub type EdgeFlags = Flags<EdgeFlag>;

impl<F: Flag> Flags<F> {
    pub fn contains(self, flag: F) -> bool {
        self.bits & flag.bit() != 0
    }

    pub fn insert(&mut self, flag: F) {
        self.bits |= flag.bit();
    }

    pub fn remove(&mut self, flag: F) {
        self.bits &= !flag.bit();
    }

    /// Every flag of either set.
    pub fn union(self, other: Flags<F>) -> Flags<F> {
        Flags { bits: self.bits | other.bits, flag: PhantomData }
    }

    /// The flags set, in their order.
    pub fn iter(self) -> impl Iterator<Item = F> {
        F::ALL.iter().copied().filter(move |f| self.contains(*f))
    }

    /// Their CSS classes, in their order.
    pub fn classes(self) -> impl Iterator<Item = &'static str> {
        self.iter().map(F::class)
    }
}

impl<F> Default for Flags<F> {
    fn default() -> Self {
        Flags { bits: 0, flag: PhantomData }
    }
}

impl<F: Flag> FromIterator<F> for Flags<F> {
    fn from_iter<I: IntoIterator<Item = F>>(flags: I) -> Self {
        let mut set = Flags::default();
        set.extend(flags);
        set
    }
}

impl<F: Flag> Extend<F> for Flags<F> {
    fn extend<I: IntoIterator<Item = F>>(&mut self, flags: I) {
        for flag in flags {
            self.insert(flag);
        }
    }
}

impl<F: Flag> fmt::Debug for Flags<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[derive(Debug, Clone)]
pub struct DrawNode {
    pub id: DrawId,
    pub kind: NodeKind,
    pub flags: NodeFlags,
    /// First line of the box, `linkding`; truncated with `…` when the box would grow past its widest.
    pub title: String,
    /// Second line, `Kustomization · flux-system`.
    pub subtitle: String,
    pub layer: usize,
    /// Where the box links to, base path and query included.
    pub href: String,
    /// Small badges drawn in the box's top-right corner, in this order.
    pub marks: Vec<Mark>,
    /// Hover text (`<title>`): id, file:line, level, why.
    pub tooltip: String,
}

#[derive(Debug, Clone)]
pub struct DrawEdge {
    /// Index into [`Drawing::nodes`]; the arrowhead is drawn at `to`.
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    pub flags: EdgeFlags,
    /// Written at the middle of the edge when not empty: how many edges a bundled edge stands for.
    pub label: String,
}

/// A badge in a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// `wait: true` or health checks: Ready only once what it applied is healthy.
    Wait,
    /// `suspend: true`: Flux leaves it alone, and whatever depends on it waits forever.
    Suspended,
    /// Not defined in this repository.
    External,
    Errors(usize),
    Warnings(usize),
    /// On a dependency cycle.
    Cycle,
    /// Not on a cycle but waiting behind one: never reconciles either.
    Blocked,
    /// A component folded into one box: this many stages.
    Folded(usize),
    /// A group the critical path crosses.
    Critical,
}

/// The badges the legend explains, each with what it means there.
pub const LEGEND: [(Mark, &str); 6] = [
    (Mark::Wait, "Ready once what it applies is healthy"),
    (Mark::Suspended, "Flux leaves it alone"),
    (Mark::External, "defined outside this repository"),
    (Mark::Cycle, "on a dependency cycle"),
    (Mark::Blocked, "waits behind a cycle"),
    (Mark::Errors(1), "diagnostics (warnings in amber)"),
];

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Mark {
    /// What the badge says.
    pub fn label(self) -> String {
        match self {
            Mark::Wait => "wait".into(),
            Mark::Suspended => "suspended".into(),
            Mark::External => "external".into(),
            Mark::Errors(n) => plural(n, "error", "errors"),
            Mark::Warnings(n) => plural(n, "warning", "warnings"),
            Mark::Cycle => "cycle".into(),
            Mark::Blocked => "blocked".into(),
            Mark::Critical => "critical path".into(),
            Mark::Folded(n) => plural(n, "stage", "stages"),
        }
    }

    /// Its CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Mark::Wait => "mark-wait",
            Mark::Suspended => "mark-suspended",
            Mark::External => "mark-external",
            Mark::Errors(_) => "mark-error",
            Mark::Warnings(_) => "mark-warning",
            Mark::Cycle => "mark-cycle",
            Mark::Blocked => "mark-blocked",
            Mark::Critical => "mark-critical",
            Mark::Folded(_) => "mark-folded",
        }
    }

    /// Its hover text.
    pub fn tip(self) -> String {
        match self {
            Mark::Wait => "wait: Ready only once what it applies is healthy".into(),
            Mark::Suspended => "suspended: Flux does not reconcile it, and its dependents wait".into(),
            Mark::External => "not defined in this repository".into(),
            Mark::Errors(_) | Mark::Warnings(_) => self.label(),
            Mark::Cycle => "on a dependency cycle: never reconciles".into(),
            Mark::Blocked => "waits behind a dependency cycle: never reconciles".into(),
            Mark::Critical => "the critical path crosses this group".into(),
            Mark::Folded(n) => format!("one component: {} folded into this box", plural(n, "stage", "stages")),
        }
    }
}

/// How [`collapse`] gathers the boxes of a drawing.
pub struct Partition {
    /// For each box of the drawing, the new box it goes into (an index into `boxes`), or `None`:
    /// kept as it is.
    pub into: Vec<Option<usize>>,
    /// The new boxes, each standing for its members.
    pub boxes: Vec<DrawNode>,
    /// A new box stands where its first member stood (folding), or after every kept box
    /// (grouping): the order of the boxes is the layout's first guess.
    pub in_place: bool,
    /// The edges of one kind between the same two boxes become one with every flag of theirs
    /// and their count as its label (grouping), or the first of them stays (folding).
    pub bundle: bool,
}

/// `drawing` with boxes gathered as `partition` says: edges follow their ends, and an edge
/// whose two ends fall into one box goes. Folding a component's stages and closing a group
/// are both this. O(nodes + edges · log edges).
pub fn collapse(drawing: Drawing, partition: Partition) -> Drawing {
    let Partition { into, boxes, in_place, bundle } = partition;
    let mut boxes: Vec<Option<DrawNode>> = boxes.into_iter().map(Some).collect();
    // Where each old box and each new one lands.
    let mut unit = vec![0usize; drawing.nodes.len()];
    let mut placed: Vec<Option<usize>> = vec![None; boxes.len()];
    let mut nodes = Vec::with_capacity(drawing.nodes.len());
    for (i, node) in drawing.nodes.into_iter().enumerate() {
        match into[i] {
            None => {
                unit[i] = nodes.len();
                nodes.push(node);
            }
            Some(b) if in_place => {
                let at = *placed[b].get_or_insert_with(|| {
                    nodes.push(boxes[b].take().expect("each box is placed once"));
                    nodes.len() - 1
                });
                unit[i] = at;
            }
            Some(_) => {}
        }
    }
    if !in_place {
        for (b, new) in boxes.into_iter().enumerate() {
            if let Some(new) = new {
                placed[b] = Some(nodes.len());
                nodes.push(new);
            }
        }
        for (i, b) in into.iter().enumerate() {
            if let Some(b) = b {
                unit[i] = placed[*b].expect("every box is placed");
            }
        }
    }
    let edges = if bundle {
        // Keyed by the kind's name: bundles are drawn in the order of their names.
        let mut bundles: std::collections::BTreeMap<(usize, usize, &'static str), (EdgeKind, usize, EdgeFlags)> = Default::default();
        for e in &drawing.edges {
            let (a, b) = (unit[e.from], unit[e.to]);
            if a != b {
                let bundle = bundles.entry((a, b, e.kind.as_str())).or_insert((e.kind, 0, EdgeFlags::default()));
                bundle.1 += 1;
                bundle.2 = bundle.2.union(e.flags);
            }
        }
        bundles
            .into_iter()
            .map(|((from, to, _), (kind, count, flags))| DrawEdge { from, to, kind, flags, label: if count > 1 { format!("×{count}") } else { String::new() } })
            .collect()
    } else {
        let mut seen = std::collections::BTreeSet::new();
        drawing
            .edges
            .into_iter()
            .filter_map(|mut e| {
                e.from = unit[e.from];
                e.to = unit[e.to];
                (e.from != e.to && seen.insert((e.from, e.to, e.kind))).then_some(e)
            })
            .collect()
    };
    Drawing { nodes, edges, direction: drawing.direction, layer_titles: drawing.layer_titles }
}

/// What the badges of some boxes say together: the summary a box gathering them shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Members {
    pub count: usize,
    /// Lowest and highest layer of the members.
    pub first: usize,
    pub last: usize,
    pub errors: usize,
    pub warnings: usize,
    pub cycle: bool,
    /// A member waits behind a cycle without being on one.
    pub blocked: bool,
    /// A member is on the critical path.
    pub critical: bool,
}

impl Members {
    /// The summary of the boxes `members` of `drawing`.
    pub fn of(drawing: &Drawing, members: &[usize]) -> Members {
        let mut s = Members { count: members.len(), first: usize::MAX, ..Members::default() };
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
            s.critical |= node.flags.contains(NodeFlag::Critical);
        }
        s
    }
}
