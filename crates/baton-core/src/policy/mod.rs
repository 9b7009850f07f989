//! The escalation policy: the TOML file a support lead edits (`policy/default.toml`), its
//! validation with errors that name the key and line, and the compiled form the engine runs.

use regex::Regex;
use serde::Deserialize;

use crate::model::Tier;
use crate::semantic::Semantic;

mod compiler;
mod file;
mod sections;
mod semantic;
use crate::reason::ReasonKind;
use compiler::Compiler;
use file::PolicyFile;
pub use semantic::{BankLoader, BUILTIN_BANK};

/// The shipped default policy, the one the labelled development data assumes.
/// The screen keeps at most this many bytes of each required literal ...
const SCREEN_LITERAL_LEN: usize = 8;
/// ... expands a character class of at most this many characters into its literals ...
const SCREEN_LITERAL_CLASS: usize = 10;
/// ... and gives up on a list (scans it always) beyond this many literals.
const SCREEN_LITERALS: usize = 20_000;
/// Sets of literals a pattern's every match holds one of each of; `None`: no such set (see
/// [`Screen::requirements`]).
type Requirements = Option<Vec<Vec<Vec<u8>>>>;

/// Lazy-DFA cache of each pattern list. On varied text the default (2 MiB) fills and is
/// cleared again and again, and the search falls back to the NFA. Memory is taken only as
/// states are built, once per thread. At 4 MiB a list of the session-20 policy filled it on
/// 27,500 varied messages and the process peaked at 131 MB; at 8 MiB nothing is cleared and
/// it peaks at 66 MB (16 MiB: 69 MB; 1 MiB: 119 MB; BENCHMARKS.md, session 21). Why clearing
/// leaves more memory behind was not traced (the allocator keeping what was freed, likely).
const MATCHER_DFA_CACHE: usize = 8 << 20;

pub const DEFAULT_POLICY: &str = include_str!("../../../../policy/default.toml");

/// Lines of a policy file whose patterns use Unicode's `\w` (outside `(?-u:...)`), 1-based:
/// `\w` covers every alphabet, and in a gap such as `(\w+\s+){0,3}` it multiplies the states
/// of the automaton that matches the list (the default policy's memory fell from 63 to 47 MB
/// when its 33 such lines wrote `[0-9A-Za-z_]` instead). `baton policy check` warns about them.
pub fn unicode_word_class_lines(source: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        let bytes = code.as_bytes();
        let found = code.match_indices("\\w").any(|(at, _)| {
            // Not an escaped backslash followed by "w", and not inside (?-u:...).
            let escaped = bytes[..at]
                .iter()
                .rev()
                .take_while(|b| **b == b'\\')
                .count()
                % 2
                == 1;
            !escaped && !code[..at].ends_with("(?-u:")
        });
        if found {
            out.push(i + 1);
        }
    }
    out
}

/// A policy that failed to load: where (line, key) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{key}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct PolicyError {
    /// 1-based line in the policy file, when known.
    pub line: Option<usize>,
    /// The dotted key, e.g. `low_confidence.threshold` or `custom_rules[1].patterns`.
    pub key: String,
    pub message: String,
}

/// Weights and targets of the Handoff Quality Score.
#[derive(Debug, Clone)]
pub struct QualityRules {
    /// context, routing, smoothness, efficiency; sum to 1.
    pub weights: [f64; 4],
    pub target_resolution_minutes: f64,
    pub repeat_overlap: f64,
    pub repeat_contact_days: u64,
}

/// Customer-facing texts, with `{placeholders}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub explicit_request: String,
    pub assigned: String,
    pub queued: String,
    pub callback: String,
    /// An explicit request that has to wait in the queue (older policy files: the shipped text).
    #[serde(default = "Texts::default_explicit_request_queued")]
    pub explicit_request_queued: String,
    /// A callback while the team is open but nobody with the skill is free (older policy files:
    /// the shipped text).
    #[serde(default = "Texts::default_no_agent")]
    pub no_agent: String,
}

impl Texts {
    fn default_explicit_request_queued() -> String {
        "Of course, {first_name}. I've asked our {team} team to take over and shared our conversation, so you won't need to repeat anything. Expected wait time is {eta}; I'm happy to keep helping while you wait.".to_string()
    }

    fn default_no_agent() -> String {
        "Nobody from our {team} team is free to take this right now. I can schedule a callback for you on {callback_time}, and they'll have all the context from our conversation. Would that work?".to_string()
    }

    /// Fills `{name}` placeholders from `values`; unknown placeholders are left as they are.
    pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
        let mut out = template.to_string();
        for (k, v) in values {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct RoutingRules {
    pub accept_timeout_seconds: u64,
    pub ageing_seconds: u64,
    pub default_handle_seconds: f64,
    pub handle_time_sample: usize,
    pub no_agent_callback_minutes: u64,
}

/// A team: the skill it serves and its hours.
#[derive(Debug, Clone)]
pub struct Team {
    pub name: String,
    pub skill: String,
    pub hours: crate::schedule::Hours,
    /// Seconds within which a handoff should be answered (accepted by a person): the service
    /// level target the lead dashboard measures waits against.
    pub target_seconds: u64,
}

/// Handoff priority, most urgent last so that `Ord` ranks them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// The screen over the rarely matching pattern lists (see [`Policy::screen`]): for each list, a
/// set of literals one of which every match of the list contains, all found by one Aho-Corasick
/// pass over the message. A list with no such set is always scanned.
///
/// It used to be one lazy-DFA `RegexSet` per group of lists. On varied text those sets built
/// DFA states for every combination of partial matches in flight: 10-18% of `baton analyze`'s
/// time and more than 20 MB of caches. The literals cost one automaton of a few hundred KB
/// and no cache; a list the literals let through is then searched by its own regex, as before.
#[derive(Clone, Default)]
pub struct Screen {
    literals: Option<daachorse::DoubleArrayAhoCorasick<u32>>,
    /// For each literal, the requirements it meets. A requirement is a set of literals one of
    /// which every match of its line contains; a line is let through when a text meets all of
    /// its requirements (up to [`SCREEN_REQUIREMENTS`] per line).
    owners: Vec<Box<[u16]>>,
    /// The line (bit) of each requirement.
    line_of: Vec<u16>,
    /// How many requirements each line has, by bit.
    needs: Vec<u8>,
    /// Lines with no set of required literals: always searched.
    always: ScreenHits,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("literals", &self.owners.len())
            .field("requirements", &self.line_of.len())
            .field("always", &self.always)
            .finish()
    }
}

/// At most this many requirements per line: the strongest set of literals, and the strongest
/// of the other parts every match is made of ("(can|could) ... (someone|somebody) ... (call|
/// ring)" needs a word of each).
const SCREEN_REQUIREMENTS: usize = 3;

impl Screen {
    /// Which screened lines may match `text`.
    pub fn matches(&self, text: &str) -> ScreenHits {
        let mut hits = self.always;
        let Some(ac) = &self.literals else {
            return hits;
        };
        // Requirements met so far, and how many of each line's.
        let mut met = [0u64; ScreenHits::CAPACITY * SCREEN_REQUIREMENTS / 64];
        let mut count = [0u8; ScreenHits::CAPACITY];
        for m in ac.find_overlapping_iter(text) {
            for &r in self.owners[m.value() as usize].iter() {
                let r = usize::from(r);
                if met[r / 64] >> (r % 64) & 1 == 1 {
                    continue;
                }
                met[r / 64] |= 1 << (r % 64);
                let line = usize::from(self.line_of[r]);
                count[line] += 1;
                if count[line] == self.needs[line] {
                    hits.set(line);
                }
            }
        }
        hits
    }

    /// Sets of literals, every match of `pattern` containing one literal of each; `None` when
    /// there is no such set (a pattern that may match any word, or nothing). The first set is the
    /// strongest of the whole pattern ([`required`]); the others come from the parts of the
    /// pattern that every match is made of, strongest first.
    fn requirements(pattern: &str) -> Requirements {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(pattern)
            .ok()?;
        Self::requirements_of(&hir)
    }

