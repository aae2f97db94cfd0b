//! The index store as one list of operations ([`Op`]) over the one [`Sql`] port: the Durable
//! Object runs [`apply`] on its SQLite storage, the native fake on rusqlite, so both run the same
//! statements. Adding an operation touches this folder and the typed call in
//! [`crate::platform::Pool`].

use crate::index::albums::{self, Settings};
use crate::index::catalog::{self, Batch, Indexed, Query, Usage};
use crate::index::drive;
use crate::index::leases;
use crate::index::pools::{self, PoolTable};
use crate::index::sql::Sql;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Every table and index, created if missing (cheap and idempotent).
const SCHEMA: [&str; 4] = [pools::SCHEMA, catalog::SCHEMA, drive::SCHEMA, albums::SCHEMA];

/// Columns later versions added to tables an earlier one made: (table, column, definition,
/// how existing rows get their value). New tables and indexes need nothing here: `SCHEMA`
/// creates what is missing.
const ADDED_COLUMNS: [(&str, &str, &str, &str); 1] = [
    // The catalog learned each image's SHA-256 (dedupe per owner, shared bytes).
    ("catalog", "sha256", "TEXT NOT NULL DEFAULT ''", "UPDATE catalog SET sha256 = COALESCE(json_extract(record, '$.sha256'), '')"),
];

/// Brings the store to this version on its first use: adds the columns an older store lacks
/// (filled from the records it holds), then creates missing tables and indexes. Run by the
/// Durable Object when it starts, so an upgrade needs no step of its own.
pub fn open<S: Sql>(sql: &S) -> Result<(), S::Error> {
    for (table, column, definition, fill) in ADDED_COLUMNS {
        let columns = sql.rows(&format!("PRAGMA table_info({table})"), vec![])?;
        // No rows: the table does not exist yet, and SCHEMA makes it whole.
        if !columns.is_empty() && !columns.iter().any(|c| c["name"] == column) {
            sql.run(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition}"), vec![])?;
            sql.run(fill, vec![])?;
        }
    }
    for statement in SCHEMA.iter().flat_map(|s| s.split(';')).map(str::trim).filter(|s| !s.is_empty()) {
        sql.run(statement, vec![])?;
    }
    Ok(())
}

/// Every operation of the index store: what the Durable Object is asked over HTTP, and what
/// the native fake runs (through the same JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
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
    FirstUpdate {
        update_id: u64,
        now_ms: u64,
    },
    SessionEnd {
        nonce: String,
    },
    Pick {
        pool: String,
        number: u64,
    },
    PickRun {
        pool: String,
        number: u64,
        k: u64,
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
    Folders {
        owner: Option<String>,
    },
    FolderExists {
        name: String,
        owner: Option<String>,
    },
    MakeFolder {
        name: String,
        owner: Option<String>,
        now_ms: u64,
    },
    RemoveFolder {
        name: String,
    },
    Files {
        album: Option<String>,
        owner: Option<String>,
        after: Option<(u64, String)>,
        limit: u32,
    },
    Named {
        album: Option<String>,
        name: String,
        owner: Option<String>,
    },
    GroupAdd {
        group: String,
        text: String,
        now_ms: u64,
    },
    GroupSent {
        group: String,
        message_id: i64,
    },
    Albums {
        public_only: bool,
    },
    Album {
        name: String,
    },
    SetAlbum {
        name: String,
        settings: Settings,
        now_ms: u64,
    },
}

impl Op {
    /// The operation's name, as fault rules and logs name it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Index { .. } => "index",
            Op::Unindex { .. } => "unindex",
            Op::Rebuild { .. } => "rebuild",
            Op::Edge { .. } => "remember_edge",
            Op::List { .. } => "list",
            Op::Find { .. } => "find",
            Op::Stats { .. } => "stats",
            Op::Login { .. } => "login_attempt",
            Op::Charge { .. } => "charge",
            Op::Refund { .. } => "refund",
            Op::SessionStart { .. } => "session_start",
            Op::SessionLive { .. } => "session_live",
            Op::TokenUse { .. } => "token_use",
            Op::TokenRevoke { .. } => "token_revoke",
            Op::TokenUses => "token_uses",
            Op::FirstUpdate { .. } => "first_update",
            Op::Folders { .. } => "folders",
            Op::FolderExists { .. } => "folder_exists",
            Op::MakeFolder { .. } => "make_folder",
            Op::RemoveFolder { .. } => "remove_folder",
            Op::Files { .. } => "files",
            Op::Named { .. } => "named",
            Op::GroupAdd { .. } => "group_add",
            Op::GroupSent { .. } => "group_sent",
            Op::Albums { .. } => "albums",
            Op::Album { .. } => "album",
            Op::SetAlbum { .. } => "set_album",
            Op::SessionEnd { .. } => "session_end",
            Op::Pick { .. } => "pick",
            Op::PickRun { .. } => "pick_run",
            Op::Count { .. } => "count",
            Op::Reserve { .. } => "reserve_variant",
            Op::Release { .. } => "release_variant",
            Op::Claim { .. } => "claim_generation",
            Op::Settle { .. } => "settle_generation",
        }
    }
}

