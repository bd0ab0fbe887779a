//! SVG: a [`Drawing`] (boxes, edges, layer titles) laid out with [`crate::layout`] and written as one `<svg>`
//! element, so that every graph page reads well without JavaScript.
//!
//! The output is meant to be embedded in an HTML page served under a strict Content Security Policy: there are
//! no `style` attributes, no `<style>` elements and no event handlers; the look comes from `assets/app.css`
//! through classes, and the scripts (`assets/js/`, from `drawing.js`) find their hooks in `data-id`, `data-level`,
//! `data-from` and `data-to`.
//!
//! ```text
//! <svg class="graph" viewBox="0 0 W H" …>
//!   <defs>  one arrow marker per edge kind, plus "critical" and "cut"
//!   <g class="layers">  per layer: a faint band and its title ("level 3")
//!   <g class="edges">   per edge: <path class="edge dependsOn critical" data-from data-to d="M… C…">
//!   <g class="nodes">   per node: <a href class="node-link"><g class="node kustomization" data-id data-level
//!                       transform><title/><rect/><svg class="label"><text class="title"/></svg>
//!                       <svg class="label"><text class="subtitle"/></svg><g class="marks"/></g></a>
//! ```
//!
//! Box widths come from an estimate of the text's width with Arial's advance widths (`app.css` draws graphs
//! in Arial or a metric-compatible font: Helvetica, Liberation Sans, Nimbus Sans), so no font is needed on the
//! server; each line of text is clipped to its box in case the reader's font runs wider.
//!
//! The same `Drawing` always gives the same bytes: the layout is deterministic and every number is written with
//! at most one decimal. Time and space O(text + layout).

use std::fmt::Write;

pub use super::drawing::{DrawEdge, DrawId, DrawNode, Drawing, EdgeFlag, EdgeFlags, Mark, NodeFlag, NodeFlags, NodeKind};
use crate::layout::{self, Direction, Input, Options, Point};

/// Height of every box.
pub const NODE_HEIGHT: f64 = 46.0;
/// Narrowest and widest box.
pub const MIN_WIDTH: f64 = 140.0;
pub const MAX_WIDTH: f64 = 320.0;
/// Horizontal padding inside a box.
const PAD: f64 = 10.0;
/// Font sizes, as `app.css` sets them; the title is bold.
const TITLE_PX: f64 = 13.0;
const SUBTITLE_PX: f64 = 11.0;
const MARK_PX: f64 = 10.0;
const LAYER_TITLE_PX: f64 = 12.0;
/// Baselines of the two lines of text and geometry of a badge.
const TITLE_Y: f64 = 20.0;
const SUBTITLE_Y: f64 = 36.0;
const MARK_TOP: f64 = 8.0;
const MARK_HEIGHT: f64 = 15.0;
const MARK_GAP: f64 = 4.0;
/// Space around the drawing, and the band holding the layer titles (above columns, or left of rows).
const MARGIN: f64 = 16.0;
const HEADER: f64 = 30.0;

