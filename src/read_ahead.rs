//! A stream read on a thread of its own, a few chunks ahead of the code that consumes it:
//! the CPU half of unpacking an archive (decompressing, hashing) and its system-call half
//! (creating files) run side by side instead of taking turns. The layer unpacker
//! (`runtime::layers`) and the `.deb` extractor (`debian::extract`) read through it.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes per chunk handed to the consumer.
const CHUNK: usize = 1 << 20;
/// Chunks read ahead of the consumer: bounds the memory to a few MB per stream.
const AHEAD: usize = 4;

/// Run `consume` on `source` as another thread reads it; returns what `consume` returned and
/// `source`, read to its end, past where `consume` stopped reading (a tar reader stops at the
/// end-of-archive blocks), so a hashing reader has seen every byte. When `consume` fails
/// (`Err`), the rest is not read and the source is an error: nobody needs it.
pub fn read_ahead<R: Read + Send, T, E>(
    source: R,
    consume: impl FnOnce(&mut ChunkReader) -> Result<T, E>,
) -> (Result<T, E>, io::Result<R>) {
    let (sender, receiver) = sync_channel(AHEAD);
    let failed = &AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The sender goes with the thread: its end is the end of the stream.
        let producer = scope.spawn(move || produce(source, &sender, failed));
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
        let source = match producer.join() {
            Ok(source) => source,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (consumed, source)
    })
}

/// The producer's side: chunks to the consumer while it listens, then the rest read alone.
fn produce<R: Read>(
    mut reader: R,
    sender: &SyncSender<io::Result<Vec<u8>>>,
    failed: &AtomicBool,
) -> io::Result<R> {
    loop {
        let mut chunk = vec![0; CHUNK];
        let read = match read_full(&mut reader, &mut chunk) {
            Ok(read) => read,
            Err(error) => {
                let message = error.to_string();
                // The consumer reports it; the returned error is for a caller that did not.
                let _ = sender.send(Err(error));
                return Err(io::Error::other(message));
            }
        };
        if read == 0 {
            return Ok(reader);
        }
        chunk.truncate(read);
        if sender.send(Ok(chunk)).is_err() {
            if failed.load(Ordering::Relaxed) {
                return Err(io::Error::other("the unpacking failed"));
            }
            io::copy(&mut reader, &mut io::sink())?;
            return Ok(reader);
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

/// The consumer's side: the chunks as one stream; a read error of the producer comes out
/// here as it happened there.
pub struct ChunkReader {
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

    fn stream(length: usize) -> Vec<u8> {
        (0..length)
            .map(|index| u8::try_from(index % 251).unwrap())
            .collect()
    }

    #[test]
    fn the_source_is_read_past_where_the_consumer_stopped() {
        let bytes = stream(3 * CHUNK + 17);
        let (consumed, source) = read_ahead(io::Cursor::new(bytes.clone()), |reader| {
            let mut head = vec![0; CHUNK + 5];
            reader.read_exact(&mut head)?;
            Ok::<_, io::Error>(head)
        });
        assert_eq!(consumed.unwrap(), bytes[..CHUNK + 5]);
        assert_eq!(source.unwrap().position(), 3 * CHUNK as u64 + 17);
    }

    #[test]
    fn the_consumer_reads_the_whole_stream() {
        let bytes = stream(2 * CHUNK + 3);
        let (consumed, source) = read_ahead(io::Cursor::new(bytes.clone()), |reader| {
            let mut all = Vec::new();
            reader.read_to_end(&mut all)?;
            Ok::<_, io::Error>(all)
        });
        assert_eq!(consumed.unwrap(), bytes);
        assert_eq!(source.unwrap().position(), 2 * CHUNK as u64 + 3);
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
        let (consumed, source) = read_ahead(Broken(false), |reader| {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).map(|_| all)
        });
        let error = consumed.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("corrupt deflate"), "{error}");
        assert!(source.is_err());
    }

    #[test]
    fn a_failed_consumer_stops_the_reading() {
        let bytes = stream(64 * CHUNK);
        let (consumed, source) = read_ahead(io::Cursor::new(bytes), |_| Err::<(), _>("refused"));
        assert_eq!(consumed, Err("refused"));
        assert!(source.is_err());
    }
}
