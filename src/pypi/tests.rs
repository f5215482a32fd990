//! The client against a local server ([`server`]): caching, revalidation, metadata by every
//! route, retries and errors. No network; the real-PyPI test needs the `test-pypi` feature.

mod server;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pep508_rs::PackageName;

use self::server::{Recorded, Reply, TestServer};
use super::cache::{DiskCache, sha256_hex};
use super::zip_directory::tests::build_wheel;
use super::{DistFile, IndexClient, PypiError, RequestStats};
use crate::error::Diagnostic;

const METADATA: &str = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: numpy>=1.20\nRequires-Dist: rich; extra == 'cli'\nProvides-Extra: cli\n\nThe description.\n";

fn name(text: &str) -> PackageName {
    PackageName::from_str(text).unwrap()
}

fn new_client(cache: &tempfile::TempDir) -> IndexClient {
    IndexClient::builder()
        .cache_dir(cache.path().to_path_buf())
        .build()
        .unwrap()
}

/// A wheel for `demo 1.0`. `large` puts 100 KB of incompressible data after `METADATA`, so
/// that it lies outside the first (64 KiB) range read.
fn demo_wheel(large: bool) -> Vec<u8> {
    let mut noise = Vec::new();
    let mut state: u32 = 12345;
    while noise.len() < 100_000 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        noise.push(state.to_le_bytes()[2]);
    }
    let mut files: Vec<(&str, &[u8])> = vec![("demo/__init__.py", b"VALUE = 1\n")];
    if large {
        files.push(("demo-1.0.dist-info/METADATA", METADATA.as_bytes()));
        files.push(("demo/data.txt", &noise));
    } else {
        files.push(("demo-1.0.dist-info/METADATA", METADATA.as_bytes()));
    }
    build_wheel(&files)
}

fn wheel_file(server: &TestServer, wheel: &[u8], core_metadata: bool) -> DistFile {
    DistFile {
        filename: "demo-1.0-py3-none-any.whl".to_string(),
        url: server.url("/files/demo-1.0-py3-none-any.whl"),
        sha256: Some(sha256_hex(wheel)),
        size: Some(wheel.len() as u64),
        requires_python: None,
        yanked: None,
        upload_time: None,
        core_metadata,
    }
}

fn stats(
    project_pages: u64,
    revalidations: u64,
    metadata: u64,
    range: u64,
    downloads: u64,
) -> RequestStats {
    RequestStats {
        project_pages,
        revalidations,
        metadata,
        range_requests: range,
        downloads,
    }
}

const PAGE: &str = r#"{
  "meta": {"api-version": "1.1"}, "name": "demo",
  "files": [
    {"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl",
     "hashes": {"sha256": "aa"}, "upload-time": "2024-01-01T00:00:00Z"},
    {"filename": "demo-2.0-py3-none-any.whl", "url": "/files/demo-2.0-py3-none-any.whl",
     "hashes": {}, "upload-time": "2024-07-01T00:00:00Z", "core-metadata": true},
    {"filename": "demo-2.0.tar.gz", "url": "https://elsewhere.example/demo-2.0.tar.gz",
     "hashes": {}}
  ]
}"#;

#[tokio::test]
async fn project_page_with_relative_urls() {
    let server = TestServer::start(|_| Reply::json(PAGE));
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let project = client
        .project(&server.url("/simple/"), &name("DEMO"))
        .await
        .unwrap();
    assert_eq!(project.index, server.url("/simple"));
    let urls: Vec<&str> = project.files.iter().map(|file| file.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            server.url("/files/demo-1.0-py3-none-any.whl").as_str(),
            server.url("/files/demo-2.0-py3-none-any.whl").as_str(),
            "https://elsewhere.example/demo-2.0.tar.gz",
        ]
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/simple/demo/");
    assert!(
        requests[0]
            .header("accept")
            .unwrap()
            .starts_with("application/vnd.pypi.simple.v1+json")
    );
}

#[tokio::test]
async fn exclude_newer_drops_later_uploads() {
    let server = TestServer::start(|_| Reply::json(PAGE));
    let cache = tempfile::tempdir().unwrap();
    let client = IndexClient::builder()
        .cache_dir(cache.path().to_path_buf())
        .exclude_newer(Some("2024-06-01".to_string()))
        .build()
        .unwrap();
    let project = client
        .project(&server.url("/simple"), &name("demo"))
        .await
        .unwrap();
    let kept: Vec<&str> = project
        .files
        .iter()
        .map(|file| file.filename.as_str())
        .collect();
    assert_eq!(kept, ["demo-1.0-py3-none-any.whl", "demo-2.0.tar.gz"]);
}

