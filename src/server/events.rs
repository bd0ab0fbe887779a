//! Server-sent events: one `snapshot` event each time a new snapshot is swapped in (or a
//! refresh fails), and one with the current version as a stream opens, which open pages
//! answer by fetching their own content again when it is not theirs; and, with
//! the live status on, one `status` event per change in the cluster, which pages apply in
//! place (`live`). At most
//! `Limits::max_subscribers` streams are open at once: each is a connection held for as long
//! as its page is; beyond, 503 (the page then retries with a growing delay). Streams end
//! when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::state::{AppState, Update};

pub async fn stream(State(state): State<AppState>) -> Response {
    let Some(place) = state.subscriber() else {
        let body = "too many open pages are following updates; this one will not update itself until one closes\n";
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], body).into_response();
    };
    let closing = state.closing();
    // Subscribed before the current snapshot is read, so nothing falls between: a page
    // served while loading, or drawn just before a swap, learns the version it missed.
    let receiver = state.subscribe();
    let now = state.current().map(|c| Ok(Update { version: c.version, ok: c.failure.is_none(), message: c.failure.clone().unwrap_or_default() }));
    let updates = tokio_stream::iter(now).chain(BroadcastStream::new(receiver)).filter_map(move |update| {
            // The place is given back when the stream is dropped.
            let _held = &place;
            // A reader that fell behind only needs the latest: lagged messages are skipped.
            let update = update.ok()?;
            Some(Ok::<_, Infallible>(Event::default().event("snapshot").json_data(&update).unwrap_or_else(|_| Event::default().event("snapshot"))))
    });
    // A page that fell behind the status events fetches the whole status again.
    let status = BroadcastStream::new(state.live().subscribe()).map(|update| {
        let data = update.as_deref().unwrap_or(r#"{"resync":true,"changes":[]}"#).to_string();
        Ok::<_, Infallible>(Event::default().event("status").data(data))
    });
    let updates = futures_util::StreamExt::take_until(updates.merge(status), closing);
    Sse::new(updates).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}
