//! Replacements: a kustomization's `replacements:` → values copied from one object's field into
//! fields of others.
//!
//! Read from kustomize's `api/filters/replacement/replacement.go`: the source is the one object
//! its selector picks (by any name it has had; none or several fail the build), its `fieldPath`
//! (default `metadata.name`) must hold a value, optionally one part of it (`delimiter`,
//! `index`); each target selects objects by id (`select`, minus `reject`) and by label and
//! annotation selectors, and each of its `fieldPaths` (kyaml paths: `a.b`, `[name=x]`, `*`, an
//! index) receives the value — only the text when the target is a scalar, so its type stays —
//! created when `options.create` says so, or spliced into the target's text at `index` with
//! `delimiter`.

use super::{Builder, ResId, Resource, origin};
use crate::diagnostic::Code;
use crate::load::patch::{Origin, selector_matches};
use crate::load::{LoadError, Node, Value};

/// One replacement, with where it is written.
pub(super) struct Replacement {
    source: Selector,
    field_path: String,
    source_options: Options,
    targets: Vec<TargetSpec>,
    pub origin: Origin,
}

/// An id selector (`ResId.IsSelectedBy`): empty fields match anything; a namespace matches with
/// none taken as `default`.
#[derive(Default)]
struct Selector {
    group: String,
    version: String,
    kind: String,
    name: String,
    namespace: String,
    label_selector: Option<String>,
    annotation_selector: Option<String>,
}

#[derive(Default)]
struct Options {
    delimiter: String,
    index: i64,
    create: bool,
}

struct TargetSpec {
    select: Selector,
    reject: Vec<Selector>,
    field_paths: Vec<String>,
    options: Options,
}

impl Selector {
    fn read(node: Option<&Node>) -> Selector {
        let text = |k: &str| node.and_then(|n| n.get(k)).and_then(Node::scalar_text).unwrap_or_default();
        let optional = |k: &str| Some(text(k)).filter(|s| !s.is_empty());
        Selector {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
            name: text("name"),
            namespace: text("namespace"),
            label_selector: optional("labelSelector"),
            annotation_selector: optional("annotationSelector"),
        }
    }

    fn has_id(&self) -> bool {
        !(self.group.is_empty() && self.version.is_empty() && self.kind.is_empty() && self.name.is_empty() && self.namespace.is_empty())
    }

    fn selects_id(&self, id: &ResId) -> bool {
        let field = |want: &str, have: &str| want.is_empty() || want == have;
        field(&self.group, &id.group)
            && field(&self.version, &id.version)
            && field(&self.kind, &id.kind)
            && field(&self.name, &id.name)
            && (self.namespace.is_empty() || super::or_default(&self.namespace) == super::or_default(&id.namespace))
    }

    /// Whether any id `r` has had, or has, is selected.
    fn selects_any_id(&self, r: &Resource) -> bool {
        r.trace.previous.iter().any(|p| self.selects_id(p)) || self.selects_id(&r.id())
    }

    fn selects_metadata(&self, manifest: &Node) -> bool {
        let meta = manifest.get("metadata");
        self.label_selector.as_deref().is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("labels"))))
            && self.annotation_selector.as_deref().is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("annotations"))))
    }
}

impl Options {
    fn read(node: Option<&Node>) -> Options {
        let options = node.and_then(|n| n.get("options"));
        let text = |k: &str| options.and_then(|o| o.get(k)).and_then(Node::scalar_text).unwrap_or_default();
        Options {
            delimiter: text("delimiter"),
            index: text("index").parse().unwrap_or(0),
            create: options.and_then(|o| o.get("create")).and_then(Node::as_bool) == Some(true),
        }
    }
}

