//! The transformers of one kustomization → the resources it has built so far, changed, in
//! kustomize's order (`api/internal/target/kusttarget_configplugin.go`): strategic-merge patches
//! (`patchesStrategicMerge`), `patches` (the Flux Kustomization's own last), `namespace`,
//! `namePrefix`/`nameSuffix`, `labels` and `commonLabels`, `commonAnnotations`,
//! `patchesJson6902`, `replicas`, `images`, `replacements`, then `transformers:` (kustomize's
//! built-in transformers configured by hand; plugins do not run in kustomize-controller).
//!
//! Each is read from kustomize's own: `api/filters/namespace` (every kind its schema does not
//! know as cluster-scoped gets the namespace, a `Namespace` is renamed to it, role bindings'
//! subjects named `default` follow), `api/internal/builtins/PrefixTransformer.go` (not
//! CustomResourceDefinitions, APIServices or Namespaces), `api/filters/labels` and
//! `annotations` (through the field specs of [`super::fieldspec`]), `api/filters/imagetag`
//! (every `containers`/`initContainers` image at any depth, `api/image/image.go`'s matching),
//! `api/internal/builtins/PatchTransformer.go` and `PatchStrategicMergeTransformer.go` (a patch
//! without target names its object by its id, and one that matches nothing fails the build).

use regex::Regex;

use super::fieldspec::{Config, FieldSpec, Leaf};
use super::{Built, Builder, Change, Overlay, Resource, origin, scope};
use crate::load::patch::Origin;
use crate::diagnostic::{Code, Diagnostic};
use crate::load::patch::{Patch, PatchBody, Target, changed_fields};
use crate::load::{LoadError, Node, Value};
use crate::load::Manifest;

/// One `images:` entry: which image, and what it becomes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

impl Image {
    pub fn read(node: &Node) -> Option<Image> {
        let text = |k: &str| node.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
        Some(Image { name: text("name")?, new_name: text("newName"), new_tag: text("newTag"), digest: text("digest") })
    }

    /// The image `value` becomes, when this entry names it.
    fn update(&self, value: &str) -> Option<String> {
        // kustomize compiles the name into its pattern as it is (`api/image/image.go`).
        let pattern = Regex::new(&format!("^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$", self.name)).ok()?;
        if !pattern.is_match(value) {
            return None;
        }
        let (mut name, mut tag, mut digest) = split_image(value);
        if let Some(new_name) = &self.new_name {
            name = new_name.clone();
        }
        // A new tag or digest replaces both the tag and the digest.
        match (&self.new_tag, &self.digest) {
            (Some(t), Some(d)) => (tag, digest) = (t.clone(), d.clone()),
            (Some(t), None) => (tag, digest) = (t.clone(), String::new()),
            (None, Some(d)) => (tag, digest) = (String::new(), d.clone()),
            (None, None) => {}
        }
        if !tag.is_empty() {
            name = format!("{name}:{tag}");
        }
        if !digest.is_empty() {
            name = format!("{name}@{digest}");
        }
        Some(name)
    }
}

/// `[[host[:port]/]component/]component[:tag][@digest]` → name, tag, digest.
fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (Some(c), Some(a)) if c < a => (image[..c].to_string(), image[c + 1..a].to_string(), image[a + 1..].to_string()),
        (_, Some(a)) => (image[..a].to_string(), String::new(), image[a + 1..].to_string()),
        (Some(c), None) => (image[..c].to_string(), image[c + 1..].to_string(), String::new()),
    }
}

/// Flux merges a Kustomization's `spec.images` into the kustomization's by name, the spec's
/// newer values winning (fluxcd/pkg `kustomize_generator.go`).
fn merged_images(root: &Node, overlay: Option<&Overlay>) -> Vec<Image> {
    let mut images: Vec<Image> = root.get("images").map(Node::as_seq).unwrap_or_default().iter().filter_map(Image::read).collect();
    for image in overlay.map_or(&[][..], |o| &o.images) {
        match images.iter_mut().find(|i| i.name == image.name) {
            Some(existing) => {
                if image.new_name.is_some() {
                    existing.new_name = image.new_name.clone();
                }
                if image.new_tag.is_some() || image.digest.is_some() {
                    existing.new_tag = image.new_tag.clone();
                    existing.digest = image.digest.clone();
                }
            }
            None => images.push(image.clone()),
        }
    }
    images
}

