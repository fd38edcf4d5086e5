//! Query strings and the small text helpers filters use: decoding and
//! encoding, the parameters a route takes (any other is a 400, so a new
//! client parameter is noticed), page numbers, globs.

use axum::http::StatusCode;
use serde_json::Value;

use super::Miss;

/// Query parameters, percent-decoded, in order.
#[derive(Debug, Default)]
pub(super) struct Query(pub(super) Vec<(String, String)>);

impl Query {
    pub(super) fn parse(query: &str) -> Query {
        Query(
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(name), decode(value))
                })
                .collect(),
        )
    }

    /// The last value of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` and of `name[]`.
    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        let list = format!("{name}[]");
        self.0
            .iter()
            .filter(|(n, _)| *n == name || *n == list)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(super) fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v == "true" || v == "1")
    }

    /// Fails on a parameter not in `allowed` (`name[]` matches `name`;
    /// `prefix[` matches any `prefix[key]`).
    pub(super) fn only(&self, allowed: &[&str]) -> Result<(), Miss> {
        for (name, _) in &self.0 {
            let base = name.strip_suffix("[]").unwrap_or(name);
            let known = allowed.iter().any(|a| {
                *a == base || (a.ends_with('[') && name.starts_with(a) && name.ends_with(']'))
            });
            if !known {
                return Err(Miss {
                    status: StatusCode::BAD_REQUEST,
                    message: format!("the fake API does not support the query parameter `{name}`"),
                    why: format!("unsupported query parameter `{name}`"),
                });
            }
        }
        Ok(())
    }

    /// `page` (from 1) and `per_page` (30 by default, at most 100).
    pub(super) fn page(&self) -> Result<(usize, usize), Miss> {
        let number = |name: &str, default: usize| -> Result<usize, Miss> {
            match self.get(name) {
                None => Ok(default),
                Some(text) => text.parse::<usize>().map_err(|_| Miss {
                    status: StatusCode::BAD_REQUEST,
                    message: format!("`{name}` must be a number"),
                    why: format!("`{name}` is not a number"),
                }),
            }
        };
        Ok((
            number("page", 1)?.max(1),
            number("per_page", 30)?.clamp(1, 100),
        ))
    }
}

/// Percent-decodes a query component (`+` is a space).
pub(super) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query component.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A string field of `value` (`""` when it is not one).
pub(super) fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

/// Whether `haystack` contains `needle`, ignoring case (any, without one).
pub(super) fn contains(haystack: &str, needle: Option<&str>) -> bool {
    needle.is_none_or(|n| haystack.to_lowercase().contains(&n.to_lowercase()))
}

/// `*` matches any run of characters (including `/`).
pub(super) fn glob(pattern: &str, path: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == path;
    }
    let mut rest = path;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_decoding() {
        assert!(glob("coverage/*", "coverage/index.html"));
        assert!(glob("*.log", "log/test.log"));
        assert!(!glob("*.png", "log/test.log"));
        assert_eq!(decode("state%5B%5D"), "state[]");
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(encode("feature/x y"), "feature%2Fx%20y");
    }

    #[test]
    fn parameters_lists_flags_and_pages() {
        let q =
            Query::parse("state%5B%5D=failed&state=passed&flag=1&meta_data%5Bk%5D=v&per_page=500");
        assert_eq!(q.all("state"), ["failed", "passed"]);
        assert_eq!(q.flag("flag"), Some(true));
        assert!(q.only(&["state", "flag", "meta_data[", "per_page"]).is_ok());
        let refused = q
            .only(&["state", "flag", "per_page"])
            .err()
            .map(|m| m.status);
        assert_eq!(refused, Some(StatusCode::BAD_REQUEST));
        assert_eq!(q.page().ok(), Some((1, 100)));
        assert!(Query::parse("page=x").page().is_err());
    }
}
