//! The watermark on what the public sees (`WATERMARK_TEXT`): the text in the placeholders'
//! bitmap font (so Chinese works too), white with a soft shadow, `size` per cent of the
//! picture's width, at one of nine positions, blended at `opacity`. The wasm pipeline draws it
//! as its last step; Cloudflare Images gets the same mark as a small PNG to `draw` at the same
//! place, so both engines put it where the other would.

use super::placeholder::text_mask;
use image::{DynamicImage, GenericImage, GenericImageView, Rgba, RgbaImage};
use serde_json::{json, Value};

pub use crate::config::watermark::{Mark, Position};

/// A lettered mark, ready to place: the text's pixels at `scale`, and the shadow's offset.
struct Lettered {
    w: u32,
    h: u32,
    mask: Vec<bool>,
    scale: u32,
}

impl Mark {
    /// What the variant key says about it: a different mark is a different variant.
    pub fn key(&self) -> String {
        let digest = crate::base::ids::sha256_hex(format!("{}|{:?}|{:?}|{}|{}", self.text, self.image, self.position, self.size, self.opacity).as_bytes());
        format!("-wm{}", &digest[..12])
    }

    fn letter(&self, width: u32) -> Lettered {
        let (w, h, mask) = text_mask(&self.text);
        let want = width as f32 * f32::from(self.size.clamp(1, 100)) / 100.0;
        let scale = ((want / w.max(1) as f32).round() as u32).max(1);
        Lettered { w, h, mask, scale }
    }

    /// The top-left corner of a `mw`×`mh` mark on a `w`×`h` picture, a margin from the edges.
    fn place(&self, (w, h): (u32, u32), (mw, mh): (u32, u32)) -> (i64, i64) {
        let margin = i64::from((w.min(h) / 40).max(4));
        let at = |step: u8, room: u32, size: u32| match step {
            0 => margin,
            1 => (i64::from(room) - i64::from(size)) / 2,
            _ => i64::from(room) - i64::from(size) - margin,
        };
        let (gx, gy) = self.position.grid();
        (at(gx, w, mw), at(gy, h, mh))
    }

    /// The mark as an RGBA picture for a picture `width` wide, at `opacity`: the logo scaled to
    /// `size` per cent of the width when there is one, else white letters over a soft shadow.
    fn picture(&self, width: u32, logo: Option<&RgbaImage>) -> RgbaImage {
        if let Some(logo) = logo {
            let w = ((width as f32 * f32::from(self.size.clamp(1, 100)) / 100.0).round() as u32).max(1);
            let h = ((logo.height() as f32 * w as f32 / logo.width().max(1) as f32).round() as u32).max(1);
            let mut out = image::imageops::resize(logo, w, h, image::imageops::FilterType::Triangle);
            for p in out.pixels_mut() {
                p[3] = (f32::from(p[3]) * self.opacity.clamp(0.0, 1.0)).round() as u8;
            }
            return out;
        }
        let l = self.letter(width);
        let s = l.scale;
        let shadow = (s / 2).max(1);
        let mut out = RgbaImage::new(l.w * s + shadow, l.h * s + shadow);
        let alpha = (self.opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
        for (pass, colour) in [(shadow, Rgba([0, 0, 0, alpha / 2])), (0, Rgba([255, 255, 255, alpha]))] {
            for (i, _) in l.mask.iter().enumerate().filter(|(_, on)| **on) {
                let (x, y) = (i as u32 % l.w, i as u32 / l.w);
                for dy in 0..s {
                    for dx in 0..s {
                        out.put_pixel(x * s + dx + pass, y * s + dy + pass, colour);
                    }
                }
            }
        }
        out
    }

    /// Draws the mark onto `img` (the wasm pipeline's last step).
    pub fn apply(&self, mut img: DynamicImage, logo: Option<&RgbaImage>) -> DynamicImage {
        let (w, h) = img.dimensions();
        let mark = self.picture(w, logo);
        let (x0, y0) = self.place((w, h), mark.dimensions());
        for (mx, my, p) in mark.enumerate_pixels().filter(|(_, _, p)| p[3] > 0) {
            let (x, y) = (x0 + i64::from(mx), y0 + i64::from(my));
            if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
                continue;
            }
            let (x, y) = (x as u32, y as u32);
            let under = img.get_pixel(x, y);
            let a = f32::from(p[3]) / 255.0;
            let mixed = std::array::from_fn(|c| if c == 3 { under[3] } else { (f32::from(under[c]) * (1.0 - a) + f32::from(p[c]) * a).round() as u8 });
            img.put_pixel(x, y, Rgba(mixed));
        }
        img
    }

