//! Uploads by Telegram: `POST /telegram/webhook` receives the bot's updates. An allowed user
//! (`TELEGRAM_ALLOWED_USERS`) sends a photo or an image file; it goes through the same ingest as
//! every upload (type check, EXIF strip, dedupe, review, quotas, storage channel), and the bot
//! replies with the links. `/start` tells a user their id, `/delete <id>` deletes one of the
//! sender's images, `/random` answers a random image.
//!
//! An album (several pictures sent at once) gets one reply, edited as its pictures arrive.
//!
//! Telegram sends an update again until it gets a 2xx, so every update is answered 200 once it
//! is authentic (what went wrong is said in the chat), and each `update_id` is handled once.

use crate::access::auth::Uploader;
use crate::app::{App, Platform};
use crate::base::error::{human_bytes, ApiError};
use crate::base::ids::same_secret;
use crate::http::{Request, Response};
use crate::index::catalog::Usage;
use crate::index::pools::Filter;
use crate::library::view::Links;
use crate::platform::upstream::Http;
use crate::platform::Pool;
use crate::upload::ingest::{prepare, IncomingFile, UploadOptions};
use serde_json::{json, Value};

/// Telegram lets bots download files up to this size (`getFile`).
const GET_FILE_MAX: u64 = 20 * 1000 * 1000;

pub async fn webhook<P: Platform>(app: &App<P>, req: &Request) -> Result<Response, ApiError> {
    let c = &app.config;
    let (Some(secret), false) = (c.telegram_webhook_secret.as_deref(), c.telegram_bot_tokens.is_empty()) else {
        return Err(ApiError::not_found("the Telegram bot is not set up here (TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET)"));
    };
    let given = req.header("x-telegram-bot-api-secret-token").unwrap_or("");
    let authentic = same_secret(given, secret);
    // A wrong secret is a failed credential like any other: counted, and locked out.
    crate::access::guard::credential(app, req, authentic).await?;
    if !authentic {
        return Err(ApiError::new(401, "unauthorized", "this is not Telegram: the secret token does not match"));
    }
    let update: Value = serde_json::from_slice(&req.body).map_err(|e| ApiError::bad_request("malformed_json", format!("the update could not be read: {e}")))?;
    let (Some(update_id), Some(message)) = (update["update_id"].as_u64(), update.get("message")) else {
        return Ok(ok()); // edits, reactions, channel posts: nothing to do
    };
    if !app.pool.first_update(update_id, app.http.now_ms()).await? {
        return Ok(ok());
    }
    let (Some(chat), Some(user)) = (message["chat"]["id"].as_i64(), message["from"]["id"].as_i64()) else {
        return Ok(ok());
    };
    let reply = answer(app, req, message, user).await;
    let sent = match message["media_group_id"].as_str() {
        Some(group) => reply_in_group(app, chat, group, &reply).await,
        None => crate::library::telegram(app).send_message(chat, &reply, app.http.now_ms() + 10_000).await.map(|_| ()),
    };
    if let Err(e) = sent {
        crate::base::log::error(&format!("telegram bot: the reply to update {update_id} could not be sent: {}", e.code));
    }
    Ok(ok())
}

/// An album of pictures arrives as one update per picture: they get one reply, sent for the
/// first and edited as the others come (or, while it is still on its way, completed by it).
async fn reply_in_group<P: Platform>(app: &App<P>, chat: i64, group: &str, reply: &str) -> Result<(), ApiError> {
    let telegram = crate::library::telegram(app);
    let end = app.http.now_ms() + 10_000;
    let state = app.pool.group_add(group, reply, app.http.now_ms()).await?;
    if state.first {
        let Some(id) = telegram.send_message(chat, &album_text(&state.texts), end).await? else { return Ok(()) };
        let now = app.pool.group_sent(group, id).await?;
        if now.len() > state.texts.len() {
            telegram.edit_message(chat, id, &album_text(&now), end).await?;
        }
    } else if let Some(id) = state.message_id {
        telegram.edit_message(chat, id, &album_text(&state.texts), end).await?;
    }
    Ok(())
}

