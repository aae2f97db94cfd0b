//! The upload pipeline up to storage, one pure step after another:
//! size limit → type and integrity (`sniff`) → optional compression → privacy (`exif`) →
//! content hash.
//! Nothing is stored until every file of a request has passed.

use crate::app::{App, Platform};
use crate::base::digest::Digests;
use crate::base::error::ApiError;
use crate::budget;
use crate::config::Config;
use crate::index::pools::{check_label, parse_tags};
use crate::library::edit::base_name;
use crate::library::render::{render, Source};
use crate::platform::Images;
use crate::sniff::exif;
use crate::sniff::{sniff, Format, Sniffed};
use crate::transform::compress::compress;
use crate::transform::engine::Which;
use crate::transform::options::OutFormat;

/// A file as it arrived: the name the client claimed, and the bytes.
#[derive(Debug, Clone)]
pub struct IncomingFile {
    pub name: Option<String>,
    pub bytes: Vec<u8>,
}

/// Upload compression of a JPEG by Cloudflare Images, when the binding is there: the re-encode
/// happens outside the Worker, so `compress=true` fits the Free plan's CPU. Answers the file to
/// check (compressed, or as it came) and the size it came with when it was compressed; PNGs
/// (palette quantising), turned JPEGs and everything else stay with the wasm pipeline in
/// [`prepare`].
pub async fn compress_with_images<P: Platform>(app: &App<P>, file: IncomingFile, options: &UploadOptions) -> Result<(IncomingFile, Option<u64>), ApiError> {
    let c = &app.config;
    let engine = crate::transform::engine::choose(c.transform_engine, app.images.bound(), Format::Jpeg, OutFormat::Jpeg);
    if !c.compresses(options.compress) || engine != Ok(Which::Images) || file.bytes.len() as u64 > c.input_limit(true) {
        return Ok((file, None));
    }
    let Ok(sniffed) = sniff(&file.bytes) else { return Ok((file, None)) };
    if sniffed.format != Format::Jpeg || sniffed.exif_orientation > 1 || budget::JpegFrame::read(&file.bytes).is_none() {
        return Ok((file, None));
    }
    let (opts, needs_shrink) = crate::transform::compress::plan(&sniffed, options.quality.unwrap_or(c.compress_quality), options.max_side);
    let source = Source::Bytes { bytes: &file.bytes, sniffed: &sniffed };
    let (out, _) = render(app, source, &opts, OutFormat::Jpeg, Which::Images).await?;
    let size = file.bytes.len() as u64;
    if out.len() as u64 >= size && !needs_shrink {
        return Ok((file, None));
    }
    Ok((IncomingFile { name: file.name, bytes: out }, Some(size)))
}

/// Choices a client may make per upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadOptions {
    pub album: Option<String>,
    pub tags: Vec<String>,
    /// Keep EXIF even when the server strips it by default.
    pub keep_exif: bool,
    /// `compress=true|false`; the server default (`COMPRESS_UPLOADS`) when absent.
    pub compress: Option<bool>,
    /// JPEG quality for compression, 1–100 (`quality=`).
    pub quality: Option<u8>,
    /// Cap on the longest side when compressing (`max_side=`).
    pub max_side: Option<u32>,
    /// Storage channel for this upload (`channel=r2|telegram`), when more than one exists.
    pub channel: Option<String>,
    /// MD5 and SHA-1 are computed too: the client's protocol shows them (not a form field).
    pub legacy_digests: bool,
}

impl UploadOptions {
    /// Reads `album`, `tags` and `keep_exif` from a field lookup (query string or form).
    pub fn from_fields(field: impl Fn(&str) -> Option<String>) -> Result<UploadOptions, ApiError> {
        let album = field("album").map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
        if let Some(a) = &album {
            check_label("album", a)?;
        }
        let tags = parse_tags(field("tags").as_deref().unwrap_or("").split(','))?;
        let flag = |name: &str| match field(name).as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some("false" | "0") => Ok(Some(false)),
            Some("true" | "1") => Ok(Some(true)),
            Some(v) => Err(ApiError::bad_request("bad_parameter", format!("{name} must be true or false, not {v:?}"))),
        };
        let number = |name: &str, lo: u32, hi: u32| match field(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .map(Some)
                .ok_or_else(|| ApiError::bad_request("bad_parameter", format!("{name}={v:?} is not valid: expected a number from {lo} to {hi}"))),
        };
        Ok(UploadOptions {
            album,
            tags,
            keep_exif: flag("keep_exif")?.unwrap_or(false),
            compress: flag("compress")?,
            quality: number("quality", 1, 100)?.map(|q| q as u8),
            max_side: number("max_side", 16, 16_384)?,
            channel: match field("channel").map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()) {
                Some(c) if c == "r2" || c == "telegram" => Some(c),
                Some(c) => return Err(ApiError::bad_request("bad_parameter", format!("channel must be r2 or telegram, not {c:?}"))),
                None => None,
            },
            legacy_digests: false,
        })
    }
}

/// A file that passed every check and is ready to store.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub name: String,
    pub bytes: Vec<u8>,
    pub sniffed: Sniffed,
    pub sha256: String,
    pub md5: String,
    pub sha1: String,
    /// Size as uploaded, before compression.
    pub original_bytes: u64,
}

/// Checks one file and makes it ready to store. The file's bytes are held once: compression
/// replaces them, EXIF is stripped in place, and the digests are the runtime's (see
/// [`crate::base::digest`]).
pub async fn prepare(file: IncomingFile, config: &Config, options: &UploadOptions) -> Result<Prepared, ApiError> {
    prepare_from(file, config, options, None).await
}

