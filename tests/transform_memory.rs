//! Memory of the transform pipeline, measured: a counting allocator records the peak of live
//! heap bytes while a transform runs. Two things must hold for every case, ordinary and
//! hostile: the budget check's estimate is an upper bound of what is really allocated (so a
//! request the check lets through cannot exceed it), and what is refused is refused before
//! any pixel buffer exists.

use imgbed::budget::PIXEL_BUDGET_BYTES;
use imgbed::sniff::sniff;
use imgbed::transform::options::{negotiate, OutFormat};
use imgbed::transform::{estimate, run, same_format};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

mod common;
use common::{corpus, opts};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), SeqCst) + layout.size();
            PEAK.fetch_max(now, SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), SeqCst);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new) };
        if !q.is_null() {
            // Counted as old + new while both may exist.
            let now = LIVE.fetch_add(new, SeqCst) + new;
            PEAK.fetch_max(now, SeqCst);
            LIVE.fetch_sub(layout.size(), SeqCst);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Tests in this file run one at a time, so peaks are not mixed up.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs every encoder and decoder once, so one-time tables and statics are not counted
/// against the first transform measured.
fn warm_up() {
    let bytes = corpus("small-320x211.jpg");
    let s = sniff(&bytes).unwrap();
    for f in [OutFormat::Jpeg, OutFormat::Png, OutFormat::Webp, OutFormat::Gif] {
        run(&bytes, &s, &opts("w=16&sharpen=1&blur=1"), f).unwrap();
    }
}

/// Runs one transform; returns (estimate, measured peak above the baseline, result).
fn measure(bytes: &[u8], q: &str) -> (Result<u64, String>, usize, Result<usize, String>) {
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(warm_up);
    let s = sniff(bytes).unwrap();
    let o = opts(q);
    let format = negotiate(o.format, "", s.format != imgbed::sniff::Format::Jpeg, same_format(s.format));
    let est = estimate(bytes, &s, &o, format).map_err(|e| e.code.to_string());
    let base = LIVE.load(SeqCst);
    PEAK.store(base, SeqCst);
    let out = run(bytes, &s, &o, format).map(|v| v.len()).map_err(|e| e.code.to_string());
    (est, PEAK.load(SeqCst) - base, out)
}

const MIB: f64 = 1048576.0;

#[test]
fn estimates_bound_what_is_allocated() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cases = [
        ("landscape-3840x2400.jpg", "w=800"),
        ("landscape-3840x2400.jpg", "w=800&f=webp"),
        ("landscape-3840x2400.jpg", "w=3840&f=jpeg"),
        ("landscape-3840x2400.jpg", "w=2000&f=webp"),
        ("landscape-3840x2400.jpg", "w=1200&h=1200&fit=cover&gravity=auto"),
        ("landscape-3840x2400.jpg", "w=2400&h=2400&fit=pad&blur=50"),
        ("phone-24MP-6000x4000.jpg", "w=1000&rotate=90&sharpen=5"),
        ("exif-orientation6-gps.jpg", "w=1000&f=png"),
        ("alpha-3700x2400.png", "w=1800&f=webp"),
        ("alpha-3700x2400.png", "w=1200&f=gif"),
        ("alpha-3700x2400.png", "w=900&h=900&fit=pad&background=transparent&f=png"),
        ("small-320x211.jpg", "w=2000&h=2000&fit=fill&f=webp"),
    ];
    for (name, q) in cases {
        let bytes = corpus(name);
        let (est, peak, out) = measure(&bytes, q);
        let est = est.unwrap_or_else(|e| panic!("{name} ?{q}: refused ({e})"));
        assert!(out.is_ok(), "{name} ?{q}: {out:?}");
        println!("{name:28} ?{q:55} estimate {:6.1} MiB  measured {:6.1} MiB", est as f64 / MIB, peak as f64 / MIB);
        // Decoder tables, output buffers growing and encoder scratch are not pixel buffers: 4 MiB
        // of slack. Natively jpeg-decoder hands rows between threads through channels, which
        // can queue up to half the image more; in wasm it decodes on one thread (no queue).
        let slack = if name.ends_with(".jpg") { est / 2 + (8 << 20) } else { 4 << 20 };
        assert!(peak as u64 <= est + slack, "{name} ?{q}: measured {peak} > estimate {est}");
        assert!(est <= PIXEL_BUDGET_BYTES, "{name} ?{q}");
    }
}