impl Replacement {
    pub(super) fn read(node: &Node, origin: Origin) -> Replacement {
        let source = node.get("source");
        let targets = node
            .get("targets")
            .map(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .map(|t| TargetSpec {
                select: Selector::read(t.get("select")),
                reject: t.get("reject").map(Node::as_seq).unwrap_or_default().iter().map(|r| Selector::read(Some(r))).collect(),
                field_paths: t.get("fieldPaths").map(Node::as_seq).unwrap_or_default().iter().filter_map(Node::scalar_text).collect(),
                options: Options::read(Some(t)),
            })
            .collect();
        Replacement {
            source: Selector::read(source),
            field_path: source.and_then(|s| s.get("fieldPath")).and_then(Node::scalar_text).unwrap_or_else(|| "metadata.name".into()),
            source_options: Options::read(source),
            targets,
            origin,
        }
    }

    /// Copies the source's value into every target; why the build fails, when it does. With
    /// `remote` resources left out, a source that is not here may be one of theirs: nothing is
    /// copied, and nothing fails.
    pub(super) fn apply(&self, resources: &mut [Resource], remote: bool) -> Result<(), LoadError> {
        let value = match self.value(resources) {
            Err(_) if remote && !resources.iter().any(|r| self.source.selects_any_id(r)) => return Ok(()),
            value => value?,
        };
        for target in &self.targets {
            let paths: Vec<String> = if target.field_paths.is_empty() { vec!["metadata.name".into()] } else { target.field_paths.clone() };
            for r in resources.iter_mut() {
                let selected = target.select.selects_metadata(&r.manifest)
                    && !target.reject.iter().any(|j| (j.label_selector.is_some() || j.annotation_selector.is_some()) && j.selects_metadata(&r.manifest))
                    && target.select.selects_any_id(r)
                    && !target.reject.iter().any(|j| j.has_id() && j.selects_any_id(r));
                if !selected {
                    continue;
                }
                let mut manifest = (*r.manifest).clone();
                for path in &paths {
                    let parts = split_path(path);
                    if target.options.create && parts.iter().any(|p| p == "*") {
                        return Err(LoadError::Kustomize(format!("{}: create cannot reach several fields (a * in {path})", self.origin.file)));
                    }
                    set(&mut manifest, &parts, &value, &target.options)?;
                }
                if manifest != *r.manifest {
                    r.edit(|m| *m = manifest);
                }
            }
        }
        Ok(())
    }

    /// The source's value.
    fn value(&self, resources: &[Resource]) -> Result<Node, LoadError> {
        let mut matches = resources.iter().filter(|r| self.source.selects_any_id(r));
        let source = match (matches.next(), matches.next()) {
            (Some(one), None) => one,
            (None, _) => return Err(LoadError::Kustomize(format!("no object matches the source of a replacement in {}: kustomize fails the build", self.origin.file))),
            (Some(_), Some(_)) => return Err(LoadError::Kustomize(format!("several objects match the source of a replacement in {}: kustomize fails the build", self.origin.file))),
        };
        let found = lookup(&source.manifest, &split_path(&self.field_path));
        let Some(node) = found.filter(|n| !is_nothing(n)) else {
            return Err(LoadError::Kustomize(format!("fieldPath {} is missing in the source of a replacement in {}: kustomize fails the build", self.field_path, self.origin.file)));
        };
        let options = &self.source_options;
        if options.delimiter.is_empty() {
            return Ok(node.clone());
        }
        let text = node.scalar_text().ok_or_else(|| LoadError::Kustomize("a delimiter can only split a scalar".into()))?;
        let parts: Vec<&str> = text.split(options.delimiter.as_str()).collect();
        let part = usize::try_from(options.index).ok().and_then(|i| parts.get(i)).ok_or_else(|| LoadError::Kustomize(format!("options.index {} is out of bounds for {text}", options.index)))?;
        let mut refined = node.clone();
        refined.value = Value::Str(part.to_string());
        Ok(refined)
    }
}

/// `a.b[c=d].e` → `[a, b, [c=d], e]`; a `.` inside brackets stays (kyaml's `SmarterPathSplitter`).
fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => {
                if depth == 0 && !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth -= 1;
                current.push(c);
                if depth == 0 {
                    out.push(std::mem::take(&mut current));
                }
            }
            '.' if depth == 0 => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The element of a list a path part names: `[k=v]` or an index.
fn element(items: &[Node], part: &str) -> Option<usize> {
    if let Some((k, v)) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')).and_then(|p| p.split_once('=')) {
        return items.iter().position(|i| i.get(k).and_then(Node::scalar_text).as_deref() == Some(v));
    }
    part.parse::<usize>().ok().filter(|&i| i < items.len())
}

