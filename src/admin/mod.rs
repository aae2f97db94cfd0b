//! The admin console (`/admin`) and its JSON API (`/api/admin/*`): login and sessions, the
//! catalog listing, one image or many at once, stats, tokens, reindex and export.
//! Every answer is `no-store`; every change goes through [`crate::library`].

use crate::access::auth;
use crate::access::guard::{self, Admin};
use crate::access::tokens::{self, Scope};
use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::{delete_token, is_valid_id, random_token};
use crate::http::{Request, Response};
use crate::index::catalog::Batch;
use crate::index::record::{ImageMeta, Status};
use crate::library;
use crate::library::edit::apply_changes;
use crate::library::view::Links;
use crate::platform::rate::Limit;
use crate::platform::upstream::Http;
use crate::platform::{Kv, Pool};
use serde_json::{json, Map, Value};

/// A failed login waits this long before answering, to slow guessing down.
const FAILED_LOGIN_DELAY_MS: u64 = 1000;
/// Most images one bulk action may name.
pub const MAX_BULK: usize = 500;
/// Records read from KV per reindex call by default (one KV read each, one index write for
/// all); `?limit=` up to 500 on paid plans, where a request may make more KV reads.
const REINDEX_BATCH: u32 = 100;
/// Records per export page.
const EXPORT_PAGE: u32 = 500;

fn no_store(resp: Response) -> Response {
    resp.with_header("cache-control", "no-store")
}

/// `GET /admin`: the console page, or a page saying how to turn it on.
pub fn page<P: Platform>(app: &App<P>) -> Response {
    if !app.config.admin_configured() {
        let msg = crate::pages::html_escape(&guard::not_configured().message);
        return no_store(crate::pages::page(
            503,
            format!("<!doctype html><meta charset=utf-8><title>imgbed admin</title><h1>Admin console is off</h1><p>{msg}</p>"),
            None,
        ));
    }
    no_store(crate::pages::page(200, include_str!("../pages/admin.html"), app.config.public_url.as_deref()))
}

fn json_body(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let v: Value = serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request("malformed_json", format!("send a JSON object: {e}")))?;
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("malformed_json", "send a JSON object")),
    }
}

/// `POST /api/admin/login` with `{"user", "password"}` (or a form): sets the session cookie.
/// The password is `ADMIN_PASSWORD`, or the admin token when no password is set.
pub async fn login<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let c = &app.config;
    if !c.admin_configured() {
        return Err(guard::not_configured());
    }
    if req.header("origin").is_some_and(|o| o.trim() != req.origin()) {
        return Err(ApiError::forbidden("log in from this site's own /admin page"));
    }
    crate::access::limits::check(app, req, Limit::Logins).await?;
    let fields: Vec<(String, String)> = if req.content_type().starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(&req.body).into_owned().collect()
    } else {
        json_body(req)?.into_iter().filter_map(|(k, v)| Some((k, v.as_str()?.to_string()))).collect()
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let (user, password) = (field("user"), field("password"));
    let ok = match c.admin_password.as_deref() {
        Some(p) => crate::base::ids::same_secret(p, password) & crate::base::ids::same_secret(&c.admin_user, user),
        None => c.admin_token.as_deref().is_some_and(|t| crate::base::ids::same_secret(t, password)),
    };
    guard::lockout(app, req, ok).await?;
    if !ok {
        app.http.sleep(FAILED_LOGIN_DELAY_MS).await;
        return Err(ApiError::unauthorized("wrong user name or password"));
    }
    let nonce = random_token();
    let max_age_s = c.admin_session_hours * 3600;
    let until = app.now_ms + max_age_s * 1000;
    app.pool.session_start(&nonce, until, app.now_ms).await?;
    let cookie = auth::session_cookie(req, Some(&auth::session_value(c, &nonce, until)), max_age_s);
    Ok(no_store(Response::json(200, &session_json(app, &nonce, until))).with_header("set-cookie", cookie))
}

