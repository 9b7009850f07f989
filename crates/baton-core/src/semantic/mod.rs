//! Meaning, not words: each customer sentence is embedded (the static tier of `baton-embed`,
//! compiled in) and judged against example banks, so that "is there a number I can ring?" is
//! heard as a request for a person although it names none.
//!
//! Two ways to judge a sentence, chosen by the policy (`semantic.method`):
//! - `linear`: a linear head per detector fitted to the banks when the policy loads
//!   ([`head::Linear`]); a few hundred multiply-adds per sentence.
//! - `nearest`: the mean similarity of the `neighbours` nearest examples of each detector,
//!   against the nearest neutral lines and the detector's counter-examples.
//!
//! Either way a detector fires when its score clears `threshold` and beats "none" by `margin`,
//! and the evidence names the nearest example of the detector that fired.

pub mod bank;
pub mod head;
mod quant;

use std::sync::{Arc, Mutex, OnceLock};

use baton_embed::StaticModel;

pub use bank::{Example, CLASSES, DETECTORS};
use head::{Linear, Mlp};

use crate::reason::ReasonKind;

/// How a sentence is judged against the banks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Linear,
    Nearest,
}

/// The tunables of the semantic detectors (the policy's `[semantic]` section).
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticConfig {
    pub method: Method,
    /// A detector fires when its score is at least this ...
    pub threshold: f32,
    /// ... and at least this much above the score of "none".
    pub margin: f32,
    /// Nearest examples averaged per class (method `nearest`, and `agreement`).
    pub neighbours: usize,
    /// Method `linear`: a detector fires only if its nearest examples also beat the nearest
    /// "none" lines by this much (`f32::MIN`: no such check).
    pub agreement: f32,
    /// A sentence of fewer words is judged together with the next one (the last with the one
    /// before): "Hello." or "Thanks!" alone says nothing, and a static vector of one or two
    /// words is mostly noise.
    pub min_words: usize,
    /// The compiled-in intent MLP judges a sentence the method lets pass (see [`head::Mlp`]).
    pub mlp: bool,
    /// The MLP fires when a detector's probability is at least this ...
    pub mlp_threshold: f32,
    /// ... and at least this much above that of "none".
    pub mlp_margin: f32,
    /// Nearest examples as the last judge (method `linear`): a sentence neither the head nor
    /// the MLP fires on, whose best detector's linear score is at least `nearest_gate`, fires
    /// that detector when the mean similarity of its `neighbours` nearest examples is at least
    /// this and beats the nearest neutral lines and counter-examples by `nearest_margin`
    /// (`None`: no such judge). A story told in other words than the head learnt can still sit
    /// next to one example of it.
    pub nearest_threshold: Option<f32>,
    pub nearest_margin: f32,
    /// Below this linear score the bank is not searched at all (the search costs a pass over
    /// the detector's examples).
    pub nearest_gate: f32,
    /// L2 penalty of the linear heads.
    pub ridge: f32,
    /// Weight of a counter-example line in the linear head (a neutral line weighs 1).
    pub counter_weight: f32,
    /// Weight of a detector's example line in the linear head (a neutral line weighs 1).
    pub example_weight: f32,
    /// Which detectors run (in [`DETECTORS`] order); the others are left to their rules.
    pub detectors: [bool; DETECTORS.len()],
    /// The frustration detector ignores the customer's first message.
    pub frustration_after_reply: bool,
    /// How the evidence says what each detector means, in [`DETECTORS`] order.
    pub means: [String; DETECTORS.len()],
    /// With a finer encoder attached ([`Semantic::with_encoder`], `--semantic full`): a sentence
    /// whose best detector scores at least `threshold - full_band` on the static vector is
    /// embedded again by that encoder and judged on its vector. 0 refines only sentences that
    /// already fire; 1 or more, every sentence.
    pub full_band: f32,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        SemanticConfig {
            method: Method::Linear,
            threshold: 0.5,
            margin: 0.2,
            neighbours: 2,
            agreement: f32::MIN,
            min_words: 3,
            mlp: false,
            mlp_threshold: 0.9,
            mlp_margin: 0.3,
            nearest_threshold: None,
            nearest_margin: 0.1,
            nearest_gate: 0.3,
            ridge: 1.0,
            counter_weight: 2.0,
            example_weight: 1.0,
            frustration_after_reply: true,
            detectors: [true; DETECTORS.len()],
            means: DETECTORS.map(|k| k.as_str().replace('_', " ")),
            full_band: 0.3,
        }
    }
}

/// An example near a vector: its index in [`Semantic::examples`] and its similarity.
type Near = (usize, f32);

/// What a sentence means to one detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Meaning {
    pub kind: ReasonKind,
    /// The detector's score (see [`Method`]).
    pub score: f32,
    /// Byte range, in the normalised message, of the sentence that fired.
    pub sentence: std::ops::Range<usize>,
    /// Index (in [`Semantic::examples`]) of the detector's example nearest to the sentence.
    pub nearest: usize,
    pub similarity: f32,
}

