//! Which handler answers which method and path, plus what every answer carries (CORS, the
//! storage-operation count). Unknown paths are 404, known paths with the wrong method 405.

use crate::access::auth;
use crate::admin;
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::budget;
use crate::clients::{bot, chevereto, dav, delete, images, lsky, picgo, sharex, smms, telegraph};
use crate::config::Config;
use crate::gallery;
use crate::http::{Method, Request, Response};
use crate::index::pools::{host_route, Filter};
use crate::pages;
use crate::placeholder;
use crate::random;
use crate::serve::file;

const ALLOWED_HEADERS: &str = "Authorization, Content-Type, token, X-API-Key, authCode, Range, If-None-Match";

pub async fn handle<P: Platform>(app: &App<P>, mut req: Request) -> Response {
    prepare(&app.config, &mut req);
    let resp = if req.method == Method::Options && is_dav(&req) {
        dav::options()
    } else if req.method == Method::Options {
        Response::empty(204)
            .with_header("access-control-allow-methods", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")
            .with_header("access-control-allow-headers", ALLOWED_HEADERS)
            .with_header("access-control-max-age", "86400")
    } else {
        route(app, &mut req).await.unwrap_or_else(Response::from)
    };
    let mut resp = decorate(resp);
    let ops = app.ops.header();
    if !ops.is_empty() {
        resp.headers.set("x-storage-ops", ops);
    }
    resp
}

/// What every answer carries.
pub fn decorate(mut resp: Response) -> Response {
    resp.headers.set("access-control-allow-origin", "*");
    resp.headers.set("access-control-expose-headers", "Content-Length, Content-Range, ETag, X-Storage-Ops");
    resp.headers.set("x-content-type-options", "nosniff");
    if resp.header("content-type").is_some_and(|t| t.starts_with("image/")) {
        resp.headers.set("content-security-policy", pages::IMAGE_CSP);
    }
    resp
}

/// What every request goes through first, before [`before_body`]: the drive's Basic
/// credentials read as the token they carry.
pub fn prepare(config: &Config, req: &mut Request) {
    dav::basic_as_bearer(config, req);
}

/// Checks a request from its headers alone, before its body is read: an upload with a header or
/// query token that is not accepted is refused without spending memory on the body, and so is a
/// declared body over the limit. `req.body` is empty here.
pub fn before_body(config: &Config, req: &Request) -> Option<Response> {
    let declared = req.header("content-length").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    let limit = body_limit(config, req);
    if declared > limit {
        let refusal = match auth::is_form(req) {
            true => budget::body_too_large(limit),
            // The body is the file: say so, and whether compression would take it.
            false => ApiError::too_large_compressible(limit, declared, config.input_limit(true)),
        };
        return Some(decorate(shaped(req, refusal)));
    }
    let uploads = matches!(req.method, Method::Post | Method::Put) && (is_upload_path(&req.segments()) || is_dav(req));
    let refusal = uploads.then(|| auth::refuse_early(config, req)).flatten()?;
    Some(decorate(shaped(req, refusal)))
}

/// The most of a body that is read: one file when the body is the file itself (a larger one
/// when it is to be compressed), else a batch.
pub fn body_limit(config: &Config, req: &Request) -> u64 {
    match auth::is_form(req) {
        true => config.max_body_bytes(),
        false => config.input_limit(config.compresses(crate::upload::ingest::UploadOptions::from_fields(|k| req.query(k)).ok().and_then(|o| o.compress))),
    }
}

fn is_dav(req: &Request) -> bool {
    req.url.path() == "/dav" || req.url.path().starts_with("/dav/")
}

fn is_upload_path(segs: &[String]) -> bool {
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    matches!(segs.as_slice(), ["upload"] | ["upload", _] | ["api", "v1", "upload"] | ["api", "v2", "upload"] | ["api", "1", "upload"] | ["1", "upload"])
}

/// An error in the shape of the client protocol its path belongs to.
pub fn shaped(req: &Request, e: ApiError) -> Response {
    let segs = req.segments();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["upload"] if picgo::is_picgo(req) => picgo::error(e),
        ["api", "v1", ..] => lsky::error(e),
        ["api", "v2", ..] => smms::error(e),
        ["api", "1", "upload"] | ["1", "upload"] => chevereto::error(e),
        ["dav", ..] => dav::error(e),
        _ => Response::from(e),
    }
}

