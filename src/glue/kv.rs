//! [`Kv`] over a Workers KV namespace binding.

use crate::storage::{Kv, StoreError, StoreResult};
use worker::kv::KvStore;

pub struct WorkersKv(pub KvStore);

fn err(e: worker::kv::KvError) -> StoreError {
    StoreError(format!("KV: {e}"))
}

impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        self.0.get(key).text().await.map_err(err)
    }

    async fn put(&self, key: &str, value: &str) -> StoreResult<()> {
        self.0.put(key, value).map_err(err)?.execute().await.map_err(err)
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
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
