//! The random-image pools in a SQLite-backed Durable Object, and the [`Pool`] client that talks
//! to it. One object holds every pool: its requests run one at a time, so concurrent uploads
//! and deletes can never lose or duplicate a slot.

use crate::random::{slot, PoolEntry};
use crate::storage::{Pool, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use worker::{durable_object, Env, Method, Request, RequestInit, Response, SqlStorage, State, Stub};

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Op {
    Add { entry: PoolEntry, pools: Vec<String> },
    Remove { id: String },
    Pick { pool: String, number: u64 },
    Count { pool: String },
}

pub struct DoPool(pub Stub);

impl DoPool {
    async fn call<T: serde::de::DeserializeOwned>(&self, op: &Op) -> StoreResult<T> {
        let err = |e: worker::Error| StoreError(format!("pool: {e}"));
        let body = serde_json::to_string(op).map_err(|e| StoreError(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req = Request::new_with_init("https://pool/", &init).map_err(err)?;
        let mut resp = self.0.fetch_with_request(req).await.map_err(err)?;
        if resp.status_code() != 200 {
            return Err(StoreError(format!("pool: {}", resp.text().await.unwrap_or_default())));
        }
        // serde, not JS JSON.parse, so 64-bit numbers survive.
        let text = resp.text().await.map_err(err)?;
        serde_json::from_str(&text).map_err(|e| StoreError(format!("pool: {e}")))
    }
}

impl Pool for DoPool {
    async fn add(&self, entry: &PoolEntry, pools: &[String]) -> StoreResult<()> {
        self.call(&Op::Add { entry: entry.clone(), pools: pools.to_vec() }).await
    }
    async fn remove(&self, id: &str) -> StoreResult<()> {
        self.call(&Op::Remove { id: id.to_string() }).await
    }
    async fn pick(&self, pool: &str, number: u64) -> StoreResult<Option<PoolEntry>> {
        self.call(&Op::Pick { pool: pool.to_string(), number }).await
    }
    async fn count(&self, pool: &str) -> StoreResult<u64> {
        self.call(&Op::Count { pool: pool.to_string() }).await
    }
}

#[durable_object]
pub struct RandomPool {
    sql: SqlStorage,
}

#[derive(Deserialize)]
struct Slot {
    pool: String,
    slot: i64,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

#[derive(Deserialize)]
struct Entry {
    entry: String,
}

impl RandomPool {
    fn count(&self, pool: &str) -> worker::Result<i64> {
        let rows: Vec<Count> = self.sql.exec("SELECT n FROM counts WHERE pool = ?", vec![pool.into()])?.to_array()?;
        Ok(rows.first().map_or(0, |c| c.n))
    }

    fn set_count(&self, pool: &str, n: i64) -> worker::Result<()> {
        self.sql.exec("INSERT INTO counts (pool, n) VALUES (?, ?) ON CONFLICT (pool) DO UPDATE SET n = excluded.n", vec![pool.into(), n.into()])?;
        Ok(())
    }

    fn apply(&self, op: Op) -> worker::Result<serde_json::Value> {
        use serde_json::json;
        match op {
            Op::Add { entry, pools } => {
                let known: Vec<Entry> = self.sql.exec("SELECT entry FROM images WHERE id = ?", vec![entry.id.as_str().into()])?.to_array()?;
                if known.is_empty() {
                    let text = serde_json::to_string(&entry).map_err(|e| worker::Error::RustError(e.to_string()))?;
                    self.sql.exec("INSERT INTO images (id, entry) VALUES (?, ?)", vec![entry.id.as_str().into(), text.into()])?;
                    for pool in &pools {
                        let n = self.count(pool)?;
                        self.sql.exec("INSERT INTO slots (pool, slot, id) VALUES (?, ?, ?)", vec![pool.as_str().into(), n.into(), entry.id.as_str().into()])?;
                        self.set_count(pool, n + 1)?;
                    }
                }
                Ok(json!(null))
            }
            Op::Remove { id } => {
                let slots: Vec<Slot> = self.sql.exec("SELECT pool, slot FROM slots WHERE id = ?", vec![id.as_str().into()])?.to_array()?;
                for s in slots {
                    let last = self.count(&s.pool)? - 1;
                    self.sql.exec("DELETE FROM slots WHERE pool = ? AND slot = ?", vec![s.pool.as_str().into(), s.slot.into()])?;
                    if s.slot != last {
                        self.sql.exec("UPDATE slots SET slot = ? WHERE pool = ? AND slot = ?", vec![s.slot.into(), s.pool.as_str().into(), last.into()])?;
                    }
                    self.set_count(&s.pool, last)?;
                }
                self.sql.exec("DELETE FROM images WHERE id = ?", vec![id.as_str().into()])?;
                Ok(json!(null))
            }
            Op::Pick { pool, number } => {
                let n = self.count(&pool)?;
                if n == 0 {
                    return Ok(json!(null));
                }
                let at = slot(number, n as u64) as i64;
                let rows: Vec<Entry> = self
                    .sql
                    .exec("SELECT images.entry FROM slots JOIN images ON images.id = slots.id WHERE slots.pool = ? AND slots.slot = ?", vec![pool.as_str().into(), at.into()])?
                    .to_array()?;
                match rows.first() {
                    Some(e) => serde_json::from_str(&e.entry).map_err(|e| worker::Error::RustError(e.to_string())),
                    None => Ok(json!(null)),
                }
            }
            Op::Count { pool } => Ok(json!(self.count(&pool)?)),
        }
    }
}

impl worker::DurableObject for RandomPool {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Schema creation is idempotent and cheap; a failure shows up on the first query.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, entry TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS slots (pool TEXT NOT NULL, slot INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (pool, slot));
             CREATE INDEX IF NOT EXISTS slots_by_id ON slots (id);
             CREATE TABLE IF NOT EXISTS counts (pool TEXT PRIMARY KEY, n INTEGER NOT NULL);",
            None,
        );
        RandomPool { sql }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        let op: Op = match serde_json::from_str(&text) {
            Ok(op) => op,
            Err(e) => return Response::error(format!("bad pool request: {e}"), 400),
        };
        match self.apply(op) {
            Ok(v) => Response::from_json(&v),
            Err(e) => Response::error(e.to_string(), 500),
        }
    }
}