/// String pairs of a map (`commonLabels`, a label group's `pairs`).
fn pairs(node: Option<&Node>) -> Vec<(String, String)> {
    node.map(Node::entries).unwrap_or_default().iter().map(|(k, v)| (k.clone(), v.scalar_text().unwrap_or_default())).collect()
}

impl Builder<'_> {
    /// Runs the kustomization's transformers on what it has built.
    pub(super) fn transform(&mut self, dir: &str, root: &Node, from: &str, overlay: Option<&Overlay>, built: &mut Built) {
        let strategic = self.strategic_merge_patches(dir, root, from);
        let mut patches = self.patches(dir, root, from, "patches");
        patches.extend(overlay.map_or(&[][..], |o| &o.patches).iter().cloned());
        let json6902 = self.patches(dir, root, from, "patchesJson6902");
        let replacements = self.replacements(dir, root, from);
        let configured = self.configured_transformers(dir, root, from);
        if !self.manifests {
            return;
        }
        let config = match built.config.as_deref() {
            Some(extra) => {
                let mut config = Config::built_in().clone();
                config.merge(extra);
                std::borrow::Cow::Owned(config)
            }
            None => std::borrow::Cow::Borrowed(Config::built_in()),
        };
        let remote = built.remote;
        let resources = &mut built.resources;
        for patch in strategic.iter().chain(&patches) {
            self.apply_patch(patch, resources, remote);
        }
        let text = |k: &str| root.get(k).and_then(Node::scalar_text).filter(|s| !s.is_empty());
        let namespace = overlay.and_then(|o| o.namespace.clone()).or_else(|| text("namespace"));
        if let Some(ns) = namespace {
            set_namespace(resources, &ns, &config);
        }
        let prefix = overlay.and_then(|o| o.name_prefix.clone()).or_else(|| text("namePrefix"));
        let suffix = overlay.and_then(|o| o.name_suffix.clone()).or_else(|| text("nameSuffix"));
        if prefix.is_some() || suffix.is_some() {
            add_affixes(resources, prefix.as_deref().unwrap_or(""), suffix.as_deref().unwrap_or(""), &config);
        }
        for group in root.get("labels").map(Node::as_seq).unwrap_or_default() {
            let labels = pairs(group.get("pairs"));
            let mut specs: Vec<FieldSpec> = group.get("fields").map(Node::as_seq).unwrap_or_default().iter().filter_map(FieldSpec::read).collect();
            if group.get("includeSelectors").and_then(Node::as_bool) == Some(true) {
                specs.extend(config.common_labels.iter().cloned());
            } else {
                if group.get("includeTemplates").and_then(Node::as_bool) == Some(true) {
                    specs.extend(config.template_labels.iter().cloned());
                }
                specs.push(FieldSpec::new("", "", "", "metadata/labels", true));
            }
            set_fields(resources, &labels, &specs);
        }
        set_fields(resources, &pairs(root.get("commonLabels")), &config.common_labels);
        set_fields(resources, &pairs(root.get("commonAnnotations")), &config.common_annotations);
        for patch in &json6902 {
            self.apply_patch(patch, resources, remote);
        }
        for replica in root.get("replicas").map(Node::as_seq).unwrap_or_default() {
            if let (Some(name), Some(count)) = (replica.get("name").and_then(Node::scalar_text), replica.get("count")) {
                set_replicas(resources, &name, count);
            }
        }
        for image in merged_images(root, overlay) {
            set_images(resources, &image);
        }
        for replacement in &replacements {
            if let Err(message) = replacement.apply(resources, remote) {
                self.build.diagnostics.push(Diagnostic::error(Code::InvalidObject, &*replacement.origin.file, replacement.origin.line, message.to_string()));
            }
        }
        for (transformer, origin) in &configured {
            self.run_configured(transformer, origin, resources, &config, remote);
        }
    }

    /// `transformers:` entries: inline configurations, or files of them.
    fn configured_transformers(&mut self, dir: &str, root: &Node, from: &str) -> Vec<(Node, Origin)> {
        let mut out = Vec::new();
        for entry in root.get("transformers").map(Node::as_seq).unwrap_or_default() {
            let Some(value) = entry.as_str() else { continue };
            let inline: Vec<Node> = crate::load::yaml::parse_documents(value).into_iter().flatten().map(|d| (*d.root).clone()).filter(Node::is_map).collect();
            if !inline.is_empty() {
                out.extend(inline.into_iter().map(|n| (n, origin(from, entry.line))));
                continue;
            }
            let Some(file) = self.listed_file(dir, value, from, entry.line, "transformer configuration") else { continue };
            if !self.manifests {
                continue;
            }
            for doc in file.documents.iter().flatten() {
                out.push(((*doc.root).clone(), origin(&file.path, doc.line)));
            }
        }
        out
    }

    /// One of kustomize's built-in transformers, configured by hand (`apiVersion: builtin`);
    /// any other is a plugin, which kustomize-controller does not run: the build fails.
    fn run_configured(&mut self, config: &Node, origin: &Origin, resources: &mut Vec<Resource>, defaults: &Config, remote: bool) {
        let specs = |key: &str, default: &[FieldSpec]| -> Vec<FieldSpec> {
            match config.get(key) {
                Some(list) => list.as_seq().iter().filter_map(FieldSpec::read).collect(),
                None => default.to_vec(),
            }
        };
        let text = |k: &str| config.get(k).and_then(Node::scalar_text).unwrap_or_default();
        match (config.api_version(), config.kind()) {
            ("builtin", "LabelTransformer") => set_fields(resources, &pairs(config.get("labels")), &specs("fieldSpecs", &defaults.common_labels)),
            ("builtin", "AnnotationsTransformer") => {
                set_fields(resources, &pairs(config.get("annotations")), &specs("fieldSpecs", &defaults.common_annotations))
            }
            ("builtin", "NamespaceTransformer") => {
                if let Some(ns) = config.at(&["metadata", "namespace"]).and_then(Node::scalar_text) {
                    let mut with = defaults.clone();
                    with.namespace = specs("fieldSpecs", &defaults.namespace);
                    set_namespace(resources, &ns, &with);
                }
            }
            ("builtin", "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer") => {
                let mut with = defaults.clone();
                with.name_prefix = specs("fieldSpecs", &defaults.name_prefix);
                add_affixes(resources, &text("prefix"), &text("suffix"), &with);
            }
            ("builtin", "ImageTagTransformer") => {
                if let Some(image) = config.get("imageTag").and_then(Image::read) {
                    set_images(resources, &image);
                }
            }
            ("builtin", "ReplicaCountTransformer") => {
                if let Some(replica) = config.get("replica") {
                    if let (Some(name), Some(count)) = (replica.get("name").and_then(Node::scalar_text), replica.get("count")) {
                        set_replicas(resources, &name, count);
                    }
                }
            }
            ("builtin", "PatchTransformer" | "PatchJson6902Transformer") => {
                let target = config.get("target").map(Target::read);
                let body = config.get("patch").or_else(|| config.get("jsonOp")).and_then(Node::as_str).unwrap_or_default();
                match Patch::parse_at(body, target, origin.clone()) {
                    Ok(patch) => self.apply_patch(&patch.allowing(config.get("options")), resources, remote),
                    Err(e) => self.error(Code::InvalidYaml, &origin.file, origin.line, e.to_string()),
                }
            }
            ("builtin", "PatchStrategicMergeTransformer") => {
                let body = config.get("patches").and_then(Node::as_str).unwrap_or_default();
                match Patch::parse_all(body, None, origin.clone()) {
                    Ok(patches) => patches.iter().for_each(|p| self.apply_patch(p, resources, remote)),
                    Err(e) => self.error(Code::InvalidYaml, &origin.file, origin.line, e.to_string()),
                }
            }
            ("builtin", "ReplacementTransformer") => {
                for entry in config.get("replacements").map(Node::as_seq).unwrap_or_default() {
                    let replacement = super::replacement::Replacement::read(entry, origin.clone());
                    if let Err(message) = replacement.apply(resources, remote) {
                        self.error(Code::InvalidObject, &origin.file, origin.line, message.to_string());
                    }
                }
            }
            (api, kind) => self.error(
                Code::InvalidObject,
                &origin.file,
                origin.line,
                format!("transformer {api} {kind} is a kustomize plugin, which kustomize-controller does not run: the build fails"),
            ),
        }
    }

    /// `patches:` (or `patchesJson6902:`, the same shape) of a kustomization file.
    fn patches(&mut self, dir: &str, root: &Node, from: &str, key: &str) -> Vec<Patch> {
        let mut out = Vec::new();
        for entry in root.get(key).map(Node::as_seq).unwrap_or_default() {
            let target = entry.get("target").map(Target::read);
            let at = origin(from, entry.line);
            // A build that only follows files has read the patch file by now: parsing it is waste.
            let parsed = match (entry.get("patch").and_then(Node::as_str), entry.get("path").and_then(Node::as_str)) {
                (Some(inline), _) => {
                    if !self.manifests {
                        continue;
                    }
                    Patch::parse_at(inline, target, at)
                }
                (None, Some(path)) => {
                    let Some(file) = self.listed_file(dir, path, from, entry.line, "patch file") else { continue };
                    if !self.manifests {
                        continue;
                    }
                    Patch::from_file(file, target, at).and_then(|p| p.into_iter().next().ok_or(LoadError::EmptyPatch))
                }
                (None, None) => {
                    self.error(Code::InvalidYaml, from, entry.line, "a patch needs `patch:` or `path:`".to_string());
                    continue;
                }
            };
            match parsed {
                Ok(p) => out.push(p.allowing(entry.get("options"))),
                Err(message) => self.error(Code::InvalidYaml, from, entry.line, message.to_string()),
            }
        }
        out
    }

    /// `patchesStrategicMerge:` entries: inline patches, or files of one or more patches.
    fn strategic_merge_patches(&mut self, dir: &str, root: &Node, from: &str) -> Vec<Patch> {
        let mut out = Vec::new();
        for entry in root.get("patchesStrategicMerge").map(Node::as_seq).unwrap_or_default() {
            let Some(value) = entry.as_str() else { continue };
            // kustomize first reads the entry as patches, then as a file name.
            let inline = crate::load::yaml::parse_documents(value).iter().any(|d| d.as_ref().is_ok_and(|d| d.root.is_map()));
            let parsed = if inline {
                if !self.manifests {
                    continue;
                }
                Patch::parse_all(value, None, origin(from, entry.line))
            } else {
                match self.listed_file(dir, value, from, entry.line, "patch file") {
                    Some(_) if !self.manifests => continue,
                    Some(file) => Patch::from_file(file, None, origin(from, entry.line)),
                    None => continue,
                }
            };
            match parsed {
                Ok(p) => out.extend(p),
                Err(message) => self.error(Code::InvalidYaml, from, entry.line, message.to_string()),
            }
        }
        out
    }

    /// Applies one patch where it belongs, noting what it changed on each object; a patch
    /// that fails, or names no object, fails the build (`patch-failed`, at the patch's entry).
    pub(super) fn apply_patch(&mut self, patch: &Patch, resources: &mut Vec<Resource>, remote: bool) {
        let fail = |builder: &mut Self, message: String| {
            builder.build.diagnostics.push(Diagnostic::error(Code::PatchFailed, &*patch.origin.file, patch.origin.line, message));
        };
        let selected: Vec<usize> = match (&patch.body, &patch.target) {
            (PatchBody::StrategicMerge { id, .. }, None) => {
                let found: Vec<usize> = resources.iter().enumerate().filter(|(_, r)| r.has_id(id)).map(|(i, _)| i).collect();
                let shown = format!("{}/{}{}", id.kind, if id.namespace.is_empty() { String::new() } else { format!("{}/", id.namespace) }, id.name);
                match found.len() {
                    1 => found,
                    // It may patch an object of a remote resource, which is not fetched here.
                    0 if remote => return,
                    0 => return fail(self, format!("no resource matches the strategic merge patch for {shown}: kustomize fails the build")),
                    _ => return fail(self, format!("several resources match the strategic merge patch for {shown}: kustomize fails the build")),
                }
            }
            (PatchBody::Json6902(_), None) => return fail(self, "a JSON 6902 patch needs a target".to_string()),
            (_, Some(target)) => resources
                .iter()
                .enumerate()
                .filter(|(_, r)| target.selects_resource(&r.manifest, r.trace.previous.first()))
                .map(|(i, _)| i)
                .collect(),
        };
        let mut deleted = Vec::new();
        for i in selected {
            let resource = &mut resources[i];
            match patch.apply(&resource.manifest) {
                Ok(Some(patched)) if patched != *resource.manifest => {
                    let fields = changed_fields(&resource.manifest, &patched);
                    resource.edit(|m| *m = patched);
                    resource.changes.push(Change { file: patch.origin.file.clone(), line: patch.origin.line, fields });
                }
                Ok(Some(_)) => {}
                Ok(None) => deleted.push(i),
                Err(e) => {
                    let name = format!("{}/{}", resource.manifest.kind(), resource.manifest.name().unwrap_or_default());
                    fail(self, format!("the patch fails on {name}: {e}; kustomize fails the build"));
                }
            }
        }
        for i in deleted.into_iter().rev() {
            resources.remove(i);
        }
    }
}