#[tokio::test]
async fn html_fallback_after_a_redirect() {
    let server = TestServer::start(|request: &Recorded| {
        match request.path.as_str() {
        "/simple/demo/" => Reply::new(301, "").header("Location", "/mirror/simple/demo/"),
        _ => Reply::new(
            200,
            r#"<html><body><a href="demo-1.0.tar.gz#sha256=AB" data-requires-python="&gt;=3.9">demo-1.0.tar.gz</a></body></html>"#,
        )
        .header("Content-Type", "text/html; charset=utf-8"),
    }
    });
    let cache = tempfile::tempdir().unwrap();
    let project = new_client(&cache)
        .project(&server.url("/simple"), &name("demo"))
        .await
        .unwrap();
    let file = &project.files[0];
    assert_eq!(file.url, server.url("/mirror/simple/demo/demo-1.0.tar.gz"));
    assert_eq!(file.sha256.as_deref(), Some("ab"));
    assert_eq!(file.requires_python.as_deref(), Some(">=3.9"));
}

#[tokio::test]
async fn concurrent_calls_share_one_request() {
    let server = TestServer::start(|_| Reply::json(PAGE));
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let index = server.url("/simple");
    let demo = name("demo");
    let (first, second) =
        tokio::join!(client.project(&index, &demo), client.project(&index, &demo));
    assert!(Arc::ptr_eq(&first.unwrap(), &second.unwrap()));
    assert!(client.project_exists(&index, &demo).await.unwrap());
    assert_eq!(server.requests().len(), 1);
    assert_eq!(client.stats(), stats(1, 0, 0, 0, 0));
}

#[tokio::test]
async fn fresh_pages_are_served_from_disk() {
    let server =
        TestServer::start(|_| Reply::json(PAGE).header("Cache-Control", "max-age=600, public"));
    let cache = tempfile::tempdir().unwrap();
    let first = new_client(&cache)
        .project(&server.url("/simple"), &name("demo"))
        .await
        .unwrap();
    let second_client = new_client(&cache);
    let second = second_client
        .project(&server.url("/simple"), &name("demo"))
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(server.requests().len(), 1);
    assert_eq!(second_client.stats(), RequestStats::default());
}

#[tokio::test]
async fn stale_pages_are_revalidated() {
    let server = TestServer::start(|request: &Recorded| {
        if request.header("if-none-match") == Some("\"v1\"") {
            Reply::new(304, "").header("Cache-Control", "max-age=0")
        } else {
            Reply::json(PAGE)
                .header("Cache-Control", "max-age=0")
                .header("ETag", "\"v1\"")
                .header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let first_client = new_client(&cache);
    let first = first_client
        .project(&server.url("/simple"), &name("demo"))
        .await
        .unwrap();
    assert_eq!(first_client.stats(), stats(1, 0, 0, 0, 0));
    for _ in 0..2 {
        let again = new_client(&cache);
        let second = again
            .project(&server.url("/simple"), &name("demo"))
            .await
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(again.stats(), stats(1, 1, 0, 0, 0));
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[2].header("if-modified-since"),
        Some("Mon, 01 Jan 2024 00:00:00 GMT"),
        "the validators survive a 304 that omits them"
    );
}

#[tokio::test]
async fn corrupt_cache_files_are_refetched() {
    let server = TestServer::start(|_| Reply::json(PAGE).header("Cache-Control", "max-age=600"));
    let cache = tempfile::tempdir().unwrap();
    let index = server.url("/simple");
    let path = DiskCache::new(cache.path().to_path_buf()).page_path(&index, &name("demo"));
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, "{\"etag\": ").unwrap();
    let project = new_client(&cache)
        .project(&index, &name("demo"))
        .await
        .unwrap();
    assert_eq!(project.files.len(), 3);
    assert_eq!(server.requests().len(), 1);
    // And the cache was repaired.
    new_client(&cache)
        .project(&index, &name("demo"))
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn offline_uses_stale_cache_and_names_misses() {
    let server = TestServer::start(|_| Reply::json(PAGE).header("Cache-Control", "max-age=0"));
    let cache = tempfile::tempdir().unwrap();
    let index = server.url("/simple");
    new_client(&cache)
        .project(&index, &name("demo"))
        .await
        .unwrap();
    let offline = IndexClient::builder()
        .cache_dir(cache.path().to_path_buf())
        .offline(true)
        .build()
        .unwrap();
    let project = offline.project(&index, &name("demo")).await.unwrap();
    assert_eq!(project.files.len(), 3);

    let error = offline.project(&index, &name("torch")).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("`torch` is not in the cache (`{index}/torch/`)")
    );
    assert_eq!(
        error.hints().join("\n"),
        "run without `--offline` to fetch it from the index"
    );
    let file = wheel_file(&server, b"", false);
    let error = offline.metadata(&file).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the metadata of `demo-1.0-py3-none-any.whl` is not in the cache (`{}`)",
            file.url
        )
    );
    assert_eq!(server.requests().len(), 1);
    assert_eq!(offline.stats(), RequestStats::default());
}

