//! Randomised property tests of everything that reads client bytes: `sniff`, `multipart`,
//! `exif`, transform `options` and `geometry`, and decoding itself. Inputs are corpus files
//! with random bytes flipped, cut or spliced, and random parameter lists. No input may panic
//! (a panic kills the request), and what is accepted must be sane.
//!
//! `IMGBED_FUZZ_ITERS` sets the rounds per target (a few hundred by default, so `cargo test`
//! stays quick); `bash scripts/bench fuzz` runs it longer in release mode.

use imgbed::budget::{MAX_TRANSFORM_SIDE, PIXEL_BUDGET_BYTES};
use imgbed::http::multipart;
use imgbed::sniff::sniff;
use imgbed::transform::geometry::plan;
use imgbed::transform::options::{Fit, Options, OutFormat};
use imgbed::transform::{estimate, run};
use std::panic::{catch_unwind, AssertUnwindSafe};

mod common;
use common::corpus;

fn rounds() -> u64 {
    std::env::var("IMGBED_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// xorshift64*: reproducible from the seed printed with any failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Small valid files of every format to mutate (large ones would make rounds slow).
fn seeds() -> Vec<Vec<u8>> {
    let mut out = vec![corpus("small-320x211.jpg"), corpus("animated-400x300.gif")];
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(24, 16, |x, y| image::Rgba([x as u8 * 9, y as u8 * 13, 99, 200])));
    for f in [image::ImageFormat::Png, image::ImageFormat::Gif, image::ImageFormat::WebP] {
        let mut b = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut b), f).unwrap();
        out.push(b);
    }
    // A progressive JPEG, a BMP and an ICO built by hand-sized headers.
    let mut prog = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut prog, 70);
    enc.set_progressive(true);
    enc.encode(img.to_rgb8().as_raw(), 24, 16, jpeg_encoder::ColorType::Rgb).unwrap();
    out.push(prog);
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0; 8]);
    bmp.extend_from_slice(&54u32.to_le_bytes());
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&8i32.to_le_bytes());
    bmp.extend_from_slice(&(-4i32).to_le_bytes());
    bmp.extend_from_slice(&[1, 0, 24, 0]);
    bmp.resize(54 + 24 * 4, 0x7f);
    out.push(bmp);
    out
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len() as u64) as usize;
        match rng.below(5) {
            0 => b[at] = rng.next() as u8,
            1 => b[at] ^= 1 << rng.below(8),
            2 => b.truncate(at),
            // Header fields are where the interesting values live: big sizes, zeros.
            3 => {
                let v = [0u8, 0xFF, 0x7F, 0x80][rng.below(4) as usize];
                for x in b.iter_mut().skip(at).take(1 + rng.below(4) as usize) {
                    *x = v;
                }
            }
            _ => {
                let from = rng.below(b.len() as u64) as usize;
                let piece: Vec<u8> = b[from..(from + 1 + rng.below(32) as usize).min(b.len())].to_vec();
                b.splice(at..at, piece);
            }
        }
    }
    b
}

fn check<T>(what: &str, seed: u64, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| panic!("{what} panicked (seed {seed})"))
}

#[test]
fn sniff_exif_and_decoding_never_panic() {
    let seeds = seeds();
    let tiny = Options { width: Some(8), ..Options::default() };
    for round in 0..rounds() {
        let seed = 0x5EED_0000 + round;
        let mut rng = Rng(seed);
        let pick = rng.below(seeds.len() as u64) as usize;
        let input = mutate(&mut rng, &seeds[pick]);
        let Ok(s) = check("sniff", seed, || sniff(&input)) else {
            continue;
        };
        assert!(s.width > 0 && s.height > 0, "seed {seed}: {s:?}");
        check("exif", seed, || {
            let mut out = input.clone();
            if imgbed::sniff::exif::strip_jpeg_in_place(&mut out, s.exif_orientation) {
                assert!(out.starts_with(&[0xFF, 0xD8]), "seed {seed}");
            }
        });
        // Whatever the transform says, it says it as an error, within the budget.
        check("estimate", seed, || {
            if let Ok(bytes) = estimate(&input, &s, &tiny, OutFormat::Png) {
                if bytes <= PIXEL_BUDGET_BYTES {
                    let _ = run(&input, &s, &tiny, OutFormat::Png);
                }
            }
        });
    }
}

#[test]
fn multipart_bodies_never_panic() {
    let pieces: [&[u8]; 12] = [
        b"--B",
        b"\r\n",
        b"--",
        b"Content-Disposition: form-data; name=\"file\"; filename=\"a\\\"b.png\"",
        b"\r\n\r\n",
        b"Content-Type: image/png",
        b"DATA",
        b"\xff\xd8\xff",
        b"filename*=UTF-8''%E5%9B%BE",
        b"name=",
        b";",
        b"\"",
    ];
    for round in 0..rounds() * 4 {
        let seed = 0xB0D1_0000 + round;
        let mut rng = Rng(seed);
        let body: Vec<u8> = (0..rng.below(24)).flat_map(|_| pieces[rng.below(pieces.len() as u64) as usize].to_vec()).collect();
        let body = mutate(&mut rng, &body);
        if let Ok(parts) = check("multipart", seed, || multipart::parse(&body, "B")) {
            let total: usize = parts.iter().map(|p| p.data.len()).sum();
            assert!(total <= body.len(), "seed {seed}");
        }
    }
}

#[test]
fn options_and_geometry_stay_in_bounds() {
    let keys = ["w", "h", "width", "height", "fit", "gravity", "q", "f", "dpr", "blur", "sharpen", "rotate", "flip", "bg", "x"];
    let values = [
        "0",
        "1",
        "8192",
        "8193",
        "99999999999",
        "-1",
        "3",
        "2.5",
        "nan",
        "inf",
        "cover",
        "pad",
        "fill",
        "crop",
        "contain",
        "auto",
        "webp",
        "",
        "hv",
        "#fff",
        "%00",
    ];
    for round in 0..rounds() * 10 {
        let seed = 0x0971_0000 + round;
        let mut rng = Rng(seed);
        let pairs: Vec<(String, String)> = (0..1 + rng.below(5))
            .map(|_| (keys[rng.below(keys.len() as u64) as usize].to_string(), values[rng.below(values.len() as u64) as usize].to_string()))
            .collect();
        let Ok(Some(o)) = check("options", seed, || Options::parse(&pairs, &[])) else {
            continue;
        };
        let (w, h) = o.target();
        assert!(w.is_none_or(|w| (1..=MAX_TRANSFORM_SIDE).contains(&w)) && h.is_none_or(|h| (1..=MAX_TRANSFORM_SIDE).contains(&h)), "seed {seed}: {pairs:?}");
        assert_eq!(o.key(OutFormat::Jpeg), Options::parse(&pairs, &[]).unwrap().unwrap().key(OutFormat::Jpeg));
        let source = (1 + rng.below(20_000) as u32, 1 + rng.below(20_000) as u32);
        let p = check("geometry", seed, || plan(source, w, h, o.fit));
        let out = p.output();
        assert!(out.0 >= 1 && out.1 >= 1 && p.resize.0 >= 1 && p.resize.1 >= 1, "seed {seed}: {p:?}");
        if let (Some(w), Some(h), Fit::Fill | Fit::Cover | Fit::Pad) = (w, h, o.fit) {
            assert_eq!(out, (w, h), "seed {seed}: {source:?} {:?}", o.fit);
        }
        if o.fit == Fit::ScaleDown {
            assert!(out.0 <= source.0 && out.1 <= source.1, "seed {seed}: scale-down enlarged {source:?} to {out:?}");
        }
    }
}