/// Upload handlers take the request mutably: they move its body out instead of copying it.
async fn route<P: Platform>(app: &App<P>, req: &mut Request) -> Result<Response, ApiError> {
    use Method::*;
    let segs = req.segments();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method;
    let get = matches!(m, Get | Head);
    // The Host header, not the URL: behind `wrangler dev` and proxies the two can differ.
    let host = req.header("host").map(|h| h.split(':').next().unwrap_or(h)).or(req.url.host_str()).unwrap_or("");
    let random_host = app.config.random_hosts.as_deref().and_then(|s| host_route(s, host));
    let images = matches!(segs.as_slice(), ["file", _] | ["random"]) || (segs.len() == 2 && crate::transform::placeholder::parse(&segs).is_some());
    if get && (images || random_host.is_some()) && !crate::access::hotlink::allowed(&app.config, req) {
        return Ok(crate::access::hotlink::refusal(&app.config));
    }
    if let Some((filter, count)) = random_host {
        if get {
            return if count { random::count(app, req, filter).await } else { random::draw(app, req, filter).await };
        }
    }
    if let Some(spec) = crate::transform::placeholder::parse(&segs) {
        return match get {
            true => placeholder::serve(app, req, spec?).await,
            false => Err(ApiError::new(405, "method_not_allowed", format!("{} is not allowed on {}", method_name(m), req.url.path()))),
        };
    }
    if is_dav(req) {
        return dav::handle(app, req).await.or_else(|e| Ok(dav::error(e)));
    }
    match (segs.as_slice(), m) {
        ([], _) if get => Ok(pages::localized(req, 200, "upload", app.config.public_url.as_deref()).with_header("cache-control", "no-cache")),
        (["upload"], Post) if picgo::is_picgo(req) => Ok(picgo::upload(app, req).await),
        (["upload"], Post) => telegraph::telegraph(app, req).await,
        (["upload", name], Put | Post) => telegraph::raw(app, req, name).await,
        (["delete"], Post) => Ok(picgo::remove(app, req).await),
        (["heartbeat"], Get | Post) => Ok(picgo::heartbeat()),
        (["api", "v1", "upload"], Post) => Ok(lsky::upload(app, req).await),
        (["api", "v1", "images", key], Delete) => Ok(lsky::remove(app, req, key).await),
        (["api", "v2", "upload"], Post) => Ok(smms::upload(app, req).await),
        (["api", "v2", "delete", hash], Get | Post) => smms::remove(app, req, hash).await,
        (["api", "1", "upload"] | ["1", "upload"], Post) => Ok(chevereto::upload(app, req).await),
        (["api", "clients", "sharex.sxcu"], Get) => Ok(sharex::sharex(app, req).await),
        (["random"], _) if get => random::draw(app, req, Filter::from_request(req)?).await,
        (["random", "count"], _) if get => random::count(app, req, Filter::from_request(req)?).await,
        (["file", name], _) if get => file::serve(app, req, name).await,
        (["api", "images"], Get) => images::list(app, req).await,
        (["api", "images", id], Get) => images::get(app, req, id).await,
        (["api", "images", id], Patch) => images::update(app, req, id).await,
        (["api", "images", id], Delete) => images::remove(app, req, id).await,
        (["admin"], _) if get => Ok(admin::page(app, req)),
        (["api", "admin", "login"], Post) => admin::login(app, req).await,
        (["api", "admin", "logout"], Post) => admin::logout(app, req).await,
        (["api", "admin", "session"], Get) => admin::session(app, req).await,
        (["api", "admin", "images"], Get) => admin::list(app, req).await,
        (["api", "admin", "images", id], Get) => admin::get(app, req, id).await,
        (["api", "admin", "images", id], Patch) => admin::update(app, req, id).await,
        (["api", "admin", "images", id], Delete) => admin::remove(app, req, id).await,
        (["api", "admin", "images", id, "move"], Post) => admin::move_channel(app, req, id).await,
        (["api", "admin", "images", id, "links"], Post) => admin::make_link(app, req, id).await,
        (["api", "admin", "albums"], Get) => admin::albums(app, req).await,
        (["api", "admin", "albums", name], Patch) => admin::update_album(app, req, name).await,
        (["gallery"], _) if get => Ok(gallery::page(app, req)),
        (["api", "gallery"], Get) => gallery::list(app, req).await,
        (["api", "gallery", "unlock"], Post) => gallery::unlock(app, req).await,
        (["api", "admin", "bulk"], Post) => admin::bulk(app, req).await,
        (["api", "admin", "stats"], Get) => admin::stats(app, req).await,
        (["api", "admin", "tokens"], Get | Post) => admin::tokens(app, req).await,
        (["api", "admin", "tokens", id], Delete) => admin::revoke_token(app, req, id).await,
        (["api", "admin", "reindex"], Post) => admin::reindex(app, req).await,
        (["api", "admin", "export"], Get) => admin::export(app, req).await,
        (["api", "admin", "import"], Post) => admin::import(app, req).await,
        (["api", "config"], Get) => Ok(images::config(app)),
        (["api", "placeholders"], Get) => placeholder::list(app).await,
        (["placeholders"], _) if get => {
            Ok(pages::localized(req, 200, "placeholders", app.config.public_url.as_deref()).with_header("cache-control", "no-cache"))
        }
        (["delete", id, token], Get | Post) => delete::link(app, req, id, token).await,
        (["telegram", "webhook"], Post) => bot::webhook(app, req).await,
        (
            ["upload", ..]
            | ["file", _]
            | ["api", "images", ..]
            | ["api", "config"]
            | ["delete", ..]
            | ["heartbeat"]
            | ["api", "v1", ..]
            | ["api", "v2", ..]
            | ["api", "1", "upload"]
            | ["1", "upload"]
            | ["api", "clients", _]
            | ["random", ..]
            | ["admin"]
            | ["gallery"]
            | ["api", "gallery", ..]
            | ["api", "admin", ..],
            _,
        ) => Err(ApiError::new(405, "method_not_allowed", format!("{} is not allowed on {}", method_name(m), req.url.path()))),
        _ => Err(ApiError::not_found(format!("nothing at {}", req.url.path()))),
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        Method::Options => "OPTIONS",
        Method::Propfind => "PROPFIND",
        Method::Proppatch => "PROPPATCH",
        Method::Mkcol => "MKCOL",
        Method::Move => "MOVE",
        Method::Lock => "LOCK",
        Method::Unlock => "UNLOCK",
        Method::Other => "this method",
    }
}