/// Example banks embedded, with the heads fitted to them.
pub struct Semantic {
    model: &'static StaticModel,
    config: SemanticConfig,
    examples: Vec<Example>,
    /// One embedding per example, `dims` each, stored by group: the examples of each class,
    /// then each class's counter-examples (`2 * CLASSES` groups), each group in example order.
    /// A scan for one detector reads its own groups from end to end: scattered rows made the
    /// bank scan wait on memory.
    vectors: Vec<f32>,
    /// Rows of each group in `vectors`.
    groups: Vec<std::ops::Range<usize>>,
    /// The same rows in bytes, for the bank scan's first pass.
    quant: quant::Quantised,
    /// The example of each row, and the row of each example.
    row_example: Vec<u32>,
    example_row: Vec<u32>,
    /// Mean of the banks' raw embeddings, taken off every embedding (then normalised again):
    /// static sentence vectors share a large common direction that makes everything look alike.
    centre: Vec<f32>,
    intent: Linear,
    /// Skills the topic head tells apart, and the head.
    topics: Vec<String>,
    topic: Linear,
    /// The intent MLP, when the policy turns it on.
    mlp: Option<&'static Mlp>,
    /// A finer encoder for the sentences near or above the threshold (`--semantic full`).
    encoder: Option<Arc<dyn Encoder>>,
}

/// A sentence encoder finer than the static table (the transformer behind `--semantic full`),
/// whose vectors live in the static table's space: [`Semantic::dims`] long, comparable with a
/// static sentence vector before centring (the table was tuned to imitate exactly these).
pub trait Encoder: Send + Sync {
    /// Embeds normalised text into `out`.
    fn encode(&self, text: &str, out: &mut [f32]) -> Result<(), EncodeError>;
}

/// Why the finer encoder could not embed a sentence (the static vector is used instead).
#[derive(Debug, thiserror::Error)]
#[error("sentence encoder: {0}")]
pub struct EncodeError(pub String);

impl std::fmt::Debug for Semantic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semantic")
            .field("examples", &self.examples.len())
            .field("topics", &self.topics)
            .field("config", &self.config)
            .field("encoder", &self.encoder.is_some())
            .finish()
    }
}

impl Semantic {
    /// Embeds `examples` and fits the heads. `topics` are the skills the topic head tells apart
    /// (lines about other topics do not train it).
    pub fn build(examples: Vec<Example>, topics: &[String], config: SemanticConfig) -> Semantic {
        let model = StaticModel::embedded();
        let dims = model.dims();
        let mut vectors = vec![0.0f32; examples.len() * dims];
        for (e, v) in examples.iter().zip(vectors.chunks_exact_mut(dims)) {
            model.embed(&crate::text::normalize(&e.text), v);
        }
        let mut centre = vec![0.0f32; dims];
        for v in vectors.chunks_exact(dims) {
            centre.iter_mut().zip(v).for_each(|(c, x)| *c += x);
        }
        let n = examples.len().max(1) as f32;
        centre.iter_mut().for_each(|c| *c /= n);
        for v in vectors.chunks_exact_mut(dims) {
            recentre(v, &centre);
        }
        let targets: Vec<usize> = examples
            .iter()
            .map(|e| if e.counter { 0 } else { e.class })
            .collect();
        let weights: Vec<f32> = examples
            .iter()
            .map(|e| match (e.counter, e.class) {
                (true, _) => config.counter_weight,
                (false, 0) => 1.0,
                (false, _) => config.example_weight,
            })
            .collect();
        let intent = Linear::fit(
            &vectors,
            dims,
            &targets,
            &weights,
            CLASSES,
            config.ridge as f64,
        );
        let topic_of: Vec<Option<usize>> = examples
            .iter()
            .map(|e| {
                e.topic
                    .as_ref()
                    .and_then(|t| topics.iter().position(|s| s == t))
            })
            .collect();
        let topic = Linear::fit(
            &vectors,
            dims,
            &topic_of.iter().map(|t| t.unwrap_or(0)).collect::<Vec<_>>(),
            &topic_of
                .iter()
                .map(|t| if t.is_some() { 1.0 } else { 0.0 })
                .collect::<Vec<_>>(),
            topics.len().max(1),
            config.ridge as f64,
        );
        let mlp = config
            .mlp
            .then(Mlp::builtin)
            .filter(|m| m.dims() == dims && m.classes() == CLASSES);
        let mut members = vec![Vec::new(); 2 * CLASSES];
        for (i, e) in examples.iter().enumerate() {
            members[e.class + if e.counter { CLASSES } else { 0 }].push(i as u32);
        }
        let row_example: Vec<u32> = members.concat();
        let mut example_row = vec![0u32; examples.len()];
        for (row, &i) in row_example.iter().enumerate() {
            example_row[i as usize] = row as u32;
        }
        permute_rows(&mut vectors, dims, &row_example);
        let quant = quant::Quantised::new(&vectors, dims);
        let mut groups = Vec::with_capacity(members.len());
        let mut start = 0;
        for m in &members {
            groups.push(start..start + m.len());
            start += m.len();
        }
        Semantic {
            model,
            config,
            examples,
            vectors,
            groups,
            quant,
            row_example,
            example_row,
            centre,
            intent,
            topics: topics.to_vec(),
            topic,
            mlp,
            encoder: None,
        }
    }

