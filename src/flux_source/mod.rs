//! Flux source: a GitRepository's artifact, as source-controller serves it → a folder under
//! `/tmp` that the pipeline reads, refreshed when the revision changes.
//!
//! In the cluster fluxgraph needs no copy of the repository of its own: it reads the
//! GitRepository's `status.artifact` (url, digest, revision) through the Kubernetes API
//! (within [`kube_api`](crate::kube_api)'s bounds), downloads the tarball from source-controller, checks its sha256 digest,
//! unpacks it safely ([`unpack`]: no path leaves the folder, links are not followed, sizes
//! are bounded) into a fresh folder, builds a snapshot and publishes it to a [`Sink`]. It watches the object
//! and polls as a fallback. Anything that goes wrong keeps the last good snapshot and says so.

mod unpack;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::kube_api::Api;
use crate::model::link::encode;
use crate::snapshot::{Sink, Snapshot};
pub use unpack::{Limits, unpack};

/// Why the follower cannot show a revision; the last good snapshot stays shown.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("--flux-source wants NAMESPACE/NAME, like flux-system/flux-system, not {0:?}")]
    BadRef(String),
    #[error("GitRepository {namespace}/{name} does not exist")]
    Missing { namespace: String, name: String },
    #[error("cannot read GitRepository {namespace}/{name}: {source}")]
    Unreadable { namespace: String, name: String, source: crate::kube_api::Error },
    #[error("GitRepository {namespace}/{name} has no artifact yet")]
    NoArtifact { namespace: String, name: String },
    /// The artifact could not be downloaded whole, told with its URL.
    #[error("{0}")]
    Download(String),
    #[error("unsupported digest algorithm in {0}")]
    DigestAlgorithm(String),
    #[error("the artifact's sha256 is {actual}, not {expected} as the GitRepository says; refused")]
    DigestMismatch { actual: String, expected: String },
    /// The artifact is refused or cannot be written out, told with the entry at fault.
    #[error("{0}")]
    Unpack(String),
    #[error("cannot create {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("the unpacking task failed: {0}")]
    Task(String),
    /// The artifact was unpacked but its snapshot could not be built.
    #[error("revision {revision}: {source}")]
    Revision { revision: String, source: Box<crate::Error> },
}

/// `namespace/name` of the GitRepository to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub namespace: String,
    pub name: String,
}

impl SourceRef {
    pub fn parse(text: &str) -> Result<SourceRef, SourceError> {
        match text.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(SourceRef { namespace: ns.into(), name: name.into() })
            }
            _ => Err(SourceError::BadRef(text.to_string())),
        }
    }
}

/// What `status.artifact` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub url: String,
    /// `sha256:<hex>` (Flux 2.1+) or the bare hex of the older `checksum` field.
    pub digest: String,
    pub revision: String,
}

/// How the follower runs.
#[derive(Debug, Clone)]
pub struct Follow {
    pub source: SourceRef,
    /// Unpacked artifacts go in folders under this one (the pod's `/tmp`).
    pub work_dir: PathBuf,
    pub entry: Option<String>,
    pub limits: Limits,
    /// How often to ask when the watch is down.
    pub poll: Duration,
}

/// The GitRepositories of `namespace`, as a collection's path.
fn git_repositories(namespace: &str) -> String {
    format!("/apis/source.toolkit.fluxcd.io/v1/namespaces/{}/gitrepositories", encode(namespace))
}

/// Reads the artifact of the GitRepository; `None` while it has none yet.
pub async fn current_artifact(api: &Api, source: &SourceRef) -> Result<Option<Artifact>, SourceError> {
    let path = format!("{}/{}", git_repositories(&source.namespace), encode(&source.name));
    let object = match api.get(&path).await {
        Ok(object) => object,
        Err(e) if e.is_not_found() => return Err(SourceError::Missing { namespace: source.namespace.clone(), name: source.name.clone() }),
        Err(source_error) => return Err(SourceError::Unreadable { namespace: source.namespace.clone(), name: source.name.clone(), source: source_error }),
    };
    let artifact = &object["status"]["artifact"];
    let text = |k: &str| artifact[k].as_str().map(str::to_string);
    Ok(match (text("url"), text("digest").or_else(|| text("checksum")), text("revision")) {
        (Some(url), Some(digest), Some(revision)) => Some(Artifact { url, digest, revision }),
        _ => None,
    })
}

/// How long downloading one artifact may take: a source-controller that stops sending does
/// not hold the follower for ever.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Downloads an artifact, refusing more than `limit` bytes or longer than [`DOWNLOAD_TIMEOUT`].
pub async fn download(url: &str, limit: u64) -> Result<Vec<u8>, SourceError> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let uri: axum::http::Uri = url.parse().map_err(|e| SourceError::Download(format!("artifact URL {url}: {e}")))?;
    let fetch = async {
        let response = client.get(uri).await.map_err(|e| SourceError::Download(format!("cannot download {url}: {e}")))?;
        if !response.status().is_success() {
            return Err(SourceError::Download(format!("downloading {url}: HTTP {}", response.status())));
        }
        let body = Limited::new(response.into_body(), usize::try_from(limit).unwrap_or(usize::MAX))
            .collect()
            .await
            .map_err(|e| SourceError::Download(format!("downloading {url}: {e} (the limit is {limit} bytes)")))?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(DOWNLOAD_TIMEOUT, fetch).await.unwrap_or_else(|_| Err(SourceError::Download(format!("downloading {url}: no end within {} s", DOWNLOAD_TIMEOUT.as_secs()))))
}

