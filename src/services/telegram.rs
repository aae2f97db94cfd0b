//! Telegram as a storage channel, through the Bot API: each file is posted to a chat with
//! `sendDocument` (the exact bytes: `sendPhoto` would recompress), read back with `getFile` and
//! the file server, and removed with `deleteMessage`. Files over the 20 MB `getFile` cap are
//! split into parts, each its own document.
//!
//! The bot token is part of every Bot API URL, so no URL, request or answer of Telegram's is
//! ever logged or returned: errors are reduced to a method name and Telegram's error code.
//! A `file_id` belongs to the bot that sent the file, so records name that bot by its public id
//! (the number before `:` in its token), never by the token.

use crate::base::error::ApiError;
use crate::http::Stream;
use crate::index::record::{Part, TelegramCopy};
use crate::platform::upstream::{Http, OutRequest, Piece, UpstreamError};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

/// Parts stay under Telegram's 20 MB download cap for bots.
pub const PART_BYTES: u64 = 19 * 1024 * 1024;
/// `file_path`s are valid for at least an hour; reuse one for a little less.
const PATH_TTL_MS: u64 = 50 * 60 * 1000;
/// Bot API answers (not downloads) are small JSON documents.
const MAX_JSON_BYTES: u64 = 64 << 10;
/// Tries per call for 5xx and network errors, with doubling pauses from this.
const TRIES: u32 = 3;
const BACKOFF_MS: u64 = 300;

/// The public id of a bot: the number before `:` in its token.
pub fn bot_id(token: &str) -> &str {
    token.split(':').next().unwrap_or("")
}

pub struct Telegram<'a, H: Http> {
    pub http: &'a H,
    pub base: &'a str,
    pub bots: &'a [String],
    pub chat_id: &'a str,
}

/// Why a call failed, for the retry policy.
#[derive(Debug)]
enum Failure {
    /// 429: wait this many seconds (or try another bot).
    Throttled(u64),
    /// 5xx, a network error or an unreadable answer: worth another try.
    Unavailable,
    /// Telegram refused the request (4xx): retrying will not help.
    Refused(i64),
}

fn unavailable(retry_after: u64) -> ApiError {
    ApiError::new(503, "storage_unavailable", "Telegram storage is unavailable right now: try again in a moment").with_retry_after(retry_after.max(1))
}

thread_local! {
    /// `file_unique_id` → (`file_path`, valid until): views within the hour cost no `getFile`.
    /// Per isolate, so it works where the Cache API does not (workers.dev).
    static PATHS: RefCell<HashMap<String, (String, u64)>> = RefCell::new(HashMap::new());
}

