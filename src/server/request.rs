//! What a request is about: [`PageRequest`], the one extractor of every route that reads the
//! snapshot, pages and machine routes alike. It takes the snapshot shown at the time of the
//! request, chooses the cluster once ([`Snapshot::cluster_index`](crate::snapshot::Snapshot::cluster_index):
//! the one `?cluster=` names, else the largest) and reads the view state from the query
//! string; a request it cannot serve (the first snapshot still loading, a cluster the
//! repository does not have) is an [`AppError`] before the handler runs.
//!
//! Pages and exports are drawn once per snapshot and URL (and fragment or whole page), off
//! the async runtime ([`cache`](super::cache)); what the live status shows is drawn for each
//! request, never kept.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::cache::{Busy, Lane, Rendered};
use super::error::{AppError, Problem};
use super::pages::{self, Page, Params, Section};
use super::state::{AppState, Current};
use super::views::{self, ViewState};
use crate::snapshot::{ClusterView, NoCluster};

/// How a route answers: HTML pages in the layout, or the machine routes' text and JSON.
pub trait Form: Send + Sync + 'static {
    /// Whether a problem is told in a page.
    const PAGE: bool;
}

/// A page of the layout.
#[derive(Debug)]
pub struct Html;

/// Text or JSON, for programs.
#[derive(Debug)]
pub struct Text;

impl Form for Html {
    const PAGE: bool = true;
}

impl Form for Text {
    const PAGE: bool = false;
}

/// A page's title and its HTML content.
pub type Body = (String, String);

/// What frames a page: the server, the snapshot and cluster shown, the URL. Problems are shown
/// in it too.
#[derive(Clone)]
pub struct Frame {
    pub state: AppState,
    /// `None` before the first snapshot.
    pub current: Option<Arc<Current>>,
    /// The cluster shown; `None` when the snapshot has none.
    pub index: Option<usize>,
    /// `?cluster=` as the URL gives it: links keep it, and only it.
    pub named: Option<String>,
    pub uri: OriginalUri,
    /// Only the page's content is asked for (`X-Fluxgraph-Fragment`, or a live part).
    pub fragment: bool,
}

impl Frame {
    /// The cluster shown.
    pub fn view(&self) -> Option<&ClusterView> {
        Some(&self.current.as_ref()?.snapshot.clusters[self.index?])
    }

    /// The query string that keeps the cluster the URL names (and nothing else).
    pub fn cluster_query(&self) -> String {
        pages::cluster_query(self.named.as_deref())
    }
}

/// A request for a page (`F` = [`Html`]) or a machine route ([`Text`]) of the current snapshot.
pub struct PageRequest<F: Form = Html> {
    pub frame: Frame,
    pub current: Arc<Current>,
    pub params: Params,
    pub view_state: ViewState,
    headers: HeaderMap,
    form: PhantomData<F>,
}

/// `problem`, told as a route of form `F` tells it: in a page framed by `frame`, or as text.
fn told<F: Form>(problem: Problem, frame: Frame) -> AppError {
    if F::PAGE { AppError::in_page(problem, frame) } else { AppError::from(problem) }
}

impl<F: Form> FromRequestParts<AppState> for PageRequest<F> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let uri = parts.extensions.get::<OriginalUri>().cloned().unwrap_or_else(|| OriginalUri(parts.uri.clone()));
        let fragment = parts.headers.contains_key(pages::FRAGMENT);
        let current = state.current();
        let query = Query::<Params>::try_from_uri(&parts.uri);
        let params = query.as_ref().map(|q| q.0.clone()).unwrap_or_default();
        let mut frame = Frame { state: state.clone(), current: current.clone(), index: None, named: params.get("cluster").cloned(), uri, fragment };
        let fail = |problem, frame| Err(told::<F>(problem, frame));
        if let Err(e) = query {
            return fail(Problem::Query(e.body_text()), frame);
        }
        let Some(current) = current else { return fail(Problem::Loading, frame) };
        match current.snapshot.cluster_index(frame.named.as_deref()) {
            Ok(i) => frame.index = Some(i),
            // Served as it is: a page says so, an export that needs a cluster says so.
            Err(NoCluster::Empty) => {}
            Err(e) => return fail(e.into(), frame),
        }
        let view_state = pages::view_state(&params);
        Ok(PageRequest { frame, current, params, view_state, headers: parts.headers.clone(), form: PhantomData })
    }
}

impl<F: Form> PageRequest<F> {
    /// The cluster the request is about.
    pub fn view(&self) -> Result<&ClusterView, Problem> {
        self.frame.view().ok_or(Problem::Cluster(NoCluster::Empty))
    }

    /// `problem`, told as this route tells it.
    pub fn error(&self, problem: Problem) -> AppError {
        told::<F>(problem, self.frame.clone())
    }

