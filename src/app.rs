//! The application: configuration, storage and the clock for one request.

use crate::config::Config;
use crate::http::Request;
use crate::storage::{Blobs, Counted, Kv, Ops};
use std::rc::Rc;

pub struct App<B, K> {
    pub config: Config,
    pub blobs: Counted<B>,
    pub kv: Counted<K>,
    pub ops: Rc<Ops>,
    /// Milliseconds since the epoch, from the platform clock.
    pub now_ms: u64,
}

impl<B: Blobs, K: Kv> App<B, K> {
    pub fn new(config: Config, blobs: B, kv: K, now_ms: u64) -> Self {
        let ops = Rc::new(Ops::default());
        App { config, blobs: Counted::new(blobs, ops.clone()), kv: Counted::new(kv, ops.clone()), ops, now_ms }
    }

    /// Base of the links handed out: `PUBLIC_URL`, or the origin the request came to.
    pub fn base_url(&self, req: &Request) -> String {
        self.config.public_url.clone().unwrap_or_else(|| req.origin())
    }
}
