//! The cron's self-repair.

use crate::harness::*;

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