fn session_json<P: Platform>(app: &App<P>, nonce: &str, until: u64) -> Value {
    let c = &app.config;
    json!({
        "user": c.admin_user,
        "csrf": auth::csrf_token(c, nonce),
        "expires": until,
        "review_mode": c.review_mode.as_str(),
        "channels": c.channels(),
        "delete_links": c.secret_key.is_some(),
    })
}

/// `POST /api/admin/logout`: ends the session here and in the store. No CSRF token is needed:
/// the worst a forged logout can do is end a session, and a logout that only cleared the
/// cookie would leave a copied cookie working.
pub async fn logout<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    if let Some(nonce) = auth::session_nonce(&app.config, req, app.now_ms) {
        app.pool.session_end(&nonce).await?;
    }
    Ok(no_store(Response::json(200, &json!({"logged_out": true}))).with_header("set-cookie", auth::session_cookie(req, None, 0)))
}

/// `GET /api/admin/session`: who is logged in, and the CSRF token the page sends back;
/// `{"logged_in": false}` (not an error: the page asks before it knows) when nobody is.
pub async fn session<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let mut v = match guard::admin(app, req).await {
        Ok(Admin::Session(nonce)) => {
            let until = auth::cookie(req, auth::SESSION_COOKIE).and_then(|v| v.split('.').next()?.parse().ok()).unwrap_or(0);
            session_json(app, &nonce, until)
        }
        Ok(Admin::Credentials) => json!({"user": app.config.admin_user, "csrf": null}),
        // A lockout is said as it is: a guess must not learn anything from this answer.
        Err(e) if e.status == 503 || e.status == 429 => return Err(e),
        Err(_) => return Ok(no_store(Response::json(200, &json!({"logged_in": false})))),
    };
    v["logged_in"] = json!(true);
    Ok(no_store(Response::json(200, &v)))
}

/// An image as the console sees it: the public view plus review, storage and the delete link
/// (derivable only with `SECRET_KEY`; random tokens are never stored).
fn admin_json<P: Platform>(app: &App<P>, base: &str, meta: &ImageMeta) -> Value {
    let token = app.config.secret_key.as_deref().map(|k| delete_token(Some(k), &meta.id));
    let links = Links::new(base, meta, token.as_deref());
    let mut v = links.record_json(meta);
    v["channel"] = json!(meta.channel);
    v["telegram"] = json!(meta.telegram.as_ref().map(|t| json!({"chat_id": t.chat_id, "bot": t.bot, "parts": t.parts.len()})));
    v["moderation"] = json!(meta.moderation);
    v["thumbnail_url"] = json!(format!("{base}{}?{}", meta.file_path(), crate::library::variants::THUMB_QUERY));
    v
}

/// `GET /api/admin/images`: a page of the catalog.
pub async fn list<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let page = app.pool.list(&crate::index::catalog::query_of(req)?).await?;
    let base = app.base_url(req);
    let images: Vec<Value> = page.records.iter().map(|m| admin_json(app, &base, m)).collect();
    Ok(no_store(Response::json(200, &json!({"images": images, "cursor": page.next, "total": page.total}))))
}

async fn load<P: Platform>(app: &App<P>, id: &str) -> Result<ImageMeta, ApiError> {
    let not_found = || ApiError::not_found(format!("no image with id {id:?}"));
    if !is_valid_id(id) {
        return Err(not_found());
    }
    library::load(app, id).await?.ok_or_else(not_found)
}

/// `GET /api/admin/images/<id>`.
pub async fn get<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let meta = load(app, id).await?;
    Ok(no_store(Response::json(200, &admin_json(app, &app.base_url(req), &meta))))
}

/// `PATCH /api/admin/images/<id>` with the fields of `PATCH /api/images/<id>`.
pub async fn update<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let before = load(app, id).await?;
    let after = apply_changes(&before, &json_body(req)?)?;
    library::update(app, &before, &after).await?;
    Ok(no_store(Response::json(200, &admin_json(app, &app.base_url(req), &after))))
}