    /// [`requirements`](Self::requirements) of a pattern already parsed (`hir`).
    fn requirements_of(hir: &regex_syntax::hir::Hir) -> Requirements {
        let hir = one_space(hir);
        // A literal so short it says nothing makes no requirement.
        let telling = |set: &Vec<Vec<u8>>| set.iter().all(|l| l.len() >= 2);
        let first = required(&hir).filter(telling)?;
        let mut parts = Vec::new();
        conjuncts(&hir, &mut parts);
        let mut others: Vec<Vec<Vec<u8>>> = parts
            .into_iter()
            .filter_map(required)
            .filter(|set| telling(set) && strength(set).0 >= 2)
            .collect();
        others.sort_by_key(|set| std::cmp::Reverse(strength(set)));
        let mut all = vec![first];
        for set in others {
            if all.len() == SCREEN_REQUIREMENTS {
                break;
            }
            if !all.contains(&set) {
                all.push(set);
            }
        }
        Some(all)
    }

    /// The screen of `patterns`, each with its bit (below [`ScreenHits::CAPACITY`]).
    #[cfg(test)]
    fn build(patterns: &[(usize, &str)]) -> Result<Screen, daachorse::errors::DaachorseError> {
        Self::from_requirements(
            patterns
                .iter()
                .map(|&(bit, pattern)| (bit, Self::requirements(pattern)))
                .collect(),
        )
    }

    /// The screen of patterns given by their bits (below [`ScreenHits::CAPACITY`]) and their
    /// [`requirements`](Self::requirements).
    fn from_requirements(
        patterns: Vec<(usize, Requirements)>,
    ) -> Result<Screen, daachorse::errors::DaachorseError> {
        let mut screen = Screen {
            needs: vec![0; ScreenHits::CAPACITY],
            ..Screen::default()
        };
        let mut index: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<u16>> = Vec::new();
        for (bit, requirements) in patterns {
            match requirements {
                None => screen.always.set(bit),
                Some(sets) => {
                    screen.needs[bit] = sets.len() as u8;
                    for set in sets {
                        let r = screen.line_of.len() as u16;
                        screen.line_of.push(bit as u16);
                        for l in set {
                            let at = *index.entry(l.clone()).or_insert_with(|| {
                                literals.push(l);
                                owners.push(Vec::new());
                                literals.len() - 1
                            });
                            owners[at].push(r);
                        }
                    }
                }
            }
        }
        screen.owners = owners.into_iter().map(Vec::into_boxed_slice).collect();
        if !literals.is_empty() {
            // A double-array automaton: half the time of `aho-corasick`'s NFA per byte here, in
            // less memory (about 190 KB for the default policy's 4,000 literals); its DFA was as
            // fast alone but ten times the size, and lost in place.
            screen.literals = Some(daachorse::DoubleArrayAhoCorasick::new(&literals)?);
        }
        Ok(screen)
    }
}

/// `hir` for the normalised text the screen reads, where every run of white space is one space:
/// a white-space class, or a repetition of one at least once, becomes the literal " ", so that
/// `back\s+on\s+my\s+card` yields the literal "back on my card" rather than "back".
fn one_space(hir: &regex_syntax::hir::Hir) -> regex_syntax::hir::Hir {
    use regex_syntax::hir::{Hir, HirKind};
    rewrite_hir(hir, &|h| match h.kind() {
        _ if is_white_class(h) => Some(Hir::literal(" ".as_bytes())),
        HirKind::Repetition(r) if r.min >= 1 && is_white_class(&r.sub) => {
            Some(Hir::literal(" ".as_bytes()))
        }
        _ => None,
    })
}

/// A class of white space only that holds ' ' (`\s`, Unicode's or ASCII's, `[ \t]`).
pub(super) fn is_white_class(h: &regex_syntax::hir::Hir) -> bool {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            c.ranges()
                .iter()
                .any(|r| r.start() <= ' ' && ' ' <= r.end())
                && c.ranges()
                    .iter()
                    .all(|r| (r.start()..=r.end()).all(char::is_whitespace))
        }
        HirKind::Class(Class::Bytes(c)) => {
            c.ranges()
                .iter()
                .any(|r| r.start() <= b' ' && b' ' <= r.end())
                && c.ranges()
                    .iter()
                    .all(|r| (r.start()..=r.end()).all(|b| b.is_ascii_whitespace()))
        }
        _ => false,
    }
}

/// `hir` rebuilt top-down: a node `replace` gives a replacement for is replaced; elsewhere
/// repetitions, groups, concatenations and alternations are rebuilt around their rewritten parts.
pub(super) fn rewrite_hir(
    hir: &regex_syntax::hir::Hir,
    replace: &impl Fn(&regex_syntax::hir::Hir) -> Option<regex_syntax::hir::Hir>,
) -> regex_syntax::hir::Hir {
    use regex_syntax::hir::{Capture, Hir, HirKind, Repetition};
    if let Some(new) = replace(hir) {
        return new;
    }
    let again = |h: &Hir| rewrite_hir(h, replace);
    match hir.kind() {
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(again(&r.sub)),
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(again(&c.sub)),
        }),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(again).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.iter().map(again).collect()),
        _ => hir.clone(),
    }
}

/// The parts every match of `hir` is made of: the parts of a concatenation (and theirs), the
/// inside of a group, of a repetition at least once.
fn conjuncts<'h>(hir: &'h regex_syntax::hir::Hir, out: &mut Vec<&'h regex_syntax::hir::Hir>) {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) => conjuncts(&c.sub, out),
        HirKind::Repetition(r) if r.min >= 1 => conjuncts(&r.sub, out),
        HirKind::Concat(parts) => parts.iter().for_each(|p| conjuncts(p, out)),
        _ => out.push(hir),
    }
}

/// Literals at least one of which every match of `hir` contains (each cut to
/// [`SCREEN_LITERAL_LEN`] bytes), chosen to be as long and as few as the pattern allows; `None`
/// when some match need contain none (it may be empty, or start with any word).
fn required(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Alternation(branches) => {
            let mut all = Vec::new();
            for b in branches {
                all.extend(required(b)?);
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        HirKind::Concat(parts) => {
            // Either what one part requires, or the literals the rest of the concatenation
            // starts with from some part on: whichever set is longest and smallest.
            let mut best: Option<Vec<Vec<u8>>> = None;
            let mut consider = |set: Option<Vec<Vec<u8>>>| {
                if let Some(set) = set {
                    if best.as_ref().is_none_or(|b| strength(&set) > strength(b)) {
                        best = Some(set);
                    }
                }
            };
            for (i, part) in parts.iter().enumerate() {
                consider(required(part));
                consider(starts(&regex_syntax::hir::Hir::concat(parts[i..].to_vec())));
            }
            best
        }
        _ => starts(hir),
    }
}

/// The literals every match of `hir` starts with (cut to [`SCREEN_LITERAL_LEN`] bytes), if
/// there are few and none is empty.
fn starts(hir: &regex_syntax::hir::Hir) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_class(SCREEN_LITERAL_CLASS)
        .limit_repeat(4)
        .limit_literal_len(SCREEN_LITERAL_LEN)
        .limit_total(SCREEN_LITERALS);
    let mut seq = extractor.extract(hir);
    seq.keep_first_bytes(SCREEN_LITERAL_LEN);
    seq.dedup();
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.is_empty()) {
        return None;
    }
    let mut out: Vec<Vec<u8>> = literals.iter().map(|l| l.as_bytes().to_vec()).collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// How well a set of literals screens: its shortest literal (longer is rarer; spaces do not
/// count, every other word is next to one), then fewer.
fn strength(set: &[Vec<u8>]) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set
        .iter()
        .map(|l| l.iter().filter(|b| **b != b' ').count())
        .min()
        .unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

/// Which screened pattern lines may match a message: one bit per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScreenHits([u64; ScreenHits::CAPACITY / 64]);

impl ScreenHits {
    /// Lines beyond this many are not screened (their lists are searched whole, always).
    pub const CAPACITY: usize = 1024;

