//! Sentiment scoring: the VADER algorithm (Hutto & Gilbert, ICWSM 2014) over its MIT-licensed
//! lexicon, which ships in `lexicon/` beside this crate with its licence.
//!
//! The scores follow the reference implementation (vaderSentiment 3.3.2) rule for rule, including
//! its quirks (the "but" rule rescales the first occurrence of a repeated valence), so that
//! `baton sentiment` is a drop-in replacement on the same `compound` scale. `BENCHMARKS.md`
//! records how often our output equals the reference and how much faster it is.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use serde::Serialize;

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

const BOOSTERS_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.5),
];

// `LEXICON` and `EMOJI`, prepared from `lexicon/` by `build.rs`: nothing is parsed at start.
include!(concat!(env!("OUT_DIR"), "/lexicon.rs"));

/// VADER scores of one text: `compound` in [-1, 1]; `pos + neu + neg` is 1 (or all are 0 for a
/// text without tokens).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SentimentScores {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
}

impl SentimentScores {
    /// The same scores rounded as the reference prints them (compound to 4 places, the others to 3).
    pub fn rounded(self) -> Self {
        fn round(x: f64, places: i32) -> f64 {
            let f = 10f64.powi(places);
            (x * f).round() / f
        }
        Self {
            compound: round(self.compound, 4),
            pos: round(self.pos, 3),
            neu: round(self.neu, 3),
            neg: round(self.neg, 3),
        }
    }
}

/// The VADER analyser: lexicon, boosters and emoji descriptions, loaded once.
#[derive(Clone)]
pub struct Analyzer {
    /// Every word the rules care about: lexicon valence, booster weight, negation. Shared by
    /// the analysers made from this one ([`Analyzer::with_valence`]).
    words: std::sync::Arc<FxHashMap<&'static str, WordInfo>>,
    emojis: std::sync::Arc<FxHashMap<char, &'static str>>,
    /// Valences a policy gives on top of the lexicon ([`Analyzer::with_valence`]): one word
    /// (`None`: taken out of the lexicon), and two words, given to the second.
    extra_words: FxHashMap<Box<str>, Option<f64>>,
    extra_pairs: Vec<(Box<str>, Box<str>, f64)>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("words", &self.words.len())
            .field("extra_words", &self.extra_words)
            .field("extra_pairs", &self.extra_pairs)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct WordInfo {
    valence: Option<f64>,
    booster: Option<f64>,
    negation: bool,
}

/// The process-wide analyser (the lexicon is parsed on first use).
pub fn analyzer() -> &'static Analyzer {
    static ANALYZER: OnceLock<Analyzer> = OnceLock::new();
    ANALYZER.get_or_init(Analyzer::new)
}

/// Scores `text` with the shared analyser.
pub fn polarity_scores(text: &str) -> SentimentScores {
    analyzer().polarity_scores(text)
}

/// Buffers reused from one text to the next, so scoring does not allocate.
#[derive(Default)]
struct Scratch {
    replaced: String,
    lower_buf: String,
    tokens: Vec<Token>,
    sentiments: Vec<f64>,
}