/// `DELETE /api/admin/images/<id>`: says what was removed.
pub async fn remove<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let meta = load(app, id).await?;
    let removed = library::remove(app, &meta).await?;
    Ok(no_store(Response::json(200, &json!({"deleted": removed}))))
}

/// `POST /api/admin/images/<id>/move` with `{"channel": "r2"|"telegram"}`: copies the bytes,
/// switches the record, then removes the old copy.
pub async fn move_channel<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let meta = load(app, id).await?;
    let to = match json_body(req)?.get("channel").and_then(Value::as_str) {
        Some("r2") => crate::index::record::Channel::R2,
        Some("telegram") => crate::index::record::Channel::Telegram,
        _ => return Err(ApiError::bad_request("bad_parameter", "channel must be \"r2\" or \"telegram\"")),
    };
    let (after, left) = library::move_to(app, &meta, to).await?;
    let mut v = admin_json(app, &app.base_url(req), &after);
    v["left_in_telegram"] = json!(left);
    Ok(no_store(Response::json(200, &v)))
}

/// The change a bulk action makes to one record; `None` for delete.
fn bulk_change(action: &str, body: &Map<String, Value>, meta: &ImageMeta) -> Result<Option<ImageMeta>, ApiError> {
    let status = |s: Status| {
        let mut m = meta.clone();
        m.status = s;
        Ok(Some(m))
    };
    match action {
        "delete" => Ok(None),
        "block" | "reject" => status(Status::Blocked),
        "unblock" | "approve" => status(Status::Active),
        "pend" => status(Status::Pending),
        "move" => {
            let album = body.get("album").cloned().unwrap_or(Value::Null);
            apply_changes(meta, &Map::from_iter([("album".to_string(), album)])).map(Some)
        }
        "tag" => {
            let list = |k: &str| -> Vec<String> {
                body.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(|t| Some(t.as_str()?.trim().to_lowercase())).collect()).unwrap_or_default()
            };
            let (add, drop) = (list("add"), list("remove"));
            let mut tags: Vec<Value> = meta.tags.iter().filter(|t| !drop.contains(t)).map(|t| json!(t)).collect();
            tags.extend(add.iter().filter(|t| !meta.tags.contains(t)).map(|t| json!(t)));
            apply_changes(meta, &Map::from_iter([("tags".to_string(), Value::Array(tags))])).map(Some)
        }
        other => Err(ApiError::bad_request("bad_parameter", format!("unknown action {other:?}: delete, block, unblock, approve, reject, pend, move or tag"))),
    }
}

/// `POST /api/admin/bulk` with `{"ids": [...], "action": ..., "album"?, "add"?, "remove"?}`:
/// applies one action to each image; reports each result, so a partial failure is visible.
pub async fn bulk<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let body = json_body(req)?;
    let action = body.get("action").and_then(Value::as_str).unwrap_or("");
    let ids: Vec<&str> = body.get("ids").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(ApiError::bad_request("bad_parameter", format!("ids must list 1 to {MAX_BULK} image ids")));
    }
    // Refuse an unknown action or bad fields before touching anything.
    bulk_change(action, &body, &sample_meta())?;
    let failure = |id: &str, e: ApiError| json!({"id": id, "ok": false, "error": {"code": e.code, "message": e.message}});
    // Deletes go one by one; changes are collected and indexed in one step.
    let mut results = Vec::with_capacity(ids.len());
    let mut changes: Vec<(usize, ImageMeta, ImageMeta)> = Vec::new();
    for id in ids {
        let outcome = async {
            let meta = load(app, id).await?;
            match bulk_change(action, &body, &meta)? {
                None => Ok(json!({"id": id, "ok": true, "deleted": library::remove(app, &meta).await?})),
                Some(after) => {
                    changes.push((results.len(), meta, after));
                    Ok::<_, ApiError>(Value::Null)
                }
            }
        };
        results.push(outcome.await.unwrap_or_else(|e| failure(id, e)));
    }
    let pairs: Vec<(&ImageMeta, &ImageMeta)> = changes.iter().map(|(_, before, after)| (before, after)).collect();
    let written = match pairs.is_empty() {
        true => Vec::new(),
        false => library::update_many(app, &pairs).await.unwrap_or_else(|e| pairs.iter().map(|_| Err(e.clone())).collect()),
    };
    for ((at, _, after), outcome) in changes.iter().zip(written) {
        results[*at] = match outcome {
            Ok(()) => json!({"id": after.id, "ok": true, "status": after.status}),
            Err(e) => failure(&after.id, e),
        };
    }
    let failed = results.iter().filter(|r| r["ok"] == false).count();
    Ok(no_store(Response::json(200, &json!({"action": action, "done": results.len() - failed, "failed": failed, "results": results}))))
}

