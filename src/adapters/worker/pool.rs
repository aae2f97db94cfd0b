//! The index store in a SQLite-backed Durable Object (random pools, catalog, sessions), and the [`Pool`] client that talks
//! to it. One object holds every pool: its requests run one at a time, so concurrent uploads
//! and deletes can never lose or duplicate a slot.

use crate::index::catalog::{self, Arg, Batch, Indexed, Page, Query, Sql, Usage};
use crate::index::leases::{self, Claim};
use crate::index::pools::{self, PoolEntry, PoolTable};
use crate::platform::{Pool, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use worker::{durable_object, Env, Method, Request, RequestInit, Response, SqlStorage, SqlStorageValue, State, Stub};

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Op {
    Index {
        items: Vec<Indexed>,
    },
    Unindex {
        id: String,
    },
    Rebuild {
        batch: Box<Batch>,
    },
    Edge {
        id: String,
        key: String,
    },
    List {
        query: Box<Query>,
    },
    Find {
        sha256: String,
        #[serde(default)]
        except: Option<String>,
        #[serde(default)]
        owner: Option<String>,
    },
    Stats {
        now_ms: u64,
    },
    Login {
        ip: String,
        now_ms: u64,
        ok: bool,
    },
    Charge {
        who: String,
        day: u64,
        add: Usage,
        quota: Usage,
    },
    Refund {
        who: String,
        day: u64,
        back: Usage,
    },
    SessionStart {
        nonce: String,
        until_ms: u64,
        now_ms: u64,
    },
    SessionLive {
        nonce: String,
        now_ms: u64,
    },
    TokenUse {
        id: String,
        now_ms: u64,
    },
    TokenRevoke {
        id: String,
    },
    TokenUses,
    SessionEnd {
        nonce: String,
    },
    Pick {
        pool: String,
        number: u64,
    },
    Count {
        pool: String,
    },
    Reserve {
        id: String,
        key: String,
        cap: u64,
    },
    Release {
        id: String,
        key: String,
    },
    Claim {
        key: String,
        now_ms: u64,
        lease_ms: u64,
        daily_limit: u64,
        replace: bool,
    },
    Settle {
        key: String,
        id: Option<String>,
    },
}

/// The index Durable Object's stub, made on first use: most views never call it.
pub struct DoPool {
    env: worker::Env,
    stub: std::cell::OnceCell<Stub>,
}

impl DoPool {
    pub fn new(env: worker::Env) -> DoPool {
        DoPool { env, stub: std::cell::OnceCell::new() }
    }

    fn stub(&self) -> worker::Result<&Stub> {
        if let Some(stub) = self.stub.get() {
            return Ok(stub);
        }
        let stub = self.env.durable_object("POOL")?.id_from_name("pools")?.get_stub()?;
        Ok(self.stub.get_or_init(|| stub))
    }

    async fn call<T: serde::de::DeserializeOwned>(&self, op: &Op) -> StoreResult<T> {
        let err = |e: worker::Error| StoreError(format!("pool: {e}"));
        let body = serde_json::to_string(op).map_err(|e| StoreError(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let req = Request::new_with_init("https://pool/", &init).map_err(err)?;
        let mut resp = self.stub().map_err(err)?.fetch_with_request(req).await.map_err(err)?;
        if resp.status_code() != 200 {
            // The SQL error text goes to the log, never to a client.
            crate::base::log::error(&format!("pool: {}", resp.text().await.unwrap_or_default()));
            return Err(StoreError("the pool store refused the request".into()));
        }
        // serde, not JS JSON.parse, so 64-bit numbers survive.
        let text = resp.text().await.map_err(err)?;
        serde_json::from_str(&text).map_err(|e| StoreError(format!("pool: {e}")))
    }
}

impl Pool for DoPool {
    async fn index(&self, items: &[Indexed]) -> StoreResult<()> {
        self.call(&Op::Index { items: items.to_vec() }).await
    }
    async fn unindex(&self, id: &str) -> StoreResult<Vec<String>> {
        self.call(&Op::Unindex { id: id.to_string() }).await
    }
    async fn rebuild(&self, batch: &Batch) -> StoreResult<u64> {
        self.call(&Op::Rebuild { batch: Box::new(batch.clone()) }).await
    }
    async fn remember_edge(&self, id: &str, key: &str) -> StoreResult<()> {
        self.call(&Op::Edge { id: id.to_string(), key: key.to_string() }).await
    }
    async fn list(&self, query: &Query) -> StoreResult<Page> {
        self.call(&Op::List { query: Box::new(query.clone()) }).await
    }
    async fn find(&self, sha256: &str, except: Option<&str>, owner: Option<&str>) -> StoreResult<Option<String>> {
        self.call(&Op::Find { sha256: sha256.to_string(), except: except.map(str::to_string), owner: owner.map(str::to_string) }).await
    }
    async fn stats(&self, now_ms: u64) -> StoreResult<serde_json::Value> {
        self.call(&Op::Stats { now_ms }).await
    }
    async fn login_attempt(&self, ip: &str, now_ms: u64, ok: bool) -> StoreResult<Result<(), u64>> {
        self.call(&Op::Login { ip: ip.to_string(), now_ms, ok }).await
    }
    async fn charge(&self, who: &str, day: u64, add: Usage, quota: Usage) -> StoreResult<Result<Usage, Usage>> {
        self.call(&Op::Charge { who: who.to_string(), day, add, quota }).await
    }
    async fn refund(&self, who: &str, day: u64, back: Usage) -> StoreResult<()> {
        self.call(&Op::Refund { who: who.to_string(), day, back }).await
    }
    async fn session_start(&self, nonce: &str, until_ms: u64, now_ms: u64) -> StoreResult<()> {
        self.call(&Op::SessionStart { nonce: nonce.to_string(), until_ms, now_ms }).await
    }
    async fn session_live(&self, nonce: &str, now_ms: u64) -> StoreResult<bool> {
        self.call(&Op::SessionLive { nonce: nonce.to_string(), now_ms }).await
    }
    async fn token_use(&self, id: &str, now_ms: u64) -> StoreResult<bool> {
        self.call(&Op::TokenUse { id: id.to_string(), now_ms }).await
    }
    async fn token_revoke(&self, id: &str) -> StoreResult<()> {
        self.call(&Op::TokenRevoke { id: id.to_string() }).await
    }
    async fn token_uses(&self) -> StoreResult<Vec<(String, u64)>> {
        self.call(&Op::TokenUses).await
    }
    async fn session_end(&self, nonce: &str) -> StoreResult<()> {
        self.call(&Op::SessionEnd { nonce: nonce.to_string() }).await
    }
    async fn pick(&self, pool: &str, number: u64) -> StoreResult<Option<PoolEntry>> {
        self.call(&Op::Pick { pool: pool.to_string(), number }).await
    }
    async fn count(&self, pool: &str) -> StoreResult<u64> {
        self.call(&Op::Count { pool: pool.to_string() }).await
    }
    async fn reserve_variant(&self, id: &str, key: &str, cap: u64) -> StoreResult<bool> {
        self.call(&Op::Reserve { id: id.to_string(), key: key.to_string(), cap }).await
    }
    async fn release_variant(&self, id: &str, key: &str) -> StoreResult<()> {
        self.call(&Op::Release { id: id.to_string(), key: key.to_string() }).await
    }
    async fn claim_generation(&self, key: &str, now_ms: u64, lease_ms: u64, daily_limit: u64, replace: bool) -> StoreResult<Claim> {
        self.call(&Op::Claim { key: key.to_string(), now_ms, lease_ms, daily_limit, replace }).await
    }
    async fn settle_generation(&self, key: &str, id: Option<&str>) -> StoreResult<()> {
        self.call(&Op::Settle { key: key.to_string(), id: id.map(str::to_string) }).await
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
struct N {
    n: i64,
}

#[derive(Deserialize)]
struct Entry {
    entry: String,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct Lease {
    until: i64,
    id: Option<String>,
}

fn rust_error(e: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(e.to_string())
}

impl RandomPool {
    fn query<T: serde::de::DeserializeOwned>(&self, sql: &str, args: Vec<SqlStorageValue>) -> worker::Result<Vec<T>> {
        self.sql.exec(sql, args)?.to_array()
    }

    fn run(&self, sql: &str, args: Vec<SqlStorageValue>) -> worker::Result<()> {
        self.sql.exec(sql, args)?;
        Ok(())
    }

    fn number(&self, sql: &str, args: Vec<SqlStorageValue>) -> worker::Result<u64> {
        Ok(self.query::<N>(sql, args)?.first().map_or(0, |r| r.n.max(0) as u64))
    }

    fn apply(&self, op: Op) -> worker::Result<serde_json::Value> {
        use serde_json::json;
        Ok(match op {
            Op::Index { items } => json!(catalog::index(self, &items)?),
            Op::Unindex { id } => json!(catalog::unindex(self, &id)?),
            Op::Rebuild { batch } => json!(catalog::rebuild(self, &batch)?),
            Op::Edge { id, key } => json!(catalog::remember_edge_key(self, &id, &key)?),
            Op::List { query } => json!(catalog::list(self, &query)?),
            Op::Find { sha256, except, owner } => json!(catalog::find_sha(self, &sha256, except.as_deref(), owner.as_deref())?),
            Op::Stats { now_ms } => catalog::stats(self, now_ms)?,
            Op::Login { ip, now_ms, ok } => json!(catalog::login_attempt(self, &ip, now_ms, ok)?),
            Op::Charge { who, day, add, quota } => json!(catalog::charge(self, &who, day, add, quota)?),
            Op::Refund { who, day, back } => json!(catalog::refund(self, &who, day, back)?),
            Op::SessionStart { nonce, until_ms, now_ms } => json!(catalog::session_start(self, &nonce, until_ms, now_ms)?),
            Op::SessionLive { nonce, now_ms } => {
                json!(catalog::session_live(self, &nonce, now_ms)?)
            }
            Op::SessionEnd { nonce } => json!(catalog::session_end(self, &nonce)?),
            Op::TokenUse { id, now_ms } => json!(catalog::token_use(self, &id, now_ms)?),
            Op::TokenRevoke { id } => json!(catalog::token_revoke(self, &id)?),
            Op::TokenUses => json!(catalog::token_uses(self)?),
            Op::Pick { pool, number } => json!(pools::pool_pick(self, &pool, number)?),
            Op::Count { pool } => json!(PoolTable::count(self, &pool)?),
            Op::Reserve { id, key, cap } => json!(pools::variant_reserve(self, &id, &key, cap)?),
            Op::Release { id, key } => json!(self.delete_variant(&id, &key)?),
            Op::Claim { key, now_ms, lease_ms, daily_limit, replace } => json!(leases::claim(self, &key, now_ms, lease_ms, daily_limit, replace)?),
            Op::Settle { key, id } => json!(leases::settle(self, &key, id.as_deref())?),
        })
    }
}

/// The pool rows over SQLite; the logic is [`crate::index::pools`]'s, shared with the native fake.
impl PoolTable for RandomPool {
    type Error = worker::Error;
    fn entry(&self, id: &str) -> worker::Result<Option<PoolEntry>> {
        match self.query::<Entry>("SELECT entry FROM images WHERE id = ?", vec![id.into()])?.first() {
            Some(e) => serde_json::from_str(&e.entry).map(Some).map_err(rust_error),
            None => Ok(None),
        }
    }
    fn put_entry(&self, entry: &PoolEntry) -> worker::Result<()> {
        let text = serde_json::to_string(entry).map_err(rust_error)?;
        self.run("INSERT OR REPLACE INTO images (id, entry) VALUES (?, ?)", vec![entry.id.as_str().into(), text.into()])
    }
    fn delete_entry(&self, id: &str) -> worker::Result<()> {
        self.run("DELETE FROM images WHERE id = ?", vec![id.into()])
    }
    fn count(&self, pool: &str) -> worker::Result<u64> {
        self.number("SELECT n FROM counts WHERE pool = ?", vec![pool.into()])
    }
    fn set_count(&self, pool: &str, n: u64) -> worker::Result<()> {
        self.run("INSERT INTO counts (pool, n) VALUES (?, ?) ON CONFLICT (pool) DO UPDATE SET n = excluded.n", vec![pool.into(), (n as i64).into()])
    }
    fn any_slot_of(&self, id: &str) -> worker::Result<Option<(String, u64)>> {
        let rows: Vec<Slot> = self.query("SELECT pool, slot FROM slots WHERE id = ? LIMIT 1", vec![id.into()])?;
        Ok(rows.into_iter().next().map(|s| (s.pool, s.slot.max(0) as u64)))
    }
    fn id_at(&self, pool: &str, slot: u64) -> worker::Result<Option<String>> {
        let rows: Vec<Id> = self.query("SELECT id FROM slots WHERE pool = ? AND slot = ?", vec![pool.into(), (slot as i64).into()])?;
        Ok(rows.into_iter().next().map(|r| r.id))
    }
    fn insert_slot(&self, pool: &str, slot: u64, id: &str) -> worker::Result<()> {
        self.run("INSERT INTO slots (pool, slot, id) VALUES (?, ?, ?)", vec![pool.into(), (slot as i64).into(), id.into()])
    }
    fn delete_slot(&self, pool: &str, slot: u64) -> worker::Result<()> {
        self.run("DELETE FROM slots WHERE pool = ? AND slot = ?", vec![pool.into(), (slot as i64).into()])
    }
    fn move_slot(&self, pool: &str, from: u64, to: u64) -> worker::Result<()> {
        self.run("UPDATE slots SET slot = ? WHERE pool = ? AND slot = ?", vec![(to as i64).into(), pool.into(), (from as i64).into()])
    }
    fn variant_count(&self, id: &str) -> worker::Result<u64> {
        self.number("SELECT COUNT(*) AS n FROM variants WHERE id = ?", vec![id.into()])
    }
    fn has_variant(&self, id: &str, key: &str) -> worker::Result<bool> {
        Ok(self.number("SELECT COUNT(*) AS n FROM variants WHERE id = ? AND key = ?", vec![id.into(), key.into()])? > 0)
    }
    fn insert_variant(&self, id: &str, key: &str) -> worker::Result<()> {
        self.run("INSERT OR IGNORE INTO variants (id, key) VALUES (?, ?)", vec![id.into(), key.into()])
    }
    fn delete_variant(&self, id: &str, key: &str) -> worker::Result<()> {
        self.run("DELETE FROM variants WHERE id = ? AND key = ?", vec![id.into(), key.into()])
    }
    fn delete_variants(&self, id: &str) -> worker::Result<()> {
        self.run("DELETE FROM variants WHERE id = ?", vec![id.into()])
    }
    fn lease(&self, key: &str) -> worker::Result<Option<(u64, Option<String>)>> {
        let rows: Vec<Lease> = self.query("SELECT until, id FROM leases WHERE key = ?", vec![key.into()])?;
        Ok(rows.into_iter().next().map(|l| (l.until.max(0) as u64, l.id)))
    }
    fn set_lease(&self, key: &str, until: u64, id: Option<&str>) -> worker::Result<()> {
        // SQLite values cross into JavaScript as doubles: keep them well inside 2^53.
        let until = until.min(1 << 52) as i64;
        self.run("INSERT OR REPLACE INTO leases (key, until, id) VALUES (?, ?, ?)", vec![key.into(), until.into(), id.into()])
    }
    fn delete_lease(&self, key: &str) -> worker::Result<()> {
        self.run("DELETE FROM leases WHERE key = ?", vec![key.into()])
    }
    fn day_count(&self, day: u64) -> worker::Result<u64> {
        self.number("SELECT n FROM days WHERE day = ?", vec![(day as i64).into()])
    }
    fn set_day_count(&self, day: u64, n: u64) -> worker::Result<()> {
        self.run("INSERT OR REPLACE INTO days (day, n) VALUES (?, ?)", vec![(day as i64).into(), (n as i64).into()])
    }
}

/// The catalog's statements (see [`crate::index::catalog`]) on the object's SQLite storage.
impl Sql for RandomPool {
    type Error = worker::Error;
    fn rows(&self, sql: &str, args: Vec<Arg>) -> worker::Result<Vec<serde_json::Value>> {
        let args: Vec<SqlStorageValue> = args
            .into_iter()
            .map(|a| match a {
                Arg::Null => SqlStorageValue::Null,
                Arg::Int(n) => SqlStorageValue::Integer(n),
                Arg::Text(t) => SqlStorageValue::String(t),
            })
            .collect();
        self.sql.exec(sql, args)?.to_array()
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
             CREATE TABLE IF NOT EXISTS counts (pool TEXT PRIMARY KEY, n INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS variants (id TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (id, key));
             CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, until INTEGER NOT NULL, id TEXT);
             CREATE TABLE IF NOT EXISTS days (day INTEGER PRIMARY KEY, n INTEGER NOT NULL);",
            None,
        );
        let _ = sql.exec(catalog::SCHEMA, None);
        RandomPool { sql }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        let op: Op = match serde_json::from_str(&text) {
            Ok(op) => op,
            Err(e) => return Response::error(format!("bad pool request: {e}"), 400),
        };
        // Every op runs without an await, so the Durable Object commits its writes together.
        match self.apply(op) {
            Ok(v) => Response::from_json(&v),
            Err(e) => Response::error(e.to_string(), 500),
        }
    }
}