/// [`prepare`] for a file [`compress_with_images`] already compressed from `compressed_from`
/// bytes (then it is not compressed again), or, with `None`, for a file as it came.
pub async fn prepare_from(file: IncomingFile, config: &Config, options: &UploadOptions, compressed_from: Option<u64>) -> Result<Prepared, ApiError> {
    let compressing = config.compresses(options.compress);
    let size = file.bytes.len() as u64;
    if size > config.input_limit(compressing) {
        return Err(ApiError::too_large_compressible(config.input_limit(compressing), size, config.input_limit(true)));
    }
    if file.bytes.is_empty() {
        return Err(ApiError::bad_request("empty_file", "the file is empty"));
    }
    let mut sniffed = sniff(&file.bytes)?;
    if !config.accepts(sniffed.format) {
        let names: Vec<&str> = config.allowed_formats.iter().map(|f| f.ext()).collect();
        return Err(ApiError::unsupported_type(format!("this site accepts {} images only; this file is {}", names.join(", "), sniffed.format.ext())));
    }
    budget::check_upload_size(sniffed.width, sniffed.height)?;
    if sniffed.format == Format::Jpeg && budget::JpegFrame::read(&file.bytes).is_none() {
        return Err(ApiError::unsupported_type("this JPEG is of a kind browsers cannot show (lossless, arithmetic-coded or 12-bit)"));
    }
    let original_bytes = compressed_from.unwrap_or(size);
    let mut bytes = file.bytes;
    let mut compressed = compressed_from.is_some();
    if compressing && !compressed {
        let quality = options.quality.unwrap_or(config.compress_quality);
        if let Some(smaller) = compress(&bytes, &sniffed, quality, options.max_side)? {
            bytes = smaller;
            sniffed = sniff(&bytes)?;
            compressed = true;
        }
    }
    if bytes.len() as u64 > config.max_upload_bytes {
        let mut e = ApiError::too_large(config.max_upload_bytes);
        e.message = match compressed {
            true => format!(
                "{}: compressed to {}×{}, {}, it is still over; try a smaller max_side or a lower quality",
                e.message,
                sniffed.width,
                sniffed.height,
                crate::base::error::human_bytes(bytes.len() as u64)
            ),
            false => format!("{}: compression could not make it smaller; try max_side=2560", e.message),
        };
        return Err(e);
    }
    if sniffed.format == Format::Jpeg && config.strip_exif && !options.keep_exif {
        exif::strip_jpeg_in_place(&mut bytes, sniffed.exif_orientation);
    }
    let Digests { sha256, sha1, md5 } = crate::base::digest::of(&bytes, options.legacy_digests).await?;
    Ok(Prepared { name: base_name(file.name.as_deref(), sniffed.format), sha256, md5, sha1, original_bytes, bytes, sniffed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sniff::tests::{tiny_jpeg, tiny_png};

    #[test]
    fn names_lose_their_paths() {
        assert_eq!(base_name(Some("C:\\Users\\me\\cat.png"), Format::Png), "cat.png");
        assert_eq!(base_name(Some("../../etc/passwd"), Format::Png), "passwd");
        assert_eq!(base_name(Some("dir/"), Format::Gif), "image.gif");
        assert_eq!(base_name(None, Format::Jpeg), "image.jpg");
    }

    #[test]
    fn over_the_limit_is_413() {
        let config = Config { max_upload_bytes: 10, ..Config::default() };
        let e = pollster::block_on(prepare(IncomingFile { name: None, bytes: tiny_png() }, &config, &UploadOptions::default())).unwrap_err();
        assert_eq!(e.status, 413);
        assert!(e.message.contains("10 B"));
    }

    #[test]
    fn exif_is_stripped_unless_asked_to_keep() {
        let config = Config::default();
        let file = || IncomingFile { name: Some("p.jpg".into()), bytes: tiny_jpeg(6) };
        let stripped = pollster::block_on(prepare(file(), &config, &UploadOptions::default())).unwrap();
        assert!(!stripped.bytes.windows(3).any(|w| w == b"GPS"));
        assert_eq!(stripped.sniffed.exif_orientation, 6);
        let kept = pollster::block_on(prepare(file(), &config, &UploadOptions { keep_exif: true, ..Default::default() })).unwrap();
        assert_eq!(kept.bytes, tiny_jpeg(6));
    }

    #[test]
    fn options_are_validated() {
        let o = UploadOptions::from_fields(|k| (k == "tags").then(|| "Cats, dogs ,".to_string())).unwrap();
        assert_eq!(o.tags, vec!["cats", "dogs"]);
        let o = UploadOptions::from_fields(|k| (k == "tags").then(|| "dup,DUP, Dup ,猫".to_string())).unwrap();
        assert_eq!(o.tags, vec!["dup", "猫"]);
        for bad in ["x|o:landscape", "a:b", "a/b"] {
            assert_eq!(UploadOptions::from_fields(|k| (k == "album").then(|| bad.to_string())).unwrap_err().status, 400, "{bad}");
            assert_eq!(UploadOptions::from_fields(|k| (k == "tags").then(|| bad.to_string())).unwrap_err().status, 400, "{bad}");
        }
        let many = (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(UploadOptions::from_fields(|k| (k == "tags").then(|| many.clone())).unwrap_err().status, 400);
        assert_eq!(UploadOptions::from_fields(|k| (k == "album").then(|| "a/b".to_string())).unwrap_err().status, 400);
        assert_eq!(UploadOptions::from_fields(|k| (k == "keep_exif").then(|| "maybe".to_string())).unwrap_err().status, 400);
    }
}
