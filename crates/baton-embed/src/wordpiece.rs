//! BERT uncased WordPiece: the `tokenizers` crate's `BertNormalizer` (clean text, isolate CJK
//! ideographs, strip accents, lowercase), `BertPreTokenizer` (split on whitespace, isolate
//! punctuation) and `WordPiece` model (greedy longest match first, `##` continuations), plus its
//! matching of the special tokens in raw text. Equal to `tokenizers` on the fixture in
//! `tests/fixtures/tokenizer.jsonl`.
//!
//! Text that is printable ASCII (with tab, newline and carriage return) takes a fast path that
//! tokenizes words in place; in other text, only the words (between ASCII white space) that
//! hold another character go through the full Unicode normaliser.

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

/// The tokens that `tokenizers` matches in raw text before normalising (its "added tokens").
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a, continued from `hash` over `bytes`: the hash of the vocabulary's open-addressing table.
pub fn fnv1a(mut hash: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        hash = (hash ^ u32::from(b)).wrapping_mul(FNV_PRIME);
    }
    hash
}

/// A read-only view of a WordPiece vocabulary laid out as in the table file (see [`crate::table`]).
/// The sections are validated when the table is parsed, so lookups only index in bounds.
#[derive(Clone, Copy)]
pub(crate) struct Vocab<'a> {
    /// `len + 1` little-endian u32 offsets into `strings`.
    pub offsets: &'a [u8],
    pub strings: &'a [u8],
    /// Little-endian u32 slots, a power of two in number: token id + 1, or 0 when empty.
    pub slots: &'a [u8],
    pub unk: u32,
    pub max_word_chars: usize,
    /// Ids of [`SPECIAL_TOKENS`] present in the vocabulary.
    pub specials: [Option<u32>; 5],
}

