//! Where an object is shown in the web views: its page's path, each segment percent-encoded.
//! The server routes these paths; the diff's Markdown and the MCP answers link to them.

use super::ObjectId;

impl ObjectId {
    /// The object page's path: `/k/Kustomization/flux-system/linkding`.
    pub fn path(&self) -> String {
        format!("/k/{}/{}/{}", self.kind, encode(&self.namespace), encode(&self.name))
    }
}

/// Percent-encodes a path segment (names are DNS labels, but a hostile repository may hold
/// anything).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A relative file or folder path with each segment percent-encoded, its slashes kept.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn paths_encode_what_the_repository_wrote() {
        assert_eq!(ObjectId::new(Kind::HelmRelease, "home", "linkding").path(), "/k/HelmRelease/home/linkding");
        assert_eq!(ObjectId::new(Kind::Kustomization, "a b", "c/d").path(), "/k/Kustomization/a%20b/c%2Fd");
        assert_eq!(encode_path("apps/my app/ks"), "apps/my%20app/ks");
    }
}
