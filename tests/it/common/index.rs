//! A package index the test serves on 127.0.0.1: PEP 691 JSON pages with relative file URLs,
//! small wheels built by the test, HTTP range requests, and faults on demand (500s, garbage,
//! wrong hashes) that the real PyPI will not give.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use std::fmt::Write as _;

/// How the index misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// Every request answers 500.
    ServerError,
    /// Project pages answer 200 with text that is not an index page.
    Garbage,
}

#[derive(Clone)]
struct File {
    filename: String,
    bytes: Vec<u8>,
    sha256: String,
    requires_python: Option<String>,
    yanked: bool,
}

#[derive(Default)]
struct State {
    projects: BTreeMap<String, Vec<File>>,
    requests: Vec<String>,
}

/// A running index; it stops when the test process ends.
pub(crate) struct TestIndex {
    pub(crate) url: String,
    state: Arc<Mutex<State>>,
    fault: Arc<Mutex<Fault>>,
    ranges: Arc<AtomicBool>,
}

/// One wheel to publish.
pub(crate) struct Wheel<'a> {
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    pub(crate) requires: &'a [&'a str],
    pub(crate) requires_python: Option<&'a str>,
    pub(crate) extras: &'a [&'a str],
    pub(crate) tag: &'a str,
    pub(crate) yanked: bool,
    /// More files (path in the archive, contents) besides `MODULE/__init__.py`.
    pub(crate) files: &'a [(&'a str, &'a str)],
}

impl<'a> Wheel<'a> {
    pub(crate) fn new(name: &'a str, version: &'a str, requires: &'a [&'a str]) -> Self {
        Self {
            name,
            version,
            requires,
            requires_python: None,
            extras: &[],
            tag: "py3-none-any",
            yanked: false,
            files: &[],
        }
    }
}

impl TestIndex {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/simple", listener.local_addr().unwrap());
        let index = Self {
            url,
            state: Arc::default(),
            fault: Arc::new(Mutex::new(Fault::None)),
            ranges: Arc::new(AtomicBool::new(true)),
        };
        let (state, fault, ranges) = (
            index.state.clone(),
            index.fault.clone(),
            index.ranges.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (state, fault, ranges) = (state.clone(), fault.clone(), ranges.clone());
                std::thread::spawn(move || {
                    serve(
                        stream,
                        &state,
                        *fault.lock().unwrap(),
                        ranges.load(Ordering::SeqCst),
                    );
                });
            }
        });
        index
    }

    pub(crate) fn publish(&self, wheel: &Wheel<'_>) -> &Self {
        let bytes = build_wheel(wheel);
        let filename = format!(
            "{}-{}-{}.whl",
            wheel.name.replace('-', "_"),
            wheel.version,
            wheel.tag
        );
        self.add_file(
            wheel.name,
            File {
                sha256: mlpack::sha256::sha256_hex(&bytes),
                filename,
                bytes,
                requires_python: wheel.requires_python.map(str::to_string),
                yanked: wheel.yanked,
            },
        );
        self
    }

    /// Publish a real sdist (`.tar.gz`) whose `PKG-INFO` (Metadata-Version 2.2) states
    /// `requires`, built with setuptools.
    pub(crate) fn publish_sdist(&self, name: &str, version: &str, requires: &[&str]) -> &Self {
        let mut pkg_info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
        for requirement in requires {
            let _ = writeln!(pkg_info, "Requires-Dist: {requirement}");
        }
        let pyproject = "[build-system]\nrequires = [\"setuptools>=40.8.0\"]\nbuild-backend = \"setuptools.build_meta\"\n";
        self.publish_sdist_files(
            name,
            version,
            &[("PKG-INFO", &pkg_info), ("pyproject.toml", pyproject)],
        )
    }

    /// Publish an sdist holding `files` (paths below its `name-version/` directory).
    pub(crate) fn publish_sdist_files(
        &self,
        name: &str,
        version: &str,
        files: &[(&str, &str)],
    ) -> &Self {
        let bytes = sdist_archive(name, version, files);
        self.publish_raw(name, &format!("{name}-{version}.tar.gz"), &bytes)
    }

    /// Publish a `.tar.gz` sdist that is not a tarball at all.
    pub(crate) fn publish_garbage_sdist(&self, name: &str, version: &str) -> &Self {
        let bytes = b"not really a tarball".to_vec();
        self.add_file(
            name,
            File {
                sha256: mlpack::sha256::sha256_hex(&bytes),
                filename: format!("{name}-{version}.tar.gz"),
                bytes,
                requires_python: None,
                yanked: false,
            },
        );
        self
    }

    /// Publish a file with the given bytes as it is (a malicious wheel, say).
    pub(crate) fn publish_raw(&self, name: &str, filename: &str, bytes: &[u8]) -> &Self {
        self.add_file(
            name,
            File {
                sha256: mlpack::sha256::sha256_hex(bytes),
                filename: filename.to_string(),
                bytes: bytes.to_vec(),
                requires_python: None,
                yanked: false,
            },
        );
        self
    }

    /// Make the index state a wrong sha256 for every file of `name`.
    pub(crate) fn corrupt_hashes(&self, name: &str) {
        for file in self
            .state
            .lock()
            .unwrap()
            .projects
            .get_mut(name)
            .into_iter()
            .flatten()
        {
            file.sha256 = "0".repeat(64);
        }
    }

    pub(crate) fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Whether file downloads honour `Range`.
    pub(crate) fn set_ranges(&self, enabled: bool) {
        self.ranges.store(enabled, Ordering::SeqCst);
    }

    /// `METHOD PATH` of every request so far.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    fn add_file(&self, name: &str, file: File) {
        self.state
            .lock()
            .unwrap()
            .projects
            .entry(normalize(name))
            .or_default()
            .push(file);
    }
}

fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

/// A wheel whose RECORD is consistent but one entry escapes the install tree.
pub(crate) fn malicious_wheel(name: &str, version: &str, escaping_path: &str) -> Vec<u8> {
    let dist_info = format!("{name}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    let wheel =
        "Wheel-Version: 1.0\nGenerator: mlpack-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let payload = "print('pwned')\n";
    let record_line = |path: &str, contents: &str| {
        use base64::Engine as _;
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2_digest(contents.as_bytes()));
        format!("{path},sha256={hash},{}\n", contents.len())
    };
    let record = format!(
        "{}{}{}{dist_info}/RECORD,,\n",
        record_line(escaping_path, payload),
        record_line(&format!("{dist_info}/METADATA"), &metadata),
        record_line(&format!("{dist_info}/WHEEL"), wheel),
    );
    zip_of(vec![
        (escaping_path.to_string(), payload.to_string()),
        (format!("{dist_info}/METADATA"), metadata),
        (format!("{dist_info}/WHEEL"), wheel.to_string()),
        (format!("{dist_info}/RECORD"), record),
    ])
}

/// An sdist (`.tar.gz`) holding `files` below its `name-version/` directory; the same files
/// give the same bytes.
pub(crate) fn sdist_archive(name: &str, version: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let top = format!("{name}-{version}");
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{top}/{path}"), text.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

/// A zip archive of `entries` (path, contents), in order: a wheel as a test makes it.
fn zip_of(entries: Vec<(String, String)>) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (path, contents) in entries {
        writer.start_file(path, options).unwrap();
        writer.write_all(contents.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A wheel whose `RECORD` gives `name/__init__.py` the hash of other contents (a tampered or
/// broken wheel that the index still serves with a correct file sha256).
pub(crate) fn wheel_with_a_wrong_record(name: &str, version: &str) -> Vec<u8> {
    let dist_info = format!("{name}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    let wheel =
        "Wheel-Version: 1.0\nGenerator: mlpack-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let module = format!("{name}/__init__.py");
    let record = format!(
        "{}{}{}{dist_info}/RECORD,,\n",
        record_line(&module, "print('promised')\n"),
        record_line(&format!("{dist_info}/METADATA"), &metadata),
        record_line(&format!("{dist_info}/WHEEL"), wheel),
    );
    zip_of(vec![
        (module, "print('tampered')\n".to_string()),
        (format!("{dist_info}/METADATA"), metadata),
        (format!("{dist_info}/WHEEL"), wheel.to_string()),
        (format!("{dist_info}/RECORD"), record),
    ])
}

/// A RECORD line: the path, its sha256 as URL-safe base64 without padding, its size.
fn record_line(path: &str, contents: &str) -> String {
    use base64::Engine as _;
    let hash =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2_digest(contents.as_bytes()));
    format!("{path},sha256={hash},{}\n", contents.len())
}

fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).to_vec()
}

fn build_wheel(wheel: &Wheel<'_>) -> Vec<u8> {
    let dist_info = format!(
        "{}-{}.dist-info",
        wheel.name.replace('-', "_"),
        wheel.version
    );
    let mut metadata = format!(
        "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
        wheel.name, wheel.version
    );
    if let Some(requires_python) = wheel.requires_python {
        let _ = writeln!(metadata, "Requires-Python: {requires_python}");
    }
    for extra in wheel.extras {
        let _ = writeln!(metadata, "Provides-Extra: {extra}");
    }
    for requirement in wheel.requires {
        let _ = writeln!(metadata, "Requires-Dist: {requirement}");
    }
    let module = wheel.name.replace('-', "_");
    let mut files = vec![
        (
            format!("{module}/__init__.py"),
            format!("__version__ = \"{}\"\n", wheel.version),
        ),
        (format!("{dist_info}/METADATA"), metadata),
        (
            format!("{dist_info}/WHEEL"),
            format!(
                "Wheel-Version: 1.0\nGenerator: mlpack-tests\nRoot-Is-Purelib: true\nTag: {}\n",
                wheel.tag
            ),
        ),
    ];
    files.extend(
        wheel
            .files
            .iter()
            .map(|(path, contents)| ((*path).to_string(), (*contents).to_string())),
    );
    let record: String = files
        .iter()
        .map(|(path, contents)| record_line(path, contents))
        .collect();
    files.push((
        format!("{dist_info}/RECORD"),
        format!("{record}{dist_info}/RECORD,,\n"),
    ));
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, contents) in files {
        writer.start_file(path, options).unwrap();
        writer.write_all(contents.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn serve(mut stream: TcpStream, state: &Mutex<State>, fault: Fault, ranges: bool) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut range = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_string());
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    state
        .lock()
        .unwrap()
        .requests
        .push(format!("{method} {path}"));
    let response = if fault == Fault::ServerError {
        Response::status(500, "Internal Server Error")
    } else if let Some(name) = path
        .strip_prefix("/simple/")
        .map(|rest| rest.trim_end_matches('/'))
    {
        if fault == Fault::Garbage {
            Response::ok(
                "application/vnd.pypi.simple.v1+json",
                b"<html>this is not an index".to_vec(),
            )
        } else {
            project_page(state, name)
        }
    } else if let Some(filename) = path.strip_prefix("/files/") {
        let file = state
            .lock()
            .unwrap()
            .projects
            .values()
            .flatten()
            .find(|file| file.filename == filename)
            .cloned();
        match file {
            Some(file) => ranged(file.bytes, range.filter(|_| ranges).as_deref()),
            None => Response::status(404, "Not Found"),
        }
    } else {
        Response::status(404, "Not Found")
    };
    let _ = response.write(&mut stream, method == "HEAD");
    let _ = reader.read(&mut [0; 0]);
}

fn project_page(state: &Mutex<State>, name: &str) -> Response {
    let state = state.lock().unwrap();
    let Some(files) = state.projects.get(&normalize(name)) else {
        return Response::status(404, "Not Found");
    };
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|file| {
            serde_json::json!({
                "filename": file.filename,
                // Relative, as PyPI's own pages may give them.
                "url": format!("../../files/{}", file.filename),
                "hashes": {"sha256": file.sha256},
                "requires-python": file.requires_python,
                "yanked": file.yanked,
                "size": file.bytes.len(),
            })
        })
        .collect();
    let page = serde_json::json!({"meta": {"api-version": "1.1"}, "name": normalize(name), "files": files});
    Response::ok(
        "application/vnd.pypi.simple.v1+json",
        page.to_string().into_bytes(),
    )
}

fn ranged(bytes: Vec<u8>, range: Option<&str>) -> Response {
    let Some(spec) = range.and_then(|range| range.strip_prefix("bytes=")) else {
        return Response::ok("application/octet-stream", bytes);
    };
    let length = bytes.len();
    let (start, end) = match spec.split_once('-') {
        Some(("", suffix)) => (
            length.saturating_sub(suffix.parse().unwrap_or(0)),
            length - 1,
        ),
        Some((start, "")) => (start.parse().unwrap_or(0), length - 1),
        Some((start, end)) => (
            start.parse().unwrap_or(0),
            end.parse::<usize>().unwrap_or(length - 1).min(length - 1),
        ),
        None => return Response::status(416, "Range Not Satisfiable"),
    };
    let mut response = Response::ok("application/octet-stream", bytes[start..=end].to_vec());
    response.status = (206, "Partial Content");
    response
        .headers
        .push(format!("Content-Range: bytes {start}-{end}/{length}"));
    response
}

struct Response {
    status: (u16, &'static str),
    headers: Vec<String>,
    body: Vec<u8>,
}

impl Response {
    fn ok(content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status: (200, "OK"),
            headers: vec![
                format!("Content-Type: {content_type}"),
                "Accept-Ranges: bytes".to_string(),
            ],
            body,
        }
    }

    fn status(code: u16, reason: &'static str) -> Self {
        Self {
            status: (code, reason),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn write(&self, stream: &mut TcpStream, head: bool) -> std::io::Result<()> {
        let mut text = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status.0,
            self.status.1,
            self.body.len()
        );
        for header in &self.headers {
            text.push_str(header);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        stream.write_all(text.as_bytes())?;
        if !head {
            stream.write_all(&self.body)?;
        }
        stream.flush()
    }
}
