//! Generators: a kustomization's `configMapGenerator` and `secretGenerator` → the ConfigMaps and
//! Secrets they make, merged into or replacing one built before (`behavior: merge|replace`),
//! and, once at the top, the hash suffix of their names.
//!
//! Read from kustomize's `api/internal/generators` (the object: name, namespace, the options'
//! labels and annotations, `immutable`, a Secret's `type`), `api/kv/kv.go` (`literals` as
//! `KEY=VALUE` with one pair of surrounding quotes dropped, `files` as `[KEY=]PATH`, `envs` as
//! `KEY=VALUE` lines taken as written), `api/types/generatoroptions.go`
//! (`MergeGlobalOptionsIntoLocal`: a generator's own labels win, `generatorOptions` fill in, and
//! either may disable the hash), `api/resmap/reswrangler.go` (`appendReplaceOrMerge`: the new
//! data over the old, the old name and hash setting kept) and `api/hasher/hasher.go` (SHA-256 of
//! the JSON of kind, data and type — the name is read from a path that never matches, so it is
//! always empty — its first ten hex digits with `0 1 3 a e` spelled `g h k m t`). A Secret's
//! values are read into [`Sealed`] and only ever hashed.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Built, Builder, Generated, Resource};
use crate::diagnostic::{Code, Diagnostic};
use crate::load::sealed::Sealed;
use crate::load::{Input, LoadError, Node, Value};
use crate::load::Manifest;

/// What a generator does with an object of the same name built before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behavior {
    Create,
    Merge,
    Replace,
}

/// The options of one generator, its own merged with the kustomization's `generatorOptions`.
#[derive(Debug, Default)]
struct Options {
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    hash: bool,
    immutable: bool,
}

impl Options {
    fn read(local: Option<&Node>, global: Option<&Node>) -> Options {
        let pairs = |node: Option<&Node>, key: &str| -> Vec<(String, String)> {
            node.and_then(|n| n.get(key)).map(Node::entries).unwrap_or_default().iter().map(|(k, v)| (k.clone(), v.scalar_text().unwrap_or_default())).collect()
        };
        let flag = |node: Option<&Node>, key: &str| node.and_then(|n| n.get(key)).and_then(Node::as_bool) == Some(true);
        let merged = |key: &str| {
            let mut out = pairs(local, key);
            for (k, v) in pairs(global, key) {
                if !out.iter().any(|(o, _)| *o == k) {
                    out.push((k, v));
                }
            }
            out
        };
        Options {
            labels: merged("labels"),
            annotations: merged("annotations"),
            hash: !(flag(local, "disableNameSuffixHash") || flag(global, "disableNameSuffixHash")),
            immutable: flag(local, "immutable") || flag(global, "immutable"),
        }
    }
}

/// The data a generator read: values by key (a Secret's sealed), and whether some is unknown.
#[derive(Default)]
struct Data {
    text: Vec<(String, String)>,
    sealed: Vec<(String, Sealed)>,
    unknown: bool,
}

