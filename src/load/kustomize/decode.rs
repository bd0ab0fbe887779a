//! The kustomization file as kustomize decodes it: takes its parsed root and gives the first
//! thing that makes kustomize refuse it, or nothing.
//!
//! kustomize (`api/types/kustomization.go`, `Unmarshal`) turns the file into JSON with
//! sigs.k8s.io/yaml, which reads YAML 1.1 (so `n`, `yes` and `on` are booleans; the file is
//! parsed that way at load), and decodes that into `types.Kustomization` with encoding/json:
//! a value of the wrong type fails (`newTag: 1.10` is a number, `namespace: n` a boolean), and
//! so does a field the type does not have (`DisallowUnknownFields`). Then `EnforceFields`
//! checks the kind and apiVersion. kustomize-controller first reads the kustomization file at
//! a Kustomization's path itself (fluxcd/pkg `kustomize_generator.go`: `yaml.Unmarshal` into
//! the same type, which drops unknown fields silently and fails on wrong types) and writes it
//! back, so there only the types count.
//!
//! The shape below follows the types of kustomize api v0.21.3 (`api/types/*.go`); the parts
//! fluxgraph never reads (helm charts, vars, sort options, inventory) are not checked.

use crate::load::scalar::{number, Number};
use crate::load::yaml::{Node, Value};

/// Who decodes the file first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reader {
    /// kustomize-controller, for the kustomization file at a Kustomization's path.
    Flux,
    /// kustomize, for every file it reaches through `resources:` or `components:`.
    Kustomize,
}

