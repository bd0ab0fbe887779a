//! The tools' arguments: what an assistant may pass, as serde reads it and as the JSON
//! schemas `tools/list` gives (schemars, from the same types and their doc comments).
//! Unknown fields are refused, so that a misspelt filter is an error rather than ignored.

use schemars::JsonSchema;
use serde::Deserialize;

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct None {}

/// One cluster, or the one the pages open on.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// The cluster's name (the clusters tool lists them); default: the one with the most Kustomizations.
    pub cluster: Option<String>,
}

/// One object of a cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// `Kind/namespace/name` (e.g. `Kustomization/flux-system/linkding`), or a name alone: the Kustomization of that name, else the one object that has it.
    pub id: String,
    /// The cluster's name; default: the one with the most Kustomizations.
    pub cluster: Option<String>,
}

/// Where a long list resumes: the `cursor` and `limit` every listing tool takes (inline in
/// each, since serde refuses unknown fields only without `flatten`).
#[derive(Debug, Default, Clone)]
pub struct Paging {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

macro_rules! paged {
    ($($t:ty),*) => {$(
        impl $t {
            pub fn paging(&self) -> Paging {
                Paging { cursor: self.cursor.clone(), limit: self.limit }
            }
        }
    )*};
}
paged!(Diagnostics, BlastRadius, Build, Search);

/// Which diagnostics: every filter given must match.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diagnostics {
    /// The cluster's name; default: the one with the most Kustomizations.
    pub cluster: Option<String>,
    /// A diagnostic code, e.g. `dependency-cycle`, `missing-dependency`, `false-ready-dependency`.
    pub code: Option<String>,
    pub severity: Option<crate::diagnostic::Severity>,
    /// An object's id, or its name.
    pub object: Option<String>,
    /// A file or folder, relative to the repository's root.
    pub file: Option<String>,
    /// The next_cursor of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page (default 50, at most 200).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
}

/// What changes: an object, or a file or folder.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlastRadius {
    /// An object's id or name (give this or file).
    pub id: Option<String>,
    /// A file or folder, relative to the repository's root (give this or id).
    pub file: Option<String>,
    /// The cluster's name; default: the one with the most Kustomizations.
    pub cluster: Option<String>,
    /// The next_cursor of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page (default 50, at most 200).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
}

/// A Kustomization whose build to list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// The Kustomization: `Kustomization/namespace/name`, or its name.
    pub id: String,
    /// The cluster's name; default: the one with the most Kustomizations.
    pub cluster: Option<String>,
    /// The next_cursor of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page (default 50, at most 200).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
}

/// Two revisions of the repository.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diff {
    /// The revision compared against (branch, tag, commit, `HEAD~1`); default: the merge base with the default branch.
    pub base: Option<String>,
    /// The revision under review; default: the files served (the work tree).
    pub head: Option<String>,
    /// The cluster's name; default: the one with the most Kustomizations.
    pub cluster: Option<String>,
}

/// A name to look for.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Part of an object's name; typos are forgiven.
    pub query: String,
    /// The cluster's name; default: the one with the most Kustomizations.
    pub cluster: Option<String>,
    /// The next_cursor of the previous page; absent for the first page.
    pub cursor: Option<String>,
    /// Items per page (default 50, at most 200).
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
}
