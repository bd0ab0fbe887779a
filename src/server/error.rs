//! What goes wrong with a request, and how its client is told: [`AppError`], the one error
//! every handler returns. A page is told in a page of the layout (the cluster switcher, the
//! helpful 404 with the closest names); a machine route (`/api/…`, `/graph.dot`, `/graph.mmd`)
//! in a line of text. A drawing that fails is a 500 whose cause is logged, never a blank page;
//! the client reads no more than that it failed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::cache::Rendered;
use super::pages::{self, Link, Message, Section};
use super::request::Frame;
use crate::model::link::encode;
use crate::snapshot::NoCluster;

/// Seconds a client refused for a full queue is asked to wait.
const RETRY_AFTER: &str = "5";

const PLAIN: &str = "text/plain; charset=utf-8";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("the first snapshot is still loading")]
    Loading,
    /// The request names a cluster the snapshot does not have, or the snapshot has none.
    #[error(transparent)]
    Cluster(#[from] NoCluster),
    /// No such object, component, file or page in the cluster shown; `name` is what the
    /// closest names are looked for by.
    #[error("there is no {what} in this cluster")]
    NotFound { what: String, name: String },
    #[error("the query string cannot be read: {0}")]
    Query(String),
    #[error("the live status is off: start fluxgraph with --kube-status or --flux-source")]
    LiveStatusOff,
    /// The diffs' lane is full.
    #[error("fluxgraph is busy with other comparisons; try again in a few seconds")]
    Busy,
    /// A template failed to render: a bug.
    #[error("the page could not be drawn")]
    Template(#[from] askama::Error),
    /// A comparison that cannot be made (no such revision, no git repository), told with the
    /// server's paths hidden.
    #[error("{0}")]
    Compare(String),
    /// The drawing's task ended without a result (it panicked).
    #[error("the page could not be drawn")]
    Panicked,
}

impl Problem {
    fn status(&self) -> StatusCode {
        match self {
            Problem::Loading | Problem::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Problem::Cluster(_) | Problem::NotFound { .. } | Problem::LiveStatusOff | Problem::Compare(_) => StatusCode::NOT_FOUND,
            Problem::Query(_) => StatusCode::BAD_REQUEST,
            Problem::Template(_) | Problem::Panicked => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn internal(&self) -> bool {
        self.status() == StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// A request's [`Problem`], answered as a page when the request was for one.
pub struct AppError {
    pub problem: Problem,
    /// The page it is shown in; `None`: told as text.
    page: Option<Box<Frame>>,
}

impl std::fmt::Debug for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppError").field("problem", &self.problem).field("page", &self.page.is_some()).finish()
    }
}

impl<P: Into<Problem>> From<P> for AppError {
    /// Told as text.
    fn from(problem: P) -> Self {
        AppError { problem: problem.into(), page: None }
    }
}

impl AppError {
    /// `problem`, told in a page of the layout framed by `frame`.
    pub(crate) fn in_page(problem: Problem, frame: Frame) -> AppError {
        AppError { problem, page: Some(Box::new(frame)) }
    }

    /// The response as the page cache keeps it. An internal problem is logged here, once for
    /// each drawing, with its cause; its client is told only that the page failed.
    pub fn rendered(&self) -> Rendered {
        if self.problem.internal() {
            let cause = match &self.problem {
                Problem::Template(e) => e.to_string(),
                other => other.to_string(),
            };
            let path = self.page.as_ref().map_or("", |f| f.uri.0.path());
            tracing::error!(%cause, path, "a page failed to render");
        }
        match &self.page {
            // A full queue and a failure are told in text, whatever was asked for.
            Some(frame) if !self.problem.internal() && !matches!(self.problem, Problem::Busy) => {
                page(frame, &self.problem).unwrap_or_else(|e| AppError::from(e).rendered())
            }
            _ => Rendered::new(self.problem.status(), PLAIN, format!("{}\n", self.problem)),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let rendered = self.rendered();
        let mut response = (rendered.status, [(header::CONTENT_TYPE, rendered.content_type)], rendered.body).into_response();
        if matches!(self.problem, Problem::Busy) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
        }
        response
    }
}

/// The page that tells `problem`, in the layout.
fn page(frame: &Frame, problem: &Problem) -> Result<Rendered, askama::Error> {
    let state = &frame.state;
    let message = |heading: &str, text: String, suggestions: Vec<Link>, home: &str| Message { heading: heading.into(), text, suggestions, home: state.link(home) };
    let (status, title, body) = match problem {
        Problem::Loading => {
            let text = "fluxgraph is reading the repository; this page refreshes itself when it is ready.".to_string();
            (problem.status(), "loading", askama::Template::render(&message("Loading", text, Vec::new(), "/"))?)
        }
        Problem::Cluster(NoCluster::Unknown(unknown)) => {
            let clusters = frame.current.iter().flat_map(|c| &c.snapshot.clusters);
            let suggestions = clusters
                .map(|c| Link { name: c.cluster.name.clone(), href: state.link(&format!("/?cluster={}", encode(&c.cluster.name))), note: c.cluster.entry.clone() })
                .collect();
            let text = format!("This repository has no cluster named {:?}.", unknown.name);
            (problem.status(), "no such cluster", askama::Template::render(&message("No such cluster", text, suggestions, "/"))?)
        }
        Problem::Cluster(NoCluster::Empty) => {
            let text = "No entry point was found: no gotk-sync.yaml, no FluxInstance, no Flux Kustomization that nothing applies. Start fluxgraph with --entry to name one.".to_string();
            // A repository without a cluster is served as it is: not an error of the request.
            (StatusCode::OK, "no cluster", askama::Template::render(&message("No cluster found", text, Vec::new(), "/diagnostics"))?)
        }
        Problem::NotFound { what, name } => {
            let (title, body) = pages::not_found(state, frame.view(), &frame.cluster_query(), what, name)?;
            return Ok(Rendered::html(problem.status(), pages::respond(frame, Section::Other, (title, body))?));
        }
        other => (other.status(), "cannot show", askama::Template::render(&message("Cannot show this page", other.to_string(), Vec::new(), "/"))?),
    };
    Ok(Rendered::html(status, pages::respond(frame, Section::Other, (title.to_string(), body))?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{AppState, Options};

    fn frame() -> Frame {
        let uri = axum::extract::OriginalUri("/k/Kustomization/flux-system/x".parse().unwrap());
        Frame { state: AppState::new(Options::default()), current: None, index: None, named: None, uri, fragment: false }
    }

    /// A template that fails is a 500 that says only that, never a blank page, page or not.
    #[test]
    fn a_page_that_fails_to_render_is_a_500() {
        for error in [AppError::from(askama::Error::Fmt), AppError::in_page(askama::Error::Fmt.into(), frame())] {
            let rendered = error.rendered();
            assert_eq!(rendered.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(rendered.body, "the page could not be drawn\n");
        }
    }

    #[test]
    fn a_problem_is_a_page_when_a_page_was_asked_for() {
        let page = AppError::in_page(Problem::Loading, frame()).rendered();
        assert_eq!((page.status, page.content_type), (StatusCode::SERVICE_UNAVAILABLE, "text/html; charset=utf-8"));
        assert!(std::str::from_utf8(&page.body).unwrap().contains("<h1>Loading</h1>"));
        let text = AppError::from(Problem::Loading).rendered();
        assert_eq!((text.status, text.content_type), (StatusCode::SERVICE_UNAVAILABLE, PLAIN));
        assert_eq!(text.body, "the first snapshot is still loading\n");
        let busy = AppError::in_page(Problem::Busy, frame()).into_response();
        assert_eq!(busy.headers()[header::RETRY_AFTER], RETRY_AFTER, "a full queue is told in text, with when to try again");
    }
}