struct Token {
    lower: std::ops::Range<usize>,
    valence: Option<f64>,
    booster: Option<f64>,
    negation: bool,
    upper: bool,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    pub fn new() -> Self {
        // Sized up front: growing a table of 7,500 words rehashes it a dozen times.
        let mut words: FxHashMap<&'static str, WordInfo> = FxHashMap::with_capacity_and_hasher(
            LEXICON.len() + BOOSTERS_UP.len() + BOOSTERS_DOWN.len() + NEGATE.len(),
            Default::default(),
        );
        for &(word, valence) in LEXICON {
            words.entry(word).or_default().valence = Some(valence);
        }
        for w in BOOSTERS_UP {
            words.entry(w).or_default().booster = Some(B_INCR);
        }
        for w in BOOSTERS_DOWN {
            words.entry(w).or_default().booster = Some(B_DECR);
        }
        for w in NEGATE {
            words.entry(w).or_default().negation = true;
        }
        let emojis = EMOJI.iter().copied().collect();
        Self {
            words: std::sync::Arc::new(words),
            emojis: std::sync::Arc::new(emojis),
            extra_words: FxHashMap::default(),
            extra_pairs: Vec::new(),
        }
    }

    /// This analyser with valences added or changed, as a policy gives them: each entry is one
    /// lower-case word or two (the pair's valence goes to its second word when the first comes
    /// just before it, as "let down"), on VADER's scale (-4..4); 0 takes a word out of the
    /// lexicon ("honestly", which VADER scores +2.0, is an intensifier in a complaint).
    pub fn with_valence(&self, entries: &[(String, f64)]) -> Analyzer {
        let mut a = self.clone();
        for (key, v) in entries {
            let mut words = key.split_whitespace();
            match (words.next(), words.next()) {
                (Some(first), Some(second)) => {
                    a.extra_pairs.push((first.into(), second.into(), *v));
                }
                (Some(word), None) => {
                    a.extra_words.insert(word.into(), (*v != 0.0).then_some(*v));
                }
                _ => {}
            }
        }
        a
    }

    /// The lexicon valence of a lower-case token, if it has one.
    pub fn valence(&self, lower: &str) -> Option<f64> {
        self.words.get(lower).and_then(|w| w.valence)
    }

    /// Scores `text` exactly as vaderSentiment's `polarity_scores` does.
    pub fn polarity_scores(&self, text: &str) -> SentimentScores {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.score_with(text, &mut scratch),
            // Only reachable if scoring ever re-entered itself; stay correct regardless.
            Err(_) => self.score_with(text, &mut Scratch::default()),
        })
    }

    fn score_with(&self, text: &str, scratch: &mut Scratch) -> SentimentScores {
        let Scratch {
            replaced,
            lower_buf,
            tokens,
            sentiments,
        } = scratch;
        let ascii = text.is_ascii();
        let text = if ascii {
            text.trim()
        } else {
            self.replace_emojis(text, replaced);
            replaced.trim()
        };
        lower_buf.clear();
        tokens.clear();
        let mut push = |raw: &str| {
            let original = strip_punctuation_if_word(raw);
            let start = lower_buf.len();
            lower_buf.push_str(original);
            let upper = if original.is_ascii() {
                lower_buf.as_mut_str()[start..].make_ascii_lowercase();
                is_upper_ascii(original)
            } else {
                lower_buf.truncate(start);
                lower_buf.push_str(&original.to_lowercase());
                is_upper(original)
            };
            let l = &lower_buf[start..];
            let info = self.words.get(l).copied().unwrap_or_default();
            let valence = match self.extra_words.get(l) {
                Some(v) => *v,
                None => info.valence,
            };
            tokens.push(Token {
                lower: start..lower_buf.len(),
                valence,
                booster: info.booster,
                negation: info.negation
                    || (l.len() > 2 && l.as_bytes().contains(&b'\'') && l.contains("n't")),
                upper,
            });
        };
        if ascii {
            // Python's str.split(): on ASCII text its whitespace includes \x0b and \x1c..\x1f.
            text.split([
                ' ', '\t', '\n', '\r', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\x1f',
            ])
            .filter(|t| !t.is_empty())
            .for_each(&mut push);
        } else {
            text.split_whitespace().for_each(&mut push);
        }
        for i in 1..tokens.len() {
            let pair = (
                &lower_buf[tokens[i - 1].lower.clone()],
                &lower_buf[tokens[i].lower.clone()],
            );
            if let Some((_, _, v)) = self
                .extra_pairs
                .iter()
                .find(|(a, b, _)| (&**a, &**b) == pair)
            {
                tokens[i].valence = Some(*v);
            }
        }
        let words = Words {
            buf: lower_buf,
            tokens,
        };
        let n = tokens.len();
        let upper_count = tokens.iter().filter(|t| t.upper).count();
        let cap_diff = upper_count > 0 && upper_count < n;

        sentiments.clear();
        for (i, t) in tokens.iter().enumerate() {
            if t.booster.is_some() {
                sentiments.push(0.0);
                continue;
            }
            if i + 1 < n && words.w(i) == "kind" && words.w(i + 1) == "of" {
                sentiments.push(0.0);
                continue;
            }
            sentiments.push(self.valence_at(&words, i, cap_diff));
        }
        but_check(&words, sentiments);
        score_valence(sentiments, text)
    }

    fn replace_emojis(&self, text: &str, out: &mut String) {
        out.clear();
        let mut prev_space = true;
        for c in text.chars() {
            if let Some(description) = self.emojis.get(&c) {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(description);
                prev_space = false;
            } else {
                out.push(c);
                prev_space = c == ' ';
            }
        }
    }

    fn valence_at(&self, words: &Words, i: usize, cap_diff: bool) -> f64 {
        let t = &words.tokens[i];
        let Some(lex) = t.valence else {
            return 0.0;
        };
        let n = words.tokens.len();
        let mut valence = lex;
        if words.w(i) == "no" && i != n - 1 && words.tokens[i + 1].valence.is_some() {
            valence = 0.0;
        }
        if (i > 0 && words.w(i - 1) == "no")
            || (i > 1 && words.w(i - 2) == "no")
            || (i > 2 && words.w(i - 3) == "no" && matches!(words.w(i - 1), "or" | "nor"))
        {
            valence = lex * N_SCALAR;
        }
        if t.upper && cap_diff {
            if valence > 0.0 {
                valence += C_INCR;
            } else {
                valence -= C_INCR;
            }
        }
        for start_i in 0..3 {
            if i > start_i && words.tokens[i - (start_i + 1)].valence.is_none() {
                let mut s = scalar_inc_dec(&words.tokens[i - (start_i + 1)], valence, cap_diff);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = negation_check(valence, words, start_i, i);
                if start_i == 2 {
                    valence = self.special_idioms_check(valence, words, i);
                }
            }
        }
        least_check(valence, words, i)
    }

    fn special_idioms_check(&self, mut valence: f64, words: &Words, i: usize) -> f64 {
        let n = words.tokens.len();
        let (w3, w2, w1, w0) = (words.w(i - 3), words.w(i - 2), words.w(i - 1), words.w(i));
        let sequences: [&[&str]; 5] = [
            &[w1, w0],
            &[w2, w1, w0],
            &[w2, w1],
            &[w3, w2, w1],
            &[w3, w2],
        ];
        if let Some(v) = sequences.iter().find_map(|s| special_case(s)) {
            valence = v;
        }
        if n - 1 > i {
            if let Some(v) = special_case(&[w0, words.w(i + 1)]) {
                valence = v;
            }
        }
        if n - 1 > i + 1 {
            if let Some(v) = special_case(&[w0, words.w(i + 1), words.w(i + 2)]) {
                valence = v;
            }
        }
        // Only two-word boosters ("kind of", "sort of", "just enough") can match here.
        for gram in [[w3, w2], [w2, w1]] {
            if let Some(b) = two_word_booster(gram) {
                valence += b;
            }
        }
        valence
    }
}

