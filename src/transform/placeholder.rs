//! Placeholder images named by their URL: `/800x600/sunglasses-sloth[.webp]` or
//! `/800/600/sunglasses-sloth`. This module reads that grammar, turns the slug into words, picks
//! the flux-schnell aspect ratio a size belongs to, and draws the local placeholder (a gradient
//! chosen from the slug, lettered with the size and the words) used when no image model is set.

use crate::base::error::ApiError;
use crate::transform::options::OutFormat;
use embedded_graphics_core::draw_target::DrawTarget;
use embedded_graphics_core::geometry::{OriginDimensions, Point, Size};
use embedded_graphics_core::pixelcolor::BinaryColor;
use embedded_graphics_core::Pixel;
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};
use u8g2_fonts::types::{FontColor, VerticalPosition};
use u8g2_fonts::{fonts, FontRenderer};

/// Largest width or height a placeholder URL may name.
pub const MAX_SIDE: u32 = 4096;
/// Longest slug, in characters.
pub const MAX_SLUG_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub width: u32,
    pub height: u32,
    /// Lower-case words joined by `-`.
    pub slug: String,
    /// From the extension, when there is one.
    pub format: Option<OutFormat>,
}

impl Spec {
    /// The slug as words: `sunglasses-sloth` → `sunglasses sloth`.
    pub fn words(&self) -> String {
        self.slug.replace('-', " ")
    }
}

fn size(param: &str, v: &str) -> Result<u32, ApiError> {
    v.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_SIDE).contains(n))
        .ok_or_else(|| ApiError::bad_request("bad_parameter", format!("{param} {v:?} is not valid: a placeholder is 1 to {MAX_SIDE} pixels a side")))
}

/// How the height is given: in pixels, or as a ratio to the width (`640x4:3`).
enum Height<'a> {
    Pixels(&'a str),
    Ratio(u32, u32),
}

/// Reads a placeholder path; `None` when the path is not one (its first segment is not a size),
/// a 400 naming the bad part when it is one but malformed. `WxH`, `W/H`, `Wxa:b` (the height
/// from a ratio) and `@2x`/`@3x` (the same picture for a denser screen: every side times that).
pub fn parse(segs: &[&str]) -> Option<Result<Spec, ApiError>> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match segs {
        [wh, name] => {
            let (wh, scale) = match wh.rsplit_once('@') {
                Some((wh, "1x")) => (wh, 1),
                Some((wh, "2x")) => (wh, 2),
                Some((wh, "3x")) => (wh, 3),
                Some(_) => return None,
                None => (*wh, 1),
            };
            let (w, h) = wh.split_once(['x', 'X'])?;
            let height = match h.split_once(':') {
                Some((a, b)) if digits(a) && digits(b) => Height::Ratio(a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
                None if digits(h) => Height::Pixels(h),
                _ => return None,
            };
            digits(w).then(|| spec(w, height, scale, name))
        }
        [w, h, name] if digits(w) && digits(h) => Some(spec(w, Height::Pixels(h), 1, name)),
        _ => None,
    }
}

fn spec(w: &str, h: Height, scale: u32, name: &str) -> Result<Spec, ApiError> {
    let width = size("width", w)?;
    let height = match h {
        Height::Pixels(h) => size("height", h)?,
        Height::Ratio(a, b) if a > 0 && b > 0 => size("height", &((u64::from(width) * u64::from(b) + u64::from(a) / 2) / u64::from(a)).to_string())?,
        Height::Ratio(a, b) => {
            return Err(ApiError::bad_request("bad_parameter", format!("the ratio {a}:{b} is not valid: both sides above 0, as in 640x4:3")))
        }
    };
    let (width, height) = (size("width", &(width * scale).to_string())?, size("height", &(height * scale).to_string())?);
    let (slug, format) = match name.rsplit_once('.') {
        Some((slug, ext)) => {
            let format = match ext.to_ascii_lowercase().as_str() {
                "jpg" | "jpeg" => OutFormat::Jpeg,
                "png" => OutFormat::Png,
                "webp" => OutFormat::Webp,
                _ => return Err(ApiError::bad_request("bad_parameter", format!("extension {ext:?} is not valid: use .jpg, .png or .webp"))),
            };
            (slug, Some(format))
        }
        None => (name, None),
    };
    let word_ok = |w: &str| !w.is_empty() && w.chars().all(|c| (c.is_alphabetic() && !c.is_uppercase()) || c.is_ascii_digit());
    if slug.chars().count() > MAX_SLUG_CHARS || !slug.split('-').all(word_ok) {
        return Err(ApiError::bad_request(
            "bad_slug",
            format!("{slug:?} is not a placeholder name: lower-case words (letters of any script, digits) joined by -, at most {MAX_SLUG_CHARS} characters"),
        ));
    }
    Ok(Spec { width, height, slug: slug.to_string(), format })
}

