//! Static assets (CSS, JavaScript modules under `js/`, icons), embedded in the binary so that
//! one file is the whole app. Only names the embed knows are served: a request path is a key,
//! never a path.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Assets;

pub async fn asset(Path(file): Path<String>) -> Response {
    // Looked up among the embed's names first: a debug build's rust-embed reads the folder at
    // run time and would resolve `js/../app.js` or `js//dom.js` as a path, which a release
    // build's table refuses; both now answer the same.
    let known = Assets::iter().any(|name| name == file.as_str());
    let Some(content) = known.then(|| Assets::get(&file)).flatten() else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    let content_type = match file.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        // Module scripts run only when served with a JavaScript type.
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], content.data.into_owned()).into_response()
}