struct Words<'a> {
    buf: &'a str,
    tokens: &'a [Token],
}

impl Words<'_> {
    fn w(&self, i: usize) -> &str {
        &self.buf[self.tokens[i].lower.clone()]
    }
}

fn special_case(seq: &[&str]) -> Option<f64> {
    // Every special case starts with one of these words: most calls end here.
    if !matches!(
        seq[0],
        "the" | "bad" | "bus" | "yeah" | "kiss" | "to" | "beating"
    ) {
        return None;
    }
    SPECIAL_CASES.iter().find_map(|(key, v)| {
        let mut parts = key.split(' ');
        let matches = seq.iter().all(|w| parts.next() == Some(w)) && parts.next().is_none();
        matches.then_some(*v)
    })
}

fn two_word_booster(gram: [&str; 2]) -> Option<f64> {
    match gram {
        ["kind", "of"] | ["sort", "of"] | ["just", "enough"] => Some(B_DECR),
        _ => None,
    }
}

/// Python's `str.isupper()`: at least one cased character and no lower-case one.
fn is_upper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() {
            return false;
        }
        if c.is_uppercase() {
            cased = true;
        }
    }
    cased
}

/// `is_upper` of ASCII text.
fn is_upper_ascii(s: &str) -> bool {
    let b = s.as_bytes();
    !b.iter().any(u8::is_ascii_lowercase) && b.iter().any(u8::is_ascii_uppercase)
}

