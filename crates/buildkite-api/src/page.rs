//! Pagination: numbered pages with a `Link` header, and cursor pages.
//!
//! Most list endpoints take `?page=N&per_page=M` (at most 100 per page) and
//! describe the neighbouring pages in a `Link` header. [`Page`] parses that
//! header so callers read `next_page` instead of URLs. The jobs and step-upload
//! lists are cursor-paged instead: their body is `{"items": [...], "links":
//! {...}}`, read into [`CursorPage`].
//!
//! [`collect_pages`] and [`collect_cursor_pages`] walk every page up to a cap.

use std::future::Future;

use reqwest::header::{HeaderMap, LINK};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Result;
use crate::rate_limit::RateLimit;

/// The largest `per_page` the API accepts.
pub const MAX_PER_PAGE: u32 = 100;

/// One page of a numbered list.
///
/// ```
/// use buildkite_api::Page;
///
/// let page: Page<u32> = Page::from_parts(
///     vec![1, 2, 3],
///     Some(r#"<https://api.buildkite.com/v2/organizations?page=3&per_page=3>; rel="next", <https://api.buildkite.com/v2/organizations?page=9&per_page=3>; rel="last""#),
/// );
/// assert_eq!(page.next_page, Some(3));
/// assert_eq!(page.last_page, Some(9));
/// assert!(page.has_more());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items on this page, in API order.
    pub items: Vec<T>,
    /// The page number to ask for next, if there is a next page.
    pub next_page: Option<u32>,
    /// The previous page number, if any.
    pub prev_page: Option<u32>,
    /// The first page number, when the API reports it.
    pub first_page: Option<u32>,
    /// The last page number, when the API reports it.
    pub last_page: Option<u32>,
    /// The raw URLs of the `Link` header, by relation.
    pub links: PageLinks,
    /// Rate-limit state after this request.
    pub rate_limit: RateLimit,
}

/// The URLs of a `Link` header, by relation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLinks {
    /// `rel="next"`.
    pub next: Option<String>,
    /// `rel="prev"`.
    pub prev: Option<String>,
    /// `rel="first"`.
    pub first: Option<String>,
    /// `rel="last"`.
    pub last: Option<String>,
}

impl PageLinks {
    /// Parses a `Link` header value: `<url>; rel="next", <url>; rel="last"`.
    /// Unknown relations and malformed entries are ignored.
    pub fn parse(header: &str) -> Self {
        let mut links = PageLinks::default();
        for entry in split_link_entries(header) {
            let entry = entry.trim();
            let Some(rest) = entry.strip_prefix('<') else {
                continue;
            };
            let Some((url, params)) = rest.split_once('>') else {
                continue;
            };
            for param in params.split(';') {
                let Some((key, value)) = param.trim().split_once('=') else {
                    continue;
                };
                if !key.trim().eq_ignore_ascii_case("rel") {
                    continue;
                }
                // RFC 8288: relation types are compared without case.
                for rel in value.trim().trim_matches('"').split_whitespace() {
                    let slot = match rel.to_ascii_lowercase().as_str() {
                        "next" => &mut links.next,
                        "prev" | "previous" => &mut links.prev,
                        "first" => &mut links.first,
                        "last" => &mut links.last,
                        _ => continue,
                    };
                    *slot = Some(url.to_owned());
                }
            }
        }
        links
    }

    fn from_headers(headers: &HeaderMap) -> Self {
        let joined = headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        PageLinks::parse(&joined)
    }
}

/// Splits a `Link` header on the commas between entries, not those inside
/// `<…>` (URLs may contain commas).
fn split_link_entries(header: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0u32;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, c) in header.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts.into_iter()
}

/// Reads a query parameter from a URL.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn page_number(url: &Option<String>) -> Option<u32> {
    query_param(url.as_deref()?, "page")?.parse().ok()
}

impl<T> Page<T> {
    /// Builds a page from its items and a `Link` header value.
    pub fn from_parts(items: Vec<T>, link_header: Option<&str>) -> Self {
        let links = link_header.map(PageLinks::parse).unwrap_or_default();
        Page::with_links(items, links, RateLimit::default())
    }

    pub(crate) fn from_response(items: Vec<T>, headers: &HeaderMap) -> Self {
        Page::with_links(
            items,
            PageLinks::from_headers(headers),
            RateLimit::from_headers(headers),
        )
    }