/// The aspect ratios flux-schnell generates.
pub const ASPECTS: [(&str, u32, u32); 11] = [
    ("1:1", 1, 1),
    ("16:9", 16, 9),
    ("21:9", 21, 9),
    ("3:2", 3, 2),
    ("2:3", 2, 3),
    ("4:5", 4, 5),
    ("5:4", 5, 4),
    ("3:4", 3, 4),
    ("4:3", 4, 3),
    ("9:16", 9, 16),
    ("9:21", 9, 21),
];

/// The aspect ratio closest to `w`:`h` (by the ratio of ratios, so 2:1 and 1:2 are as far from
/// square): one generation serves every size of that shape.
pub fn bucket(w: u32, h: u32) -> &'static str {
    let want = (w as f64 / h as f64).ln();
    ASPECTS
        .iter()
        .min_by(|a, b| {
            let d = |x: &(&str, u32, u32)| ((x.1 as f64 / x.2 as f64).ln() - want).abs();
            d(a).total_cmp(&d(b))
        })
        .map_or("1:1", |a| a.0)
}

/// Two colours from the slug's hash, a gentle diagonal between them.
fn gradient(slug: &str, w: u32, h: u32) -> RgbImage {
    let hash = Sha256::digest(slug.as_bytes());
    let hue = hash[0] as f32 / 255.0 * 360.0;
    let from = hsl(hue, 0.55, 0.58);
    let to = hsl((hue + 45.0) % 360.0, 0.60, 0.38);
    let span = (w + h).max(2) as f32 - 2.0;
    RgbImage::from_fn(w, h, |x, y| {
        let t = (x + y) as f32 / span.max(1.0);
        Rgb(std::array::from_fn(|c| (from[c] as f32 + (to[c] as f32 - from[c] as f32) * t).round() as u8))
    })
}

fn hsl(h: f32, s: f32, l: f32) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r, g, b].map(|v| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}

/// What is written on a drawn placeholder and in which colours (`?text=`, `?bg=`, `?fg=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lettering {
    /// Lines to write instead of the size and the words.
    pub text: Option<String>,
    /// A plain background instead of the gradient.
    pub background: Option<[u8; 3]>,
    /// The letters' colour (white with a soft shadow when unset).
    pub foreground: Option<[u8; 3]>,
}

/// Longest `?text=`, in characters, and most lines.
pub const MAX_TEXT_CHARS: usize = 200;
pub const MAX_TEXT_LINES: usize = 6;

/// The font: 16 px WenQuanYi over GB2312, so Chinese (and kana, Greek, Cyrillic) are letters,
/// not boxes; characters it lacks are left out.
fn font() -> FontRenderer {
    FontRenderer::new::<fonts::u8g2_font_wqy16_t_gb2312>().with_ignore_unknown_chars(true)
}

/// Height of a line at scale 1.
const LINE: u32 = 16;

/// One line of text as a 1-bit mask at scale 1.
struct Mask {
    w: u32,
    bits: Vec<bool>,
}

impl OriginDimensions for Mask {
    fn size(&self) -> Size {
        Size::new(self.w, LINE)
    }
}

impl DrawTarget for Mask {
    type Color = BinaryColor;
    type Error = std::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(&mut self, pixels: I) -> Result<(), Self::Error> {
        for Pixel(p, c) in pixels {
            if c.is_on() && (0..self.w as i32).contains(&p.x) && (0..LINE as i32).contains(&p.y) {
                self.bits[(p.y as u32 * self.w + p.x as u32) as usize] = true;
            }
        }
        Ok(())
    }
}

/// How wide `text` is at scale 1.
fn width_of(text: &str) -> u32 {
    font().get_rendered_dimensions(text, Point::zero(), VerticalPosition::Top).map_or(0, |d| d.advance.x.max(0) as u32)
}

fn mask(text: &str) -> Mask {
    let mut m = Mask { w: width_of(text).max(1), bits: Vec::new() };
    m.bits = vec![false; (m.w * LINE) as usize];
    let _ = font().render(text, Point::zero(), VerticalPosition::Top, FontColor::Transparent(BinaryColor::On), &mut m);
    m
}

