//! A container's log: one JSON object per line, `{"log":"…\n","stream":"stdout","time":"…"}`,
//! the shape of Docker's `json-file` driver, so stdout and stderr stay apart and each line
//! keeps its time. `mlpack logs` reads it back, follows it while the container runs, and
//! can start from the last N lines.

use std::io::{self, BufRead as _, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A line longer than this is written in pieces, as Docker splits at 16 KiB.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: Stream,
    pub time: String,
}

/// Appends output to the log as whole lines.
pub(crate) struct LogWriter {
    file: io::BufWriter<fs_err::File>,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: io::BufWriter::new(file),
            partial: [Vec::new(), Vec::new()],
        })
    }

    pub(crate) fn write(&mut self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        let index = stream as usize;
        self.partial[index].extend_from_slice(bytes);
        while let Some(end) = self.partial[index]
            .iter()
            .position(|byte| *byte == b'\n')
            .map(|newline| newline + 1)
            .or_else(|| (self.partial[index].len() >= MAX_LINE).then_some(MAX_LINE))
        {
            let line: Vec<u8> = self.partial[index].drain(..end).collect();
            self.entry(stream, &line)?;
        }
        self.file.flush()
    }

    /// Write out unterminated output (at exit).
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[stream as usize]);
            if !rest.is_empty() {
                self.entry(stream, &rest)?;
            }
        }
        self.file.flush()
    }

    fn entry(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let entry = LogEntry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream,
            time: jiff::Timestamp::now().to_string(),
        };
        serde_json::to_writer(&mut self.file, &entry)?;
        self.file.write_all(b"\n")
    }
}

/// Reads a log from where it left off; a half-written last line waits for the next read.
pub struct LogReader {
    reader: io::BufReader<fs_err::File>,
    pending: String,
}

impl LogReader {
    pub fn open(path: &Path) -> io::Result<Self> {
        if !path.exists() {
            fs_err::File::create(path)?;
        }
        Ok(Self {
            reader: io::BufReader::new(fs_err::File::open(path)?),
            pending: String::new(),
        })
    }

    /// The complete entries written since the last call.
    pub fn read_new(&mut self) -> io::Result<Vec<LogEntry>> {
        let mut entries = Vec::new();
        loop {
            let read = self.reader.read_line(&mut self.pending)?;
            if read == 0 || !self.pending.ends_with('\n') {
                return Ok(entries);
            }
            if let Ok(entry) = serde_json::from_str(&self.pending) {
                entries.push(entry);
            }
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_per_stream_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut writer = LogWriter::open(&path).unwrap();
        writer.write(Stream::Stdout, b"one\ntw").unwrap();
        writer.write(Stream::Stderr, b"err\n").unwrap();
        writer.write(Stream::Stdout, b"o\nthree").unwrap();
        let mut reader = LogReader::open(&path).unwrap();
        let lines: Vec<(Stream, String)> = reader
            .read_new()
            .unwrap()
            .into_iter()
            .map(|entry| (entry.stream, entry.log))
            .collect();
        assert_eq!(
            lines,
            [
                (Stream::Stdout, "one\n".to_string()),
                (Stream::Stderr, "err\n".to_string()),
                (Stream::Stdout, "two\n".to_string()),
            ]
        );
        writer.finish().unwrap();
        let rest = reader.read_new().unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].log, "three");
    }
}