impl Builder<'_> {
    /// Runs the kustomization's generators, adding what they make to what it has built.
    pub(super) fn generators(&mut self, dir: &str, root: &Node, from: &str, built: &mut Built) {
        if !self.manifests {
            return;
        }
        let global = root.get("generatorOptions");
        for (key, secret) in [("configMapGenerator", false), ("secretGenerator", true)] {
            for generator in root.get(key).map(Node::as_seq).unwrap_or_default() {
                let Some(name) = generator.get("name").and_then(Node::scalar_text) else {
                    self.error(Code::InvalidObject, from, generator.line, format!("a {key} entry needs a name"));
                    continue;
                };
                let behavior = match generator.get("behavior").and_then(Node::scalar_str).unwrap_or("create") {
                    "merge" => Behavior::Merge,
                    "replace" => Behavior::Replace,
                    _ => Behavior::Create,
                };
                let options = Options::read(generator.get("options"), global);
                let data = self.generator_data(dir, generator, secret, from);
                let resource = make(generator, from, &name, secret, &options, data);
                if let Err(message) = absorb(&mut built.resources, resource, behavior) {
                    self.error(Code::InvalidObject, from, generator.line, message.to_string());
                }
            }
        }
    }

    /// A generator's data: `envs`, `literals`, then `files`, as kustomize reads them.
    fn generator_data(&mut self, dir: &str, generator: &Node, secret: bool, from: &str) -> Data {
        let mut data = Data::default();
        let add = |data: &mut Data, key: String, value: Option<Sealed>, text: Option<String>| {
            if secret {
                data.text.push((key.clone(), String::new()));
                match value {
                    Some(v) => data.sealed.push((key, v)),
                    None => data.unknown = true,
                }
            } else {
                data.unknown |= text.is_none();
                data.text.push((key, text.unwrap_or_default()));
            }
        };
        let mut envs: Vec<&Node> = generator.get("envs").map(Node::as_seq).unwrap_or_default().iter().collect();
        envs.extend(generator.get("env"));
        for entry in envs {
            let Some(rel) = entry.scalar_text() else { continue };
            match self.input(dir, &rel, from, entry.line) {
                Some(content) => {
                    for (key, value) in content.env_pairs() {
                        match value {
                            Some(EnvValue { sealed, text }) => add(&mut data, key, Some(sealed), text),
                            None => add(&mut data, key, None, None),
                        }
                    }
                }
                None => data.unknown = true,
            }
        }
        for literal in generator.get("literals").map(Node::as_seq).unwrap_or_default() {
            let Some(text) = literal.scalar_text() else { continue };
            match text.split_once('=').filter(|(k, _)| !k.is_empty()) {
                Some((key, value)) => {
                    let value = remove_quotes(value);
                    add(&mut data, key.to_string(), Some(Sealed::new(value.as_bytes())), Some(value.to_string()));
                }
                None => self.error(Code::InvalidObject, from, literal.line, format!("invalid literal source {text}, expected key=value")),
            }
        }
        for entry in generator.get("files").map(Node::as_seq).unwrap_or_default() {
            let Some(text) = entry.scalar_text() else { continue };
            let (key, rel) = match text.split_once('=') {
                Some((k, p)) => (k.to_string(), p.to_string()),
                None => (text.rsplit('/').next().unwrap_or(&text).to_string(), text.clone()),
            };
            match self.input(dir, &rel, from, entry.line) {
                Some(content) => add(&mut data, key, Some(content.sealed.clone()), content.text.map(|t| t.to_string())),
                None => add(&mut data, key, None, None),
            }
        }
        data
    }

    /// A generator's input file, or `None` (reported) when it is not here.
    fn input(&mut self, dir: &str, rel: &str, from: &str, line: u32) -> Option<InputText> {
        let path = super::normalize(&super::join(dir, rel))?;
        if let Some(file) = self.repo.files.get(&path) {
            self.build.files.insert(path);
            return Some(InputText::text(file.text.clone()));
        }
        match self.repo.inputs.get(&path) {
            Some(Input::Text(text)) => {
                self.build.files.insert(path);
                Some(InputText::text(text.clone()))
            }
            Some(Input::Sealed(sealed)) => {
                self.build.files.insert(path);
                Some(InputText { text: None, sealed: sealed.clone() })
            }
            None => {
                if !self.repo.is_file(&path) {
                    self.build.diagnostics.push(Diagnostic::warning(
                        Code::PathNotFound,
                        from,
                        line,
                        format!("generator input {path} is not in the repository; kustomize fails the build without it"),
                    ));
                }
                None
            }
        }
    }
}

/// An input file as a generator reads it: its text when it may be read, its bytes sealed.
struct InputText {
    text: Option<Arc<str>>,
    sealed: Sealed,
}