/// A stand-in record for checking a bulk action's fields before any image is loaded.
fn sample_meta() -> ImageMeta {
    serde_json::from_value(json!({
        "id": "probe", "name": "probe.png", "format": "png", "bytes": 0, "width": 1, "height": 1,
        "orientation": "square", "sha256": "", "uploaded": 0, "status": "active", "channel": "r2",
        "location": "", "delete_hash": "",
    }))
    .expect("a valid sample record") // ok: a literal
}

/// `GET /api/admin/stats`.
pub async fn stats<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let mut stats = app.pool.stats(app.now_ms).await?;
    let repair = crate::library::repair::state(app).await?;
    stats["repair"] = json!({"last_run": repair.last_run, "last": repair.last, "total": repair.total, "passes": repair.passes});
    Ok(no_store(Response::json(200, &stats)))
}

fn token_json(r: &tokens::TokenRecord) -> Value {
    json!({"id": r.id, "name": r.name, "scopes": r.scopes, "created": r.created, "expires": r.expires, "last_used": r.last_used})
}

/// `GET /api/admin/tokens`, `POST /api/admin/tokens` `{"name", "scopes", "expires_in_days"?}`.
pub async fn tokens<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    if req.method == crate::http::Method::Get {
        let list: Vec<Value> = tokens::list(app).await?.iter().map(token_json).collect();
        return Ok(no_store(Response::json(200, &json!({"tokens": list}))));
    }
    let body = json_body(req)?;
    let name = body.get("name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::bad_request("bad_parameter", "name must be 1 to 64 characters"));
    }
    let scopes: Vec<Scope> = match body.get("scopes") {
        None => vec![Scope::Upload],
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| ApiError::bad_request("bad_parameter", "scopes must be a list of upload, delete, list"))?,
    };
    if scopes.is_empty() {
        return Err(ApiError::bad_request("bad_parameter", "a token needs at least one scope: upload, delete or list"));
    }
    let expires = match body.get("expires_in_days") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|d| *d > 0.0 && *d <= 3650.0)
                .map(|d| app.now_ms + (d * 86_400_000.0) as u64)
                .ok_or_else(|| ApiError::bad_request("bad_parameter", "expires_in_days must be a number of days from 0 to 3650"))?,
        ),
    };
    let (token, record) = tokens::create(app, name, scopes, expires).await?;
    let mut v = token_json(&record);
    v["token"] = json!(token);
    Ok(no_store(Response::json(201, &v)))
}

/// `DELETE /api/admin/tokens/<id>`.
pub async fn revoke_token<P: Platform>(app: &App<P>, req: &Request, id: &str) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    if !tokens::revoke(app, id).await? {
        return Err(ApiError::not_found(format!("no token with id {id:?}")));
    }
    Ok(no_store(Response::json(200, &json!({"revoked": id}))))
}

