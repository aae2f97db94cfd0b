//! The whole application over in-memory storage: what workerd cannot easily stage
//! (outages, blocked images) and the invariants behind "bad input loses nothing".

use imgbed::app::App;
use imgbed::config::Config;
use imgbed::http::{Method, Request, Response};
use imgbed::meta::{ImageMeta, Status};
use imgbed::router::handle;
use imgbed::memory::{MemoryBlobs, MemoryCache, MemoryHttp, MemoryKv, MemoryLimits, MemoryPlatform, MemoryPool};

mod common;
use common::corpus;


fn config() -> Config {
    Config { upload_tokens: vec!["tok".into()], admin_token: Some("adm".into()), secret_key: Some("k".into()), ..Config::default() }
}

/// Everything the app stores, kept across requests.
#[derive(Default)]
struct World {
    blobs: MemoryBlobs,
    kv: MemoryKv,
    pool: MemoryPool,
    http: MemoryHttp,
    edge: MemoryCache,
    limits: MemoryLimits,
}

impl World {
    fn run(&self, req: Request) -> Response {
        self.run_with(config(), req)
    }

    fn run_with(&self, config: Config, req: Request) -> Response {
        let app = App::<MemoryPlatform>::new(config, &self.blobs, &self.kv, &self.pool, &self.http, &self.edge, &self.limits, 1_700_000_000_000);
        pollster::block_on(handle(&app, req))
    }
}

fn upload(bytes: &[u8]) -> Request {
    let mut body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n\r\n".to_vec();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--B--\r\n");
    let mut r = Request::new(Method::Post, "https://img.example.com/upload").unwrap();
    r.headers = [("authorization", "Bearer tok"), ("content-type", "multipart/form-data; boundary=B")].into_iter().collect();
    r.body = body;
    r
}

