//! Streaming reader of conversation files: one JSON conversation per line, constant memory,
//! bad lines reported with their number and skipped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use baton_core::model::{parse_conversation, Conversation, InputLimits};
use indicatif::{ProgressBar, ProgressStyle};

/// A rejected line: its 1-based number and what was wrong, field included.
#[derive(Debug)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

pub struct ConversationReader {
    reader: Box<dyn BufRead>,
    limits: InputLimits,
    max_line_bytes: usize,
    buf: Vec<u8>,
    line: usize,
    progress: Option<ProgressBar>,
    read_bytes: u64,
}

impl ConversationReader {
    /// Opens `path` (or stdin for `-`). A progress bar is drawn on stderr when it is a terminal
    /// and the input is a file of known size.
    pub fn open(path: &Path, limits: InputLimits, max_line_bytes: usize) -> Result<Self> {
        let (reader, size): (Box<dyn BufRead>, Option<u64>) = if path == Path::new("-") {
            (
                Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
                None,
            )
        } else {
            let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let size = f.metadata().ok().map(|m| m.len());
            (Box::new(BufReader::with_capacity(1 << 16, f)), size)
        };
        let progress = match size {
            Some(len) if crate::progress_wanted() && len > 4 * 1024 * 1024 => {
                let bar = ProgressBar::new(len);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
                    )
                    .expect("static template"),
                );
                Some(bar)
            }
            _ => None,
        };
        Ok(Self {
            reader,
            limits,
            max_line_bytes,
            buf: Vec::with_capacity(4096),
            line: 0,
            progress,
            read_bytes: 0,
        })
    }

    /// The next conversation, or the error of the next bad line; `None` at the end of input
    /// (a read error ends the input and is returned as the error of its line).
    pub fn next_conversation(&mut self) -> Option<Result<Conversation, LineError>> {
        loop {
            self.buf.clear();
            self.line += 1;
            let limit = self.max_line_bytes as u64 + 1;
            let n = match (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buf)
            {
                Ok(0) => return None,
                Ok(n) => n,
                Err(e) => {
                    let err = LineError {
                        line: self.line,
                        message: format!("read error: {e}"),
                    };
                    self.reader = Box::new(io::empty());
                    return Some(Err(err));
                }
            };
            self.advance(n as u64);
            if self.buf.len() as u64 == limit && self.buf.last() != Some(&b'\n') {
                let skipped = self.skip_rest_of_line();
                return Some(Err(LineError {
                    line: self.line,
                    message: format!(
                        "line is longer than {} bytes ({} bytes or more); raise --max-line-bytes to accept it",
                        self.max_line_bytes,
                        self.buf.len() as u64 + skipped
                    ),
                }));
            }
            let text = match std::str::from_utf8(&self.buf) {
                // A byte-order mark (as some Windows editors write) opens the file, not the JSON.
                Ok(t) if self.line == 1 => t.strip_prefix('\u{feff}').unwrap_or(t).trim(),
                Ok(t) => t.trim(),
                Err(e) => {
                    return Some(Err(LineError {
                        line: self.line,
                        message: format!("not valid UTF-8 at byte {}", e.valid_up_to()),
                    }))
                }
            };
            if text.is_empty() {
                continue;
            }
            return Some(
                parse_conversation(text, &self.limits).map_err(|e| LineError {
                    line: self.line,
                    message: e.to_string(),
                }),
            );
        }
    }

    fn skip_rest_of_line(&mut self) -> u64 {
        let mut skipped = 0u64;
        loop {
            let (done, used) = match self.reader.fill_buf() {
                Ok([]) => return skipped,
                Ok(chunk) => match chunk.iter().position(|&b| b == b'\n') {
                    Some(p) => (true, p + 1),
                    None => (false, chunk.len()),
                },
                Err(_) => return skipped,
            };
            self.reader.consume(used);
            skipped += used as u64;
            self.advance(used as u64);
            if done {
                return skipped;
            }
        }
    }

    fn advance(&mut self, n: u64) {
        self.read_bytes += n;
        if let Some(bar) = &self.progress {
            if self.line.is_multiple_of(1024) {
                bar.set_position(self.read_bytes);
            }
        }
    }

    /// Clears the progress bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
    }
}