    pub fn matched(&self, i: usize) -> bool {
        i < Self::CAPACITY && self.0[i / 64] >> (i % 64) & 1 == 1
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    /// Whether any of the bits `from..from + n` is set.
    fn any_in(&self, from: usize, n: usize) -> bool {
        (from..from + n).any(|i| self.matched(i))
    }
}

/// One line of a list the screen reads: its pattern as the engine reads it, compiled the first
/// time the screen lets a message through to it. Most lines wait for rare words, and compiling
/// all of them was about a third of loading the shipped policy (`baton analyze` of an empty file,
/// and every test that loads it); a long run compiles only the lines its text ever needs.
///
/// The pattern was parsed when the policy was loaded, and a line whose compiled size could come
/// near the regex size limit was compiled then too (see `Line::checked_as`), so compiling later
/// does not fail in practice; if it ever did, the line would match nothing.
#[derive(Debug, Clone)]
pub struct Line {
    pattern: std::sync::Arc<str>,
    regex: std::sync::Arc<std::sync::OnceLock<Option<Regex>>>,
    /// What the screen needs of the line, worked out from the parse made on load (so the
    /// pattern is not parsed again for the screen); taken when the screen is built.
    screen: Option<Requirements>,
}

/// A line whose estimated compiled size is above this many units (a unit is at least a state of
/// the regex's automaton) is compiled when the policy is loaded, so a pattern too large to compile
/// is reported there. The shipped policy's largest line is about 13,000 units; the smallest
/// pattern seen to exceed the regex size limit, `\w{300}`, about 950,000 (`\pL{200}`, about
/// 540,000, still compiles).
const LAZY_LINE_LIMIT: usize = 50_000;

impl Line {
    /// [`checked_as`](Self::checked_as) of a pattern parsed here, for a screened list (tests).
    #[cfg(test)]
    pub(crate) fn checked(pattern: &str) -> Result<Line, regex::Error> {
        let hir = regex_syntax::Parser::new().parse(pattern).ok();
        Line::checked_as(pattern, hir.as_ref(), true)
    }

    /// `pattern` checked as the policy loader checks a line, from its parse `hir` (what
    /// `regex_syntax::Parser::new().parse(pattern)` gives, or an equivalent rewrite of it that
    /// `pattern` prints; `None` when it does not parse): compiled now when its size could come
    /// near the limit, or when it does not parse (the error is then `regex`'s own, `Regex::new`'s).
    /// With `screened`, what the screen needs of the line is worked out from `hir` now (the line
    /// is for a list the screen reads), so the pattern is not parsed again for the screen.
    pub(crate) fn checked_as(
        pattern: &str,
        hir: Option<&regex_syntax::hir::Hir>,
        screened: bool,
    ) -> Result<Line, regex::Error> {
        let mut line = Line {
            pattern: pattern.into(),
            regex: Default::default(),
            screen: None,
        };
        match hir {
            Some(hir) if size_estimate(hir) <= LAZY_LINE_LIMIT => {
                if screened {
                    line.screen = Some(Screen::requirements_of(hir));
                }
            }
            // An error (named by `regex` itself), or a line that may be large: compiled now.
            _ => {
                let regex = Regex::new(pattern)?;
                line.regex.get_or_init(|| Some(regex));
            }
        }
        Ok(line)
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The compiled line (compiled now if this is its first use); `None` if it does not compile.
    pub fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| Regex::new(&self.pattern).ok())
            .as_ref()
    }

    /// Whether the line has been compiled yet.
    #[cfg(test)]
    fn compiled(&self) -> bool {
        self.regex.get().is_some()
    }
}

/// A bound on the size of `hir`'s automaton, in states: literals by their bytes, classes by
/// their ranges (a Unicode range is up to four bytes long), repetitions by their copies.
fn size_estimate(hir: &regex_syntax::hir::Hir) -> usize {
    use regex_syntax::hir::{Class, HirKind};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(l) => l.0.len(),
        HirKind::Class(Class::Unicode(c)) => 4 * c.ranges().len() + 1,
        HirKind::Class(Class::Bytes(c)) => c.ranges().len() + 1,
        HirKind::Repetition(r) => {
            let copies = r.max.unwrap_or(r.min.saturating_add(1)).max(1) as usize;
            size_estimate(&r.sub)
                .saturating_mul(copies)
                .saturating_add(1)
        }
        HirKind::Capture(c) => size_estimate(&c.sub).saturating_add(2),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts
            .iter()
            .map(size_estimate)
            .fold(1usize, usize::saturating_add),
    }
}

/// A compiled list of phrases or patterns: one regex, so each message is scanned once.
///
/// A list the screen reads ([`Policy::screen`]) is kept line by line instead, each line its own
/// regex with its own bit in the screen: a message is then searched only by the lines whose
/// literals it holds. One alternation of a whole list had to track every line's partial
/// matches at once, and on varied text its lazy DFA kept building states for their
/// combinations (about a quarter of `baton analyze`'s time, session 30). The leftmost match
/// of the lines, the first line first at equal starts, is the alternation's match.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// The whole alternation; `None` for a list kept line by line.
    regex: Option<Regex>,
    /// The alternation's parts, in its order, each its own regex (for a list the screen reads).
    lines: Vec<Line>,
    /// Bit of this matcher's first line in [`Policy::screen`]'s hits, when it is screened.
    screen_from: Option<usize>,
    /// The whole alternation again, for [`Matcher::count`] with the forward search only (set by
    /// [`Matcher::counting`]; `None` when the list can match the empty string).
    forward: Option<std::sync::Arc<regex_automata::meta::Regex>>,
}

impl Matcher {
    /// The first match in `text` at or after byte `from`.
    pub fn find_at<'t>(&self, text: &'t str, from: usize) -> Option<regex::Match<'t>> {
        self.all().find_at(text, from)
    }

    pub fn find<'t>(&self, text: &'t str) -> Option<regex::Match<'t>> {
        self.find_at(text, 0)
    }

    pub fn find_iter<'r, 't>(&'r self, text: &'t str) -> Matches<'r, 't> {
        self.all().find_iter(text)
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.all().is_match(text)
    }

    pub fn is_empty(&self) -> bool {
        self.regex.is_none() && self.lines.is_empty()
    }

    /// This list made ready for [`Matcher::count`]: its whole alternation compiled once more
    /// for the forward search alone (a list of keywords counted on every message).
    pub(crate) fn counting(mut self) -> Matcher {
        let Some(whole) = &self.regex else {
            return self;
        };
        // Parsed once (as `regex` parses it) and built from that. A list that can match the
        // empty string is counted by `find_iter`, whose way past an empty match needs the
        // match's start.
        let Ok(hir) = regex_syntax::Parser::new().parse(whole.as_str()) else {
            return self;
        };
        if hir.properties().minimum_len().is_some_and(|n| n > 0) {
            self.forward = regex_automata::meta::Regex::builder()
                .configure(
                    regex_automata::meta::Config::new().hybrid_cache_capacity(MATCHER_DFA_CACHE),
                )
                .build_from_hir(&hir)
                .ok()
                .map(std::sync::Arc::new);
        }
        self
    }

    /// How many matches `find_iter(text)` gives. Every match is non-empty when the forward
    /// regex is there, so the next match is the leftmost-first one starting at or after this
    /// one's end: the forward search finds that end without the reverse search for its start.
    pub fn count(&self, text: &str) -> usize {
        let Some(forward) = &self.forward else {
            return self.find_iter(text).count();
        };
        let mut input = regex_automata::Input::new(text);
        let mut n = 0;
        while let Some(end) = forward.search_half(&input) {
            n += 1;
            input.set_start(end.offset());
        }
        n
    }

    /// The whole list, unscreened.
    pub fn all(&self) -> Screened<'_> {
        Screened {
            matcher: self,
            hits: None,
        }
    }

    /// The lines of this list the screen saw a possible match of; `None` when there is none.
    /// A list the screen does not read is searched whole.
    pub fn screened<'m>(&'m self, hits: &'m ScreenHits) -> Option<Screened<'m>> {
        match self.screen_from {
            Some(from) if !hits.any_in(from, self.lines.len()) => None,
            Some(_) => Some(Screened {
                matcher: self,
                hits: Some(hits),
            }),
            None => Some(self.all()),
        }
    }
}

/// A list as the screen left it for one message: searched only by its lines the screen let
/// through (all of them without a screen), with the alternation's matches.
#[derive(Debug, Clone, Copy)]
pub struct Screened<'m> {
    matcher: &'m Matcher,
    hits: Option<&'m ScreenHits>,
}