fn lookup<'n>(node: &'n Node, path: &[String]) -> Option<&'n Node> {
    let Some((first, rest)) = path.split_first() else { return Some(node) };
    let next = match &node.value {
        Value::Map(_) => node.get(first),
        Value::Seq(items) => element(items, first).map(|i| &items[i]),
        _ => None,
    }?;
    lookup(next, rest)
}

/// Writes `value` at `path` (every match of a `*`), making what is missing with `create`.
/// A source value kustomize takes for missing: null, or an empty list or map.
fn is_nothing(node: &Node) -> bool {
    match &node.value {
        Value::Null => true,
        Value::Seq(items) => items.is_empty(),
        Value::Map(entries) => entries.is_empty(),
        _ => false,
    }
}

fn set(node: &mut Node, path: &[String], value: &Node, options: &Options) -> Result<(), LoadError> {
    let Some((first, rest)) = path.split_first() else {
        return set_value(node, value, options);
    };
    match &mut node.value {
        Value::Map(entries) if first == "*" => {
            for (_, child) in entries.iter_mut() {
                set(child, rest, value, options)?;
            }
            Ok(())
        }
        Value::Seq(items) if first == "*" => {
            for child in items.iter_mut() {
                set(child, rest, value, options)?;
            }
            Ok(())
        }
        Value::Map(_) => {
            if node.get(first).is_none() {
                if !options.create {
                    return Ok(());
                }
                let made = if rest.is_empty() { Value::Null } else if rest[0].starts_with('[') { Value::Seq(Vec::new()) } else { Value::Map(Vec::new()) };
                node.set(first, made);
            }
            set(node.get_mut(first).expect("present or made"), rest, value, options)
        }
        Value::Seq(items) => match element(items, first) {
            Some(i) => set(&mut items[i], rest, value, options),
            None if options.create => {
                let mut item = Node::new(node.line, Value::Map(Vec::new()));
                if let Some((k, v)) = first.strip_prefix('[').and_then(|p| p.strip_suffix(']')).and_then(|p| p.split_once('=')) {
                    item.set(k, Value::Str(v.to_string()));
                }
                set(&mut item, rest, value, options)?;
                if let Value::Seq(items) = &mut node.value {
                    items.push(item);
                }
                Ok(())
            }
            None => Ok(()),
        },
        Value::Null if options.create => {
            node.value = Value::Map(Vec::new());
            set(node, path, value, options)
        }
        _ => Ok(()),
    }
}

/// The value lands: a scalar target keeps its type and takes the text; anything else is
/// replaced by the value.
fn set_value(target: &mut Node, value: &Node, options: &Options) -> Result<(), LoadError> {
    let mut text = value.scalar_text();
    if !options.delimiter.is_empty() {
        let current = target.scalar_text().ok_or_else(|| LoadError::Kustomize("a delimiter can only be used on a scalar target".into()))?;
        let mut parts: Vec<String> = current.split(options.delimiter.as_str()).map(str::to_string).collect();
        let new = text.clone().unwrap_or_default();
        if options.index < 0 {
            parts.insert(0, new);
        } else if options.index as usize >= parts.len() {
            parts.push(new);
        } else {
            parts[options.index as usize] = new;
        }
        text = Some(parts.join(&options.delimiter));
    }
    match (&target.value, text) {
        (Value::Str(_), Some(t)) => target.value = Value::Str(t),
        (Value::Number(_), Some(t)) if crate::load::scalar::number(&t).is_some() => target.value = Value::Number(t),
        (Value::Bool(_), Some(t)) if t == "true" || t == "false" => target.value = Value::Bool(t == "true"),
        (Value::Null | Value::Number(_) | Value::Bool(_), Some(t)) => target.value = crate::load::yaml::plain_scalar(&t),
        _ => target.value = value.value.clone(),
    }
    Ok(())
}