    /// What `draw` gives, drawn on the blocking pool once per snapshot and URL (and fragment or
    /// whole page) through `lane`: later requests for the same URL get the same bytes.
    async fn drawn(self, lane: Lane, draw: impl FnOnce(&Self) -> Result<Rendered, Problem> + Send + 'static) -> Result<Response, AppError> {
        let fragment = if self.frame.fragment { "fragment" } else { "page" };
        let key = format!("{fragment} {}", self.frame.uri.0.path_and_query().map_or("/", |p| p.as_str()));
        let (state, headers, generation) = (self.frame.state.clone(), self.headers.clone(), self.current.generation);
        let rendered = state.pages().get_or_render(generation, key, lane, move || draw(&self).unwrap_or_else(|problem| self.error(problem).rendered()));
        match rendered.await {
            Ok(rendered) => Ok(rendered.response(&headers).await),
            Err(Busy) => Err(Problem::Busy.into()),
        }
    }

    /// What `draw` gives, drawn on the blocking pool for this request alone: what shows the
    /// live status, which changes without a new snapshot.
    async fn drawn_live(self, draw: impl FnOnce(&Self) -> Result<Rendered, Problem> + Send + 'static) -> Result<Response, AppError> {
        let headers = self.headers.clone();
        let rendered = tokio::task::spawn_blocking(move || draw(&self).unwrap_or_else(|problem| self.error(problem).rendered())).await;
        let rendered = rendered.map_err(|_| AppError::from(Problem::Panicked))?;
        Ok(Arc::new(rendered).response(&headers).await)
    }
}

impl PageRequest<Html> {
    /// A page drawn by `render` (once per snapshot and URL); a helpful 404 when it gives none.
    pub async fn page(self, section: Section, render: impl FnOnce(&Page<'_>) -> Result<Option<Body>, Problem> + Send + 'static) -> Result<Response, AppError> {
        self.page_in(Lane::Pages, section, move |p| Ok(render(p)?.map(|body| (StatusCode::OK, body)))).await
    }

    /// [`page`](Self::page), admitted through `lane`, whose `render` gives its status too.
    pub async fn page_in(
        self,
        lane: Lane,
        section: Section,
        render: impl FnOnce(&Page<'_>) -> Result<Option<(StatusCode, Body)>, Problem> + Send + 'static,
    ) -> Result<Response, AppError> {
        self.drawn(lane, move |request| request.draw(section, render)).await
    }

    /// A page drawn from the live status, for this request alone; `part` asks for its
    /// content alone, as a fragment.
    pub async fn live_page(mut self, section: Section, part: bool, render: impl FnOnce(&Page<'_>) -> Result<Option<Body>, Problem> + Send + 'static) -> Result<Response, AppError> {
        self.frame.fragment |= part;
        self.drawn_live(move |request| request.draw(section, move |p| Ok(render(p)?.map(|body| (StatusCode::OK, body))))).await
    }

    /// The helpful 404 for a path nothing routes (drawn once per snapshot and URL).
    pub async fn not_found(self) -> Result<Response, AppError> {
        self.drawn(Lane::Pages, |request| Err(request.missing())).await
    }

    /// The same request with its query string as `params` (and its URL so): what names a page
    /// in the cache.
    pub fn with_params(mut self, params: Params) -> Self {
        let query = views::query_string(&params);
        let path = self.frame.uri.0.path();
        let canonical = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        self.frame.uri = OriginalUri(canonical.parse().unwrap_or_else(|_| self.frame.uri.0.clone()));
        self.view_state = pages::view_state(&params);
        self.params = params;
        self
    }

    fn draw(&self, section: Section, render: impl FnOnce(&Page<'_>) -> Result<Option<(StatusCode, Body)>, Problem>) -> Result<Rendered, Problem> {
        let view = self.view()?;
        let index = self.frame.index.unwrap_or_default();
        let page = Page { state: &self.frame.state, current: &self.current, view, index, params: &self.params, view_state: self.view_state.clone() };
        let (status, body) = render(&page)?.ok_or_else(|| self.missing())?;
        Ok(Rendered::html(status, pages::respond(&self.frame, section, body)?))
    }

    /// The page's URL names nothing the cluster has.
    fn missing(&self) -> Problem {
        let path = self.frame.uri.0.path();
        Problem::NotFound { what: format!("page {path}"), name: path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("").to_string() }
    }
}

impl PageRequest<Text> {
    /// An export of the snapshot, drawn once per snapshot and URL like the pages.
    pub async fn export(self, draw: impl FnOnce(&Self) -> Result<Rendered, Problem> + Send + 'static) -> Result<Response, AppError> {
        self.drawn(Lane::Pages, draw).await
    }

    /// What the live status says, drawn for this request alone.
    pub async fn live(self, draw: impl FnOnce(&Self) -> Result<Rendered, Problem> + Send + 'static) -> Result<Response, AppError> {
        self.drawn_live(draw).await
    }
}
