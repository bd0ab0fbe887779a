//! Builds as real kustomize makes them: each case repository under `tests/repos/` (named after
//! the kustomize or Flux rule it pins) is built by `fluxgraph build --all --format json` and
//! compared, build by build and object by object, with what `../shared/tools/fluxsim.py --builds`
//! printed for it (`tests/golden/kustomize/<case>.json`; fluxsim runs the real kustomize, api
//! v0.21.3, and emulates kustomize-controller around it). The comparison normalises as
//! `build-conformance.py` does: key order ignored, scalars compared as text, kustomize's own
//! `config.kubernetes.io/` annotations left out. Each test then spells out what its rule does.
//!
//! To make a golden file again: `python3 ../shared/tools/fluxsim.py tests/repos/<case> --builds >
//! tests/golden/kustomize/<case>.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// `fluxgraph build <case> --all --format json`: the builds, by Kustomization id.
fn our_builds(case: &str) -> BTreeMap<String, Value> {
    let path = repo(case);
    let output = run(&["build", path.to_str().expect("a UTF-8 path"), "--all", "--format", "json"]);
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{case}: not JSON ({e})"));
    by_id(&doc)
}

fn by_id(doc: &Value) -> BTreeMap<String, Value> {
    doc["builds"].as_array().expect("builds").iter().map(|b| (b["kustomization"].as_str().expect("an id").to_string(), b.clone())).collect()
}

/// Scalars as text (`8080` and `"8080"` alike), as build-conformance.py compares them.
fn normalised(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalised(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(normalised).collect()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

/// An object as compared: normalised, without kustomize's own annotations.
fn comparable(object: &Value) -> Value {
    let mut o = normalised(object);
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.retain(|k, _| !["config.kubernetes.io/", "internal.config.kubernetes.io/", "kustomize.config.k8s.io/"].iter().any(|p| k.starts_with(p)));
            if annotations.is_empty() {
                meta.remove("annotations");
            }
        }
    }
    o
}

/// `group/Kind/namespace/name`, a repeated one with `#2`, `#3`.
fn objects(build: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for o in build["objects"].as_array().expect("objects") {
        let group = o["apiVersion"].as_str().unwrap_or("").rsplit_once('/').map_or("", |(g, _)| g);
        let id = format!("{group}/{}/{}/{}", o["kind"].as_str().unwrap_or(""), o["metadata"]["namespace"].as_str().unwrap_or(""), o["metadata"]["name"].as_str().unwrap_or(""));
        let mut key = id.clone();
        let mut n = 1;
        while out.contains_key(&key) {
            n += 1;
            key = format!("{id}#{n}");
        }
        out.insert(key, comparable(o));
    }
    out
}

/// Checks that every build of `case` is real kustomize's, and gives ours.
fn conforms(case: &str) -> BTreeMap<String, Value> {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/kustomize").join(format!("{case}.json"));
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&golden).expect("the golden file")).expect("golden JSON");
    let expected = by_id(&expected);
    let ours = our_builds(case);
    assert_eq!(ours.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "{case}: the Kustomizations built");
    for (id, want) in &expected {
        let got = &ours[id];
        assert_eq!(got["error"].is_null(), want["error"].is_null(), "{case} {id}: fails on one side only: ours {}, kustomize {}", got["error"], want["error"]);
        let (got_objects, want_objects) = (objects(got), objects(want));
        assert_eq!(got_objects.keys().collect::<Vec<_>>(), want_objects.keys().collect::<Vec<_>>(), "{case} {id}: the objects");
        for (key, want_object) in &want_objects {
            assert_eq!(&got_objects[key], want_object, "{case} {id}: {key}");
        }
    }
    ours
}

fn object<'a>(build: &'a Value, kind: &str, name: &str) -> &'a Value {
    build["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {build}"))
}

