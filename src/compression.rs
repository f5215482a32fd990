//! How a byte stream is compressed, in one place: what its first bytes (magic numbers) or a
//! file's suffix say, the OCI layer media type that names it
//! (<https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md>, "Media Types"), and
//! the readers and writers for it. Layers are written as zstd (the store's default) or gzip
//! (what `push` and `export --format docker` send by default), the two choices
//! `[image] compression` and `--compression` offer; Debian ships xz and gzip; an
//! archive loaded with `mlpack load` may be any of them, or bzip2, which is recognized only
//! to be refused with a clear message.

use std::io::{self, BufRead, Read, Write};

use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_TYPE_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker's name for a gzip layer, in images pulled from Docker Hub.
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker's name for an uncompressed layer.
const MEDIA_TYPE_DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// zstd's own default level: fast, and within a few percent of gzip -9's ratio.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How a stream is compressed. As a user's choice (`mlpack.toml`, `--compression`), only
/// `zstd` and `gzip` parse: the compressions mlpack writes layers in.
#[derive(
    Debug, Default, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// `tar+zstd`: the default; faster to write and read than gzip, and smaller.
    #[default]
    Zstd,
    /// `tar+gzip`: for registries and runtimes that predate zstd (Docker before 23).
    Gzip,
    /// Not compressed.
    #[serde(skip)]
    #[value(skip)]
    None,
    /// xz (Debian's indexes and packages); read, never written.
    #[serde(skip)]
    #[value(skip)]
    Xz,
    /// bzip2: recognized, and refused.
    #[serde(skip)]
    #[value(skip)]
    Bzip2,
}

/// How many first bytes [`Compression::detect`] needs.
pub const MAGIC_LEN: usize = 6;

impl Compression {
    /// The compression a stream's first bytes ([`MAGIC_LEN`] of them, or all there are)
    /// show; anything unrecognized is taken as uncompressed.
    pub fn detect(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Self::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Self::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Self::Xz
        } else if head.starts_with(b"BZh") {
            Self::Bzip2
        } else {
            Self::None
        }
    }

    /// The compression a file name's suffix (`.gz`, `.xz`, `.zst`, or none) names, as in a
    /// `.deb`'s `data.tar.xz`; `None` for another suffix.
    pub fn from_suffix(suffix: &str) -> Option<Self> {
        match suffix {
            "" => Some(Self::None),
            ".gz" => Some(Self::Gzip),
            ".xz" => Some(Self::Xz),
            ".zst" => Some(Self::Zstd),
            _ => None,
        }
    }

    /// The file name suffix: `.gz`, `.xz`, `.zst`, `.bz2`, or none.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Gzip => ".gz",
            Self::Xz => ".xz",
            Self::Zstd => ".zst",
            Self::Bzip2 => ".bz2",
        }
    }

    /// Its name in messages: `zstd`, `gzip`, `xz`, `bzip2`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
        }
    }

    /// The OCI media type of a layer compressed this way; `None` for xz and bzip2, which
    /// layers never are.
    pub fn layer_media_type(self) -> Option<&'static str> {
        match self {
            Self::None => Some(MEDIA_TYPE_LAYER_TAR),
            Self::Gzip => Some(MEDIA_TYPE_LAYER_GZIP),
            Self::Zstd => Some(MEDIA_TYPE_LAYER_ZSTD),
            Self::Xz | Self::Bzip2 => None,
        }
    }

    /// The compression a layer media type (OCI's or Docker's) names; `None` for a media type
    /// that is not a layer.
    pub fn from_layer_media_type(media_type: &str) -> Option<Self> {
        match media_type {
            MEDIA_TYPE_LAYER_ZSTD => Some(Self::Zstd),
            MEDIA_TYPE_LAYER_GZIP | MEDIA_TYPE_DOCKER_LAYER_GZIP => Some(Self::Gzip),
            MEDIA_TYPE_LAYER_TAR | MEDIA_TYPE_DOCKER_LAYER_TAR => Some(Self::None),
            _ => None,
        }
    }

    /// `input` decompressed as it is read. Concatenated gzip members and xz streams are read
    /// as one stream, as `gzip -d` and `xz -d` read them.
    pub fn reader<R: BufRead>(self, input: R) -> io::Result<Decoder<R>> {
        Ok(Decoder(match self {
            Self::None => Decoding::None(input),
            Self::Gzip => Decoding::Gzip(flate2::bufread::MultiGzDecoder::new(input)),
            Self::Zstd => Decoding::Zstd(zstd::stream::read::Decoder::with_buffer(input)?),
            Self::Xz => Decoding::Xz(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
            Self::Bzip2 => return Err(self.unsupported("read")),
        }))
    }

    /// A writer that compresses into `out`. The output is reproducible: gzip's header has no
    /// time, name or OS, and zstd runs multithreaded, whose output (unlike its
    /// single-threaded mode's) is the same for any number of `zstd_threads`.
    pub fn writer<W: Write>(
        self,
        out: W,
        zstd_level: i32,
        zstd_threads: u32,
    ) -> io::Result<Encoder<W>> {
        Ok(match self {
            Self::None => Encoder(Inner::None(out)),
            Self::Gzip => Encoder(Inner::Gzip(gzip_encoder(out))),
            Self::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, zstd_level)?;
                encoder.multithread(zstd_threads.max(1))?;
                Encoder(Inner::Zstd(encoder))
            }
            Self::Xz | Self::Bzip2 => return Err(self.unsupported("write")),
        })
    }

    fn unsupported(self, action: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("mlpack does not {action} {} streams", self.name()),
        )
    }
}

