//! Editing a manifest in place: the few map operations that kustomize's transformers, Flux's
//! `commonMetadata` and a ResourceSet's defaults all make (set a key, make sure a map exists,
//! set a label or an annotation). New nodes take the line of the map they are put in, so a
//! diagnostic about them still points near where they came from.

use super::yaml::{Node, Value};

impl Node {
    /// The map under `key`, made (replacing whatever was there) when there is none.
    pub fn map_mut(&mut self, key: &str) -> &mut Node {
        let line = self.line;
        if !matches!(self.get(key).map(|n| &n.value), Some(Value::Map(_))) {
            self.set(key, Value::Map(Vec::new()));
        }
        let child = self.get_mut(key).expect("just set");
        if child.line == 0 {
            child.line = line;
        }
        child
    }

    /// Sets `key` to `value`, keeping the key's place when it exists; a node that is not a
    /// map becomes one.
    pub fn set(&mut self, key: &str, value: Value) {
        let line = self.line;
        if let Value::Map(entries) = &mut self.value {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => v.value = value,
                None => entries.push((key.to_string(), Node::new(line, value))),
            }
        } else {
            self.value = Value::Map(vec![(key.to_string(), Node::new(line, value))]);
        }
    }

    /// Removes `key` from a map; whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        match &mut self.value {
            Value::Map(entries) => {
                let before = entries.len();
                entries.retain(|(k, _)| k != key);
                entries.len() != before
            }
            _ => false,
        }
    }

    /// Sets `metadata.<field>.<key>` (`field` is `labels` or `annotations`) on a manifest;
    /// anything that is not a map is left alone.
    pub fn set_metadata(&mut self, field: &str, key: &str, value: &str) {
        if !self.is_map() {
            return;
        }
        self.map_mut("metadata").map_mut(field).set(key, Value::Str(value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_documents;

    fn node(text: &str) -> Node {
        (*parse_documents(text).remove(0).unwrap().root).clone()
    }

    #[test]
    fn metadata_is_made_where_missing_and_kept_where_present() {
        let mut m = node("kind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    x: '1'\n");
        m.set_metadata("labels", "y", "2");
        m.set_metadata("annotations", "z", "3");
        assert_eq!(m.at(&["metadata", "labels", "x"]).unwrap().as_str(), Some("1"));
        assert_eq!(m.at(&["metadata", "labels", "y"]).unwrap().as_str(), Some("2"));
        let metadata_line = m.get("metadata").unwrap().line;
        assert_eq!(m.at(&["metadata", "annotations", "z"]).unwrap().line, metadata_line, "a new map takes its parent's line");
        let mut scalar = node("just text\n");
        scalar.set_metadata("labels", "y", "2");
        assert_eq!(scalar.as_str(), Some("just text"));
    }

    #[test]
    fn a_value_that_is_not_a_map_is_replaced_by_one() {
        let mut m = node("metadata: ~\n");
        m.map_mut("metadata").set("name", Value::Str("a".into()));
        assert_eq!(m.at(&["metadata", "name"]).unwrap().as_str(), Some("a"));
        assert!(m.remove("metadata"));
        assert!(!m.remove("metadata"));
    }
}