#[tokio::test]
async fn not_found() {
    let server = TestServer::start(|_| Reply::new(404, "no such project"));
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let index = server.url("/simple");
    let error = client.project(&index, &name("nopenope")).await.unwrap_err();
    assert!(matches!(error, PypiError::NotFound { .. }));
    assert_eq!(
        error.to_string(),
        format!("`nopenope` was not found on the package index `{index}`")
    );
    assert!(
        !client
            .project_exists(&index, &name("nopenope"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let server = TestServer::start(|_| Reply::new(503, "busy"));
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let index = server
        .url("/simple")
        .replace("http://", "http://alice:s3cret@");
    let error = client.project(&index, &name("demo")).await.unwrap_err();
    let shown = server.url("/simple/demo/");
    assert_eq!(
        error.to_string(),
        format!("the package index answered `503 Service Unavailable` for `{shown}`")
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "three attempts");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Basic YWxpY2U6czNjcmV0"),
        "credentials from the index URL"
    );
    assert_eq!(client.stats(), stats(1, 0, 0, 0, 0));
}

#[tokio::test]
async fn unreachable_index_masks_the_password() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = tempfile::tempdir().unwrap();
    let index = format!("http://alice:s3cret@127.0.0.1:{port}/simple");
    let error = new_client(&cache)
        .project(&index, &name("demo"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("could not reach the package index at `http://127.0.0.1:{port}/simple/demo/`")
    );
    assert!(error.hints().join("\n").contains("UV_INDEX_URL"));
}

#[tokio::test]
async fn garbage_from_the_index_is_malformed() {
    let server = TestServer::start(|_| Reply::json("{\"files\": [{\"filename\": 1}]}"));
    let cache = tempfile::tempdir().unwrap();
    let error = new_client(&cache)
        .project(&server.url("/simple"), &name("demo"))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "the package index sent an unreadable answer for `{}`: invalid type",
            server.url("/simple/demo/")
        )),
        "{message}"
    );
}

#[tokio::test]
async fn metadata_from_a_pep_658_file_then_from_cache() {
    let wheel = demo_wheel(false);
    let server = TestServer::start(|request: &Recorded| match request.path.as_str() {
        "/files/demo-1.0-py3-none-any.whl.metadata" => Reply::new(200, METADATA),
        _ => Reply::new(404, ""),
    });
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let file = wheel_file(&server, &wheel, true);
    let metadata = client.metadata(&file).await.unwrap();
    assert_eq!(metadata.name.as_ref(), "demo");
    assert_eq!(metadata.requires_dist.len(), 2);
    assert_eq!(metadata.provides_extra.len(), 1);
    let again = client.metadata(&file).await.unwrap();
    assert!(Arc::ptr_eq(&metadata, &again));
    assert_eq!(client.stats(), stats(0, 0, 1, 0, 0));

    let warm = new_client(&cache);
    warm.metadata(&file).await.unwrap();
    assert_eq!(
        warm.stats(),
        RequestStats::default(),
        "a warm cache asks nothing"
    );
}

#[tokio::test]
async fn metadata_by_range_requests() {
    for (large, range_requests) in [(false, 1), (true, 2)] {
        let wheel = demo_wheel(large);
        let bytes = wheel.clone();
        let server =
            TestServer::start(move |request: &Recorded| Reply::file(request, &bytes, true));
        let cache = tempfile::tempdir().unwrap();
        let client = new_client(&cache);
        let metadata = client
            .metadata(&wheel_file(&server, &wheel, false))
            .await
            .unwrap();
        assert_eq!(metadata.version.to_string(), "1.0");
        // 127.0.0.1 never served a `.metadata` file, so none was asked for.
        assert_eq!(
            client.stats(),
            stats(0, 0, 0, range_requests, 0),
            "large: {large}"
        );
        let requests = server.requests();
        assert_eq!(requests[0].header("range"), Some("bytes=-65536"));
        assert_eq!(requests[0].header("accept-encoding"), Some("identity"));
    }
}

