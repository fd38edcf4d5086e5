//! Fuzzes the HAR reader (`HarReplay::from_slice`, which `--replay` and
//! `--demo` use).
//!
//! Two modes, chosen by the first byte:
//! - any bytes: no panic; an error is a configuration error with a message;
//! - a HAR document built from fuzzer-chosen entries (methods, URLs,
//!   statuses, headers with odd names and values, bodies in text, base64
//!   and gzip or deflate, request bodies and ranges, missing and extra
//!   fields): a document missing a required field is refused, any other is
//!   read, and the number of responses it serves counts every entry that
//!   can be served and none that cannot.

#![no_main]

use std::io::Write;

use base64::Engine as _;
use buildkite_api::Error;
use buildkite_api::har::HarReplay;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

/// Whether an entry can be served, by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Servable {
    Yes,
    No,
    /// Built from arbitrary text: either.
    Maybe,
}

impl Servable {
    fn and(self, other: Servable) -> Servable {
        match (self, other) {
            (Servable::No, _) | (_, Servable::No) => Servable::No,
            (Servable::Maybe, _) | (_, Servable::Maybe) => Servable::Maybe,
            _ => Servable::Yes,
        }
    }
}

fn any_bytes(data: &[u8]) {
    match HarReplay::from_slice(data) {
        Ok(replay) => assert_eq!(replay.is_empty(), replay.len() == 0),
        Err(Error::Config(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("not a configuration error: {other:?}"),
    }
}

fn method(u: &mut Unstructured<'_>) -> Result<(String, Servable)> {
    Ok(match u.int_in_range(0..=9)? {
        0 => (String::new(), Servable::No),
        1 => ("GE T".to_owned(), Servable::No),
        2 => ("G\u{e9}T".to_owned(), Servable::No),
        3 => (u.arbitrary::<String>()?, Servable::Maybe),
        _ => (
            u.choose(&[
                "GET", "get", "POST", "PUT", "DELETE", "HEAD", "patch", "PURGE",
            ])?
            .to_string(),
            Servable::Yes,
        ),
    })
}

fn url(u: &mut Unstructured<'_>) -> Result<(String, Servable)> {
    Ok(match u.int_in_range(0..=7)? {
        0 => ("http://[::1".to_owned(), Servable::No),
        1 => ("https://exa mple.com:99999/".to_owned(), Servable::No),
        2 => (u.arbitrary::<String>()?, Servable::Maybe),
        n => {
            let origin = if n == 3 {
                ""
            } else {
                *u.choose(&[
                    "https://api.buildkite.com",
                    "http://127.0.0.1:8080",
                    "HTTPS://API.BUILDKITE.COM:443",
                ])?
            };
            let mut url = format!("{origin}/v2");
            for _ in 0..u.int_in_range(0..=4)? {
                url.push('/');
                url.push_str(&u.arbitrary::<String>()?.replace(['#', '?', '%'], "_"));
            }
            if u.ratio(1, 2)? {
                url.push('?');
                url.push_str(&u.arbitrary::<String>()?.replace('#', "_"));
            }
            (url, Servable::Yes)
        }
    })
}

fn status(u: &mut Unstructured<'_>) -> Result<(Value, Servable)> {
    Ok(match u.int_in_range(0..=6)? {
        0 => (json!(0), Servable::No),
        1 => (json!(u.int_in_range(1..=99u16)?), Servable::No),
        2 => (json!(u.int_in_range(1000..=u16::MAX)?), Servable::No),
        _ => (json!(u.int_in_range(100..=999u16)?), Servable::Yes),
    })
}

fn headers(u: &mut Unstructured<'_>, range: bool) -> Result<Value> {
    let mut list = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let name = match u.int_in_range(0..=5)? {
            0 => u.arbitrary::<String>()?,
            1 if range => " Range ".to_owned(),
            _ => u
                .choose(&[
                    "Content-Type",
                    "content-encoding",
                    "Content-Length",
                    "Link",
                    "RateLimit-Remaining",
                    "Retry-After",
                    "Transfer-Encoding",
                    "x-\u{1f600}",
                    "",
                ])?
                .to_string(),
        };
        let value = match u.int_in_range(0..=3)? {
            0 => u
                .choose(&["gzip", "deflate", "x-gzip", " GZIP ", "br", "bytes=-65536"])?
                .to_string(),
            _ => u.arbitrary::<String>()?,
        };
        list.push(json!({"name": name, "value": value}));
    }
    Ok(Value::Array(list))
}

fn compress(kind: u8, data: &[u8]) -> Vec<u8> {
    let result = match kind % 2 {
        0 => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(data).and_then(|()| encoder.finish())
        }
        _ => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(data).and_then(|()| encoder.finish())
        }
    };
    result.expect("compressing into memory")
}