impl<'m> Screened<'m> {
    /// The whole alternation, when it is to be searched rather than the lines.
    fn whole(&self) -> Option<&'m Regex> {
        self.matcher.regex.as_ref().filter(|_| self.hits.is_none())
    }

    /// The lines to search (compiled on their first search), in the list's order.
    fn lines(&self) -> impl Iterator<Item = &'m Regex> + 'm {
        let (m, hits) = (self.matcher, self.hits);
        m.lines
            .iter()
            .enumerate()
            .filter_map(move |(i, line)| match (hits, m.screen_from) {
                (Some(h), Some(first)) if !h.matched(first + i) => None,
                _ => line.regex(),
            })
    }

    /// The first match in `text` at or after byte `from`: the leftmost of the lines let
    /// through, the earliest line at equal starts, as the whole alternation finds it.
    pub fn find_at<'t>(&self, text: &'t str, from: usize) -> Option<regex::Match<'t>> {
        if let Some(r) = self.whole() {
            return r.find_at(text, from);
        }
        let mut best: Option<regex::Match<'t>> = None;
        for line in self.lines() {
            if let Some(found) = line.find_at(text, from) {
                if best.is_none_or(|b| found.start() < b.start()) {
                    best = Some(found);
                }
            }
        }
        best
    }

    pub fn find<'t>(&self, text: &'t str) -> Option<regex::Match<'t>> {
        self.find_at(text, 0)
    }

    pub fn is_match(&self, text: &str) -> bool {
        match self.whole() {
            Some(r) => r.is_match(text),
            None => self.lines().any(|line| line.is_match(text)),
        }
    }

    /// Successive non-overlapping matches, as the alternation's `find_iter` gives them.
    pub fn find_iter<'t>(self, text: &'t str) -> Matches<'m, 't> {
        match self.whole() {
            Some(r) => Matches::Whole(r.find_iter(text)),
            None => Matches::Lines {
                screened: self,
                text,
                at: Some(0),
                last_end: None,
            },
        }
    }
}

/// The matches of a [`Screened`] list in a text, one after the other.
#[derive(Debug)]
pub enum Matches<'m, 't> {
    Whole(regex::Matches<'m, 't>),
    Lines {
        screened: Screened<'m>,
        text: &'t str,
        /// Where the next search starts (`None`: done).
        at: Option<usize>,
        last_end: Option<usize>,
    },
}

impl<'t> Iterator for Matches<'_, 't> {
    type Item = regex::Match<'t>;

    fn next(&mut self) -> Option<regex::Match<'t>> {
        let (screened, text, at, last_end) = match self {
            Matches::Whole(m) => return m.next(),
            Matches::Lines {
                screened,
                text,
                at,
                last_end,
            } => (screened, *text, at, last_end),
        };
        loop {
            let Some(found) = screened.find_at(text, (*at)?) else {
                *at = None;
                return None;
            };
            *at = if found.is_empty() {
                // Past an empty match by one character.
                text[found.end()..]
                    .chars()
                    .next()
                    .map(|c| found.end() + c.len_utf8())
            } else {
                Some(found.end())
            };
            if found.is_empty() && *last_end == Some(found.start()) {
                // An empty match right after a match is not reported (as `regex` does).
                continue;
            }
            *last_end = Some(found.end());
            return Some(found);
        }
    }
}

#[derive(Debug, Clone)]
pub struct PhraseRule {
    pub enabled: bool,
    pub patterns: Matcher,
    pub negations: Matcher,
    /// Only from the customer's second message on: the opening message is a problem report,
    /// and the AI gets its chance to answer it.
    pub after_reply: bool,
}

#[derive(Debug, Clone)]
pub struct BusinessRule {
    pub enabled: bool,
    pub skill: String,
    pub patterns: Matcher,
    pub negations: Matcher,
    pub exclusions: Matcher,
    /// Phrases that name the whole thing ("so the direct debit stops"): matched like `patterns`,
    /// negations included, but the exclusions (which tell a smaller object, such as one direct
    /// debit, from the account) do not apply to them.
    pub whole_patterns: Matcher,
    /// Phrases that say the customer does not mean this reason ("but keep my subscription"):
    /// anywhere in the message, they silence the reason's meaning detector. The rules still apply.
    pub not_meant: Matcher,
}

/// A stated intent to leave ("I will cancel all four lines", "unless you fix this I'm leaving"),
/// which the context package flags as churn risk. It does not escalate: the cancellation rule
/// decides that, and reads "will cancel" as hypothetical.
#[derive(Debug, Clone)]
pub struct ChurnRiskRule {
    pub patterns: Matcher,
    pub negations: Matcher,
    pub exclusions: Matcher,
}

#[derive(Debug, Clone)]
pub struct SensitiveCategory {
    pub name: String,
    pub skill: String,
    pub patterns: Matcher,
}

#[derive(Debug, Clone)]
pub struct SensitiveRule {
    pub enabled: bool,
    pub negations: Matcher,
    pub exclusions: Matcher,
    pub categories: Vec<SensitiveCategory>,
}

#[derive(Debug, Clone)]
pub struct VipRule {
    pub enabled: bool,
    pub skill: String,
    pub tiers: Vec<Tier>,
    pub min_lifetime_value: f64,
    pub substantive_message: usize,
    pub min_content_words: usize,
    pub pleasantries: Matcher,
    /// A message that matches `closings` (thanks, goodbye), asks nothing and matches nothing of
    /// `still_open` (but, still, not) closes the exchange: not substantive, however long.
    pub closings: Matcher,
    pub still_open: Matcher,
}

#[derive(Debug, Clone)]
pub struct LowConfidenceRule {
    pub enabled: bool,
    pub threshold: f64,
    pub consecutive: usize,
    pub hedges: Matcher,
    pub weak_hedges: Matcher,
    pub weak_hedge_weight: f64,
    pub hedge_score: f64,
    pub restatement_overlap: f64,
    pub restatement_min_words: usize,
    pub affirmative_openers: Matcher,
    pub negative_openers: Matcher,
    pub contradiction_min_shared: usize,
    pub contradiction_markers: Matcher,
}

#[derive(Debug, Clone)]
pub struct QuestionKind {
    pub name: String,
    pub patterns: Matcher,
}

#[derive(Debug, Clone)]
pub struct RepeatedQuestionRule {
    pub enabled: bool,
    pub min_overlap: f64,
    pub min_shared: usize,
    pub memory: usize,
    pub question_openers: Matcher,
    pub followup_markers: Matcher,
    /// A question that says it is asked again ("what I'm asking is") needs only
    /// `restated_min_overlap` of its concepts shared.
    pub restatement_markers: Matcher,
    pub restated_min_overlap: f64,
    /// A message that opens by accepting the answer ("Perfect.", "nice.", "Thank you.") asks
    /// something new unless it says it asks again.
    pub accepted_openers: Matcher,
    pub question_kinds: Vec<QuestionKind>,
    /// Word stem -> concept id, so that "get back" and "renew" can meet.
    pub synonyms: rustc_hash::FxHashMap<String, u32>,
}

#[derive(Debug, Clone)]
pub struct SentimentDropRule {
    pub enabled: bool,
    pub prior_negative_below: f64,
    /// The most negative sentence of a message that names an emotion is below this.
    pub sentence_below: f64,
    /// Or a sentence that itself names an emotion is below this (None: not checked).
    pub emotion_sentence_below: Option<f64>,
    pub message_below: f64,
    pub emotion_terms: Matcher,
    pub prior_complaints: Matcher,
    /// VADER with the rule's `valence` table added (None: VADER's lexicon alone).
    pub analyzer: Option<std::sync::Arc<crate::sentiment::Analyzer>>,
}

