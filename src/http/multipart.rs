//! `multipart/form-data` parsing (RFC 7578) over a body already in memory.
//!
//! Parts borrow from the body, so a 5 MiB upload is never copied while it is being taken apart.

use crate::base::error::ApiError;
use memchr::memmem;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

impl Part<'_> {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.data).trim().to_string()
    }
}

fn malformed(why: &str) -> ApiError {
    ApiError::bad_request("malformed_multipart", format!("the multipart body could not be read: {why}"))
}

/// The `boundary` parameter of a `multipart/form-data` content type, if that is what it is.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, ApiError> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(malformed("the boundary is missing or too long"));
    }
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(next_delim.as_bytes());
    let mut at = memmem::find(body, delim.as_bytes()).ok_or_else(|| malformed("no part starts with the boundary"))? + delim.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        let rest = rest.strip_prefix(b"\r\n").ok_or_else(|| malformed("a boundary is not followed by a line break"))?;
        let head_len = memmem::find(rest, b"\r\n\r\n").ok_or_else(|| malformed("a part's headers never end"))?;
        let head = std::str::from_utf8(&rest[..head_len]).map_err(|_| malformed("a part's headers are not text"))?;
        let data_start = at + 2 + head_len + 4;
        let data_len = finder.find(&body[data_start..]).ok_or_else(|| malformed("the body ends before the closing boundary (was the upload cut off?)"))?;
        parts.push(part_from_headers(head, &body[data_start..data_start + data_len])?);
        at = data_start + data_len + next_delim.len();
    }
}

fn part_from_headers<'a>(head: &str, data: &'a [u8]) -> Result<Part<'a>, ApiError> {
    let mut part = Part { name: String::new(), filename: None, content_type: None, data };
    let mut saw_disposition = false;
    for line in head.split("\r\n") {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("content-type") {
            part.content_type = Some(v.trim().to_string());
        } else if k.trim().eq_ignore_ascii_case("content-disposition") {
            saw_disposition = true;
            for (key, value) in disposition_params(v) {
                match key.as_str() {
                    "name" => part.name = value,
                    "filename" if part.filename.is_none() => part.filename = Some(value),
                    // RFC 5987 form wins over the plain one.
                    "filename*" => part.filename = Some(decode_ext_value(&value)),
                    _ => {}
                }
            }
        }
    }
    if !saw_disposition {
        return Err(malformed("a part has no Content-Disposition header"));
    }
    Ok(part)
}

/// Splits `form-data; name="a"; filename="b;c.png"` into key/value pairs, honouring quotes.
fn disposition_params(v: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    // Skip the disposition type.
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            return out;
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    // Browsers send Windows paths with bare backslashes (`C:\Users\me\b.gif`);
                    // only `\"` and `\\` are escapes.
                    '\\' if matches!(chars.peek(), Some('"' | '\\')) => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
            }
        } else {
            value = chars.by_ref().take_while(|&c| c != ';').collect::<String>().trim().to_string();
        }
        out.push((key, value));
    }
}

/// `UTF-8''%E5%9B%BE.png` → `图.png`.
fn decode_ext_value(v: &str) -> String {
    let encoded = v.splitn(3, '\'').nth(2).unwrap_or(v);
    percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, filename, data) in parts {
            b.extend_from_slice(b"--XyZ\r\n");
            match filename {
                Some(f) => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
                ),
                None => b.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
            }
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--XyZ--\r\n");
        b
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=XyZ").as_deref(), Some("XyZ"));
        assert_eq!(boundary("Multipart/Form-Data;boundary=\"a b\"").as_deref(), Some("a b"));
        assert_eq!(boundary("application/json"), None);
    }

    #[test]
    fn parses_files_and_fields() {
        let b = body(&[("file", Some("a;b.png"), b"\x89PNG\r\n--not-a-boundary"), ("album", None, b"cats")]);
        let parts = parse(&b, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "file");
        assert_eq!(parts[0].filename.as_deref(), Some("a;b.png"));
        assert_eq!(parts[0].data, b"\x89PNG\r\n--not-a-boundary");
        assert_eq!(parts[1].text(), "cats");
    }

    #[test]
    fn windows_paths_keep_their_backslashes() {
        let b = b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\Users\\me\\Desktop\\b.gif\"\r\n\r\nDATA\r\n--B--";
        let parts = parse(b, "B").unwrap();
        assert_eq!(parts[0].filename.as_deref(), Some("C:\\Users\\me\\Desktop\\b.gif"));
        assert_eq!(crate::library::edit::base_name(parts[0].filename.as_deref(), crate::sniff::Format::Gif), "b.gif");
        let quoted = b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\\\"b.png\"\r\n\r\nDATA\r\n--B--";
        assert_eq!(parse(quoted, "B").unwrap()[0].filename.as_deref(), Some("a\"b.png"));
    }

    #[test]
    fn extended_filename_wins() {
        let b = b"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.png\"; filename*=UTF-8''%E5%9B%BE.png\r\n\r\nDATA\r\n--B--";
        assert_eq!(parse(b, "B").unwrap()[0].filename.as_deref(), Some("图.png"));
    }

    #[test]
    fn cut_off_body_is_an_error() {
        let b = body(&[("file", Some("a.png"), b"12345")]);
        let e = parse(&b[..b.len() - 12], "XyZ").unwrap_err();
        assert_eq!((e.status, e.code), (400, "malformed_multipart"));
        assert!(e.message.contains("cut off"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(parse(b"hello", "XyZ").unwrap_err().status, 400);
        assert_eq!(parse(b"--XyZ\r\nno headers end", "XyZ").unwrap_err().status, 400);
    }
}