/// kustomize's namespace transformer.
fn set_namespace(resources: &mut [Resource], namespace: &str, config: &Config) {
    for r in resources {
        let m = &r.manifest;
        let (api, kind) = (m.api_version(), m.kind());
        let namespaced = !scope::is_cluster_scoped(api, kind);
        let specs: Vec<&FieldSpec> = config.namespace.iter().filter(|s| s.selects(api, kind)).collect();
        let binding = matches!(kind, "RoleBinding" | "ClusterRoleBinding")
            && m.get("subjects").is_some_and(|s| {
                s.as_seq().iter().any(|s| s.get("name").and_then(Node::scalar_str) == Some("default") && s.get("namespace").and_then(Node::scalar_str) != Some(namespace))
            });
        let current = m.at(&["metadata", "namespace"]).and_then(Node::scalar_str);
        if (!namespaced || current == Some(namespace)) && specs.is_empty() && !binding {
            continue;
        }
        r.edit(|m| {
            if namespaced {
                m.map_mut("metadata").set("namespace", Value::Str(namespace.to_string()));
            }
            for spec in &specs {
                spec.walk(m, Leaf::Scalar, &mut |n| n.value = Value::Str(namespace.to_string()));
            }
            if let Some(Value::Seq(subjects)) = m.get_mut("subjects").map(|s| &mut s.value) {
                for subject in subjects.iter_mut().filter(|s| s.get("name").and_then(Node::scalar_str) == Some("default")) {
                    subject.set("namespace", Value::Str(namespace.to_string()));
                }
            }
        });
    }
}

