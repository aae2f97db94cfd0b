//! Injected faults at every storage call: clear errors, nothing half-written.

use crate::harness::*;

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
