//! The shared harness: a world of in-memory storage kept across requests, and request helpers.
#![allow(dead_code)] // each feature file uses its own subset

pub use imgbed::adapters::memory::{MemoryBlobs, MemoryCache, MemoryHttp, MemoryKv, MemoryLimits, MemoryPlatform, MemoryPool};
pub use imgbed::app::App;
pub use imgbed::config::Config;
pub use imgbed::http::{Method, Request, Response};
pub use imgbed::index::record::{ImageMeta, Status};
pub use imgbed::platform::faults::{Faults, Faulty};
pub use imgbed::router::handle;
pub use std::rc::Rc;

pub use crate::common::corpus;

pub fn config() -> Config {
    Config { upload_tokens: vec!["tok".into()], admin_token: Some("adm".into()), secret_key: Some("k".into()), ..Config::default() }
}

/// Everything the app stores, kept across requests.
#[derive(Default)]
pub struct World {
    pub blobs: MemoryBlobs,
    pub kv: MemoryKv,
    pub pool: MemoryPool,
    pub http: MemoryHttp,
    pub edge: MemoryCache,
    pub limits: MemoryLimits,
    pub faults: Rc<Faults>,
}

impl World {
    /// The clock (`blobs.clock`, which also dates R2 objects) starts in November 2023.
    pub fn new() -> World {
        let w = World::default();
        w.blobs.clock.set(1_700_000_000_000);
        w
    }

    pub fn run(&self, req: Request) -> Response {
        self.run_with(config(), req)
    }

    pub fn run_with(&self, config: Config, req: Request) -> Response {
        let f = |_| self.faults.clone();
        let app = App::<MemoryPlatform>::new(
            config,
            Faulty::new(&self.blobs, f(())),
            Faulty::new(&self.kv, f(())),
            Faulty::new(&self.pool, f(())),
            Faulty::new(&self.http, f(())),
            &self.edge,
            &self.limits,
            imgbed::adapters::memory::NoImages,
            self.blobs.clock.get(),
        );
        pollster::block_on(handle(&app, req))
    }
}

pub fn upload(bytes: &[u8]) -> Request {
    let mut body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n\r\n".to_vec();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--B--\r\n");
    let mut r = Request::new(Method::Post, "https://img.example.com/upload").unwrap();
    r.headers = [("authorization", "Bearer tok"), ("content-type", "multipart/form-data; boundary=B")].into_iter().collect();
    r.body = body;
    r
}

pub fn get(path: &str) -> Request {
    Request::new(Method::Get, &format!("https://img.example.com{path}")).unwrap()
}

pub fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(r.body.bytes()).unwrap()
}

/// Records, bytes and pools agree: every record's bytes are there and serve exactly, and the
/// pools hold exactly the active images.
pub fn assert_consistent(w: &World, case: &str) {
    let records: Vec<ImageMeta> = w.kv.entries.borrow().iter().filter(|(k, _)| k.starts_with("img:")).map(|(_, v)| serde_json::from_str(v).unwrap()).collect();
    for m in &records {
        let bytes = w.blobs.objects.borrow().get(&m.location).map(|(b, _)| b.clone());
        assert!(bytes.is_some(), "{case}: record {} without bytes", m.id);
        let served = w.run(admin(get(&format!("/file/{}.jpg", m.id))));
        assert_eq!(served.status, 200, "{case}: {} is not served", m.id);
        assert!(Some(served.body.bytes().to_vec()) == bytes, "{case}: {} does not serve its bytes", m.id);
    }
    let mut active: Vec<String> = records.iter().filter(|m| m.status == Status::Active).map(|m| m.id.clone()).collect();
    active.sort();
    assert_eq!(w.pool.ids(), active, "{case}: the pools are not the active images");
    let listed = json(&w.run(admin(get("/api/admin/images?limit=100"))))["images"].as_array().unwrap().len();
    assert_eq!(listed, records.len(), "{case}: the catalog lists {listed}, there are {} records", records.len());
}

pub fn admin(mut r: Request) -> Request {
    r.headers.set("authorization", "Bearer adm");
    r
}

pub fn id_of(r: &Response) -> String {
    json(r)[0]["src"].as_str().unwrap().trim_start_matches("/file/").trim_end_matches(".jpg").to_string()
}