#[tokio::test]
async fn speculative_metadata_files_on_hosts_that_served_one() {
    let wheel = demo_wheel(false);
    let bytes = wheel.clone();
    let server = TestServer::start(move |request: &Recorded| match request.path.as_str() {
        "/files/demo-1.0-py3-none-any.whl.metadata" => Reply::new(200, METADATA),
        "/files/other-1.0-py3-none-any.whl.metadata" => Reply::new(404, ""),
        _ => Reply::file(request, &bytes, true),
    });
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    client
        .metadata(&wheel_file(&server, &wheel, true))
        .await
        .unwrap();
    // Not promised by the index, but this host has served one: ask, get 404, read the wheel.
    let mut other = wheel_file(&server, &wheel, false);
    other.url = server.url("/files/other-1.0-py3-none-any.whl");
    other.sha256 = None;
    client.metadata(&other).await.unwrap();
    assert_eq!(client.stats(), stats(0, 0, 2, 1, 0));
}

#[tokio::test]
async fn full_download_when_ranges_are_ignored() {
    let wheel = demo_wheel(true);
    let bytes = wheel.clone();
    let server = TestServer::start(move |request: &Recorded| Reply::file(request, &bytes, false));
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let metadata = client
        .metadata(&wheel_file(&server, &wheel, false))
        .await
        .unwrap();
    assert_eq!(metadata.name.as_ref(), "demo");
    assert_eq!(client.stats(), stats(0, 0, 0, 1, 1));
}

#[tokio::test]
async fn full_download_when_ranges_are_refused() {
    let wheel = demo_wheel(false);
    let bytes = wheel.clone();
    let server = TestServer::start(move |request: &Recorded| {
        if request.header("range").is_some() {
            Reply::new(416, "")
        } else {
            Reply::file(request, &bytes, false)
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let metadata = client
        .metadata(&wheel_file(&server, &wheel, false))
        .await
        .unwrap();
    assert_eq!(metadata.name.as_ref(), "demo");
    assert_eq!(client.stats(), stats(0, 0, 0, 1, 1));
}

#[tokio::test]
async fn downloaded_wheels_are_checked_against_their_hash() {
    let wheel = demo_wheel(false);
    let bytes = wheel.clone();
    let server = TestServer::start(move |request: &Recorded| Reply::file(request, &bytes, false));
    let cache = tempfile::tempdir().unwrap();
    let mut file = wheel_file(&server, &wheel, false);
    file.sha256 = Some("0".repeat(64));
    let error = new_client(&cache).metadata(&file).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the sha256 of `{}` is `{}`, but the index says `{}`",
            file.url,
            sha256_hex(&wheel),
            "0".repeat(64)
        )
    );
}

#[tokio::test]
async fn missing_metadata_in_a_wheel_is_malformed() {
    let wheel = build_wheel(&[("demo/__init__.py", b"")]);
    let bytes = wheel.clone();
    let server = TestServer::start(move |request: &Recorded| Reply::file(request, &bytes, true));
    let cache = tempfile::tempdir().unwrap();
    let file = wheel_file(&server, &wheel, false);
    let error = new_client(&cache).metadata(&file).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the package index sent an unreadable answer for `{}`: no `.dist-info/METADATA` at the top level",
            file.url
        )
    );
}

#[tokio::test]
async fn sdists_are_refused() {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let server = TestServer::start(move |_| {
        seen.fetch_add(1, Ordering::Relaxed);
        Reply::new(500, "")
    });
    let cache = tempfile::tempdir().unwrap();
    let mut file = wheel_file(&server, b"", false);
    file.filename = "demo-1.0.tar.gz".to_string();
    let error = new_client(&cache).metadata(&file).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "`demo-1.0.tar.gz` is not a wheel, so its metadata cannot be read without building it"
    );
    assert_eq!(count.load(Ordering::Relaxed), 0);
}

#[cfg(feature = "test-pypi")]
#[tokio::test]
async fn real_pypi_six() {
    let cache = tempfile::tempdir().unwrap();
    let client = new_client(&cache);
    let project = client
        .project("https://pypi.org/simple", &name("six"))
        .await
        .unwrap();
    let newest = project
        .files
        .iter()
        .filter(|file| file.filename.to_ascii_lowercase().ends_with(".whl"))
        .max_by_key(|file| file.upload_time.clone())
        .unwrap();
    let metadata = client.metadata(newest).await.unwrap();
    assert_eq!(metadata.name.as_ref(), "six");
    assert!(newest.filename.contains(&metadata.version.to_string()));
    let stats = client.stats();
    assert_eq!(stats.project_pages, 1);
    assert_eq!(stats.downloads, 0, "{stats:?}");
}
