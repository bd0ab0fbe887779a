//! YAML text → [`Document`]s: a tree of [`Node`]s, each with its 1-based line.
//!
//! Takes the text of one file and gives its documents, one `Result` each, so that one bad
//! document does not hide the others (the stream is split at `---` lines and each part
//! parsed alone). Anchors, aliases and merge keys (`<<`) are resolved; tags are ignored,
//! except `!!str`; plain scalars are typed as kustomize's reader (Go's yaml.v3) types them
//! ([`super::scalar`]), and numbers keep the text they were written with (`1.10` stays `1.10`).
//!
//! The events come from granit-parser, the YAML parser serde-saphyr is built on. We checked
//! serde-saphyr itself (multi-document, anchors with merge keys, `Spanned<T>` lines on nested
//! fields all work), but every later stage needs an untyped tree with a line on every node,
//! and building that through serde with `Spanned` cost 3.4× the parser's own time on a
//! 42,000-file repository (1.04 s against 0.30 s, one thread). So the tree is built here,
//! from the parser's events, in one pass.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use granit_parser::{Event, Parser, ScalarStyle, Tag};

use super::scalar::{Number, number};

/// One YAML node and the line it starts on (1-based; 0 when not known).
#[derive(Debug, Clone)]
pub struct Node {
    pub line: u32,
    pub value: Value,
    /// A null written as nothing at all (`key:`), which kustomize's strategic merge drops
    /// from the object it patches (`~` and `null` it keeps).
    pub empty: bool,
}

/// Equal by line and value: `empty` is how a null was written, which a trip through JSON (a JSON
/// 6902 patch) forgets, and a patch that changes nothing must compare equal.
impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.line == other.line && self.value == other.value
    }
}

/// The value of a node. Mapping keys are kept as strings, in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// An integer or float, as written.
    Number(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// A parsed document of a file: its root node and the line its content starts on.
#[derive(Debug, Clone)]
pub struct Document {
    pub line: u32,
    /// Shared, so that every build holding the document can use it without a copy.
    pub root: Arc<Node>,
    /// Whether the document's text has a `$` anywhere (comments too): only then can it
    /// hold a `${VAR}` for postBuild. Found with one byte search as the file is read.
    pub has_dollar: bool,
}

/// Why a document could not be parsed, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: u32,
    pub message: String,
}

/// Alias expansion beyond this many nodes in one document is refused ("billion laughs").
const MAX_NODES: usize = 2_000_000;

impl Node {
    pub fn new(line: u32, value: Value) -> Node {
        Node { line, value, empty: false }
    }

    /// The child under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of mapping keys.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| node.get(key))
    }

    /// The text of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as text, whatever its type (`8080` and `"8080"` alike).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) | Value::Number(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Gives this node and every node below it `line`: what is written out of one place (a
    /// template, a substituted text) is shown at that place.
    pub fn set_line_everywhere(&mut self, line: u32) {
        self.line = line;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_line_everywhere(line)),
            Value::Map(entries) => entries.iter_mut().for_each(|(_, n)| n.set_line_everywhere(line)),
            _ => {}
        }
    }

    /// A string or number scalar's text, borrowed.
    pub fn scalar_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) | Value::Number(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s == "true" => Some(true),
            Value::Str(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }

    /// Calls `f` on every string scalar and every mapping key, in place.
    pub fn visit_strings_mut(&mut self, f: &mut impl FnMut(&mut String, u32)) {
        let line = self.line;
        match &mut self.value {
            Value::Str(s) => f(s, line),
            Value::Seq(items) => items.iter_mut().for_each(|n| n.visit_strings_mut(f)),
            Value::Map(entries) => {
                for (k, v) in entries {
                    f(k, v.line);
                    v.visit_strings_mut(f);
                }
            }
            _ => {}
        }
    }

    /// Calls `f` with every string scalar and key, and its line, without changing anything.
    pub fn visit_strings(&self, f: &mut impl FnMut(&str, u32)) {
        match &self.value {
            Value::Str(s) => f(s, self.line),
            Value::Seq(items) => items.iter().for_each(|n| n.visit_strings(f)),
            Value::Map(entries) => {
                for (k, v) in entries {
                    f(k, v.line);
                    v.visit_strings(f);
                }
            }
            _ => {}
        }
    }

    /// Whether any string scalar or key contains the ASCII byte `needle`. Every manifest of every
    /// build is asked for `$`, so this is a byte search (memchr), not a `char` pattern.
    pub fn any_string_contains(&self, needle: u8) -> bool {
        debug_assert!(needle.is_ascii(), "a byte of a multi-byte character would match inside others");
        match &self.value {
            Value::Str(s) => s.as_bytes().contains(&needle),
            Value::Seq(items) => items.iter().any(|n| n.any_string_contains(needle)),
            Value::Map(entries) => entries.iter().any(|(k, v)| k.as_bytes().contains(&needle) || v.any_string_contains(needle)),
            _ => false,
        }
    }

    /// Converts to JSON, for patching and for output. Lines are lost.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => number(n).and_then(Number::to_json).unwrap_or_else(|| J::String(n.clone())),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                J::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// Converts back from JSON after a patch. Nodes that still exist at the same place in
    /// `old` keep their lines; new ones take the line of their nearest surviving parent.
    pub fn from_json(json: &serde_json::Value, old: Option<&Node>, line: u32) -> Node {
        use serde_json::Value as J;
        let line = old.map_or(line, |o| o.line);
        let value = match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match old.map(|o| &o.value) {
                // Keep the text the number was written with when the patch left it alone.
                Some(Value::Number(text)) if Node::new(0, Value::Number(text.clone())).to_json() == *json => {
                    Value::Number(text.clone())
                }
                _ => Value::Number(n.to_string()),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Seq(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Node::from_json(v, old.and_then(|o| o.as_seq().get(i)), line))
                    .collect(),
            ),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v, old.and_then(|o| o.get(k)), line)))
                    .collect(),
            ),
        };
        Node::new(line, value)
    }
}