    fn with_links(items: Vec<T>, links: PageLinks, rate_limit: RateLimit) -> Self {
        Page {
            items,
            next_page: page_number(&links.next),
            prev_page: page_number(&links.prev),
            first_page: page_number(&links.first),
            last_page: page_number(&links.last),
            links,
            rate_limit,
        }
    }

    /// Whether another page follows this one.
    pub fn has_more(&self) -> bool {
        self.next_page.is_some()
    }

    /// Transforms the items, keeping the pagination details.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_page: self.next_page,
            prev_page: self.prev_page,
            first_page: self.first_page,
            last_page: self.last_page,
            links: self.links,
            rate_limit: self.rate_limit,
        }
    }
}

/// The `links` object of a cursor-paged list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorLinks {
    /// This page's URL.
    #[serde(rename = "self", default)]
    pub this: Option<String>,
    /// The next page's URL; absent on the last page.
    #[serde(default)]
    pub next: Option<String>,
    /// The previous page's URL.
    #[serde(default)]
    pub prev: Option<String>,
    /// The first page's URL.
    #[serde(default)]
    pub first: Option<String>,
}

/// One page of a cursor-paged list (jobs, step uploads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorPage<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// Links to the neighbouring pages.
    #[serde(default)]
    pub links: CursorLinks,
    /// Rate-limit state after this request.
    #[serde(skip)]
    pub rate_limit: RateLimit,
}

impl<T> CursorPage<T> {
    /// The `after` cursor that fetches the next page, if there is one.
    pub fn next_cursor(&self) -> Option<String> {
        query_param(self.links.next.as_deref()?, "after")
    }

    /// The `before` cursor that fetches the previous page, if there is one.
    pub fn prev_cursor(&self) -> Option<String> {
        query_param(self.links.prev.as_deref()?, "before")
    }

    /// Whether another page follows this one.
    pub fn has_more(&self) -> bool {
        self.links.next.is_some()
    }
}

/// Items gathered across pages by [`collect_pages`] or [`collect_cursor_pages`].
#[derive(Debug, Clone, PartialEq)]
pub struct Collected<T> {
    /// The items, in API order, at most the cap.
    pub items: Vec<T>,
    /// True when the cap stopped the walk before the list ended.
    pub truncated: bool,
    /// How many requests were made.
    pub pages_fetched: u32,
}

/// Fetches numbered pages, starting at page 1, until the list ends or
/// `max_items` items are gathered.
///
/// `fetch` is called with each page number. A `Link` header that does not move
/// forward ends the walk, so a misbehaving server cannot loop it forever.
///
/// ```no_run
/// # async fn example(client: buildkite_api::Client) -> buildkite_api::Result<()> {
/// use buildkite_api::{collect_pages, ListPipelinesParams};
///
/// let all = collect_pages(500, |page| {
///     let client = client.clone();
///     async move {
///         let params = ListPipelinesParams { page: Some(page), per_page: Some(100), ..Default::default() };
///         client.list_pipelines("acme", &params).await
///     }
/// })
/// .await?;
/// println!("{} pipelines (truncated: {})", all.items.len(), all.truncated);
/// # Ok(())
/// # }
/// ```
pub async fn collect_pages<T, F, Fut>(max_items: usize, mut fetch: F) -> Result<Collected<T>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut items = Vec::new();
    let mut page_number = 1;
    let mut pages_fetched = 0;
    loop {
        let page = fetch(page_number).await?;
        pages_fetched += 1;
        items.extend(page.items);
        if items.len() >= max_items {
            let truncated = items.len() > max_items || page.next_page.is_some();
            items.truncate(max_items);
            return Ok(Collected {
                items,
                truncated,
                pages_fetched,
            });
        }
        match page.next_page {
            Some(next) if next > page_number => page_number = next,
            _ => {
                return Ok(Collected {
                    items,
                    truncated: false,
                    pages_fetched,
                });
            }
        }
    }
}

