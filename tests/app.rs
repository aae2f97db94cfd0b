//! The whole application over in-memory storage: what workerd cannot easily stage
//! (outages, blocked images) and the invariants behind "bad input loses nothing".

use imgbed::adapters::memory::{MemoryBlobs, MemoryCache, MemoryHttp, MemoryKv, MemoryLimits, MemoryPlatform, MemoryPool};
use imgbed::app::App;
use imgbed::config::Config;
use imgbed::http::{Method, Request, Response};
use imgbed::index::record::{ImageMeta, Status};
use imgbed::platform::faults::{Faults, Faulty};
use imgbed::router::handle;
use std::rc::Rc;

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
    faults: Rc<Faults>,
}

impl World {
    /// The clock (`blobs.clock`, which also dates R2 objects) starts in November 2023.
    fn new() -> World {
        let w = World::default();
        w.blobs.clock.set(1_700_000_000_000);
        w
    }

    fn run(&self, req: Request) -> Response {
        self.run_with(config(), req)
    }

    fn run_with(&self, config: Config, req: Request) -> Response {
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
    serde_json::from_slice(r.body.bytes()).unwrap()
}

#[test]
fn upload_then_serve() {
    let w = World::new();
    let bytes = corpus("small-320x211.jpg");
    let r = w.run(upload(&bytes));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(r.body.bytes()));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let served = w.run(get(&src));
    assert_eq!(served.status, 200);
    assert_eq!(served.body.bytes(), bytes);
    assert_eq!(served.header("x-storage-ops"), Some("kv-read=1, r2-read=1"));
}

#[test]
fn blocked_images_are_451_for_the_public() {
    let w = World::new();
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
    let w = World::new();
    w.blobs.broken.set(true);
    let r = w.run(upload(&corpus("small-320x211.jpg")));
    assert_eq!(r.status, 503);
    assert_eq!(json(&r)["error"]["code"], "storage_unavailable");
    assert!(w.kv.entries.borrow().is_empty());
}

#[test]
fn a_failed_metadata_write_takes_the_bytes_back() {
    let w = World::new();
    w.kv.writes_broken.set(true);
    let r = w.run(upload(&corpus("small-320x211.jpg")));
    assert_eq!(r.status, 503);
    assert!(w.blobs.objects.borrow().is_empty(), "no orphaned bytes");
    w.kv.writes_broken.set(false);
    assert_eq!(w.run(upload(&corpus("small-320x211.jpg"))).status, 200, "a retry works");
}

#[test]
fn an_upload_that_fails_gives_its_quota_back() {
    let w = World::new();
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
    let w = World::new();
    w.limits.caps.borrow_mut().insert(imgbed::platform::rate::Limit::Uploads, 1);
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
    let w = World::new();
    let r = w.run(upload(&corpus("phone-24MP-6000x4000.jpg")));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let id = src.trim_start_matches("/file/").trim_end_matches(".jpg");
    let meta = json(&w.run(get(&format!("/api/images/{id}"))));
    assert_eq!((meta["width"].as_u64(), meta["height"].as_u64()), (Some(6000), Some(4000)));
    assert_eq!(meta["links"]["url"], format!("https://img.example.com{src}"));
}

#[test]
fn preflight_allows_every_client_header() {
    let w = World::new();
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
    let w = World::new();
    let mut ids = Vec::new();
    for name in ["small-320x211.jpg", "portrait-1600x2400.jpg", "exif-orientation6-gps.jpg"] {
        let r = w.run(upload(&corpus(name)));
        ids.push(json(&r)[0]["src"].as_str().unwrap().trim_start_matches("/file/").trim_end_matches(".jpg").to_string());
    }
    assert_eq!(w.run(get("/random/count?orientation=portrait&format=text")).body.bytes(), b"2");
    // Delete the first portrait image through its delete link (token derived from SECRET_KEY).
    let token = imgbed::base::ids::delete_token(Some("k"), &ids[1]);
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
    let w = World::new();
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
    let token = imgbed::base::ids::delete_token(Some("k"), &id);
    let mut del = get(&format!("/delete/{id}/{token}"));
    del.method = Method::Post;
    assert_eq!(w.run(del).status, 200);
    assert_eq!(variants(), 0);
    assert!(w.blobs.objects.borrow().is_empty(), "no bytes left behind");
}

