//! `GET /random` and `GET /random/count`: a random image for `<img src>`, by orientation,
//! album or tag; `?n=` lists several different ones, and `?random=1`, `?random=2`… on one page
//! are different images (picsum's idiom). One pool lookup per draw (plus, for the image itself, its record and one R2
//! read), whatever the size of the library; never a write. Transform parameters (`w`, `f`, …) apply to the image.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use crate::index::pools::{draw_number, Filter, PoolEntry};
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

/// Most images one `?n=` answer lists.
const MAX_N: u64 = 50;

pub async fn draw<P: Platform>(app: &App<P>, req: &Request, filter: Filter) -> Result<Response, ApiError> {
    let mode = mode(req)?;
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    let transform = Options::parse(&pairs, RANDOM_PARAMS)?;
    let seed = req.query("seed").filter(|s| !s.is_empty());
    if let Some(n) = req.query("n") {
        return several(app, req, &filter, &n, mode, seed.as_deref()).await;
    }
    // picsum's idiom: `?random=1`, `?random=2`… on one page are different images. The draws of
    // one page share a number (the seed, or who is asking from which page this minute), and
    // each takes the slot that many places on: different slots, different images.
    let offset = match req.query("random").filter(|r| !r.is_empty()) {
        Some(r) => Some(r.trim().parse::<u64>().map_err(|_| ApiError::bad_request("bad_parameter", format!("random must be a whole number, not {r:?}")))?),
        None => None,
    };
    let seed = match (offset, seed) {
        (Some(_), None) => Some(page_key(app, req)),
        (_, s) => s,
    };
    // An image answer is served only after its record says it is active: a pool can lag its
    // records (a change that failed half way), and the record decides. Another draw is tried
    // twice; links (redirect, JSON, text) answer for themselves when followed.
    let mut attempt = 0;
    let (entry, meta) = loop {
        let number = match seed.as_deref() {
            Some(s) if attempt > 0 => draw_number(Some(&format!("{s}#{attempt}"))),
            s => draw_number(s),
        }
        .wrapping_add(offset.unwrap_or(0));
        let entry = app.pool.pick(&filter.pool(), number).await?.ok_or_else(|| ApiError::new(404, "no_images", "no image matches these filters yet"))?;
        if mode != Mode::Image {
            break (entry, None);
        }
        match library::load(app, &entry.id).await? {
            Some(meta) if meta.status == Status::Active && !meta.is_private() => break (entry, Some(meta)),
            _ if attempt < 2 => attempt += 1,
            _ => return Err(ApiError::new(404, "no_images", "no image matching these filters can be shown right now: try again")),
        }
    };
    let url = format!("{}{}", app.base_url(req), entry.path);
    // A seeded answer is a function of the seed, so caches may keep it; a plain draw never.
    let cache = if seed.is_some() && offset.is_none() { "public, max-age=3600" } else { "no-store" };
    let resp = match (mode, meta) {
        (Mode::Image, Some(meta)) if transform.is_some() => variant::serve(app, req, &meta, transform.unwrap_or_default(), &pairs).await?,
        (Mode::Image, Some(meta)) => match variant::marked_original(app, req, &meta).await {
            Some(marked) => marked?,
            None => Response::stream(200, &entry.mime, library::read(app, &meta, None).await?),
        }
        .with_header("link", format!("<{url}>; rel=\"canonical\"")),
        (Mode::Redirect, _) => Response::redirect(302, &url),
        (Mode::Json, _) => Response::json(200, &entry_json(&url, &entry)),
        // (An image draw always has its record: the loop above ends no other way.)
        (Mode::Text | Mode::Image, _) => Response::text(200, url),
    };
    Ok(resp.with_header("cache-control", cache).with_header("x-image-id", entry.id))
}

/// `/random`'s own parameters; everything else is a transform parameter.
const RANDOM_PARAMS: &[&str] = &["orientation", "album", "tag", "mode", "seed", "n", "random"];

fn entry_json(url: &str, entry: &PoolEntry) -> serde_json::Value {
    json!({"id": entry.id, "url": url, "width": entry.width, "height": entry.height, "orientation": entry.orientation})
}

/// What the draws of one page have in common: who asks, from which page, this minute.
fn page_key<P: Platform>(app: &App<P>, req: &Request) -> String {
    let who = req.header("cf-connecting-ip").unwrap_or("");
    let page = req.header("referer").unwrap_or("");
    let agent = req.header("user-agent").unwrap_or("");
    format!("page|{who}|{page}|{agent}|{}", app.now_ms / 60_000)
}

/// `?n=`: that many different images at once (fewer when fewer match), as JSON or as text.
async fn several<P: Platform>(app: &App<P>, req: &Request, filter: &Filter, n: &str, mode: Mode, seed: Option<&str>) -> Result<Response, ApiError> {
    let k = n
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|k| (1..=MAX_N).contains(k))
        .ok_or_else(|| ApiError::bad_request("bad_parameter", format!("n must be a number from 1 to {MAX_N}, not {n:?}")))?;
    let entries = app.pool.pick_run(&filter.pool(), draw_number(seed), k).await?;
    if entries.is_empty() {
        return Err(ApiError::new(404, "no_images", "no image matches these filters yet"));
    }
    let base = app.base_url(req);
    let urls: Vec<String> = entries.iter().map(|e| format!("{base}{}", e.path)).collect();
    let resp = match mode {
        Mode::Text => Response::text(200, urls.join("\n")),
        _ => Response::json(200, &json!({"images": entries.iter().zip(&urls).map(|(e, u)| entry_json(u, e)).collect::<Vec<_>>()})),
    };
    Ok(resp.with_header("cache-control", if seed.is_some() { "public, max-age=3600" } else { "no-store" }))
}

pub async fn count<P: Platform>(app: &App<P>, req: &Request, filter: Filter) -> Result<Response, ApiError> {
    let n = app.pool.count(&filter.pool()).await?;
    let resp = match req.query("format").as_deref() {
        Some("text" | "txt") => Response::text(200, n.to_string()),
        _ => Response::json(200, &json!({"count": n})),
    };
    Ok(resp.with_header("cache-control", "no-store"))
}