/// Strips leading and trailing ASCII punctuation unless that leaves two characters or fewer
/// (then the token was probably an emoticon such as ":)" and is kept whole).
fn strip_punctuation_if_word(token: &str) -> &str {
    let bytes = token.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_punctuation)
        && !bytes.last().is_some_and(u8::is_ascii_punctuation)
    {
        return token;
    }
    let stripped = token.trim_matches(|c: char| c.is_ascii_punctuation());
    let short = stripped.len() <= 2
        || (stripped.len() <= 8 && !stripped.is_ascii() && stripped.chars().count() <= 2);
    if short {
        token
    } else {
        stripped
    }
}

fn scalar_inc_dec(token: &Token, valence: f64, cap_diff: bool) -> f64 {
    let Some(mut scalar) = token.booster else {
        return 0.0;
    };
    if valence < 0.0 {
        scalar = -scalar;
    }
    if token.upper && cap_diff {
        if valence > 0.0 {
            scalar += C_INCR;
        } else {
            scalar -= C_INCR;
        }
    }
    scalar
}

fn negation_check(valence: f64, words: &Words, start_i: usize, i: usize) -> f64 {
    match start_i {
        0 => {
            if words.tokens[i - 1].negation {
                return valence * N_SCALAR;
            }
        }
        1 => {
            let (w2, w1) = (words.w(i - 2), words.w(i - 1));
            if w2 == "never" && (w1 == "so" || w1 == "this") {
                return valence * 1.25;
            } else if w2 == "without" && w1 == "doubt" {
                return valence;
            } else if words.tokens[i - 2].negation {
                return valence * N_SCALAR;
            }
        }
        _ => {
            let (w3, w2, w1) = (words.w(i - 3), words.w(i - 2), words.w(i - 1));
            // The reference's operator precedence: `never` is only required for the first pair.
            if (w3 == "never" && (w2 == "so" || w2 == "this")) || (w1 == "so" || w1 == "this") {
                return valence * 1.25;
            } else if w3 == "without" && (w2 == "doubt" || w1 == "doubt") {
                return valence;
            } else if words.tokens[i - 3].negation {
                return valence * N_SCALAR;
            }
        }
    }
    valence
}

fn least_check(valence: f64, words: &Words, i: usize) -> f64 {
    if i > 0 && words.tokens[i - 1].valence.is_none() && words.w(i - 1) == "least" {
        if i > 1 {
            let w2 = words.w(i - 2);
            if w2 != "at" && w2 != "very" {
                return valence * N_SCALAR;
            }
            return valence;
        }
        return valence * N_SCALAR;
    }
    valence
}

/// The reference's "but" rule, quirks included: each value is looked up by equality, so a
/// repeated valence rescales its first occurrence.
fn but_check(words: &Words, sentiments: &mut [f64]) {
    let Some(bi) = (0..words.tokens.len()).find(|&i| words.w(i) == "but") else {
        return;
    };
    for k in 0..sentiments.len() {
        let sentiment = sentiments[k];
        let si = sentiments.iter().position(|&s| s == sentiment).unwrap_or(k);
        if si < bi {
            sentiments[si] = sentiment * 0.5;
        } else if si > bi {
            sentiments[si] = sentiment * 1.5;
        }
    }
}

fn normalize(score: f64) -> f64 {
    let norm = score / (score * score + 15.0).sqrt();
    norm.clamp(-1.0, 1.0)
}