/// One reply for an album: each picture's answer, within Telegram's 4,096 characters.
fn album_text(texts: &[String]) -> String {
    let mut text = format!("{} pictures:", texts.len());
    for (i, t) in texts.iter().enumerate() {
        let next = format!("\n\n{}. {t}", i + 1);
        if text.chars().count() + next.chars().count() > 4000 {
            text.push_str("\n\n(more than fit in one message: see the console)");
            break;
        }
        text.push_str(&next);
    }
    text
}

fn ok() -> Response {
    Response::json(200, &json!({"ok": true}))
}

/// What the bot says to one message (and does on the way).
async fn answer<P: Platform>(app: &App<P>, req: &Request, message: &Value, user: i64) -> String {
    let text = message["text"].as_str().unwrap_or("").trim();
    let command = text.split_whitespace().next().unwrap_or("").split('@').next().unwrap_or("");
    let allowed = app.config.telegram_allowed_users.contains(&user);
    let base = app.base_url(req);
    match command {
        "/start" | "/help" => format!(
            "This bot puts pictures on {base}. Send a photo, or an image as a file to keep its exact bytes; a caption sets its name, \
             #tags and an album:name. /delete <id> deletes one of yours, /random shows a random image.\n\nYour Telegram user id is {user}{}",
            if allowed { "." } else { ": the owner of the site can add it to TELEGRAM_ALLOWED_USERS so that you can upload." }
        ),
        "/random" => match random(app, &base).await {
            Some(url) => url,
            None => "There are no public images yet.".into(),
        },
        _ if !allowed => format!("You may not upload here. Your Telegram user id is {user}: the owner of the site can add it to TELEGRAM_ALLOWED_USERS."),
        "/delete" => delete(app, text.split_whitespace().nth(1).unwrap_or(""), user).await,
        _ => match upload(app, req, message, user, &base).await {
            Ok(Some(done)) => done,
            Ok(None) => "Send a photo or an image file, or /start for help.".into(),
            Err(e) => format!("Not stored: {}", e.message),
        },
    }
}

