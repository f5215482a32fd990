//! Wheels downloaded ahead of the layers that install them. A build makes its wheel layers
//! one after another (fetch, install, compile, then write on a thread of its own); without
//! this, a layer's downloads wait for the install and compile of the layer before it, and
//! the 1.6 GB of CUDA wheels that open a torch image wait for nothing but start only when
//! their turn comes. [`WheelPrefetch`] downloads every layer's wheels that the build will
//! install, in layer order, on a thread of its own from the start of the wheel layers, so the
//! network and the CPU work overlap; each layer then takes its wheels one by one as each is
//! ready ([`Arriving`]), so the first layer's installs need not wait for its last download.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::Scope;

use crate::error::IoError;
use crate::lock::LockedPackage;
use crate::wheel::{InstalledWheel, WheelInstaller};

use super::BuildError;
use super::fetch::{Fetcher, Wheels};
use super::sdist::SdistWheels;

/// One layer's wheels: each with the package it belongs to, as [`Fetcher::wheels`] gives them.
type Fetched = Result<Wheels, BuildError>;

/// What the downloads thread tells a layer: each wheel as it is on disk (its position in the
/// layer's [`Wheels`], and its file), then all of them.
enum Message {
    Wheel(usize, PathBuf),
    Done(Fetched),
}

/// What one layer needs fetched: its packages and the step name its downloads count as.
pub(super) struct Wanted<'a> {
    pub(super) packages: &'a [&'a LockedPackage],
    pub(super) name: &'a str,
}

/// The downloads of a build's wheel layers, running ahead on a thread of the build's scope.
/// Dropping it stops them (a download cut short leaves nothing in the cache), so a build
/// that fails does not wait for downloads it no longer needs.
pub(super) struct WheelPrefetch {
    /// Per layer, where its wheels arrive; `None` for a layer not fetched ahead.
    arriving: Vec<Option<mpsc::Receiver<Message>>>,
    /// Dropped with the prefetch: the downloads' signal to stop.
    _stop: tokio::sync::watch::Sender<()>,
}

impl WheelPrefetch {
    /// Start fetching, in order, the wheels of each layer in `layers` that is `Some`.
    pub(super) fn start<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        fetch: &'env Fetcher<'_>,
        built: &'env SdistWheels,
        layers: Vec<Option<Wanted<'env>>>,
    ) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(());
        let mut arriving = Vec::new();
        let mut sending = Vec::new();
        for wanted in layers {
            let Some(wanted) = wanted else {
                arriving.push(None);
                continue;
            };
            let (sender, receiver) = mpsc::channel();
            arriving.push(Some(receiver));
            sending.push((wanted, sender));
        }
        scope.spawn(move || {
            for (wanted, sender) in sending {
                // A layer that no longer takes its wheels (found in the layer cache after
                // all) has dropped its receiver; the later ones still want theirs.
                let arrived = |position, wheel: &Path| {
                    let _ = sender.send(Message::Wheel(position, wheel.to_path_buf()));
                };
                let Some(fetched) = fetch.wheels_unless_stopped(
                    wanted.packages,
                    built,
                    wanted.name,
                    &stopped,
                    &arrived,
                ) else {
                    return;
                };
                let failed = fetched.is_err();
                let _ = sender.send(Message::Done(fetched));
                if failed {
                    return;
                }
            }
        });
        Self {
            arriving,
            _stop: stop,
        }
    }

    /// The wheels of layer `index` as they arrive; `None` when that layer was not fetched
    /// ahead (the layer then fetches its wheels itself).
    pub(super) fn take(&mut self, index: usize) -> Option<Arriving> {
        let receiver = self.arriving.get_mut(index)?.take()?;
        Some(Arriving {
            receiver,
            fetched: None,
        })
    }
}