/// The drawing as one `<svg class="graph">` element; a small "nothing to show" SVG when there are no nodes.
pub fn render(drawing: &Drawing) -> String {
    if drawing.nodes.is_empty() {
        return empty();
    }
    let boxes: Vec<NodeBox> = drawing.nodes.iter().map(NodeBox::new).collect();
    let options = Options {
        direction: drawing.direction,
        // Room for the curves to turn and for arrowheads between columns; rows need less.
        layer_gap: if drawing.direction == Direction::LeftToRight { 96.0 } else { 72.0 },
        node_gap: 18.0,
        ..Options::default()
    };
    let input = Input {
        sizes: boxes.iter().map(|b| (b.width, NODE_HEIGHT)).collect(),
        layer: drawing.nodes.iter().map(|n| n.layer).collect(),
        edges: drawing.edges.iter().map(|e| (e.from, e.to)).collect(),
    };
    let placed = layout::layout(&input, &options);
    let bands = bands(&input, &placed.positions, drawing.direction);

    // The plot starts after the margin and the header band: above the columns, or left of the rows.
    let titles = drawing.layer_titles.iter().map(|t| text_width(t, LAYER_TITLE_PX, true)).fold(0.0, f64::max);
    let (ox, oy) = match drawing.direction {
        Direction::LeftToRight => (MARGIN, MARGIN + HEADER),
        Direction::TopToBottom => (MARGIN + titles.ceil() + 2.0 * PAD, MARGIN),
    };
    let canvas = Canvas {
        origin: Point { x: ox, y: oy },
        width: (ox + placed.width + MARGIN).ceil(),
        height: (oy + placed.height + MARGIN).ceil(),
        direction: drawing.direction,
        half_gap: options.layer_gap / 2.0,
    };
    let prefix = marker_prefix(drawing);

    let mut out = String::with_capacity(1024 + 800 * drawing.nodes.len() + 250 * drawing.edges.len());
    write!(
        out,
        r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="group" aria-label="Reconciliation graph: {} objects, {} edges, {} levels">"#,
        drawing.nodes.len(),
        drawing.edges.len(),
        bands.iter().flatten().count(),
        w = num(canvas.width),
        h = num(canvas.height),
    )
    .unwrap();
    out.push('\n');
    defs(&mut out, &prefix);
    layers(&mut out, &canvas, &bands, &drawing.layer_titles);
    // Edges under the nodes, so that an arrowhead touching a box never hides its border.
    out.push_str("<g class=\"edges\">\n");
    for (edge, route) in drawing.edges.iter().zip(&placed.routes) {
        edge_path(&mut out, &canvas, &prefix, drawing, edge, route);
    }
    out.push_str("</g>\n");
    edge_labels(&mut out, &canvas, drawing, &placed.routes);
    out.push_str("<g class=\"nodes\">\n");
    for ((node, b), &corner) in drawing.nodes.iter().zip(&boxes).zip(&placed.positions) {
        node_box(&mut out, node, b, canvas.shift(corner));
    }
    out.push_str("</g>\n</svg>\n");
    out
}

/// Where the layout's plot sits in the SVG, and the SVG's size.
struct Canvas {
    origin: Point,
    width: f64,
    height: f64,
    direction: Direction,
    /// Half the gap between layers: how far a layer's band reaches past its boxes.
    half_gap: f64,
}

impl Canvas {
    fn shift(&self, p: Point) -> Point {
        Point { x: p.x + self.origin.x, y: p.y + self.origin.y }
    }
}

