//! The console's API: listing, edits, bulk changes, rebuilds.

use crate::harness::*;

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
