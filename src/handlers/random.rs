//! `GET /random` and `GET /random/count`: a random image for `<img src>`, by orientation,
//! album or tag. One pool lookup per draw (plus one R2 read for the image itself), whatever the
//! size of the library; never a write. Transform parameters (`w`, `f`, …) apply to the image.

use crate::app::{App, Platform};
use crate::error::ApiError;
use crate::handlers::transform;
use crate::http::{Request, Response};
use crate::library;
use crate::transform::options::Options;
use crate::random::{draw_number, Filter};
use crate::storage::{Blobs, Pool};
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Image,
    Redirect,
    Json,
    Text,
}

fn mode(req: &Request) -> Result<Mode, ApiError> {
    match req.query("mode").as_deref() {
        None | Some("" | "image") => Ok(Mode::Image),
        Some("redirect") => Ok(Mode::Redirect),
        Some("json") => Ok(Mode::Json),
        Some("text" | "txt") => Ok(Mode::Text),
        Some(m) => Err(ApiError::bad_request("bad_parameter", format!("mode must be image, redirect, json or text, not {m:?}"))),
    }
}

pub async fn draw<P: Platform>(app: &App<P>, req: &Request, filter: Filter) -> Result<Response, ApiError> {
    let mode = mode(req)?;
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    let transform = Options::parse(&pairs, RANDOM_PARAMS)?;
    let seed = req.query("seed").filter(|s| !s.is_empty());
    let entry = app
        .pool
        .pick(&filter.pool(), draw_number(seed.as_deref()))
        .await?
        .ok_or_else(|| ApiError::new(404, "no_images", "no image matches these filters yet"))?;
    let url = format!("{}{}", app.base_url(req), entry.path);
    // A seeded answer is a function of the seed, so caches may keep it; a plain draw never.
    let cache = if seed.is_some() { "public, max-age=3600" } else { "no-store" };
    let resp = match mode {
        Mode::Image if transform.is_some() => {
            let opts = transform.unwrap_or_default();
            let meta = library::load(app, &entry.id)
                .await?
                .ok_or_else(|| ApiError::new(404, "no_images", "the image drawn was deleted a moment ago: try again"))?;
            transform::serve(app, req, &meta, opts, &pairs).await?
        }
        Mode::Image => {
            let body = match app.blobs.get(&entry.location, None).await? {
                Some(blob) => blob.body,
                // Not in R2: a Telegram image, read through its record.
                None => match library::load(app, &entry.id).await? {
                    Some(meta) => library::read(app, &meta, None).await?,
                    None => return Err(ApiError::new(404, "no_images", "the image drawn was deleted a moment ago: try again")),
                },
            };
            Response::stream(200, &entry.mime, body).with_header("link", format!("<{url}>; rel=\"canonical\""))
        }
        Mode::Redirect => Response::redirect(302, &url),
        Mode::Json => Response::json(
            200,
            &json!({"id": entry.id, "url": url, "width": entry.width, "height": entry.height, "orientation": entry.orientation}),
        ),
        Mode::Text => Response::text(200, url),
    };
    Ok(resp.with_header("cache-control", cache).with_header("x-image-id", entry.id))
}

/// `/random`'s own parameters; everything else is a transform parameter.
const RANDOM_PARAMS: &[&str] = &["orientation", "album", "tag", "mode", "seed"];

pub async fn count<P: Platform>(app: &App<P>, req: &Request, filter: Filter) -> Result<Response, ApiError> {
    let n = app.pool.count(&filter.pool()).await?;
    let resp = match req.query("format").as_deref() {
        Some("text" | "txt") => Response::text(200, n.to_string()),
        _ => Response::json(200, &json!({"count": n})),
    };
    Ok(resp.with_header("cache-control", "no-store"))
}