/// One layer's wheels, fetched ahead: an iterator of each wheel as it is on disk (its
/// position in the layer's [`Wheels`], and its file), in the order they arrive, and then
/// [`Arriving::fetched`], all of them or why not.
pub(super) struct Arriving {
    receiver: mpsc::Receiver<Message>,
    fetched: Option<Fetched>,
}

impl Arriving {
    /// The layer's `count` wheels installed into `staging` as they arrive
    /// ([`WheelInstaller::install_arriving`]), with what each installed. A failed download
    /// is the error rather than the install it cut short.
    pub(super) fn install(
        mut self,
        installer: &WheelInstaller,
        count: usize,
        staging: &Path,
    ) -> Result<(Wheels, Vec<InstalledWheel>), BuildError> {
        let written = installer.install_arriving(count, self.by_ref(), staging);
        match (self.fetched(), written) {
            (Some(Err(error)), _) => Err(error),
            (_, Err(error)) => Err(Box::new(error).into()),
            (Some(Ok(wheels)), Ok(written)) => Ok((wheels, written)),
            (None, Ok(_)) => Err(IoError::new(
                "download the wheels to install into",
                staging,
                std::io::Error::other("the downloads stopped"),
            )
            .into()),
        }
    }

    /// The layer's wheels, once every download has ended (the wheels not yet taken are
    /// skipped); `None` if the downloads stopped without a word (an earlier layer's error
    /// ended them).
    pub(super) fn fetched(mut self) -> Option<Fetched> {
        self.by_ref().for_each(drop);
        self.fetched
    }
}

impl Iterator for Arriving {
    type Item = (usize, PathBuf);