fn u32_at(bytes: &[u8], index: usize) -> u32 {
    let at = index * 4;
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl<'a> Vocab<'a> {
    pub fn len(&self) -> usize {
        self.offsets.len() / 4 - 1
    }

    /// The text of token `id` (`##` included for continuations).
    pub fn token(&self, id: u32) -> &'a [u8] {
        let id = id as usize;
        &self.strings[u32_at(self.offsets, id) as usize..u32_at(self.offsets, id + 1) as usize]
    }

    /// The id of `piece`, or of `##piece` when `continuation`.
    pub fn find(&self, continuation: bool, piece: &[u8]) -> Option<u32> {
        let mut hash = FNV_OFFSET;
        if continuation {
            hash = fnv1a(hash, b"##");
        }
        hash = fnv1a(hash, piece);
        let mask = self.slots.len() / 4 - 1;
        let mut slot = hash as usize & mask;
        loop {
            let entry = u32_at(self.slots, slot);
            if entry == 0 {
                return None;
            }
            let token = self.token(entry - 1);
            let found = if continuation {
                token.len() == piece.len() + 2 && token.starts_with(b"##") && &token[2..] == piece
            } else {
                token == piece
            };
            if found {
                return Some(entry - 1);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Appends the ids of `text` to `out` (no [CLS]/[SEP] added). `word` is scratch space.
    pub fn encode(&self, text: &str, out: &mut Vec<u32>, word: &mut String) {
        let mut rest = text;
        while let Some((at, len, id)) = self.next_special(rest) {
            self.encode_plain(&rest[..at], out, word);
            out.push(id);
            rest = &rest[at + len..];
        }
        self.encode_plain(rest, out, word);
    }

    /// The leftmost special token in `text`: (byte offset, byte length, id).
    fn next_special(&self, text: &str) -> Option<(usize, usize, u32)> {
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(i) = bytes[from..].iter().position(|&b| b == b'[') {
            let at = from + i;
            for (name, id) in SPECIAL_TOKENS.iter().zip(self.specials) {
                if let Some(id) = id {
                    if bytes[at..].starts_with(name.as_bytes()) {
                        return Some((at, name.len(), id));
                    }
                }
            }
            from = at + 1;
        }
        None
    }

    fn encode_plain(&self, text: &str, out: &mut Vec<u32>, word: &mut String) {
        let ascii = text
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'));
        if ascii {
            self.encode_ascii(text, out, word);
            return;
        }
        // Words between ASCII white space are tokenized alone: normalising never joins or
        // splits across it (it is a starter, so no combining mark moves over it). Only the words
        // that hold a byte outside printable ASCII pay for the Unicode normaliser.
        for chunk in text.split([' ', '\t', '\n', '\r']) {
            if chunk.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                self.encode_ascii(chunk, out, word);
            } else {
                self.encode_unicode(chunk, out, word);
            }
        }
    }

    /// Printable ASCII: normalising only lowercases, so words are slices of `text` (copied to
    /// `lower` only when they hold an uppercase letter).
    fn encode_ascii(&self, text: &str, out: &mut Vec<u32>, lower: &mut String) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_whitespace() {
                i += 1;
            } else if b.is_ascii_punctuation() {
                out.push(self.find(false, &bytes[i..=i]).unwrap_or(self.unk));
                i += 1;
            } else {
                let start = i;
                let mut upper = false;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !bytes[i].is_ascii_punctuation()
                {
                    upper |= bytes[i].is_ascii_uppercase();
                    i += 1;
                }
                let w = &text[start..i];
                if upper {
                    lower.clear();
                    lower.push_str(w);
                    lower.make_ascii_lowercase();
                    self.encode_word(lower, out);
                } else {
                    self.encode_word(w, out);
                }
            }
        }
    }

    fn encode_unicode(&self, text: &str, out: &mut Vec<u32>, word: &mut String) {
        word.clear();
        let normalized = text
            .chars()
            .filter(|&c| !(c == '\0' || c == '\u{fffd}' || is_control(c)))
            .map(|c| if is_whitespace(c) { ' ' } else { c })
            .nfd()
            .filter(|c| !c.is_mark_nonspacing())
            .flat_map(char::to_lowercase);
        for c in normalized {
            if c.is_whitespace() {
                self.flush(word, out);
            } else if is_punctuation(c) || is_cjk(c) {
                self.flush(word, out);
                let mut buf = [0; 4];
                self.encode_word(c.encode_utf8(&mut buf), out);
            } else {
                word.push(c);
            }
        }
        self.flush(word, out);
    }

    fn flush(&self, word: &mut String, out: &mut Vec<u32>) {
        if !word.is_empty() {
            self.encode_word(word, out);
            word.clear();
        }
    }

    /// WordPiece on one normalised, non-empty word: greedy longest match first; the whole word is
    /// [UNK] when it is longer than `max_word_chars` or some remainder matches no token.
    fn encode_word(&self, word: &str, out: &mut Vec<u32>) {
        if word.len() > self.max_word_chars && word.chars().count() > self.max_word_chars {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let bytes = word.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let mut end = bytes.len();
            loop {
                if let Some(id) = self.find(start > 0, &bytes[start..end]) {
                    out.push(id);
                    break;
                }
                end -= 1;
                while !word.is_char_boundary(end) {
                    end -= 1;
                }
                if end == start {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
            }
            start = end;
        }
    }
}

/// `tokenizers`' BERT whitespace: tab, newline, carriage return and Unicode White_Space.
fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// `tokenizers`' BERT control characters, removed: other (Cc, Cf, Co) except tab, newline
/// and carriage return.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// CJK ideographs, which BERT treats as words of their own.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::table::StaticModel;

    proptest! {
        /// Words tokenized one by one give the ids of the whole text through the normaliser.
        #[test]
        fn words_alone_give_the_ids_of_the_whole_text(
            text in "([a-zA-Z0-9 .,!?'\t\n\r-]|[\u{0}-\u{1f}\u{7f}\u{a0}\u{300}-\u{36f}\u{2019}\u{2014}\u{e9}\u{c9}\u{df}\u{4e00}\u{1f600}\u{fffd}\u{200b}\u{3000}\u{130}]){0,60}"
        ) {
            let vocab = StaticModel::embedded().vocab();
            let (mut whole, mut words, mut scratch) = (Vec::new(), Vec::new(), String::new());
            vocab.encode_unicode(&text, &mut whole, &mut scratch);
            vocab.encode_plain(&text, &mut words, &mut scratch);
            prop_assert_eq!(whole, words);
        }
    }
}