/// A progressive JPEG whose header declares `w`×`h` but whose data is tiny: the decoder would
/// allocate full-size coefficients before any scaling.
pub fn progressive_bomb(w: u16, h: u16) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16, 16, image::Rgb([200, 100, 50]));
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 80);
    enc.set_progressive(true);
    enc.encode(img.as_raw(), 16, 16, jpeg_encoder::ColorType::Rgb).unwrap();
    let sof = out.windows(2).position(|w| w == [0xFF, 0xC2]).unwrap();
    out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    out
}

#[test]
fn hostile_requests_are_refused_before_allocating() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tiny = {
        let mut b = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(16, 16)).write_to(&mut std::io::Cursor::new(&mut b), image::ImageFormat::Png).unwrap();
        b
    };
    let strip = {
        let mut b = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(2000, 2)).write_to(&mut std::io::Cursor::new(&mut b), image::ImageFormat::Png).unwrap();
        b
    };
    for (what, bytes, q, code) in [
        ("pad 16² to 8192² + blur", &tiny, "w=8192&h=8192&fit=pad&f=webp&blur=250", "too_many_pixels"),
        ("fill 16² to 8192²", &tiny, "w=8192&h=8192&fit=fill&f=png", "too_many_pixels"),
        ("cover a 2000×2 strip to 8192²", &strip, "w=8192&h=8192&fit=cover", "too_many_pixels"),
        ("progressive 10000² bomb", &progressive_bomb(10_000, 10_000), "w=100", "source_too_large"),
        ("progressive 30000² bomb", &progressive_bomb(30_000, 30_000), "w=100", "source_too_large"),
        // A 16.7 MP WebP decodes through YUV planes to 75 MiB: its transforms serve the original.
        ("4096² WebP source", &corpus("square-4096.webp"), "w=2048", "source_too_large"),
        ("24 MP sharpened at 1600×2400", &corpus("phone-24MP-6000x4000.jpg"), "w=1600&rotate=90&sharpen=5", "too_many_pixels"),
    ] {
        let (est, peak, out) = measure(bytes, q);
        match est {
            Ok(bytes) => assert!(bytes > PIXEL_BUDGET_BYTES, "{what}"),
            Err(e) => assert_eq!(e, code, "{what}"),
        }
        assert_eq!(out.unwrap_err(), code, "{what}");
        println!("{what:32} refused as {code}, peak {:.2} MiB", peak as f64 / MIB);
        assert!(peak < 2 << 20, "{what}: {peak} bytes allocated before refusing");
    }
}

#[test]
fn the_largest_accepted_outputs_stay_in_budget() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The biggest square each fit mode and encoder accepts, found by halving: its real peak
    // must stay under the budget too. (A PNG source: its decoder runs on one thread, as
    // every decoder does in wasm.)
    let bytes = corpus("alpha-3700x2400.png");
    for q in ["fit=pad&f=webp&blur=10", "fit=fill&f=jpeg"] {
        let (mut lo, mut hi) = (64u32, 8192u32);
        while hi - lo > 64 {
            let mid = (lo + hi) / 2;
            let s = sniff(&bytes).unwrap();
            let o = opts(&format!("w={mid}&h={mid}&{q}"));
            let f = negotiate(o.format, "", true, same_format(s.format));
            if estimate(&bytes, &s, &o, f).is_ok_and(|e| e <= PIXEL_BUDGET_BYTES) {
                lo = mid
            } else {
                hi = mid
            }
        }
        let (_, peak, out) = measure(&bytes, &format!("w={lo}&h={lo}&{q}"));
        assert!(out.is_ok(), "{q} at {lo}: {out:?}");
        println!("largest accepted {q:28} {lo}×{lo}: peak {:.1} MiB", peak as f64 / MIB);
        assert!((peak as u64) < PIXEL_BUDGET_BYTES + (4 << 20), "{q} at {lo}: {peak}");
    }
}
