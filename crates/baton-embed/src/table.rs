//! The static embedding table: its file format, parsing and validation, and sentence embedding.
//!
//! # Format (version 1, all integers little-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 8 | magic `BATONEMB` |
//! | 4 × 8 | `version` (1), `vocab` (V), `dims` (D), `rows` (R), `slots` (H, a power of two ≥ 2V), `strings` (S), `unk` (id of `[UNK]`), `max_word_chars` |
//! | 4 × (V + 1) | `offsets`: token i is `strings[offsets[i]..offsets[i + 1]]` |
//! | 4 × V | `row_of`: the row of token i, or `u32::MAX` for a token without one |
//! | 4 × H | `slots`: open-addressing hash of the tokens (FNV-1a of the token's bytes, linear probing), token id + 1 or 0 when empty |
//! | 4 × R | `scales`: f32 per row |
//! | R × D | `data`: i8 per row and dimension; a row's vector is `scale × data` |
//! | S | `strings`: the tokens' UTF-8 bytes, in id order |
//!
//! Tokens the tokenizer never produces from text (the `[unusedN]` and special tokens, accented
//! tokens that accent stripping makes unreachable) have no row, and neither does `[UNK]`: an
//! embedding ignores them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::OnceLock;

use crate::wordpiece::{Vocab, SPECIAL_TOKENS};
use crate::EmbedError;

/// The file's first eight bytes.
pub const MAGIC: &[u8; 8] = b"BATONEMB";
/// The format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before the first section.
pub const HEADER_LEN: usize = 40;
/// A vocabulary slot with no row (a token the table leaves out).
pub const NO_ROW: u32 = u32::MAX;

/// The table distilled from all-MiniLM-L6-v2, compiled in.
static EMBEDDED: &[u8] = include_bytes!("../data/minilm-l6-static.bin");

/// A static sentence embedding model: WordPiece tokens looked up in a table of int8 rows.
///
/// A sentence's embedding is the L2-normalised sum of its tokens' rows (the frequency weighting
/// and the removal of the common component were applied to the rows when they were distilled).
pub struct StaticModel {
    bytes: Cow<'static, [u8]>,
    layout: Layout,
}

/// Where each section starts in `bytes` (all sizes validated against the length).
#[derive(Clone, Copy, Debug)]
struct Layout {
    vocab: usize,
    dims: usize,
    rows: usize,
    unk: u32,
    max_word_chars: usize,
    offsets: usize,
    row_of: usize,
    slots: usize,
    slots_len: usize,
    scales: usize,
    data: usize,
    strings: usize,
    strings_len: usize,
    specials: [Option<u32>; 5],
}