/// The sender's picture: a document keeps its bytes; a photo is the largest size Telegram kept.
async fn upload<P: Platform>(app: &App<P>, req: &Request, message: &Value, user: i64, base: &str) -> Result<Option<String>, ApiError> {
    let (file, name, is_photo) = if let Some(doc) = message.get("document") {
        (doc, doc["file_name"].as_str().map(str::to_string), false)
    } else if let Some(sizes) = message["photo"].as_array() {
        let largest = sizes.iter().max_by_key(|p| p["width"].as_u64().unwrap_or(0) * p["height"].as_u64().unwrap_or(0));
        let Some(largest) = largest else { return Ok(None) };
        (largest, None, true)
    } else {
        return Ok(None);
    };
    let (caption_name, options) = caption(message["caption"].as_str().unwrap_or(""))?;
    let size = file["file_size"].as_u64().unwrap_or(0);
    if size > GET_FILE_MAX {
        return Err(ApiError::new(
            413,
            "file_too_large",
            format!("the file is {}, and Telegram lets bots fetch at most 20 MB; upload it on the web page instead", human_bytes(size)),
        ));
    }
    // Never more than this site takes in: the download stops there.
    let limit = app.config.input_limit(app.config.compresses(options.compress)).min(GET_FILE_MAX);
    if size > limit {
        return Err(ApiError::too_large(limit));
    }
    let uploader = Uploader::Token(format!("tg:{user}"));
    let charged = crate::access::limits::charge(app, req, &uploader, Usage { uploads: 1, bytes: size }).await?;
    let stored = async {
        let file_id = file["file_id"].as_str().ok_or_else(|| ApiError::bad_request("bad_update", "the message names no file"))?;
        let end = app.http.now_ms() + app.config.telegram_deadline_s * 1000;
        let bytes = crate::library::telegram(app).download(file_id, limit, end).await?;
        // A caption is a name without an extension: it takes the file's (photos are JPEGs).
        let ext = name.as_deref().and_then(|n| n.rsplit_once('.')).map_or("jpg", |(_, e)| e).to_string();
        let name = caption_name.map(|n| format!("{n}.{ext}")).or(name).or_else(|| Some(format!("telegram-{}.jpg", message["message_id"])));
        let prepared = prepare(IncomingFile { name, bytes }, &app.config, &options).await?;
        crate::upload::save::save(app, prepared, &options, &uploader).await
    }
    .await;
    let stored = match stored {
        Ok(s) => s,
        Err(e) => {
            crate::access::limits::refund(app, charged).await;
            return Err(e);
        }
    };
    let links = Links::new(&app.config, base, &stored.meta, stored.delete_token.as_deref());
    let mut lines = vec![links.url.clone(), links.markdown.clone()];
    if stored.deduped {
        lines.insert(0, "Already here: the same image as before.".into());
    }
    if stored.meta.status == crate::index::record::Status::Pending {
        lines.insert(0, "Awaiting review: the link shows the image once an admin approves it.".into());
    }
    // The delete link is the sender's: in a group everyone would read it. An album's reply is
    // kept in the index store until it is complete, and a secret never goes there.
    let album = message.get("media_group_id").is_some();
    match (&links.delete_url, message["chat"]["type"].as_str()) {
        (Some(d), Some("private")) if !album => lines.push(format!("Delete: {d}  (or /delete {})", stored.meta.id)),
        _ => lines.push(format!("Delete it with /delete {}", stored.meta.id)),
    }
    if is_photo {
        lines.push("Telegram recompressed this photo; send it as a file to keep the original.".into());
    }
    Ok(Some(lines.join("\n")))
}

/// A caption as upload options: `#tags`, `album:name`, and the rest as the file name.
fn caption(text: &str) -> Result<(Option<String>, UploadOptions), ApiError> {
    let mut tags = Vec::new();
    let mut album = None;
    let mut words = Vec::new();
    for w in text.split_whitespace() {
        if let Some(t) = w.strip_prefix('#').filter(|t| !t.is_empty()) {
            tags.push(t.to_string());
        } else if let Some(a) = w.strip_prefix("album:").filter(|a| !a.is_empty()) {
            album = Some(a.to_string());
        } else {
            words.push(w);
        }
    }
    let options = UploadOptions::from_fields(|k| match k {
        "tags" => Some(tags.join(",")),
        "album" => album.clone(),
        _ => None,
    })?;
    let name = (!words.is_empty()).then(|| words.join(" "));
    Ok((name, options))
}

async fn delete<P: Platform>(app: &App<P>, id: &str, user: i64) -> String {
    if id.is_empty() {
        return "Which one? /delete <id> (the id is in the link: /file/<id>.jpg)".into();
    }
    let meta = match crate::library::load(app, id).await {
        Ok(Some(m)) if m.owner.as_deref() == Some(&format!("tg:{user}")) => m,
        Ok(_) => return format!("You have no image {id} here."),
        Err(e) => return format!("Not deleted: {}", e.message),
    };
    match crate::library::remove(app, &meta).await {
        Ok(_) => format!("Deleted {id}."),
        Err(e) => format!("Not deleted: {}", e.message),
    }
}

async fn random<P: Platform>(app: &App<P>, base: &str) -> Option<String> {
    let mut n = [0u8; 8];
    crate::base::ids::random_bytes(&mut n);
    let entry = app.pool.pick(&Filter::default().pool(), u64::from_le_bytes(n)).await.ok()??;
    Some(format!("{base}{}", entry.path))
}
