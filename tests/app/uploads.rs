//! Uploads: what is stored, what a failure takes back, limits and quotas.

use crate::harness::*;

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
