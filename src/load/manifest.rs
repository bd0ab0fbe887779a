//! What every Kubernetes manifest says of itself: its type and its metadata's namespace and
//! name, read from its [`Node`] without copying. Kustomize resolution reads these to match
//! patches and references; [`crate::model`] builds Flux identities on them.

use super::yaml::Node;

/// A manifest's type and metadata.
pub trait Manifest {
    fn api_version(&self) -> &str;
    fn kind(&self) -> &str;
    /// `metadata.name` (a number written as a name is read as its text).
    fn name(&self) -> Option<&str>;
    /// `metadata.namespace`, when it is written and not empty.
    fn namespace(&self) -> Option<&str>;

    /// The API group: apiVersion before its `/`, empty for Kubernetes' core kinds.
    fn group(&self) -> &str {
        self.api_version().rsplit_once('/').map_or("", |(g, _)| g)
    }
}

impl Manifest for Node {
    fn api_version(&self) -> &str {
        self.get("apiVersion").and_then(Node::as_str).unwrap_or("")
    }

    fn kind(&self) -> &str {
        self.get("kind").and_then(Node::as_str).unwrap_or("")
    }

    fn name(&self) -> Option<&str> {
        self.at(&["metadata", "name"]).and_then(Node::scalar_str)
    }

    fn namespace(&self) -> Option<&str> {
        self.at(&["metadata", "namespace"]).and_then(Node::scalar_str).filter(|s| !s.is_empty())
    }
}