/// `namePrefix` and `nameSuffix`.
fn add_affixes(resources: &mut [Resource], prefix: &str, suffix: &str, config: &Config) {
    for r in resources {
        let original = r.original_id();
        let skipped = original.kind == "CustomResourceDefinition"
            || original.kind == "Namespace"
            || (original.kind == "APIService" && original.group == "apiregistration.k8s.io");
        let api = if original.group.is_empty() { original.version.clone() } else { format!("{}/{}", original.group, original.version) };
        let specs: Vec<&FieldSpec> = config.name_prefix.iter().filter(|s| s.selects(&api, &original.kind)).collect();
        if skipped || specs.is_empty() {
            continue;
        }
        r.edit(|m| {
            for spec in &specs {
                spec.walk(m, Leaf::Scalar, &mut |n| {
                    if let Some(name) = n.scalar_text() {
                        n.value = Value::Str(format!("{prefix}{name}{suffix}"));
                    }
                });
            }
        });
    }
}

/// Sets `pairs` in the maps the specs reach (labels, annotations).
fn set_fields(resources: &mut [Resource], pairs: &[(String, String)], specs: &[FieldSpec]) {
    if pairs.is_empty() {
        return;
    }
    for r in resources {
        let (api, kind) = (r.manifest.api_version(), r.manifest.kind());
        let applicable: Vec<&FieldSpec> = specs.iter().filter(|s| s.selects(api, kind) && (s.create || s.reaches(&r.manifest))).collect();
        if applicable.is_empty() {
            continue;
        }
        r.edit(|m| {
            for spec in &applicable {
                spec.walk(m, Leaf::Map, &mut |n| {
                    for (k, v) in pairs {
                        n.set(k, Value::Str(v.clone()));
                    }
                });
            }
        });
    }
}

