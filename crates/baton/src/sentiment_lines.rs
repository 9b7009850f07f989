//! `baton sentiment`: VADER scores of each input line, one JSON object per line, in input order.
//!
//! The input is read in chunks of whole lines. A short input is scored on this thread; a longer
//! one goes through a pipeline: this thread reads chunks and hands them to one scoring thread per
//! core, and writes their output back in input order as it arrives, so reading, scoring and
//! writing overlap and the output is byte for byte that of one line at a time. At most a few
//! chunks per thread are in flight: memory stays bounded whatever the input's size.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{mpsc, Mutex};

use anyhow::{Context, Result};
use baton_core::sentiment::{self, Analyzer};

/// Lines are read until a chunk holds this many bytes (or the input ends): about 700 lines of
/// tweets, a millisecond of scoring.
const CHUNK_BYTES: usize = 1 << 16;
/// Chunks read ahead of the writer, per scoring thread.
const IN_FLIGHT_PER_THREAD: usize = 4;

/// One chunk, scored: its output, the warnings to print before the output byte they name, and
/// how many of its lines were not valid UTF-8.
#[derive(Default)]
struct Scored {
    out: Vec<u8>,
    warnings: Vec<(usize, String)>,
    bad: usize,
}

/// A chunk of whole lines and the number of its first line in the input.
struct Chunk {
    seq: usize,
    first_line: usize,
    text: Vec<u8>,
}

pub fn run(file: Option<&Path>) -> Result<ExitCode> {
    let analyzer = sentiment::analyzer();
    let mut reader: Box<dyn BufRead> = match file {
        Some(p) if p != Path::new("-") => Box::new(io::BufReader::with_capacity(
            CHUNK_BYTES,
            fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        _ => Box::new(io::BufReader::with_capacity(CHUNK_BYTES, io::stdin())),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut next_line = 1usize;
    let mut read_chunk = |reader: &mut dyn BufRead, seq: usize| -> io::Result<Option<Chunk>> {
        let mut text = Vec::with_capacity(CHUNK_BYTES + 1024);
        let mut lines = 0;
        while text.len() < CHUNK_BYTES && reader.read_until(b'\n', &mut text)? > 0 {
            lines += 1;
        }
        let first_line = next_line;
        next_line += lines;
        Ok((lines > 0).then_some(Chunk {
            seq,
            first_line,
            text,
        }))
    };
    let mut bad = 0usize;
    let Some(first) = read_chunk(&mut *reader, 0)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let second = read_chunk(&mut *reader, 1)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    match second {
        Some(second) if threads > 1 => {
            bad += pipeline(
                analyzer,
                &mut *reader,
                &mut out,
                threads,
                [first, second],
                &mut read_chunk,
            )?;
        }
        second => {
            // One core or a short input: score here, chunk by chunk.
            let mut next = Some(first);
            let mut pending = second;
            while let Some(chunk) = next {
                bad += write_scored(
                    &mut out,
                    score_part(analyzer, &chunk.text, chunk.first_line),
                )?;
                next = match pending.take() {
                    Some(c) => Some(c),
                    None => read_chunk(&mut *reader, 0)?,
                };
            }
        }
    }
    out.flush()?;
    Ok(if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

type ReadChunk<'a> = dyn FnMut(&mut dyn BufRead, usize) -> io::Result<Option<Chunk>> + 'a;

/// Scores chunks on `threads` threads while this one reads ahead and writes in order; returns
/// how many lines were not valid UTF-8.
fn pipeline(
    analyzer: &'static Analyzer,
    reader: &mut dyn BufRead,
    out: &mut impl Write,
    threads: usize,
    first: [Chunk; 2],
    read_chunk: &mut ReadChunk<'_>,
) -> Result<usize> {
    let (work_tx, work_rx) = mpsc::sync_channel::<Chunk>(threads * IN_FLIGHT_PER_THREAD);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Scored)>();
    let work_rx = Mutex::new(work_rx);
    std::thread::scope(|s| -> Result<usize> {
        for _ in 0..threads {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            s.spawn(move || loop {
                // The lock is held only to take the next chunk.
                let chunk = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(chunk) = chunk else { return };
                let scored = score_part(analyzer, &chunk.text, chunk.first_line);
                if done_tx.send((chunk.seq, scored)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        let mut bad = 0;
        let mut waiting: BTreeMap<usize, Scored> = BTreeMap::new();
        let mut next_to_write = 0;
        let mut sent = 0;
        let limit = threads * IN_FLIGHT_PER_THREAD;
        let mut write_ready =
            |waiting: &mut BTreeMap<usize, Scored>, next_to_write: &mut usize| -> Result<()> {
                while let Some(scored) = waiting.remove(next_to_write) {
                    bad += write_scored(out, scored)?;
                    *next_to_write += 1;
                }
                Ok(())
            };
        let mut pending: Vec<Chunk> = first.into_iter().rev().collect();
        let mut input_done = false;
        loop {
            // Keep up to `limit` chunks in flight; then wait for one to come back.
            while !input_done && sent - next_to_write < limit {
                let chunk = match pending.pop() {
                    Some(c) => Some(c),
                    None => read_chunk(reader, sent)?,
                };
                match chunk {
                    Some(c) => {
                        // The workers outlive this loop; a send fails only if they all died.
                        work_tx.send(c).context("the scoring threads stopped")?;
                        sent += 1;
                    }
                    None => input_done = true,
                }
            }
            if next_to_write == sent {
                break;
            }
            let (seq, scored) = done_rx.recv().context("the scoring threads stopped")?;
            waiting.insert(seq, scored);
            write_ready(&mut waiting, &mut next_to_write)?;
        }
        drop(work_tx);
        Ok(bad)
    })
}

/// Writes one scored chunk, printing each warning on stderr after the output before it.
fn write_scored(out: &mut impl Write, part: Scored) -> io::Result<usize> {
    let mut written = 0;
    for (at, warning) in &part.warnings {
        out.write_all(&part.out[written..*at])?;
        out.flush()?;
        eprintln!("{warning}");
        written = *at;
    }
    out.write_all(&part.out[written..])?;
    Ok(part.bad)
}

/// Scores every line of `text`; `line_no` is the first line's number in the whole input.
fn score_part(analyzer: &Analyzer, text: &[u8], mut line_no: usize) -> Scored {
    let mut scored = Scored {
        out: Vec::with_capacity(text.len() * 2 + 64),
        ..Scored::default()
    };
    for line in text.split_inclusive(|&b| b == b'\n') {
        let lossy;
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                scored.bad += 1;
                scored.warnings.push((
                    scored.out.len(),
                    format!(
                        "line {line_no}: not valid UTF-8 ({e}); scored with replacement characters"
                    ),
                ));
                lossy = String::from_utf8_lossy(line);
                &lossy
            }
        };
        let text = match line_no {
            1 => text.strip_prefix('\u{feff}').unwrap_or(text),
            _ => text,
        };
        let s = analyzer
            .polarity_scores(text.trim_end_matches(['\n', '\r']))
            .rounded();
        serde_json::to_writer(&mut scored.out, &s).expect("writing to a Vec cannot fail");
        scored.out.push(b'\n');
        line_no += 1;
    }
    scored
}