#[test]
fn the_admin_lists_images_page_by_page() {
    let w = World::new();
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
    let w = World::new();
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
    assert_eq!(moved.status, 200, "{}", String::from_utf8_lossy(moved.body.bytes()));
    assert_eq!(json(&moved)["album"], "travel");
    assert_eq!(json(&moved)["tags"], serde_json::json!(["sea", "sun"]));
    assert_eq!(json(&w.run(get("/random?album=travel&orientation=portrait&mode=json")))["id"], id.as_str());
    assert_eq!(json(&w.run(get("/random?tag=sea&mode=json")))["id"], id.as_str());
    assert_eq!(patch(r#"{"status":"blocked"}"#, Some("adm")).status, 200);
    assert_eq!(w.run(get(&src)).status, 451);
    assert_eq!(w.run(get("/random?album=travel")).status, 404, "blocked images leave the pools");
    assert_eq!(patch(r#"{"status":"active"}"#, Some("adm")).status, 200);
    assert_eq!(w.run(get("/random/count?album=travel&format=text")).body.bytes(), b"1");
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
    let w = World::new();
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
    let text = String::from_utf8_lossy(r.body.bytes());
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
    let w = World::new();
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
    let down = imgbed::platform::faults::Rule { service: "pool".into(), op: "*".into(), mode: imgbed::platform::faults::Mode::Fail, skip: 0, times: None };
    w.faults.set(vec![down]);
    assert_eq!(admin(Method::Delete, &format!("/api/admin/images/{id}"), "").status, 503);
    w.faults.set(Vec::new());
    assert_eq!(w.run(get(&format!("/file/{id}.jpg"))).status, 200);
    let removed = json(&admin(Method::Delete, &format!("/api/admin/images/{id}"), ""));
    assert_eq!(removed["deleted"]["bytes"], true);
    assert!(w.blobs.objects.borrow().is_empty() && w.kv.entries.borrow().is_empty() && w.pool.ids().is_empty());
}

/// `STORAGE_CHANNEL=r2+telegram`: both copies are written, and when the R2 object is gone the
/// image is served from Telegram (the Bot API answered from canned routes).
#[test]
fn r2_and_telegram_serves_from_telegram_when_the_r2_object_is_missing() {
    let w = World::new();
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
    route(
        format!("{base}/bot{bot}/sendDocument"),
        serde_json::json!({"ok": true, "result": {"message_id": 5, "document": {"file_id": "F1", "file_unique_id": "U1", "file_size": bytes.len()}}})
            .to_string()
            .into_bytes(),
    );
    route(
        format!("{base}/bot{bot}/getFile"),
        serde_json::json!({"ok": true, "result": {"file_id": "F1", "file_path": "documents/f1.png"}}).to_string().into_bytes(),
    );
    route(format!("{base}/file/bot{bot}/documents/f1.png"), bytes.clone());
    let mut req = upload(&bytes);
    req.body = [b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n".as_slice(), &bytes, b"\r\n--B--\r\n"].concat();
    let r = w.run_with(c.clone(), req);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(r.body.bytes()));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    assert_eq!(w.blobs.objects.borrow().len(), 1, "a copy in R2");
    let record: serde_json::Value = serde_json::from_str(w.kv.entries.borrow().values().next().unwrap()).unwrap();
    assert_eq!(record["telegram"]["parts"][0]["file_id"], "F1", "and one in Telegram");
    assert!(!record.to_string().contains("secret"), "the record never holds the token");
    assert_eq!(w.run_with(c.clone(), get(&src)).body.bytes(), bytes, "served from R2");
    assert!(!w.http.sent.borrow().iter().any(|r| r.url.contains("getFile")));
    w.blobs.objects.borrow_mut().clear();
    let served = w.run_with(c, get(&src));
    assert_eq!(served.status, 200);
    assert_eq!(served.body.bytes(), bytes, "served from Telegram once the R2 object is gone");
}

/// Records, bytes and pools agree: every record's bytes are there and serve exactly, and the
/// pools hold exactly the active images.
fn assert_consistent(w: &World, case: &str) {
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

fn admin(mut r: Request) -> Request {
    r.headers.set("authorization", "Bearer adm");
    r
}

fn id_of(r: &Response) -> String {
    json(r)[0]["src"].as_str().unwrap().trim_start_matches("/file/").trim_end_matches(".jpg").to_string()
}

#[test]
fn injected_faults_give_clear_errors_and_leave_everything_consistent() {
    use imgbed::platform::faults::{Mode, Rule};
    let rule = |service: &str, op: &str, mode| Rule { service: service.into(), op: op.into(), mode, skip: 0, times: None };
    let photo = corpus("small-320x211.jpg");
    let with_tail = |n: u8| [photo.as_slice(), &[n]].concat();
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Upload,
        Delete,
        Patch,
        Transform,
        Random,
    }
    use Mode::*;
    use Step::*;
    let cases = [
        (Upload, rule("r2", "head", Fail)),
        (Upload, rule("r2", "put", Fail)),
        (Upload, rule("r2", "put", Hang)),
        (Upload, rule("pool", "index", Fail)),
        (Upload, rule("pool", "index", Garbage)),
        (Upload, rule("kv", "put", Fail)),
        (Upload, rule("kv", "put", Hang)),
        (Delete, rule("kv", "get", Garbage)),
        (Delete, rule("kv", "get", Hang)),
        (Delete, rule("pool", "unindex", Fail)),
        (Delete, rule("kv", "delete", Fail)),
        (Delete, rule("r2", "head", Fail)),
        (Delete, rule("r2", "delete", Fail)),
        (Delete, rule("r2", "list", Garbage)),
        (Patch, rule("kv", "get", Garbage)),
        (Patch, rule("pool", "index", Fail)),
        (Patch, rule("kv", "put", Fail)),
        (Patch, rule("kv", "put", Hang)),
        (Transform, rule("r2", "get", Fail)),
        (Transform, rule("r2", "get", Garbage)),
        (Transform, rule("pool", "reserve_variant", Fail)),
        (Transform, rule("r2", "put", Fail)),
        (Random, rule("pool", "pick", Fail)),
        (Random, rule("pool", "pick", Hang)),
        (Random, rule("r2", "get", Fail)),
        (Random, rule("r2", "get", Hang)),
    ];
    for (step, fault) in cases {
        let case = format!("{step:?} with {} {} {:?}", fault.service, fault.op, fault.mode);
        let w = World::new();
        let id = id_of(&w.run(upload(&with_tail(1))));
        w.run(upload(&with_tail(2)));
        let hang = fault.mode == Hang;
        w.faults.set(vec![fault]);
        let r = match step {
            Upload => w.run(upload(&with_tail(3))),
            Delete => w.run(admin(Request { method: Method::Delete, ..get(&format!("/api/admin/images/{id}")) })),
            Patch => {
                let mut r = admin(Request { method: Method::Patch, ..get(&format!("/api/images/{id}")) });
                r.headers.set("content-type", "application/json");
                r.body = br#"{"album":"moved","status":"blocked"}"#.to_vec();
                w.run(r)
            }
            Transform => w.run(get(&format!("/file/{id}.jpg?w=64"))),
            Random => w.run(get("/random")),
        };
        w.faults.set(Vec::new());
        let body = String::from_utf8_lossy(r.body.bytes()).to_string();
        assert!([502, 503, 504].contains(&r.status), "{case}: {} {body}", r.status);
        if hang {
            assert_eq!(r.status, 504, "{case}: {body}");
        }
        assert!(r.header("retry-after").is_some(), "{case}: no Retry-After");
        assert!(!body.contains("injected") && !body.contains("unreadable answer"), "{case}: internal text in {body}");
        assert_consistent(&w, &case);
    }
}

#[test]
fn the_repair_run_mends_leftovers_in_bounded_batches_and_reports_them() {
    let w = World::new();
    let photo = corpus("small-320x211.jpg");
    let with_tail = |n: u8| [photo.as_slice(), &[n]].concat();
    let keep = id_of(&w.run(upload(&with_tail(1))));
    let bytes_gone = id_of(&w.run(upload(&with_tail(2))));
    let record_gone = id_of(&w.run(upload(&with_tail(3))));
    let located = |id: &str| serde_json::from_str::<ImageMeta>(&w.kv.entries.borrow()[&ImageMeta::kv_key(id)]).unwrap().location;
    // Bytes whose record is gone (an interrupted upload), and a record whose bytes are gone.
    w.blobs.objects.borrow_mut().remove(&located(&bytes_gone));
    let orphan = located(&record_gone);
    w.kv.entries.borrow_mut().remove(&ImageMeta::kv_key(&record_gone));
    w.blobs.objects.borrow_mut().insert(format!("v/{record_gone}/w64.webp"), (b"variant".to_vec(), Vec::new()));
    w.blobs.written.borrow_mut().insert(format!("v/{record_gone}/w64.webp"), w.blobs.clock.get());
    // A young orphan may be an upload under way: it is left alone.
    let cron = |w: &World| {
        let app = App::<MemoryPlatform>::new(
            config(),
            Faulty::new(&w.blobs, w.faults.clone()),
            Faulty::new(&w.kv, w.faults.clone()),
            Faulty::new(&w.pool, w.faults.clone()),
            Faulty::new(&w.http, w.faults.clone()),
            &w.edge,
            &w.limits,
            imgbed::adapters::memory::NoImages,
            w.blobs.clock.get(),
        );
        pollster::block_on(imgbed::library::repair::run(&app)).unwrap()
    };
    let first = cron(&w);
    assert_eq!(first.orphans_deleted, 0, "younger than an hour");
    assert_eq!(first.records_without_bytes, 1);
    assert_eq!(first.stale_entries_removed, 1, "the catalog row and pool entry of the lost record");
    assert!(w.blobs.objects.borrow().contains_key(&orphan));
    w.blobs.clock.set(w.blobs.clock.get() + 2 * 3600 * 1000);
    let second = cron(&w);
    assert_eq!(second.orphans_deleted, 2, "the original and its variant");
    assert_eq!((second.records_without_bytes, second.stale_entries_removed, second.errors), (0, 0, 0));
    assert_eq!(w.blobs.objects.borrow().len(), 1, "only the healthy image's bytes");
    assert_consistent(&w, "after repair");
    assert_eq!(w.run(get(&format!("/file/{keep}.jpg"))).status, 200);
    let stats = json(&w.run(admin(get("/api/admin/stats"))));
    assert_eq!(stats["repair"]["total"]["orphans_deleted"], 2);
    assert_eq!(stats["repair"]["last"]["objects_checked"], 3, "two originals and a variant");
}

#[test]
fn bulk_changes_index_the_whole_selection_in_one_step_and_undo_what_failed() {
    let w = World::new();
    let photo = corpus("small-320x211.jpg");
    let ids: Vec<String> = (1..=4u8).map(|n| id_of(&w.run(upload(&[photo.as_slice(), &[n]].concat())))).collect();
    let bulk = |action: &str, ids: &[String]| {
        let mut r = admin(Request { method: Method::Post, ..get("/api/admin/bulk") });
        r.headers.set("content-type", "application/json");
        r.body = serde_json::json!({"action": action, "ids": ids}).to_string().into_bytes();
        w.run(r)
    };
    let r = bulk("block", &ids[..3]);
    assert_eq!(json(&r)["done"], 3);
    assert_eq!(r.header("x-storage-ops"), Some("kv-read=3, kv-write=3, pool=1"), "one index step for the whole selection");
    assert_consistent(&w, "after a bulk block");
    // The second record write fails (once): that image keeps its old state everywhere.
    w.kv.writes_left.set(Some(1));
    let r = json(&bulk("unblock", &ids[..3]));
    w.kv.writes_left.set(None);
    assert_eq!((r["done"].as_u64(), r["failed"].as_u64()), (Some(2), Some(1)));
    assert_eq!(r["results"][1]["id"], ids[1].as_str());
    assert_eq!(r["results"][1]["error"]["code"], "storage_unavailable");
    assert_consistent(&w, "after a bulk change that failed part way");
}

#[test]
fn a_rebuild_never_shows_less_and_its_last_batch_removes_what_kv_lost() {
    let w = World::new();
    let photo = corpus("small-320x211.jpg");
    let ids: Vec<String> = (1..=5u8).map(|n| id_of(&w.run(upload(&[photo.as_slice(), &[n]].concat())))).collect();
    let total = |w: &World| json(&w.run(admin(get("/api/admin/images?limit=1"))))["total"].as_u64().unwrap();
    // A record lost from KV (its catalog row and pool entry remain), and an upload made while
    // the rebuild runs: the first must go at the end, the second must stay.
    w.kv.entries.borrow_mut().remove(&ImageMeta::kv_key(&ids[0]));
    let reindex = |body: String| {
        let mut r = admin(Request::new(Method::Post, "https://img.example.com/api/admin/reindex").unwrap());
        r.headers.set("content-type", "application/json");
        r.body = body.into_bytes();
        json(&w.run(r))
    };
    w.blobs.clock.set(w.blobs.clock.get() + 1000);
    let first = reindex(r#"{"limit":2}"#.into());
    assert_eq!((first["indexed"].as_u64(), first["done"].as_bool()), (Some(2), Some(false)));
    assert_eq!(total(&w), 5, "nothing is emptied first");
    w.blobs.clock.set(w.blobs.clock.get() + 1000);
    let during = id_of(&w.run(upload(&[photo.as_slice(), &[9]].concat())));
    let mut cursor = first["cursor"].as_str().unwrap().to_string();
    let mut removed = 0;
    loop {
        let r = reindex(serde_json::json!({"cursor": cursor, "limit": 2}).to_string());
        removed += r["removed"].as_u64().unwrap();
        match r["cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(removed, 1, "the image whose record is gone");
    assert_eq!(total(&w), 5, "four old images and the one uploaded during the run");
    assert_eq!(w.run(get(&format!("/file/{during}.jpg"))).status, 200);
    assert_eq!(json(&w.run(get("/random/count")))["count"], 5);
}