fn table_error(field: &'static str, problem: impl Into<String>) -> EmbedError {
    EmbedError::Table {
        field,
        problem: problem.into(),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

thread_local! {
    /// Token ids and a word buffer reused by [`StaticModel::embed`] so that it allocates only
    /// while the buffers grow.
    static SCRATCH: RefCell<(Vec<u32>, String)> = const { RefCell::new((Vec::new(), String::new())) };
}

impl StaticModel {
    /// The table compiled into the binary, parsed on first use (the header only: tens of
    /// nanoseconds).
    pub fn embedded() -> &'static StaticModel {
        static MODEL: OnceLock<StaticModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            // Only the shape is checked here: a test checks every entry of the compiled-in table
            // (`from_bytes` on the same bytes), which start-up need not redo.
            let layout = Layout::validate(EMBEDDED, false).expect("the compiled-in table is valid");
            StaticModel {
                bytes: Cow::Borrowed(EMBEDDED),
                layout,
            }
        })
    }

    /// Parses and validates a table in the format above (copying `bytes`).
    ///
    /// Returns an error naming the field if the magic, version, shape or any section size is
    /// wrong, or if an offset, row index or hash slot points outside its section.
    pub fn from_bytes(bytes: &[u8]) -> Result<StaticModel, EmbedError> {
        let layout = Layout::validate(bytes, true)?;
        Ok(StaticModel {
            bytes: Cow::Owned(bytes.to_vec()),
            layout,
        })
    }

    /// The number of dimensions of an embedding.
    pub fn dims(&self) -> usize {
        self.layout.dims
    }

    /// The number of tokens in the vocabulary (ids are `0..vocab_size()`).
    pub fn vocab_size(&self) -> usize {
        self.layout.vocab
    }

    /// The text of token `id`, or `None` past the vocabulary.
    pub fn token(&self, id: u32) -> Option<&str> {
        let vocab = self.vocab();
        ((id as usize) < vocab.len()).then(|| std::str::from_utf8(vocab.token(id)).unwrap_or(""))
    }

    /// The dequantised row of token `id`, or `None` if it has none.
    pub fn row(&self, id: u32) -> Option<Vec<f32>> {
        self.quantised_row(id)
            .map(|(scale, row)| row.iter().map(|&q| scale * f32::from(q as i8)).collect())
    }

    pub(crate) fn vocab(&self) -> Vocab<'_> {
        let (b, l) = (&self.bytes[..], &self.layout);
        Vocab {
            offsets: &b[l.offsets..l.offsets + 4 * (l.vocab + 1)],
            strings: &b[l.strings..l.strings + l.strings_len],
            slots: &b[l.slots..l.slots + 4 * l.slots_len],
            unk: l.unk,
            max_word_chars: l.max_word_chars,
            specials: l.specials,
        }
    }

    #[inline]
    fn quantised_row(&self, id: u32) -> Option<(f32, &[u8])> {
        let l = &self.layout;
        if id as usize >= l.vocab {
            return None;
        }
        let row = u32_at(&self.bytes, l.row_of + 4 * id as usize);
        if row == NO_ROW {
            return None;
        }
        let row = row as usize;
        let scale = f32::from_le_bytes(u32_at(&self.bytes, l.scales + 4 * row).to_le_bytes());
        let at = l.data + row * l.dims;
        Some((scale, &self.bytes[at..at + l.dims]))
    }

    /// Replaces the contents of `out` with the WordPiece ids of `text`, as the `tokenizers` crate
    /// encodes it with all-MiniLM-L6-v2's tokenizer without special tokens ([CLS], [SEP]).
    pub fn tokenize_ids(&self, text: &str, out: &mut Vec<u32>) {
        out.clear();
        SCRATCH.with(|s| self.vocab().encode(text, out, &mut s.borrow_mut().1));
    }

    /// Writes the embedding of `text` into `out`: the L2-normalised sum of its tokens' rows, or
    /// all zeros if no token of `text` has a row (empty text, only unknown words).
    ///
    /// # Panics
    /// If `out.len() != self.dims()`.
    pub fn embed(&self, text: &str, out: &mut [f32]) {
        assert_eq!(
            out.len(),
            self.dims(),
            "embed: output length must equal dims()"
        );
        out.fill(0.0);
        SCRATCH.with(|s| {
            let (ids, word) = &mut *s.borrow_mut();
            ids.clear();
            self.vocab().encode(text, ids, word);
            self.sum_rows(ids, out);
        });
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|x| *x /= norm);
        }
    }

    /// The rows of `ids` added into `out`, token by token (each entry gets the same additions
    /// in the same order whichever instructions do them, so the same bits).
    fn sum_rows(&self, ids: &[u32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { self.sum_rows_avx2(ids, out) };
                return;
            }
        }
        self.sum_rows_plain(ids, out);
    }

    /// [`sum_rows`](Self::sum_rows) compiled for AVX2: eight entries at a time instead of four.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sum_rows_avx2(&self, ids: &[u32], out: &mut [f32]) {
        self.sum_rows_plain(ids, out);
    }

    #[inline(always)]
    fn sum_rows_plain(&self, ids: &[u32], out: &mut [f32]) {
        for &id in ids {
            if let Some((scale, row)) = self.quantised_row(id) {
                for (o, &q) in out.iter_mut().zip(row) {
                    *o += scale * f32::from(q as i8);
                }
            }
        }
    }

    /// [`embed`](Self::embed) into a new vector.
    pub fn embed_vec(&self, text: &str) -> Vec<f32> {
        let mut out = vec![0.0; self.dims()];
        self.embed(text, &mut out);
        out
    }
}

impl std::fmt::Debug for StaticModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticModel")
            .field("vocab", &self.layout.vocab)
            .field("rows", &self.layout.rows)
            .field("dims", &self.layout.dims)
            .finish()
    }
}

