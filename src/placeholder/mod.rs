//! `GET /<W>x<H>/<slug>[.<ext>]` and `/<W>/<H>/<slug>`: a placeholder picture of exactly that
//! size. With `REPLICATE_API_TOKEN` set, the first request for a (slug, aspect ratio) has
//! flux-schnell generate it (`X-Placeholder-Source: replicate`), it is stored as an ordinary
//! image in the album `placeholders`, and every size after that is a transform of it
//! (`stored`), with no call to Replicate. Without a token it is drawn here (`local`): a
//! gradient from the slug with the size and the words on it, so the feature works the first
//! time someone runs imgbed. Transform effects (`blur`, `sharpen`, `gray`, `q`, `dpr`) and the
//! output format (extension, `format=`, or `Accept`) apply either way.

use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::sha256_hex;
use crate::http::conditional::not_modified;
use crate::http::http_date;
use crate::http::{Method, Request, Response};
use crate::index::leases::Claim;
use crate::index::record::{ImageMeta, Status};
use crate::library::{self, PLACEHOLDER_ALBUM};
use crate::platform::rate::Limit;
use crate::platform::upstream::Http;
use crate::platform::{EdgeCache, Kv, Pool};
use crate::serve::variant;
use crate::services::replicate::Replicate;
use crate::transform::options::{negotiate, parse_color, Fit, Gravity, Options, OutFormat};
use crate::transform::placeholder::{bucket, draw, Lettering, Spec, MAX_TEXT_CHARS, MAX_TEXT_LINES};
use crate::transform::{check_drawn, finish_drawn};
use crate::upload::ingest::{prepare, IncomingFile, UploadOptions};

pub async fn serve<P: Platform>(app: &App<P>, req: &Request, spec: Spec) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| matches!(k.as_str(), "w" | "width" | "h" | "height" | "fit" | "gravity")) {
        return Err(ApiError::bad_request("bad_parameter", format!("{k} does not apply to placeholders: the size is in the path (/800x600/words)")));
    }
    let lettering = lettering(req)?;
    let opts = Options::parse(&pairs, &["regenerate", "preview", "text", "bg", "fg"])?.unwrap_or_default();
    let requested = spec.format.or(opts.format).unwrap_or(OutFormat::Auto);
    // `?preview`: the drawing, whatever the server is set up for. The builder on /placeholders
    // shows it while someone types, so that no pause on a half-typed phrase costs a generation.
    let preview = req.query("preview").is_some();
    // Text and colours are the drawing's: a generated photo has neither.
    match app.config.replicate_api_token.as_deref() {
        Some(token) if !preview && lettering == Lettering::default() => generated(app, req, &spec, opts, requested, &pairs, token).await,
        _ => local(app, req, &spec, opts, requested, &lettering, "public, max-age=86400").await,
    }
}

/// `?text=` (lines split by a newline or a literal `\n`), `?bg=` and `?fg=` (hex colours).
fn lettering(req: &Request) -> Result<Lettering, ApiError> {
    let colour = |name: &str| -> Result<Option<[u8; 3]>, ApiError> {
        match req.query(name) {
            None => Ok(None),
            Some(v) => parse_color(&v)
                .map(|[r, g, b, _]| Some([r, g, b]))
                .ok_or_else(|| ApiError::bad_request("bad_parameter", format!("{name}={v:?} is not a colour: use hex, as in {name}=1e293b or {name}=fff"))),
        }
    };
    let text = match req.query("text") {
        None => None,
        Some(t) => {
            let t: String = t.replace("\\n", "\n").chars().filter(|c| *c == '\n' || !c.is_control()).collect();
            if t.chars().count() > MAX_TEXT_CHARS || t.lines().count() > MAX_TEXT_LINES {
                return Err(ApiError::bad_request("bad_parameter", format!("text is at most {MAX_TEXT_CHARS} characters on {MAX_TEXT_LINES} lines")));
            }
            Some(t).filter(|t| !t.trim().is_empty())
        }
    };
    Ok(Lettering { text, background: colour("bg")?, foreground: colour("fg")? })
}