/// One env pair's value: sealed, and its text when the file may be read.
struct EnvValue {
    sealed: Sealed,
    text: Option<String>,
}

impl InputText {
    fn text(text: Arc<str>) -> InputText {
        let sealed = Sealed::new(text.as_bytes());
        InputText { text: Some(text), sealed }
    }

    /// `KEY=VALUE` lines (kustomize's `KeyValuesFromLines`); a key without `=` has no value here.
    fn env_pairs(&self) -> Vec<(String, Option<EnvValue>)> {
        match &self.text {
            Some(text) => crate::load::sealed::env_lines(text)
                .map(|(k, v)| (k.to_string(), v.map(|v| EnvValue { sealed: Sealed::new(v.as_bytes()), text: Some(v.to_string()) })))
                .collect(),
            None => self.sealed.env_pairs().into_iter().map(|(k, v)| (k, v.map(|sealed| EnvValue { sealed, text: None }))).collect(),
        }
    }
}

/// One pair of surrounding quotes is dropped from a literal's value (`kv.go`, `removeQuotes`).
fn remove_quotes(value: &str) -> &str {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && bytes[0] == bytes[bytes.len() - 1] && (bytes[0] == b'"' || bytes[0] == b'\'') {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

/// The object a generator makes.
fn make(generator: &Node, from: &str, name: &str, secret: bool, options: &Options, data: Data) -> Resource {
    let line = generator.line;
    let text = |t: &str| Node::new(line, Value::Str(t.to_string()));
    let map = |pairs: &[(String, String)]| Node::new(line, Value::Map(pairs.iter().map(|(k, v)| (k.clone(), text(v))).collect()));
    let mut metadata = vec![("name".to_string(), text(name))];
    if let Some(ns) = generator.get("namespace").and_then(Node::scalar_text).filter(|s| !s.is_empty()) {
        metadata.push(("namespace".to_string(), text(&ns)));
    }
    if !options.labels.is_empty() {
        metadata.push(("labels".to_string(), map(&options.labels)));
    }
    if !options.annotations.is_empty() {
        metadata.push(("annotations".to_string(), map(&options.annotations)));
    }
    let kind = if secret { "Secret" } else { "ConfigMap" };
    let mut fields = vec![
        ("apiVersion".to_string(), text("v1")),
        ("kind".to_string(), text(kind)),
        ("metadata".to_string(), Node::new(line, Value::Map(metadata))),
    ];
    if !data.text.is_empty() {
        fields.push(("data".to_string(), map(&data.text)));
    }
    if secret {
        let kind = generator.get("type").and_then(Node::scalar_text).filter(|s| !s.is_empty()).unwrap_or_else(|| "Opaque".into());
        fields.push(("type".to_string(), text(&kind)));
    }
    if options.immutable {
        fields.push(("immutable".to_string(), Node::new(line, Value::Bool(true))));
    }
    let mut resource = Resource::new(Arc::from(from), line, Arc::new(Node::new(line, Value::Map(fields))), false);
    resource.trace.generated = Some(Arc::new(Generated { hash: options.hash, data_unknown: data.unknown, sealed: data.sealed }));
    resource
}

/// Adds a generated object to what is built: new, or merged into (or replacing) the object of
/// the same id (kustomize's `appendReplaceOrMerge`).
fn absorb(resources: &mut Vec<Resource>, mut new: Resource, behavior: Behavior) -> Result<(), LoadError> {
    let id = new.id();
    let matches: Vec<usize> = resources.iter().enumerate().filter(|(_, r)| r.has_id(&id)).map(|(i, _)| i).collect();
    let shown = format!("{}/{}", id.kind, id.name);
    match (matches.as_slice(), behavior) {
        ([], Behavior::Create) => {
            resources.push(new);
            Ok(())
        }
        ([], _) => Err(LoadError::Kustomize(format!("{shown} does not exist; kustomize cannot merge or replace it, and fails the build"))),
        ([_], Behavior::Create) => Err(LoadError::Kustomize(format!("{shown} exists already; a generator for it needs behavior: merge or replace"))),
        ([i], behavior) => {
            let old = &resources[*i];
            let old_generated = old.trace.generated.clone().unwrap_or_default();
            let new_generated = new.trace.generated.clone().unwrap_or_default();
            let mut sealed = new_generated.sealed.clone();
            if behavior == Behavior::Merge {
                for (k, v) in &old_generated.sealed {
                    if !sealed.iter().any(|(n, _)| n == k) {
                        sealed.push((k.clone(), v.clone()));
                    }
                }
            }
            let old_manifest = Arc::clone(&old.manifest);
            new.edit(|m| {
                for field in ["labels", "annotations"] {
                    for (k, v) in old_manifest.at(&["metadata", field]).map(Node::entries).unwrap_or_default() {
                        if m.at(&["metadata", field, k]).is_none() {
                            m.map_mut("metadata").map_mut(field).set(k, v.value.clone());
                        }
                    }
                }
                let meta = m.map_mut("metadata");
                meta.set("name", Value::Str(old_manifest.name().unwrap_or_default().to_string()));
                match old_manifest.namespace() {
                    Some(ns) => meta.set("namespace", Value::Str(ns.to_string())),
                    None => {
                        meta.remove("namespace");
                    }
                }
                if behavior == Behavior::Merge {
                    for field in ["data", "binaryData"] {
                        for (k, v) in old_manifest.get(field).map(Node::entries).unwrap_or_default() {
                            if m.get(field).and_then(|d| d.get(k)).is_none() {
                                m.map_mut(field).set(k, v.value.clone());
                            }
                        }
                    }
                }
            });
            new.trace.previous = resources[*i].trace.previous.clone();
            new.trace.generated = Some(Arc::new(Generated {
                hash: old_generated.hash,
                data_unknown: new_generated.data_unknown || (behavior == Behavior::Merge && old_generated.data_unknown),
                sealed,
            }));
            new.file = resources[*i].file.clone();
            new.line = resources[*i].line;
            resources[*i] = new;
            Ok(())
        }
        _ => Err(LoadError::Kustomize(format!("several objects could take the merge of {shown}; kustomize fails the build"))),
    }
}

/// Names each generated object with the hash of its content, at the top of a build.
pub(super) fn add_hash_suffixes(resources: &mut [Resource]) {
    for r in resources {
        if !r.trace.generated.as_ref().is_some_and(|g| g.hash) {
            continue;
        }
        let Some(name) = r.manifest.name().map(str::to_string) else { continue };
        let suffix = content_hash(r);
        r.edit(|m| m.map_mut("metadata").set("name", Value::Str(format!("{name}-{suffix}"))));
    }
}

/// kustomize's hash of a ConfigMap or Secret.
fn content_hash(r: &Resource) -> String {
    let m = &r.manifest;
    let sealed = r.trace.generated.as_ref().map_or(&[][..], |g| &g.sealed[..]);
    let mut hasher = Sha256::new();
    let mut put = |bytes: &[u8]| hasher.update(bytes);
    let map_or_empty = |put: &mut dyn FnMut(&[u8]), field: &str, sealed: &[(String, Sealed)]| match m.get(field) {
        Some(node) if node.is_map() => write_map(node, sealed, put),
        _ => put(b"\"\""),
    };
    if m.kind() == "Secret" {
        put(b"{\"data\":");
        map_or_empty(&mut put, "data", sealed);
        put(b",\"kind\":\"Secret\",\"name\":\"\"");
        if m.get("stringData").is_some_and(Node::is_map) {
            put(b",\"stringData\":");
            map_or_empty(&mut put, "stringData", &[]);
        }
        put(b",\"type\":");
        write_string(&m.get("type").and_then(Node::scalar_text).unwrap_or_default(), &mut put);
        put(b"}");
    } else {
        put(b"{");
        if m.get("binaryData").is_some_and(Node::is_map) {
            put(b"\"binaryData\":");
            map_or_empty(&mut put, "binaryData", &[]);
            put(b",");
        }
        put(b"\"data\":");
        map_or_empty(&mut put, "data", &[]);
        put(b",\"kind\":\"ConfigMap\",\"name\":\"\"}");
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// A map as Go's encoding/json writes it (keys sorted); a key with a sealed value is written
/// as the base64 of that value, which never leaves the hasher.
fn write_map(node: &Node, sealed: &[(String, Sealed)], put: &mut dyn FnMut(&[u8])) {
    let mut entries: Vec<&(String, Node)> = node.entries().iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    put(b"{");
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            put(b",");
        }
        write_string(key, put);
        put(b":");
        match sealed.iter().find(|(k, _)| k == key) {
            Some((_, value)) => {
                put(b"\"");
                value.feed_base64(&mut |b| put(b));
                put(b"\"");
            }
            None => write_json(&value.to_json(), put),
        }
    }
    put(b"}");
}

fn write_json(value: &serde_json::Value, put: &mut dyn FnMut(&[u8])) {
    use serde_json::Value as J;
    match value {
        J::String(s) => write_string(s, put),
        J::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            put(b"{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    put(b",");
                }
                write_string(k, put);
                put(b":");
                write_json(&map[k], put);
            }
            put(b"}");
        }
        J::Array(items) => {
            put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    put(b",");
                }
                write_json(item, put);
            }
            put(b"]");
        }
        other => put(other.to_string().as_bytes()),
    }
}