/// kustomize's namespace transformer gives the namespace to every kind its built-in schema does
/// not know as cluster-scoped, custom resources included; a Namespace is renamed to it; role
/// bindings' subjects named `default` follow; the outermost namespace wins, and a Flux
/// Kustomization's targetNamespace over all.
#[test]
fn namespace_goes_on_every_kind_but_the_schemas_cluster_scoped_ones() {
    let builds = conforms("kustomize-namespace-cluster-scoped-kinds");
    let apps = &builds["Kustomization/flux-system/apps"];
    assert_eq!(object(apps, "ClusterIssuer", "letsencrypt")["metadata"]["namespace"], "outer", "a custom resource");
    assert_eq!(object(apps, "ClusterIssuer", "from-a-component")["metadata"]["namespace"], "outer");
    assert_eq!(object(apps, "FlowSchema", "not-in-the-schema-at-this-version")["metadata"]["namespace"], "outer");
    assert!(object(apps, "ClusterRole", "reader")["metadata"].get("namespace").is_none());
    assert!(object(apps, "ValidatingAdmissionPolicy", "policy")["metadata"].get("namespace").is_none());
    object(apps, "Namespace", "outer");
    assert_eq!(object(apps, "ConfigMap", "settings")["metadata"]["namespace"], "outer", "the outermost namespace wins");
    let subjects = &object(apps, "RoleBinding", "read")["subjects"];
    assert_eq!((subjects[0]["namespace"].as_str(), subjects[1]["namespace"].as_str()), (Some("outer"), Some("somewhere")));
    let target = &builds["Kustomization/flux-system/apps-target"];
    assert_eq!(object(target, "ConfigMap", "settings")["metadata"]["namespace"], "flux-target");
    object(target, "Namespace", "flux-target");
}

/// configMapGenerator and secretGenerator: kustomize's hash suffix, generatorOptions merged
/// under each generator's own, behavior merge and replace, and every reference kustomize knows
/// (and a `configurations:` file adds) following the new names through a prefix.
#[test]
fn generated_names_carry_kustomizes_hash_and_references_follow() {
    let builds = conforms("kustomize-generators");
    let overlay = &builds["Kustomization/flux-system/overlay"];
    let settings = object(overlay, "ConfigMap", "prod-settings-88cmgbkmt2");
    assert_eq!(settings["data"]["LOG_LEVEL"], "debug", "merged over the base's");
    assert_eq!(settings["data"]["TZ"], "Europe/Paris", "kept from the base's env file");
    assert_eq!(settings["data"]["HOST"], "web.example.com", "substituted after the build");
    let web = object(overlay, "Deployment", "prod-web");
    assert_eq!(web["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"], "prod-settings-88cmgbkmt2");
    assert_eq!(object(overlay, "HelmRelease", "prod-web")["spec"]["valuesFrom"][0]["name"], "prod-values-857mh2h2h8");
    assert_eq!(object(overlay, "ConfigMap", "prod-fixed")["data"], serde_json::json!({"b": "2"}), "replaced, still without hash");
    assert_eq!(object(overlay, "ConfigMap", "prod-script-9f97mmd8ft")["data"]["run.sh"], "echo ${HOME}", "its substitute: disabled");
    let secret = object(overlay, "Secret", "prod-credentials-mgkt47mt2t");
    assert_eq!(secret["data"]["password"], "<redacted>", "hashed, never shown");
}