/// A stored placeholder at the requested size: a transform (`fit=cover`, centred) of it.
#[allow(clippy::too_many_arguments)] // the request as parsed, passed on as it is
async fn stored<P: Platform>(
    app: &App<P>,
    req: &Request,
    spec: &Spec,
    opts: &Options,
    requested: OutFormat,
    pairs: &[(String, String)],
    meta: &ImageMeta,
    source: &str,
) -> Result<Response, ApiError> {
    // A generated picture is reviewed like any upload: until it is approved (or after it is
    // blocked) the page gets the drawn placeholder, kept briefly so an approval shows soon.
    let review = match meta.status {
        Status::Active => None,
        Status::Pending => Some("pending"),
        Status::Blocked => Some("blocked"),
    };
    if let Some(review) = review {
        let drawn = local(app, req, spec, opts.clone(), requested, &Lettering::default(), "public, max-age=300").await?;
        return Ok(drawn.with_header("x-placeholder-review", review));
    }
    let o = Options { width: Some(spec.width), height: Some(spec.height), fit: Fit::Cover, gravity: Gravity::Center, format: Some(requested), ..opts.clone() };
    let resp = variant::serve(app, req, meta, o, pairs).await?;
    Ok(resp.with_header("x-placeholder-source", source))
}

async fn generated<P: Platform>(
    app: &App<P>,
    req: &Request,
    spec: &Spec,
    opts: Options,
    requested: OutFormat,
    pairs: &[(String, String)],
    token: &str,
) -> Result<Response, ApiError> {
    let c = &app.config;
    let aspect = bucket(spec.width, spec.height);
    let key = format!("ph:{}:{}", aspect.replace(':', "x"), spec.slug);
    let regenerate = matches!(req.query("regenerate").as_deref(), Some("1" | "true"));
    if regenerate {
        crate::access::guard::admin(app, req).await?;
    }
    let known = match regenerate {
        true => None,
        false => app.kv.get(&key).await?,
    };
    if let Some(meta) = match known {
        Some(id) => library::load(app, &id).await?,
        None => None,
    } {
        return stored(app, req, spec, &opts, requested, pairs, &meta, "stored").await;
    }
    if c.placeholder_require_token && !crate::access::guard::is_admin(app, req).await {
        crate::access::guard::uploader(app, req, None).await?;
    }
    let deadline_ms = c.placeholder_deadline_s * 1000;
    // The lease outlives the deadline a little, and expires if this request dies.
    let lease_ms = deadline_ms + 15_000;
    crate::access::limits::check(app, req, Limit::Placeholders).await?;
    let mut replace = regenerate;
    loop {
        match app.pool.claim_generation(&key, app.http.now_ms(), lease_ms, c.placeholder_daily_limit, replace).await? {
            Claim::Granted => break,
            Claim::Done { id } => match library::load(app, &id).await? {
                Some(meta) => return stored(app, req, spec, &opts, requested, pairs, &meta, "stored").await,
                // Generated once, deleted since: make it again.
                None => replace = true,
            },
            Claim::Busy => {
                return Err(
                    ApiError::new(503, "generation_in_progress", "this placeholder is being generated right now: try again in a moment").with_retry_after(2)
                )
            }
            Claim::OverLimit { reset_ms } => {
                let wait = reset_ms.saturating_sub(app.http.now_ms()).div_ceil(1000);
                return Err(ApiError::new(
                    429,
                    "daily_limit",
                    format!(
                        "today's {} new placeholders are made; more from {} (PLACEHOLDER_DAILY_LIMIT). Existing ones still work.",
                        c.placeholder_daily_limit,
                        http_date(reset_ms)
                    ),
                )
                .with_retry_after(wait.max(1)));
            }
        }
    }
    // One address may start only its share of the day's generations, so that strangers rotating
    // through addresses cannot spend everyone's budget quickly (the rate limit is per minute).
    let share = match crate::access::guard::is_admin(app, req).await {
        true => None,
        false => match crate::access::limits::share(app, req, "placeholders", "PLACEHOLDER_DAILY_PER_ADDRESS", c.placeholder_daily_per_address).await {
            Ok(share) => share,
            Err(e) => {
                app.pool.settle_generation(&key, None).await?;
                return Err(e);
            }
        },
    };
    let made = async {
        let prompt = c.placeholder_prompt_template.replace("{words}", &spec.words());
        let bytes = Replicate { http: &app.http, base: &c.replicate_api_base, token }.flux(&prompt, aspect, deadline_ms, c.max_upload_bytes).await?;
        let options = UploadOptions { album: Some(PLACEHOLDER_ALBUM.into()), ..UploadOptions::default() };
        // The model's output is checked like any upload; a bad one is the model's fault.
        let file = IncomingFile { name: Some(format!("{}.webp", spec.slug)), bytes };
        let prepared = prepare(file, c, &options).await.map_err(|e| {
            crate::base::log::error(&format!("replicate output refused: {e}"));
            ApiError::new(502, "generation_failed", "the image model returned something that is not a usable image")
        })?;
        // Reviewed as the visitor's upload it is: REVIEW_MODE holds or judges it.
        crate::upload::save::save(app, prepared, &options, &Uploader::Anonymous).await
    };
    let saved = match made.await {
        Ok(saved) => saved,
        Err(e) => {
            crate::access::limits::refund(app, share).await;
            app.pool.settle_generation(&key, None).await?;
            return Err(e);
        }
    };
    let previous = app.kv.get(&key).await?;
    app.pool.settle_generation(&key, Some(&saved.meta.id)).await?;
    app.kv.put(&key, &saved.meta.id).await?;
    if let Some(old) = previous.filter(|old| *old != saved.meta.id) {
        if let Some(meta) = library::load(app, &old).await? {
            library::remove(app, &meta).await?;
        }
    }
    stored(app, req, spec, &opts, requested, pairs, &saved.meta, "replicate").await
}