/// Fetches cursor pages, starting with no cursor, until the list ends or
/// `max_items` items are gathered. `fetch` gets the `after` cursor.
pub async fn collect_cursor_pages<T, F, Fut>(max_items: usize, mut fetch: F) -> Result<Collected<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<CursorPage<T>>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    let mut pages_fetched = 0;
    loop {
        let page = fetch(cursor.clone()).await?;
        pages_fetched += 1;
        let next = page.next_cursor();
        items.extend(page.items);
        if items.len() >= max_items {
            let truncated = items.len() > max_items || next.is_some();
            items.truncate(max_items);
            return Ok(Collected {
                items,
                truncated,
                pages_fetched,
            });
        }
        match next {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            _ => {
                return Ok(Collected {
                    items,
                    truncated: false,
                    pages_fetched,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_relation() {
        let links = PageLinks::parse(
            r#"<https://api.buildkite.com/v2/x?page=1&per_page=30>; rel="first", <https://api.buildkite.com/v2/x?page=2&per_page=30>; rel="prev", <https://api.buildkite.com/v2/x?page=4&per_page=30>; rel="next", <https://api.buildkite.com/v2/x?page=6&per_page=30>; rel="last""#,
        );
        let page = Page::with_links(vec![()], links, RateLimit::default());
        assert_eq!(
            (
                page.first_page,
                page.prev_page,
                page.next_page,
                page.last_page
            ),
            (Some(1), Some(2), Some(4), Some(6))
        );
    }

    #[test]
    fn commas_inside_urls_do_not_split_entries() {
        let links = PageLinks::parse(r#"<https://x/v2/b?branch[]=a,b&page=2>; rel="next""#);
        assert_eq!(
            links.next.as_deref(),
            Some("https://x/v2/b?branch[]=a,b&page=2")
        );
    }

    #[test]
    fn relation_types_are_compared_without_case() {
        // Found by the `link_header` fuzz target.
        let links = PageLinks::parse(
            "\t<http://h/v2/a,b/agents?page=3>\t;rel=\"NEXT\";title=, <http://h/v2/x?page=9>; REL=Last",
        );
        assert_eq!(links.next.as_deref(), Some("http://h/v2/a,b/agents?page=3"));
        assert_eq!(links.last.as_deref(), Some("http://h/v2/x?page=9"));
    }

    #[test]
    fn malformed_header_gives_no_links() {
        let page: Page<u8> = Page::from_parts(vec![], Some("garbage; rel=next, <>"));
        assert_eq!(page.next_page, None);
        assert!(!page.has_more());
    }

    #[test]
    fn cursor_is_read_from_next_link() {
        let page: CursorPage<u8> = serde_json::from_str(
            r#"{"items":[1],"links":{"self":"https://x/jobs?per_page=1","next":"https://x/jobs?after=eyJpZCI6MX0&per_page=1"}}"#,
        )
        .unwrap();
        assert_eq!(page.next_cursor().as_deref(), Some("eyJpZCI6MX0"));
        assert!(page.has_more());
    }

    #[tokio::test]
    async fn collect_stops_at_the_cap_and_says_so() {
        let collected = collect_pages(5, |n| async move {
            let next = format!("<https://x/v2/y?page={}>; rel=\"next\"", n + 1);
            Ok(Page::from_parts(vec![n; 3], Some(&next)))
        })
        .await
        .unwrap();
        assert_eq!(collected.items, vec![1, 1, 1, 2, 2]);
        assert!(collected.truncated);
        assert_eq!(collected.pages_fetched, 2);
    }

    #[tokio::test]
    async fn collect_stops_when_links_do_not_advance() {
        let collected = collect_pages(100, |_| async move {
            Ok(Page::from_parts(
                vec![7u8],
                Some("<https://x/v2/y?page=1>; rel=\"next\""),
            ))
        })
        .await
        .unwrap();
        assert_eq!(collected.items, vec![7]);
        assert!(!collected.truncated);
    }

    #[tokio::test]
    async fn cursor_collect_follows_cursors_to_the_end() {
        let collected = collect_cursor_pages(100, |cursor| async move {
            let (items, next) = match cursor.as_deref() {
                None => (vec![1, 2], Some("https://x/jobs?after=c2")),
                Some("c2") => (vec![3], None),
                other => panic!("unexpected cursor {other:?}"),
            };
            Ok(CursorPage {
                items,
                links: CursorLinks {
                    next: next.map(str::to_owned),
                    ..CursorLinks::default()
                },
                rate_limit: RateLimit::default(),
            })
        })
        .await
        .unwrap();
        assert_eq!(collected.items, vec![1, 2, 3]);
        assert!(!collected.truncated);
        assert_eq!(collected.pages_fetched, 2);
    }
}