impl Layout {
    /// Reads the header and checks the sections' sizes against the length; with `entries`, also
    /// every offset, row index and hash slot (what makes lookups stay in bounds).
    fn validate(b: &[u8], entries: bool) -> Result<Layout, EmbedError> {
        if b.len() < HEADER_LEN {
            return Err(table_error(
                "header",
                format!(
                    "{} bytes, shorter than the {HEADER_LEN}-byte header",
                    b.len()
                ),
            ));
        }
        if &b[..8] != MAGIC {
            return Err(table_error(
                "magic",
                "not a Baton embedding table (expected `BATONEMB`)",
            ));
        }
        let field = |i: usize| u32_at(b, 8 + 4 * i);
        let version = field(0);
        if version != VERSION {
            return Err(table_error(
                "version",
                format!("{version}, this build reads version {VERSION}"),
            ));
        }
        let [vocab, dims, rows, slots_len, strings_len, unk, max_word_chars] =
            [1, 2, 3, 4, 5, 6, 7].map(|i| field(i) as usize);
        if vocab == 0 || vocab >= u32::MAX as usize {
            return Err(table_error("vocab", format!("{vocab} tokens")));
        }
        if dims == 0 || dims > 4096 {
            return Err(table_error("dims", format!("{dims}, expected 1 to 4096")));
        }
        if rows > vocab {
            return Err(table_error(
                "rows",
                format!("{rows} rows for {vocab} tokens"),
            ));
        }
        if !slots_len.is_power_of_two() || slots_len < 2 * vocab {
            return Err(table_error(
                "slots",
                format!(
                    "{slots_len}, expected a power of two at least twice the vocabulary ({vocab})"
                ),
            ));
        }
        if unk >= vocab {
            return Err(table_error(
                "unk",
                format!("id {unk} outside the vocabulary of {vocab}"),
            ));
        }
        let offsets = HEADER_LEN;
        let row_of = offsets + 4 * (vocab + 1);
        let slots = row_of + 4 * vocab;
        let scales = slots + 4 * slots_len;
        let data = scales + 4 * rows;
        let strings = data + rows * dims;
        let expected = strings + strings_len;
        if b.len() != expected {
            return Err(table_error(
                "length",
                format!(
                    "{} bytes, but the header (vocab {vocab}, dims {dims}, rows {rows}, slots {slots_len}, strings {strings_len}) needs {expected}",
                    b.len()
                ),
            ));
        }
        if entries {
            check_entries(b, vocab, rows, strings, slots, slots_len)?;
        }
        let mut layout = Layout {
            vocab,
            dims,
            rows,
            unk: unk as u32,
            max_word_chars,
            offsets,
            row_of,
            slots,
            slots_len,
            scales,
            data,
            strings,
            strings_len,
            specials: [None; 5],
        };
        let view = Vocab {
            offsets: &b[offsets..offsets + 4 * (vocab + 1)],
            strings: &b[strings..],
            slots: &b[slots..slots + 4 * slots_len],
            unk: layout.unk,
            max_word_chars,
            specials: [None; 5],
        };
        layout.specials = SPECIAL_TOKENS.map(|name| view.find(false, name.as_bytes()));
        Ok(layout)
    }
}

/// Offsets in order and within the strings, UTF-8 strings, row indices within the rows, and a hash
/// table holding each token once.
fn check_entries(
    b: &[u8],
    vocab: usize,
    rows: usize,
    strings: usize,
    slots: usize,
    slots_len: usize,
) -> Result<(), EmbedError> {
    let (offsets, row_of) = (HEADER_LEN, HEADER_LEN + 4 * (vocab + 1));
    let strings_len = b.len() - strings;
    let mut previous = 0;
    for i in 0..=vocab {
        let offset = u32_at(b, offsets + 4 * i) as usize;
        if offset < previous || offset > strings_len || (i == 0 && offset != 0) {
            return Err(table_error(
                "offsets",
                format!("entry {i} ({offset}) out of order or past the strings"),
            ));
        }
        previous = offset;
    }
    if std::str::from_utf8(&b[strings..]).is_err() {
        return Err(table_error("strings", "not UTF-8"));
    }
    for i in 0..vocab {
        let row = u32_at(b, row_of + 4 * i);
        if row != NO_ROW && row as usize >= rows {
            return Err(table_error(
                "row_of",
                format!("token {i} points at row {row} of {rows}"),
            ));
        }
    }
    let mut used = 0;
    for i in 0..slots_len {
        let slot = u32_at(b, slots + 4 * i) as usize;
        if slot > vocab {
            return Err(table_error(
                "slots",
                format!("slot {i} holds token {} of {vocab}", slot - 1),
            ));
        }
        used += usize::from(slot != 0);
    }
    if used != vocab {
        return Err(table_error(
            "slots",
            format!("{used} tokens hashed, expected {vocab}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::StaticModel;

    proptest! {
        /// The rows summed with the CPU's vector instructions have the plain loop's bits.
        #[test]
        fn rows_summed_either_way_have_the_same_bits(
            ids in proptest::collection::vec(0u32..31_000, 0..80),
        ) {
            let model = StaticModel::embedded();
            let (mut fast, mut plain) = (vec![0.0f32; model.dims()], vec![0.0f32; model.dims()]);
            model.sum_rows(&ids, &mut fast);
            model.sum_rows_plain(&ids, &mut plain);
            prop_assert_eq!(fast.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                plain.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        }
    }
}
