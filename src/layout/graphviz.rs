//! Graphviz `dot` as the yardstick for crossing reduction.
//!
//! [`to_dot`] writes an input as DOT over exactly the proper layered graph that [`super::layout`] orders: every
//! dummy an explicit tiny `point` node, every layer one `{rank=same; …}`, every segment pointing from the lower
//! layer to the higher, so that dot's ranking matches the given layers and its crossing reduction works on the
//! same graph. [`parse_plain`] reads dot's order within each layer back from `-Tplain` output, and [`order`]
//! runs `dot` and counts its crossings with [`super::count_crossings`], comparable with [`super::Layout`]'s.
//! Self-loops and edges inside one layer are left out: neither is counted. Std only; `dot` is looked up on PATH.

use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Input, count_crossings, layered};

/// The proper layered graph with global ids: input nodes keep theirs, dummies follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proper {
    /// Layer of each vertex.
    pub layer: Vec<usize>,
    /// Number of input nodes: ids from here on are dummies.
    pub nodes: usize,
    /// Segments between adjacent layers, as (upper, lower).
    pub segments: Vec<(usize, usize)>,
}

impl Proper {
    pub fn new(input: &Input) -> Self {
        let nodes = input.layer.len();
        let mut layer = input.layer.clone();
        let mut segments = Vec::new();
        for g in layered::build(&input.layer, &input.edges).components {
            let first_dummy = layer.len();
            let global = |v: usize| if g.is_dummy(v) { first_dummy + v - g.nodes.len() } else { g.nodes[v] };
            layer.extend((g.nodes.len()..g.len()).map(|v| g.base + g.layer[v]));
            segments.extend(g.segments().map(|(u, w)| (global(u), global(w))));
        }
        Self { layer, nodes, segments }
    }
}

