//! Delete links: `GET /delete/<id>/<token>` asks for confirmation, `POST` deletes.
//! A link prefetched by a chat app or a mail scanner therefore never deletes anything.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::token_matches;
use crate::http::{Method, Request, Response};
use crate::index::record::ImageMeta;
use crate::library;
use crate::pages::{html_escape, i18n};
use crate::upload::split_delete_key;
use serde_json::json;

/// Finds the image a delete token belongs to: 404 unknown, 403 wrong token.
pub async fn authorised<P: Platform>(app: &App<P>, id: &str, token: &str) -> Result<ImageMeta, ApiError> {
    let not_found = || ApiError::not_found(format!("no image with id {id:?}: it may be deleted already"));
    if !crate::base::ids::is_valid_id(id) {
        return Err(not_found());
    }
    let meta = library::load(app, id).await?.ok_or_else(not_found)?;
    if !token_matches(token, &meta.delete_hash) {
        return Err(ApiError::forbidden("this delete link is not valid for that image"));
    }
    Ok(meta)
}

/// Deletes by an `<id>.<token>` key as Lsky and SM.MS clients send it; the admin token may
/// delete by bare id.
pub async fn by_key<P: Platform>(app: &App<P>, req: &Request, key: &str) -> Result<ImageMeta, ApiError> {
    let meta = match split_delete_key(key) {
        Some((id, token)) => authorised(app, id, token).await?,
        None if crate::access::guard::is_admin(app, req).await => {
            library::load(app, key).await?.ok_or_else(|| ApiError::not_found(format!("no image with id {key:?}")))?
        }
        None => return Err(ApiError::forbidden("this key cannot delete anything: use the key from the upload answer")),
    };
    library::remove(app, &meta).await?;
    Ok(meta)
}

pub async fn link<P: Platform>(app: &App<P>, req: &Request, id: &str, token: &str) -> Result<Response, ApiError> {
    let meta = authorised(app, id, token).await?;
    let wants_json = req.header("accept").is_some_and(|a| a.contains("application/json"));
    let lang = i18n::choose(req);
    let texts = i18n::texts(lang, "delete");
    let text = |key: &str| texts.get(key).and_then(|t| t.as_str()).unwrap_or(key).to_string();
    if req.method == Method::Post {
        let removed = library::remove(app, &meta).await?;
        let remains = if removed.left_in_telegram > 0 { format!(" {}", text("left_in_telegram")) } else { String::new() };
        return Ok(if wants_json {
            Response::json(200, &json!({"deleted": meta.id, "removed": removed}))
        } else {
            page(lang, &text("deleted"), &format!("<p>{}{remains}</p>", text("done")))
        });
    }
    let ask = text("ask").replace("{name}", &html_escape(&meta.name));
    let body = format!(
        "<p><img src=\"{path}\" alt=\"\"></p><p>{ask}</p>\
         <form method=\"post\" action=\"/delete/{id}/{token}\"><button type=\"submit\">{delete}</button></form>",
        path = meta.file_path(),
        id = meta.id,
        token = crate::http::pct_encode(token),
        delete = text("delete"),
    );
    Ok(page(lang, &text("title"), &body))
}

/// The confirmation and its answer, in the reader's language (with the switch every page has).
fn page(lang: usize, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{code}\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · imgbed</title><link rel=\"icon\" href=\"data:,\"><style>body{{font:16px system-ui;max-width:36rem;margin:3rem auto;padding:0 1rem}}\
         img{{max-width:100%;max-height:50vh}}button{{font:inherit;padding:.5rem 1.5rem;background:#c62828;color:#fff;border:0;border-radius:6px}}\
         .lang-switch{{float:right;font:inherit;font-size:13px}}@media(prefers-color-scheme:dark){{body{{background:#111;color:#eee}}}}</style>\
         {switch}<h1>{title}</h1>{body}</html>",
        code = i18n::LANGUAGES[lang].0,
        switch = i18n::switch(lang),
    );
    // Not run through `localize`: the image's name is in it, and no name may name a text.
    crate::pages::page(200, html, None).with_header("cache-control", "no-store").with_header("content-language", i18n::LANGUAGES[lang].0)
}