/// Strategic merge as kustomize's kyaml does it: merge keys on Kubernetes' own kinds (the patch's
/// items first), `$patch: delete|replace`, `null` deletes, lists replaced on custom resources and
/// where no merge key exists, fields written as nothing dropped, other `$` keys kept as fields.
#[test]
fn strategic_merge_follows_kubernetes_merge_keys() {
    let builds = conforms("kustomize-strategic-merge");
    let apps = &builds["Kustomization/flux-system/apps"];
    let spec = &object(apps, "Deployment", "web")["spec"]["template"]["spec"];
    let names: Vec<&str> = spec["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["metrics", "app"]);
    assert_eq!(spec["nodeSelector"], serde_json::json!({"zone": "a"}));
    assert!(spec.get("$setElementOrder/containers").is_some(), "kyaml's only directive is $patch");
    let values = &object(apps, "HelmRelease", "web")["spec"]["values"];
    assert_eq!(values["env"].as_array().unwrap().len(), 1, "a custom resource's list is replaced");
    assert!(values.get("ingress").is_none() && values.get("resources").is_none() && values.get("writtenAsNothing").is_none());
    assert!(values.get("kept").is_some(), "`~` is kept");
    let ports = object(apps, "Service", "web")["spec"]["ports"].as_array().unwrap().len();
    assert_eq!(ports, 2, "a Service's ports merge by port");
}

/// JSON 6902 as kustomize applies it (json-patch v4): every op, a `replace` of a missing key sets
/// it, `add` under `/metadata/annotations/` works on an object without annotations, the patch's
/// YAML is YAML 1.1 (`yes` is `true`), a patch file may be `.json`; a Flux Kustomization's own
/// patches apply last.
#[test]
fn json6902_ops_as_kustomize_applies_them() {
    let builds = conforms("kustomize-json6902");
    let data = &object(&builds["Kustomization/flux-system/apps"], "ConfigMap", "settings")["data"];
    assert_eq!(data["missing"], "set-by-replace");
    assert_eq!(data["from-flux"], "yes");
    assert!(data.get("fromJsonFile").is_some(), "a .json patch file");
}

/// replacements: a component's Namespace, renamed by the namespace transformer, becomes every
/// child Kustomization's targetNamespace (created), a value split at a delimiter lands in a list
/// item named by `[name=…]`, and `*` reaches every container.
#[test]
fn replacements_copy_values_into_selected_fields() {
    let builds = conforms("kustomize-replacements");
    let apps = &builds["Kustomization/flux-system/apps"];
    assert_eq!(object(apps, "Kustomization", "app")["spec"]["targetNamespace"], "media");
    assert_eq!(object(apps, "Kustomization", "other")["spec"]["targetNamespace"], "kept", "rejected");
    let web = object(apps, "Deployment", "web");
    assert_eq!(web["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "web");
    assert_eq!(web["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 8080, "an int stays an int");
}

/// Components add to and patch what their kustomization has built so far (its generated
/// objects too), nest, and join a generated kustomization through a Flux Kustomization's
/// spec.components.
#[test]
fn components_patch_what_is_built_so_far() {
    let builds = conforms("kustomize-components");
    let apps = &builds["Kustomization/flux-system/apps"];
    assert_eq!(object(apps, "ConfigMap", "generated")["data"]["monitored"], "true");
    assert_eq!(object(apps, "ServiceMonitor", "web")["metadata"]["labels"]["team"], "web");
    object(&builds["Kustomization/flux-system/generated"], "ConfigMap", "from-flux-component");
}

/// images: every containers or initContainers image at any depth (a HelmRelease's values too),
/// newName, newTag and digest (either replaces both tag and digest); a Flux Kustomization's
/// spec.images merge over the kustomization's by name.
#[test]
fn images_change_every_container_that_names_them() {
    let builds = conforms("kustomize-images");
    let apps = &builds["Kustomization/flux-system/apps"];
    let spec = &object(apps, "Deployment", "web")["spec"]["template"]["spec"];
    assert_eq!(spec["containers"][0]["image"], "registry.example.com/nginx:1.27");
    assert_eq!(spec["containers"][1]["image"], "redis:7.2", "the Flux Kustomization's newTag wins");
    assert_eq!(spec["initContainers"][0]["image"], "mirror.example.com/busybox@sha256:0123456789abcdef");
    assert_eq!(spec["containers"][2]["image"], "nginx-exporter:1", "the name is matched whole");
}

/// commonLabels reach selectors and templates; `labels` reach metadata only unless they include
/// selectors or templates; commonAnnotations reach pod templates; annotation values are text.
#[test]
fn labels_reach_selectors_only_when_asked() {
    let builds = conforms("kustomize-labels-and-annotations");
    let apps = &builds["Kustomization/flux-system/apps"];
    let selector = &object(apps, "Deployment", "web")["spec"]["selector"]["matchLabels"];
    assert!(selector.get("app.kubernetes.io/part-of").is_some() && selector.get("release").is_some());
    assert!(selector.get("team").is_none() && selector.get("tier").is_none());
    assert_eq!(object(apps, "ConfigMap", "settings")["metadata"]["annotations"]["port"], "8080");
}

/// namePrefix and nameSuffix rename everything but CustomResourceDefinitions and Namespaces, and
/// every reference follows: a ServiceAccount, a Role, a PersistentVolumeClaim, a Service, a scale
/// target. A Flux Kustomization's namePrefix replaces the kustomization file's (Flux writes it
/// into the file); a base's suffix stays.
#[test]
fn references_follow_name_prefixes_and_suffixes() {
    let builds = conforms("kustomize-name-prefix-references");
    let apps = &builds["Kustomization/flux-system/apps"];
    let set = object(apps, "StatefulSet", "flux-web-v1");
    assert_eq!(set["spec"]["template"]["spec"]["serviceAccountName"], "flux-web-v1");
    assert_eq!(set["spec"]["serviceName"], "flux-web-v1");
    assert_eq!(set["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "flux-data-v1");
    assert_eq!(object(apps, "RoleBinding", "flux-web-reads-v1")["roleRef"]["name"], "flux-reader-v1");
    let subject = &object(apps, "ClusterRoleBinding", "flux-web-views-v1")["subjects"][0];
    assert_eq!((subject["name"].as_str(), subject["namespace"].as_str()), (Some("flux-web-v1"), Some("shop")), "namespace default names no namespace");
    assert_eq!(object(apps, "HorizontalPodAutoscaler", "flux-web-v1")["spec"]["scaleTargetRef"]["name"], "flux-web-v1");
    object(apps, "Namespace", "shop");
    object(apps, "CustomResourceDefinition", "carts.example.com");
}

/// Plain scalars are what Go reads: `0775` is 509, `1_000` is 1000, `6.0e2` is 600, and a folded
/// block keeps one line break more before a more-indented line.
#[test]
fn scalars_are_what_gos_yaml_reads() {
    let builds = conforms("yaml-scalars-as-go-reads-them");
    let apps = &builds["Kustomization/flux-system/apps"];
    let web = object(apps, "Deployment", "web");
    assert_eq!(web["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"], 509);
    assert_eq!(web["spec"]["template"]["spec"]["volumes"][1]["secret"]["defaultMode"], 288);
    assert_eq!(web["spec"]["revisionHistoryLimit"], 1000);
    assert_eq!(web["spec"]["progressDeadlineSeconds"], 600);
    let expr = object(apps, "PrometheusRule", "rules")["spec"]["groups"][0]["rules"][0]["expr"].as_str().unwrap();
    assert!(expr.starts_with("(1 - (\n\n  node_memory"), "{expr:?}");
}

/// postBuild as kustomize-controller does it: on the manifest's text, read again as YAML 1.1 (a
/// `${PORT}` becomes a number even when quoted, quotes inside a value are YAML's, an empty value is
/// null, a flow list is a list), ConfigMap values without line breaks, the fork's string
/// functions; what its envsubst cannot parse fails the build.
#[test]
fn postbuild_substitutes_in_the_text_and_reads_it_again() {
    let builds = conforms("postbuild-substitution-as-text");
    let apps = &builds["Kustomization/flux-system/apps"];
    let container = &object(apps, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.2.3");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["env"][0]["value"], 8080, "quoted in the file, a number once read again");
    assert_eq!(container["env"][1]["value"], serde_json::json!(["a.example.com", "b.example.com"]));
    assert_eq!(container["env"][3]["value"], "line oneline two");
    let schedule = &object(apps, "Schedule", "backup")["spec"];
    assert_eq!((&schedule["enabled"], &schedule["cron"], &schedule["storageClass"]), (&Value::Bool(true), &Value::String("0 3 * * *".into()), &Value::Null));
    let broken = &builds["Kustomization/flux-system/broken"];
    assert_eq!(broken["error"]["code"], "substitution-failed");
}

/// Issue 16, K1 and K2: a JSON 6902 replace of a missing key sets it; an add under
/// /metadata/annotations/ works on an object without annotations.
#[test]
fn json6902_replace_sets_and_annotations_add_works() {
    let builds = conforms("json6902-replace-and-annotations-add");
    let apps = &builds["Kustomization/flux-system/apps"];
    assert_eq!(object(apps, "ConfigMap", "settings")["data"]["missing"], "set-by-replace");
    assert_eq!(object(apps, "Kustomization", "child")["metadata"]["annotations"]["example.com/note"], "added");
}

/// Issue 16, K3: JSON files listed as resources are resources (JSON is YAML to kustomize).
#[test]
fn json_files_listed_as_resources_are_resources() {
    let builds = conforms("json-resource-files");
    object(&builds["Kustomization/flux-system/apps"], "ConfigMap", "dashboard");
    assert!(builds.contains_key("Kustomization/flux-system/child"), "a child from child.json");
}

/// Issue 16, K4: `kustomize.toolkit.fluxcd.io/substitute: disabled` set through generatorOptions
/// or a generator's options turns substitution off for what it generates.
#[test]
fn substitute_disabled_through_generator_options() {
    let builds = conforms("substitute-disabled-by-generator-options");
    let apps = &builds["Kustomization/flux-system/apps"];
    assert_eq!(object(apps, "ConfigMap", "script")["data"]["run.sh"], "echo ${HOME} ${DOMAIN}");
    assert_eq!(object(apps, "ConfigMap", "host")["data"]["host"], "app.example.com");
    let (_, doc) = check(&repo("substitute-disabled-by-generator-options"));
    assert_codes(only_cluster(&doc), &[]);
}

/// Issue 16, K5: a patch that fails is `patch-failed`, at the patch entry's file and line, and the
/// build fails, as kustomize's does.
#[test]
fn a_failed_patch_is_patch_failed_at_its_entry() {
    let builds = conforms("patch-failed");
    assert_eq!(builds["Kustomization/flux-system/apps"]["error"]["code"], "patch-failed");
    let (_, doc) = check(&repo("patch-failed"));
    let d = diag_on(only_cluster(&doc), "patch-failed", Some("Kustomization/flux-system/apps"));
    assert_eq!((d["file"].as_str(), d["line"].as_u64()), (Some("apps/kustomization.yaml"), Some(6)));
}

/// kustomize refuses an object whose id its build already holds ("may not add resource with an
/// already registered id", `api/resmap/reswrangler.go` `Append`): the build fails, reported at
/// the `resources:` entry that adds the second copy; without a kustomization file (Flux
/// generates one listing the folder's files), at the second copy itself.
#[test]
fn a_resource_id_added_twice_fails_the_build_at_the_entry_that_adds_it() {
    let builds = conforms("duplicate-resource-id");
    for id in ["Kustomization/flux-system/listed", "Kustomization/flux-system/generated"] {
        assert_eq!(builds[id]["error"]["code"], "invalid-object", "{id}");
    }
    assert!(builds["Kustomization/flux-system/after"]["error"].is_null());
    let (_, doc) = check(&repo("duplicate-resource-id"));
    let cluster = only_cluster(&doc);
    let listed = diag_on(cluster, "invalid-object", Some("Kustomization/flux-system/listed"));
    assert_eq!((listed["file"].as_str(), listed["line"].as_u64()), (Some("apps/listed/kustomization.yaml"), Some(6)));
    assert!(listed["message"].as_str().is_some_and(|m| m.contains("apps/listed/repository.yaml:1 and apps/listed/release.yaml:2")), "{listed}");
    let generated = diag_on(cluster, "invalid-object", Some("Kustomization/flux-system/generated"));
    assert_eq!((generated["file"].as_str(), generated["line"].as_u64()), (Some("apps/generated/b.yaml"), Some(1)));
}

/// A patch's `options:` allowNameChange and allowKindChange keep the name or kind it sets (and
/// references follow the new name); without them kustomize puts both back.
#[test]
fn patch_options_allow_a_rename() {
    let builds = conforms("kustomize-patch-options-rename");
    let apps = &builds["Kustomization/flux-system/apps"];
    object(apps, "ConfigMap", "renamed");
    let set = object(apps, "StatefulSet", "d");
    assert_eq!(set["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"], "renamed");
}

/// The kustomization file as kustomize decodes it: YAML 1.1 (`n` and `yes` are booleans), a value
/// of the wrong type fails the build, an unknown field fails where kustomize reads the file first
/// (kustomize-controller drops it from the file at a Kustomization's path), the apiVersion must
/// be kustomize's, and a Component is refused as a resource but built at a Kustomization's path.
#[test]
fn the_kustomization_file_is_decoded_as_kustomize_decodes_it() {
    let case = "kustomization-file-as-kustomize-decodes-it";
    let builds = conforms(case);
    for failing in ["top-boolean-namespace", "top-number-tag", "nested-unknown-field", "nested-boolean-label", "wrong-api-version", "component-as-resource"] {
        assert_eq!(builds[&format!("Kustomization/flux-system/{failing}")]["error"]["code"], "invalid-object", "{failing}");
    }
    let (_, doc) = check(&repo(case));
    let d = diag_on(only_cluster(&doc), "invalid-object", Some("Kustomization/flux-system/top-number-tag"));
    assert_eq!((d["file"].as_str(), d["line"].as_u64()), (Some("apps/top-number-tag/kustomization.yaml"), Some(5)));
    let quoted = &builds["Kustomization/flux-system/quoted"];
    assert_eq!(object(quoted, "Deployment", "web")["metadata"]["labels"]["monitored"], "yes");
    object(quoted, "ConfigMap", "settings");
    object(&builds["Kustomization/flux-system/component-at-path"], "ConfigMap", "settings");
}

/// Documents as kustomize's resource factory reads them: a list with items is its items (nested
/// too), an empty document or `items: null` is nothing, a name may be a number; a document that
/// is not an object (no kind, no name, plain text, Helm values beside the manifests of a
/// generated kustomization) fails the build, and so does, in kustomize-controller, an object
/// without an apiVersion, which kustomize itself lets through.
#[test]
fn documents_are_read_as_kustomizes_resource_factory_reads_them() {
    let builds = conforms("kustomize-resource-documents");
    let objects = &builds["Kustomization/flux-system/objects"];
    object(objects, "ConfigMap", "inner");
    object(objects, "ConfigMap", "outer");
    for failing in ["missing-name", "generated-with-values", "scalar-document", "flux-needs-api-version", "list-without-items"] {
        assert_eq!(builds[&format!("Kustomization/flux-system/{failing}")]["error"]["code"], "invalid-object", "{failing}");
    }
}
