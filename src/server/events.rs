//! Server-sent events: one `snapshot` event each time a new snapshot is swapped in (or a
//! refresh fails), which open pages answer by fetching their own content again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::state::AppState;

pub async fn stream(State(state): State<AppState>) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let updates = BroadcastStream::new(state.subscribe()).filter_map(|update| {
        // A reader that fell behind only needs the latest: lagged messages are skipped.
        let update = update.ok()?;
        Some(Ok(Event::default().event("snapshot").json_data(&update).unwrap_or_else(|_| Event::default().event("snapshot"))))
    });
    Sse::new(updates).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
