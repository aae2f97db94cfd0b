//! `GET /random` and `GET /random/count`: a random image for `<img src>`, by orientation,
//! album or tag. One pool lookup per draw (plus, for the image itself, its record and one R2
//! read), whatever the size of the library; never a write. Transform parameters (`w`, `f`, …) apply to the image.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use crate::index::pools::{draw_number, Filter};
use crate::index::record::Status;
use crate::library;
use crate::platform::Pool;
use crate::serve::variant;
use crate::transform::options::Options;
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
    // An image answer is served only after its record says it is active: a pool can lag its
    // records (a change that failed half way), and the record decides. Another draw is tried
    // twice; links (redirect, JSON, text) answer for themselves when followed.
    let mut attempt = 0;
    let (entry, meta) = loop {
        let number = match seed.as_deref() {
            Some(s) if attempt > 0 => draw_number(Some(&format!("{s}#{attempt}"))),
            s => draw_number(s),
        };
        let entry = app.pool.pick(&filter.pool(), number).await?.ok_or_else(|| ApiError::new(404, "no_images", "no image matches these filters yet"))?;
        if mode != Mode::Image {
            break (entry, None);
        }
        match library::load(app, &entry.id).await? {
            Some(meta) if meta.status == Status::Active => break (entry, Some(meta)),
            _ if attempt < 2 => attempt += 1,
            _ => return Err(ApiError::new(404, "no_images", "no image matching these filters can be shown right now: try again")),
        }
    };
    let url = format!("{}{}", app.base_url(req), entry.path);
    // A seeded answer is a function of the seed, so caches may keep it; a plain draw never.
    let cache = if seed.is_some() { "public, max-age=3600" } else { "no-store" };
    let resp = match (mode, meta) {
        (Mode::Image, Some(meta)) if transform.is_some() => variant::serve(app, req, &meta, transform.unwrap_or_default(), &pairs).await?,
        (Mode::Image, Some(meta)) => {
            Response::stream(200, &entry.mime, library::read(app, &meta, None).await?).with_header("link", format!("<{url}>; rel=\"canonical\""))
        }
        (Mode::Redirect, _) => Response::redirect(302, &url),
        (Mode::Json, _) => {
            Response::json(200, &json!({"id": entry.id, "url": url, "width": entry.width, "height": entry.height, "orientation": entry.orientation}))
        }
        // (An image draw always has its record: the loop above ends no other way.)
        (Mode::Text | Mode::Image, _) => Response::text(200, url),
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
