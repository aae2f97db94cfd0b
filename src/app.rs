//! The application: configuration, storage and the clock for one request.

use crate::config::Config;
use crate::http::Request;
use crate::platform::rate::RateLimiter;
use crate::platform::upstream::Http;
use crate::platform::{Blobs, Counted, EdgeCache, Images, Kv, Ops, Pool};
use std::rc::Rc;

/// What the app runs on: the Worker's bindings, or in-memory fakes in tests.
pub trait Platform {
    type Blobs: Blobs;
    type Kv: Kv;
    type Pool: Pool;
    type Http: Http;
    type Cache: EdgeCache;
    type Limits: RateLimiter;
    type Images: Images;
}

pub struct App<P: Platform> {
    /// Shared: the Worker parses its settings once per isolate.
    pub config: Rc<Config>,
    pub blobs: Counted<P::Blobs>,
    pub kv: Counted<P::Kv>,
    pub pool: Counted<P::Pool>,
    pub http: P::Http,
    pub edge: P::Cache,
    pub limits: P::Limits,
    pub images: P::Images,
    pub ops: Rc<Ops>,
    /// Milliseconds since the epoch, from the platform clock.
    pub now_ms: u64,
}

impl<P: Platform> App<P> {
    #[allow(clippy::too_many_arguments)] // one per port
    pub fn new(
        config: impl Into<Rc<Config>>,
        blobs: P::Blobs,
        kv: P::Kv,
        pool: P::Pool,
        http: P::Http,
        edge: P::Cache,
        limits: P::Limits,
        images: P::Images,
        now_ms: u64,
    ) -> Self {
        let ops = Rc::new(Ops::default());
        App {
            config: config.into(),
            blobs: Counted::new(blobs, ops.clone()),
            kv: Counted::new(kv, ops.clone()),
            pool: Counted::new(pool, ops.clone()),
            http,
            edge,
            limits,
            images,
            ops,
            now_ms,
        }
    }

    /// Base of the links handed out: `PUBLIC_URL`, or the origin the request came to.
    pub fn base_url(&self, req: &Request) -> String {
        self.config.public_url.clone().unwrap_or_else(|| req.origin())
    }
}
