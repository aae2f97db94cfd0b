//! The one port of the index store: a SQLite connection (the Durable Object's storage, or
//! rusqlite in the native fake). Rows come back as JSON objects keyed by column name.

use serde_json::Value;

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Null,
    Int(i64),
    Text(String),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}
impl From<u64> for Arg {
    // SQLite values cross into JavaScript as doubles in the Durable Object: keep them inside 2^52.
    fn from(n: u64) -> Arg {
        Arg::Int(n.min(1 << 52) as i64)
    }
}
impl From<Option<&str>> for Arg {
    fn from(s: Option<&str>) -> Arg {
        s.map_or(Arg::Null, Arg::from)
    }
}

/// A SQLite connection: rows come back as JSON objects keyed by column name.
pub trait Sql {
    /// Also what a row that cannot be what was stored turns into.
    type Error: From<String>;
    fn rows(&self, sql: &str, args: Vec<Arg>) -> Result<Vec<Value>, Self::Error>;
    fn run(&self, sql: &str, args: Vec<Arg>) -> Result<(), Self::Error> {
        self.rows(sql, args).map(|_| ())
    }
}

pub fn num(v: &Value) -> u64 {
    v.as_f64().map_or(0, |f| f.max(0.0) as u64)
}

pub fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}