    /// For Cloudflare Images: the mark as a PNG and the `draw` options that put it where
    /// [`Mark::apply`] would, on an output of `size`.
    pub fn overlay(&self, size: (u32, u32), logo: Option<&RgbaImage>) -> (Vec<u8>, Value) {
        let mark = self.picture(size.0, logo);
        let (x, y) = self.place(size, mark.dimensions());
        let mut png = Vec::new();
        let _ = DynamicImage::ImageRgba8(mark.clone()).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png);
        let (gx, gy) = self.position.grid();
        let mut at = json!({});
        match gx {
            0 => at["left"] = json!(x),
            2 => at["right"] = json!(i64::from(size.0) - x - i64::from(mark.width())),
            _ => {}
        }
        match gy {
            0 => at["top"] = json!(y),
            2 => at["bottom"] = json!(i64::from(size.1) - y - i64::from(mark.height())),
            _ => {}
        }
        (png, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(position: Position) -> Mark {
        Mark { text: "© imgbed".into(), image: None, position, size: 30, opacity: 0.8 }
    }

    #[test]
    fn the_mark_lands_where_it_is_asked_and_nowhere_else() {
        let grey = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(400, 300, image::Rgb([90, 90, 90])));
        let done = mark(Position::BottomRight).apply(grey.clone(), None).to_rgb8();
        let changed: Vec<(u32, u32)> = done.enumerate_pixels().filter(|(_, _, p)| p.0 != [90, 90, 90]).map(|(x, y, _)| (x, y)).collect();
        assert!(changed.len() > 300, "{} pixels", changed.len());
        assert!(changed.iter().all(|(x, y)| *x > 200 && *y > 200), "only in the bottom-right corner");
        assert!(done.pixels().any(|p| p.0[0] > 200), "light letters");
        let top = mark(Position::Top).apply(grey.clone(), None).to_rgb8();
        assert!(top.enumerate_pixels().filter(|(_, _, p)| p.0 != [90, 90, 90]).all(|(x, y, _)| y < 100 && x > 100 && x < 300));
        // A logo instead: scaled to 30% of the width (120 px), half opaque red, bottom-left.
        let logo = RgbaImage::from_pixel(40, 20, Rgba([255, 0, 0, 255]));
        let m = Mark { position: Position::BottomLeft, opacity: 0.5, ..mark(Position::Center) };
        let done = m.apply(grey, Some(&logo)).to_rgb8();
        let red: Vec<(u32, u32)> = done.enumerate_pixels().filter(|(_, _, p)| p.0[0] > 150 && p.0[1] < 60).map(|(x, y, _)| (x, y)).collect();
        assert_eq!(red.len(), 120 * 60, "the whole logo, blended");
        assert!(red.iter().all(|(x, y)| *x < 200 && *y > 200));
    }

    #[test]
    fn images_gets_the_same_place() {
        let (png, at) = mark(Position::BottomRight).overlay((400, 300), None);
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(at, json!({"right": 7, "bottom": 7}), "a margin of a fortieth of the short side");
        assert_eq!(mark(Position::Center).overlay((400, 300), None).1, json!({}));
        assert_ne!(mark(Position::Center).key(), mark(Position::Top).key());
        assert_eq!(Position::parse("Bottom-Left"), Some(Position::BottomLeft));
        assert_eq!(Position::parse("middle"), None);
    }
}