/// What `dot` made of an input.
#[derive(Debug, Clone)]
pub struct DotOrder {
    pub proper: Proper,
    /// Ids in each layer, in dot's order.
    pub order: Vec<Vec<usize>>,
    pub crossings: usize,
    /// Wall time of the `dot` process, start-up included.
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum Error {
    /// No `dot` on PATH.
    NotInstalled,
    /// `dot` could not be run or failed; its message.
    Failed(String),
    /// Its output lacked a vertex or could not be read.
    Unparsable(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInstalled => write!(f, "Graphviz `dot` is not installed (not found on PATH)"),
            Self::Failed(message) => write!(f, "`dot` failed: {message}"),
            Self::Unparsable(message) => write!(f, "cannot read `dot -Tplain` output: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// DOT for `proper`, left to right, with `input`'s box sizes (points → inches).
pub fn to_dot(input: &Input, proper: &Proper) -> String {
    let mut dot = String::from("digraph layered {\n  rankdir=LR;\n  node [shape=box, fixedsize=true, label=\"\"];\n");
    for (v, &(w, h)) in input.sizes.iter().enumerate().take(proper.nodes) {
        let _ = writeln!(dot, "  v{v} [width={:.3}, height={:.3}];", w / 72.0, h / 72.0);
    }
    for v in proper.nodes..proper.layer.len() {
        let _ = writeln!(dot, "  v{v} [shape=point, width=0.01, height=0.01];");
    }
    for row in layers(proper) {
        dot.push_str("  {rank=same;");
        for v in row {
            let _ = write!(dot, " v{v};");
        }
        dot.push_str("}\n");
    }
    for &(u, w) in &proper.segments {
        let _ = writeln!(dot, "  v{u} -> v{w};");
    }
    dot.push_str("}\n");
    dot
}

fn layers(proper: &Proper) -> Vec<Vec<usize>> {
    let count = proper.layer.iter().max().map_or(0, |&m| m + 1);
    let mut rows = vec![Vec::new(); count];
    for (v, &l) in proper.layer.iter().enumerate() {
        rows[l].push(v);
    }
    rows
}

/// Dot's order within each layer of `proper`, from `dot -Tplain` output of a left-to-right graph: top to
/// bottom, i.e. by falling y.
pub fn parse_plain(plain: &str, proper: &Proper) -> Result<Vec<Vec<usize>>, Error> {
    let mut at: Vec<Option<(f64, f64)>> = vec![None; proper.layer.len()];
    for line in plain.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let ["node", name, x, y, ..] = fields[..] else { continue };
        let id = name.strip_prefix('v').and_then(|id| id.parse::<usize>().ok());
        let (Some(id), Ok(x), Ok(y)) = (id, x.parse::<f64>(), y.parse::<f64>()) else {
            return Err(Error::Unparsable(format!("bad node line `{line}`")));
        };
        if let Some(slot) = at.get_mut(id) {
            *slot = Some((x, y));
        }
    }
    layers(proper)
        .into_iter()
        .map(|mut row| {
            let mut keyed = Vec::with_capacity(row.len());
            for &v in &row {
                let (x, y) = at[v].ok_or_else(|| Error::Unparsable(format!("vertex v{v} missing")))?;
                keyed.push((-y, x, v));
            }
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            row.clear();
            row.extend(keyed.into_iter().map(|(_, _, v)| v));
            Ok(row)
        })
        .collect()
}

/// Runs `dot -Tplain` on `input`'s proper layered graph and counts the crossings of its order.
pub fn order(input: &Input) -> Result<DotOrder, Error> {
    let proper = Proper::new(input);
    let source = to_dot(input, &proper);
    let started = Instant::now();
    let plain = run_dot(&source)?;
    let elapsed = started.elapsed();
    let order = parse_plain(&plain, &proper)?;
    let crossings = count_crossings(&order, &proper.segments);
    Ok(DotOrder { proper, order, crossings, elapsed })
}

fn run_dot(source: &str) -> Result<String, Error> {
    let spawned =
        Command::new("dot").arg("-Tplain").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match spawned {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::NotInstalled),
        Err(e) => return Err(Error::Failed(e.to_string())),
        Ok(child) => child,
    };
    let mut stdin = child.stdin.take().ok_or_else(|| Error::Failed("no stdin".into()))?;
    // Feed stdin from another thread so a large graph cannot deadlock against a full stdout pipe.
    let output = std::thread::scope(|scope| {
        let writer = scope.spawn(move || stdin.write_all(source.as_bytes()));
        let output = child.wait_with_output();
        (writer.join(), output)
    });
    let output = match output {
        (Ok(Ok(())), Ok(output)) => output,
        (Ok(Err(e)), _) | (_, Err(e)) => return Err(Error::Failed(e.to_string())),
        (Err(_), _) => return Err(Error::Failed("writing to dot panicked".into())),
    };
    if !output.status.success() {
        return Err(Error::Failed(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    String::from_utf8(output.stdout).map_err(|e| Error::Unparsable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::{Options, layout, testing};
    use super::*;

    #[test]
    fn dot_source_has_explicit_dummies_and_one_rank_per_layer() {
        let input = Input { sizes: vec![(72.0, 36.0); 3], layer: vec![0, 2, 2], edges: vec![(1, 0), (1, 2), (2, 2)] };
        let proper = Proper::new(&input);
        assert_eq!(proper, Proper { layer: vec![0, 2, 2, 1], nodes: 3, segments: vec![(0, 3), (3, 1)] });
        let dot = to_dot(&input, &proper);
        assert!(dot.contains("  v0 [width=1.000, height=0.500];\n"));
        assert!(dot.contains("  v3 [shape=point, width=0.01, height=0.01];\n"));
        assert!(dot.contains("  {rank=same; v1; v2;}\n"));
        assert!(dot.contains("  v0 -> v3;\n  v3 -> v1;\n"));
        assert!(!dot.contains("v2 -> v2") && !dot.contains("v1 -> v2"));
    }

    #[test]
    fn plain_output_is_read_top_to_bottom_per_layer() {
        let proper = Proper { layer: vec![0, 1, 1], nodes: 3, segments: vec![(0, 1), (0, 2)] };
        let plain = "graph 1 4 2\nnode v0 0.5 1 1 0.5 \"\" solid box black lightgrey\n\
                     node v1 2.5 0.5 1 0.5 \"\" solid box black lightgrey\n\
                     node v2 2.5 1.5 1 0.5 \"\" solid box black lightgrey\n\
                     edge v0 v1 4 1 1 2 1 2 1 2.5 0.5 solid black\nstop\n";
        assert_eq!(parse_plain(plain, &proper).ok(), Some(vec![vec![0], vec![2, 1]]));
        assert!(matches!(parse_plain("stop\n", &proper), Err(Error::Unparsable(_))));
    }

    /// Needs `dot`: ignored where it is missing (`cfg(has_graphviz)`, set by build.rs), except
    /// under CI=true, where that fails.
    #[test]
    #[cfg_attr(not(has_graphviz), ignore = "needs Graphviz `dot` on PATH (apt-get install graphviz)")]
    fn we_cross_no_more_than_dot_on_the_same_layered_graphs() {
        for (name, input) in [("example", testing::example()), ("flux_like(200)", testing::flux_like(200, 1))] {
            let dot = order(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut ids: Vec<usize> = dot.order.concat();
            ids.sort_unstable();
            assert_eq!(ids, (0..dot.proper.layer.len()).collect::<Vec<_>>());
            let ours = layout(&input, &Options::default());
            assert!(ours.crossings <= dot.crossings, "{name}: {} crossings, dot {}", ours.crossings, dot.crossings);
        }
    }
}
