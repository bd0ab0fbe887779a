//! Edge routes: polylines from the source box's border to the target box's, through the edge's dummy
//! positions, and their smoothing into cubic Bézier curves ([`bezier`], [`svg_path`]).
//!
//! Routes are built so that every piece stays in space no box occupies. A chain leaves its lower box from the
//! side facing the next layer and runs straight through each layer it crosses at its dummy's position: the
//! dummy's slot, which Brandes–Köpf keeps at least `node_gap` from every box. All bends happen in the gaps
//! between layers. Edges inside one layer bow out into the gap after it, self-loops hug their box. The
//! smoothing puts each curve's control points inside the bounding box of the two points it joins, and a
//! Bézier curve stays inside the hull of its control points, so the drawn curve never enters a box either.
//! O(points).

use super::{Direction, Point};

/// The layout in layer-axis (`along`) and cross-axis (`across`) coordinates, before turning to x/y.
pub(crate) struct Frame<'a> {
    /// Start and thickness of each layer along the layer axis.
    pub columns: &'a [(f64, f64)],
    pub layer_gap: f64,
    pub direction: Direction,
}

/// A node's box as the router needs it: its layer, how far it reaches along the layer axis from the layer's
/// start, and its centre and extent across.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Anchor {
    pub layer: usize,
    pub along: f64,
    pub across: f64,
    pub extent: f64,
}

impl Frame<'_> {
    pub fn point(&self, along: f64, across: f64) -> Point {
        to_point(along, across, self.direction)
    }

    /// From the lower-layer box `from` through dummies (layer, across) to the higher-layer box `to`.
    pub fn chain(&self, from: Anchor, dummies: impl Iterator<Item = (usize, f64)>, to: Anchor) -> Vec<Point> {
        let (start, width) = self.columns[from.layer];
        let mut route = Route::default();
        route.push(self.point(start + from.along, from.across));
        route.push(self.point(start + width, from.across));
        for (layer, across) in dummies {
            let (start, width) = self.columns[layer];
            route.push(self.point(start, across));
            route.push(self.point(start + width, across));
        }
        route.push(self.point(self.columns[to.layer].0, to.across));
        route.0
    }

    /// An arc between two boxes of one layer, bowing into the gap after it.
    pub fn flat(&self, from: Anchor, to: Anchor) -> Vec<Point> {
        let (start, width) = self.columns[from.layer];
        let bend = start + width + 0.4 * self.layer_gap;
        let mut route = Route::default();
        route.push(self.point(start + from.along, from.across));
        route.push(self.point(start + width, from.across));
        route.push(self.point(bend, (from.across + to.across) / 2.0));
        route.push(self.point(start + width, to.across));
        route.push(self.point(start + to.along, to.across));
        route.0
    }

    /// A small loop on the box's far side, within its own band across the layer.
    pub fn self_loop(&self, node: Anchor) -> Vec<Point> {
        let side = self.columns[node.layer].0 + node.along;
        let reach = f64::min(0.4 * self.layer_gap, node.extent / 2.0);
        vec![
            self.point(side, node.across - node.extent / 4.0),
            self.point(side + reach, node.across),
            self.point(side, node.across + node.extent / 4.0),
        ]
    }
}

/// A polyline that drops repeated points (a box as thick as its layer needs no stub to the layer's edge).
#[derive(Default)]
struct Route(Vec<Point>);

impl Route {
    fn push(&mut self, p: Point) {
        if self.0.last() != Some(&p) {
            self.0.push(p);
        }
    }
}

fn to_point(along: f64, across: f64, direction: Direction) -> Point {
    match direction {
        Direction::LeftToRight => Point { x: along, y: across },
        Direction::TopToBottom => Point { x: across, y: along },
    }
}

fn along(p: Point, direction: Direction) -> f64 {
    match direction {
        Direction::LeftToRight => p.x,
        Direction::TopToBottom => p.y,
    }
}

