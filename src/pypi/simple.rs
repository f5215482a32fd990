//! A project page of the simple repository API: JSON ([PEP 691]) or HTML ([PEP 503]), with the
//! file fields of [PEP 592] (yanked), [PEP 658]/[PEP 714] (core metadata) and [PEP 700]
//! (size, upload time).
//!
//! File URLs may be relative; they are resolved against the page URL after redirects, and
//! stored without userinfo or fragment.
//!
//! [PEP 691]: https://peps.python.org/pep-0691/
//! [PEP 503]: https://peps.python.org/pep-0503/
//! [PEP 592]: https://peps.python.org/pep-0592/
//! [PEP 658]: https://peps.python.org/pep-0658/
//! [PEP 714]: https://peps.python.org/pep-0714/
//! [PEP 700]: https://peps.python.org/pep-0700/

use std::collections::BTreeMap;

use pep508_rs::PackageName;
use serde::Deserialize;
use url::Url;

use super::auth::split_credentials;
use super::{DistFile, ProjectFiles};

/// What the client asks for: JSON first, HTML as a fallback for indexes without PEP 691.
pub(crate) const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// Which parser a page's `Content-Type` calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageFormat {
    Json,
    Html,
}

impl PageFormat {
    /// From the `Content-Type`; when missing or unknown, from the first byte of the body.
    pub(crate) fn detect(content_type: Option<&str>, body: &[u8]) -> Self {
        let media = content_type
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        match media.as_deref() {
            Some("application/vnd.pypi.simple.v1+json" | "application/json") => Self::Json,
            Some("application/vnd.pypi.simple.v1+html" | "text/html") => Self::Html,
            _ if body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{') => Self::Json,
            _ => Self::Html,
        }
    }
}

/// Parses a page of `name`'s files on `index`, fetched from `page_url`.
pub(crate) fn parse_page(
    format: PageFormat,
    body: &[u8],
    page_url: &Url,
    name: &PackageName,
    index: &str,
) -> Result<ProjectFiles, String> {
    let files = match format {
        PageFormat::Json => parse_json(body, page_url)?,
        PageFormat::Html => parse_html(&String::from_utf8_lossy(body), page_url)?,
    };
    Ok(ProjectFiles {
        name: name.clone(),
        index: index.to_string(),
        files,
    })
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    requires_python: Option<String>,
    size: Option<u64>,
    upload_time: Option<String>,
    yanked: Option<BoolOrString>,
    core_metadata: Option<BoolOrHashes>,
    /// The PEP 658 name; PEP 714 renamed it to `core-metadata`, which wins when both are there.
    dist_info_metadata: Option<BoolOrHashes>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrString {
    Bool(bool),
    String(String),
}

/// `true`/`false`, or the metadata file's hashes (which mean `true`; they are not kept, since
/// `DistFile` has no field for them).
#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOrHashes {
    Bool(bool),
    Hashes(serde::de::IgnoredAny),
}

impl BoolOrHashes {
    fn is_present(&self) -> bool {
        match self {
            Self::Bool(present) => *present,
            Self::Hashes(_) => true,
        }
    }
}

fn parse_json(body: &[u8], page_url: &Url) -> Result<Vec<DistFile>, String> {
    let page: JsonPage = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    page.files
        .into_iter()
        .map(|file| {
            let url = resolve(page_url, &file.url)?;
            Ok(DistFile {
                filename: file.filename,
                url,
                sha256: file
                    .hashes
                    .get("sha256")
                    .map(|hash| hash.to_ascii_lowercase()),
                size: file.size,
                requires_python: file.requires_python.filter(|text| !text.trim().is_empty()),
                yanked: match file.yanked {
                    None | Some(BoolOrString::Bool(false)) => None,
                    Some(BoolOrString::Bool(true)) => Some(String::new()),
                    Some(BoolOrString::String(reason)) => Some(reason),
                },
                upload_time: file.upload_time,
                core_metadata: file
                    .core_metadata
                    .or(file.dist_info_metadata)
                    .is_some_and(|field| field.is_present()),
            })
        })
        .collect()
}

fn parse_html(body: &str, page_url: &Url) -> Result<Vec<DistFile>, String> {
    let dom = tl::parse(body, tl::ParserOptions::default()).map_err(|error| error.to_string())?;
    let parser = dom.parser();
    let tags = |selector: &str| {
        dom.query_selector(selector)
            .into_iter()
            .flatten()
            .filter_map(|handle| handle.get(parser).and_then(tl::Node::as_tag))
            .collect::<Vec<_>>()
    };
    // PEP 503 pages may set `<base href>`, which relative links are then resolved against.
    let base = match tags("base")
        .first()
        .and_then(|tag| attribute(tag, "href"))
        .filter(|href| !href.is_empty())
    {
        Some(href) => Url::parse(&resolve(page_url, &href)?).map_err(|error| error.to_string())?,
        None => page_url.clone(),
    };
    let mut files = Vec::new();
    for anchor in tags("a") {
        let Some(href) = attribute(anchor, "href").filter(|href| !href.is_empty()) else {
            continue;
        };
        let mut url = Url::parse(&resolve(&base, &href)?).map_err(|error| error.to_string())?;
        let sha256 = url.fragment().and_then(|fragment| {
            fragment
                .strip_prefix("sha256=")
                .map(str::to_ascii_lowercase)
        });
        url.set_fragment(None);
        let Some(filename) = url
            .path_segments()
            .and_then(|mut segments| segments.next_back())
            .map(|segment| {
                percent_encoding::percent_decode_str(segment)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .filter(|filename| !filename.is_empty())
        else {
            continue;
        };
        let core_metadata = attribute(anchor, "data-core-metadata")
            .or_else(|| attribute(anchor, "data-dist-info-metadata"))
            .is_some_and(|value| value != "false");
        files.push(DistFile {
            filename,
            url: url.to_string(),
            sha256,
            size: None,
            requires_python: attribute(anchor, "data-requires-python")
                .filter(|text| !text.trim().is_empty()),
            yanked: attribute(anchor, "data-yanked"),
            upload_time: None,
            core_metadata,
        });
    }
    Ok(files)
}

/// The unescaped value of an attribute; `""` for one written without a value.
fn attribute(tag: &tl::HTMLTag<'_>, name: &str) -> Option<String> {
    tag.attributes()
        .get(name)
        .map(|value| value.map_or_else(String::new, |bytes| unescape_html(&bytes.as_utf8_str())))
}

/// Resolves `href` against `base` and drops any userinfo, so no password is stored.
fn resolve(base: &Url, href: &str) -> Result<String, String> {
    let joined = base
        .join(href.trim())
        .map_err(|error| format!("bad file URL `{href}`: {error}"))?;
    Ok(split_credentials(&joined).0.to_string())
}

/// Decodes the character references an index writes in attributes: `&lt;`, `&gt;`, `&amp;`,
/// `&quot;`, `&apos;` and numeric ones (`&#62;`, `&#x3E;`). Anything else is left as written,
/// as browsers do with unknown references.
pub(crate) fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let decoded = rest.find(';').and_then(|end| {
            let entity = &rest[1..end];
            let character = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| entity.strip_prefix('#').map(str::parse))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            };
            character.map(|character| (character, end))
        });
        if let Some((character, end)) = decoded {
            out.push(character);
            rest = &rest[end + 1..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn name(text: &str) -> PackageName {
        PackageName::from_str(text).unwrap()
    }

    #[test]
    fn json_page_with_relative_urls_and_every_field_variant() {
        let body = br#"{
          "meta": {"api-version": "1.1"},
          "name": "demo",
          "files": [
            {"filename": "demo-1.0.tar.gz", "url": "../../packages/ab/demo-1.0.tar.gz",
             "hashes": {"sha256": "ABCDEF"}, "requires-python": "", "yanked": false,
             "size": 10, "upload-time": "2024-01-01T00:00:00.000000Z"},
            {"filename": "demo-1.0-py3-none-any.whl", "url": "/files/demo-1.0-py3-none-any.whl",
             "hashes": {}, "requires-python": ">=3.8", "yanked": "broken build",
             "core-metadata": {"sha256": "00"}, "dist-info-metadata": false},
            {"filename": "demo-1.1-py3-none-any.whl",
             "url": "https://user:pw@files.example/demo-1.1-py3-none-any.whl",
             "hashes": {"md5": "x"}, "yanked": true, "dist-info-metadata": true},
            {"filename": "demo-1.2-py3-none-any.whl", "url": "demo-1.2-py3-none-any.whl",
             "hashes": {}, "core-metadata": false}
          ]
        }"#;
        let page = Url::parse("https://index.example/simple/demo/").unwrap();
        let project = parse_page(
            PageFormat::Json,
            body,
            &page,
            &name("demo"),
            "https://index.example/simple",
        )
        .unwrap();
        let files = &project.files;
        assert_eq!(files.len(), 4);
        assert_eq!(
            files[0].url,
            "https://index.example/packages/ab/demo-1.0.tar.gz"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abcdef"));
        assert_eq!(files[0].requires_python, None);
        assert_eq!(files[0].yanked, None);
        assert_eq!(files[0].size, Some(10));
        assert_eq!(
            files[0].upload_time.as_deref(),
            Some("2024-01-01T00:00:00.000000Z")
        );
        assert!(!files[0].core_metadata);

        assert_eq!(
            files[1].url,
            "https://index.example/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[1].sha256, None);
        assert_eq!(files[1].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(files[1].yanked.as_deref(), Some("broken build"));
        assert!(
            files[1].core_metadata,
            "core-metadata wins over dist-info-metadata"
        );

        assert_eq!(
            files[2].url,
            "https://files.example/demo-1.1-py3-none-any.whl"
        );
        assert_eq!(files[2].yanked.as_deref(), Some(""));
        assert!(files[2].core_metadata);

        assert_eq!(
            files[3].url,
            "https://index.example/simple/demo/demo-1.2-py3-none-any.whl"
        );
        assert!(!files[3].core_metadata);
    }

    #[test]
    fn json_garbage_is_an_error() {
        let page = Url::parse("https://index.example/simple/demo/").unwrap();
        let error = parse_page(
            PageFormat::Json,
            b"{\"files\": 3}",
            &page,
            &name("demo"),
            "x",
        )
        .unwrap_err();
        assert!(error.contains("invalid type"), "{error}");
    }

    #[test]
    fn html_page() {
        let body = r#"<!DOCTYPE html>
<html><head><title>Links for demo</title></head>
<body>
<h1>Links for demo</h1>
<a href="https://files.example/p/demo-1.0.tar.gz#sha256=ABC123">demo-1.0.tar.gz</a><br/>
<a href="../../p/demo-1.0-py3-none-any.whl#sha256=def" data-requires-python="&gt;=3.8,&lt;4" data-dist-info-metadata="sha256=00">demo-1.0-py3-none-any.whl</a>
<a href="/p/demo%2B1-2.0-py3-none-any.whl" data-yanked data-core-metadata="true" data-requires-python='>=3.9'>x</a>
<a href="/p/demo-3.0-py3-none-any.whl?a=1&amp;b=2" data-yanked="bad &quot;tag&quot;" data-core-metadata="false">demo-3.0</a>
<a name="no-href">nothing</a>
</body></html>"#;
        let page = Url::parse("https://index.example/simple/demo/").unwrap();
        let project =
            parse_page(PageFormat::Html, body.as_bytes(), &page, &name("demo"), "x").unwrap();
        let files = &project.files;
        assert_eq!(files.len(), 4);
        assert_eq!(files[0].filename, "demo-1.0.tar.gz");
        assert_eq!(files[0].url, "https://files.example/p/demo-1.0.tar.gz");
        assert_eq!(files[0].sha256.as_deref(), Some("abc123"));
        assert_eq!(files[0].yanked, None);
        assert!(!files[0].core_metadata);

        assert_eq!(
            files[1].url,
            "https://index.example/p/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[1].requires_python.as_deref(), Some(">=3.8,<4"));
        assert!(files[1].core_metadata);

        assert_eq!(files[2].filename, "demo+1-2.0-py3-none-any.whl");
        assert_eq!(files[2].yanked.as_deref(), Some(""));
        assert_eq!(files[2].requires_python.as_deref(), Some(">=3.9"));
        assert!(files[2].core_metadata);

        assert_eq!(
            files[3].url,
            "https://index.example/p/demo-3.0-py3-none-any.whl?a=1&b=2"
        );
        assert_eq!(files[3].yanked.as_deref(), Some("bad \"tag\""));
        assert!(!files[3].core_metadata);
    }

    #[test]
    fn html_base_href() {
        let body = r#"<html><head><base href="https://mirror.example/files/"></head>
<body><a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a></body></html>"#;
        let page = Url::parse("https://index.example/simple/demo/").unwrap();
        let project =
            parse_page(PageFormat::Html, body.as_bytes(), &page, &name("demo"), "x").unwrap();
        assert_eq!(
            project.files[0].url,
            "https://mirror.example/files/demo-1.0.tar.gz"
        );
    }

    #[test]
    fn detects_the_format() {
        assert_eq!(
            PageFormat::detect(Some("application/vnd.pypi.simple.v1+json"), b""),
            PageFormat::Json
        );
        assert_eq!(
            PageFormat::detect(Some("text/html; charset=utf-8"), b"{"),
            PageFormat::Html
        );
        assert_eq!(
            PageFormat::detect(None, b"  {\"files\": []}"),
            PageFormat::Json
        );
        assert_eq!(
            PageFormat::detect(Some("text/plain"), b"<html>"),
            PageFormat::Html
        );
    }

    #[test]
    fn unescapes_references() {
        assert_eq!(
            unescape_html("&gt;=3.8, &lt;4 &#x21;&#33; &amp;amp; &bogus; a&b"),
            ">=3.8, <4 !! &amp; &bogus; a&b"
        );
    }
}
