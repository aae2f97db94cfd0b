//! Album settings (`GET /api/admin/albums`, `PATCH /api/admin/albums/<name>`) and signed links
//! to one image (`POST /api/admin/images/<id>/links`).

use super::{json_body, no_store};
use crate::access::guard;
use crate::access::private::{hash_password, link_query, link_seconds};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use crate::index::albums::{Album, Settings};
use crate::index::catalog::Query;
use crate::index::pools::check_label;
use crate::library;
use crate::library::view::Links;
use crate::platform::Pool;
use serde_json::{json, Value};

/// Most records one album change rewrites; a larger album is finished by sending it again.
pub const MAX_REWRITES: usize = 500;

fn album_json(a: &Album) -> Value {
    let s = &a.settings;
    json!({"name": a.name, "images": a.images, "public": s.public, "private": s.private, "password": s.password.is_some(), "watermark": s.watermark})
}

/// `GET /api/admin/albums`: every album, with its settings and image count.
pub async fn albums<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let albums = app.pool.albums(false).await?;
    Ok(no_store(Response::json(200, &json!({"albums": albums.iter().map(album_json).collect::<Vec<_>>()}))))
}

/// `PATCH /api/admin/albums/<name>` with any of `{"public": bool, "private": bool, "password":
/// "…" | null, "watermark": bool}`. Making an album private (or public again) rewrites its images' records, so
/// that serving one never needs to look the album up: up to [`MAX_REWRITES`] per request, and
/// the answer's `remaining` says how many are left for the same request sent again.
pub async fn update_album<P: Platform>(app: &App<P>, req: &Request, name: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    check_label("album", name)?;
    let fields = json_body(req)?;
    let mut settings = app.pool.album(name).await?;
    let bad = |field: &str, expected: &str| ApiError::bad_request("bad_parameter", format!("{field} must be {expected}"));
    for (key, value) in &fields {
        match key.as_str() {
            "public" => settings.public = value.as_bool().ok_or_else(|| bad("public", "true or false"))?,
            "private" => settings.private = value.as_bool().ok_or_else(|| bad("private", "true or false"))?,
            "watermark" => settings.watermark = value.as_bool().ok_or_else(|| bad("watermark", "true or false"))?,
            "password" => {
                settings.password = match value {
                    Value::Null => None,
                    Value::String(p) if p.is_empty() => None,
                    Value::String(p) if (4..=200).contains(&p.chars().count()) => Some(hash_password(p)),
                    _ => return Err(bad("password", "4 to 200 characters, or null to remove it")),
                }
            }
            other => {
                return Err(ApiError::bad_request("bad_parameter", format!("unknown field {other:?}: public, private, password and watermark can change")))
            }
        }
    }
    if settings.public && settings.private {
        return Err(ApiError::bad_request("bad_parameter", "an album cannot be public and private at once: send {\"public\": false} with {\"private\": true}"));
    }
    app.pool.set_album(name, &settings, app.now_ms).await?;
    let (rewritten, remaining) = rewrite(app, name, &settings).await?;
    let images = app.pool.albums(false).await?.into_iter().find(|a| a.name == name).map_or(0, |a| a.images);
    let mut answer = album_json(&Album { name: name.to_string(), images, settings });
    answer["rewritten"] = json!(rewritten);
    answer["remaining"] = json!(remaining);
    Ok(no_store(Response::json(200, &answer)))
}

/// Writes again the records of album `name` whose flags do not match its settings yet (the
/// index store sets them and the pools from the settings): how many were, and how many are left.
async fn rewrite<P: Platform>(app: &App<P>, name: &str, settings: &Settings) -> Result<(usize, usize), ApiError> {
    let (mut stale, mut cursor) = (Vec::new(), None);
    loop {
        let page = app.pool.list(&Query { album: Some(name.to_string()), cursor: cursor.take(), limit: 500, ..Query::default() }).await?;
        stale.extend(page.records.into_iter().filter(|m| m.album_private != settings.private || m.album_unmarked == settings.watermark));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let now: Vec<_> = stale.iter().take(MAX_REWRITES).map(|m| (m, m)).collect();
    let failed = library::update_many(app, &now).await?.iter().filter(|r| r.is_err()).count();
    Ok((now.len() - failed, stale.len() - now.len() + failed))
}

/// `POST /api/admin/images/<id>/links` with `{"expires_in": seconds}` (a day when left out, a
/// year at most): a link that opens the image, private or not, until then; its variants too.
pub async fn make_link<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let meta = super::images::load(app, id).await?;
    let seconds = link_seconds(json_body(req)?.get("expires_in"))?;
    let expires = app.now_ms / 1000 + seconds;
    let query = link_query(&app.config, &meta.id, expires);
    let links = Links::with_query(&app.config, &app.base_url(req), &meta, None, Some(&query));
    Ok(no_store(Response::json(200, &json!({"url": links.url, "expires": expires, "links": links.json()}))))
}
