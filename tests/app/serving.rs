//! Serving: originals, variants, blocked images, Telegram as a fallback.

use crate::harness::*;

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