/// `replicas:`: `spec.replicas` of the workloads of that name.
fn set_replicas(resources: &mut [Resource], name: &str, count: &Node) {
    for r in resources {
        let kind = r.manifest.kind();
        let named = r.id().name == name || r.original_id().name == name;
        if !named || !matches!(kind, "Deployment" | "ReplicationController" | "ReplicaSet" | "StatefulSet") {
            continue;
        }
        r.edit(|m| m.map_mut("spec").set("replicas", count.value.clone()));
    }
}

/// `images:`: every `image` of a `containers` or `initContainers` list, at any depth.
fn set_images(resources: &mut [Resource], image: &Image) {
    for r in resources {
        if !has_image(&r.manifest, image) {
            continue;
        }
        r.edit(|m| update_images(m, image));
    }
}

fn is_containers(key: &str) -> bool {
    key == "containers" || key == "initContainers"
}

fn has_image(node: &Node, image: &Image) -> bool {
    match &node.value {
        Value::Map(entries) => entries.iter().any(|(k, v)| {
            (is_containers(k) && v.as_seq().iter().any(|c| c.get("image").and_then(Node::as_str).is_some_and(|i| image.update(i).is_some())))
                || has_image(v, image)
        }),
        Value::Seq(items) => items.iter().any(|i| has_image(i, image)),
        _ => false,
    }
}

