//! The image pipeline natively, on the corpus: outputs decode back, stand upright, keep their
//! transparency, and upload compression only ever makes files smaller.

use image::GenericImageView;
use imgbed::sniff::sniff;
use imgbed::transform::compress::compress;
use imgbed::transform::options::OutFormat;
use imgbed::transform::run;

mod common;
use common::{corpus, opts};

fn transform(name: &str, q: &str, f: OutFormat) -> Vec<u8> {
    let bytes = corpus(name);
    run(&bytes, &sniff(&bytes).unwrap(), &opts(q), f).unwrap()
}

/// Decodes any output: JPEG with jpeg-decoder, the rest with the image crate.
fn decode(bytes: &[u8]) -> image::DynamicImage {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut d = jpeg_decoder::Decoder::new(bytes);
        let px = d.decode().unwrap();
        let i = d.info().unwrap();
        return image::DynamicImage::ImageRgb8(image::RgbImage::from_raw(i.width as u32, i.height as u32, px).unwrap());
    }
    image::load_from_memory(bytes).unwrap()
}

#[test]
fn every_format_decodes_back_at_the_planned_size() {
    for f in [OutFormat::Jpeg, OutFormat::Png, OutFormat::Webp, OutFormat::Gif] {
        let out = transform("landscape-3840x2400.jpg", "w=400&h=300&fit=cover", f);
        assert_eq!(decode(&out).dimensions(), (400, 300), "{f:?}");
    }
}

#[test]
fn exif_rotated_photos_come_out_upright() {
    // Stored 1200×800-ish landscape with Orientation=6: displayed portrait.
    let out = decode(&transform("exif-orientation6-gps.jpg", "w=200", OutFormat::Png));
    let (w, h) = out.dimensions();
    assert_eq!(w, 200);
    assert!(h > w);
}

#[test]
fn transparency_survives_png_and_webp() {
    // The corpus PNG has an alpha channel (fully opaque); this one is half transparent.
    let mut rgba = image::RgbaImage::from_pixel(64, 64, image::Rgba([200, 40, 40, 255]));
    for y in 0..64 {
        for x in 32..64 {
            rgba.put_pixel(x, y, image::Rgba([0, 0, 0, 0]));
        }
    }
    let mut png = std::io::Cursor::new(Vec::new());
    rgba.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    for f in [OutFormat::Png, OutFormat::Webp] {
        let out = run(&png, &sniff(&png).unwrap(), &opts("w=32"), f).unwrap();
        let img = decode(&out).to_rgba8();
        assert_eq!(img.get_pixel(4, 16)[3], 255, "{f:?}");
        assert_eq!(img.get_pixel(28, 16)[3], 0, "{f:?} lost its transparent pixels");
        // Premultiplied resampling: no dark fringe where colour meets transparency.
        assert!(img.get_pixel(14, 16)[0] > 150, "{f:?}");
    }
    assert!(decode(&transform("alpha-3700x2400.png", "w=370", OutFormat::Png)).color().has_alpha());
}

#[test]
fn lossy_webp_is_far_smaller_than_png_for_photos() {
    let webp = transform("landscape-3840x2400.jpg", "w=800&q=80", OutFormat::Webp);
    let png = transform("landscape-3840x2400.jpg", "w=800", OutFormat::Png);
    assert!(webp.len() * 5 < png.len(), "webp {} vs png {}", webp.len(), png.len());
}

#[test]
fn shrink_on_load_keeps_quality_close_to_a_full_decode() {
    // 24 MP → 800 px through 1/4-scale decoding; compare with the same image decoded in full.
    let fast = decode(&transform("phone-24MP-6000x4000.jpg", "w=800", OutFormat::Png)).to_rgb8();
    assert_eq!(fast.dimensions(), (800, 533));
    let full = decode(&corpus("phone-24MP-6000x4000.jpg")).resize_exact(800, 533, image::imageops::FilterType::Lanczos3).to_rgb8();
    let mse: f64 = fast.as_raw().iter().zip(full.as_raw()).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>() / fast.as_raw().len() as f64;
    let psnr = 10.0 * (255.0f64 * 255.0 / mse).log10();
    assert!(psnr > 30.0, "PSNR {psnr:.1} dB");
}

#[test]
fn compression_shrinks_jpegs_and_caps_the_longest_side() {
    let bytes = corpus("landscape-3840x2400.jpg");
    let s = sniff(&bytes).unwrap();
    let out = compress(&bytes, &s, 75, None).unwrap().expect("a q75 re-encode of a q95-ish photo is smaller");
    assert!(out.len() < bytes.len());
    let capped = compress(&bytes, &s, 80, Some(1600)).unwrap().unwrap();
    let c = sniff(&capped).unwrap();
    assert_eq!((c.width, c.height), (1600, 1000));
}

#[test]
fn compression_keeps_the_original_when_it_cannot_win() {
    // A tiny, already tight JPEG re-encoded at q100 only grows.
    let bytes = corpus("small-320x211.jpg");
    assert_eq!(compress(&bytes, &sniff(&bytes).unwrap(), 100, None).unwrap(), None);
    // GIFs are left alone.
    let gif = corpus("animated-400x300.gif");
    assert_eq!(compress(&gif, &sniff(&gif).unwrap(), 80, None).unwrap(), None);
}