    fn next(&mut self) -> Option<Self::Item> {
        if self.fetched.is_some() {
            return None;
        }
        match self.receiver.recv().ok()? {
            Message::Wheel(position, wheel) => Some((position, wheel)),
            Message::Done(fetched) => {
                self.fetched = Some(fetched);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::build::NoReporter;
    use crate::lock::{Hashes, LockedWheel};
    use crate::network::Network;

    /// A package with one wheel at `url` whose bytes hash to `sha256`.
    fn package(name: &str, url: String, sha256: String) -> LockedPackage {
        LockedPackage {
            name: name.to_string(),
            version: "1.0".to_string(),
            platforms: Vec::new(),
            index: "http://127.0.0.1/simple".to_string(),
            extras: Vec::new(),
            dependencies: Vec::new(),
            why: Vec::new(),
            wheels: vec![LockedWheel {
                name: format!("{name}-1.0-py3-none-any.whl"),
                url,
                size: None,
                hashes: Hashes { sha256 },
            }],
            sdist: None,
            build: None,
        }
    }

    /// A network and a download cache of a test's own.
    struct Downloads {
        network: Network,
        cache: tempfile::TempDir,
    }

    impl Downloads {
        fn new() -> Self {
            Self {
                network: Network::start().unwrap(),
                cache: tempfile::tempdir().unwrap(),
            }
        }

        /// A fetcher whose downloads go to the cache.
        fn fetcher(&self) -> Fetcher<'_> {
            let cache = self.cache.path();
            Fetcher::new(
                &self.network,
                false,
                cache,
                cache.to_path_buf(),
                &NoReporter,
            )
            .unwrap()
        }
    }

    /// [`serve`] of `wheel`, and its sha256.
    fn serve_wheel(wheel: &'static [u8]) -> (String, String) {
        (serve(wheel), crate::sha256::hex(&Sha256::digest(wheel)))
    }

    /// A server on 127.0.0.1 that answers every request with `body`, but for those of a
    /// path ending in `stuck.whl`, which it never answers.
    fn serve(body: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap_or(0);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                if request.contains("stuck.whl ") {
                    held.push(stream);
                    continue;
                }
                let header = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(header.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        url
    }

    /// One layer to fetch ahead: `packages`, counted as `name`.
    fn one_layer<'a>(packages: &'a [&'a LockedPackage], name: &'a str) -> Vec<Option<Wanted<'a>>> {
        vec![Some(Wanted { packages, name })]
    }

    /// Far less time has passed since `started` than the 30 s read timeout that alone would
    /// end a download `serve` never answers.
    fn assert_not_waiting(started: Instant) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn each_layer_takes_its_own_wheels_and_only_those_fetched_ahead() {
        const WHEEL: &[u8] = b"not really a zip";
        let (url, sha256) = serve_wheel(WHEEL);
        let downloads = Downloads::new();
        let fetch = downloads.fetcher();
        let first = [package("alpha", format!("{url}/alpha.whl"), sha256.clone())];
        let second = [package("beta", format!("{url}/beta.whl"), sha256)];
        let (first, second): (Vec<_>, Vec<_>) = (first.iter().collect(), second.iter().collect());
        let built = SdistWheels::new();
        std::thread::scope(|scope| {
            let layers = vec![
                None,
                Some(Wanted {
                    packages: &first,
                    name: "first",
                }),
                Some(Wanted {
                    packages: &second,
                    name: "second",
                }),
            ];
            let mut prefetch = WheelPrefetch::start(scope, &fetch, &built, layers);
            assert!(prefetch.take(0).is_none());
            let second = prefetch.take(2).unwrap().fetched().unwrap().unwrap();
            assert_eq!(second[0].0, "beta");
            assert_eq!(fs_err::read(&second[0].1).unwrap(), WHEEL);
            let first = prefetch.take(1).unwrap().fetched().unwrap().unwrap();
            assert_eq!(first[0].0, "alpha");
            assert!(
                prefetch.take(1).is_none(),
                "a layer's wheels are taken once"
            );
        });
    }

    /// A layer's first wheel is there to install while its last one is still on the wire.
    #[test]
    fn a_layer_takes_each_wheel_as_it_arrives() {
        const WHEEL: &[u8] = b"not really a zip either";
        let (url, sha256) = serve_wheel(WHEEL);
        let downloads = Downloads::new();
        let fetch = downloads.fetcher();
        let packages = [
            package("stuck", format!("{url}/stuck.whl"), "0".repeat(64)),
            package("alpha", format!("{url}/alpha.whl"), sha256),
        ];
        let packages: Vec<_> = packages.iter().collect();
        let built = SdistWheels::new();
        let started = Instant::now();
        std::thread::scope(|scope| {
            let layers = one_layer(&packages, "both");
            let mut prefetch = WheelPrefetch::start(scope, &fetch, &built, layers);
            let mut arriving = prefetch.take(0).unwrap();
            let (position, wheel) = arriving.next().expect("`alpha` arrives before the end");
            assert_eq!(
                position, 1,
                "the position in the layer's wheels, not the arrival's"
            );
            assert_eq!(fs_err::read(wheel).unwrap(), WHEEL);
        });
        assert_not_waiting(started);
    }

    /// A build that fails while later layers' downloads are under way does not wait for them
    /// (here: an answer that never comes, which only the 30 s read timeout would end).
    #[test]
    fn dropping_the_prefetch_stops_its_downloads() {
        let url = serve(b"");
        let downloads = Downloads::new();
        let fetch = downloads.fetcher();
        let packages = [package("stuck", format!("{url}/stuck.whl"), "0".repeat(64))];
        let packages: Vec<_> = packages.iter().collect();
        let built = SdistWheels::new();
        let started = Instant::now();
        std::thread::scope(|scope| {
            let layers = one_layer(&packages, "stuck");
            let prefetch = WheelPrefetch::start(scope, &fetch, &built, layers);
            std::thread::sleep(Duration::from_millis(300));
            drop(prefetch);
        });
        assert_not_waiting(started);
        let left: Vec<_> = walkdir::WalkDir::new(downloads.cache.path())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .collect();
        assert!(
            left.is_empty(),
            "a download cut short leaves nothing: {left:?}"
        );
    }
}