impl SentimentDropRule {
    /// The analyser the engine reads sentiment with (this rule, the handoff's sentiment line and
    /// mood, late escalations): VADER with the policy's valences, if any.
    pub fn analyzer(&self) -> &crate::sentiment::Analyzer {
        match &self.analyzer {
            Some(a) => a,
            None => crate::sentiment::analyzer(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MessageLengthRule {
    pub enabled: bool,
    pub ratio: f64,
    pub min_words: usize,
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    /// How texts name the topic ("a billing question").
    pub label: String,
    pub skill: String,
    pub keywords: Matcher,
}

#[derive(Debug, Clone)]
pub struct Topics {
    pub default_topic: String,
    pub default_label: String,
    pub default_skill: String,
    pub ai_weight: f64,
    pub first_message_weight: f64,
    pub list: Vec<Topic>,
    /// Weight of the semantic topic head's scores next to keyword hits (0 without `[semantic]`).
    pub semantic_weight: f64,
    /// Weight of the conversation topic head's probabilities (`semantic::TopicHead`, trained on
    /// whole labelled conversations) next to keyword hits (0 without `[semantic]`).
    pub conversation_weight: f64,
}

#[derive(Debug, Clone)]
pub struct PriorityRules {
    pub tier_points: [i32; 5],
    pub high_value_above: f64,
    pub high_value_points: i32,
    pub negative_sentiment_below: f64,
    pub negative_sentiment_points: i32,
    pub positive_sentiment_above: f64,
    pub positive_sentiment_points: i32,
    pub urgency_points: i32,
    pub urgency: Matcher,
    pub reason_points: Vec<(ReasonKind, i32)>,
    pub urgent_at: i32,
    pub high_at: i32,
    pub medium_at: i32,
}

#[derive(Debug, Clone)]
pub struct CustomRule {
    pub name: String,
    pub detail: String,
    pub skill: String,
    pub priority: Option<Priority>,
    pub patterns: Matcher,
    pub tiers: Vec<Tier>,
    pub topics: Vec<String>,
}

/// A validated, compiled policy. Build it with [`Policy::from_toml`] or [`Policy::default`].
#[derive(Debug, Clone)]
pub struct Policy {
    pub skills: Vec<String>,
    /// Reasons in the order they win when several hold at one message.
    pub order: Vec<ReasonKind>,
    pub negation_window: usize,
    pub explicit_request: PhraseRule,
    pub cancellation: BusinessRule,
    pub legal_compliance: BusinessRule,
    pub sensitive_topic: SensitiveRule,
    pub transaction_dispute: BusinessRule,
    pub vip: VipRule,
    pub low_confidence: LowConfidenceRule,
    pub frustration: PhraseRule,
    pub repeated_question: RepeatedQuestionRule,
    pub sentiment_drop: SentimentDropRule,
    pub message_length: MessageLengthRule,
    pub topics: Topics,
    pub priority: PriorityRules,
    pub custom_rules: Vec<CustomRule>,
    pub routing: RoutingRules,
    pub teams: Vec<Team>,
    pub texts: Texts,
    pub quality: QualityRules,
    /// A few passes over a customer message that tell which of the rarely matching pattern
    /// lists could match at all, so that most messages are not scanned once per list.
    pub screen: Screen,
    /// The meaning detectors and topic head, when the policy has a `[semantic]` section.
    pub semantic: Option<std::sync::Arc<Semantic>>,
    pub churn_risk: ChurnRiskRule,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_toml(DEFAULT_POLICY).expect("the shipped default policy is valid")
    }
}

impl Policy {
    /// Parses and validates a policy file.
    ///
    /// Every error names the key and, where the file says it, the line: unknown keys, wrong
    /// types, regexes that do not compile, unknown skills, tiers or reasons, and numbers outside
    /// their range.
    pub fn from_toml(source: &str) -> Result<Policy, PolicyError> {
        Policy::from_toml_with(source, &mut |name: &str| {
            Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                format!("cannot read bank `{name}` here: only `{BUILTIN_BANK}` is known; bank files are read by the baton command"),
            ))
        })
    }

    /// [`Policy::from_toml`], reading the example banks the policy names (other than
    /// `builtin`) with `load`.
    pub fn from_toml_with(source: &str, load: &mut BankLoader<'_>) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(source).map_err(|e| {
            let line = e.span().map(|s| {
                source[..s.start.min(source.len())]
                    .bytes()
                    .filter(|&b| b == b'\n')
                    .count()
                    + 1
            });
            PolicyError {
                line,
                key: String::new(),
                message: e.message().to_string(),
            }
        })?;
        let mut c = Compiler {
            source,
            skills: Vec::new(),
        };
        c.skills = c.skill_names(&file.skills)?;
        let custom_names: Vec<String> = file
            .custom_rules
            .iter()
            .map(|r| r.name.get_ref().clone())
            .collect();
        let order = c.order(&file.order, &custom_names)?;
        let custom_rules = c.custom_rules(&file.custom_rules, &file.topics)?;
        let sensitive_topic = c.sensitive(&file.sensitive_topic)?;
        let mut topics = c.topics(&file.topics)?;
        // The skills the topic head tells apart: those of the topics, in first-listed order.
        let mut topic_skills: Vec<String> = Vec::new();
        for skill in topics
            .list
            .iter()
            .map(|t| &t.skill)
            .chain(std::iter::once(&topics.default_skill))
        {
            if !topic_skills.contains(skill) {
                topic_skills.push(skill.clone());
            }
        }
        let semantic = match &file.semantic {
            Some(f) => c.semantic(f, &topic_skills, load)?,
            None => None,
        };
        if let (Some(f), Some(_)) = (&file.semantic, &semantic) {
            topics.semantic_weight = c.nonnegative("semantic.topic_weight", &f.topic_weight)?;
            if let Some(w) = &f.conversation_topic_weight {
                topics.conversation_weight =
                    c.nonnegative("semantic.conversation_topic_weight", w)?;
            }
        }
        let priority = c.priority(&file.priority, &custom_names)?;
        let message_length = c.message_length(&file.message_length)?;
        let mut policy = Policy {
            routing: c.routing(&file.routing)?,
            teams: c.teams(&file.teams)?,
            quality: c.quality(&file.quality)?,
            texts: file.texts.clone(),
            screen: Screen::default(),
            semantic,
            order,
            negation_window: file.negation_window,
            explicit_request: c.phrase_rule("explicit_request", &file.explicit_request)?,
            cancellation: c.business("cancellation", &file.cancellation)?,
            legal_compliance: c.business("legal_compliance", &file.legal_compliance)?,
            sensitive_topic,
            transaction_dispute: c.business("transaction_dispute", &file.transaction_dispute)?,
            vip: c.vip(&file.vip)?,
            low_confidence: c.low_confidence(&file.low_confidence)?,
            frustration: c.phrase_rule("frustration", &file.frustration)?,
            repeated_question: c.repeated_question(&file.repeated_question)?,
            sentiment_drop: c.sentiment_drop(&file.sentiment_drop)?,
            message_length,
            topics,
            priority,
            custom_rules,
            skills: c.skills.clone(),
            churn_risk: match &file.churn_risk {
                Some(f) => c.churn_risk(f)?,
                None => sections::shipped_churn_risk()?,
            },
        };
        policy.build_screen().map_err(|e| PolicyError {
            line: None,
            key: String::new(),
            message: format!("patterns do not compile together: {e}"),
        })?;
        Ok(policy)
    }

    fn build_screen(&mut self) -> Result<(), daachorse::errors::DaachorseError> {
        let mut lists: Vec<&mut Matcher> = vec![
            &mut self.explicit_request.patterns,
            &mut self.cancellation.patterns,
            &mut self.legal_compliance.patterns,
            &mut self.transaction_dispute.patterns,
            &mut self.cancellation.whole_patterns,
            &mut self.legal_compliance.whole_patterns,
            &mut self.transaction_dispute.whole_patterns,
            &mut self.frustration.patterns,
            &mut self.sentiment_drop.emotion_terms,
            &mut self.repeated_question.restatement_markers,
        ];
        for c in &mut self.sensitive_topic.categories {
            lists.push(&mut c.patterns);
        }
        let mut patterns: Vec<(usize, Requirements)> = Vec::new();
        for m in lists {
            m.screen_from = None;
            if m.lines.is_empty() || patterns.len() + m.lines.len() > ScreenHits::CAPACITY {
                // Nothing to search (or not compiled line by line), or more lines than bits (a
                // policy with very long lists): searched whole.
                continue;
            }
            m.screen_from = Some(patterns.len());
            for line in &mut m.lines {
                // Worked out on load; a line compiled on load (or a screen built again) is
                // parsed here.
                let requirements = line
                    .screen
                    .take()
                    .unwrap_or_else(|| Screen::requirements(line.as_str()));
                patterns.push((patterns.len(), requirements));
            }
        }
        self.screen = Screen::from_requirements(patterns)?;
        Ok(())
    }

    /// The team that serves `skill` (every skill has one: checked on load).
    pub fn team(&self, skill: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.skill == skill)
    }

    /// The name a reason kind has in decisions (custom rules by their own name).
    pub fn reason_name(&self, kind: ReasonKind) -> &str {
        match kind {
            ReasonKind::Custom(i) => &self.custom_rules[i as usize].name,
            k => k.as_str(),
        }
    }
}

impl PolicyError {
    fn with_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_policy_parses() {
        let p = Policy::default();
        assert_eq!(p.order[0], ReasonKind::ExplicitRequest);
        assert!(p.skills.contains(&"retention".to_string()));
    }