/// One line of `text` at scale 1 as (width, height, lit pixels row by row): the watermark's
/// letters too.
pub fn text_mask(text: &str) -> (u32, u32, Vec<bool>) {
    let m = mask(text);
    (m.w, LINE, m.bits)
}

/// Writes one line centred on row `cy`, each font pixel `scale` image pixels, in `colour`, with
/// a soft shadow when `shadow`.
fn write(img: &mut RgbImage, text: &str, cy: i64, scale: u32, colour: [u8; 3], shadow: bool) {
    let m = mask(text);
    let (w, h) = (img.width() as i64, img.height() as i64);
    let s = scale as i64;
    let x0 = (w - m.w as i64 * s) / 2;
    let y0 = cy - LINE as i64 * s / 2;
    let offset = (s / 2).max(1);
    let passes: &[(bool, i64)] = if shadow { &[(true, offset), (false, 0)] } else { &[(false, 0)] };
    for &(dark, offset) in passes {
        for (i, _) in m.bits.iter().enumerate().filter(|(_, on)| **on) {
            let (col, row) = ((i as u32 % m.w) as i64, (i as u32 / m.w) as i64);
            for dy in 0..s {
                for dx in 0..s {
                    let (x, y) = (x0 + col * s + dx + offset, y0 + row * s + dy + offset);
                    if (0..w).contains(&x) && (0..h).contains(&y) {
                        let p = img.get_pixel_mut(x as u32, y as u32);
                        *p = if dark { Rgb(p.0.map(|v| (v as u16 * 3 / 5) as u8)) } else { Rgb(colour) };
                    }
                }
            }
        }
    }
}

/// The largest scale at which a line `px` wide fills at most `share` of `w`, and at most `max`.
fn scale_for(px: u32, w: u32, share: f32, max: u32) -> u32 {
    ((w as f32 * share / px.max(1) as f32) as u32).clamp(1, max.max(1))
}

