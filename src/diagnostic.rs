//! Diagnostics: what every stage reports about the user's files, with a stable code,
//! a severity that follows what Flux would do, the object, the file and the line.

use std::fmt;

use serde::Serialize;

use crate::model::ObjectId;

/// How bad a finding is, judged by what Flux would do with the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Flux stops reconciling something for good.
    Error,
    /// Flux reconciles, but probably not as the author meant.
    Warning,
    /// Worth knowing.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The stable, kebab-case codes. Tools and CI filters match on these strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    DependencyCycle,
    MissingDependency,
    PathNotFound,
    InvalidYaml,
    InvalidObject,
    MultipleOwners,
    SourceNotFound,
    SopsWithoutDecryption,
    UndefinedVariable,
    FalseReadyDependency,
    SuspendedDependency,
    RedundantDependency,
    RemoteResource,
    NotApplied,
    ExternalSource,
    FileTooLarge,
    BinaryFile,
    NotUtf8,
    SymlinkLoop,
    SymlinkOutsideRoot,
    UnreadableFile,
    SubstitutionSourceNotFound,
    KustomizationCycle,
    DeadEntry,
    ArtifactRoot,
    HandApplied,
    UnresolvedVariable,
    NoCluster,
    UnsubstitutedVariable,
    ResourceSetTemplate,
    InvalidName,
    KustomizationTooDeep,
    RepositoryTooLarge,
    PatchFailed,
    SubstitutionFailed,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::DependencyCycle => "dependency-cycle",
            Code::MissingDependency => "missing-dependency",
            Code::PathNotFound => "path-not-found",
            Code::InvalidYaml => "invalid-yaml",
            Code::InvalidObject => "invalid-object",
            Code::MultipleOwners => "multiple-owners",
            Code::SourceNotFound => "source-not-found",
            Code::SopsWithoutDecryption => "sops-without-decryption",
            Code::UndefinedVariable => "undefined-variable",
            Code::FalseReadyDependency => "false-ready-dependency",
            Code::SuspendedDependency => "suspended-dependency",
            Code::RedundantDependency => "redundant-dependency",
            Code::RemoteResource => "remote-resource",
            Code::NotApplied => "not-applied",
            Code::ExternalSource => "external-source",
            Code::FileTooLarge => "file-too-large",
            Code::BinaryFile => "binary-file",
            Code::NotUtf8 => "not-utf8",
            Code::SymlinkLoop => "symlink-loop",
            Code::SymlinkOutsideRoot => "symlink-outside-root",
            Code::UnreadableFile => "unreadable-file",
            Code::SubstitutionSourceNotFound => "substitution-source-not-found",
            Code::KustomizationCycle => "kustomization-cycle",
            Code::DeadEntry => "dead-entry",
            Code::ArtifactRoot => "artifact-root",
            Code::HandApplied => "hand-applied",
            Code::UnresolvedVariable => "unresolved-variable",
            Code::NoCluster => "no-cluster",
            Code::UnsubstitutedVariable => "unsubstituted-variable",
            Code::ResourceSetTemplate => "resourceset-template",
            Code::InvalidName => "invalid-name",
            Code::KustomizationTooDeep => "kustomization-too-deep",
            Code::RepositoryTooLarge => "repository-too-large",
            Code::PatchFailed => "patch-failed",
            Code::SubstitutionFailed => "substitution-failed",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One finding. `file` is relative to the repository root, `line` 1-based (0: whole file).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub object: Option<ObjectId>,
    pub file: String,
    pub line: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, severity: Severity, file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Diagnostic { code, severity, object: None, file: file.into(), line, message: message.into(), hint: None }
    }

    pub fn error(code: Code, file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, file, line, message)
    }

    pub fn warning(code: Code, file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, file, line, message)
    }

    pub fn info(code: Code, file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, file, line, message)
    }

    pub fn on(mut self, object: &ObjectId) -> Self {
        self.object = Some(object.clone());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