fn punctuation_emphasis(text: &str) -> f64 {
    let ep = text.bytes().filter(|&b| b == b'!').count().min(4) as f64 * 0.292;
    let qm_count = text.bytes().filter(|&b| b == b'?').count();
    let qm = match qm_count {
        0 | 1 => 0.0,
        2 | 3 => qm_count as f64 * 0.18,
        _ => 0.96,
    };
    ep + qm
}

fn score_valence(sentiments: &[f64], text: &str) -> SentimentScores {
    if sentiments.is_empty() {
        return SentimentScores {
            compound: 0.0,
            pos: 0.0,
            neu: 0.0,
            neg: 0.0,
        };
    }
    let mut sum: f64 = sentiments.iter().sum();
    let amplifier = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += amplifier;
    } else if sum < 0.0 {
        sum -= amplifier;
    }
    let compound = normalize(sum);
    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0f64, 0.0f64, 0usize);
    for &s in sentiments {
        if s > 0.0 {
            pos_sum += s + 1.0;
        }
        if s < 0.0 {
            neg_sum += s - 1.0;
        }
        if s == 0.0 {
            neu_count += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += amplifier;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= amplifier;
    }
    let total = pos_sum + neg_sum.abs() + neu_count as f64;
    SentimentScores {
        compound,
        pos: (pos_sum / total).abs(),
        neu: (neu_count as f64 / total).abs(),
        neg: (neg_sum / total).abs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compound(text: &str) -> f64 {
        polarity_scores(text).rounded().compound
    }

    #[test]
    fn valences_a_policy_adds_change_only_what_they_name() {
        let plain = analyzer();
        let added = plain.with_valence(&[
            ("gutted".into(), -2.5),
            ("let down".into(), -2.0),
            ("honestly".into(), 0.0),
        ]);
        let c = |a: &Analyzer, t: &str| a.polarity_scores(t).compound;
        // VADER alone hears these as positive: "honestly" is +2.0 and the rest unknown.
        for t in ["I'm honestly gutted.", "I feel really let down, honestly."] {
            assert!(c(plain, t) > 0.05, "{t}: {}", c(plain, t));
            assert!(c(&added, t) < -0.3, "{t}: {}", c(&added, t));
        }
        // The pair needs both words in order; negation still applies to it.
        assert_eq!(c(&added, "Let me sit down."), c(plain, "Let me sit down."));
        assert!(c(&added, "I don't feel let down at all.") > 0.0);
        // Everything else scores as VADER does.
        for t in [
            "The book was good.",
            "Today SUX!",
            "VADER is not smart, handsome, nor funny.",
        ] {
            assert_eq!(c(&added, t), c(plain, t), "{t}");
        }
    }

    // Expected values printed by vaderSentiment 3.3.2 for the examples in its own demo.
    #[test]
    fn matches_reference_on_its_demo_sentences() {
        let cases = [
            ("VADER is smart, handsome, and funny.", 0.8316),
            ("VADER is smart, handsome, and funny!", 0.8439),
            ("VADER is very smart, handsome, and funny.", 0.8545),
            ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342),
            ("VADER is not smart, handsome, nor funny.", -0.7424),
            ("The book was good.", 0.4404),
            ("At least it isn't a horrible book.", 0.431),
            ("The book was only kind of good.", 0.3832),
            (
                "The plot was good, but the characters are uncompelling and the dialog is not great.",
                -0.7042,
            ),
            ("Today SUX!", -0.5461),
            ("Today only kinda sux! But I'll get by, lol", 0.5249),
            ("Make sure you :) or :D today!", 0.8633),
            ("Not bad at all", 0.431),
            ("", 0.0),
        ];
        for (text, expected) in cases {
            assert_eq!(compound(text), expected, "{text}");
        }
    }

    #[test]
    fn emoji_are_scored_through_their_description() {
        assert!(compound("Catch utf-8 emoji such as 💘 and 💋 and 😁") > 0.5);
        assert!(compound("I'm really upset now 😢") < -0.4);
    }

    #[test]
    fn proportions_sum_to_one() {
        let s = polarity_scores("The food was great but the service was awful.");
        assert!((s.pos + s.neu + s.neg - 1.0).abs() < 1e-9);
    }
}