impl<H: Http> Telegram<'_, H> {
    fn token_of(&self, bot: &str) -> Option<&str> {
        self.bots.iter().map(String::as_str).find(|t| bot_id(t) == bot)
    }

    /// One Bot API call with `body` (JSON or multipart) as bot `token`.
    async fn call(&self, token: &str, method: &str, content_type: &str, body: Vec<u8>, timeout_ms: u64) -> Result<Value, Failure> {
        let req = OutRequest {
            method: "POST",
            url: format!("{}/bot{token}/{method}", self.base),
            headers: vec![("content-type".into(), content_type.into())],
            body,
            manual_redirects: true,
            timeout_ms: timeout_ms.max(1),
        };
        let resp = match self.http.send(req, MAX_JSON_BYTES).await {
            Ok(r) => r,
            Err(e) => {
                let why = match e {
                    UpstreamError::TimedOut => "timed out",
                    UpstreamError::TooLarge => "answer too large",
                    UpstreamError::Unreachable(_) => "unreachable",
                };
                crate::base::log::error(&format!("telegram {method}: {why}"));
                return Err(Failure::Unavailable);
            }
        };
        let answer: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if answer["ok"] == true {
            return Ok(answer["result"].clone());
        }
        if answer.get("ok").is_none() {
            // Not a Bot API answer at all (a proxy's error page, a garbled body): an outage.
            crate::base::log::error(&format!("telegram {method}: {} with an unreadable answer", resp.status));
            return Err(Failure::Unavailable);
        }
        let code = answer["error_code"].as_i64().unwrap_or(i64::from(resp.status));
        // The description names the problem ("chat not found") and never the token.
        crate::base::log::error(&format!("telegram {method}: {code} {}", answer["description"].as_str().unwrap_or("")));
        match code {
            429 => Err(Failure::Throttled(answer.pointer("/parameters/retry_after").and_then(Value::as_u64).unwrap_or(1).max(1))),
            c if c >= 500 || c <= 0 => Err(Failure::Unavailable),
            c => Err(Failure::Refused(c)),
        }
    }

    /// Calls `method`, riding out throttling and hiccups until `end` (ms since the epoch): on
    /// 429 another bot is tried if one has not been throttled yet, else it waits `retry_after`
    /// if that fits; 5xx and network errors get [`TRIES`] tries with doubling pauses.
    /// `body` makes the request body for each try, so a large upload is held once, not twice.
    async fn call_patiently(&self, first_bot: usize, method: &str, body: &dyn Fn() -> (Vec<u8>, String), end: u64) -> Result<(Value, usize), ApiError> {
        let mut bot = first_bot % self.bots.len().max(1);
        let mut throttled = vec![false; self.bots.len()];
        let mut hiccups = 0;
        loop {
            let left = end.saturating_sub(self.http.now_ms());
            if left == 0 {
                return Err(unavailable(5));
            }
            let (bytes, content_type) = body();
            match self.call(&self.bots[bot], method, &content_type, bytes, left).await {
                Ok(v) => return Ok((v, bot)),
                Err(Failure::Throttled(seconds)) => {
                    throttled[bot] = true;
                    if let Some(next) = (1..self.bots.len()).map(|k| (bot + k) % self.bots.len()).find(|b| !throttled[*b]) {
                        bot = next;
                    } else if seconds * 1000 < end.saturating_sub(self.http.now_ms()) {
                        self.http.sleep(seconds * 1000).await;
                        throttled.iter_mut().for_each(|t| *t = false);
                    } else {
                        return Err(unavailable(seconds));
                    }
                }
                Err(Failure::Unavailable) if hiccups + 1 < TRIES => {
                    self.http.sleep(BACKOFF_MS << hiccups).await;
                    hiccups += 1;
                }
                Err(Failure::Unavailable) => return Err(unavailable(30)),
                Err(Failure::Refused(code)) => {
                    return Err(ApiError::new(
                        502,
                        "storage_refused",
                        format!("Telegram refused to store the file (error {code}): check TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID, and that each bot is an admin of the chat"),
                    ))
                }
            }
        }
    }

    /// Posts `bytes` as one document per part, captioned with the image id. If a part fails,
    /// the parts already sent are deleted again (best effort) and the error returned.
    pub async fn store(&self, bytes: &[u8], name: &str, id: &str, end: u64) -> Result<TelegramCopy, ApiError> {
        if self.bots.is_empty() {
            return Err(unavailable(60));
        }
        let chunks: Vec<&[u8]> = bytes.chunks(PART_BYTES as usize).collect();
        // Spread uploads over the bots: start from one picked by the id.
        let first = id.bytes().map(usize::from).sum::<usize>() % self.bots.len();
        let mut bot = first;
        let mut parts: Vec<Part> = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let (file_name, caption) = match chunks.len() {
                1 => (name.to_string(), id.to_string()),
                n => (format!("{name}.part{}of{n}", i + 1), format!("{id} part {}/{n}", i + 1)),
            };
            let body = || multipart(&[("chat_id", self.chat_id), ("caption", &caption), ("disable_notification", "true")], &file_name, chunk);
            // Every part must come from the same bot: file ids are per bot.
            let bots = if parts.is_empty() { self.bots } else { std::slice::from_ref(&self.bots[bot]) };
            let client = Telegram { bots, ..*self };
            let sent = client.call_patiently(if parts.is_empty() { first } else { 0 }, "sendDocument", &body, end).await;
            let (message, used) = match sent {
                Ok(v) => v,
                Err(e) => {
                    if !parts.is_empty() {
                        let copy = TelegramCopy { chat_id: self.chat_id.to_string(), bot: bot_id(&self.bots[bot]).to_string(), parts };
                        self.delete(&copy).await;
                    }
                    return Err(e);
                }
            };
            if parts.is_empty() {
                bot = used;
            }
            let doc = &message["document"];
            match (doc["file_id"].as_str(), doc["file_unique_id"].as_str(), message["message_id"].as_i64()) {
                (Some(file_id), Some(unique), Some(message_id)) => {
                    parts.push(Part { file_id: file_id.into(), file_unique_id: unique.into(), message_id, bytes: chunk.len() as u64 })
                }
                _ => return Err(unavailable(30)),
            }
        }
        Ok(TelegramCopy { chat_id: self.chat_id.to_string(), bot: bot_id(&self.bots[bot]).to_string(), parts })
    }

    /// The file server path of a part: remembered for [`PATH_TTL_MS`], else one `getFile`.
    async fn file_path(&self, token: &str, part: &Part, now: u64, end: u64) -> Result<String, ApiError> {
        if let Some(path) = PATHS.with(|p| p.borrow().get(&part.file_unique_id).filter(|(_, until)| *until > now).map(|(path, _)| path.clone())) {
            return Ok(path);
        }
        let one = [token.to_string()];
        let client = Telegram { bots: &one, ..*self };
        let (file, _) = client.call_patiently(0, "getFile", &|| json_body(serde_json::json!({"file_id": part.file_id})), end).await?;
        let path = file["file_path"].as_str().ok_or_else(|| unavailable(30))?.to_string();
        PATHS.with(|p| p.borrow_mut().insert(part.file_unique_id.clone(), (path.clone(), now + PATH_TTL_MS)));
        Ok(path)
    }

    /// A stored file, or `len` bytes from `offset`, as a stream: only the parts the range
    /// touches are requested, each when the one before it has been read (see [`Http::stream`]).
    /// A stale `file_path` (404) is looked up again once.
    pub async fn read(&self, copy: &TelegramCopy, range: Option<(u64, u64)>, end: u64) -> Result<Stream, ApiError> {
        let token = self.token_of(&copy.bot).ok_or_else(|| {
            ApiError::new(503, "storage_unavailable", format!("the Telegram bot {} that stored this file is no longer in TELEGRAM_BOT_TOKEN", copy.bot))
        })?;
        let total: u64 = copy.parts.iter().map(|p| p.bytes).sum();
        let (offset, len) = range.unwrap_or((0, total));
        let mut touched = Vec::new();
        let mut start = 0u64;
        for part in &copy.parts {
            let (from, to) = (offset.max(start), (offset + len).min(start + part.bytes));
            if from < to {
                touched.push((part, from - start, to - from));
            }
            start += part.bytes;
        }
        for fresh in [false, true] {
            let now = self.http.now_ms();
            let mut pieces = Vec::with_capacity(touched.len());
            for (part, from, len) in &touched {
                if fresh {
                    PATHS.with(|p| p.borrow_mut().remove(&part.file_unique_id));
                }
                let path = self.file_path(token, part, now, end).await?;
                pieces.push(Piece { url: format!("{}/file/bot{token}/{path}", self.base), from: *from, len: *len, size: part.bytes });
            }
            match self.http.stream(&pieces, end.saturating_sub(now).max(1)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(404)) if !fresh => continue,
                Ok(Err(s)) => {
                    crate::base::log::error(&format!("telegram download: HTTP {s}"));
                    return Err(unavailable(30));
                }
                Err(_) => {
                    crate::base::log::error("telegram download: unreachable or too slow");
                    return Err(unavailable(30));
                }
            }
        }
        Err(unavailable(30))
    }

    /// Deletes every part's message; returns how many are left in the chat because Telegram
    /// would not delete them (messages older than 48 hours, a bot without the right, an
    /// outage). Never fails: the caller removes the record either way.
    pub async fn delete(&self, copy: &TelegramCopy) -> u32 {
        let Some(token) = self.token_of(&copy.bot) else {
            return copy.parts.len() as u32;
        };
        let one = [token.to_string()];
        let client = Telegram { bots: &one, ..*self };
        let end = self.http.now_ms() + 20_000;
        let mut left = 0;
        for part in &copy.parts {
            let body = || json_body(serde_json::json!({"chat_id": copy.chat_id, "message_id": part.message_id}));
            if client.call_patiently(0, "deleteMessage", &body, end).await.is_err() {
                left += 1;
            }
        }
        left
    }

    /// A plain-text message to a chat, as the first bot (the one whose webhook is set); the
    /// message's id.
    pub async fn send_message(&self, chat_id: i64, text: &str, end: u64) -> Result<Option<i64>, ApiError> {
        let body = || json_body(serde_json::json!({"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": true}}));
        self.call_patiently(0, "sendMessage", &body, end).await.map(|(m, _)| m["message_id"].as_i64())
    }

    /// Replaces the text of a message the bot sent.
    pub async fn edit_message(&self, chat_id: i64, message_id: i64, text: &str, end: u64) -> Result<(), ApiError> {
        let body = || json_body(serde_json::json!({"chat_id": chat_id, "message_id": message_id, "text": text, "link_preview_options": {"is_disabled": true}}));
        self.call_patiently(0, "editMessageText", &body, end).await.map(|_| ())
    }

    /// The bytes of a file someone sent the bot (`getFile`, then the file server), at most
    /// `max_bytes`. Telegram lets bots download files up to 20 MB.
    pub async fn download(&self, file_id: &str, max_bytes: u64, end: u64) -> Result<Vec<u8>, ApiError> {
        let Some(token) = self.bots.first() else { return Err(unavailable(30)) };
        let body = || json_body(serde_json::json!({"file_id": file_id}));
        let (file, _) = self.call_patiently(0, "getFile", &body, end).await?;
        let path = file["file_path"].as_str().ok_or_else(|| unavailable(30))?;
        let req = OutRequest {
            method: "GET",
            url: format!("{}/file/bot{token}/{path}", self.base),
            headers: vec![],
            body: vec![],
            manual_redirects: true,
            timeout_ms: end.saturating_sub(self.http.now_ms()).max(1),
        };
        match self.http.send(req, max_bytes).await {
            Ok(r) if r.status == 200 => Ok(r.body),
            Err(UpstreamError::TooLarge) => Err(ApiError::too_large(max_bytes)),
            _ => Err(unavailable(5)),
        }
    }
}

