//! Delete links: `GET /delete/<id>/<token>` asks for confirmation, `POST` deletes.
//! A link prefetched by a chat app or a mail scanner therefore never deletes anything.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::base::ids::token_matches;
use crate::http::{Method, Request, Response};
use crate::index::record::ImageMeta;
use crate::library;
use crate::pages::html_escape;
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
    if req.method == Method::Post {
        let removed = library::remove(app, &meta).await?;
        let remains =
            if removed.left_in_telegram > 0 { " Its bytes remain in the Telegram chat, which refused to delete them, but it is no longer served." } else { "" };
        return Ok(if wants_json {
            Response::json(200, &json!({"deleted": meta.id, "removed": removed}))
        } else {
            page("Deleted", &format!("<p>The image has been deleted.{remains} Copies cached by browsers may linger for a while.</p>"))
        });
    }
    let name = html_escape(&meta.name);
    let body = format!(
        "<p><img src=\"{path}\" alt=\"\"></p><p>Delete <b>{name}</b> for good?</p>\
         <form method=\"post\" action=\"/delete/{id}/{token}\"><button type=\"submit\">Delete</button></form>",
        path = meta.file_path(),
        id = meta.id,
        token = crate::http::pct_encode(token),
    );
    Ok(page("Delete image?", &body))
}

fn page(title: &str, body: &str) -> Response {
    crate::pages::page(
        200,
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title} · imgbed</title><link rel=\"icon\" href=\"data:,\"><style>body{{font:16px system-ui;max-width:36rem;margin:3rem auto;padding:0 1rem}}\
             img{{max-width:100%;max-height:50vh}}button{{font:inherit;padding:.5rem 1.5rem;background:#c62828;color:#fff;border:0;border-radius:6px}}\
             @media(prefers-color-scheme:dark){{body{{background:#111;color:#eee}}}}</style><h1>{title}</h1>{body}</html>"
        ),
        None,
    )
    .with_header("cache-control", "no-store")
}
