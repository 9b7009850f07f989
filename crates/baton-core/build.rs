//! Prepares VADER's lexicons at build time: `baton sentiment` is a short-lived process, and
//! parsing 11,000 tab-separated lines at every start cost about 2 ms of a 10,000-line run's 17.
//! The tables come out as Rust arrays in `$OUT_DIR`, read by `src/sentiment.rs`.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lexicon");
    let lexicon_path = dir.join("vader_lexicon.txt");
    let emoji_path = dir.join("emoji_utf8_lexicon.txt");
    println!("cargo::rerun-if-changed={}", lexicon_path.display());
    println!("cargo::rerun-if-changed={}", emoji_path.display());

    let mut out = String::new();
    let lexicon = read(&lexicon_path);
    out.push_str("/// `vader_lexicon.txt`: each word and its mean valence, in file order.\n");
    out.push_str("static LEXICON: &[(&str, f64)] = &[\n");
    for (n, line) in lexicon.lines().enumerate() {
        let mut fields = line.split('\t');
        let (Some(word), Some(measure)) = (fields.next(), fields.next()) else {
            continue;
        };
        let valence: f64 = measure.trim().parse().unwrap_or_else(|e| {
            panic!(
                "{}:{}: valence {measure:?} is not a number: {e}",
                lexicon_path.display(),
                n + 1
            )
        });
        // `{:?}` prints the shortest text that reads back as the same f64.
        writeln!(out, "    ({:?}, {valence:?}),", word.trim()).unwrap();
    }
    out.push_str("];\n\n");

    let emoji = read(&emoji_path);
    out.push_str(
        "/// `emoji_utf8_lexicon.txt`: the single-character emoji and their descriptions (like\n",
    );
    out.push_str(
        "/// the reference, only those can match: it compares one character at a time).\n",
    );
    out.push_str("static EMOJI: &[(char, &str)] = &[\n");
    for line in emoji.lines() {
        let mut fields = line.split('\t');
        let (Some(emoji), Some(description)) = (fields.next(), fields.next()) else {
            continue;
        };
        let mut chars = emoji.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            writeln!(out, "    ({c:?}, {:?}),", description.trim()).unwrap();
        }
    }
    out.push_str("];\n");

    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("lexicon.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