impl Builder<'_> {
    /// A kustomization's `replacements:`, inline or in files.
    pub(super) fn replacements(&mut self, dir: &str, root: &Node, from: &str) -> Vec<Replacement> {
        let mut out = Vec::new();
        for entry in root.get("replacements").map(Node::as_seq).unwrap_or_default() {
            match entry.get("path").and_then(Node::scalar_text) {
                Some(path) => {
                    let Some(file) = self.listed_file(dir, &path, from, entry.line, "replacement file") else { continue };
                    if !self.manifests {
                        continue;
                    }
                    for doc in &file.documents {
                        match doc {
                            Ok(doc) => match &doc.root.value {
                                Value::Seq(items) => out.extend(items.iter().map(|i| Replacement::read(i, origin(&file.path, i.line)))),
                                _ => out.push(Replacement::read(&doc.root, origin(&file.path, doc.line))),
                            },
                            Err(e) => self.error(Code::InvalidYaml, &file.path, e.line, format!("replacement file is not valid YAML: {}", e.message)),
                        }
                    }
                }
                None => out.push(Replacement::read(entry, origin(from, entry.line))),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;
    use std::sync::Arc;

    fn resource(text: &str) -> Resource {
        Resource::new(Arc::from("r.yaml"), 1, parse_documents(text).remove(0).unwrap().root, false)
    }

    fn replacement(text: &str) -> Replacement {
        Replacement::read(&parse_documents(text).remove(0).unwrap().root, Origin { file: Arc::from("k.yaml"), line: 1 })
    }

    #[test]
    fn a_namespace_name_becomes_every_kustomizations_target_namespace() {
        let mut resources = vec![
            resource("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n"),
            resource("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: app\nspec:\n  path: ./x\n"),
        ];
        let r = replacement("source:\n  kind: Namespace\n  fieldPath: metadata.name\ntargets:\n  - select:\n      kind: Kustomization\n      group: kustomize.toolkit.fluxcd.io\n    fieldPaths: [spec.targetNamespace]\n    options:\n      create: true\n");
        r.apply(&mut resources, false).unwrap();
        assert_eq!(resources[1].manifest.to_json()["spec"]["targetNamespace"], "media");
    }

    #[test]
    fn paths_select_list_elements_and_keep_a_scalars_type() {
        let mut resources = vec![
            resource("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: src\ndata:\n  port: '8080'\n  host: a.b.c\n"),
            resource("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          ports:\n            - containerPort: 80\n          env:\n            - name: HOST\n              value: x.y\n"),
        ];
        let r = replacement("source:\n  kind: ConfigMap\n  name: src\n  fieldPath: data.port\ntargets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n      - spec.template.spec.containers.[name=app].ports.0.containerPort\n");
        r.apply(&mut resources, false).unwrap();
        let r2 = replacement("source:\n  kind: ConfigMap\n  fieldPath: data.host\n  options: {delimiter: '.', index: 0}\ntargets:\n  - select: {kind: Deployment}\n    fieldPaths: ['spec.template.spec.containers.*.env.[name=HOST].value']\n    options: {delimiter: '.', index: 1}\n");
        r2.apply(&mut resources, false).unwrap();
        let d = resources[1].manifest.to_json();
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 8080, "an int stays an int");
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "x.a");
        assert!(replacement("source:\n  kind: Secret\ntargets: []\n").apply(&mut resources, false).is_err(), "no source fails");
    }

    #[test]
    fn paths_keep_dots_inside_brackets() {
        assert_eq!(split_path("a.b.[name=x.y].c"), ["a", "b", "[name=x.y]", "c"]);
    }
}
