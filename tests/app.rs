//! The whole application over in-memory storage: what workerd cannot easily stage
//! (outages, blocked images) and the invariants behind "bad input loses nothing".

use imgbed::app::App;
use imgbed::config::Config;
use imgbed::http::{Method, Request, Response};
use imgbed::meta::{ImageMeta, Status};
use imgbed::router::handle;
use imgbed::memory::{MemoryBlobs, MemoryHttp, MemoryKv, MemoryPlatform};

const CORPUS: &str = "../shared/corpus";

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/{CORPUS}/{name}", env!("CARGO_MANIFEST_DIR"))).expect("the shared corpus is beside the repository")
}

fn config() -> Config {
    Config { upload_tokens: vec!["tok".into()], admin_token: Some("adm".into()), secret_key: Some("k".into()), ..Config::default() }
}

fn run(blobs: &MemoryBlobs, kv: &MemoryKv, req: Request) -> Response {
    let http = MemoryHttp::default();
    let app = App::<MemoryPlatform>::new(config(), blobs, kv, &http, 1_700_000_000_000);
    pollster::block_on(handle(&app, req))
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
    let (blobs, kv) = (MemoryBlobs::default(), MemoryKv::default());
    let bytes = corpus("small-320x211.jpg");
    let r = run(&blobs, &kv, upload(&bytes));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let served = run(&blobs, &kv, get(&src));
    assert_eq!(served.status, 200);
    assert_eq!(served.body, bytes);
    assert_eq!(served.header("x-storage-ops"), Some("kv-read=1, r2-read=1"));
}

#[test]
fn blocked_images_are_451_for_the_public() {
    let (blobs, kv) = (MemoryBlobs::default(), MemoryKv::default());
    let r = run(&blobs, &kv, upload(&corpus("small-320x211.jpg")));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let id = src.trim_start_matches("/file/").trim_end_matches(".jpg");
    let key = ImageMeta::kv_key(id);
    let mut meta: ImageMeta = serde_json::from_str(&kv.entries.borrow()[&key]).unwrap();
    meta.status = Status::Blocked;
    kv.entries.borrow_mut().insert(key, serde_json::to_string(&meta).unwrap());
    let served = run(&blobs, &kv, get(&src));
    assert_eq!(served.status, 451);
    assert_eq!(json(&served)["error"]["code"], "blocked");
    assert_eq!(run(&blobs, &kv, get(&format!("/api/images/{id}"))).status, 451);
}

#[test]
fn an_r2_outage_is_503_and_stores_nothing() {
    let (blobs, kv) = (MemoryBlobs::default(), MemoryKv::default());
    blobs.broken.set(true);
    let r = run(&blobs, &kv, upload(&corpus("small-320x211.jpg")));
    assert_eq!(r.status, 503);
    assert_eq!(json(&r)["error"]["code"], "storage_unavailable");
    assert!(kv.entries.borrow().is_empty());
}

#[test]
fn a_failed_metadata_write_takes_the_bytes_back() {
    let (blobs, kv) = (MemoryBlobs::default(), MemoryKv::default());
    kv.writes_broken.set(true);
    let r = run(&blobs, &kv, upload(&corpus("small-320x211.jpg")));
    assert_eq!(r.status, 503);
    assert!(blobs.objects.borrow().is_empty(), "no orphaned bytes");
    kv.writes_broken.set(false);
    assert_eq!(run(&blobs, &kv, upload(&corpus("small-320x211.jpg"))).status, 200, "a retry works");
}

#[test]
fn the_24_mp_photo_is_read_without_decoding() {
    let (blobs, kv) = (MemoryBlobs::default(), MemoryKv::default());
    let r = run(&blobs, &kv, upload(&corpus("phone-24MP-6000x4000.jpg")));
    let src = json(&r)[0]["src"].as_str().unwrap().to_string();
    let id = src.trim_start_matches("/file/").trim_end_matches(".jpg");
    let meta = json(&run(&blobs, &kv, get(&format!("/api/images/{id}"))));
    assert_eq!((meta["width"].as_u64(), meta["height"].as_u64()), (Some(6000), Some(4000)));
    assert_eq!(meta["links"]["url"], format!("https://img.example.com{src}"));
}

#[test]
fn preflight_allows_every_client_header() {
    let (blobs, kv) = (MemoryBlobs::default(), MemoryKv::default());
    let mut req = get("/upload");
    req.method = Method::Options;
    let r = run(&blobs, &kv, req);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    for h in ["Authorization", "Content-Type", "token", "X-API-Key", "authCode"] {
        assert!(r.header("access-control-allow-headers").unwrap().contains(h), "{h}");
    }
}