/// Drawn here, at the exact size: no account needed, nothing stored. A drawing is kept in the
/// location's edge cache like a variant (a 3000×3000 one takes 0.2 s of CPU), and new ones
/// count against the placeholder rate limit.
async fn local<P: Platform>(
    app: &App<P>,
    req: &Request,
    spec: &Spec,
    opts: Options,
    requested: OutFormat,
    lettering: &Lettering,
    cache: &str,
) -> Result<Response, ApiError> {
    let format = negotiate(Some(requested), req.header("accept").unwrap_or(""), false, None);
    if matches!(format, OutFormat::Avif | OutFormat::Gif) {
        return Err(ApiError::bad_request("bad_parameter", "placeholders come as jpeg, png or webp"));
    }
    let scale = |v: u32| ((v as f32 * opts.dpr).round() as u32).max(1);
    let size = (scale(spec.width), scale(spec.height));
    let canonical = format!("{}x{}/{}?{}&{}&{lettering:?}", spec.width, spec.height, spec.slug, opts.key(format), format.name());
    let etag = format!("\"ph-{}\"", &sha256_hex(canonical.as_bytes())[..24]);
    let mut resp = Response::new(200, format.mime(), Vec::new())
        .with_header("etag", etag.clone())
        .with_header("cache-control", cache)
        .with_header("x-placeholder-source", "local");
    if requested == OutFormat::Auto {
        resp.headers.set("vary", "Accept");
    }
    if not_modified(req, &etag, 0) {
        resp.status = 304;
        resp.headers.remove("content-type");
        return Ok(resp);
    }
    let join = if req.url.query().is_some() { '&' } else { '?' };
    let edge_key = format!("{}{join}imgbed-drawn={}", req.url, format.name());
    if req.method == Method::Get {
        if let Some(hit) = app.edge.get(&edge_key).await {
            return Ok(hit.with_header("x-placeholder-cache", "edge"));
        }
    }
    crate::access::limits::check(app, req, Limit::Placeholders).await?;
    // Memory is checked before a pixel is drawn: a 4096² WebP would not fit the budget.
    check_drawn(size, &opts, format)?;
    let body = finish_drawn(image::DynamicImage::ImageRgb8(draw(spec, size, lettering)), &opts, format)?;
    resp.headers.set("content-length", body.len().to_string());
    if req.method == Method::Head {
        return Ok(resp);
    }
    resp.body = body.into();
    app.edge.put(&edge_key, &resp).await;
    Ok(resp.with_header("x-placeholder-cache", "miss"))
}

/// `GET /api/placeholders`: the generated placeholders (up to 200, newest keys first is not
/// promised), each with its words, aspect ratio, prompt and an example URL. One KV list, no
/// write; empty while placeholders are drawn locally.
pub async fn list<P: Platform>(app: &App<P>) -> Result<Response, ApiError> {
    let c = &app.config;
    let (keys, _) = app.kv.list("ph:", None, 200).await?;
    let items: Vec<serde_json::Value> = keys
        .iter()
        .filter_map(|k| {
            let (aspect, slug) = k.strip_prefix("ph:")?.split_once(':')?;
            let (w, h) = aspect.split_once('x')?;
            let (w, h): (u32, u32) = (w.parse().ok()?, h.parse().ok()?);
            // An example size of this shape, 600 pixels on the long side.
            let (ew, eh) = if w >= h { (600, 600 * h / w) } else { (600 * w / h, 600) };
            let words = slug.replace('-', " ");
            Some(serde_json::json!({
                "slug": slug,
                "words": words,
                "aspect_ratio": format!("{w}:{h}"),
                "prompt": c.placeholder_prompt_template.replace("{words}", &words),
                "example": format!("/{ew}x{eh}/{slug}"),
            }))
        })
        .collect();
    let source = if c.replicate_api_token.is_some() { "replicate" } else { "local" };
    Ok(Response::json(200, &serde_json::json!({"source": source, "placeholders": items})).with_header("cache-control", "no-cache"))
}