    fn error_for(edit: impl Fn(&str) -> String) -> PolicyError {
        Policy::from_toml(&edit(DEFAULT_POLICY)).unwrap_err()
    }

    fn line_containing(needle: &str) -> usize {
        DEFAULT_POLICY
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    }

    /// Replaces `from` (on one line of the shipped policy) by `to`: the error names `key` and
    /// that line.
    fn assert_error_names(from: &str, to: &str, key: &str) {
        let e = error_for(|s| s.replacen(from, to, 1));
        assert_eq!(e.key, key, "{e}");
        assert_eq!(e.line, Some(line_containing(from)), "{e}");
    }

    #[test]
    fn a_screened_line_is_compiled_on_its_first_search_only() {
        let p = Policy::default();
        let lines = &p.explicit_request.patterns.lines;
        assert!(lines.len() > 10);
        let compiled = || lines.iter().filter(|l| l.compiled()).count();
        assert_eq!(compiled(), 0, "compiled on load");
        let text = crate::text::normalize("Can I speak to a real person please?");
        let hits = p.screen.matches(&text);
        let found = p
            .explicit_request
            .patterns
            .screened(&hits)
            .unwrap()
            .find(&text);
        assert!(found.is_some());
        assert!(
            (1..lines.len()).contains(&compiled()),
            "{} of {} compiled",
            compiled(),
            lines.len()
        );
    }

    #[test]
    fn a_line_too_large_to_compile_is_reported_on_load() {
        let opening = "[explicit_request]\nenabled = true\npatterns = [\n";
        let bad = DEFAULT_POLICY.replacen(
            opening,
            &format!("{opening}  '\\w{{1000}}\\w{{1000}}',\n"),
            1,
        );
        assert!(
            bad != DEFAULT_POLICY,
            "{opening:?} is not in the shipped policy"
        );
        let e = Policy::from_toml(&bad).unwrap_err();
        assert_eq!(e.key, "explicit_request.patterns[0]", "{e}");
        assert!(e.message.contains("size limit"), "{e}");
        let line = bad.lines().position(|l| l.contains("w{1000}")).unwrap() + 1;
        assert_eq!(e.line, Some(line), "{e}");
    }

    /// A bad pattern put first in the list that `opening` starts (a `... = [\n` line): the error
    /// names `key` and the bad pattern's line.
    fn assert_bad_first_pattern_named(opening: &str, key: &str) {
        let bad = DEFAULT_POLICY.replacen(opening, &format!("{opening}  '(unclosed',\n"), 1);
        assert_ne!(
            bad, DEFAULT_POLICY,
            "{opening:?} is not in the shipped policy"
        );
        let e = Policy::from_toml(&bad).unwrap_err();
        assert_eq!(e.key, key, "{e}");
        let line = bad.lines().position(|l| l.contains("(unclosed")).unwrap() + 1;
        assert_eq!(e.line, Some(line), "{e}");
    }

    /// The shipped policy without the lines that start with `starts` (keys an older policy did
    /// not have), loaded.
    fn without_lines(starts: &[&str]) -> Policy {
        let older: Vec<&str> = DEFAULT_POLICY
            .lines()
            .filter(|l| !starts.iter().any(|s| l.starts_with(s)))
            .collect();
        assert_eq!(
            older.len() + starts.len(),
            DEFAULT_POLICY.lines().count(),
            "each of {starts:?} starts one line of the shipped policy"
        );
        Policy::from_toml(&older.join("\n")).unwrap()
    }

    #[test]
    fn a_bad_valence_names_its_word_and_line() {
        let from = "\"gutted\" = -2.5";
        assert_error_names(
            from,
            "\"gutted\" = -7.5",
            "sentiment_drop.valence.\"gutted\"",
        );
        assert_error_names(
            from,
            "\"really gutted now\" = -2.5",
            "sentiment_drop.valence.\"really gutted now\"",
        );
        assert_error_names(
            from,
            "\"Gutted\" = -2.5",
            "sentiment_drop.valence.\"Gutted\"",
        );
        // Without the table the rule judges with VADER's lexicon alone.
        let older = without_lines(&["valence = {"]);
        assert!(older.sentiment_drop.analyzer.is_none());
        assert!(Policy::default().sentiment_drop.analyzer.is_some());
    }

    #[test]
    fn errors_name_key_and_line() {
        let e = error_for(|s| s.replacen("threshold = 0.70", "threshold = 1.70", 1));
        assert_eq!(e.key, "low_confidence.threshold");
        assert_eq!(e.line, Some(line_containing("threshold = 0.70")));

        let e = error_for(|s| s.replacen("skill = \"retention\"", "skill = \"retension\"", 1));
        assert_eq!(e.key, "cancellation.skill");
        assert!(e.message.contains("unknown skill `retension`"));

        let e = error_for(|s| s.replacen("negation_window =", "negation_windw =", 1));
        assert!(e.message.contains("unknown field `negation_windw`"), "{e}");
        assert_eq!(e.line, Some(line_containing("negation_window =")));
    }

    #[test]
    fn the_nearest_examples_judge_is_checked_and_optional() {
        for (from, to, key) in [
            (
                "nearest_threshold = 0.60",
                "nearest_threshold = 1.60",
                "semantic.nearest_threshold",
            ),
            (
                "nearest_margin = 0.10",
                "nearest_margin = -0.10",
                "semantic.nearest_margin",
            ),
            (
                "nearest_gate = 0.30",
                "nearest_gate = 3.0",
                "semantic.nearest_gate",
            ),
        ] {
            assert_error_names(from, to, key);
        }
        let shipped = Policy::from_toml(DEFAULT_POLICY).unwrap();
        let shipped = shipped.semantic.as_ref().unwrap().config();
        assert_eq!(shipped.nearest_threshold, Some(0.6));
        // A policy written before the judge loads, without it.
        let older = without_lines(&["nearest_threshold", "nearest_margin", "nearest_gate"]);
        let older = older.semantic.as_ref().unwrap().config();
        assert_eq!(older.nearest_threshold, None);
        assert_eq!(
            older.nearest_gate,
            crate::semantic::SemanticConfig::default().nearest_gate
        );
    }

    #[test]
    fn the_emotion_sentence_threshold_is_checked_and_optional() {
        assert_error_names(
            "emotion_sentence_below = 0.05",
            "emotion_sentence_below = 1.5",
            "sentiment_drop.emotion_sentence_below",
        );
        // A policy written before the key judges only the most negative sentence.
        let p = without_lines(&["emotion_sentence_below = "]);
        assert_eq!(p.sentiment_drop.emotion_sentence_below, None);
        assert_eq!(
            Policy::default().sentiment_drop.emotion_sentence_below,
            Some(0.05)
        );
    }

    #[test]
    fn restated_questions_keys_are_checked_and_optional() {
        assert_error_names(
            "restated_min_overlap = 0.2",
            "restated_min_overlap = 1.2",
            "repeated_question.restated_min_overlap",
        );
        let e = error_for(|s| s.replacen("'\\byes or no\\b',", "'(yes or no',", 1));
        assert!(
            e.key.starts_with("repeated_question.restatement_markers["),
            "{e}"
        );
        // A policy written before the keys: no markers, and the ordinary overlap.
        let p = without_lines(&["restated_min_overlap = "]);
        assert_eq!(
            p.repeated_question.restated_min_overlap,
            p.repeated_question.min_overlap
        );
    }

    #[test]
    fn bad_regex_is_reported_with_its_line() {
        let src = format!(
            "{DEFAULT_POLICY}\n[[custom_rules]]\nname = \"outage\"\nskill = \"technical\"\npatterns = [\"(unclosed\"]\n"
        );
        let e = Policy::from_toml(&src).unwrap_err();
        assert_eq!(e.key, "custom_rules[0].patterns[0]");
        assert_eq!(e.line, Some(src.lines().count()));
    }

    #[test]
    fn custom_rules_join_the_order() {
        let src = format!(
            "{DEFAULT_POLICY}\n[[custom_rules]]\nname = \"outage\"\nskill = \"technical\"\npriority = \"urgent\"\nphrases = [\"outage\"]\n"
        );
        let p = Policy::from_toml(&src).unwrap();
        assert_eq!(p.custom_rules[0].priority, Some(Priority::Urgent));
        assert_eq!(*p.order.last().unwrap(), ReasonKind::Custom(0));
    }