fn get(path: &str) -> Request {
    Request::new(Method::Get, &format!("https://img.example.com{path}")).unwrap()
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn upload_then_serve() {
    let w = World::default();
    let bytes = corpus("small-320x211.jpg");
    let r = w.run(upload(&bytes));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let served = w.run(get(&src));
    assert_eq!(served.status, 200);
    assert_eq!(served.body, bytes);
    assert_eq!(served.header("x-storage-ops"), Some("kv-read=1, r2-read=1"));
}

#[test]
fn blocked_images_are_451_for_the_public() {
    let w = World::default();
    let r = w.run(upload(&corpus("small-320x211.jpg")));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let id = src.trim_start_matches("/file/").trim_end_matches(".jpg");
    let key = ImageMeta::kv_key(id);
    let mut meta: ImageMeta = serde_json::from_str(&w.kv.entries.borrow()[&key]).unwrap();
    meta.status = Status::Blocked;
    w.kv.entries.borrow_mut().insert(key, serde_json::to_string(&meta).unwrap());
    let served = w.run(get(&src));
    assert_eq!(served.status, 451);
    assert_eq!(json(&served)["error"]["code"], "blocked");
    assert_eq!(w.run(get(&format!("/api/images/{id}"))).status, 451);
}

#[test]
fn an_r2_outage_is_503_and_stores_nothing() {
    let w = World::default();
    w.blobs.broken.set(true);
    let r = w.run(upload(&corpus("small-320x211.jpg")));
    assert_eq!(r.status, 503);
    assert_eq!(json(&r)["error"]["code"], "storage_unavailable");
    assert!(w.kv.entries.borrow().is_empty());
}

#[test]
fn a_failed_metadata_write_takes_the_bytes_back() {
    let w = World::default();
    w.kv.writes_broken.set(true);
    let r = w.run(upload(&corpus("small-320x211.jpg")));
    assert_eq!(r.status, 503);
    assert!(w.blobs.objects.borrow().is_empty(), "no orphaned bytes");
    w.kv.writes_broken.set(false);
    assert_eq!(w.run(upload(&corpus("small-320x211.jpg"))).status, 200, "a retry works");
}

#[test]
fn an_upload_that_fails_gives_its_quota_back() {
    let w = World::default();
    let quota = Config { quota_daily_uploads: 2, ..config() };
    let photo = corpus("small-320x211.jpg");
    let with_tail = |n: u8| [photo.as_slice(), &[n]].concat();
    w.blobs.broken.set(true);
    assert_eq!(w.run_with(quota.clone(), upload(&with_tail(1))).status, 503);
    w.blobs.broken.set(false);
    assert_eq!(w.run_with(quota.clone(), upload(&with_tail(2))).status, 200);
    assert_eq!(w.run_with(quota.clone(), upload(&with_tail(3))).status, 200, "the failed upload did not count");
    let over = w.run_with(quota, upload(&with_tail(4)));
    assert_eq!((over.status, json(&over)["error"]["code"].as_str()), (429, Some("quota_exceeded")));
    assert!(over.header("retry-after").is_some());
}

#[test]
fn rate_limits_spare_the_admin_and_store_nothing() {
    let w = World::default();
    w.limits.caps.borrow_mut().insert(imgbed::limits::Limit::Uploads, 1);
    let photo = corpus("small-320x211.jpg");
    assert_eq!(w.run(upload(&photo)).status, 200);
    let over = w.run(upload(&[photo.as_slice(), b"x"].concat()));
    assert_eq!((over.status, json(&over)["error"]["code"].as_str()), (429, Some("rate_limited")));
    assert_eq!(w.kv.entries.borrow().len(), 1, "nothing stored over the limit");
    let mut admin = upload(&[photo.as_slice(), b"y"].concat());
    admin.headers.set("authorization", "Bearer adm");
    assert_eq!(w.run(admin).status, 200);
}

#[test]
fn the_24_mp_photo_is_read_without_decoding() {
    let w = World::default();
    let r = w.run(upload(&corpus("phone-24MP-6000x4000.jpg")));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let id = src.trim_start_matches("/file/").trim_end_matches(".jpg");
    let meta = json(&w.run(get(&format!("/api/images/{id}"))));
    assert_eq!((meta["width"].as_u64(), meta["height"].as_u64()), (Some(6000), Some(4000)));
    assert_eq!(meta["links"]["url"], format!("https://img.example.com{src}"));
}

#[test]
fn preflight_allows_every_client_header() {
    let w = World::default();
    let mut req = get("/upload");
    req.method = Method::Options;
    let r = w.run(req);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    for h in ["Authorization", "Content-Type", "token", "X-API-Key", "authCode"] {
        assert!(r.header("access-control-allow-headers").unwrap().contains(h), "{h}");
    }
}

#[test]
fn deleted_images_leave_the_random_pool() {
    let w = World::default();
    let mut ids = Vec::new();
    for name in ["small-320x211.jpg", "portrait-1600x2400.jpg", "exif-orientation6-gps.jpg"] {
        let r = w.run(upload(&corpus(name)));
        ids.push(json(&r)[0]["src"].as_str().unwrap().trim_start_matches("/file/").trim_end_matches(".jpg").to_string());
    }
    assert_eq!(w.run(get("/random/count?orientation=portrait&format=text")).body, b"2");
    // Delete the first portrait image through its delete link (token derived from SECRET_KEY).
    let token = imgbed::ids::delete_token(Some("k"), &ids[1]);
    let mut del = get(&format!("/delete/{}/{token}", ids[1]));
    del.method = Method::Post;
    assert_eq!(w.run(del).status, 200);
    assert_eq!(json(&w.run(get("/random/count")))["count"], 2);
    for seed in 0..50 {
        let r = json(&w.run(get(&format!("/random?mode=json&seed={seed}"))));
        assert_ne!(r["id"], ids[1].as_str());
    }
    let r = w.run(get("/random?orientation=portrait&mode=json"));
    assert_eq!(json(&r)["id"], ids[2].as_str(), "the EXIF-rotated photo is the only portrait left");
    assert_eq!(r.header("x-storage-ops"), Some("pool=1"));
}

#[test]
fn deleting_an_image_deletes_its_variants() {
    let w = World::default();
    let r = w.run(upload(&corpus("small-320x211.jpg")));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let id = src.trim_start_matches("/file/").trim_end_matches(".jpg").to_string();
    for q in ["w=100", "w=50&f=webp"] {
        let r = w.run(get(&format!("{src}?{q}")));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-variant-cache"), Some("miss"));
    }
    let variants = || w.blobs.objects.borrow().keys().filter(|k| k.starts_with(&format!("v/{id}/"))).count();
    assert_eq!(variants(), 2);
    let token = imgbed::ids::delete_token(Some("k"), &id);
    let mut del = get(&format!("/delete/{id}/{token}"));
    del.method = Method::Post;
    assert_eq!(w.run(del).status, 200);
    assert_eq!(variants(), 0);
    assert!(w.blobs.objects.borrow().is_empty(), "no bytes left behind");
}

#[test]
fn the_admin_lists_images_page_by_page() {
    let w = World::default();
    for name in ["small-320x211.jpg", "portrait-1600x2400.jpg", "exif-orientation6-gps.jpg"] {
        w.run(upload(&corpus(name)));
    }
    let admin = |path: &str| {
        let mut r = get(path);
        r.headers.set("authorization", "Bearer adm");
        w.run(r)
    };
    let first = json(&admin("/api/images?limit=2"));
    assert_eq!(first["images"].as_array().unwrap().len(), 2);
    let cursor = first["cursor"].as_str().unwrap().to_string();
    let second = json(&admin(&format!("/api/images?limit=2&cursor={cursor}")));
    assert_eq!(second["images"].as_array().unwrap().len(), 1);
    assert!(second["cursor"].is_null());
    assert_eq!(w.run(get("/api/images")).status, 401);
    assert_eq!(admin("/api/images?limit=0").status, 400);
}

#[test]
fn the_admin_moves_blocks_and_approves_images() {
    let w = World::default();
    let r = w.run(upload(&corpus("portrait-1600x2400.jpg")));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let id = src.trim_start_matches("/file/").trim_end_matches(".jpg").to_string();
    let patch = |body: &str, token: Option<&str>| {
        let mut r = get(&format!("/api/images/{id}"));
        r.method = Method::Patch;
        if let Some(t) = token {
            r.headers.set("authorization", format!("Bearer {t}"));
        }
        r.body = body.as_bytes().to_vec();
        w.run(r)
    };
    let moved = patch(r#"{"album":"travel","tags":["Sea","sun"],"name":"beach.jpg"}"#, Some("adm"));
    assert_eq!(moved.status, 200, "{}", String::from_utf8_lossy(&moved.body));
    assert_eq!(json(&moved)["album"], "travel");
    assert_eq!(json(&moved)["tags"], serde_json::json!(["sea", "sun"]));
    assert_eq!(json(&w.run(get("/random?album=travel&orientation=portrait&mode=json")))["id"], id.as_str());
    assert_eq!(json(&w.run(get("/random?tag=sea&mode=json")))["id"], id.as_str());
    assert_eq!(patch(r#"{"status":"blocked"}"#, Some("adm")).status, 200);
    assert_eq!(w.run(get(&src)).status, 451);
    assert_eq!(w.run(get("/random?album=travel")).status, 404, "blocked images leave the pools");
    assert_eq!(patch(r#"{"status":"active"}"#, Some("adm")).status, 200);
    assert_eq!(w.run(get("/random/count?album=travel&format=text")).body, b"1");
    // Bad input: wrong token, unknown field, bad values, not JSON.
    assert_eq!(patch(r#"{"album":"x"}"#, Some("tok")).status, 403);
    assert_eq!(patch(r#"{"album":"x"}"#, None).status, 401);
    for body in [r#"{"owner":"me"}"#, r#"{"status":"gone"}"#, r#"{"album":"a/b"}"#, r#"{"tags":7}"#, "not json"] {
        assert_eq!(patch(body, Some("adm")).status, 400, "{body}");
    }
    assert_eq!(json(&w.run(get(&format!("/api/images/{id}"))))["album"], "travel", "refused changes change nothing");
}

#[test]
fn a_batch_that_fails_part_way_stores_nothing_and_leaks_nothing() {
    let w = World::default();
    let files: Vec<Vec<u8>> = ["small-320x211.jpg", "portrait-1600x2400.jpg", "landscape-3840x2400.jpg"].iter().map(|n| corpus(n)).collect();
    let mut body = Vec::new();
    for (i, f) in files.iter().enumerate() {
        body.extend_from_slice(format!("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{i}.jpg\"\r\n\r\n").as_bytes());
        body.extend_from_slice(f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--B--\r\n");
    let mut req = upload(&[]);
    req.body = body;
    // The first file's record is written; the second's write fails.
    w.kv.writes_left.set(Some(1));
    let r = w.run(req);
    assert_eq!(r.status, 503);
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("Nothing from this batch was stored"), "{text}");
    assert!(!text.contains("SQLITE"), "internal error text reached the client: {text}");
    assert!(w.kv.entries.borrow().is_empty(), "records left behind");
    assert!(w.blobs.objects.borrow().is_empty(), "bytes left behind");
    assert!(w.pool.ids().is_empty(), "pool entries left behind");
}

/// A record write that fails leaves catalog and pools as they were: the admin sees what the
/// public gets.
#[test]
fn a_failed_record_write_puts_catalog_and_pools_back() {
    let w = World::default();
    let r = w.run(upload(&corpus("small-320x211.jpg")));
    let id = json(&r)[0]["src"].as_str().unwrap().trim_start_matches("/file/").trim_end_matches(".jpg").to_string();
    let admin = |method: Method, path: &str, body: &str| {
        let mut r = get(path);
        r.method = method;
        r.headers.set("authorization", "Bearer adm");
        r.body = body.as_bytes().to_vec();
        w.run(r)
    };
    w.kv.writes_broken.set(true);
    assert_eq!(admin(Method::Patch, &format!("/api/admin/images/{id}"), r#"{"status":"blocked","album":"x"}"#).status, 503);
    assert_eq!(admin(Method::Delete, &format!("/api/admin/images/{id}"), "").status, 503);
    w.kv.writes_broken.set(false);
    let listed = json(&admin(Method::Get, "/api/admin/images?status=active", ""));
    assert_eq!(listed["total"], 1, "still active in the catalog: {listed}");
    assert_eq!(listed["images"][0]["album"], serde_json::Value::Null);
    assert_eq!(w.pool.ids(), vec![id.clone()], "still in the pools");
    assert_eq!(w.run(get(&format!("/file/{id}.jpg"))).status, 200);
    // The index store down: nothing changes either.
    w.pool.broken.set(true);
    assert_eq!(admin(Method::Delete, &format!("/api/admin/images/{id}"), "").status, 503);
    w.pool.broken.set(false);
    assert_eq!(w.run(get(&format!("/file/{id}.jpg"))).status, 200);
    let removed = json(&admin(Method::Delete, &format!("/api/admin/images/{id}"), ""));
    assert_eq!(removed["deleted"]["bytes"], true);
    assert!(w.blobs.objects.borrow().is_empty() && w.kv.entries.borrow().is_empty() && w.pool.ids().is_empty());
}

/// `STORAGE_CHANNEL=r2+telegram`: both copies are written, and when the R2 object is gone the
/// image is served from Telegram (the Bot API answered from canned routes).
#[test]
fn r2_and_telegram_serves_from_telegram_when_the_r2_object_is_missing() {
    let w = World::default();
    let base = "https://tg.test";
    let bot = "11:secret";
    let c = Config {
        storage: imgbed::config::Storage::Both,
        telegram_bot_tokens: vec![bot.into()],
        telegram_chat_id: Some("-100".into()),
        telegram_api_base: base.into(),
        ..config()
    };
    let bytes = corpus("alpha-3700x2400.png");
    let route = |url: String, body: Vec<u8>| w.http.routes.borrow_mut().insert(url, (200, vec![], body));
    route(format!("{base}/bot{bot}/sendDocument"), serde_json::json!({"ok": true, "result": {"message_id": 5, "document": {"file_id": "F1", "file_unique_id": "U1", "file_size": bytes.len()}}}).to_string().into_bytes());
    route(format!("{base}/bot{bot}/getFile"), serde_json::json!({"ok": true, "result": {"file_id": "F1", "file_path": "documents/f1.png"}}).to_string().into_bytes());
    route(format!("{base}/file/bot{bot}/documents/f1.png"), bytes.clone());
    let mut req = upload(&bytes);
    req.body = [b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n".as_slice(), &bytes, b"\r\n--B--\r\n"].concat();
    let r = w.run_with(c.clone(), req);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    assert_eq!(w.blobs.objects.borrow().len(), 1, "a copy in R2");
    let record: serde_json::Value = serde_json::from_str(w.kv.entries.borrow().values().next().unwrap()).unwrap();
    assert_eq!(record["telegram"]["parts"][0]["file_id"], "F1", "and one in Telegram");
    assert!(!record.to_string().contains("secret"), "the record never holds the token");
    assert_eq!(w.run_with(c.clone(), get(&src)).body, bytes, "served from R2");
    assert!(!w.http.sent.borrow().iter().any(|r| r.url.contains("getFile")));
    w.blobs.objects.borrow_mut().clear();
    let served = w.run_with(c, get(&src));
    assert_eq!(served.status, 200);
    assert_eq!(served.body, bytes, "served from Telegram once the R2 object is gone");
}