/// Checks the bytes against `sha256:<hex>` (or bare hex).
pub fn verify(bytes: &[u8], digest: &str) -> Result<(), SourceError> {
    let expected = digest.strip_prefix("sha256:").unwrap_or(digest);
    if digest.contains(':') && !digest.starts_with("sha256:") {
        return Err(SourceError::DigestAlgorithm(digest.to_string()));
    }
    let actual: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(SourceError::DigestMismatch { actual, expected: expected.to_string() })
    }
}

/// Follows the GitRepository for as long as the server runs.
pub async fn follow(api: Api, follow: Follow, sink: impl Sink) {
    let changed = Arc::new(Notify::new());
    tokio::spawn(watch(api.clone(), follow.source.clone(), follow.poll, Arc::clone(&changed)));
    let mut shown: Option<(String, PathBuf)> = None;
    loop {
        match refresh(&api, &follow, shown.as_ref().map(|s| s.0.as_str())).await {
            Ok(Some((revision, dir, snapshot))) => {
                sink.publish(snapshot, Some(revision.clone()), None);
                tracing::info!(%revision, "showing a new revision");
                if let Some((_, old)) = shown.replace((revision, dir)) {
                    let _ = std::fs::remove_dir_all(old);
                }
            }
            Ok(None) => {}
            Err(why) => sink.fail(why.to_string()),
        }
        tokio::select! {
            () = changed.notified() => {}
            () = tokio::time::sleep(follow.poll) => {}
        }
    }
}

/// One look at the GitRepository: a new snapshot when its revision is not `shown`.
pub async fn refresh(api: &Api, follow: &Follow, shown: Option<&str>) -> Result<Option<(String, PathBuf, Snapshot)>, SourceError> {
    let Some(artifact) = current_artifact(api, &follow.source).await? else {
        return Err(SourceError::NoArtifact { namespace: follow.source.namespace.clone(), name: follow.source.name.clone() });
    };
    if shown == Some(artifact.revision.as_str()) {
        return Ok(None);
    }
    let bytes = download(&artifact.url, follow.limits.max_download).await?;
    verify(&bytes, &artifact.digest)?;
    let dir = fresh_dir(&follow.work_dir, &artifact.digest)?;
    let limits = follow.limits.clone();
    let entry = follow.entry.clone();
    let built = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || {
            unpack(&bytes, &dir, &limits)?;
            Snapshot::read_with(&dir, entry.as_deref(), &limits.read)
        }
    })
    .await
    .map_err(|e| SourceError::Task(e.to_string()))?;
    match built {
        Ok(snapshot) => Ok(Some((artifact.revision, dir, snapshot))),
        Err(why) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(SourceError::Revision { revision: artifact.revision, source: Box::new(why) })
        }
    }
}

/// A new, empty folder for one artifact.
fn fresh_dir(work_dir: &Path, digest: &str) -> Result<PathBuf, SourceError> {
    let short: String = digest.rsplit(':').next().unwrap_or(digest).chars().filter(char::is_ascii_hexdigit).take(16).collect();
    let dir = work_dir.join(format!("artifact-{short}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|source| SourceError::CreateDir { path: dir.clone(), source })?;
    Ok(dir)
}

/// Wakes the follower whenever the GitRepository changes; retries after `poll` when the
/// watch cannot be opened (the poll in `follow` covers the gap).
async fn watch(api: Api, source: SourceRef, poll: Duration, changed: Arc<Notify>) {
    let path = format!("{}?fieldSelector=metadata.name%3D{}", git_repositories(&source.namespace), encode(&source.name));
    loop {
        match api.watch(&path, "0").await {
            Ok(mut events) => {
                while let Some(event) = events.next().await {
                    match event {
                        Ok(_) => changed.notify_one(),
                        Err(e) => {
                            tracing::debug!(error = %e, "the watch of the GitRepository failed; polling");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cannot watch the GitRepository; polling"),
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_refs_and_digests() {
        assert_eq!(SourceRef::parse("flux-system/flux-system").unwrap().name, "flux-system");
        assert!(SourceRef::parse("flux-system").is_err());
        assert!(SourceRef::parse("a/b/c").is_err());
        let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert!(verify(b"hello", &format!("sha256:{hex}")).is_ok());
        assert!(verify(b"hello", hex).is_ok());
        assert!(verify(b"hellO", &format!("sha256:{hex}")).is_err());
        assert!(verify(b"hello", "sha512:abc").is_err());
    }
}