/// The `content` object and whether its body can be read.
fn content(u: &mut Unstructured<'_>, headers: &mut Value) -> Result<(Value, Servable)> {
    let body: Vec<u8> = u.arbitrary()?;
    let mut content = Map::new();
    let servable = match u.int_in_range(0..=6)? {
        0 => Servable::Yes,
        1 => {
            content.insert("text".into(), json!(String::from_utf8_lossy(&body)));
            Servable::Yes
        }
        2 => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
            content.insert("text".into(), json!(format!(" {encoded}\n")));
            content.insert("encoding".into(), json!("Base64"));
            Servable::Yes
        }
        3 => {
            // Compressed on the wire, as some recorders store it.
            let kind = u.arbitrary::<u8>()?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(compress(kind, &body));
            content.insert("text".into(), json!(encoded));
            content.insert("encoding".into(), json!("base64"));
            if let Value::Array(list) = headers {
                let name = if kind % 2 == 0 { "gzip" } else { "deflate" };
                list.push(json!({"name": "Content-Encoding", "value": name}));
            }
            Servable::Yes
        }
        4 => {
            content.insert("text".into(), json!("not base64!"));
            content.insert("encoding".into(), json!("base64"));
            Servable::No
        }
        5 => {
            content.insert("text".into(), json!(u.arbitrary::<String>()?));
            content.insert("encoding".into(), json!(u.arbitrary::<String>()?));
            Servable::Maybe
        }
        _ => {
            content.insert("text".into(), json!(String::from_utf8_lossy(&body)));
            content.insert("encoding".into(), json!("quoted-printable"));
            Servable::Yes
        }
    };
    if u.ratio(1, 3)? {
        content.insert("size".into(), json!(u.arbitrary::<i64>()?));
        content.insert("mimeType".into(), json!(u.arbitrary::<String>()?));
    }
    Ok((Value::Object(content), servable))
}

/// One entry, whether it can be served, and whether it lacks a required
/// field (which makes the whole file unreadable).
fn entry(u: &mut Unstructured<'_>) -> Result<(Value, Servable, bool)> {
    let (method, mut servable) = method(u)?;
    let (url, url_ok) = url(u)?;
    let (status, status_ok) = status(u)?;
    servable = servable.and(url_ok).and(status_ok);
    let mut request = Map::new();
    request.insert("method".into(), json!(method));
    request.insert("url".into(), json!(url));
    request.insert("headers".into(), headers(u, true)?);
    if u.ratio(1, 3)? {
        let text = if u.ratio(1, 2)? {
            json!({"branch": u.arbitrary::<String>()?, "env": {"B": "2", "A": "1"}}).to_string()
        } else {
            u.arbitrary::<String>()?
        };
        request.insert(
            "postData".into(),
            json!({"mimeType": "application/json", "text": text}),
        );
    }
    let mut response_headers = headers(u, false)?;
    let (content, content_ok) = content(u, &mut response_headers)?;
    servable = servable.and(content_ok);
    let mut response = Map::new();
    response.insert("status".into(), status);
    response.insert("headers".into(), response_headers);
    response.insert("content".into(), content);
    if u.ratio(1, 4)? {
        response.insert("statusText".into(), json!("OK"));
        response.insert("redirectURL".into(), json!(""));
        response.insert("bodySize".into(), json!(-1));
        response.insert("unknownField".into(), json!([1, {"x": null}]));
    }
    let mut entry = Map::new();
    if u.ratio(1, 3)? {
        entry.insert("startedDateTime".into(), json!("2026-01-01T00:00:00Z"));
        entry.insert("time".into(), json!(u.arbitrary::<u16>()?));
        entry.insert(
            "timings".into(),
            json!({"wait": 1.5, "send": 0, "receive": 0}),
        );
    }
    // Leave out a required field now and then.
    let mut missing = false;
    match u.int_in_range(0..=40)? {
        0 => {
            request.remove("method");
            missing = true;
        }
        1 => {
            request.remove("url");
            missing = true;
        }
        2 => {
            response.remove("status");
            missing = true;
        }
        3 => {
            response.insert("status".into(), json!(-1));
            missing = true;
        }
        _ => {}
    }
    entry.insert("request".into(), Value::Object(request));
    entry.insert("response".into(), Value::Object(response));
    Ok((Value::Object(entry), servable, missing))
}

fn built(u: &mut Unstructured<'_>) -> Result<()> {
    let mut entries = Vec::new();
    let (mut yes, mut maybe, mut broken) = (0, 0, false);
    for _ in 0..u.int_in_range(0..=8)? {
        let (entry, servable, missing) = entry(u)?;
        match servable {
            Servable::Yes => yes += 1,
            Servable::Maybe => maybe += 1,
            Servable::No => {}
        }
        broken |= missing;
        entries.push(entry);
    }
    let mut log = json!({"version": "1.2", "creator": {"name": "fuzz", "version": "0"}});
    if !entries.is_empty() || u.ratio(1, 2)? {
        log["entries"] = Value::Array(entries);
    }
    let file = json!({ "log": log });
    let bytes = serde_json::to_vec(&file).expect("a Value serialises");
    match HarReplay::from_slice(&bytes) {
        Ok(replay) => {
            assert!(!broken, "a file missing a required field was read");
            assert!(
                (yes..=yes + maybe).contains(&replay.len()),
                "{} responses served, expected {yes} to {}",
                replay.len(),
                yes + maybe
            );
        }
        Err(Error::Config(message)) => {
            assert!(broken, "a valid file was refused: {message}");
            assert!(message.starts_with("not a HAR 1.2 file"), "{message}");
        }
        Err(other) => panic!("not a configuration error: {other:?}"),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        any_bytes(rest);
    } else {
        let _ = built(&mut Unstructured::new(rest));
    }
});