/// `POST /api/admin/reindex[?cursor=]`: rebuilds catalog and pools from the KV records, one
/// batch per call (see [`crate::index::catalog::rebuild`]). Without a cursor it starts a run; the
/// answer's `cursor` continues it, and `done` says when every record has been read.
pub async fn reindex<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    // `cursor` and `limit` from the query or, as scripts send them, a JSON body.
    let body = if req.body.is_empty() { Map::new() } else { json_body(req)? };
    let param = |name: &str| {
        req.query(name).or_else(|| match body.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    let cursor = param("cursor").filter(|c| !c.is_empty());
    let batch = match param("limit") {
        None => REINDEX_BATCH,
        Some(v) => {
            v.parse().ok().filter(|n| (1..=500).contains(n)).ok_or_else(|| ApiError::bad_request("bad_parameter", "limit must be a number from 1 to 500"))?
        }
    };
    let (keys, next) = app.kv.list("img:", cursor.as_deref(), batch).await?;
    let mut items = Vec::with_capacity(keys.len());
    let mut unreadable = Vec::new();
    for key in &keys {
        let id = key.trim_start_matches("img:");
        match library::load(app, id).await {
            Ok(Some(meta)) => items.push(library::indexed(app, &meta)),
            Ok(None) => {}
            Err(_) => unreadable.push(id.to_string()),
        }
    }
    let pooled = items.iter().filter(|i| i.pools.is_some()).count();
    let indexed = items.len();
    let rebuilt = Batch { items, kept: unreadable.clone(), first: cursor.is_none(), last: next.is_none(), now_ms: app.now_ms };
    let removed = app.pool.rebuild(&rebuilt).await?;
    Ok(no_store(Response::json(
        200,
        &json!({"read": keys.len(), "indexed": indexed, "pooled": pooled, "removed": removed, "unreadable": unreadable, "cursor": next, "done": next.is_none()}),
    )))
}

/// `POST /api/admin/import`: one image from a backup (`scripts/restore`), as multipart with
/// `record` (its line of the export) and `file` (its bytes). 201 when stored, 200 when it was
/// here already.
pub async fn import<P: Platform>(app: &App<P>, req: &mut Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let mut form = crate::upload::read_form(&app.config, req, None)?;
    let req = &*req;
    let record = form.field(req, "record").ok_or_else(|| ApiError::bad_request("bad_parameter", "send the record as a form field named 'record'"))?;
    let meta: ImageMeta = serde_json::from_str(&record).map_err(|e| ApiError::bad_request("bad_record", format!("the record is not an export line: {e}")))?;
    if !is_valid_id(&meta.id) {
        return Err(ApiError::bad_request("bad_record", "the record's id is not an imgbed id"));
    }
    let Some(file) = form.files.pop() else {
        return Err(ApiError::bad_request("no_file", "send the image's bytes in a field named 'file'"));
    };
    let stored = library::import(app, meta.clone(), file.bytes).await?;
    Ok(no_store(Response::json(if stored { 201 } else { 200 }, &json!({"id": meta.id, "stored": stored}))))
}

/// `GET /api/admin/export[?cursor=]`: every KV record (the source of truth, so an export works
/// even when the catalog does not) as JSON Lines, delete hash and owner fingerprint included
/// for backups. A page of up to 500 records per answer (one KV read each); the `X-Next-Cursor`
/// header (and a `Link: rel="next"`) names the next page.
pub async fn export<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    guard::admin(app, req).await?;
    let (keys, next) = app.kv.list("img:", req.query("cursor").filter(|c| !c.is_empty()).as_deref(), EXPORT_PAGE).await?;
    let mut body = Vec::new();
    for key in &keys {
        // The stored text as it is: a backup must not depend on this version's record shape.
        if let Some(record) = app.kv.get(key).await? {
            body.extend(record.trim().as_bytes());
            body.push(b'\n');
        }
    }
    let mut resp = Response::new(200, "application/x-ndjson", body);
    if let Some(next) = &next {
        let url = format!("{}/api/admin/export?cursor={}", app.base_url(req), crate::http::pct_encode(next));
        resp = resp.with_header("x-next-cursor", next.clone()).with_header("link", format!("<{url}>; rel=\"next\""));
    }
    Ok(no_store(resp))
}