/// Cubic Bézier segments `[start, control, control, end]` through `points`. Each point's tangent runs along
/// the layer axis, except where the route turns back (an arc's or loop's apex), where it runs across; control
/// points sit halfway along the segment on that axis, so each segment stays within its endpoints' bounding box.
pub fn bezier(points: &[Point], direction: Direction) -> Vec<[Point; 4]> {
    let turns = |i: usize| {
        let step = |a: Point, b: Point| along(b, direction) - along(a, direction);
        i > 0 && i + 1 < points.len() && step(points[i - 1], points[i]) * step(points[i], points[i + 1]) < 0.0
    };
    points
        .windows(2)
        .enumerate()
        .map(|(i, pair)| {
            let (a, b) = (pair[0], pair[1]);
            let mid = Point { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 };
            let control = |p: Point, across: bool| {
                let along_x = matches!(direction, Direction::LeftToRight) != across;
                if along_x { Point { x: mid.x, y: p.y } } else { Point { x: p.x, y: mid.y } }
            };
            [a, control(a, turns(i)), control(b, turns(i + 1)), b]
        })
        .collect()
}

/// SVG path data (`M … C …`) for [`bezier`]'s curve through `points`; empty for fewer than two points.
pub fn svg_path(points: &[Point], direction: Direction) -> String {
    let segments = bezier(points, direction);
    let Some(first) = segments.first() else { return String::new() };
    let mut path = format!("M{:.1},{:.1}", first[0].x, first[0].y);
    for [_, c1, c2, end] in segments {
        path.push_str(&format!(" C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}", c1.x, c1.y, c2.x, c2.y, end.x, end.y));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    fn inside(q: Point, a: Point, b: Point) -> bool {
        q.x >= a.x.min(b.x) && q.x <= a.x.max(b.x) && q.y >= a.y.min(b.y) && q.y <= a.y.max(b.y)
    }

    #[test]
    fn control_points_stay_within_each_segments_box() {
        let routes = [
            vec![p(0.0, 0.0), p(40.0, 30.0), p(100.0, 30.0), p(140.0, -10.0)],
            vec![p(10.0, 0.0), p(30.0, 20.0), p(10.0, 40.0)],
        ];
        for direction in [Direction::LeftToRight, Direction::TopToBottom] {
            for route in &routes {
                for [a, c1, c2, b] in bezier(route, direction) {
                    assert!(inside(c1, a, b) && inside(c2, a, b));
                }
            }
        }
    }

    #[test]
    fn tangents_turn_across_only_at_an_apex() {
        let segments = bezier(&[p(10.0, 0.0), p(30.0, 20.0), p(10.0, 40.0)], Direction::LeftToRight);
        // Leaving the start along x, arriving at the apex along y.
        assert_eq!(segments[0][1], p(20.0, 0.0));
        assert_eq!(segments[0][2], p(30.0, 10.0));
        assert_eq!(segments[1][1], p(30.0, 30.0));
        assert_eq!(segments[1][2], p(20.0, 40.0));
    }

    #[test]
    fn svg_path_data() {
        assert_eq!(svg_path(&[p(0.0, 0.0)], Direction::LeftToRight), "");
        assert_eq!(
            svg_path(&[p(0.0, 0.0), p(10.0, 20.0)], Direction::LeftToRight),
            "M0.0,0.0 C5.0,0.0 5.0,20.0 10.0,20.0"
        );
        assert_eq!(
            svg_path(&[p(0.0, 0.0), p(10.0, 20.0)], Direction::TopToBottom),
            "M0.0,0.0 C0.0,10.0 10.0,10.0 10.0,20.0"
        );
    }

    #[test]
    fn chains_drop_repeated_points_and_cross_layers_straight() {
        let columns = [(0.0, 100.0), (180.0, 0.0), (260.0, 100.0)];
        let frame = Frame { columns: &columns, layer_gap: 80.0, direction: Direction::LeftToRight };
        let from = Anchor { layer: 0, along: 100.0, across: 22.0, extent: 44.0 };
        let to = Anchor { layer: 2, along: 60.0, across: 80.0, extent: 44.0 };
        assert_eq!(
            frame.chain(from, [(1, 50.0)].into_iter(), to),
            vec![p(100.0, 22.0), p(180.0, 50.0), p(260.0, 80.0)]
        );
        let narrow = Anchor { along: 60.0, ..from };
        assert_eq!(frame.chain(narrow, std::iter::empty(), to), vec![p(60.0, 22.0), p(100.0, 22.0), p(260.0, 80.0)]);
    }
}