fn json_body(v: Value) -> (Vec<u8>, String) {
    (v.to_string().into_bytes(), "application/json".into())
}

/// A `multipart/form-data` body with text fields and one file field `document`.
fn multipart(fields: &[(&str, &str)], file_name: &str, bytes: &[u8]) -> (Vec<u8>, String) {
    let mut random = [0u8; 12];
    crate::base::ids::random_bytes(&mut random);
    let boundary = format!("imgbed-{}", crate::base::ids::hex(&random));
    let mut body = Vec::with_capacity(bytes.len() + 1024);
    for (k, v) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    let safe: String = file_name.chars().filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\')).collect();
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; filename=\"{safe}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryHttp;
    use serde_json::json;

    const BASE: &str = "https://tg.test";
    const BOTS: [&str; 2] = ["11:secret-one", "22:secret-two"];

    fn answer(http: &MemoryHttp, url: &str, status: u16, body: Value) {
        http.routes.borrow_mut().insert(url.into(), (status, vec![], body.to_string().into_bytes()));
    }

    fn sent_document(file: &str) -> Value {
        json!({"ok": true, "result": {"message_id": 7, "chat": {"id": -100, "type": "channel"}, "document": {"file_id": file, "file_unique_id": format!("u-{file}"), "file_size": 3}}})
    }

    fn client<'a>(http: &'a &'a MemoryHttp, bots: &'a [String]) -> Telegram<'a, &'a MemoryHttp> {
        Telegram { http, base: BASE, bots, chat_id: "-100" }
    }

    fn bots() -> Vec<String> {
        BOTS.iter().map(|b| b.to_string()).collect()
    }

    #[test]
    fn stores_the_exact_bytes_as_a_document() {
        let http = MemoryHttp::default();
        let bots = bots();
        for b in BOTS {
            answer(&http, &format!("{BASE}/bot{b}/sendDocument"), 200, sent_document(&format!("f-{}", bot_id(b))));
        }
        let copy = pollster::block_on(client(&&http, &bots).store(b"abc", "a.png", "ID1", 60_000)).unwrap();
        assert_eq!(copy.parts.len(), 1);
        assert_eq!(copy.parts[0].message_id, 7);
        assert!(BOTS.iter().any(|b| bot_id(b) == copy.bot));
        let sent = http.sent.borrow();
        assert!(sent[0].url.ends_with("/sendDocument"), "never sendPhoto");
        let body = String::from_utf8_lossy(&sent[0].body);
        assert!(body.contains("name=\"document\"; filename=\"a.png\"") && body.contains("\r\n\r\nabc\r\n") && body.contains("ID1"));
        assert!(!serde_json::to_string(&copy).unwrap().contains("secret"), "records never hold a token");
    }

    #[test]
    fn throttling_moves_to_the_next_bot_then_waits_retry_after() {
        let http = MemoryHttp::default();
        let bots = bots();
        let throttled = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 3", "parameters": {"retry_after": 3}});
        for b in BOTS {
            answer(&http, &format!("{BASE}/bot{b}/sendDocument"), 429, throttled.clone());
        }
        let e = pollster::block_on(client(&&http, &bots).store(b"abc", "a.png", "ID1", 10_000)).unwrap_err();
        assert_eq!((e.status, e.retry_after), (503, Some(3)));
        assert!(
            http.sent.borrow().iter().any(|r| r.url.contains("/bot11:")) && http.sent.borrow().iter().any(|r| r.url.contains("/bot22:")),
            "both bots tried"
        );
        assert!(http.clock.get() <= 10_000, "never waits past the budget");
        assert!(!e.message.contains("secret") && !e.message.contains("Too Many"), "{}", e.message);
        // With budget to spare, it waits and tries again.
        let http = MemoryHttp::default();
        answer(&http, &format!("{BASE}/bot{}/sendDocument", BOTS[0]), 429, throttled);
        let one = vec![BOTS[0].to_string()];
        assert!(pollster::block_on(client(&&http, &one).store(b"abc", "a.png", "ID1", 2_000)).is_err());
        assert_eq!(http.clock.get(), 0, "retry_after longer than the budget: no pointless wait");
    }

    #[test]
    fn server_errors_are_retried_and_refusals_are_not() {
        let http = MemoryHttp::default();
        let one = vec![BOTS[0].to_string()];
        answer(&http, &format!("{BASE}/bot{}/sendDocument", BOTS[0]), 500, json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}));
        let e = pollster::block_on(client(&&http, &one).store(b"abc", "a.png", "ID1", 60_000)).unwrap_err();
        assert_eq!(e.status, 503);
        assert_eq!(http.sent.borrow().len(), TRIES as usize);
        let http = MemoryHttp::default();
        answer(
            &http,
            &format!("{BASE}/bot{}/sendDocument", BOTS[0]),
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
        );
        let e = pollster::block_on(client(&&http, &one).store(b"abc", "a.png", "ID1", 60_000)).unwrap_err();
        assert_eq!((e.status, e.code), (502, "storage_refused"));
        assert_eq!(http.sent.borrow().len(), 1);
    }

    #[test]
    fn reads_ranges_across_parts_with_the_bot_that_stored_them() {
        let http = MemoryHttp::default();
        let bots = bots();
        let copy = TelegramCopy {
            chat_id: "-100".into(),
            bot: "22".into(),
            parts: vec![
                Part { file_id: "p1".into(), file_unique_id: "rp1".into(), message_id: 1, bytes: 4 },
                Part { file_id: "p2".into(), file_unique_id: "rp2".into(), message_id: 2, bytes: 4 },
            ],
        };
        // getFile answers by file id, so route both through one URL per call in turn.
        answer(&http, &format!("{BASE}/bot{}/getFile", BOTS[1]), 200, json!({"ok": true, "result": {"file_path": "documents/x"}}));
        http.routes.borrow_mut().insert(format!("{BASE}/file/bot{}/documents/x", BOTS[1]), (200, vec![], b"ABCD".to_vec()));
        let got = pollster::block_on(client(&&http, &bots).read(&copy, Some((2, 4)), 60_000)).unwrap();
        assert_eq!(got.0, b"CDAB", "bytes 2..6 span the boundary: the end of part 1 and the start of part 2");
        assert!(http.sent.borrow().iter().all(|r| !r.url.contains("/bot11:")), "file ids belong to the bot that stored them");
        let gone = TelegramCopy { bot: "33".into(), ..copy };
        assert_eq!(pollster::block_on(client(&&http, &bots).read(&gone, None, 60_000)).unwrap_err().status, 503);
    }

    #[test]
    fn deletes_count_what_telegram_refused() {
        let http = MemoryHttp::default();
        let bots = bots();
        answer(
            &http,
            &format!("{BASE}/bot{}/deleteMessage", BOTS[0]),
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: message can't be deleted for everyone"}),
        );
        let copy = TelegramCopy {
            chat_id: "-100".into(),
            bot: "11".into(),
            parts: vec![Part { file_id: "f".into(), file_unique_id: "u".into(), message_id: 9, bytes: 1 }],
        };
        assert_eq!(pollster::block_on(client(&&http, &bots).delete(&copy)), 1);
        answer(&http, &format!("{BASE}/bot{}/deleteMessage", BOTS[0]), 200, json!({"ok": true, "result": true}));
        assert_eq!(pollster::block_on(client(&&http, &bots).delete(&copy)), 0);
    }
}