fn update_images(node: &mut Node, image: &Image) {
    match &mut node.value {
        Value::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                if is_containers(key) {
                    if let Value::Seq(containers) = &mut value.value {
                        for container in containers {
                            let updated = container.get("image").and_then(Node::as_str).and_then(|i| image.update(i));
                            if let Some(updated) = updated {
                                container.set("image", Value::Str(updated));
                            }
                        }
                    }
                }
                update_images(value, image);
            }
        }
        Value::Seq(items) => items.iter_mut().for_each(|i| update_images(i, image)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_at_the_tag_or_digest_after_the_host() {
        assert_eq!(split_image("nginx"), ("nginx".into(), "".into(), "".into()));
        assert_eq!(split_image("reg:5000/nginx:1.2"), ("reg:5000/nginx".into(), "1.2".into(), "".into()));
        assert_eq!(split_image("busybox:1@sha256:ab"), ("busybox".into(), "1".into(), "sha256:ab".into()));
        assert_eq!(split_image("busybox@sha256:ab"), ("busybox".into(), "".into(), "sha256:ab".into()));
    }

    #[test]
    fn a_new_tag_or_digest_replaces_both() {
        let image = |tag: Option<&str>, digest: Option<&str>| Image {
            name: "busybox".into(),
            new_name: None,
            new_tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        };
        assert_eq!(image(None, Some("sha256:cd")).update("busybox:1@sha256:ab").as_deref(), Some("busybox@sha256:cd"));
        assert_eq!(image(Some("2"), None).update("busybox:1@sha256:ab").as_deref(), Some("busybox:2"));
        assert_eq!(image(Some("2"), None).update("busybox-extra:1"), None, "the name is matched whole");
    }
}