/// A node written back out (YAML or JSON) as the value it is, as kustomize writes it: maps keep
/// their order, numbers are the numbers Go reads (`0775` is 509, `7.0` is 7; [`number`]).
impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.value {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => match number(n).and_then(Number::to_json) {
                Some(serde_json::Value::Number(j)) if j.is_i64() => serializer.serialize_i64(j.as_i64().unwrap_or_default()),
                Some(serde_json::Value::Number(j)) if j.is_u64() => serializer.serialize_u64(j.as_u64().unwrap_or_default()),
                Some(serde_json::Value::Number(j)) => serializer.serialize_f64(j.as_f64().unwrap_or_default()),
                _ => serializer.serialize_str(n),
            },
            Value::Str(s) => serializer.serialize_str(s),
            Value::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How plain scalars are typed: as kustomize reads its files (yaml.v3), or as sigs.k8s.io/yaml
/// reads a JSON 6902 patch and kustomize-controller a substituted manifest (yaml.v2, YAML 1.1:
/// `yes` and `on` are booleans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schema {
    #[default]
    Go,
    Yaml11,
}

/// Parses every document of a file. A leading BOM and CRLF line ends are accepted.
/// Empty documents (only comments) are skipped.
pub fn parse_documents(text: &str) -> Vec<Result<Document, YamlError>> {
    parse_documents_with(text, Schema::Go)
}

/// [`parse_documents`] with plain scalars typed by `schema`.
pub fn parse_documents_with(text: &str, schema: Schema) -> Vec<Result<Document, YamlError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    split_documents(text)
        .filter_map(|(first_line, chunk)| parse_one(chunk, first_line, schema).transpose())
        .collect()
}

/// Splits a stream at `---` lines so that each document is parsed on its own.
/// Yields the 1-based line of each chunk's first line and the chunk.
fn split_documents(text: &str) -> impl Iterator<Item = (u32, &str)> {
    let mut starts = vec![(1u32, 0usize)];
    let mut offset = 0usize;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let is_marker = raw.starts_with("---")
            && raw[3..].chars().next().is_none_or(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if is_marker && offset > 0 {
            starts.push((index as u32 + 1, offset));
        }
        offset += raw.len();
    }
    let ends: Vec<usize> = starts.iter().skip(1).map(|&(_, o)| o).chain([text.len()]).collect();
    starts.into_iter().zip(ends).map(move |((line, start), end)| (line, &text[start..end]))
}

fn parse_one(chunk: &str, first_line: u32, schema: Schema) -> Result<Option<Document>, YamlError> {
    if chunk.lines().all(is_blank_or_marker) {
        return Ok(None);
    }
    match parse_events(chunk, first_line, schema) {
        // Go's YAML reader (libyaml's scanner) ends an anchor or alias name at the first
        // character that is not a letter, digit, `_` or `-`, so `*app:` is the alias `app`
        // used as a key. YAML 1.2 reads `app:` as the name; where that fails, read it as Go does.
        Err(e) => match go_anchor_names(chunk) {
            Some(rewritten) => parse_events(&rewritten, first_line, schema).map_err(|_| e),
            None => Err(e),
        },
        ok => ok,
    }
}

