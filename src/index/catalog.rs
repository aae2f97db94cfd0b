//! The catalog: an index of every image for the admin console, kept in SQLite beside the random
//! pools (the same Durable Object), so list, filter, search, sort and stats are indexed queries
//! instead of a KV scan, and strongly consistent with the pools they are written with.
//!
//! The statements live here once and run over the [`Sql`] trait: the Durable Object executes
//! them on its SQLite storage, and the native in-memory platform on a real SQLite library, so
//! tests exercise the very SQL production runs. Admin sessions and the failed-login counter
//! share the store: both need strong consistency and neither should cost KV writes.

use crate::base::error::ApiError;
use crate::http::Request;
use crate::index::albums;
use crate::index::pools::{self, PoolEntry, PoolTable};
use crate::index::record::{ImageMeta, Status};
use crate::index::sql::{num, text, Arg, Sql};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS catalog (id TEXT PRIMARY KEY, lname TEXT NOT NULL, status TEXT NOT NULL, album TEXT,
  orientation TEXT NOT NULL, format TEXT NOT NULL, channel TEXT NOT NULL, bytes INTEGER NOT NULL,
  uploaded INTEGER NOT NULL, owner TEXT, sha256 TEXT NOT NULL DEFAULT '', record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS catalog_sha ON catalog (sha256);
CREATE INDEX IF NOT EXISTS catalog_uploaded ON catalog (uploaded, id);
CREATE INDEX IF NOT EXISTS catalog_status ON catalog (status, uploaded, id);
CREATE INDEX IF NOT EXISTS catalog_bytes ON catalog (bytes, id);
CREATE INDEX IF NOT EXISTS catalog_name ON catalog (lname, id);
CREATE INDEX IF NOT EXISTS catalog_album ON catalog (album, uploaded, id);
CREATE INDEX IF NOT EXISTS catalog_owner ON catalog (owner, uploaded, id);
CREATE TABLE IF NOT EXISTS catalog_tags (tag TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tag, id));
CREATE INDEX IF NOT EXISTS catalog_tags_by_id ON catalog_tags (id);
CREATE TABLE IF NOT EXISTS edge_keys (id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (id, key));
CREATE TABLE IF NOT EXISTS token_uses (id TEXT PRIMARY KEY, last_used INTEGER, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS reindex_seen (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS bot_updates (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bot_groups (id TEXT PRIMARY KEY, texts TEXT NOT NULL, message_id INTEGER, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reindex_run (started INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (nonce TEXT PRIMARY KEY, until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS logins (ip TEXT PRIMARY KEY, fails INTEGER NOT NULL, since INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS usage (who TEXT NOT NULL, day INTEGER NOT NULL, uploads INTEGER NOT NULL, bytes INTEGER NOT NULL,
  PRIMARY KEY (who, day));
";

/// Most edge-cache keys remembered per image (each is one URL a delete purges).
const MAX_EDGE_KEYS: u64 = 200;

fn lower<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Writes (or rewrites) an image's row and its tags.
pub fn upsert<S: Sql>(s: &S, meta: &ImageMeta) -> Result<(), S::Error> {
    let record = serde_json::to_string(meta).unwrap_or_default();
    s.run(
        "INSERT OR REPLACE INTO catalog (id, lname, status, album, orientation, format, channel, bytes, uploaded, owner, sha256, record)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            meta.id.as_str().into(),
            meta.name.to_lowercase().into(),
            lower(&meta.status).into(),
            meta.album.as_deref().into(),
            meta.orientation.as_str().into(),
            meta.format.ext().into(),
            lower(&meta.channel).into(),
            meta.bytes.into(),
            meta.uploaded.into(),
            meta.owner.as_deref().into(),
            meta.sha256.as_str().into(),
            record.into(),
        ],
    )?;
    s.run("DELETE FROM catalog_tags WHERE id = ?", vec![meta.id.as_str().into()])?;
    for tag in &meta.tags {
        s.run("INSERT OR IGNORE INTO catalog_tags (tag, id) VALUES (?, ?)", vec![tag.as_str().into(), meta.id.as_str().into()])?;
    }
    Ok(())
}

/// Removes an image's row and tags, and hands back the edge-cache keys remembered for it.
pub fn delete<S: Sql>(s: &S, id: &str) -> Result<Vec<String>, S::Error> {
    s.run("DELETE FROM catalog WHERE id = ?", vec![id.into()])?;
    s.run("DELETE FROM catalog_tags WHERE id = ?", vec![id.into()])?;
    let keys = s.rows("SELECT key FROM edge_keys WHERE id = ?", vec![id.into()])?.iter().filter_map(|r| text(&r["key"])).collect();
    s.run("DELETE FROM edge_keys WHERE id = ?", vec![id.into()])?;
    Ok(keys)
}

/// Remembers an edge-cache key of an image, so that deleting it can purge the copy.
pub fn remember_edge_key<S: Sql>(s: &S, id: &str, key: &str) -> Result<(), S::Error> {
    let n = s.rows("SELECT COUNT(*) AS n FROM edge_keys WHERE id = ?", vec![id.into()])?.first().map_or(0, |r| num(&r["n"]));
    if n < MAX_EDGE_KEYS {
        s.run("INSERT OR IGNORE INTO edge_keys (id, key) VALUES (?, ?)", vec![id.into(), key.into()])?;
    }
    Ok(())
}

/// An image as the index store keeps it: its catalog record, and its pool entry and pools
/// when it is in any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indexed {
    pub meta: ImageMeta,
    pub pools: Option<(PoolEntry, Vec<String>)>,
}

/// Writes images' rows and sets their pool membership: what [`crate::platform::Pool::index`]
/// runs inside the store, so catalog and pools change together. An image of a private album is
/// written as such and kept out of the pools whatever the caller thought (and one of an album
/// with the watermark off, as unmarked); the answer names those albums, so the caller's records
/// say the same.
pub fn index<T: PoolTable + Sql<Error = <T as PoolTable>::Error>>(t: &T, items: &[Indexed]) -> Result<albums::Flags, <T as PoolTable>::Error> {
    let names: Vec<&str> = items.iter().filter_map(|i| i.meta.album.as_deref()).collect();
    let flags = albums::flags_of(t, &names)?;
    for Indexed { meta, pools } in items {
        let mut meta = meta.clone();
        flags.apply(&mut meta);
        upsert(t, &meta)?;
        pools::pool_remove(t, &meta.id)?;
        if let Some((entry, pools)) = pools.as_ref().filter(|_| !meta.is_private()) {
            pools::pool_add(t, entry, pools)?;
        }
    }
    Ok(flags)
}

/// Takes an image out of catalog, pools and variant reservations.
pub fn unindex<T: PoolTable + Sql<Error = <T as PoolTable>::Error>>(t: &T, id: &str) -> Result<Vec<String>, <T as PoolTable>::Error> {
    pools::pool_remove(t, id)?;
    t.delete_variants(id)?;
    delete(t, id)
}

/// One batch of a rebuild from KV (`POST /api/admin/reindex`): the images read, and the ids of
/// records that could not be read (kept as they are).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    pub items: Vec<Indexed>,
    pub kept: Vec<String>,
    /// The first batch of a run, which starts at `now_ms`.
    pub first: bool,
    /// The last batch: what no batch of the run saw is removed.
    pub last: bool,
    pub now_ms: u64,
}

/// A rebuild that never shows less than before: each batch is upserted as it is read and its
/// ids noted; only the last one removes the images no batch saw (their records are gone from
/// KV), except those uploaded since the run began. Returns how many it removed.
pub fn rebuild<T: PoolTable + Sql<Error = <T as PoolTable>::Error>>(t: &T, b: &Batch) -> Result<u64, <T as PoolTable>::Error> {
    if b.first {
        t.run("DELETE FROM reindex_seen", vec![])?;
        t.run("DELETE FROM reindex_run", vec![])?;
        t.run("INSERT INTO reindex_run (started) VALUES (?)", vec![b.now_ms.into()])?;
    }
    index(t, &b.items)?;
    for id in b.items.iter().map(|i| &i.meta.id).chain(&b.kept) {
        t.run("INSERT OR IGNORE INTO reindex_seen (id) VALUES (?)", vec![id.as_str().into()])?;
    }
    if !b.last {
        return Ok(0);
    }
    // A run whose start is unknown (its first batch went to a store since reset) removes nothing.
    let started = t.rows("SELECT started FROM reindex_run", vec![])?.first().map(|r| num(&r["started"]));
    let mut removed = 0;
    if let Some(started) = started {
        let stale = t.rows("SELECT id FROM catalog WHERE uploaded < ? AND id NOT IN (SELECT id FROM reindex_seen)", vec![started.into()])?;
        for id in stale.iter().filter_map(|r| text(&r["id"])) {
            unindex(t, &id)?;
            removed += 1;
        }
    }
    t.run("DELETE FROM reindex_seen", vec![])?;
    t.run("DELETE FROM reindex_run", vec![])?;
    Ok(removed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    #[default]
    Time,
    Size,
    Name,
}

impl Sort {
    fn column(self) -> &'static str {
        match self {
            Sort::Time => "uploaded",
            Sort::Size => "bytes",
            Sort::Name => "lname",
        }
    }
}

/// A listing request: every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub status: Option<String>,
    pub album: Option<String>,
    pub tag: Option<String>,
    pub orientation: Option<String>,
    pub format: Option<String>,
    pub channel: Option<String>,
    /// Uploaded at or after, ms since the epoch.
    pub from: Option<u64>,
    /// Uploaded before, ms since the epoch.
    pub to: Option<u64>,
    /// Part of the name or of the alt text, or a whole id.
    pub search: Option<String>,
    /// Only images uploaded with this token fingerprint (a token with the `list` scope).
    pub owner: Option<String>,
    /// Only what the gallery shows: active, not private, in public albums, of which those with
    /// a password only when named here (the visitor has unlocked them).
    #[serde(default)]
    pub gallery: Option<Vec<String>>,
    pub sort: Sort,
    pub ascending: bool,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// One page of a listing: records in order, the cursor of the next page, and how many match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub records: Vec<ImageMeta>,
    pub next: Option<String>,
    pub total: u64,
}

/// A cursor is the sort value and id of the last row, so the next page starts right after it
/// however many rows were added or removed before it (keyset paging: no OFFSET scans).
fn encode_cursor(value: &Value, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([value, id]).to_string())
}

fn decode_cursor(c: &str) -> Result<(Value, String), ApiError> {
    let bad = || ApiError::bad_request("bad_parameter", "cursor is not one this server handed out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    match (v.get(0), v.get(1).and_then(Value::as_str)) {
        (Some(k @ (Value::Number(_) | Value::String(_))), Some(id)) => Ok((k.clone(), id.to_string())),
        _ => Err(bad()),
    }
}

/// Checks a query before it goes to the store (the cursor is decoded there again).
pub fn validate(q: &Query) -> Result<(), ApiError> {
    if let Some(c) = &q.cursor {
        decode_cursor(c)?;
    }
    Ok(())
}

fn like_pattern(s: &str) -> String {
    let escaped = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Runs a listing query; an invalid cursor has been refused by [`validate`] already and here
/// just starts from the top.
pub fn list<S: Sql>(s: &S, q: &Query) -> Result<Page, S::Error> {
    let mut filters: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    let eq = |col: &str, v: &Option<String>, filters: &mut Vec<String>, args: &mut Vec<Arg>| {
        if let Some(v) = v {
            filters.push(format!("{col} = ?"));
            args.push(v.as_str().into());
        }
    };
    eq("status", &q.status, &mut filters, &mut args);
    eq("album", &q.album, &mut filters, &mut args);
    eq("orientation", &q.orientation, &mut filters, &mut args);
    eq("format", &q.format, &mut filters, &mut args);
    eq("channel", &q.channel, &mut filters, &mut args);
    eq("owner", &q.owner, &mut filters, &mut args);
    if let Some(tag) = &q.tag {
        filters.push("id IN (SELECT id FROM catalog_tags WHERE tag = ?)".into());
        args.push(tag.as_str().into());
    }
    if let Some(unlocked) = &q.gallery {
        let marks = vec!["?"; unlocked.len()].join(", ");
        filters.push(format!(
            "status = 'active' AND COALESCE(json_extract(record, '$.private'), 0) = 0 AND COALESCE(json_extract(record, '$.album_private'), 0) = 0
             AND album IN (SELECT name FROM albums WHERE public = 1 AND (password IS NULL OR name IN ({marks})))"
        ));
        args.extend(unlocked.iter().map(|a| a.as_str().into()));
    }
    if let Some(from) = q.from {
        filters.push("uploaded >= ?".into());
        args.push(from.into());
    }
    if let Some(to) = q.to {
        filters.push("uploaded < ?".into());
        args.push(to.into());
    }
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // The name, the id, or the alt text (a caption is how most people would describe it).
        filters.push("(lname LIKE ? ESCAPE '\\' OR id = ? OR LOWER(COALESCE(json_extract(record, '$.alt'), '')) LIKE ? ESCAPE '\\')".into());
        args.push(like_pattern(search).into());
        args.push(search.into());
        args.push(like_pattern(search).into());
    }
    let where_all = if filters.is_empty() { String::new() } else { format!("WHERE {}", filters.join(" AND ")) };
    let total = s.rows(&format!("SELECT COUNT(*) AS n FROM catalog {where_all}"), args.clone())?.first().map_or(0, |r| num(&r["n"]));

    let col = q.sort.column();
    let (dir, cmp) = if q.ascending { ("ASC", ">") } else { ("DESC", "<") };
    if let Some(Ok((value, id))) = q.cursor.as_deref().map(decode_cursor) {
        filters.push(format!("({col} {cmp} ? OR ({col} = ? AND id {cmp} ?))"));
        let v: Arg = match value {
            Value::String(s) => s.into(),
            v => num(&v).into(),
        };
        args.extend([v.clone(), v, id.into()]);
    }
    let where_page = if filters.is_empty() { String::new() } else { format!("WHERE {}", filters.join(" AND ")) };
    let limit = q.limit.clamp(1, 500);
    args.push(u64::from(limit + 1).into());
    let rows = s.rows(&format!("SELECT {col} AS k, id, record FROM catalog {where_page} ORDER BY {col} {dir}, id {dir} LIMIT ?"), args)?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next = more.then(|| rows.last().map(|r| encode_cursor(&r["k"], r["id"].as_str().unwrap_or("")))).flatten();
    let records = rows.iter().filter_map(|r| serde_json::from_str(r["record"].as_str()?).ok()).collect();
    Ok(Page { records, next, total })
}

/// The oldest image with these bytes other than `except` (and of `owner`, when given), if any:
/// an uploader's own repeat, dedupe where R2 holds no object to ask, and the reference count of
/// shared bytes (they are deleted only when no other image uses them).
pub fn find_sha<S: Sql>(s: &S, sha256: &str, except: Option<&str>, owner: Option<&str>) -> Result<Option<String>, S::Error> {
    let rows = s.rows(
        "SELECT id FROM catalog WHERE sha256 = ? AND id != ? AND (? IS NULL OR owner = ?) ORDER BY uploaded LIMIT 1",
        vec![sha256.into(), except.unwrap_or("").into(), owner.into(), owner.into()],
    )?;
    Ok(rows.first().and_then(|r| text(&r["id"])))
}

/// One image's catalog record.
pub fn get<S: Sql>(s: &S, id: &str) -> Result<Option<ImageMeta>, S::Error> {
    let rows = s.rows("SELECT record FROM catalog WHERE id = ?", vec![id.into()])?;
    Ok(rows.first().and_then(|r| serde_json::from_str(r["record"].as_str()?).ok()))
}

const DAY_MS: u64 = 86_400_000;

/// Counts for the console's header: by status, album, format and channel, total bytes, and
/// uploads per UTC day for the 30 days up to `now_ms`.
pub fn stats<S: Sql>(s: &S, now_ms: u64) -> Result<Value, S::Error> {
    let group = |col: &str, limit: u32| -> Result<Value, S::Error> {
        let rows = s.rows(
            &format!("SELECT {col} AS k, COUNT(*) AS n, SUM(bytes) AS b FROM catalog GROUP BY {col} ORDER BY n DESC, k LIMIT ?"),
            vec![u64::from(limit).into()],
        )?;
        Ok(Value::Array(rows.iter().map(|r| json!({"key": r["k"], "count": num(&r["n"]), "bytes": num(&r["b"])})).collect()))
    };
    let totals = s.rows("SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM catalog", vec![])?;
    let (count, bytes) = totals.first().map_or((0, 0), |r| (num(&r["n"]), num(&r["b"])));
    let today = now_ms / DAY_MS;
    let first = today.saturating_sub(29);
    let per_day = s.rows("SELECT uploaded / 86400000 AS d, COUNT(*) AS n FROM catalog WHERE uploaded >= ? GROUP BY d", vec![(first * DAY_MS).into()])?;
    let days: Vec<Value> = (first..=today)
        .map(|d| {
            let n = per_day.iter().find(|r| num(&r["d"]) == d).map_or(0, |r| num(&r["n"]));
            json!({"day": crate::base::dates::iso_date(d), "count": n})
        })
        .collect();
    Ok(json!({
        "images": count,
        "bytes": bytes,
        "status": group("status", 10)?,
        "albums": group("album", 50)?,
        "formats": group("format", 20)?,
        "channels": group("channel", 10)?,
        "days": days,
    }))
}

/// Failed logins from one address within [`LOGIN_WINDOW_MS`] before it is locked out.
pub const LOGIN_FAILURES: u64 = 5;
pub const LOGIN_WINDOW_MS: u64 = 15 * 60 * 1000;

/// Records a login attempt from `ip`; while the address is locked out even a right password is
/// refused, so guessing gets five tries per quarter hour. `Err(seconds)` says when to retry.
pub fn login_attempt<S: Sql>(s: &S, ip: &str, now_ms: u64, ok: bool) -> Result<Result<(), u64>, S::Error> {
    let row = s.rows("SELECT fails, since FROM logins WHERE ip = ?", vec![ip.into()])?;
    let (fails, since) = row.first().map_or((0, now_ms), |r| (num(&r["fails"]), num(&r["since"])));
    let (fails, since) = if now_ms.saturating_sub(since) > LOGIN_WINDOW_MS { (0, now_ms) } else { (fails, since) };
    if fails >= LOGIN_FAILURES {
        return Ok(Err((since + LOGIN_WINDOW_MS).saturating_sub(now_ms).div_ceil(1000).max(1)));
    }
    if ok {
        s.run("DELETE FROM logins WHERE ip = ?", vec![ip.into()])?;
        return Ok(Ok(()));
    }
    s.run("INSERT OR REPLACE INTO logins (ip, fails, since) VALUES (?, ?, ?)", vec![ip.into(), (fails + 1).into(), since.into()])?;
    Ok(Ok(()))
}

/// Uploads and bytes: one uploader's use of a day, or a daily quota (0 = no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub uploads: u64,
    pub bytes: u64,
}

/// Adds `add` to what `who` has uploaded on `day` unless that would pass `quota`; either way
/// answers the day's use (after the charge, or as it stood when refused). Checked and counted
/// in one step of the store, so concurrent uploads cannot overshoot; earlier days are dropped.
pub fn charge<S: Sql>(s: &S, who: &str, day: u64, add: Usage, quota: Usage) -> Result<Result<Usage, Usage>, S::Error> {
    s.run("DELETE FROM usage WHERE day < ?", vec![day.into()])?;
    let row = s.rows("SELECT uploads, bytes FROM usage WHERE who = ? AND day = ?", vec![who.into(), day.into()])?;
    let had = row.first().map_or(Usage::default(), |r| Usage { uploads: num(&r["uploads"]), bytes: num(&r["bytes"]) });
    let over = |used: u64, more: u64, cap: u64| cap > 0 && used + more > cap;
    if over(had.uploads, add.uploads, quota.uploads) || over(had.bytes, add.bytes, quota.bytes) {
        return Ok(Err(had));
    }
    let now = Usage { uploads: had.uploads + add.uploads, bytes: had.bytes + add.bytes };
    s.run("INSERT OR REPLACE INTO usage (who, day, uploads, bytes) VALUES (?, ?, ?, ?)", vec![who.into(), day.into(), now.uploads.into(), now.bytes.into()])?;
    Ok(Ok(now))
}

/// Gives back a charge whose uploads were not stored.
pub fn refund<S: Sql>(s: &S, who: &str, day: u64, back: Usage) -> Result<(), S::Error> {
    s.run(
        "UPDATE usage SET uploads = MAX(uploads - ?, 0), bytes = MAX(bytes - ?, 0) WHERE who = ? AND day = ?",
        vec![back.uploads.into(), back.bytes.into(), who.into(), day.into()],
    )
}

/// Notes a use of a console-made token; false when it has been revoked. Revocation lives here,
/// in the strongly consistent store, so it wins every race: no write of the token's KV record
/// can bring it back, and a stale KV read of it is refused.
pub fn token_use<S: Sql>(s: &S, id: &str, now_ms: u64) -> Result<bool, S::Error> {
    if !s.rows("SELECT 1 AS r FROM token_uses WHERE id = ? AND revoked = 1", vec![id.into()])?.is_empty() {
        return Ok(false);
    }
    s.run("INSERT OR REPLACE INTO token_uses (id, last_used, revoked) VALUES (?, ?, 0)", vec![id.into(), now_ms.into()])?;
    Ok(true)
}

/// Revokes a token for good (its id is never made again: ids are random).
pub fn token_revoke<S: Sql>(s: &S, id: &str) -> Result<(), S::Error> {
    s.run("INSERT OR REPLACE INTO token_uses (id, last_used, revoked) VALUES (?, NULL, 1)", vec![id.into()])
}

/// Whether this Telegram `update_id` is new (and from now on, seen): Telegram sends an update
/// again until it is answered, and the same photo must not become two images. Updates older
/// than two days are forgotten (Telegram gives up after one).
pub fn first_update<S: Sql>(s: &S, update_id: u64, now_ms: u64) -> Result<bool, S::Error> {
    s.run("DELETE FROM bot_updates WHERE at < ?", vec![now_ms.saturating_sub(2 * 86_400_000).into()])?;
    if !s.rows("SELECT 1 AS r FROM bot_updates WHERE id = ?", vec![update_id.into()])?.is_empty() {
        return Ok(false);
    }
    s.run("INSERT INTO bot_updates (id, at) VALUES (?, ?)", vec![update_id.into(), now_ms.into()])?;
    Ok(true)
}

/// One picture of an album sent to the bot (a Telegram media group: each picture is an update
/// of its own). The first to arrive is told to send the reply; the others find its message to
/// edit, or, while it is still being sent, leave their text for it to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReply {
    /// Every picture's text so far, this one last.
    pub texts: Vec<String>,
    pub first: bool,
    pub message_id: Option<i64>,
}