    #[test]
    fn a_policy_without_churn_risk_uses_the_shipped_phrases_and_a_bad_one_is_named() {
        let start = DEFAULT_POLICY.find("[churn_risk]").unwrap();
        let end = DEFAULT_POLICY.find("[legal_compliance]").unwrap();
        let older = format!("{}{}", &DEFAULT_POLICY[..start], &DEFAULT_POLICY[end..]);
        let p = Policy::from_toml(&older).unwrap();
        assert!(p
            .churn_risk
            .patterns
            .is_match("i will cancel all four lines"));

        assert_bad_first_pattern_named("[churn_risk]\npatterns = [\n", "churn_risk.patterns[0]");
    }

    #[test]
    fn vip_closings_are_checked_and_optional() {
        assert_error_names(
            "closings = [",
            "closings = ['(unclosed', ",
            "vip.closings[0]",
        );
        let p = without_lines(&["closings = ", "still_open = "]);
        assert!(p.vip.closings.is_empty() && p.vip.still_open.is_empty());
    }

    /// The default policy without the first list named `key` (its whole `key = [ ... ]`).
    fn without_first_list(key: &str) -> String {
        let start = DEFAULT_POLICY.find(&format!("\n{key} = [")).unwrap();
        let end = start + DEFAULT_POLICY[start..].find("\n]\n").unwrap() + 3;
        format!("{}\n{}", &DEFAULT_POLICY[..start], &DEFAULT_POLICY[end..])
    }

    #[test]
    fn accepted_openers_are_checked_and_optional() {
        assert_bad_first_pattern_named(
            "accepted_openers = [\n",
            "repeated_question.accepted_openers[0]",
        );
        // A policy written before the key loads, with no opener counted as an acceptance.
        let p = Policy::from_toml(&without_first_list("accepted_openers")).unwrap();
        assert!(p.repeated_question.accepted_openers.is_empty());
        assert!(!Policy::default()
            .repeated_question
            .accepted_openers
            .is_empty());
    }

    #[test]
    fn whole_patterns_are_checked_and_optional() {
        assert_bad_first_pattern_named("whole_patterns = [\n", "cancellation.whole_patterns[0]");
        // A policy written before the key loads, without them.
        let p = Policy::from_toml(&without_first_list("whole_patterns")).unwrap();
        assert!(p.cancellation.whole_patterns.is_empty());
        assert!(!Policy::default().cancellation.whole_patterns.is_empty());
    }

    #[test]
    fn not_meant_is_checked_and_optional() {
        assert_bad_first_pattern_named("\nnot_meant = [\n", "cancellation.not_meant[0]");
        // A policy written before the key loads, without it.
        let p = Policy::from_toml(&without_first_list("not_meant")).unwrap();
        assert!(p.cancellation.not_meant.is_empty());
        assert!(!Policy::default().cancellation.not_meant.is_empty());
    }

    /// Every screened list of the default policy with its bit.
    fn screened_lists(p: &Policy) -> Vec<(String, &Matcher)> {
        let mut lists: Vec<(String, &Matcher)> = vec![
            ("explicit_request".into(), &p.explicit_request.patterns),
            ("cancellation".into(), &p.cancellation.patterns),
            (
                "cancellation.whole_patterns".into(),
                &p.cancellation.whole_patterns,
            ),
            ("legal_compliance".into(), &p.legal_compliance.patterns),
            (
                "transaction_dispute".into(),
                &p.transaction_dispute.patterns,
            ),
            ("frustration".into(), &p.frustration.patterns),
            ("emotion_terms".into(), &p.sentiment_drop.emotion_terms),
            (
                "restatement_markers".into(),
                &p.repeated_question.restatement_markers,
            ),
        ];
        for c in &p.sensitive_topic.categories {
            lists.push((format!("sensitive_topic.{}", c.name), &c.patterns));
        }
        lists
    }