/// A JSON string as Go's encoding/json escapes it: `<`, `>`, `&` and U+2028/9 too.
fn write_string(s: &str, put: &mut dyn FnMut(&[u8])) {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    put(out.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn resource(text: &str, sealed: Vec<(String, Sealed)>) -> Resource {
        let mut r = Resource::new(Arc::from("k.yaml"), 1, parse_documents(text).remove(0).unwrap().root, false);
        r.trace.generated = Some(Arc::new(Generated { hash: true, data_unknown: false, sealed }));
        r
    }

    /// The hashes real kustomize (api v0.21.3) gives these objects.
    #[test]
    fn hashes_are_kustomizes() {
        let cm = resource("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-cm\ndata:\n  a: b\n", Vec::new());
        assert_eq!(content_hash(&cm), "4h2mbtbbt6", "the name does not count");
        let empty = resource("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: empty\n", Vec::new());
        assert_eq!(content_hash(&empty), "6ct58987ht");
        let secret = resource(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sec\ndata:\n  pw: ''\ntype: Opaque\n",
            vec![("pw".into(), Sealed::new(b"x<y".as_slice()))],
        );
        assert_eq!(content_hash(&secret), "466gkg5584", "the sealed value, base64, is what is hashed");
    }

    #[test]
    fn options_merge_with_the_generators_own_winning() {
        let local = parse_documents("labels: {same: local}\ndisableNameSuffixHash: false\n").remove(0).unwrap().root;
        let global = parse_documents("labels: {same: global, other: g}\ndisableNameSuffixHash: true\n").remove(0).unwrap().root;
        let o = Options::read(Some(&local), Some(&global));
        assert_eq!(o.labels, [("same".into(), "local".into()), ("other".into(), "g".into())]);
        assert!(!o.hash, "either one disables the hash");
    }

    #[test]
    fn literals_drop_one_pair_of_quotes() {
        assert_eq!(remove_quotes("'quoted'"), "quoted");
        assert_eq!(remove_quotes("\"dq\""), "dq");
        assert_eq!(remove_quotes("'half"), "'half");
        assert_eq!(remove_quotes(" spaced "), " spaced ");
    }
}
