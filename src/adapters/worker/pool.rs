//! The index store in a SQLite-backed Durable Object (random pools, catalog, sessions), and the [`Pool`] client that talks
//! to it. One object holds every pool: its requests run one at a time, so concurrent uploads
//! and deletes can never lose or duplicate a slot.

use crate::index::sql::{Arg, Sql};
use crate::index::store::{self, Op};
use crate::platform::{Pool, StoreError, StoreResult};
use serde::de::DeserializeOwned;
use worker::wasm_bindgen::prelude::*;
use worker::{durable_object, Env, Method, Request, RequestInit, Response, SqlStorage, State, Stub};

#[wasm_bindgen(module = "/src/adapters/worker/rows.js")]
extern "C" {
    /// See `rows.js`.
    #[wasm_bindgen(js_name = execJson, catch)]
    fn exec_json(sql: &JsValue, query: &str, args: worker::js_sys::Array) -> Result<String, JsValue>;
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
}

impl Pool for DoPool {
    async fn call<T: DeserializeOwned>(&self, op: &Op) -> StoreResult<T> {
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

#[durable_object]
pub struct RandomPool {
    sql: SqlStorage,
}

/// The index store's statements (see [`crate::index::store`]) on the object's SQLite storage.
impl Sql for RandomPool {
    type Error = worker::Error;
    fn rows(&self, sql: &str, args: Vec<Arg>) -> worker::Result<Vec<serde_json::Value>> {
        // Bound as workers-rs binds them: integers as numbers (kept below 2^52 by `Arg`).
        let args: worker::js_sys::Array = args
            .into_iter()
            .map(|a| match a {
                Arg::Null => JsValue::NULL,
                Arg::Int(n) => JsValue::from(n as f64),
                Arg::Text(t) => JsValue::from(t),
            })
            .collect();
        let text = exec_json(self.sql.as_ref(), sql, args).map_err(worker::Error::from)?;
        serde_json::from_str(&text).map_err(|e| worker::Error::RustError(format!("rows of {sql}: {e}")))
    }
}

impl worker::DurableObject for RandomPool {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let pool = RandomPool { sql };
        // Idempotent and cheap; a failure is logged and shows up again on the first query.
        if let Err(e) = store::open(&pool) {
            crate::base::log::error(&format!("the index store could not be brought up to date: {e}"));
        }
        pool
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let text = req.text().await?;
        let op: Op = match serde_json::from_str(&text) {
            Ok(op) => op,
            Err(e) => return Response::error(format!("bad pool request: {e}"), 400),
        };
        // Every op runs without an await, so the Durable Object commits its writes together.
        match store::apply(self, op) {
            Ok(v) => Response::from_json(&v),
            Err(e) => Response::error(e.to_string(), 500),
        }
    }
}