/// `chunk` with a space between an anchor or alias name and a `:` that ends it in Go's
/// reader, or `None` when there is none.
#[cold]
#[inline(never)]
fn go_anchor_names(chunk: &str) -> Option<String> {
    let bytes = chunk.as_bytes();
    let mut out = String::with_capacity(chunk.len() + 8);
    let mut last = 0;
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts = (c == b'*' || c == b'&') && (i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'[' | b'{' | b','));
        if starts {
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'-') {
                j += 1;
            }
            if j > i + 1 && bytes.get(j) == Some(&b':') {
                out.push_str(&chunk[last..j]);
                out.push(' ');
                last = j;
                changed = true;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out.push_str(&chunk[last..]);
    changed.then_some(out)
}

fn parse_events(chunk: &str, first_line: u32, schema: Schema) -> Result<Option<Document>, YamlError> {
    let offset = first_line - 1;
    let mut builder = Builder { schema, ..Builder::default() };
    // Only a block scalar on the text's last line can end without a line break.
    let ends_on_text = !chunk.rsplit('\n').next().unwrap_or("").trim().is_empty();
    for event in Parser::new_from_str(chunk) {
        let (event, span) = event.map_err(|e| YamlError {
            line: e.marker().line() as u32 + offset,
            message: e.info(),
        })?;
        let line = span.start.line() as u32 + offset;
        let event = match event {
            Event::Scalar(text, style, anchor, tag)
                if ends_on_text && matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) =>
            {
                let end = span.end.byte_offset().unwrap_or(span.end.index());
                let start = span.start.byte_offset().unwrap_or(span.start.index());
                let header = chunk.get(start..).and_then(|h| h.lines().next()).unwrap_or("");
                let text = if end >= chunk.len() && !header.contains('+') { at_end_without_break(text) } else { text };
                Event::Scalar(text, style, anchor, tag)
            }
            event => event,
        };
        // A value written as nothing reads as `~` with an empty span.
        let empty = matches!(event, Event::Scalar(_, ScalarStyle::Plain, _, None)) && span.start.index() == span.end.index();
        if let Some(root) = builder.push(event, line, empty)? {
            return Ok(Some(Document { line: root.line, root: Arc::new(root), has_dollar: chunk.as_bytes().contains(&b'$') }));
        }
    }
    Ok(None)
}

/// A block scalar whose last line ends the text without a line break: Go's reader has no line
/// break to keep, so it ends without one (a patch written `|-` that holds a `|` block).
#[cold]
#[inline(never)]
fn at_end_without_break(text: Cow<'_, str>) -> Cow<'_, str> {
    match text.strip_suffix('\n') {
        Some(stripped) => Cow::Owned(stripped.to_string()),
        None => text,
    }
}

fn is_blank_or_marker(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
}

/// A collection being built, with the anchor to record it under when it closes.
enum Open {
    Seq { line: u32, anchor: usize, items: Vec<Node> },
    Map(OpenMap),
}

/// A mapping being built. `seen` holds its keys once it has more than [`SMALL_MAP`] of them,
/// so that a duplicate is found in constant time, not by a scan of every key before it (one
/// mapping of 80,000 keys took 8.8 s with a scan).
struct OpenMap {
    line: u32,
    anchor: usize,
    entries: Vec<(String, Node)>,
    /// The key waiting for its value, and its line.
    key: Option<(String, u32)>,
    merged: Vec<Node>,
    seen: Option<HashSet<String>>,
}

/// Up to this many keys a scan is faster than hashing (most Kubernetes mappings are this small).
const SMALL_MAP: usize = 16;

impl OpenMap {
    fn contains(&self, key: &str) -> bool {
        match &self.seen {
            Some(seen) => seen.contains(key),
            None => self.entries.iter().any(|(e, _)| e == key),
        }
    }

    /// Adds an entry whose key is known not to be there yet.
    fn insert(&mut self, key: String, node: Node) {
        if let Some(seen) = &mut self.seen {
            seen.insert(key.clone());
        } else if self.entries.len() >= SMALL_MAP {
            let mut seen: HashSet<String> = self.entries.iter().map(|(k, _)| k.clone()).collect();
            seen.insert(key.clone());
            self.seen = Some(seen);
        }
        self.entries.push((key, node));
    }
}

/// Builds one document's tree from parser events.
#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    schema: Schema,
}