    /// The same banks and heads, with `encoder` re-embedding the sentences that come near the
    /// threshold (see [`SemanticConfig::full_band`]).
    pub fn with_encoder(&self, encoder: Arc<dyn Encoder>) -> Semantic {
        Semantic {
            model: self.model,
            config: self.config.clone(),
            examples: self.examples.clone(),
            vectors: self.vectors.clone(),
            groups: self.groups.clone(),
            quant: self.quant.clone(),
            row_example: self.row_example.clone(),
            example_row: self.example_row.clone(),
            centre: self.centre.clone(),
            intent: self.intent.clone(),
            topics: self.topics.clone(),
            topic: self.topic.clone(),
            mlp: self.mlp,
            encoder: Some(encoder),
        }
    }

    /// Whether a finer encoder is attached.
    pub fn refines(&self) -> bool {
        self.encoder.is_some()
    }

    /// The shipped corpus built with `config`, once per process and configuration.
    pub fn builtin(topics: &[String], config: &SemanticConfig) -> Arc<Semantic> {
        type Cache = Mutex<Vec<(Vec<String>, SemanticConfig, Arc<Semantic>)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, s)) = cache
            .iter()
            .find(|(t, c, _)| t.as_slice() == topics && c == config)
        {
            return s.clone();
        }
        let s = Arc::new(Semantic::build(bank::builtin(), topics, config.clone()));
        cache.push((topics.to_vec(), config.clone(), s.clone()));
        s
    }

    pub fn config(&self) -> &SemanticConfig {
        &self.config
    }

    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    pub fn dims(&self) -> usize {
        self.model.dims()
    }

    /// Embeds normalised text into `out` (`dims()` long): the static vector, or the attached
    /// encoder's when the static one comes within `full_band` of the threshold.
    pub fn embed(&self, norm: &str, out: &mut [f32]) {
        self.model.embed(norm, out);
        if out.iter().all(|x| *x == 0.0) {
            return;
        }
        recentre(out, &self.centre);
        if let Some(encoder) = &self.encoder {
            if self.near_threshold(out) {
                let mut finer = vec![0.0f32; out.len()];
                if encoder.encode(norm, &mut finer).is_ok() && finer.iter().any(|x| *x != 0.0) {
                    recentre(&mut finer, &self.centre);
                    out.copy_from_slice(&finer);
                }
            }
        }
    }

    /// Whether some running detector scores at least `threshold - full_band` on `v`.
    fn near_threshold(&self, v: &[f32]) -> bool {
        let (scores, _) = self.class_scores(v);
        (1..CLASSES)
            .filter(|c| self.config.detectors[c - 1])
            .any(|c| scores[c] >= self.config.threshold - self.config.full_band)
    }

    /// The embedding of example `i`.
    fn vector(&self, i: usize) -> &[f32] {
        self.row(self.example_row[i] as usize)
    }

    fn row(&self, r: usize) -> &[f32] {
        let d = self.dims();
        &self.vectors[r * d..(r + 1) * d]
    }

    /// The score of "none" and of each detector for embedding `v` (class order: none, then
    /// [`DETECTORS`]) by the policy's method; for `nearest`, "none" is taken per detector (the
    /// higher of the neutral lines and that detector's counter-examples), so `none` holds one
    /// value per class.
    pub fn class_scores(&self, v: &[f32]) -> ([f32; CLASSES], [f32; CLASSES]) {
        match self.config.method {
            Method::Linear => {
                let mut scores = [0.0f32; CLASSES];
                self.intent.scores(v, &mut scores);
                (scores, [scores[0]; CLASSES])
            }
            Method::Nearest => self.nearest_scores(v),
        }
    }

    /// Mean similarity of the `neighbours` nearest examples of each class, and of "none" per
    /// class (neutral lines or that class's counter-examples, whichever is nearer).
    pub fn nearest_scores(&self, v: &[f32]) -> ([f32; CLASSES], [f32; CLASSES]) {
        let (scores, none, _) = self.nearest_scores_among(v, None);
        (scores, none)
    }

    /// [`nearest_scores`](Self::nearest_scores), only right for class `only` (and "none") when
    /// given: the other classes' lines are skipped, which is most of the work. The third value
    /// is the nearest example of class `only` (index and similarity), when given.
    fn nearest_scores_among(
        &self,
        v: &[f32],
        only: Option<usize>,
    ) -> ([f32; CLASSES], [f32; CLASSES], Option<Near>) {
        self.nearest_scores_until(v, only, f32::MIN, None)
    }

    /// [`nearest_scores_among`](Self::nearest_scores_among), which with `only` scans that class's
    /// examples first and stops there when their score is below `floor` (the caller then needs
    /// no "none" score: the neutral lines, most of the rows, are not read).
    ///
    /// With `beats_by` as well, the caller only asks whether the class's score beats "none" by
    /// that much: the scan of "none" stops as soon as it cannot (the best lower bounds of its
    /// first rows already come within `beats_by` of the class's score), and "none" is then
    /// that lower bound, which fails the caller's test as the exact score would.
    fn nearest_scores_until(
        &self,
        v: &[f32],
        only: Option<usize>,
        floor: f32,
        beats_by: Option<f32>,
    ) -> ([f32; CLASSES], [f32; CLASSES], Option<Near>) {
        let mut scores = [0.0f32; CLASSES];
        let mut none = [0.0f32; CLASSES];
        let k = self.config.neighbours.clamp(1, 8);
        // Top-k similarities of positives per class, then of counter-examples per class.
        let mut top = [[f32::MIN; 8]; 2 * CLASSES];
        let mut nearest: Option<Near> = None;
        let mut query = None;
        let mut upper: Vec<f32> = Vec::new();
        let mean = |t: &[f32; 8]| {
            let got = t[..k].iter().filter(|x| **x > f32::MIN);
            let n = got.clone().count();
            if n == 0 {
                f32::MIN
            } else {
                got.sum::<f32>() / n as f32
            }
        };
        // With `only`, its examples first; each group's top k does not depend on the order.
        let every: [usize; 2 * CLASSES] = std::array::from_fn(|g| g);
        let among;
        let order: &[usize] = match only {
            Some(c) => {
                among = [c, 0, CLASSES, CLASSES + c];
                &among
            }
            None => &every,
        };
        for &g in order {
            if only.is_some_and(|c| g != c && mean(&top[c]) < floor) {
                break;
            }
            let class = g % CLASSES;
            let track = only == Some(class) && g < CLASSES;
            // First pass in bytes: each row's similarity within a bound; the k-th best lower
            // bound is a floor no row above it can be beaten by. Then the rows whose upper bound
            // reaches the floor, exactly, in example order.
            let rows = self.groups[g].clone();
            let query = query.get_or_insert_with(|| quant::Quantised::query(v));
            let mut floor = [f32::MIN; 8];
            upper.clear();
            // "None" (the neutral lines, or this class's counter-examples) can be given up on
            // part-way, once the class cannot beat it by `beats_by`: (the class's score, m).
            let give_up = match (only, beats_by) {
                (Some(c), Some(m)) if g == 0 || g == CLASSES + c => Some((mean(&top[c]), m)),
                _ => None,
            };
            let (mut from, mut gave_up) = (rows.start, false);
            while from < rows.end && !gave_up {
                let to = match give_up {
                    Some(_) => (from + NONE_CHUNK).min(rows.end),
                    None => rows.end,
                };
                self.quant
                    .bound_rows(query, from..to, &mut upper, &mut floor[..k]);
                from = to;
                // The k best lower bounds so far: the group's score is at least their mean.
                gave_up = give_up
                    .is_some_and(|(score, m)| floor[k - 1] > f32::MIN && score - mean(&floor) < m);
            }
            if gave_up {
                // "None" is near enough whatever the other rows hold; its score is that bound.
                top[g][..k].copy_from_slice(&floor[..k]);
                break;
            }
            let slot = &mut top[g][..k];
            let mut take = |i: usize, s: f32| {
                // The last of equals, as `Iterator::max_by` would.
                if track && nearest.is_none_or(|(_, b)| s >= b) {
                    nearest = Some((i, s));
                }
                keep_best(slot, s);
            };
            for (r, u) in rows.zip(&upper) {
                if *u >= floor[k - 1] {
                    take(self.row_example[r] as usize, dot(v, self.row(r)));
                }
            }
        }
        for c in 0..CLASSES {
            scores[c] = mean(&top[c]);
            none[c] = mean(&top[0]).max(mean(&top[CLASSES + c]));
        }
        (scores, none, nearest)
    }

    /// The detector (class >= 1) that `v` fires, with its score, if any: the policy's method
    /// first, then the intent MLP (when on) for a sentence the method lets pass.
    pub fn fires(&self, v: &[f32]) -> Option<(usize, f32)> {
        self.fires_near(v, &[true; CLASSES]).map(|(c, s, _)| (c, s))
    }

    /// [`fires`](Self::fires), with the detector's nearest example (index, similarity) when the
    /// agreement check has already found it on the way. A detector that is not `wanted` (its
    /// finding would be thrown away) answers `None` before the bank is searched: the detector
    /// `v` would fire is picked as before, so a wanted one never fires where it would not.
    fn fires_near(
        &self,
        v: &[f32],
        wanted: &[bool; CLASSES],
    ) -> Option<(usize, f32, Option<Near>)> {
        if v.iter().all(|x| *x == 0.0) {
            return None;
        }
        let (scores, none) = self.class_scores(v);
        let best = |scores: &[f32; CLASSES]| {
            (1..CLASSES)
                .filter(|c| self.config.detectors[c - 1])
                .map(|c| (c, scores[c]))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        };
        let (c, s) = best(&scores)?;
        let found = if s >= self.config.threshold && s - none[c] >= self.config.margin {
            Some((c, s))
        } else {
            self.mlp.and_then(|mlp| {
                let p = self.mlp_probabilities(mlp, v);
                let (c, s) = best(&p)?;
                (s >= self.config.mlp_threshold && s - p[0] >= self.config.mlp_margin)
                    .then_some((c, s))
            })
        };
        // The detector this sentence would fire (or the last judge would try) is not searched
        // for when its finding would be thrown away.
        if !wanted[found.map_or(c, |(c, _)| c)] {
            return None;
        }
        let Some((c, s)) = found else {
            return self.nearest_judges(v, c, s);
        };
        if self.config.method == Method::Linear && self.config.agreement > f32::MIN {
            // The nearest examples must agree: the detector's beat "none" by `agreement`.
            let (near, near_none, nearest) =
                self.nearest_scores_until(v, Some(c), f32::MIN, Some(self.config.agreement));
            if near[c] - near_none[c] < self.config.agreement {
                return None;
            }
            return Some((c, s, nearest));
        }
        Some((c, s, None))
    }

    /// The last judge (see [`SemanticConfig::nearest_threshold`]): detector `c`, whose linear
    /// score is `s`, fires when its nearest examples are near enough and nearer than "none"; its
    /// score is then their mean similarity.
    fn nearest_judges(&self, v: &[f32], c: usize, s: f32) -> Option<(usize, f32, Option<Near>)> {
        let threshold = self.config.nearest_threshold?;
        if self.config.method != Method::Linear || s < self.config.nearest_gate {
            return None;
        }
        let margin = self.config.nearest_margin.max(self.config.agreement);
        let (near, near_none, nearest) =
            self.nearest_scores_until(v, Some(c), threshold, Some(margin));
        (near[c] >= threshold && near[c] - near_none[c] >= margin).then_some((c, near[c], nearest))
    }

    /// The intent MLP's probabilities for `v` (class order: none, then [`DETECTORS`]), or
    /// `None` when the policy leaves it off.
    pub fn mlp_scores(&self, v: &[f32]) -> Option<[f32; CLASSES]> {
        self.mlp.map(|mlp| self.mlp_probabilities(mlp, v))
    }

    fn mlp_probabilities(&self, mlp: &Mlp, v: &[f32]) -> [f32; CLASSES] {
        let mut p = [0.0f32; CLASSES];
        mlp.probabilities(v, &mut p);
        p
    }

    /// The example of class `class` (not a counter-example) nearest to `v`.
    pub fn nearest(&self, v: &[f32], class: usize) -> Option<(usize, f32)> {
        // Groups 0 .. CLASSES hold each class's examples; the counter-examples come after.
        self.groups[..CLASSES]
            .get(class)?
            .clone()
            .map(|r| (self.row_example[r] as usize, dot(v, self.row(r))))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The `n` examples of any class nearest to `v`, most similar first.
    pub fn nearest_any(&self, v: &[f32], n: usize) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = (0..self.examples.len())
            .map(|i| (i, dot(v, self.vector(i))))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all.truncate(n);
        all
    }

    /// What the sentences of a normalised customer message mean: at most one meaning per
    /// detector (its best sentence), in [`DETECTORS`] order, among the classes `wanted` (the
    /// others are not searched for). `whole` receives the embedding of the whole message.
    pub fn judge(&self, norm: &str, whole: &mut [f32], wanted: &[bool; CLASSES]) -> Vec<Meaning> {
        type Best = Option<(f32, std::ops::Range<usize>, Option<Near>)>;
        let mut best: [Best; CLASSES] = Default::default();
        let mut v = vec![0.0f32; self.dims()];
        let mut sentences = 0;
        for range in self.chunks(norm) {
            sentences += 1;
            self.embed(&norm[range.clone()], &mut v);
            if let Some((c, s, near)) = self.fires_near(&v, wanted) {
                if best[c].as_ref().is_none_or(|(b, _, _)| s > *b) {
                    best[c] = Some((s, range, near));
                }
            }
        }
        if sentences == 1 {
            // One sentence: the message's embedding is the sentence's.
            whole.copy_from_slice(&v);
        } else {
            self.embed(norm, whole);
        }
        if sentences > 1 {
            if let Some((c, s, near)) = self.fires_near(whole, wanted) {
                if best[c].is_none() {
                    best[c] = Some((s, 0..norm.len(), near));
                }
            }
        }
        let mut out = Vec::new();
        for (c, b) in best.into_iter().enumerate() {
            let Some((score, sentence, near)) = b else {
                continue;
            };
            let (nearest, similarity) = near
                .or_else(|| {
                    self.embed(&norm[sentence.clone()], &mut v);
                    self.nearest(&v, c)
                })
                .unwrap_or((0, 0.0));
            out.push(Meaning {
                kind: DETECTORS[c - 1],
                score,
                sentence,
                nearest,
                similarity,
            });
        }
        out
    }

    /// The vector [`judge`](Self::judge) gives a whole message (`whole`), without judging its
    /// sentences: its one sentence's, or the whole text's when it has several (or none).
    pub fn message_vector(&self, norm: &str, whole: &mut [f32]) {
        match self.chunks(norm).as_slice() {
            [one] => self.embed(&norm[one.clone()], whole),
            _ => self.embed(norm, whole),
        }
    }

    /// The sentences of a normalised message, a sentence of fewer than `min_words` words
    /// joined to the next one (the last to the one before).
    pub fn chunks(&self, norm: &str) -> Vec<std::ops::Range<usize>> {
        let words = |r: &std::ops::Range<usize>| norm[r.clone()].split_whitespace().count();
        let mut out: Vec<std::ops::Range<usize>> = Vec::new();
        let mut open: Option<std::ops::Range<usize>> = None;
        for range in crate::text::sentences(norm) {
            let range = match open.take() {
                Some(o) => o.start..range.end,
                None => range,
            };
            if words(&range) < self.config.min_words {
                open = Some(range);
            } else {
                out.push(range);
            }
        }
        if let Some(o) = open {
            match out.last_mut() {
                Some(last) => last.end = o.end,
                None => out.push(o),
            }
        }
        out
    }

    /// Scores of each of [`Semantic::topics`] for an embedding (about 1 for the topic it is
    /// about, about 0 for the others).
    pub fn topic_scores(&self, v: &[f32], out: &mut [f32]) {
        self.topic.scores(v, out);
    }

    /// Problems in the banks, for `baton policy check`: an example whose nearest other line
    /// belongs to another detector (or is neutral) and is nearer than any line of its own
    /// detector, and a counter-example its own detector would fire on. One line each.
    pub fn bank_warnings(&self) -> Vec<String> {
        let name = |c: usize| {
            if c == 0 {
                "none"
            } else {
                DETECTORS[c - 1].as_str()
            }
        };
        let short = |i: usize| crate::engine::excerpt(&self.examples[i].text, 70);
        let mut out = Vec::new();
        for (i, e) in self.examples.iter().enumerate() {
            let v = self.vector(i);
            if e.counter {
                if let Some((c, s)) = self.fires(v).filter(|(c, _)| *c == e.class) {
                    out.push(format!(
                        "counter-example of {} would itself fire it ({s:.2}): '{}'",
                        name(c),
                        short(i)
                    ));
                }
                continue;
            }
            if e.class == 0 {
                continue;
            }
            let (mut own, mut other) = ((f32::MIN, 0), (f32::MIN, 0));
            for (j, f) in self.examples.iter().enumerate() {
                if j == i {
                    continue;
                }
                let s = dot(v, self.vector(j));
                let slot = if f.class == e.class && !f.counter {
                    &mut own
                } else {
                    &mut other
                };
                if s > slot.0 {
                    *slot = (s, j);
                }
            }
            if other.0 > own.0 {
                let f = &self.examples[other.1];
                out.push(format!(
                    "example of {} is closer to {}{} '{}' ({:.2}) than to its own ('{}', {:.2}): '{}'",
                    name(e.class),
                    if f.counter { "a counter-example of " } else { "" },
                    name(f.class),
                    short(other.1),
                    other.0,
                    short(own.1),
                    own.0,
                    short(i)
                ));
            }
        }
        out
    }

    /// "means: asks for a person (0.61, like 'can someone ring me')".
    pub fn evidence(&self, m: &Meaning) -> String {
        let i = DETECTORS.iter().position(|k| *k == m.kind).unwrap_or(0);
        format!(
            "means: {} ({:.2}, like '{}')",
            self.config.means[i],
            m.score,
            crate::engine::excerpt(&self.examples[m.nearest].text, 80)
        )
    }
}

