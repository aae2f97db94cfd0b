//! [`Kv`] over a Workers KV namespace binding, with image records remembered by the isolate.
//!
//! A view reads its image's record first; a popular image would spend the Free plan's 100,000
//! KV reads a day on its own. So records (`img:` keys, nothing else: never tokens) are kept
//! for [`RECORD_TTL_MS`] by the isolate that read them, and every write through this isolate
//! replaces or drops its copy. Other isolates may show a change up to that long later, which
//! is within what KV itself promises (reads may be cached at a location for 60 s).

use crate::platform::{Kv, StoreError, StoreResult};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::kv::KvStore;

pub struct WorkersKv(pub KvStore);

const RECORD_TTL_MS: u64 = 30_000;
/// Records kept at most (about 1 KB each); all are dropped when it is reached.
const RECORDS_KEPT: usize = 2048;

thread_local! {
    static RECORDS: RefCell<HashMap<String, (String, u64)>> = RefCell::new(HashMap::new());
}

fn is_record(key: &str) -> bool {
    key.starts_with("img:")
}

fn remember(key: &str, value: Option<&str>) {
    RECORDS.with(|r| {
        let mut r = r.borrow_mut();
        match value {
            Some(v) if is_record(key) => {
                if r.len() >= RECORDS_KEPT {
                    r.clear();
                }
                r.insert(key.to_string(), (v.to_string(), worker::Date::now().as_millis() + RECORD_TTL_MS));
            }
            _ => {
                r.remove(key);
            }
        }
    });
}

fn err(e: worker::kv::KvError) -> StoreError {
    StoreError(format!("KV: {e}"))
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        let now = worker::Date::now().as_millis();
        if let Some(v) = RECORDS.with(|r| r.borrow().get(key).filter(|(_, until)| *until > now).map(|(v, _)| v.clone())) {
            return Ok(Some(v));
        }
        let value = self.0.get(key).text().await.map_err(err)?;
        if let Some(v) = &value {
            remember(key, Some(v));
        }
        Ok(value)
    }

    async fn put(&self, key: &str, value: &str) -> StoreResult<()> {
        // Forgotten first: a failed write must not leave a copy of what was not written.
        remember(key, None);
        self.0.put(key, value).map_err(err)?.execute().await.map_err(err)?;
        remember(key, Some(value));
        Ok(())
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        remember(key, None);
        self.0.delete(key).await.map_err(err)
    }

    async fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> StoreResult<(Vec<String>, Option<String>)> {
        let mut list = self.0.list().prefix(prefix.to_string()).limit(limit as u64);
        if let Some(c) = cursor {
            list = list.cursor(c.to_string());
        }
        let page = list.execute().await.map_err(err)?;
        let next = if page.list_complete { None } else { page.cursor };
        Ok((page.keys.into_iter().map(|k| k.name).collect(), next))
    }
}
