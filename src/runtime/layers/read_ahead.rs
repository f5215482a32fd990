//! A layer's stream decompressed and hashed on a thread of its own, a few chunks ahead of the
//! unpacker that creates its files: the two halves of unpacking (CPU in user space, then
//! system calls) run side by side instead of taking turns.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::HashingReader;
use crate::oci::DiffId;

/// Bytes per chunk handed to the unpacker.
const CHUNK: usize = 1 << 20;
/// Chunks decompressed ahead of the unpacker: bounds the memory to a few MB per layer.
const AHEAD: usize = 4;

/// Run `consume` on `source` as it is decompressed and hashed by another thread; returns
/// what `consume` returned and the digest of the whole stream (the diffID). The digest
/// covers every byte up to the end, past where `consume` stopped reading (a tar reader stops
/// at the end-of-archive blocks). When `consume` fails (`Err`), the rest is not read and the
/// digest is an error: nobody needs it.
pub(super) fn read_ahead<T, E>(
    source: Box<dyn Read + Send>,
    consume: impl FnOnce(&mut ChunkReader) -> Result<T, E>,
) -> (Result<T, E>, io::Result<DiffId>) {
    let (sender, receiver) = sync_channel(AHEAD);
    let failed = &AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The sender goes with the thread: its end is the end of the stream.
        let producer = scope.spawn(move || produce(HashingReader::new(source), &sender, failed));
        let mut reader = ChunkReader {
            receiver,
            chunk: Vec::new(),
            position: 0,
        };
        let consumed = consume(&mut reader);
        if consumed.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        // Hangs up: the producer reads the rest on its own, or stops if `consume` failed.
        drop(reader);
        let digest = match producer.join() {
            Ok(digest) => digest,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (consumed, digest)
    })
}

/// The producer's side: chunks to the unpacker while it listens, then the rest read for the
/// digest alone.
fn produce(
    mut reader: HashingReader<Box<dyn Read + Send>>,
    sender: &SyncSender<io::Result<Vec<u8>>>,
    failed: &AtomicBool,
) -> io::Result<DiffId> {
    loop {
        let mut chunk = vec![0; CHUNK];
        let read = match read_full(&mut reader, &mut chunk) {
            Ok(read) => read,
            Err(error) => {
                let message = error.to_string();
                // The unpacker reports it; the digest's error is for a caller that did not.
                let _ = sender.send(Err(error));
                return Err(io::Error::other(message));
            }
        };
        if read == 0 {
            return reader.finish();
        }
        chunk.truncate(read);
        if sender.send(Ok(chunk)).is_err() {
            if failed.load(Ordering::Relaxed) {
                return Err(io::Error::other("the unpacking failed"));
            }
            return reader.finish();
        }
    }
}

/// Fill `buffer` as far as the stream goes; the bytes read (fewer only at its end).
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The unpacker's side: the chunks as one stream; a read error of the producer comes out
/// here as it happened there.
pub(super) struct ChunkReader {
    receiver: Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    position: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.position == self.chunk.len() {
            match self.receiver.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.position = 0;
                }
                Ok(Err(error)) => return Err(error),
                // The producer is done: the end of the stream.
                Err(_) => return Ok(0),
            }
        }
        let length = buf.len().min(self.chunk.len() - self.position);
        buf[..length].copy_from_slice(&self.chunk[self.position..self.position + length]);
        self.position += length;
        Ok(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Digest;

    fn stream(length: usize) -> Vec<u8> {
        (0..length)
            .map(|index| u8::try_from(index % 251).unwrap())
            .collect()
    }

    #[test]
    fn the_digest_covers_what_the_consumer_left_unread() {
        let bytes = stream(3 * CHUNK + 17);
        let (consumed, digest) = read_ahead(Box::new(io::Cursor::new(bytes.clone())), |reader| {
            let mut head = vec![0; CHUNK + 5];
            reader.read_exact(&mut head)?;
            Ok::<_, io::Error>(head)
        });
        assert_eq!(consumed.unwrap(), bytes[..CHUNK + 5]);
        assert_eq!(digest.unwrap(), DiffId::new(Digest::of(&bytes)));
    }

    #[test]
    fn the_consumer_reads_the_whole_stream() {
        let bytes = stream(2 * CHUNK + 3);
        let (consumed, digest) = read_ahead(Box::new(io::Cursor::new(bytes.clone())), |reader| {
            let mut all = Vec::new();
            reader.read_to_end(&mut all)?;
            Ok::<_, io::Error>(all)
        });
        assert_eq!(consumed.unwrap(), bytes);
        assert_eq!(digest.unwrap(), DiffId::new(Digest::of(&bytes)));
    }

    /// A stream that fails after its first bytes.
    struct Broken(bool);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if std::mem::replace(&mut self.0, true) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "corrupt deflate stream",
                ));
            }
            buf[..3].copy_from_slice(b"abc");
            Ok(3)
        }
    }

    #[test]
    fn a_read_error_reaches_the_consumer() {
        let (consumed, digest) = read_ahead(Box::new(Broken(false)), |reader| {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).map(|_| all)
        });
        let error = consumed.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("corrupt deflate"), "{error}");
        assert!(digest.is_err());
    }

    #[test]
    fn a_failed_consumer_stops_the_reading() {
        let bytes = stream(64 * CHUNK);
        let (consumed, digest) = read_ahead(Box::new(io::Cursor::new(bytes)), |_| {
            Err::<(), _>("refused")
        });
        assert_eq!(consumed, Err("refused"));
        assert!(digest.is_err());
    }
}