/// The type a field has in `types.Kustomization`, with the Go name encoding/json reports.
enum Shape {
    /// Not checked.
    Any,
    Str(&'static str),
    Bool,
    Int(&'static str),
    List(&'static str, &'static Shape),
    Map(&'static str, &'static Shape),
    Struct(&'static str, &'static [(&'static str, Shape)]),
}

const STRING: Shape = Shape::Str("string");
const STRINGS: Shape = Shape::List("[]string", &STRING);
const STRING_MAP: Shape = Shape::Map("map[string]string", &STRING);
const METADATA: Shape =
    Shape::Struct("types.ObjectMeta", &[("name", STRING), ("namespace", STRING), ("labels", STRING_MAP), ("annotations", STRING_MAP)]);
const SELECTOR: Shape = Shape::Struct(
    "types.Selector",
    &[
        ("group", STRING),
        ("version", STRING),
        ("kind", STRING),
        ("name", STRING),
        ("namespace", STRING),
        ("labelSelector", STRING),
        ("annotationSelector", STRING),
    ],
);
const FIELD_SPEC: Shape =
    Shape::Struct("types.FieldSpec", &[("group", STRING), ("version", STRING), ("kind", STRING), ("path", STRING), ("create", Shape::Bool)]);
const LABEL: Shape = Shape::Struct(
    "types.Label",
    &[
        ("pairs", STRING_MAP),
        ("includeSelectors", Shape::Bool),
        ("includeTemplates", Shape::Bool),
        ("fields", Shape::List("[]types.FieldSpec", &FIELD_SPEC)),
    ],
);
const PATCH: Shape = Shape::Struct(
    "types.Patch",
    &[("path", STRING), ("patch", STRING), ("target", SELECTOR), ("options", Shape::Map("map[string]bool", &Shape::Bool))],
);
const IMAGE: Shape = Shape::Struct(
    "types.Image",
    &[("name", STRING), ("newName", STRING), ("newTag", STRING), ("digest", STRING), ("tagSuffix", STRING)],
);
const FIELD_OPTIONS: Shape = Shape::Struct(
    "types.FieldOptions",
    &[("delimiter", STRING), ("index", Shape::Int("int")), ("encoding", STRING), ("create", Shape::Bool)],
);
const SOURCE: Shape = Shape::Struct(
    "types.SourceSelector",
    &[
        ("group", STRING),
        ("version", STRING),
        ("kind", STRING),
        ("name", STRING),
        ("namespace", STRING),
        ("fieldPath", STRING),
        ("options", FIELD_OPTIONS),
    ],
);
const TARGET: Shape = Shape::Struct(
    "types.TargetSelector",
    &[("select", SELECTOR), ("reject", Shape::List("[]*types.Selector", &SELECTOR)), ("fieldPaths", STRINGS), ("options", FIELD_OPTIONS)],
);
const REPLACEMENT: Shape = Shape::Struct(
    "types.ReplacementField",
    &[("path", STRING), ("source", SOURCE), ("targets", Shape::List("[]*types.TargetSelector", &TARGET))],
);
const REPLICA: Shape = Shape::Struct("types.Replica", &[("name", STRING), ("count", Shape::Int("int64"))]);
const GENERATOR_OPTIONS: Shape = Shape::Struct(
    "types.GeneratorOptions",
    &[("labels", STRING_MAP), ("annotations", STRING_MAP), ("disableNameSuffixHash", Shape::Bool), ("immutable", Shape::Bool)],
);
const CONFIG_MAP_ARGS: Shape = Shape::Struct(
    "types.ConfigMapArgs",
    &[
        ("namespace", STRING),
        ("name", STRING),
        ("behavior", STRING),
        ("literals", STRINGS),
        ("files", STRINGS),
        ("envs", STRINGS),
        ("env", STRING),
        ("options", GENERATOR_OPTIONS),
    ],
);
const SECRET_ARGS: Shape = Shape::Struct(
    "types.SecretArgs",
    &[
        ("namespace", STRING),
        ("name", STRING),
        ("behavior", STRING),
        ("literals", STRINGS),
        ("files", STRINGS),
        ("envs", STRINGS),
        ("env", STRING),
        ("options", GENERATOR_OPTIONS),
        ("type", STRING),
    ],
);
const PATCH_STRATEGIC_MERGE: Shape = Shape::Str("types.PatchStrategicMerge");
const KUSTOMIZATION: Shape = Shape::Struct(
    "types.Kustomization",
    &[
        ("apiVersion", STRING),
        ("kind", STRING),
        ("metadata", METADATA),
        ("openapi", STRING_MAP),
        ("namePrefix", STRING),
        ("nameSuffix", STRING),
        ("namespace", STRING),
        ("commonLabels", STRING_MAP),
        ("labels", Shape::List("[]types.Label", &LABEL)),
        ("commonAnnotations", STRING_MAP),
        ("patchesStrategicMerge", Shape::List("[]types.PatchStrategicMerge", &PATCH_STRATEGIC_MERGE)),
        ("patchesJson6902", Shape::List("[]types.Patch", &PATCH)),
        ("patches", Shape::List("[]types.Patch", &PATCH)),
        ("images", Shape::List("[]types.Image", &IMAGE)),
        ("imageTags", Shape::List("[]types.Image", &IMAGE)),
        ("replacements", Shape::List("[]types.ReplacementField", &REPLACEMENT)),
        ("replicas", Shape::List("[]types.Replica", &REPLICA)),
        ("vars", Shape::Any),
        ("sortOptions", Shape::Any),
        ("resources", STRINGS),
        ("components", STRINGS),
        ("crds", STRINGS),
        ("bases", STRINGS),
        ("configMapGenerator", Shape::List("[]types.ConfigMapArgs", &CONFIG_MAP_ARGS)),
        ("secretGenerator", Shape::List("[]types.SecretArgs", &SECRET_ARGS)),
        ("helmGlobals", Shape::Any),
        ("helmCharts", Shape::Any),
        ("helmChartInflationGenerator", Shape::Any),
        ("generatorOptions", GENERATOR_OPTIONS),
        ("configurations", STRINGS),
        ("generators", STRINGS),
        ("transformers", STRINGS),
        ("validators", STRINGS),
        ("inventory", Shape::Any),
        ("buildMetadata", STRINGS),
    ],
);

/// Why kustomize refuses the file, at the line of the value at fault; `None` when it reads it.
pub(super) fn refusal(root: &Node, reader: Reader) -> Option<(u32, String)> {
    if let Some(mut fault) = check(root, &KUSTOMIZATION, reader) {
        fault.path.push("Kustomization".to_string());
        fault.path.reverse();
        return Some((fault.line, fault.message()));
    }
    enforce_fields(root)
}

/// kustomize's `EnforceFields`: a Kustomization's apiVersion is `kustomize.config.k8s.io/v1beta1`,
/// a Component's `kustomize.config.k8s.io/v1alpha1`, and no other kind is one.
fn enforce_fields(root: &Node) -> Option<(u32, String)> {
    let text = |key: &str| root.get(key).and_then(Node::as_str).unwrap_or_default();
    let line = |key: &str| root.get(key).map_or(root.line, |n| n.line);
    let kind = text("kind");
    if !matches!(kind, "" | "Kustomization" | "Component") {
        return Some((line("kind"), "kind should be Kustomization or Component; kustomize fails the build".to_string()));
    }
    let required = if kind == "Component" { "kustomize.config.k8s.io/v1alpha1" } else { "kustomize.config.k8s.io/v1beta1" };
    let api = text("apiVersion");
    if !api.is_empty() && api != required {
        let kind = if kind.is_empty() { "Kustomization" } else { kind };
        return Some((line("apiVersion"), format!("apiVersion for {kind} should be {required}; kustomize fails the build")));
    }
    None
}

/// What encoding/json stops at: a field the type lacks, or a value of the wrong type.
struct Fault {
    line: u32,
    problem: Problem,
    /// Where, innermost first (filled in on the way out, so that a file read without fault
    /// costs no allocation).
    path: Vec<String>,
}

enum Problem {
    UnknownField(String),
    WrongType { value: &'static str, number: Option<String>, go_type: &'static str },
}

fn check(node: &Node, shape: &Shape, reader: Reader) -> Option<Fault> {
    if matches!(node.value, Value::Null) {
        return None;
    }
    let wrong = |go_type: &'static str| Some(Fault::wrong_type(node, go_type));
    match shape {
        Shape::Any => None,
        Shape::Str(go_type) => if matches!(node.value, Value::Str(_)) { None } else { wrong(go_type) },
        Shape::Bool => if matches!(node.value, Value::Bool(_)) { None } else { wrong("bool") },
        Shape::Int(go_type) => match &node.value {
            Value::Number(n) if is_integral(n) => None,
            _ => wrong(go_type),
        },
        Shape::List(go_type, item) => {
            let Value::Seq(items) = &node.value else { return wrong(go_type) };
            items.iter().enumerate().find_map(|(i, n)| check(n, item, reader).map(|f| f.within(i.to_string())))
        }
        Shape::Map(go_type, value) => {
            let Value::Map(entries) = &node.value else { return wrong(go_type) };
            entries.iter().find_map(|(k, n)| check(n, value, reader).map(|f| f.within(k.clone())))
        }
        Shape::Struct(go_type, fields) => {
            let Value::Map(entries) = &node.value else { return wrong(go_type) };
            entries.iter().find_map(|(key, n)| match fields.iter().find(|(name, _)| name == key) {
                Some((_, field)) => check(n, field, reader).map(|f| f.within(key.clone())),
                None if reader == Reader::Kustomize => Some(Fault { line: n.line, problem: Problem::UnknownField(key.clone()), path: Vec::new() }),
                None => None,
            })
        }
    }
}

/// Whether encoding/json takes the number for an integer: YAML's `2.0` reaches it as `2`.
fn is_integral(text: &str) -> bool {
    match number(text) {
        Some(Number::Int(_)) => true,
        Some(Number::Float(f)) => f.fract() == 0.0 && f.abs() < 9.2e18,
        _ => false,
    }
}

impl Fault {
    fn wrong_type(node: &Node, go_type: &'static str) -> Fault {
        let (value, number) = match &node.value {
            Value::Bool(_) => ("bool", None),
            Value::Number(n) => ("number", go_type.starts_with("int").then(|| n.clone())),
            Value::Str(_) => ("string", None),
            Value::Seq(_) => ("array", None),
            Value::Map(_) => ("object", None),
            Value::Null => ("null", None),
        };
        Fault { line: node.line, problem: Problem::WrongType { value, number, go_type }, path: Vec::new() }
    }

    fn within(mut self, step: String) -> Fault {
        self.path.push(step);
        self
    }

    /// As kustomize reports it (encoding/json's `UnmarshalTypeError`, or its unknown field).
    fn message(&self) -> String {
        let (value, number, go_type) = match &self.problem {
            Problem::UnknownField(key) => return format!("json: unknown field \"{key}\" in the kustomization file; kustomize fails the build"),
            Problem::WrongType { value, number, go_type } => (value, number, go_type),
        };
        let value = match number {
            Some(n) => format!("number {n}"),
            None => value.to_string(),
        };
        let at_item = self.path.last().is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()));
        let field = self.path.join(".");
        let into = if at_item { field } else { format!("Go struct field {field}") };
        let to_string = matches!(*go_type, "string" | "types.PatchStrategicMerge");
        let hint = match value.as_str() {
            "bool" if to_string => " (kustomize reads the file as YAML 1.1, where yes, no, on, off, y and n are booleans: quote the value)",
            "number" if to_string => " (quote the value)",
            _ => "",
        };
        format!("json: cannot unmarshal {value} into {into} of type {go_type}{hint}; kustomize fails the build")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::{parse_documents_with, Schema};

    fn refused(text: &str, reader: Reader) -> Option<String> {
        let root = parse_documents_with(text, Schema::Yaml11).remove(0).unwrap().root;
        refusal(&root, reader).map(|(_, message)| message)
    }

    #[test]
    fn a_value_of_the_wrong_type_fails_yaml_1_1_booleans_included() {
        let namespace = refused("namespace: n\n", Reader::Flux).unwrap();
        assert!(namespace.starts_with("json: cannot unmarshal bool into Go struct field Kustomization.namespace of type string"), "{namespace}");
        let tag = refused("images:\n  - name: x\n    newTag: 1.10\n", Reader::Kustomize).unwrap();
        assert!(tag.starts_with("json: cannot unmarshal number into Go struct field Kustomization.images.0.newTag of type string"), "{tag}");
        let item = refused("resources: [a.yaml, 1]\n", Reader::Kustomize).unwrap();
        assert!(item.starts_with("json: cannot unmarshal number into Kustomization.resources.1 of type string"), "{item}");
        let count = refused("replicas: [{name: x, count: 1.5}]\n", Reader::Kustomize).unwrap();
        assert!(count.starts_with("json: cannot unmarshal number 1.5 into Go struct field Kustomization.replicas.0.count of type int64"), "{count}");
        let list = refused("resources: a.yaml\n", Reader::Kustomize).unwrap();
        assert!(list.starts_with("json: cannot unmarshal string into Go struct field Kustomization.resources of type []string"), "{list}");
        assert_eq!(refused("generatorOptions: {disableNameSuffixHash: yes}\ncommonLabels: {a: }\nreplicas: [{name: x, count: 2}]\n", Reader::Kustomize), None);
    }

    #[test]
    fn unknown_fields_fail_only_where_kustomize_reads_the_file_first() {
        let text = "resources: [a.yaml]\npatches:\n  - path: p.yaml\n    tagret: {kind: X}\n";
        assert!(refused(text, Reader::Kustomize).unwrap().starts_with("json: unknown field \"tagret\""));
        assert_eq!(refused(text, Reader::Flux), None);
        assert_eq!(refused("helmCharts: [{name: x, anything: 1}]\nsortOptions: {order: fifo}\n", Reader::Kustomize), None);
    }

    #[test]
    fn kind_and_api_version_must_be_kustomizes() {
        assert!(refused("apiVersion: kustomize.config.k8s.io/v1\n", Reader::Flux).unwrap().starts_with("apiVersion for Kustomization should be kustomize.config.k8s.io/v1beta1"));
        assert!(refused("kind: Foo\n", Reader::Flux).unwrap().starts_with("kind should be Kustomization or Component"));
        assert!(refused("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Component\n", Reader::Flux).unwrap().contains("v1alpha1"));
        assert_eq!(refused("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n", Reader::Kustomize), None);
    }
}
