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
}