/// Per layer: a band behind its column (or row), and its title in the header.
fn layers(out: &mut String, canvas: &Canvas, bands: &[Option<(f64, f64)>], titles: &[String]) {
    out.push_str("<g class=\"layers\">\n");
    for (layer, band) in bands.iter().enumerate() {
        let Some((start, thickness)) = *band else { continue };
        let parity = if layer % 2 == 0 { "even" } else { "odd" };
        let title = escape(titles.get(layer).map_or("", String::as_str));
        write!(out, r#"<g class="layer {parity}" data-level="{layer}">"#).unwrap();
        let (lo, hi) = (start - canvas.half_gap, start + thickness + canvas.half_gap);
        match canvas.direction {
            Direction::LeftToRight => {
                let (x0, x1) = ((canvas.origin.x + lo).max(0.0), (canvas.origin.x + hi).min(canvas.width));
                let (w, h) = (num(x1 - x0), num(canvas.height));
                write!(out, r#"<rect class="band" x="{}" y="0" width="{w}" height="{h}"/>"#, num(x0)).unwrap();
                if !title.is_empty() {
                    let x = num(canvas.origin.x + start + thickness / 2.0);
                    let y = num(MARGIN + 12.0);
                    write!(out, r#"<text class="layer-title" x="{x}" y="{y}" text-anchor="middle">{title}</text>"#)
                        .unwrap();
                }
            }
            Direction::TopToBottom => {
                let (y0, y1) = ((canvas.origin.y + lo).max(0.0), (canvas.origin.y + hi).min(canvas.height));
                let (w, h) = (num(canvas.width), num(y1 - y0));
                write!(out, r#"<rect class="band" x="0" y="{}" width="{w}" height="{h}"/>"#, num(y0)).unwrap();
                if !title.is_empty() {
                    let x = num(canvas.origin.x - PAD);
                    let y = num(canvas.origin.y + start + thickness / 2.0 + 4.0);
                    write!(out, r#"<text class="layer-title" x="{x}" y="{y}" text-anchor="end">{title}</text>"#)
                        .unwrap();
                }
            }
        }
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n");
}

/// One edge as a smooth curve through its route, with the arrowhead of its kind (or of its emphasis).
fn edge_path(out: &mut String, canvas: &Canvas, prefix: &str, drawing: &Drawing, edge: &DrawEdge, route: &[Point]) {
    if route.len() < 2 {
        return; // an edge naming a node that does not exist
    }
    let points: Vec<Point> = route.iter().map(|&p| canvas.shift(p)).collect();
    let marker = if edge.flags.contains(EdgeFlag::Cut) {
        "cut"
    } else if edge.flags.contains(EdgeFlag::Critical) {
        "critical"
    } else {
        edge.kind.as_str()
    };
    writeln!(
        out,
        r#"<path class="{}" data-from="{}" data-to="{}" data-kind="{}" d="{}" marker-end="url(#{prefix}-{marker})"/>"#,
        classes("edge", edge.kind.as_str(), edge.flags.classes()),
        escape(&drawing.nodes[edge.from].id.to_string()),
        escape(&drawing.nodes[edge.to].id.to_string()),
        edge.kind.as_str(),
        layout::route::svg_path(&points, canvas.direction),
    )
    .unwrap();
}

/// The labels of bundled edges, each at the middle of its route, above the edges.
fn edge_labels(out: &mut String, canvas: &Canvas, drawing: &Drawing, routes: &[Vec<Point>]) {
    if drawing.edges.iter().all(|e| e.label.is_empty()) {
        return;
    }
    out.push_str("<g class=\"edge-labels\">\n");
    for (edge, route) in drawing.edges.iter().zip(routes) {
        if edge.label.is_empty() || route.len() < 2 {
            continue;
        }
        let (a, b) = (route[(route.len() - 1) / 2], route[route.len() / 2]);
        let at = canvas.shift(Point { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 });
        writeln!(
            out,
            r#"<text class="edge-label {}" data-from="{}" data-to="{}" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            edge.kind.as_str(),
            escape(&drawing.nodes[edge.from].id.to_string()),
            escape(&drawing.nodes[edge.to].id.to_string()),
            num(at.x),
            num(at.y + 4.0),
            escape(&edge.label),
        )
        .unwrap();
    }
    out.push_str("</g>\n");
}

/// One box: a link around a group holding its tooltip, rectangle, two lines of text and badges.
fn node_box(out: &mut String, node: &DrawNode, b: &NodeBox, at: Point) {
    write!(
        out,
        r#"<a href="{}" class="node-link"><g class="{}" data-id="{}" data-level="{}" transform="translate({},{})">"#,
        escape(&node.href),
        classes("node", node.kind.class(), node.flags.classes()),
        escape(&node.id.to_string()),
        node.layer,
        num(at.x),
        num(at.y),
    )
    .unwrap();
    write!(out, "<title>{}</title>", escape(&node.tooltip)).unwrap();
    write!(out, r#"<rect width="{}" height="{}" rx="6"/>"#, num(b.width), num(NODE_HEIGHT)).unwrap();
    // Each line in its own viewport, which clips it: should the reader's font run wider than estimated, the
    // title stops short of the badges and the subtitle inside the box.
    let lines = [
        ("title", &b.title, b.width - PAD / 2.0 - b.badges(), NODE_HEIGHT / 2.0 + 4.0, TITLE_Y),
        ("subtitle", &b.subtitle, b.width - PAD / 2.0, NODE_HEIGHT, SUBTITLE_Y),
    ];
    for (class, text, width, height, baseline) in lines {
        write!(
            out,
            r#"<svg class="label" width="{}" height="{}"><text class="{class}" x="{}" y="{}">{}</text></svg>"#,
            num(width),
            num(height),
            num(PAD),
            num(baseline),
            escape(text),
        )
        .unwrap();
    }
    if !b.marks.is_empty() {
        out.push_str(r#"<g class="marks">"#);
        // Right-aligned, read left to right in the given order.
        let mut x = b.width - PAD - (b.badges() - MARK_GAP);
        for mark in &b.marks {
            write!(
                out,
                r#"<g class="mark {}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="{}"/><text x="{}" y="{}" text-anchor="middle">{}</text></g>"#,
                mark.class,
                escape(&mark.tip),
                num(x),
                num(MARK_TOP),
                num(mark.width),
                num(MARK_HEIGHT),
                num(MARK_HEIGHT / 2.0),
                num(x + mark.width / 2.0),
                num(MARK_TOP + 11.0),
                escape(&mark.label),
            )
            .unwrap();
            x += mark.width + MARK_GAP;
        }
        out.push_str("</g>");
    }
    out.push_str("</g></a>\n");
}

/// What to draw inside a box: its width and its text, truncated to fit.
struct NodeBox {
    width: f64,
    title: String,
    subtitle: String,
    marks: Vec<Badge>,
}

struct Badge {
    label: String,
    class: &'static str,
    tip: String,
    width: f64,
}

impl NodeBox {
    fn new(node: &DrawNode) -> Self {
        let marks: Vec<Badge> = node.marks.iter().map(|&m| Badge::new(m)).collect();
        // Badges sit right of the title, on its line.
        let badges = marks.iter().map(|m| m.width + MARK_GAP).sum::<f64>();
        let title_room = (MAX_WIDTH - 2.0 * PAD - badges).max(48.0);
        let title = truncate(&node.title, TITLE_PX, true, title_room);
        let subtitle = truncate(&node.subtitle, SUBTITLE_PX, false, MAX_WIDTH - 2.0 * PAD);
        let content = f64::max(
            text_width(&title, TITLE_PX, true) + badges + if badges > 0.0 { 2.0 * MARK_GAP } else { 0.0 },
            text_width(&subtitle, SUBTITLE_PX, false),
        );
        // A cut text fills the widest box, so that boxes of cut names line up.
        let cut = title != node.title || subtitle != node.subtitle;
        let width = if cut { MAX_WIDTH } else { (content + 2.0 * PAD).ceil().clamp(MIN_WIDTH, MAX_WIDTH) };
        Self { width, title, subtitle, marks }
    }

    /// Room the badges take on the title's line, a gap after each.
    fn badges(&self) -> f64 {
        self.marks.iter().map(|m| m.width + MARK_GAP).sum()
    }
}

impl Badge {
    fn new(mark: Mark) -> Self {
        let label = mark.label();
        let width = (text_width(&label, MARK_PX, true) + 10.0).ceil();
        Self { label, class: mark.class(), tip: mark.tip(), width }
    }
}

/// Start and thickness of each layer along the layer axis, `None` for a layer without nodes. The layout
/// aligns the boxes of a layer at one start, and makes the layer as thick as its thickest box.
fn bands(input: &Input, positions: &[Point], direction: Direction) -> Vec<Option<(f64, f64)>> {
    let count = input.layer.iter().max().map_or(0, |&m| m + 1);
    let mut bands: Vec<Option<(f64, f64)>> = vec![None; count];
    for ((&layer, &(w, h)), p) in input.layer.iter().zip(&input.sizes).zip(positions) {
        let (start, thickness) = match direction {
            Direction::LeftToRight => (p.x, w),
            Direction::TopToBottom => (p.y, h),
        };
        let band = bands[layer].get_or_insert((start, thickness));
        band.0 = band.0.min(start);
        band.1 = band.1.max(thickness);
    }
    bands
}

/// Arrowheads: one per edge kind, and for critical and cut edges, each with classes for `app.css` to colour.
fn defs(out: &mut String, prefix: &str) {
    out.push_str("<defs>\n");
    for name in ["dependsOn", "applies", "source", "other", "critical", "cut"] {
        write!(
            out,
            r#"<marker id="{prefix}-{name}" class="arrow {name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1 L10,5 L0,9 z"/></marker>"#
        )
        .unwrap();
        out.push('\n');
    }
    out.push_str("</defs>\n");
}

/// Marker ids must be unique in the page, which may hold several graphs: a hash of what is drawn keeps them
/// apart and the output deterministic (two identical drawings share identical markers, which is harmless).
fn marker_prefix(drawing: &Drawing) -> String {
    // FNV-1a, 64 bits.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for node in &drawing.nodes {
        feed(node.id.to_string().as_bytes());
        feed(&node.layer.to_le_bytes());
    }
    for edge in &drawing.edges {
        feed(&edge.from.to_le_bytes());
        feed(&edge.to.to_le_bytes());
        feed(edge.kind.as_str().as_bytes());
    }
    format!("fg{:08x}", hash as u32 ^ (hash >> 32) as u32)
}

/// `base kind extra…`, escaped for an attribute.
fn classes<'a>(base: &str, kind: &str, extra: impl Iterator<Item = &'a str>) -> String {
    let mut all = format!("{base} {kind}");
    for class in extra {
        all.push(' ');
        all.push_str(class);
    }
    escape(&all)
}

fn empty() -> String {
    concat!(
        r#"<svg class="graph empty" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 64" width="240" height="64" role="img" aria-label="nothing to show">"#,
        r#"<text class="empty-text" x="120" y="37" text-anchor="middle">nothing to show</text></svg>"#,
        "\n"
    )
    .to_string()
}

/// A number with at most one decimal, without a trailing `.0` or a negative zero.
fn num(value: f64) -> String {
    let tenths = (value * 10.0).round();
    if tenths == 0.0 || !tenths.is_finite() {
        return "0".to_string();
    }
    if tenths % 10.0 == 0.0 { format!("{}", tenths / 10.0) } else { format!("{:.1}", tenths / 10.0) }
}

/// Text for XML content and attribute values. Characters XML 1.0 forbids (most C0 controls) are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to at most `max` pixels wide, ending in `…` when cut.
fn truncate(text: &str, px: f64, bold: bool, max: f64) -> String {
    if text_width(text, px, bold) <= max {
        return text.to_string();
    }
    let room = max - text_width("…", px, bold);
    let mut width = 0.0;
    let mut out = String::new();
    for c in text.chars() {
        width += advance(c) * px / 1000.0 * weight(bold);
        if width > room {
            break;
        }
        out.push(c);
    }
    let mut out = out.trim_end().to_string();
    out.push('…');
    out
}

/// Estimated width in pixels of `text` set in a sans-serif font of `px` pixels.
fn text_width(text: &str, px: f64, bold: bool) -> f64 {
    text.chars().map(advance).sum::<f64>() * px / 1000.0 * weight(bold)
}

/// Bold glyphs run wider; and system UI fonts run a little wider than Arial, whose widths [`advance`] gives.
fn weight(bold: bool) -> f64 {
    if bold { 1.12 } else { 1.04 }
}

/// Advance width of a character in thousandths of an em (Arial's, for ASCII).
fn advance(c: char) -> f64 {
    match c {
        'i' | 'j' | 'l' => 222.0,
        'f' | 't' | 'I' | ' ' | '.' | ',' | ':' | ';' | '/' | '\\' | '!' | '\'' | '|' => 278.0,
        'r' | '-' | '(' | ')' | '[' | ']' | '{' | '}' | '`' | '·' => 333.0,
        '"' => 355.0,
        'c' | 'k' | 's' | 'v' | 'x' | 'y' | 'z' | 'J' => 500.0,
        'm' | 'M' => 833.0,
        'W' => 944.0,
        '%' => 889.0,
        '@' => 1015.0,
        '…' => 1000.0,
        'F' | 'T' | 'Z' => 611.0,
        'w' | 'C' | 'D' | 'H' | 'N' | 'R' | 'U' => 722.0,
        'G' | 'O' | 'Q' => 778.0,
        'a'..='z' | 'L' | '0'..='9' | '_' | '$' | '#' | '?' | '+' | '=' | '<' | '>' | '~' | '^' => 556.0,
        'A'..='Z' => 667.0,
        '\u{0300}'..='\u{036f}' | '\u{200b}'..='\u{200f}' => 0.0,
        // East Asian wide characters and emoji take a full em.
        '\u{1100}'..='\u{115f}'
        | '\u{2e80}'..='\u{a4cf}'
        | '\u{ac00}'..='\u{d7a3}'
        | '\u{f900}'..='\u{faff}'
        | '\u{fe30}'..='\u{fe4f}'
        | '\u{ff00}'..='\u{ff60}'
        | '\u{ffe0}'..='\u{ffe6}'
        | '\u{1f300}'..='\u{1faff}'
        | '\u{20000}'..='\u{3fffd}' => 1000.0,
        c if c.is_ascii() => 584.0,
        _ => 600.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::EdgeKind;
    use crate::model::{Kind, ObjectId};

    fn node(name: &str, layer: usize) -> DrawNode {
        DrawNode {
            id: DrawId::Object(ObjectId::new(Kind::Kustomization, "flux-system", name)),
            kind: NodeKind::Kustomization,
            flags: NodeFlags::default(),
            title: name.to_string(),
            subtitle: "Kustomization · flux-system".to_string(),
            layer,
            href: format!("/k/Kustomization/flux-system/{name}?depth=2&edges=all"),
            marks: Vec::new(),
            tooltip: format!("Kustomization/flux-system/{name}\nks.yaml:2\nlevel {layer}"),
        }
    }

    fn edge(from: usize, to: usize, kind: EdgeKind) -> DrawEdge {
        DrawEdge { from, to, kind, flags: EdgeFlags::default(), label: String::new() }
    }

    /// cluster-apps applies linkding and rook-ceph; linkding dependsOn rook-ceph; both use the git source.
    fn example(direction: Direction) -> Drawing {
        let mut nodes = vec![node("cluster-apps", 0), node("rook-ceph", 1), node("linkding", 2)];
        nodes.push(DrawNode {
            id: DrawId::Object(ObjectId::new(Kind::GitRepository, "flux-system", "flux-system")),
            title: "flux-system".into(),
            subtitle: "GitRepository · flux-system".into(),
            kind: NodeKind::Source,
            ..node("flux-system", 0)
        });
        nodes[2].marks = vec![Mark::Wait, Mark::Errors(2)];
        nodes[2].flags = [NodeFlag::Critical, NodeFlag::Error].into_iter().collect();
        let mut edges =
            vec![edge(0, 1, EdgeKind::Applies), edge(0, 2, EdgeKind::Applies), edge(2, 1, EdgeKind::DependsOn), edge(2, 3, EdgeKind::Source)];
        edges[2].flags = [EdgeFlag::Critical].into_iter().collect();
        edges[3].flags = [EdgeFlag::Cut, EdgeFlag::Dim].into_iter().collect();
        Drawing { nodes, edges, direction, layer_titles: vec!["level 0".into(), "level 1".into(), "level 2".into()] }
    }

    #[test]
    fn a_bundled_edge_carries_its_count_between_its_ends() {
        let mut drawing = example(Direction::LeftToRight);
        drawing.edges[2].label = "×12".into();
        let svg = render(&drawing);
        assert_balanced(&svg);
        let label = svg.find(">×12</text>").expect("the label");
        let tag = &svg[svg[..label].rfind('<').unwrap()..label];
        assert!(tag.contains(r#"class="edge-label dependsOn""#) && tag.contains(r#"data-from="Kustomization/flux-system/linkding""#), "{tag}");
        assert_eq!(svg.matches("class=\"edge-label ").count(), 1, "unlabelled edges get no label");
        assert!(svg.find("<g class=\"edge-labels\">").unwrap() < svg.find("<g class=\"nodes\">").unwrap(), "labels sit above the edges, under the boxes");
        assert!(!render(&example(Direction::LeftToRight)).contains("edge-labels"), "no empty group without labels");
    }

    /// Every start tag has its end tag, in order: the output is well-formed as far as tags go.
    fn assert_balanced(svg: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = start + rest[start..].find('>').expect("unclosed tag");
            let tag = &rest[start + 1..end];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                open.push(tag.split_whitespace().next().unwrap());
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
    }

    /// The value of every `name="…"` attribute, in order.
    fn attributes<'a>(svg: &'a str, name: &str) -> Vec<&'a str> {
        let needle = format!(" {name}=\"");
        svg.match_indices(&needle)
            .map(|(i, _)| {
                let value = &svg[i + needle.len()..];
                &value[..value.find('"').unwrap()]
            })
            .collect()
    }

    #[test]
    fn text_is_escaped_for_xml() {
        assert_eq!(escape(r#"a&b<c>"d"'e'"#), "a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;");
        assert_eq!(escape("bell\u{7}\tok"), "bell\tok");
        let mut drawing = example(Direction::LeftToRight);
        drawing.nodes[0].title = "<script>&\"'".into();
        drawing.nodes[0].tooltip = "a < b & c > d".into();
        drawing.nodes[0].href = "/k/x?depth=2&edges=\"all\"".into();
        drawing.nodes[1].id = DrawId::Object(ObjectId::new(Kind::Kustomization, "ns", "it's"));
        drawing.layer_titles[0] = "level <0>".into();
        let svg = render(&drawing);
        assert!(svg.contains("&lt;script&gt;&amp;&quot;&apos;"));
        assert!(svg.contains("<title>a &lt; b &amp; c &gt; d</title>"));
        assert!(svg.contains(r#"href="/k/x?depth=2&amp;edges=&quot;all&quot;""#));
        assert!(svg.contains(r#"data-id="Kustomization/ns/it&apos;s""#));
        assert!(svg.contains(r#"data-to="Kustomization/ns/it&apos;s""#));
        assert!(svg.contains("level &lt;0&gt;"));
        assert!(!svg.contains("<script"));
        assert_balanced(&svg);
    }

    #[test]
    fn the_same_drawing_gives_the_same_bytes() {
        for direction in [Direction::LeftToRight, Direction::TopToBottom] {
            let drawing = example(direction);
            let first = render(&drawing);
            assert_eq!(first, render(&drawing.clone()));
            assert_eq!(first, render(&example(direction)));
        }
    }

    #[test]
    fn every_node_has_its_id_and_link() {
        let drawing = example(Direction::LeftToRight);
        let svg = render(&drawing);
        let ids: Vec<String> = drawing.nodes.iter().map(|n| escape(&n.id.to_string())).collect();
        assert_eq!(attributes(&svg, "data-id"), ids);
        let hrefs: Vec<String> = drawing.nodes.iter().map(|n| escape(&n.href)).collect();
        assert_eq!(attributes(&svg, "href"), hrefs);
        assert_eq!(svg.matches(r#"<a href=""#).count(), drawing.nodes.len());
        assert_eq!(attributes(&svg, "data-level").iter().filter(|l| **l == "2").count(), 2, "one node and one layer");
        assert!(svg.contains(r#"class="node kustomization critical error""#));
        assert!(svg.contains(r#"class="node source""#));
    }

    #[test]
    fn one_path_per_edge_names_its_ends() {
        let drawing = example(Direction::LeftToRight);
        let svg = render(&drawing);
        assert_eq!(svg.matches("<path class=\"edge ").count(), drawing.edges.len());
        let ends: Vec<(&str, &str)> =
            attributes(&svg, "data-from").into_iter().zip(attributes(&svg, "data-to")).collect();
        let expected: Vec<(String, String)> =
            drawing.edges.iter().map(|e| (drawing.nodes[e.from].id.to_string(), drawing.nodes[e.to].id.to_string())).collect();
        assert_eq!(ends.len(), expected.len());
        for ((from, to), (f, t)) in ends.iter().zip(&expected) {
            assert_eq!((*from, *to), (f.as_str(), t.as_str()));
        }
        for d in attributes(&svg, "d").iter().filter(|d| d.contains('C')) {
            assert!(d.starts_with('M'));
        }
        assert!(svg.contains(r#"class="edge dependsOn critical""#));
        assert!(svg.contains(r#"class="edge source cut dim""#));
        // Arrowheads: by kind, except critical and cut edges, and every one defined.
        let markers = attributes(&svg, "marker-end");
        assert_eq!(markers.len(), 4);
        assert!(
            markers[2].ends_with("-critical)") && markers[3].ends_with("-cut)") && markers[0].ends_with("-applies)")
        );
        for m in markers {
            let id = &m["url(#".len()..m.len() - 1];
            assert!(svg.contains(&format!(r#"<marker id="{id}""#)));
        }
    }

    #[test]
    fn edges_to_missing_nodes_are_skipped() {
        let mut drawing = example(Direction::LeftToRight);
        drawing.edges.push(edge(0, 0, EdgeKind::DependsOn));
        let svg = render(&drawing);
        assert_eq!(svg.matches("<path class=\"edge ").count(), 5, "a self-loop is drawn");
        assert_balanced(&svg);
    }

    #[test]
    fn long_titles_are_truncated_and_boxes_clamped() {
        let mut drawing = example(Direction::LeftToRight);
        let long = "a-very-long-component-name-that-nobody-would-read-to-the-end-without-scrolling";
        drawing.nodes[0].title = long.into();
        drawing.nodes[1].title = "x".into();
        drawing.nodes[1].subtitle = "HelmRelease · a".into();
        let svg = render(&drawing);
        assert!(!svg.contains(long));
        let cut = attributes(&svg, "width");
        assert!(cut.contains(&"320"), "{cut:?}");
        assert!(cut.contains(&"140"), "{cut:?}");
        let title = svg.split(r#"<text class="title" x="10" y="20">"#).nth(1).unwrap();
        let title = &title[..title.find('<').unwrap()];
        assert!(title.ends_with('…') && long.starts_with(title.trim_end_matches('…')), "{title}");
        assert!(text_width(title, TITLE_PX, true) <= MAX_WIDTH - 2.0 * PAD);

        assert_eq!(truncate("short", 13.0, true, 200.0), "short");
        // 5.8 px a letter, 10.4 px the ellipsis: five letters fit in 40 px.
        assert_eq!(truncate("abcdefghij", 10.0, false, 40.0), "abcde…");
        // Badges take room from the title.
        let with_marks = NodeBox::new(&DrawNode {
            title: long.into(),
            marks: vec![Mark::Suspended, Mark::Errors(3)],
            ..node("x", 0)
        });
        let without = NodeBox::new(&DrawNode { title: long.into(), ..node("x", 0) });
        assert!(with_marks.title.chars().count() < without.title.chars().count());
        assert_eq!(with_marks.width, MAX_WIDTH);
    }

    #[test]
    fn marks_are_badges_with_labels() {
        let svg = render(&example(Direction::LeftToRight));
        assert!(svg.contains(r#"<g class="mark mark-wait">"#));
        assert!(svg.contains(">2 errors</text>"));
        // In the given order, left to right, the last one against the box's right padding.
        let wait = svg.find(">wait</text>").unwrap();
        assert!(wait < svg.find(">2 errors</text>").unwrap());
        let xs = attributes(&svg, "x");
        let badge = NodeBox::new(&example(Direction::LeftToRight).nodes[2]);
        let last = &badge.marks[1];
        assert!(xs.contains(&num(badge.width - PAD - last.width).as_str()), "{xs:?}");
        assert_eq!(Badge::new(Mark::Folded(1)).label, "1 stage");
        assert_eq!(Badge::new(Mark::Warnings(4)).label, "4 warnings");
    }

    #[test]
    fn layers_have_titles_and_bands_in_both_directions() {
        for direction in [Direction::LeftToRight, Direction::TopToBottom] {
            let svg = render(&example(direction));
            for title in ["level 0", "level 1", "level 2"] {
                assert!(svg.contains(&format!(">{title}</text>")));
            }
            assert_eq!(svg.matches(r#"<rect class="band""#).count(), 3);
            assert!(svg.contains(r#"<g class="layer odd" data-level="1">"#));
            assert_balanced(&svg);
        }
    }

    #[test]
    fn the_output_suits_a_strict_content_security_policy() {
        let svg = render(&example(Direction::LeftToRight));
        assert!(!svg.contains("style"));
        let handler = svg.match_indices(" on").any(|(i, _)| {
            let name: String = svg[i + 3..].chars().take_while(char::is_ascii_alphabetic).collect();
            svg[i + 3 + name.len()..].starts_with('=')
        });
        assert!(!handler, "no event handler attributes");
        assert!(svg.starts_with(r#"<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 "#));
    }

    #[test]
    fn numbers_have_at_most_one_decimal() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.01), "0");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(12.96), "13");
        assert_eq!(num(-3.24), "-3.2");
        let svg = render(&example(Direction::TopToBottom));
        let bytes = svg.as_bytes();
        for (i, _) in svg.match_indices('.') {
            let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if i > 0 && bytes[i - 1].is_ascii_digit() {
                assert!(digits <= 1, "{}", &svg[i.saturating_sub(10)..i + 5]);
            }
        }
    }

    #[test]
    fn nothing_to_show() {
        let svg =
            render(&Drawing { nodes: vec![], edges: vec![], direction: Direction::LeftToRight, layer_titles: vec![] });
        assert!(svg.contains("nothing to show"));
        assert!(svg.starts_with("<svg class=\"graph empty\""));
        assert_balanced(&svg);
    }

    #[test]
    fn text_width_estimates_are_plausible() {
        // "linkding" in 13px bold is about 55 px in common UI fonts; wide letters and CJK count more.
        let w = text_width("linkding", 13.0, true);
        assert!((45.0..65.0).contains(&w), "{w}");
        assert!(text_width("WWW", 12.0, false) > text_width("iii", 12.0, false) * 3.0);
        assert_eq!(text_width("日本", 10.0, false), 2.0 * 10.0 * weight(false));
    }
}