/// Reorders the rows of `vectors` (`dims` each) in place so that row `r` becomes the old row
/// `from[r]` (`from` a permutation): no second copy of the banks, even for a moment.
fn permute_rows(vectors: &mut [f32], dims: usize, from: &[u32]) {
    let mut done = vec![false; from.len()];
    let mut held = vec![0.0f32; dims];
    for start in 0..from.len() {
        if done[start] {
            continue;
        }
        held.copy_from_slice(&vectors[start * dims..(start + 1) * dims]);
        let mut row = start;
        loop {
            done[row] = true;
            let src = from[row] as usize;
            if src == start {
                vectors[row * dims..(row + 1) * dims].copy_from_slice(&held);
                break;
            }
            vectors.copy_within(src * dims..(src + 1) * dims, row * dims);
            row = src;
        }
    }
}

/// `v - centre`, normalised to length 1.
fn recentre(v: &mut [f32], centre: &[f32]) {
    v.iter_mut().zip(centre).for_each(|(x, c)| *x -= c);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Puts `s` into `best` (highest first, as long as it is) if it beats the last one.
#[inline]
pub(super) fn keep_best(best: &mut [f32], s: f32) {
    let k = best.len();
    if k == 0 || s <= best[k - 1] {
        return;
    }
    let mut j = k - 1;
    while j > 0 && best[j - 1] < s {
        best[j] = best[j - 1];
        j -= 1;
    }
    best[j] = s;
}

/// Rows of "none" bounded between two checks of whether it can still be beaten (see
/// [`Semantic::nearest_scores_until`]): a multiple of the four rows the first pass takes at once.
const NONE_CHUNK: usize = 256;

/// Dot product in eight independent lanes, so that the compiler can vectorise it (a plain
/// `sum()` must add in order and stays scalar). On x86-64 with AVX the same lanes are compiled
/// to 256-bit instructions, picked at run time: the same multiplications and additions in the
/// same order (no fused multiply-add), so every machine gets the same bits.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX, checked just above.
            return unsafe { dot_avx(a, b) };
        }
    }
    dot_lanes(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn dot_avx(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

#[inline(always)]
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_permuted_in_place() {
        let dims = 2;
        let mut v: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let from = [3u32, 0, 5, 1, 2, 4];
        permute_rows(&mut v, dims, &from);
        let want: Vec<f32> = from
            .iter()
            .flat_map(|&r| [2.0 * r as f32, 2.0 * r as f32 + 1.0])
            .collect();
        assert_eq!(v, want);
    }

    #[test]
    fn the_two_pass_bank_scan_finds_what_comparing_every_row_finds() {
        let sem = Semantic::build(bank::builtin(), &[], SemanticConfig::default());
        let k = sem.config.neighbours.clamp(1, 8);
        let exact_mean = |v: &[f32], g: usize| {
            let mut s: Vec<f32> = sem.groups[g].clone().map(|r| dot(v, sem.row(r))).collect();
            s.sort_by(|a, b| b.total_cmp(a));
            s.truncate(k);
            if s.is_empty() {
                f32::MIN
            } else {
                s.iter().sum::<f32>() / s.len() as f32
            }
        };
        let mut texts: Vec<String> = [
            "is there a number i can ring to go through this with someone?",
            "cancel the extra cheese please",
            "i was charged twice for the same order",
            "thanks, that's all",
            "x",
        ]
        .map(String::from)
        .to_vec();
        texts.extend(
            sem.examples
                .iter()
                .step_by(97)
                .map(|e| e.text.to_lowercase()),
        );
        let mut v = vec![0.0f32; sem.dims()];
        for text in &texts {
            sem.embed(text, &mut v);
            for c in 1..CLASSES {
                let (scores, none, near) = sem.nearest_scores_among(&v, Some(c));
                assert_eq!(scores[c].to_bits(), exact_mean(&v, c).to_bits(), "{text}");
                let want_none = exact_mean(&v, 0).max(exact_mean(&v, CLASSES + c));
                assert_eq!(none[c].to_bits(), want_none.to_bits(), "{text}");
                // The nearest example: the last of equals, in example order.
                let mut best: Option<Near> = None;
                for r in sem.groups[c].clone() {
                    let s = dot(&v, sem.row(r));
                    if best.is_none_or(|(_, b)| s >= b) {
                        best = Some((sem.row_example[r] as usize, s));
                    }
                }
                assert_eq!(near, best, "{text}");
            }
        }
    }

    #[test]
    fn the_nearest_examples_judge_only_when_asked_and_only_near_a_detectors_examples() {
        // The head and the MLP never fire here (threshold above any score), so whatever fires
        // is the nearest-examples judge.
        let config = |nearest_threshold| SemanticConfig {
            threshold: 9.0,
            mlp: false,
            nearest_threshold,
            nearest_gate: f32::MIN,
            ..SemanticConfig::default()
        };
        let off = Semantic::build(bank::builtin(), &[], config(None));
        let on = Semantic::build(bank::builtin(), &[], config(Some(0.6)));
        let example = |class: usize| {
            let e = on.examples.iter().find(|e| e.class == class && !e.counter);
            e.unwrap().text.to_lowercase()
        };
        let mut v = vec![0.0f32; on.dims()];
        for c in 1..CLASSES {
            let text = example(c);
            on.embed(&text, &mut v);
            let linear = on.class_scores(&v).0;
            let best = (1..CLASSES).max_by(|a, b| linear[*a].total_cmp(&linear[*b]));
            assert_eq!(off.fires(&v), None, "{text}");
            // One of the detector's own examples: its nearest examples are itself and a kin.
            let (near, near_none, _) = on.nearest_scores_among(&v, best);
            let b = best.unwrap();
            let want = (near[b] >= 0.6 && near[b] - near_none[b] >= 0.1).then_some((b, near[b]));
            assert_eq!(on.fires(&v), want, "{text}");
        }
        // A neutral line is its own nearest "none": no detector beats it.
        let neutral = example(0);
        on.embed(&neutral, &mut v);
        assert_eq!(on.fires(&v), None, "{neutral}");
        // Above the gate only: a gate no score reaches turns the judge off.
        let gated = Semantic::build(
            bank::builtin(),
            &[],
            SemanticConfig {
                nearest_gate: 9.0,
                ..config(Some(0.0))
            },
        );
        on.embed(&example(1), &mut v);
        assert_eq!(gated.fires(&v), None);
    }

    #[test]
    fn a_scan_that_stops_below_the_floor_agrees_with_the_whole_scan_above_it() {
        let sem = Semantic::build(bank::builtin(), &[], SemanticConfig::default());
        let mut v = vec![0.0f32; sem.dims()];
        let texts = [
            "is there a number i can ring to go through this with someone?",
            "i had a stent put in in august and my cardiologist hasn't said yes or no yet",
            "there's a charge from a hotel i never stayed at",
            "what time do you open on saturday?",
        ];
        let mut stopped = 0;
        for text in texts {
            sem.embed(text, &mut v);
            for c in 1..CLASSES {
                let whole = sem.nearest_scores_among(&v, Some(c));
                for floor in [0.3f32, 0.6, 0.9] {
                    let (scores, none, near) = sem.nearest_scores_until(&v, Some(c), floor, None);
                    assert_eq!(scores[c].to_bits(), whole.0[c].to_bits(), "{text}");
                    assert_eq!(near, whole.2, "{text}");
                    if whole.0[c] >= floor {
                        assert_eq!(none[c].to_bits(), whole.1[c].to_bits(), "{text}");
                    } else {
                        // Stopped before the neutral lines: no "none" score was made.
                        assert_eq!(none[c], f32::MIN, "{text}");
                        stopped += 1;
                    }
                }
            }
        }
        assert!(
            stopped > 0,
            "no scan stopped early: the floors test nothing"
        );
    }

    /// Every `step`-th line's text of each file of `data/intents`.
    fn corpus_lines(step: usize) -> Vec<String> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/intents");
        let mut lines = Vec::new();
        for file in std::fs::read_dir(root).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "jsonl") {
                for line in std::fs::read_to_string(&file)
                    .unwrap()
                    .lines()
                    .step_by(step)
                {
                    let row: serde_json::Value = serde_json::from_str(line).unwrap();
                    lines.push(row["text"].as_str().unwrap().to_string());
                }
            }
        }
        lines
    }

    #[test]
    fn a_scan_that_gives_up_on_none_answers_the_margin_test_as_the_whole_scan() {
        let sem = Semantic::build(bank::builtin(), &[], SemanticConfig::default());
        let mut v = vec![0.0f32; sem.dims()];
        // Texts near and far from every detector, so that "none" is sometimes beaten by a
        // margin, sometimes not, and sometimes given up on part-way.
        let texts: Vec<String> = corpus_lines(40)
            .iter()
            .map(|t| crate::text::normalize(t))
            .collect();
        assert!(texts.len() > 100, "{} texts", texts.len());
        let (mut gave_up, mut beaten) = (0, 0);
        for text in &texts {
            sem.embed(text, &mut v);
            for c in 1..CLASSES {
                let whole = sem.nearest_scores_among(&v, Some(c));
                for m in [0.04f32, 0.1, 0.3] {
                    let (scores, none, near) =
                        sem.nearest_scores_until(&v, Some(c), f32::MIN, Some(m));
                    assert_eq!(scores[c].to_bits(), whole.0[c].to_bits(), "{text}");
                    assert_eq!(near, whole.2, "{text}");
                    let beats = whole.0[c] - whole.1[c] >= m;
                    assert_eq!(scores[c] - none[c] >= m, beats, "{text} / {c} / {m}");
                    if beats {
                        beaten += 1;
                        assert_eq!(none[c].to_bits(), whole.1[c].to_bits(), "{text}");
                    } else if none[c] != whole.1[c] {
                        // Given up: "none" is a lower bound of the whole scan's.
                        assert!(none[c] <= whole.1[c], "{text}");
                        gave_up += 1;
                    }
                }
            }
        }
        assert!(
            gave_up > 0 && beaten > 0,
            "gave up {gave_up}, beaten {beaten}: the test tests nothing"
        );
    }

    #[test]
    fn a_detector_not_wanted_is_left_out_and_the_others_judged_as_before() {
        let policy = crate::Policy::default();
        let sem = policy
            .semantic
            .as_ref()
            .expect("the default policy has the meaning tier");
        // Lines of the corpus, alone and two together (a message of two sentences is also judged
        // as a whole).
        let lines = corpus_lines(29);
        let texts: Vec<String> = lines
            .iter()
            .cloned()
            .chain(lines.chunks_exact(2).map(|p| format!("{} {}", p[0], p[1])))
            .map(|t| crate::text::normalize(&t))
            .collect();
        let mut whole = vec![0.0f32; sem.dims()];
        let mut left_out = 0;
        for text in &texts {
            let all = sem.judge(text, &mut whole, &[true; CLASSES]);
            let all_whole = whole.clone();
            for c in 1..CLASSES {
                let mut wanted = [true; CLASSES];
                wanted[c] = false;
                let some = sem.judge(text, &mut whole, &wanted);
                let expected: Vec<Meaning> = all
                    .iter()
                    .filter(|m| m.kind != DETECTORS[c - 1])
                    .cloned()
                    .collect();
                assert_eq!(some, expected, "{text} without {c}");
                assert_eq!(whole, all_whole, "{text}");
                left_out += usize::from(some.len() < all.len());
            }
        }
        assert!(
            left_out > 50,
            "only {left_out} meanings left out: the test tests little"
        );
    }

    #[test]
    fn the_dispatched_dot_product_gives_the_same_bits_as_the_portable_one() {
        // Lengths around the 8-lane chunks, values of mixed sign and magnitude.
        for len in [0, 1, 7, 8, 9, 127, 128, 130] {
            let a: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let b: Vec<f32> = (0..len)
                .map(|i| ((i * 53 % 89) as f32 - 44.0) / 13.0)
                .collect();
            assert_eq!(
                dot(&a, &b).to_bits(),
                dot_lanes(&a, &b).to_bits(),
                "len {len}"
            );
        }
    }
}