pub fn group_add<S: Sql>(s: &S, group: &str, line: &str, now_ms: u64) -> Result<GroupReply, S::Error> {
    s.run("DELETE FROM bot_groups WHERE at < ?", vec![now_ms.saturating_sub(2 * 86_400_000).into()])?;
    let row = s.rows("SELECT texts, message_id FROM bot_groups WHERE id = ?", vec![group.into()])?;
    let mut texts: Vec<String> = row.first().and_then(|r| text(&r["texts"])).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    texts.push(line.to_string());
    let joined = serde_json::to_string(&texts).unwrap_or_default();
    s.run(
        "INSERT INTO bot_groups (id, texts, at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET texts = excluded.texts, at = excluded.at",
        vec![group.into(), joined.into(), now_ms.into()],
    )?;
    Ok(GroupReply { first: row.is_empty(), message_id: row.first().and_then(|r| r["message_id"].as_i64()), texts })
}

/// The first picture's reply went out as `message_id`: every text there is by now.
pub fn group_sent<S: Sql>(s: &S, group: &str, message_id: i64) -> Result<Vec<String>, S::Error> {
    s.run("UPDATE bot_groups SET message_id = ? WHERE id = ?", vec![u64::try_from(message_id).unwrap_or(0).into(), group.into()])?;
    let row = s.rows("SELECT texts FROM bot_groups WHERE id = ?", vec![group.into()])?;
    Ok(row.first().and_then(|r| text(&r["texts"])).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

/// When each token that has been used was used last.
pub fn token_uses<S: Sql>(s: &S) -> Result<Vec<(String, u64)>, S::Error> {
    let rows = s.rows("SELECT id, last_used FROM token_uses WHERE revoked = 0 AND last_used IS NOT NULL", vec![])?;
    Ok(rows.iter().filter_map(|r| Some((text(&r["id"])?, num(&r["last_used"])))).collect())
}

/// Starts a session; expired ones are swept on the way.
pub fn session_start<S: Sql>(s: &S, nonce: &str, until_ms: u64, now_ms: u64) -> Result<(), S::Error> {
    s.run("DELETE FROM sessions WHERE until < ?", vec![now_ms.into()])?;
    s.run("INSERT OR REPLACE INTO sessions (nonce, until) VALUES (?, ?)", vec![nonce.into(), until_ms.into()])
}

pub fn session_live<S: Sql>(s: &S, nonce: &str, now_ms: u64) -> Result<bool, S::Error> {
    let rows = s.rows("SELECT until FROM sessions WHERE nonce = ?", vec![nonce.into()])?;
    Ok(rows.first().is_some_and(|r| num(&r["until"]) > now_ms))
}

pub fn session_end<S: Sql>(s: &S, nonce: &str) -> Result<(), S::Error> {
    s.run("DELETE FROM sessions WHERE nonce = ?", vec![nonce.into()])
}

/// Whether a status string names one.
pub fn is_status(s: &str) -> bool {
    serde_json::from_value::<Status>(Value::String(s.to_string())).is_ok()
}

/// The listing filters from a query string (shared by `/api/images` and `/api/admin/images`).
pub fn query_of(req: &Request) -> Result<Query, ApiError> {
    let bad = |name: &str, v: &str, expected: &str| ApiError::bad_request("bad_parameter", format!("{name}={v:?} is not valid: expected {expected}"));
    let text = |name: &str| req.query(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let one_of = |name: &str, allowed: &[&str]| -> Result<Option<String>, ApiError> {
        match text(name) {
            Some(v) if allowed.contains(&v.to_ascii_lowercase().as_str()) => Ok(Some(v.to_ascii_lowercase())),
            Some(v) => Err(bad(name, &v, &allowed.join(", "))),
            None => Ok(None),
        }
    };
    let date = |name: &str, end_of_day: bool| -> Result<Option<u64>, ApiError> {
        let Some(v) = text(name) else { return Ok(None) };
        if let Ok(ms) = v.parse::<u64>() {
            return Ok(Some(ms));
        }
        let day = crate::base::dates::parse_iso_day(&v).ok_or_else(|| bad(name, &v, "a date YYYY-MM-DD or milliseconds since 1970"))?;
        Ok(Some((day + u64::from(end_of_day)) * 86_400_000))
    };
    let query = Query {
        status: one_of("status", &["active", "pending", "blocked"])?,
        album: text("album"),
        tag: text("tag").map(|t| t.to_lowercase()),
        orientation: one_of("orientation", &["landscape", "portrait", "square"])?,
        // The catalog keeps extensions; the record and the metadata answer say "jpeg".
        format: one_of("format", &[crate::sniff::Format::ALL.iter().map(|f| f.ext()).collect::<Vec<_>>(), vec!["jpeg"]].concat())?.map(|f| {
            if f == "jpeg" {
                "jpg".to_string()
            } else {
                f
            }
        }),
        channel: one_of("channel", &["r2", "telegram"])?,
        from: date("from", false)?,
        to: date("to", true)?,
        search: text("q"),
        owner: None,
        gallery: None,
        sort: match one_of("sort", &["time", "size", "name"])?.as_deref() {
            Some("size") => Sort::Size,
            Some("name") => Sort::Name,
            _ => Sort::Time,
        },
        ascending: one_of("order", &["asc", "desc"])?.as_deref() == Some("asc"),
        cursor: text("cursor"),
        limit: match text("limit") {
            None => 60,
            Some(v) => v.parse().ok().filter(|n| (1..=500).contains(n)).ok_or_else(|| bad("limit", &v, "a number from 1 to 500"))?,
        },
    };
    validate(&query)?;
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryPool;

    fn meta(id: &str, name: &str, uploaded: u64, bytes: u64) -> ImageMeta {
        serde_json::from_value(json!({
            "id": id, "name": name, "format": "png", "bytes": bytes, "width": 2, "height": 1,
            "orientation": "landscape", "sha256": "00", "uploaded": uploaded, "status": "active",
            "channel": "r2", "location": "i/00", "delete_hash": "h", "tags": ["sea"],
        }))
        .unwrap()
    }

    fn ids(p: &Page) -> Vec<&str> {
        p.records.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn bytes_are_found_by_owner_or_by_anyone() {
        let db = MemoryPool::default();
        let owned = |id: &str, t: u64, owner: Option<&str>| ImageMeta { owner: owner.map(str::to_string), ..meta(id, id, t, 1) };
        upsert(&db, &owned("a", 1, Some("alice"))).unwrap();
        upsert(&db, &owned("b", 2, Some("bob"))).unwrap();
        upsert(&db, &owned("c", 3, None)).unwrap();
        assert_eq!(find_sha(&db, "00", None, None).unwrap().as_deref(), Some("a"), "the oldest");
        assert_eq!(find_sha(&db, "00", None, Some("bob")).unwrap().as_deref(), Some("b"));
        assert_eq!(find_sha(&db, "00", Some("b"), Some("bob")).unwrap(), None);
        assert_eq!(find_sha(&db, "00", Some("a"), None).unwrap().as_deref(), Some("b"));
        assert_eq!(find_sha(&db, "11", None, None).unwrap(), None);
    }

    #[test]
    fn keyset_pages_visit_every_row_once_even_with_equal_sort_keys() {
        let db = MemoryPool::default();
        // Three share a timestamp and two share a size: the id breaks every tie.
        for (i, t) in [5, 5, 5, 3, 9, 1].iter().enumerate() {
            upsert(&db, &meta(&format!("id{i}"), &format!("n{}", 5 - i), *t, (i as u64) % 2)).unwrap();
        }
        for sort in [Sort::Time, Sort::Size, Sort::Name] {
            for ascending in [false, true] {
                let mut q = Query { sort, ascending, limit: 2, ..Query::default() };
                let mut seen = Vec::new();
                loop {
                    let page = list(&db, &q).unwrap();
                    assert_eq!(page.total, 6);
                    seen.extend(ids(&page).into_iter().map(str::to_string));
                    match page.next {
                        Some(c) => q.cursor = Some(c),
                        None => break,
                    }
                }
                let mut unique = seen.clone();
                unique.sort();
                unique.dedup();
                assert_eq!((seen.len(), unique.len()), (6, 6), "{sort:?} ascending={ascending}: {seen:?}");
            }
        }
        let newest = list(&db, &Query { limit: 3, ..Query::default() }).unwrap();
        assert_eq!(ids(&newest), ["id4", "id2", "id1"]);
    }

    #[test]
    fn filters_combine_and_search_is_literal() {
        let db = MemoryPool::default();
        upsert(&db, &meta("a1", "Beach 100%.png", 10, 1)).unwrap();
        upsert(&db, &meta("a2", "beach_day.png", 20, 1)).unwrap();
        let mut blocked = meta("a3", "forest.png", 30, 1);
        blocked.status = Status::Blocked;
        blocked.tags = vec!["tree".into()];
        upsert(&db, &blocked).unwrap();
        let count = |q: Query| list(&db, &Query { limit: 10, ..q }).unwrap().total;
        assert_eq!(count(Query { search: Some("BEACH".into()), ..Query::default() }), 2);
        assert_eq!(count(Query { search: Some("100%".into()), ..Query::default() }), 1);
        assert_eq!(count(Query { search: Some("h_d".into()), ..Query::default() }), 1, "_ matches only itself");
        assert_eq!(count(Query { search: Some("a3".into()), ..Query::default() }), 1, "a whole id");
        assert_eq!(count(Query { status: Some("blocked".into()), ..Query::default() }), 1);
        assert_eq!(count(Query { tag: Some("sea".into()), ..Query::default() }), 2, "retagged rows leave their old tags");
        assert_eq!(count(Query { from: Some(15), to: Some(30), ..Query::default() }), 1);
        assert_eq!(delete(&db, "a1").unwrap(), Vec::<String>::new());
        assert_eq!(count(Query::default()), 2);
    }

    #[test]
    fn stats_count_by_day_for_thirty_days() {
        let db = MemoryPool::default();
        let day = 20_000 * DAY_MS;
        upsert(&db, &meta("x", "x", day + 5, 10)).unwrap();
        upsert(&db, &meta("y", "y", day - DAY_MS, 5)).unwrap();
        upsert(&db, &meta("z", "z", day - 40 * DAY_MS, 5)).unwrap();
        let s = stats(&db, day + 100).unwrap();
        assert_eq!((s["images"].as_u64(), s["bytes"].as_u64()), (Some(3), Some(20)));
        let days = s["days"].as_array().unwrap();
        assert_eq!(days.len(), 30);
        assert_eq!(days[29], json!({"day": "2024-10-04", "count": 1}));
        assert_eq!(days[28]["count"], 1);
    }

    #[test]
    fn five_failed_logins_lock_an_address_for_the_window() {
        let db = MemoryPool::default();
        for i in 0..LOGIN_FAILURES {
            assert_eq!(login_attempt(&db, "ip", 1000 + i, false).unwrap(), Ok(()));
        }
        let wait = login_attempt(&db, "ip", 2000, true).unwrap().unwrap_err();
        assert_eq!(wait, (1000 + LOGIN_WINDOW_MS - 2000).div_ceil(1000));
        assert_eq!(login_attempt(&db, "other", 2000, true).unwrap(), Ok(()), "other addresses are not affected");
        assert_eq!(login_attempt(&db, "ip", 1000 + LOGIN_WINDOW_MS + 1, true).unwrap(), Ok(()), "the lock ends with the window");
    }

    #[test]
    fn quotas_count_per_uploader_and_day_and_refuse_what_would_pass_them() {
        let db = MemoryPool::default();
        let quota = Usage { uploads: 3, bytes: 100 };
        let one = |bytes| Usage { uploads: 1, bytes };
        assert_eq!(charge(&db, "a", 1, one(40), quota).unwrap(), Ok(one(40)));
        assert_eq!(charge(&db, "a", 1, Usage { uploads: 2, bytes: 70 }, quota).unwrap(), Err(one(40)), "bytes would pass 100");
        assert_eq!(charge(&db, "a", 1, Usage { uploads: 2, bytes: 60 }, quota).unwrap(), Ok(Usage { uploads: 3, bytes: 100 }), "exactly at the quota");
        assert_eq!(charge(&db, "a", 1, one(0), quota).unwrap(), Err(Usage { uploads: 3, bytes: 100 }), "a fourth upload");
        assert_eq!(charge(&db, "b", 1, one(10), quota).unwrap(), Ok(one(10)), "another uploader");
        refund(&db, "a", 1, one(50)).unwrap();
        assert_eq!(charge(&db, "a", 1, one(50), quota).unwrap(), Ok(Usage { uploads: 3, bytes: 100 }), "a refund gives room back");
        assert_eq!(charge(&db, "a", 2, one(10), quota).unwrap(), Ok(one(10)), "a new day starts at zero");
        assert!(charge(&db, "x", 2, Usage { uploads: 1000, bytes: 1 << 40 }, Usage::default()).unwrap().is_ok(), "0 = no limit");
    }

    #[test]
    fn sessions_end_at_expiry_or_logout() {
        let db = MemoryPool::default();
        session_start(&db, "n", 100, 0).unwrap();
        assert!(session_live(&db, "n", 50).unwrap());
        assert!(!session_live(&db, "n", 100).unwrap());
        session_start(&db, "m", 500, 200).unwrap();
        session_end(&db, "m").unwrap();
        // Tokens: uses are noted until revoked, and nothing brings one back.
        assert!(token_use(&db, "t1", 5).unwrap());
        assert_eq!(token_uses(&db).unwrap(), vec![("t1".to_string(), 5)]);
        token_revoke(&db, "t1").unwrap();
        assert!(!token_use(&db, "t1", 6).unwrap() && !token_use(&db, "t1", 7).unwrap());
        assert!(token_uses(&db).unwrap().is_empty());
        assert!(!session_live(&db, "m", 300).unwrap());
    }
}
