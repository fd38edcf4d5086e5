//! Fuzzes the `Link` header parser (`PageLinks::parse`, through
//! `Page::from_parts`, the public way in).
//!
//! Two modes, chosen by the first byte:
//! - any text: no panic; every link found is text that stood between `<`
//!   and `>` in the header; a page number is the link's `page` query
//!   parameter, when it is a `u32`;
//! - a header built from fuzzer-chosen entries (URLs with commas and
//!   arbitrary queries, relation lists quoted or not, in any case, spaces
//!   and tabs, other parameters, empty entries): the parser must find
//!   exactly the links RFC 8288 gives (relation types compared without
//!   case, the last entry of a relation winning) and their page numbers.

#![no_main]

use buildkite_api::{Page, PageLinks};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// The `page` query parameter of `link`, if it is a `u32`: what a page
/// number means, read with the `url` crate.
fn page_of(link: &Option<String>) -> Option<u32> {
    let url = url::Url::parse(link.as_deref()?).ok()?;
    let (_, page) = url.query_pairs().find(|(name, _)| name == "page")?;
    page.parse().ok()
}

fn check_numbers(page: &Page<()>) {
    assert_eq!(page.next_page, page_of(&page.links.next), "{page:?}");
    assert_eq!(page.prev_page, page_of(&page.links.prev), "{page:?}");
    assert_eq!(page.first_page, page_of(&page.links.first), "{page:?}");
    assert_eq!(page.last_page, page_of(&page.links.last), "{page:?}");
    assert_eq!(page.has_more(), page.next_page.is_some());
}

/// Any text: the links found are bracketed parts of it.
fn any_text(header: &str) {
    let page: Page<()> = Page::from_parts(Vec::new(), Some(header));
    let links = &page.links;
    for link in [&links.next, &links.prev, &links.first, &links.last]
        .into_iter()
        .flatten()
    {
        assert!(
            header.contains(&format!("<{link}>")),
            "{link:?} is not a bracketed part of {header:?}"
        );
        assert!(!link.contains('>'), "{link:?}");
    }
    check_numbers(&page);
}

/// Characters safe in a query name or value (no percent-decoding, no `+`,
/// no `&`, `=` or `#`), and commas, which a URL may hold.
const QUERY: &[u8] = b"abcpgxyz0123456789_-.,~";
/// Characters of another parameter's value (no `,`, `;`, `<` or `>`).
const PARAM: &[u8] = b"abcdefXYZ0123 /=.-\"";

fn text_from(u: &mut Unstructured<'_>, alphabet: &[u8], max: usize) -> Result<String> {
    let len = u.int_in_range(0..=max)?;
    (0..len)
        .map(|_| u.choose(alphabet).map(|&b| char::from(b)))
        .collect()
}

fn space(u: &mut Unstructured<'_>) -> Result<&'static str> {
    u.choose(&["", "", " ", "  ", "\t"]).copied()
}

/// A URL, and its query as the fuzzer chose it.
fn url(u: &mut Unstructured<'_>) -> Result<String> {
    let mut url = u
        .choose(&[
            "https://api.buildkite.com/v2/organizations/acme/builds",
            "http://127.0.0.1:9/v2/organizations/a,b/agents",
            "https://api.buildkite.com/v2/x",
        ])?
        .to_string();
    let pairs = u.int_in_range(0..=4)?;
    for i in 0..pairs {
        url.push(if i == 0 { '?' } else { '&' });
        let name = if u.ratio(1, 2)? {
            "page".to_owned()
        } else {
            text_from(u, QUERY, 6)?
        };
        let value = match u.int_in_range(0..=4)? {
            0 => u.arbitrary::<u32>()?.to_string(),
            1 => u.arbitrary::<u64>()?.to_string(),
            2 => u.int_in_range(0..=20u32)?.to_string(),
            3 => format!("-{}", u.arbitrary::<u8>()?),
            _ => text_from(u, QUERY, 8)?,
        };
        url.push_str(&name);
        url.push('=');
        url.push_str(&value);
    }
    Ok(url)
}

/// A relation type as written, and what it means, if it is one of the four.
fn relation(u: &mut Unstructured<'_>) -> Result<(String, Option<usize>)> {
    let (name, slot) = *u.choose(&[
        ("next", Some(0)),
        ("prev", Some(1)),
        ("previous", Some(1)),
        ("first", Some(2)),
        ("last", Some(3)),
        ("self", None),
        ("alternate", None),
        ("nextpage", None),
        ("https://example.com/rel/next", None),
    ])?;
    let written = match u.int_in_range(0..=3)? {
        0 => name.to_ascii_uppercase(),
        1 => name
            .char_indices()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
        _ => name.to_owned(),
    };
    Ok((written, slot))
}

/// A header from entries the fuzzer chose, and the links it must give.
fn built(u: &mut Unstructured<'_>) -> Result<(String, [Option<String>; 4])> {
    let mut expected: [Option<String>; 4] = Default::default();
    let mut entries = Vec::new();
    let count = u.int_in_range(0..=6)?;
    for _ in 0..count {
        if u.ratio(1, 10)? {
            entries.push(space(u)?.to_owned());
            continue;
        }
        let url = url(u)?;
        let mut entry = format!("{}<{url}>", space(u)?);
        let mut rel_written = false;
        let params = u.int_in_range(0..=3)?;
        for _ in 0..params {
            entry.push_str(space(u)?);
            entry.push(';');
            entry.push_str(space(u)?);
            // RFC 8288: only the first `rel` of a link counts; write one.
            if !rel_written && u.ratio(3, 4)? {
                rel_written = true;
                let key = u.choose(&["rel", "REL", "Rel"])?;
                let mut words = Vec::new();
                let mut slots = Vec::new();
                for _ in 0..u.int_in_range(1..=3)? {
                    let (written, slot) = relation(u)?;
                    words.push(written);
                    slots.extend(slot);
                }
                let words = words.join(u.choose(&[" ", "  ", "\t"])?);
                // A list of several must be quoted; one may be.
                let value = if words.contains([' ', '\t']) || u.ratio(1, 2)? {
                    format!("\"{}{words}{}\"", space(u)?, space(u)?)
                } else {
                    words
                };
                entry.push_str(&format!("{key}{}={}{value}", space(u)?, space(u)?));
                for slot in slots {
                    expected[slot] = Some(url.clone());
                }
            } else {
                let key = u.choose(&["title", "type", "anchor", "hreflang", "relx"])?;
                entry.push_str(&format!("{key}={}", text_from(u, PARAM, 10)?));
            }
        }
        entry.push_str(space(u)?);
        entries.push(entry);
    }
    Ok((entries.join(","), expected))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        any_text(&String::from_utf8_lossy(rest));
        return;
    }
    let mut u = Unstructured::new(rest);
    let Ok((header, expected)) = built(&mut u) else {
        return;
    };
    any_text(&header);
    let links = PageLinks::parse(&header);
    let [next, prev, first, last] = expected;
    let want = PageLinks {
        next,
        prev,
        first,
        last,
    };
    assert_eq!(links, want, "header {header:?}");
    let page: Page<()> = Page::from_parts(Vec::new(), Some(&header));
    assert_eq!(page.links, want);
    check_numbers(&page);
});