/// Runs one operation; its answer as JSON. Every operation runs without an await, so the
/// Durable Object commits its writes together.
pub fn apply<S: Sql>(s: &S, op: Op) -> Result<Value, S::Error> {
    Ok(match op {
        Op::Index { items } => json!(catalog::index(s, &items)?),
        Op::Unindex { id } => json!(catalog::unindex(s, &id)?),
        Op::Rebuild { batch } => json!(catalog::rebuild(s, &batch)?),
        Op::Edge { id, key } => json!(catalog::remember_edge_key(s, &id, &key)?),
        Op::List { query } => json!(catalog::list(s, &query)?),
        Op::Find { sha256, except, owner } => json!(catalog::find_sha(s, &sha256, except.as_deref(), owner.as_deref())?),
        Op::Stats { now_ms } => catalog::stats(s, now_ms)?,
        Op::Login { ip, now_ms, ok } => json!(catalog::login_attempt(s, &ip, now_ms, ok)?),
        Op::Charge { who, day, add, quota } => json!(catalog::charge(s, &who, day, add, quota)?),
        Op::Refund { who, day, back } => json!(catalog::refund(s, &who, day, back)?),
        Op::SessionStart { nonce, until_ms, now_ms } => json!(catalog::session_start(s, &nonce, until_ms, now_ms)?),
        Op::SessionLive { nonce, now_ms } => {
            json!(catalog::session_live(s, &nonce, now_ms)?)
        }
        Op::SessionEnd { nonce } => json!(catalog::session_end(s, &nonce)?),
        Op::TokenUse { id, now_ms } => json!(catalog::token_use(s, &id, now_ms)?),
        Op::TokenRevoke { id } => json!(catalog::token_revoke(s, &id)?),
        Op::TokenUses => json!(catalog::token_uses(s)?),
        Op::FirstUpdate { update_id, now_ms } => json!(catalog::first_update(s, update_id, now_ms)?),
        Op::Folders { owner } => json!(drive::folders(s, owner.as_deref())?),
        Op::FolderExists { name, owner } => json!(drive::folder_exists(s, &name, owner.as_deref())?),
        Op::MakeFolder { name, owner, now_ms } => json!(drive::make_folder(s, &name, owner.as_deref(), now_ms)?),
        Op::RemoveFolder { name } => json!(drive::remove_folder(s, &name)?),
        Op::Files { album, owner, after, limit } => json!(drive::files(s, album.as_deref(), owner.as_deref(), after, limit)?),
        Op::Named { album, name, owner } => json!(drive::named(s, album.as_deref(), &name, owner.as_deref())?),
        Op::GroupAdd { group, text, now_ms } => json!(catalog::group_add(s, &group, &text, now_ms)?),
        Op::GroupSent { group, message_id } => json!(catalog::group_sent(s, &group, message_id)?),
        Op::Albums { public_only } => json!(albums::list(s, public_only)?),
        Op::Album { name } => json!(albums::get(s, &name)?),
        Op::SetAlbum { name, settings, now_ms } => json!(albums::set(s, &name, &settings, now_ms)?),
        Op::Pick { pool, number } => json!(pools::pool_pick(s, &pool, number)?),
        Op::PickRun { pool, number, k } => json!(pools::pool_pick_run(s, &pool, number, k)?),
        Op::Count { pool } => json!(PoolTable::count(s, &pool)?),
        Op::Reserve { id, key, cap } => json!(pools::variant_reserve(s, &id, &key, cap)?),
        Op::Release { id, key } => json!(s.delete_variant(&id, &key)?),
        Op::Claim { key, now_ms, lease_ms, daily_limit, replace } => json!(leases::claim(s, &key, now_ms, lease_ms, daily_limit, replace)?),
        Op::Settle { key, id } => json!(leases::settle(s, &key, id.as_deref())?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryPool;
    use crate::index::sql::Arg;

    #[test]
    fn a_store_made_by_an_older_version_is_brought_up_to_date() {
        let pool = MemoryPool::default();
        // The catalog as the first version with one made it: no sha256 column, no token table.
        for statement in [
            "DROP TABLE catalog",
            "DROP TABLE token_uses",
            "CREATE TABLE catalog (id TEXT PRIMARY KEY, lname TEXT NOT NULL, status TEXT NOT NULL, album TEXT,
              orientation TEXT NOT NULL, format TEXT NOT NULL, channel TEXT NOT NULL, bytes INTEGER NOT NULL,
              uploaded INTEGER NOT NULL, owner TEXT, record TEXT NOT NULL)",
        ] {
            pool.run(statement, vec![]).unwrap();
        }
        let record = json!({"id": "old1", "sha256": "abc"}).to_string();
        pool.run("INSERT INTO catalog VALUES ('old1', 'old.jpg', 'active', NULL, 'landscape', 'jpg', 'r2', 1, 1, NULL, ?)", vec![Arg::Text(record)]).unwrap();
        open(&pool).unwrap();
        assert_eq!(catalog::find_sha(&pool, "abc", None, None).unwrap().as_deref(), Some("old1"), "old rows got their SHA-256");
        assert!(pool.rows("SELECT * FROM token_uses", vec![]).unwrap().is_empty(), "missing tables are made");
        open(&pool).unwrap();
        assert_eq!(
            pool.rows("PRAGMA table_info(catalog)", vec![]).unwrap().iter().filter(|c| c["name"] == "sha256").count(),
            1,
            "a second start changes nothing"
        );
    }
}