/// gzip's level: fixed (zlib's default, 6), since it changes the bytes and so the digests of
/// every pushed layer. So does the deflate implementation: zlib-rs, through flate2's
/// `zlib-rs` feature (chosen for its SIMD inflate, which every wheel and pulled gzip layer
/// goes through).
const GZIP_LEVEL: u32 = 6;

/// A gzip encoder whose header carries no time, name or OS (RFC 1952's 255, "unknown"), at
/// a fixed level: the same input gives the same bytes on every push.
fn gzip_encoder<W: Write>(out: W) -> GzEncoder<W> {
    flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(out, flate2::Compression::new(GZIP_LEVEL))
}

/// A decompressing reader from [`Compression::reader`].
pub struct Decoder<R: BufRead>(Decoding<R>);

enum Decoding<R: BufRead> {
    None(R),
    Gzip(flate2::bufread::MultiGzDecoder<R>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
    Xz(liblzma::bufread::XzDecoder<R>),
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            Decoding::None(input) => input.read(buf),
            Decoding::Gzip(decoder) => decoder.read(buf),
            Decoding::Zstd(decoder) => decoder.read(buf),
            Decoding::Xz(decoder) => decoder.read(buf),
        }
    }
}

/// A compressing writer from [`Compression::writer`]; [`Encoder::finish`] ends the stream.
pub struct Encoder<W: Write>(Inner<W>);

enum Inner<W: Write> {
    None(W),
    Gzip(GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// Write the end of the stream and return `out`.
    pub fn finish(self) -> io::Result<W> {
        match self.0 {
            Inner::None(out) => Ok(out),
            Inner::Gzip(encoder) => encoder.finish(),
            Inner::Zstd(encoder) => encoder.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Inner::None(out) => out.write(buf),
            Inner::Gzip(encoder) => encoder.write(buf),
            Inner::Zstd(encoder) => encoder.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Inner::None(out) => out.flush(),
            Inner::Gzip(encoder) => encoder.flush(),
            Inner::Zstd(encoder) => encoder.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_is_detected_and_read_back() {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let mut writer = compression
                .writer(Vec::new(), DEFAULT_ZSTD_LEVEL, 2)
                .unwrap();
            writer.write_all(b"layer bytes").unwrap();
            let bytes = writer.finish().unwrap();
            let detected = Compression::detect(&bytes[..MAGIC_LEN.min(bytes.len())]);
            assert_eq!(detected, compression);
            let mut text = String::new();
            detected
                .reader(&bytes[..])
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            assert_eq!(text, "layer bytes");
            let media_type = compression.layer_media_type().unwrap();
            assert_eq!(
                Compression::from_layer_media_type(media_type),
                Some(compression)
            );
            assert_eq!(
                Compression::from_suffix(compression.suffix()),
                Some(compression)
            );
        }
        assert_eq!(Compression::detect(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(Compression::detect(b"\xfd7zXZ\0"), Compression::Xz);
        assert!(Compression::Xz.writer(Vec::new(), 3, 1).is_err());
    }

    #[test]
    fn users_choose_only_what_layers_are_written_in() {
        #[derive(Deserialize)]
        struct Image {
            compression: Compression,
        }
        let parsed: Image = toml::from_str("compression = \"gzip\"").unwrap();
        assert_eq!(parsed.compression, Compression::Gzip);
        for refused in ["none", "xz", "bzip2"] {
            let error = toml::from_str::<Image>(&format!("compression = \"{refused}\""))
                .err()
                .unwrap();
            assert!(
                error.to_string().contains("expected `zstd` or `gzip`"),
                "{error}"
            );
        }
        let names: Vec<String> = <Compression as clap::ValueEnum>::value_variants()
            .iter()
            .filter_map(clap::ValueEnum::to_possible_value)
            .map(|value| value.get_name().to_string())
            .collect();
        assert_eq!(names, ["zstd", "gzip"]);
    }
}
