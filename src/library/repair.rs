//! Self-repair, run by the cron trigger (`[triggers] crons` in `wrangler.toml`): finds what an
//! interrupted write can leave behind and mends it, one bounded batch of each kind per run,
//! resuming where the previous run stopped (cursors in KV, written once per run).
//!
//! - **Bytes without a record**: R2 objects (originals and variants) older than an hour whose
//!   image has no record are deleted; younger ones may belong to an upload still under way.
//! - **Records without bytes**: an R2 record whose object is gone is served from its Telegram
//!   copy if it has one, and otherwise removed (with its catalog row and pool entries).
//! - **Index drift**: every record checked is written to the catalog and pools again, and
//!   catalog rows whose record is gone are taken out of the catalog and every pool.

use crate::app::{App, Platform};
use crate::base::error::ApiError;
use crate::index::catalog::Query;
use crate::index::record::{Channel, ImageMeta};
use crate::library;
use crate::platform::{Blobs, Kv, Pool};
use serde::{Deserialize, Serialize};

/// Items of each kind looked at per run: a run stays far inside a cron invocation's limits.
pub const BATCH: u32 = 50;
/// Bytes younger than this may belong to an upload that has not written its record yet.
pub const ORPHAN_AGE_MS: u64 = 60 * 60 * 1000;
const STATE_KEY: &str = "repair:state";

/// What one run (or all runs, added up) found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub objects_checked: u64,
    pub orphans_deleted: u64,
    pub records_checked: u64,
    pub records_without_bytes: u64,
    pub moved_to_telegram_copy: u64,
    pub catalog_checked: u64,
    pub stale_entries_removed: u64,
    /// Items that could not be checked this time (storage errors, unreadable records).
    pub errors: u64,
}

impl Report {
    fn add(&mut self, o: &Report) {
        self.objects_checked += o.objects_checked;
        self.orphans_deleted += o.orphans_deleted;
        self.records_checked += o.records_checked;
        self.records_without_bytes += o.records_without_bytes;
        self.moved_to_telegram_copy += o.moved_to_telegram_copy;
        self.catalog_checked += o.catalog_checked;
        self.stale_entries_removed += o.stale_entries_removed;
        self.errors += o.errors;
    }
}

/// Where the next run goes on, and what the runs did: shown in the admin stats.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    originals_after: Option<String>,
    variants_after: Option<String>,
    records_cursor: Option<String>,
    catalog_cursor: Option<String>,
    pub last_run: Option<u64>,
    pub last: Report,
    pub total: Report,
    /// Whole passes over every kind finished since the first run.
    pub passes: u64,
}

pub async fn state<P: Platform>(app: &App<P>) -> Result<State, ApiError> {
    let raw = app.kv.get(STATE_KEY).await?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default())
}

/// One run: a batch of each kind, then the state written back.
pub async fn run<P: Platform>(app: &App<P>) -> Result<Report, ApiError> {
    let mut st = state(app).await?;
    let mut r = Report::default();
    st.originals_after = objects(app, "i/", st.originals_after.take(), &mut r).await?;
    st.variants_after = objects(app, "v/", st.variants_after.take(), &mut r).await?;
    st.records_cursor = records(app, st.records_cursor.take(), &mut r).await?;
    st.catalog_cursor = catalog(app, st.catalog_cursor.take(), &mut r).await?;
    if [&st.originals_after, &st.variants_after, &st.records_cursor, &st.catalog_cursor].iter().all(|c| c.is_none()) {
        st.passes += 1;
    }
    st.last_run = Some(app.now_ms);
    st.total.add(&r);
    st.last = r.clone();
    let json = serde_json::to_string(&st).map_err(|e| ApiError::internal(e.to_string()))?;
    app.kv.put(STATE_KEY, &json).await?;
    Ok(r)
}