impl Builder {
    /// Takes one event; returns the root once the document's top node is complete.
    fn push(&mut self, event: Event<'_>, line: u32, empty: bool) -> Result<Option<Node>, YamlError> {
        let error = |message: String| YamlError { line, message };
        let node = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let value = match self.schema {
                    Schema::Yaml11 if style == ScalarStyle::Plain && tag.is_none() => super::scalar::resolve_v2(&text),
                    _ => scalar(text, style, tag.as_deref()),
                };
                let node = Node { line, value, empty };
                self.remember(anchor, &node);
                node
            }
            Event::Alias(id) => {
                let mut node = self.anchors.get(&id).cloned().ok_or_else(|| error("alias to an unknown anchor".into()))?;
                node.line = line;
                self.nodes += count(&node);
                node
            }
            Event::SequenceStart(_, anchor, _) => {
                self.stack.push(Open::Seq { line, anchor, items: Vec::new() });
                return Ok(None);
            }
            Event::MappingStart(_, anchor, _) => {
                self.stack.push(Open::Map(OpenMap { line, anchor, entries: Vec::new(), key: None, merged: Vec::new(), seen: None }));
                return Ok(None);
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq { line, anchor, items }) => {
                    let node = Node::new(line, Value::Seq(items));
                    self.remember(anchor, &node);
                    node
                }
                Some(Open::Map(map)) => {
                    let (line, anchor) = (map.line, map.anchor);
                    let node = Node::new(line, Value::Map(merge(map)));
                    self.remember(anchor, &node);
                    node
                }
                None => return Err(error("unbalanced collection end".into())),
            },
            _ => return Ok(None),
        };
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(error(format!("more than {MAX_NODES} nodes after alias expansion")));
        }
        self.attach(node)
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    /// Puts a finished node into its parent; returns it when it has none (the root).
    /// A key that the mapping already holds is an error: Flux reads YAML strictly
    /// (sigs.k8s.io/yaml refuses `mapping key "wait" already defined`), so the document fails.
    fn attach(&mut self, node: Node) -> Result<Option<Node>, YamlError> {
        match self.stack.last_mut() {
            None => return Ok(Some(node)),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map(map)) => match map.key.take() {
                None => {
                    let line = node.line;
                    map.key = Some((key_text(node), line));
                }
                Some((k, _)) if k == "<<" && !matches!(node.value, Value::Str(_)) => map.merged.push(node),
                Some((k, line)) => {
                    if map.contains(&k) {
                        return Err(YamlError { line, message: format!("duplicate key {k}") });
                    }
                    map.insert(k, node);
                }
            },
        }
        Ok(None)
    }
}

/// Merge keys: the merged mappings' entries, unless the mapping sets the key itself; of
/// several merged mappings, the first one that has a key wins.
fn merge(mut map: OpenMap) -> Vec<(String, Node)> {
    for source in std::mem::take(&mut map.merged) {
        let maps = match source.value {
            Value::Seq(items) => items,
            value => vec![Node::new(source.line, value)],
        };
        for source_map in maps {
            if let Value::Map(extra) = source_map.value {
                for (k, v) in extra {
                    if !map.contains(&k) {
                        map.insert(k, v);
                    }
                }
            }
        }
    }
    map.entries
}

fn count(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count).sum(),
        Value::Map(entries) => entries.iter().map(|(_, v)| count(v)).sum(),
        _ => 0,
    }
}