/// `text` cut with an ellipsis to fit `w` pixels at scale 1.
fn fitted(text: &str, w: u32) -> String {
    if width_of(text) <= w {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() && width_of(&format!("{}…", chars.iter().collect::<String>())) > w {
        chars.pop();
    }
    format!("{}…", chars.into_iter().collect::<String>())
}

/// The local placeholder: exact size, the gradient from the slug (or `bg`), and on it `W × H`
/// and the words, or the lines of `text`.
pub fn draw(spec: &Spec, (w, h): (u32, u32), lettering: &Lettering) -> RgbImage {
    let mut img = match lettering.background {
        Some(bg) => RgbImage::from_pixel(w, h, Rgb(bg)),
        None => gradient(&spec.slug, w, h),
    };
    let colour = lettering.foreground.unwrap_or([255, 255, 255]);
    let shadow = lettering.background.is_none();
    let cy = h as i64 / 2;
    if let Some(text) = &lettering.text {
        let lines: Vec<String> = text.lines().take(MAX_TEXT_LINES).map(|l| fitted(l.trim(), w)).collect();
        let widest = lines.iter().map(|l| width_of(l)).max().unwrap_or(1);
        let scale = scale_for(widest, w, 0.85, h * 3 / 5 / (LINE * lines.len().max(1) as u32));
        let step = (LINE * scale + scale * 4) as i64;
        let top = cy - step * (lines.len() as i64 - 1) / 2;
        for (i, line) in lines.iter().enumerate() {
            write(&mut img, line, top + step * i as i64, scale, colour, shadow);
        }
        return img;
    }
    let size = format!("{} × {}", spec.width, spec.height);
    let words = fitted(&spec.words(), w);
    let size_scale = scale_for(width_of(&size), w, 0.6, h / 5 / LINE);
    let word_scale = scale_for(width_of(&words), w, 0.85, (size_scale / 2).max(1));
    let gap = (size_scale * LINE + word_scale * LINE) as i64 / 2 + word_scale as i64 * 4;
    write(&mut img, &size, cy - gap / 2, size_scale, colour, shadow);
    write(&mut img, &words, cy + gap / 2, word_scale, colour, shadow);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Option<Result<Spec, ApiError>> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        parse(&segs)
    }

    #[test]
    fn both_grammars_and_extensions() {
        let s = p("/800x600/sunglasses-sloth").unwrap().unwrap();
        assert_eq!((s.width, s.height, s.slug.as_str(), s.format), (800, 600, "sunglasses-sloth", None));
        assert_eq!(p("/800/600/sunglasses-sloth").unwrap().unwrap(), s);
        assert_eq!(p("/1200x630/cozy-reading-nook.webp").unwrap().unwrap().format, Some(OutFormat::Webp));
        assert_eq!(p("/64x64/猫-2.png").unwrap().unwrap().words(), "猫 2");
    }

    #[test]
    fn ratios_and_pixel_densities() {
        let size = |path: &str| p(path).unwrap().map(|s| (s.width, s.height));
        assert_eq!(size("/640x4:3/words").unwrap(), (640, 480));
        assert_eq!(size("/1000x16:9/words").unwrap(), (1000, 563), "rounded to the nearest pixel");
        assert_eq!(size("/300x200@2x/words.png").unwrap(), (600, 400));
        assert_eq!(size("/300x1:1@3x/words").unwrap(), (900, 900));
        assert_eq!(size("/300x200@1x/words").unwrap(), (300, 200));
        assert_eq!(size("/640x0:3/words").unwrap_err().status, 400);
        assert_eq!(size("/3000x200@2x/words").unwrap_err().status, 400, "over the largest side once doubled");
        assert!(p("/300x200@4x/words").is_none() && p("/300x4:/words").is_none());
    }

    #[test]
    fn other_paths_are_not_placeholders() {
        for path in ["/file/abc.jpg", "/random", "/delete/abc/tok", "/api/v1/upload", "/800x600", "/axb/c", "/8/x/c"] {
            assert!(p(path).is_none(), "{path}");
        }
    }

    #[test]
    fn bad_parts_are_named() {
        for (path, needle) in [
            ("/0x600/a", "width \"0\""),
            ("/800x4097/a", "height \"4097\""),
            ("/8x8/Sloth", "Sloth"),
            ("/8x8/a--b", "a--b"),
            ("/8x8/a_b", "a_b"),
            ("/8x8/a.gif", "gif"),
            (&format!("/8x8/{}", "a".repeat(101)), "100 characters"),
        ] {
            let e = p(path).unwrap().unwrap_err();
            assert_eq!(e.status, 400, "{path}");
            assert!(e.message.contains(needle), "{path}: {}", e.message);
        }
    }

    #[test]
    fn sizes_fall_into_the_nearest_bucket() {
        for (w, h, b) in
            [(800, 600, "4:3"), (600, 800, "3:4"), (1200, 630, "16:9"), (100, 100, "1:1"), (3000, 1000, "21:9"), (1000, 3000, "9:21"), (1500, 1000, "3:2")]
        {
            assert_eq!(bucket(w, h), b, "{w}x{h}");
        }
    }

    #[test]
    fn drawing_is_exact_and_depends_on_the_slug() {
        let s = |slug: &str| Spec { width: 320, height: 200, slug: slug.into(), format: None };
        let plain = Lettering::default();
        let a = draw(&s("sunglasses-sloth"), (320, 200), &plain);
        assert_eq!(a.dimensions(), (320, 200));
        assert_ne!(a.get_pixel(0, 0), draw(&s("cozy-nook"), (320, 200), &plain).get_pixel(0, 0));
        assert!(a.pixels().any(|p| p.0 == [255, 255, 255]), "lettering is drawn");
        assert_eq!(draw(&s("x"), (1, 1), &plain).dimensions(), (1, 1));
    }

    #[test]
    fn chinese_is_lettered_not_boxed() {
        let lit = |t: &str| mask(t).bits.iter().filter(|b| **b).count();
        // Two different characters draw two different shapes, each with many pixels lit.
        let (ni, hao) = (mask("你"), mask("好"));
        assert!(lit("你") > 30 && lit("好") > 30 && ni.bits != hao.bits);
        assert_eq!(width_of("你好"), 2 * width_of("你"), "full-width glyphs");
        assert_eq!(width_of("\u{1F600}"), 0, "what the font lacks is left out");
    }

    #[test]
    fn text_and_colours() {
        let spec = Spec { width: 400, height: 200, slug: "x".into(), format: None };
        let l = Lettering { text: Some("你好\nimgbed".into()), background: Some([16, 32, 48]), foreground: Some([250, 200, 0]) };
        let img = draw(&spec, (400, 200), &l);
        assert_eq!(img.get_pixel(0, 0).0, [16, 32, 48], "a plain background");
        let letters = img.pixels().filter(|p| p.0 == [250, 200, 0]).count();
        assert!(letters > 500, "both lines in the foreground colour: {letters}");
        assert!(img.pixels().all(|p| p.0 == [16, 32, 48] || p.0 == [250, 200, 0]), "no shadow on a plain background");
    }
}
