//! YAML text → [`Document`]s: a tree of [`Node`]s, each with its 1-based line.
//!
//! Takes the text of one file and gives its documents, one `Result` each, so that one
//! bad document does not hide the others. Parsing is serde-saphyr's (anchors, aliases,
//! merge keys, tags ignored); we deserialize into our own untyped tree because every later
//! stage (kustomize resolution, patches, substitution, typed Flux objects) works on whole
//! manifests and still needs the line of any node it reports on.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// One YAML node and the line it starts on (1-based; 0 when not known).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub value: Value,
}

/// The value of a node. Mapping keys are kept as strings, in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// A parsed document of a file: its root node and the line its content starts on.
#[derive(Debug, Clone)]
pub struct Document {
    pub line: u32,
    pub root: Node,
}

/// Why a document could not be parsed, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub line: u32,
    pub message: String,
}

impl Node {
    pub fn new(line: u32, value: Value) -> Node {
        Node { line, value }
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

    /// The text of a scalar: strings as they are, numbers and booleans as YAML writes them.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as text, whatever its type (`8080` and `"8080"` alike).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
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

    /// Converts to JSON, for patching and for output. Lines are lost.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
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
            J::Number(n) => n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int),
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
        Node { line, value }
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses every document of a file. A leading BOM and CRLF line ends are accepted.
/// Empty documents (only comments) are skipped.
pub fn parse_documents(text: &str) -> Vec<Result<Document, YamlError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    split_documents(text)
        .filter_map(|(first_line, chunk)| parse_one(chunk, first_line).transpose())
        .collect()
}

/// Splits a stream at `---` lines so that each document is parsed on its own.
/// Yields the 1-based line of each chunk's first line and the chunk.
fn split_documents(text: &str) -> impl Iterator<Item = (u32, &str)> {
    let mut starts = vec![(1u32, 0usize)];
    let mut line = 1u32;
    let mut offset = 0usize;
    for raw in text.split_inclusive('\n') {
        let is_marker = raw.starts_with("---")
            && raw[3..].chars().next().is_none_or(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n');
        if is_marker && offset > 0 {
            starts.push((line, offset));
        }
        offset += raw.len();
        line += 1;
    }
    let ends: Vec<usize> = starts.iter().skip(1).map(|&(_, o)| o).chain([text.len()]).collect();
    starts.into_iter().zip(ends).map(move |((line, start), end)| (line, &text[start..end]))
}

fn parse_one(chunk: &str, first_line: u32) -> Result<Option<Document>, YamlError> {
    if chunk.lines().all(is_blank_or_marker) {
        return Ok(None);
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: 4,
            max_nodes: 2_000_000,
            max_events: 8_000_000,
            max_depth: 256,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        strict_booleans: true,
    };
    let offset = first_line - 1;
    match serde_saphyr::from_str_with_options::<Option<Node>>(chunk, options) {
        Ok(Some(mut root)) => {
            shift_lines(&mut root, offset);
            let line = root.line;
            Ok(Some(Document { line, root }))
        }
        Ok(None) => Ok(None),
        Err(err) => {
            let line = err.location().map_or(first_line, |l| l.line() as u32 + offset);
            let message = first_line_of(&err.to_string());
            Err(YamlError { line, message })
        }
    }
}

fn is_blank_or_marker(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
}

fn first_line_of(message: &str) -> String {
    message.lines().next().unwrap_or("invalid YAML").trim().to_string()
}

fn shift_lines(node: &mut Node, offset: u32) {
    if node.line > 0 {
        node.line += offset;
    }
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| shift_lines(n, offset)),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, n)| shift_lines(n, offset)),
        _ => {}
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node { line: spanned.referenced.line() as u32, value: spanned.value })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Str(v.to_string()), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Str(v.to_string()), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<Key>()? {
            let value = map.next_value::<Node>()?;
            // Later duplicates replace earlier ones, as Kubernetes' decoder does.
            match entries.iter_mut().find(|(k, _)| *k == key.0) {
                Some(slot) => slot.1 = value,
                None => entries.push((key.0, value)),
            }
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key of any scalar type, kept as its text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let text = match value {
            Value::Str(s) => s,
            Value::Null => "null".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Seq(_) | Value::Map(_) => return Err(de::Error::custom("complex mapping keys are not supported")),
        };
        Ok(Key(text))
    }
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
        assert_eq!(root.get("d").unwrap().value, Value::Int(2));
    }
}