fn key_text(node: Node) -> String {
    match node.value {
        Value::Str(s) | Value::Number(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        // Complex keys never occur in Kubernetes manifests; keep them visible, not lost.
        Value::Seq(_) | Value::Map(_) => node.to_json().to_string(),
    }
}

/// What a plain (unquoted) scalar with this text reads as: a writer quotes a string
/// whose plain form would read as something else.
pub(crate) fn plain_scalar(text: &str) -> Value {
    scalar(Cow::Borrowed(text), ScalarStyle::Plain, None)
}

/// YAML 1.2 core schema for plain scalars; quoted and block scalars are strings.
/// Kept out of the event loop: inlined there, it spread the parser's hot code over more
/// instruction cache than it has (a tenth more misses on a large repository).
#[inline(never)]
fn scalar(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if style == ScalarStyle::Folded {
        return Value::Str(go_folding(&text));
    }
    if style != ScalarStyle::Plain || tag.is_some_and(|t| t.is_yaml_core_schema_tag("str")) {
        return Value::Str(text.into_owned());
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        t if is_number(t) => Value::Number(text.into_owned()),
        _ => Value::Str(text.into_owned()),
    }
}

/// A folded (`>`) scalar as Go's YAML reader folds it: where a more-indented line follows a
/// normal one, it keeps one line break more than YAML says (`a\n  b` is `a\n\n  b`). kustomize
/// reads files with it, so that is what reaches the cluster. `text` is folded as YAML says.
#[cold]
#[inline(never)]
fn go_folding(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous_normal = false;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.is_empty() {
            let more_indented = line.starts_with([' ', '\t']);
            if more_indented && previous_normal {
                out.push('\n');
            }
            previous_normal = !more_indented;
        }
        out.push_str(line);
    }
    out
}