/// Objects under `prefix` whose image has no record; the listing's next start, or `None`
/// when it reached the end.
async fn objects<P: Platform>(app: &App<P>, prefix: &str, after: Option<String>, r: &mut Report) -> Result<Option<String>, ApiError> {
    let listed = app.blobs.list(prefix, after.as_deref(), BATCH).await?;
    for o in &listed {
        r.objects_checked += 1;
        if app.now_ms.saturating_sub(o.uploaded_ms) < ORPHAN_AGE_MS {
            continue;
        }
        // Variants are `v/<id>/…`; originals carry their image's id as custom metadata.
        let id = match prefix {
            "v/" => o.key.split('/').nth(1).map(str::to_string),
            _ => o.id.clone(),
        };
        let owner = match &id {
            Some(id) => library::load(app, id).await,
            None => Ok(None),
        };
        match owner {
            Ok(Some(_)) => {}
            Ok(None) if prefix == "i/" && shared(app, &o.key).await => {}
            Ok(None) => match app.blobs.delete(&o.key).await {
                Ok(()) => r.orphans_deleted += 1,
                Err(_) => r.errors += 1,
            },
            Err(_) => r.errors += 1,
        }
    }
    Ok(next_after(&listed))
}

/// Whether another live image still uses an original's bytes (two uploads of the same bytes
/// that raced past deduplication).
async fn shared<P: Platform>(app: &App<P>, key: &str) -> bool {
    let sha = key.trim_start_matches("i/");
    match app.pool.find(sha, None, None).await {
        Ok(Some(id)) => !matches!(library::load(app, &id).await, Ok(None)),
        Ok(None) => false,
        Err(_) => true,
    }
}

fn next_after(listed: &[crate::platform::Listed]) -> Option<String> {
    (listed.len() == BATCH as usize).then(|| listed.last().map(|o| o.key.clone())).flatten()
}

/// Records whose bytes are gone, and the catalog and pools set right for every record seen.
async fn records<P: Platform>(app: &App<P>, cursor: Option<String>, r: &mut Report) -> Result<Option<String>, ApiError> {
    let (keys, next) = app.kv.list("img:", cursor.as_deref(), BATCH).await?;
    let mut index = Vec::new();
    for key in keys {
        r.records_checked += 1;
        let id = key.trim_start_matches("img:");
        let meta = match library::load(app, id).await {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(_) => {
                r.errors += 1;
                continue;
            }
        };
        match bytes_present(app, &meta).await {
            Ok(true) => index.push(library::indexed(app, &meta)),
            Ok(false) if meta.telegram.is_some() => {
                let after = ImageMeta { channel: Channel::Telegram, ..meta.clone() };
                match library::update(app, &meta, &after).await {
                    Ok(()) => r.moved_to_telegram_copy += 1,
                    Err(_) => r.errors += 1,
                }
            }
            Ok(false) => match library::remove(app, &meta).await {
                Ok(_) => r.records_without_bytes += 1,
                Err(_) => r.errors += 1,
            },
            Err(_) => r.errors += 1,
        }
    }
    if !index.is_empty() {
        app.pool.index(&index).await?;
    }
    Ok(next)
}

/// Whether an image's bytes are where its record says. Telegram-only copies are not asked
/// (that would cost a Bot API call per image); their deletions are reported when made.
async fn bytes_present<P: Platform>(app: &App<P>, meta: &ImageMeta) -> Result<bool, ApiError> {
    if meta.channel == Channel::Telegram {
        return Ok(true);
    }
    Ok(app.blobs.head(&meta.location).await?.is_some())
}

/// Catalog rows whose record is gone.
async fn catalog<P: Platform>(app: &App<P>, cursor: Option<String>, r: &mut Report) -> Result<Option<String>, ApiError> {
    let query = Query { cursor, limit: BATCH, ..Query::default() };
    let page = app.pool.list(&query).await?;
    for meta in &page.records {
        r.catalog_checked += 1;
        match app.kv.get(&ImageMeta::kv_key(&meta.id)).await {
            Ok(Some(_)) => {}
            Ok(None) => match app.pool.unindex(&meta.id).await {
                Ok(_) => r.stale_entries_removed += 1,
                Err(_) => r.errors += 1,
            },
            Err(_) => r.errors += 1,
        }
    }
    Ok(page.next)
}