    #[test]
    fn the_screen_built_from_the_parse_made_on_load_is_the_screen_of_the_lines_parsed_again() {
        // On load each line is parsed once, as the user's pattern rewritten (ASCII white space
        // and word boundaries), and the screen's literals come from that parse; the line's text
        // is that parse printed. Parsing the printed lines again gives the same screen.
        let p = Policy::default();
        let mut patterns: Vec<(usize, &str)> = Vec::new();
        for (_, m) in screened_lists(&p) {
            let from = m.screen_from.expect("screened");
            patterns.extend(
                m.lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (from + i, l.as_str())),
            );
        }
        patterns.sort_unstable();
        assert!(patterns.len() > 300, "{}", patterns.len());
        let again = Screen::build(&patterns).unwrap();
        assert_eq!(p.screen.needs, again.needs);
        assert_eq!(p.screen.line_of, again.line_of);
        assert_eq!(p.screen.owners, again.owners);
        assert_eq!(p.screen.always, again.always);
    }

    #[test]
    fn the_literal_screen_lets_through_every_text_a_list_matches() {
        let p = Policy::default();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data");
        let mut texts = Vec::new();
        for dir in std::fs::read_dir(root).unwrap() {
            let dir = dir.unwrap().path();
            for file in std::fs::read_dir(&dir).into_iter().flatten() {
                let file = file.unwrap().path();
                if file.extension().is_none_or(|e| e != "jsonl") {
                    continue;
                }
                for line in std::fs::read_to_string(&file).unwrap().lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    if let Some(t) = v["text"].as_str() {
                        texts.push(crate::text::normalize(t));
                    }
                    for m in v["messages"].as_array().into_iter().flatten() {
                        texts.push(crate::text::normalize(m["text"].as_str().unwrap_or("")));
                    }
                }
            }
        }
        assert!(texts.len() > 8_000, "{} texts", texts.len());
        let lists = screened_lists(&p);
        let hits: Vec<ScreenHits> = texts.iter().map(|t| p.screen.matches(t)).collect();
        let mut screening = 0;
        let spans =
            |it: &mut dyn Iterator<Item = regex::Match<'_>>| -> Vec<std::ops::Range<usize>> {
                it.map(|m| m.range()).collect()
            };
        for (name, m) in &lists {
            assert!(m.screen_from.is_some(), "{name} is not screened");
            // The alternation the lines stand for.
            let lines: Vec<&str> = m.lines.iter().map(Line::as_str).collect();
            let r = regex::RegexBuilder::new(&lines.join("|"))
                .dfa_size_limit(MATCHER_DFA_CACHE)
                .build()
                .unwrap();
            let (mut passed, mut matched) = (0, 0);
            for (t, hits) in texts.iter().zip(&hits) {
                let through = m.screened(hits);
                let found = r.is_match(t);
                if found {
                    matched += 1;
                    assert!(through.is_some(), "the screen hid a match of {name}: {t:?}");
                }
                // The lines the screen let through find what the whole alternation finds.
                if let Some(through) = through {
                    let want = match found {
                        true => spans(&mut r.find_iter(t)),
                        false => Vec::new(),
                    };
                    let by_lines = spans(&mut through.find_iter(t));
                    assert_eq!(by_lines, want, "{name} line by line: {t:?}");
                    passed += 1;
                }
            }
            assert!(
                matched > 0,
                "{name} matched nothing: the check proves nothing"
            );
            if passed < texts.len() / 2 {
                screening += 1;
            }
        }
        // The screen must screen: most lists are let through for less than half the texts.
        assert!(
            screening * 5 >= lists.len() * 3,
            "only {screening} of {} lists are screened",
            lists.len()
        );
    }

    #[test]
    fn unicode_word_classes_are_found_by_line() {
        assert_eq!(
            unicode_word_class_lines(DEFAULT_POLICY),
            Vec::<usize>::new()
        );
        let src = "patterns = [\n  '\\bmy (\\w+ ){0,2}plan',\n  '(?-u:\\w)+ ok',\n  'a\\\\w',\n]\n# \\w in a comment\n  '\\W only'\n";
        assert_eq!(unicode_word_class_lines(src), vec![2]);
    }

    #[test]
    fn a_pattern_needs_one_of_its_required_literals() {
        let got = |p: &str| Screen::requirements(p).map(|sets| sets[0].clone());
        // Optional words are not required; the word after them is.
        let set = got(r"(?-u:\b)(?:please )?(?:cancel|close) (?:my|the) account").unwrap();
        assert!(set.iter().all(|l| l.len() >= 4), "{set:?}");
        // A pattern that may begin anywhere and holds no literal long enough: always scanned.
        assert_eq!(got(r"\w+ \w+"), None);
        assert_eq!(got(r"(?:ab)?"), None);
        assert_eq!(got(r"a|b"), None);
        // A class of a few letters expands; an open one ends the literal.
        assert!(got(r"refund[s]?").is_some());
        // White space is one space in the text the screen reads: words on both sides count.
        let set = got(r"\bnot\s+(paying|going)\s+for\b").unwrap();
        assert!(set.iter().all(|l| l.starts_with(b"not ")), "{set:?}");
    }

    proptest::proptest! {
        /// The topics' keywords counted with the forward search alone give as many matches as
        /// `find_iter`, on texts made of their words, parts of words and the characters at
        /// their edges.
        #[test]
        fn keywords_counted_forward_give_find_iter_s_count(
            words in proptest::collection::vec(proptest::sample::select(vec![
                "bill", "billing", "billed", "refund", "refunds", "£5", "$ 12", "€3.50", "12 euros",
                "3gb", "3 gb", "data plan", "data", "app", "apps", "log in", "login", "won't load",
                "won't", "keeps crashing", "order", "ordered", "card", "debit card", "flight",
                "e12", "e1", "wi-fi", "wifi", "sso", "single sign-on", "rate", "corporate rates",
                "negotiating", "é", "x", "-", "'", ".", " ", "", "1", "Bill",
            ]), 0..24),
            glue in proptest::collection::vec(proptest::sample::select(vec!["", " ", ", ", "-", "\n"]), 24),
        ) {
            static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
            let policy = POLICY.get_or_init(Policy::default);
            let text: String = words.iter().zip(&glue).flat_map(|(w, g)| [*w, *g]).collect();
            for topic in &policy.topics.list {
                proptest::prop_assert!(topic.keywords.forward.is_some(), "{} is not counted forward", topic.name);
                proptest::prop_assert_eq!(
                    topic.keywords.count(&text),
                    topic.keywords.find_iter(&text).count(),
                    "{} in {:?}", topic.name, text
                );
            }
        }
    }

    #[test]
    fn a_list_that_can_match_nothing_is_counted_by_find_iter() {
        let whole = Matcher {
            regex: Some(Regex::new("a*|b").unwrap()),
            lines: Vec::new(),
            screen_from: None,
            forward: None,
        }
        .counting();
        assert!(whole.forward.is_none());
        assert_eq!(whole.count("xab"), whole.find_iter("xab").count());
    }

    /// A matcher of `lines`, screened line by line from bit 0, and its screen.
    fn screened_matcher(lines: &[&str]) -> (Matcher, Screen) {
        let m = Matcher {
            regex: Some(Regex::new(&lines.join("|")).unwrap()),
            lines: lines.iter().map(|l| Line::checked(l).unwrap()).collect(),
            screen_from: Some(0),
            forward: None,
        };
        let bits: Vec<(usize, &str)> = lines.iter().copied().enumerate().collect();
        (m, Screen::build(&bits).unwrap())
    }

    #[test]
    fn a_line_is_let_through_only_when_each_part_it_needs_is_there() {
        let line = r"\b(can|could) (someone|somebody) (please )?(call|ring)\b";
        let sets = Screen::requirements(line).unwrap();
        assert_eq!(sets.len(), SCREEN_REQUIREMENTS, "{sets:?}");
        let screen = Screen::build(&[(0, line)]).unwrap();
        let through = |t: &str| screen.matches(t).matched(0);
        assert!(through("could somebody please ring me"));
        // A part missing: not searched.
        assert!(!through("can you call me"));
        assert!(!through("could somebody help"));
        // Literals that say nothing (one letter, a space) make no requirement of their own.
        let sets = Screen::requirements(r"\ba (refund|chargeback) i\b").unwrap();
        assert!(sets.iter().flatten().all(|l| l.len() >= 2), "{sets:?}");
        assert!(sets.len() <= 2, "{sets:?}");
    }

    #[test]
    fn lines_searched_one_by_one_find_what_their_alternation_finds() {
        let (m, screen) = screened_matcher(&[
            r"(?:refund)",
            r"(?:refund me)",
            r"(?:money back[^.?!]*card)",
            r"(?:back on)",
            r"(?:x*)",
        ]);
        let whole = m.regex.as_ref().unwrap();
        for text in [
            "refund me now",
            "i want my money back on my card. refund me",
            "back on the card? money back",
            "nothing here",
            "",
        ] {
            let hits = screen.matches(text);
            let got: Vec<_> = m
                .screened(&hits)
                .unwrap()
                .find_iter(text)
                .map(|x| x.range())
                .collect();
            let want: Vec<_> = whole.find_iter(text).map(|x| x.range()).collect();
            assert_eq!(got, want, "{text:?}");
        }
        // The earlier line wins at the same start, whatever its length ("refund" before
        // "refund me"), and the leftmost start wins over the earlier line.
        let hits = screen.matches("money back refund me to my card");
        let first = m
            .screened(&hits)
            .unwrap()
            .find("money back refund me to my card");
        assert_eq!(
            first.map(|x| x.as_str()),
            Some("money back refund me to my card")
        );
        // Lines the screen rules out are not searched: without "x" or a literal, only the
        // always-searched empty-matching line is left.
        let (m, screen) = screened_matcher(&[r"(?:refund)", r"(?:chargeback)"]);
        assert!(m.screened(&screen.matches("nothing to see")).is_none());
        assert!(m.screened(&screen.matches("a chargeback")).is_some());
    }

    proptest::proptest! {
        /// Line by line, the screened search finds the alternation's matches, in order.
        #[test]
        fn screened_lines_match_as_their_alternation_does(
            picks in proptest::collection::vec(0..9usize, 1..6),
            text in "(refund|me|money|back|on|my|card|the|charged|twice|\\.|\\?| |x){0,14}",
        ) {
            let all = [
                r"(?:refund)",
                r"(?:refund me)",
                r"(?:money back[^.?!]*card)",
                r"(?:back on (?:my|the) card)",
                r"(?:(?-u:\b)charged(?: me)? twice(?-u:\b))",
                r"(?:on[^.?!]*?card)",
                r"(?:x+)",
                r"(?:^\W*refund\W*$)",
                r"(?:my (?:card|money))",
            ];
            let lines: Vec<&str> = picks.iter().map(|&i| all[i]).collect();
            let (m, screen) = screened_matcher(&lines);
            let text = crate::text::normalize(&text);
            let hits = screen.matches(&text);
            let got: Vec<_> = m
                .screened(&hits)
                .map(|s| s.find_iter(&text).map(|x| x.range()).collect())
                .unwrap_or_default();
            let want: Vec<_> = m.regex.as_ref().unwrap().find_iter(&text).map(|x| x.range()).collect();
            proptest::prop_assert_eq!(got, want, "{:?} / {:?}", lines, text);
        }

        /// Whatever the text, a pattern that matches it passes the screen built from it.
        #[test]
        fn the_screen_never_hides_a_match(
            pattern in proptest::sample::select(vec![
                r"(?-u:\b)(?:please )?(?:cancel|close) (?:my|the) account",
                r"(?i)talk (?:to|with) (?:a|an|some) ?(?:human|person|agent)",
                r"(?:never|not) (?:received|got) (?:it|the \w+)",
                r"charged (?:me )?(?:twice|two times|\d+ times)",
                r"(?:my|our) (?:son|daughter|kid)[^.?!]*?(?:photos?|pictures?)",
                r"refunds?|money back|chargeback",
                r"(?:a|b)c(?:de|fg)+h?",
                r"\b(want|need)\s+(that|it)\s+back\s+on\s+(my|the)\s+card\b",
                r"charged\s*twice|money\sback",
            ]),
            text in "[a-z ?.']{0,12}(cancel|close|talk|to|with|a |human|never|not|received|got|it|the|charged|me|twice|my|son|photos|refund|money back|chargeback|c|de|fg|h|account|please|want|need|back|on|card| |\t|\n){0,8}[a-z ?.']{0,12}",
        ) {
            // The screen reads normalised text (one space between words), as the engine gives it.
            let text = crate::text::normalize(&text);
            let screen = Screen::build(&[(0, pattern)]).unwrap();
            let regex = regex::Regex::new(pattern).unwrap();
            if regex.is_match(&text) {
                proptest::prop_assert!(screen.matches(&text).matched(0), "{pattern} / {text:?}");
            }
        }
    }
}