fn is_number(t: &str) -> bool {
    number(t).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<Result<Document, YamlError>> {
        parse_documents(text)
    }

    #[test]
    fn lines_of_documents_and_nested_keys() {
        let d = docs("---\napiVersion: v1\nkind: A\nspec:\n  dependsOn:\n    - name: x\n    - name: y\n---\n# c\n---\nkind: B\n");
        assert_eq!(d.len(), 2);
        let a = d[0].as_ref().unwrap();
        assert_eq!(a.line, 2);
        let deps = a.root.at(&["spec", "dependsOn"]).unwrap().as_seq();
        assert_eq!(deps[1].line, 7);
        assert_eq!(deps[1].get("name").unwrap().line, 7);
        assert_eq!(d[1].as_ref().unwrap().line, 11);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let d = docs("defaults: &d\n  interval: 10m\n  wait: true\nspec:\n  <<: *d\n  path: ./x\n");
        let spec = d[0].as_ref().unwrap().root.get("spec").unwrap();
        assert_eq!(spec.get("interval").unwrap().as_str(), Some("10m"));
        assert_eq!(spec.get("wait").unwrap().as_bool(), Some(true));
        assert_eq!(spec.get("path").unwrap().line, 6);
    }

    #[test]
    fn an_alias_used_as_a_key_ends_at_the_colon_as_in_go() {
        let d = docs("metadata:\n  name: &app ipmi-exporter\ncontrollers:\n  *app:\n    containers:\n      app:\n        image: x\n");
        let root = &d[0].as_ref().unwrap().root;
        assert_eq!(root.at(&["controllers", "ipmi-exporter", "containers", "app", "image"]).and_then(Node::as_str), Some("x"));
        assert_eq!(root.at(&["controllers", "ipmi-exporter", "containers", "app", "image"]).unwrap().line, 7);
    }

    #[test]
    fn bom_and_crlf() {
        let d = docs("\u{feff}---\r\nkind: A\r\nmetadata:\r\n  name: a\r\n---\r\nkind: B\r\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].as_ref().unwrap().root.at(&["metadata", "name"]).unwrap().as_str(), Some("a"));
        assert_eq!(d[1].as_ref().unwrap().line, 6);
    }

    #[test]
    fn one_bad_document_does_not_hide_the_others() {
        let d = docs("kind: A\n---\nkey: [unclosed\n---\nkind: C\n");
        assert_eq!(d.len(), 3);
        assert!(d[0].is_ok());
        assert_eq!(d[1].as_ref().unwrap_err().line, 3);
        assert_eq!(d[2].as_ref().unwrap().line, 5);
    }

    #[test]
    fn tags_duplicate_anchors_and_scalars() {
        let d = docs("a: !env_var FOO\nb: &k 1\nc: &k 2\nd: *k\nmatch: =\n");
        let root = &d[0].as_ref().unwrap().root;
        assert_eq!(root.get("a").unwrap().as_str(), Some("FOO"));
        assert_eq!(root.get("d").unwrap().value, Value::Number("2".into()));
        assert_eq!(root.get("match").unwrap().as_str(), Some("="));
    }

    #[test]
    fn scalars_keep_their_text() {
        let d = docs("version: 1.10\nport: 8080\nname: y\nquoted: \"true\"\nnothing: ~\non: yes\nhex: 0x1F\nneg: -1e3\nword: 1.2.3\n");
        let root = &d[0].as_ref().unwrap().root;
        assert_eq!(root.get("version").unwrap().scalar_text().as_deref(), Some("1.10"));
        assert_eq!(root.get("port").unwrap().value, Value::Number("8080".into()));
        assert_eq!(root.get("name").unwrap().as_str(), Some("y"));
        assert_eq!(root.get("quoted").unwrap().as_str(), Some("true"));
        assert_eq!(root.get("nothing").unwrap().value, Value::Null);
        assert_eq!(root.get("on").unwrap().as_str(), Some("yes"));
        assert_eq!(root.get("hex").unwrap().value, Value::Number("0x1F".into()));
        assert_eq!(root.get("neg").unwrap().value, Value::Number("-1e3".into()));
        assert_eq!(root.get("word").unwrap().as_str(), Some("1.2.3"));
    }

    #[test]
    fn folded_scalars_keep_a_break_more_before_a_more_indented_line_as_go_does() {
        let d = docs("a: >\n  x\n    y\n  z\nb: >\n  x\n\n    y\n    w\nc: >-\n  one\n  two\n");
        let root = &d[0].as_ref().unwrap().root;
        assert_eq!(root.get("a").unwrap().as_str(), Some("x\n\n  y\nz\n"));
        assert_eq!(root.get("b").unwrap().as_str(), Some("x\n\n\n  y\n  w\n"));
        assert_eq!(root.get("c").unwrap().as_str(), Some("one two"));
    }

    #[test]
    fn a_block_scalar_at_the_end_of_a_text_without_a_line_break_ends_without_one() {
        let d = docs("a: |\n  x\n  y");
        assert_eq!(d[0].as_ref().unwrap().root.get("a").unwrap().as_str(), Some("x\ny"));
        let d = docs("a: |\n  x\nb: 1");
        assert_eq!(d[0].as_ref().unwrap().root.get("a").unwrap().as_str(), Some("x\n"), "not at the end: clipped as usual");
        let d = docs("a: |\n  x\n");
        assert_eq!(d[0].as_ref().unwrap().root.get("a").unwrap().as_str(), Some("x\n"));
        let d = docs("a: |\n  x\n  ");
        assert_eq!(d[0].as_ref().unwrap().root.get("a").unwrap().as_str(), Some("x\n"), "a last line of blanks has the break before it");
    }

    #[test]
    fn numbers_are_written_as_go_reads_them() {
        let d = docs("mode: 0775
big: 1_000
float: 7.0
rate: 0.25
hex: 0x1F
");
        let json = d[0].as_ref().unwrap().root.to_json();
        assert_eq!(json, serde_json::json!({"mode": 509, "big": 1000, "float": 7, "rate": 0.25, "hex": 31}));
        let written = serde_json::to_value(&*d[0].as_ref().unwrap().root).unwrap();
        assert_eq!(written, json, "Serialize and to_json agree");
    }

    #[test]
    fn merge_key_lists_and_explicit_keys_win() {
        let d = docs("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 0\n");
        let c = d[0].as_ref().unwrap().root.get("c").unwrap().to_json();
        assert_eq!(c, serde_json::json!({"x": 0, "y": 1, "z": 2}));
    }

    #[test]
    fn a_duplicate_key_fails_its_document_at_its_line() {
        let d = docs("kind: A\nspec:\n  wait: true\n  path: ./x\n  wait:\n    false\n---\nkind: B\n");
        let e = d[0].as_ref().unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (5, "duplicate key wait"));
        assert!(d[1].is_ok());
        // The same key in two mappings, and a merged key set again, are not duplicates.
        let d = docs("a: {x: 1}\nb: {x: 1}\nc: &c {y: 1}\nd:\n  <<: *c\n  y: 2\n");
        assert!(d[0].is_ok());
    }

    #[test]
    fn a_large_mapping_keeps_its_order_and_finds_duplicates() {
        let mut text: String = (0..80_000).map(|i| format!("k{i}: {i}\n")).collect();
        let d = docs(&text);
        let root = &d[0].as_ref().unwrap().root;
        assert_eq!(root.entries().len(), 80_000);
        assert_eq!(root.entries()[79_999].0, "k79999");
        assert_eq!(root.get("k40000").unwrap().line, 40_001);
        text.push_str("k17: again\n");
        let e = docs(&text).remove(0).unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (80_001, "duplicate key k17"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
        }
        let d = docs(&text);
        assert!(d[0].as_ref().unwrap_err().message.contains("alias expansion"));
    }
}
