//! Pixel operations after decoding: orientation, rotate and flip, crop and pad by gravity,
//! blur, sharpen, greyscale.

use super::options::Gravity;
use image::{imageops, DynamicImage, GenericImageView, Rgba, RgbaImage};

/// Applies an EXIF orientation (1–8) so the pixels stand the way the photo is shown.
pub fn orient(img: DynamicImage, orientation: u16) -> DynamicImage {
    match orientation {
        2 => img.fliph(),
        3 => img.rotate180(),
        4 => img.flipv(),
        5 => img.rotate90().fliph(),
        6 => img.rotate90(),
        7 => img.rotate270().fliph(),
        8 => img.rotate270(),
        _ => img,
    }
}

pub fn rotate(img: DynamicImage, degrees: u16) -> DynamicImage {
    match degrees {
        90 => img.rotate90(),
        180 => img.rotate180(),
        270 => img.rotate270(),
        _ => img,
    }
}

/// Where a `part`-sized window goes inside `whole` along one axis.
fn offset(whole: u32, part: u32, start: bool, end: bool) -> u32 {
    let room = whole.saturating_sub(part);
    if start {
        0
    } else if end {
        room
    } else {
        room / 2
    }
}

/// Crops to `w`×`h`; `Gravity::Auto` keeps the window with the most edge detail.
pub fn crop(img: DynamicImage, (w, h): (u32, u32), gravity: Gravity) -> DynamicImage {
    let (iw, ih) = img.dimensions();
    let (x, y) = match gravity {
        Gravity::Auto => busiest_window(&img, (w, h)),
        g => (offset(iw, w, g == Gravity::Left, g == Gravity::Right), offset(ih, h, g == Gravity::Top, g == Gravity::Bottom)),
    };
    img.crop_imm(x, y, w.min(iw), h.min(ih))
}

/// Slides the window along the axis with room to spare and keeps the position with the
/// largest sum of luminance gradients: faces, text and subjects beat sky and walls.
fn busiest_window(img: &DynamicImage, (w, h): (u32, u32)) -> (u32, u32) {
    let luma = img.to_luma8();
    let (iw, ih) = luma.dimensions();
    let horizontal = iw > w;
    let (len, win) = if horizontal { (iw, w) } else { (ih, h) };
    if len <= win {
        return (0, 0);
    }
    // Edge energy per column (or row).
    let mut energy = vec![0u64; len as usize];
    for y in 1..ih {
        for x in 1..iw {
            let p = luma.get_pixel(x, y)[0] as i32;
            let e = (p - luma.get_pixel(x - 1, y)[0] as i32).unsigned_abs() + (p - luma.get_pixel(x, y - 1)[0] as i32).unsigned_abs();
            energy[if horizontal { x } else { y } as usize] += e as u64;
        }
    }
    let mut sum: u64 = energy[..win as usize].iter().sum();
    let (mut best, mut best_at) = (sum, 0);
    for start in 1..=(len - win) as usize {
        sum = sum + energy[start + win as usize - 1] - energy[start - 1];
        if sum > best {
            best = sum;
            best_at = start as u32;
        }
    }
    if horizontal {
        (best_at, offset(ih, h, false, false))
    } else {
        (offset(iw, w, false, false), best_at)
    }
}

/// Places the image on a `w`×`h` canvas of `background`.
pub fn pad(img: DynamicImage, (w, h): (u32, u32), gravity: Gravity, background: [u8; 4]) -> DynamicImage {
    let (iw, ih) = img.dimensions();
    let x = offset(w, iw, gravity == Gravity::Left, gravity == Gravity::Right);
    let y = offset(h, ih, gravity == Gravity::Top, gravity == Gravity::Bottom);
    let mut canvas = RgbaImage::from_pixel(w, h, Rgba(background));
    imageops::overlay(&mut canvas, &img.to_rgba8(), x as i64, y as i64);
    if background[3] == 255 && !img.color().has_alpha() {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(canvas).to_rgb8())
    } else {
        DynamicImage::ImageRgba8(canvas)
    }
}

/// `blur` 1–250 is a radius in pixels, as at Cloudflare.
pub fn blur(img: DynamicImage, radius: f32) -> DynamicImage {
    img.fast_blur(radius / 2.0)
}

/// `sharpen` 0–10: an unsharp mask whose strength grows with the value.
pub fn sharpen(img: DynamicImage, amount: f32) -> DynamicImage {
    if amount <= 0.0 {
        return img;
    }
    img.unsharpen(0.5 + amount / 4.0, (10.0 - amount).max(0.0) as i32)
}

pub fn gray(img: DynamicImage) -> DynamicImage {
    if img.color().has_alpha() {
        DynamicImage::ImageLumaA8(img.to_luma_alpha8()).into_rgba8().into()
    } else {
        DynamicImage::ImageLuma8(img.to_luma8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    #[test]
    fn orientations_swap_axes_where_they_should() {
        let img = DynamicImage::ImageRgb8(RgbImage::new(4, 2));
        for (o, dims) in [(1, (4, 2)), (3, (4, 2)), (5, (2, 4)), (6, (2, 4)), (8, (2, 4))] {
            assert_eq!(orient(img.clone(), o).dimensions(), dims, "orientation {o}");
        }
    }

    #[test]
    fn auto_gravity_finds_the_detail() {
        // A flat image with a checkerboard on its right third.
        let mut img = RgbImage::from_pixel(300, 100, Rgb([120, 120, 120]));
        for y in 0..100 {
            for x in 200..300 {
                if (x / 4 + y / 4) % 2 == 0 {
                    img.put_pixel(x, y, Rgb([255, 255, 255]));
                }
            }
        }
        let (x, y) = busiest_window(&DynamicImage::ImageRgb8(img), (100, 100));
        assert!(x >= 190, "window at {x}");
        assert_eq!(y, 0);
    }

    #[test]
    fn pad_centres_on_the_background() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(10, 5, Rgb([0, 0, 0])));
        let out = pad(img, (10, 10), Gravity::Center, [255, 0, 0, 255]).to_rgb8();
        assert_eq!(out.dimensions(), (10, 10));
        assert_eq!(out.get_pixel(5, 0), &Rgb([255, 0, 0]));
        assert_eq!(out.get_pixel(5, 5), &Rgb([0, 0, 0]));
    }
}
