//! The public gallery: `/gallery` (the page) and `GET /api/gallery` (the same as JSON, a page
//! at a time with a cursor). It shows the albums the admin made public, only their active, not
//! private images; an album with a password shows its name and count until the visitor unlocks
//! it (`POST /api/gallery/unlock`, counted like a login). Thumbnails are the variant every
//! upload answer links to, so the gallery never asks for a size the transform guard refuses.

use crate::access::guard;
use crate::access::private::{album_cookie, album_open, password_matches};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::http::{Request, Response};
use crate::index::albums::Album;
use crate::library::variants::THUMB_QUERY;
use crate::library::view::Links;
use crate::platform::rate::Limit;
use crate::platform::upstream::Http;
use crate::platform::Pool;
use serde_json::{json, Value};

/// How long an unlocked album stays open in that browser.
const UNLOCK_DAYS: u64 = 30;
/// A wrong password costs this long, as a wrong console login does.
const WRONG_PASSWORD_DELAY_MS: u64 = 1000;

pub fn page<P: Platform>(app: &App<P>, req: &Request) -> Response {
    crate::pages::localized(req, 200, "gallery", app.config.public_url.as_deref()).with_header("cache-control", "no-cache")
}

/// Whether the visitor may see album `a`'s images.
fn open<P: Platform>(app: &App<P>, req: &Request, a: &Album) -> bool {
    a.settings.password.as_deref().is_none_or(|stored| album_open(&app.config, req, &a.name, stored))
}

/// `GET /api/gallery?album=&tag=&orientation=&q=&cursor=&limit=`.
pub async fn list<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let albums = app.pool.albums(true).await?;
    let mut query = crate::index::catalog::query_of(req)?;
    if let Some(name) = &query.album {
        match albums.iter().find(|a| &a.name == name) {
            None => return Err(ApiError::not_found(format!("no public album {name:?}"))),
            Some(a) if !open(app, req, a) => return Err(ApiError::new(401, "album_locked", format!("album {name:?} has a password: unlock it first"))),
            Some(_) => {}
        }
    }
    query.owner = None;
    query.gallery = Some(albums.iter().filter(|a| a.settings.password.is_some() && open(app, req, a)).map(|a| a.name.clone()).collect());
    let page = app.pool.list(&query).await?;
    let base = app.base_url(req);
    let images: Vec<Value> = page
        .records
        .iter()
        .map(|m| {
            let links = Links::new(&app.config, &base, m, None);
            json!({
                "id": m.id, "name": m.name, "width": m.width, "height": m.height, "orientation": m.orientation,
                "album": m.album, "tags": m.tags, "alt": m.alt, "uploaded": m.uploaded,
                "url": links.url, "thumbnail_url": format!("{base}{}?{THUMB_QUERY}", m.file_path()), "links": links.json(),
            })
        })
        .collect();
    let albums: Vec<Value> = albums.iter().map(|a| json!({"name": a.name, "images": a.images, "locked": !open(app, req, a)})).collect();
    // Cookies decide what it holds: no shared cache may keep it.
    Ok(Response::json(200, &json!({"albums": albums, "images": images, "cursor": page.next, "total": page.total}))
        .with_header("cache-control", "private, no-cache"))
}

/// `POST /api/gallery/unlock` with `{"album", "password"}`: sets the album's cookie.
pub async fn unlock<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    crate::access::limits::check(app, req, Limit::Logins).await?;
    let body: Value =
        serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request("malformed_json", format!("send {{\"album\", \"password\"}}: {e}")))?;
    let (Some(name), Some(password)) = (body["album"].as_str(), body["password"].as_str()) else {
        return Err(ApiError::bad_request("bad_parameter", "send {\"album\": \"…\", \"password\": \"…\"}"));
    };
    let albums = app.pool.albums(true).await?;
    let Some((album, stored)) = albums.iter().find(|a| a.name == name).and_then(|a| Some((a, a.settings.password.as_deref()?))) else {
        return Err(ApiError::not_found(format!("no public album {name:?} with a password")));
    };
    let ok = password_matches(stored, password);
    guard::lockout(app, req, ok).await?;
    if !ok {
        app.http.sleep(WRONG_PASSWORD_DELAY_MS).await;
        return Err(ApiError::new(401, "wrong_password", "that is not this album's password"));
    }
    let (cookie, value) = album_cookie(&app.config, &album.name, stored);
    let local = req.url.scheme() == "http";
    let secure = if local { "" } else { "; Secure" };
    let max_age = UNLOCK_DAYS * 86_400;
    Ok(Response::json(200, &json!({"album": album.name, "unlocked": true}))
        .with_header("cache-control", "no-store")
        .with_header("set-cookie", format!("{cookie}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")))
}
