//! A linear classifier over sentence embeddings, fitted in closed form (ridge regression on
//! one-hot targets): deterministic, no seed, no epochs, and a few milliseconds for thousands of
//! examples, so a policy trains it when it loads.

/// Scores of `classes` classes: one weight row per class over the embedding plus a bias.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    classes: usize,
    dims: usize,
    /// `classes` rows of `dims + 1` (the last is the bias).
    weights: Vec<f32>,
}

impl Linear {
    /// Fits the head to `rows` (each `dims` long) with targets `target[i]` (a class number),
    /// `weight[i]` per row and L2 penalty `ridge` (not applied to the bias).
    pub fn fit(
        rows: &[f32],
        dims: usize,
        target: &[usize],
        weight: &[f32],
        classes: usize,
        ridge: f64,
    ) -> Linear {
        let d = dims + 1;
        let (mut a, b) = gram(Labelled {
            rows,
            dims,
            target,
            weight,
            classes,
        });
        for j in 0..d {
            for k in 0..j {
                a[j * d + k] = a[k * d + j];
            }
            if j < dims {
                a[j * d + j] += ridge;
            } else {
                a[j * d + j] += 1e-9;
            }
        }
        let l = cholesky(&a, d);
        let mut weights = vec![0.0f32; classes * d];
        let mut col = vec![0.0f64; d];
        for c in 0..classes {
            for j in 0..d {
                col[j] = b[j * classes + c];
            }
            let sol = solve(&l, d, &col);
            for j in 0..d {
                weights[c * d + j] = sol[j] as f32;
            }
        }
        Linear {
            classes,
            dims,
            weights,
        }
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Writes the score of each class for embedding `v` into `out`.
    pub fn scores(&self, v: &[f32], out: &mut [f32]) {
        let d = self.dims + 1;
        for (c, o) in out.iter_mut().enumerate().take(self.classes) {
            let row = &self.weights[c * d..(c + 1) * d];
            *o = row[self.dims] + super::dot(&row[..self.dims], v);
        }
    }
}

/// Rows of `dims` values, each with its class (`target`) and weight, among `classes` classes.
#[derive(Clone, Copy)]
struct Labelled<'a> {
    rows: &'a [f32],
    dims: usize,
    target: &'a [usize],
    weight: &'a [f32],
    classes: usize,
}

/// The upper triangle of the weighted Gram matrix `X^T W X` (`d * d`, `d = dims + 1` with a
/// constant 1 for the bias) and `X^T W Y` (`d * classes`, one-hot targets).
///
/// Each entry sums its products in row order, exactly as a loop over rows would: the rows are
/// taken eight at a time so that a row of the matrix stays in the cache for the eight, and the
/// inner loop runs over contiguous entries so that it is vectorised (the same multiplications
/// and additions, so the same bits on every machine).
fn gram(set: Labelled<'_>) -> (Vec<f64>, Vec<f64>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX, checked just above.
            return unsafe { gram_avx(set) };
        }
    }
    gram_with(set)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn gram_avx(set: Labelled<'_>) -> (Vec<f64>, Vec<f64>) {
    gram_with(set)
}

#[inline(always)]
fn gram_with(set: Labelled<'_>) -> (Vec<f64>, Vec<f64>) {
    let Labelled {
        rows,
        dims,
        target,
        weight,
        classes,
    } = set;
    const BLOCK: usize = 8;
    let d = dims + 1;
    let mut a = vec![0.0f64; d * d];
    let mut b = vec![0.0f64; d * classes];
    // Up to BLOCK rows with a weight: their values (with the 1), weights and targets.
    let mut x = vec![0.0f64; BLOCK * d];
    let mut w = [0.0f64; BLOCK];
    let mut t = [0usize; BLOCK];
    // A function, not a closure, so that it is inlined into the AVX copy and compiled for it.
    #[inline(always)]
    fn add(
        block: (&[f64], &[f64], &[usize]),
        d: usize,
        classes: usize,
        a: &mut [f64],
        b: &mut [f64],
    ) {
        let (x, w, t) = block;
        for j in 0..d {
            let row = &mut a[j * d + j..(j + 1) * d];
            for (i, (wi, ti)) in w.iter().zip(t).enumerate() {
                let xi = &x[i * d..(i + 1) * d];
                let wx = wi * xi[j];
                if wx == 0.0 {
                    continue;
                }
                for (r, xk) in row.iter_mut().zip(&xi[j..]) {
                    *r += wx * xk;
                }
                b[j * classes + ti] += wx;
            }
        }
    }
    let mut m = 0;
    for i in 0..target.len() {
        if weight[i] == 0.0 {
            continue;
        }
        let xi = &mut x[m * d..(m + 1) * d];
        for (xj, r) in xi.iter_mut().zip(&rows[i * dims..(i + 1) * dims]) {
            *xj = f64::from(*r);
        }
        xi[dims] = 1.0;
        w[m] = f64::from(weight[i]);
        t[m] = target[i];
        m += 1;
        if m == BLOCK {
            add((&x, &w, &t), d, classes, &mut a, &mut b);
            m = 0;
        }
    }
    add((&x[..m * d], &w[..m], &t[..m]), d, classes, &mut a, &mut b);
    (a, b)
}

/// Why bytes are not an intent MLP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MlpError {
    #[error("not an intent MLP (magic `BATONMLP`)")]
    Magic,
    #[error("field `version`: {0}, expected 1")]
    Version(u32),
    #[error(
        "{len} bytes for dims {dims}, hidden {hidden}, classes {classes}: expected {expected}"
    )]
    Size {
        len: usize,
        dims: usize,
        hidden: usize,
        classes: usize,
        expected: usize,
    },
    #[error("a weight is not a finite number")]
    NotFinite,
}

/// An MLP (one ReLU hidden layer, softmax output) over the same re-centred sentence vectors,
/// trained once by `scripts/train_head.py` on the shipped corpus; its weights are compiled in
/// (`data/intent-mlp.bin`). Class order: "none", then [`super::DETECTORS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    dims: usize,
    hidden: usize,
    classes: usize,
    /// The corpus mean the training vectors were re-centred on.
    centre: Vec<f32>,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

static BUILTIN_MLP: &[u8] = include_bytes!("../../data/intent-mlp.bin");
static BUILTIN_TOPIC_MLP: &[u8] = include_bytes!("../../data/topic-mlp.bin");

/// The skills the conversation topic head tells apart, in its class order.
pub const TOPIC_HEAD_SKILLS: [&str; 3] = ["billing", "general", "technical"];

impl Mlp {
    /// The compiled-in MLP.
    pub fn builtin() -> &'static Mlp {
        static MLP: std::sync::OnceLock<Mlp> = std::sync::OnceLock::new();
        MLP.get_or_init(|| {
            Mlp::from_bytes(BUILTIN_MLP).expect("data/intent-mlp.bin is checked by a test")
        })
    }

    /// The compiled-in conversation topic head (`scripts/train_topic_head.py`): the same format,
    /// over a conversation's vector (its messages' vectors weighted as `[topics]` weighs
    /// keywords, summed and normalised), classes [`TOPIC_HEAD_SKILLS`].
    pub fn builtin_topic() -> &'static Mlp {
        static MLP: std::sync::OnceLock<Mlp> = std::sync::OnceLock::new();
        MLP.get_or_init(|| {
            Mlp::from_bytes(BUILTIN_TOPIC_MLP).expect("data/topic-mlp.bin is checked by a test")
        })
    }

    /// Parses the format `scripts/train_head.py` writes: magic `BATONMLP`, u32 version (1),
    /// dims, hidden, classes, then f32 centre, w1 (hidden x dims), b1, w2 (classes x hidden), b2.
    pub fn from_bytes(bytes: &[u8]) -> Result<Mlp, MlpError> {
        if bytes.len() < 24 || &bytes[..8] != b"BATONMLP" {
            return Err(MlpError::Magic);
        }
        let u = |i: usize| u32::from_le_bytes(bytes[8 + 4 * i..12 + 4 * i].try_into().unwrap());
        let (version, dims, hidden, classes) = (u(0), u(1) as usize, u(2) as usize, u(3) as usize);
        if version != 1 {
            return Err(MlpError::Version(version));
        }
        let floats = dims + hidden * dims + hidden + classes * hidden + classes;
        if dims == 0 || hidden == 0 || classes == 0 || bytes.len() != 24 + 4 * floats {
            return Err(MlpError::Size {
                len: bytes.len(),
                dims,
                hidden,
                classes,
                expected: 24 + 4 * floats,
            });
        }
        let mut at = 24;
        let mut take = |n: usize| {
            let v: Vec<f32> = bytes[at..at + 4 * n]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            at += 4 * n;
            v
        };
        let centre = take(dims);
        let w1 = take(hidden * dims);
        let b1 = take(hidden);
        let w2 = take(classes * hidden);
        let b2 = take(classes);
        if [&centre, &w1, &b1, &w2, &b2]
            .iter()
            .any(|v| v.iter().any(|x| !x.is_finite()))
        {
            return Err(MlpError::NotFinite);
        }
        Ok(Mlp {
            dims,
            hidden,
            classes,
            centre,
            w1,
            b1,
            w2,
            b2,
        })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// The corpus mean the MLP was trained around.
    pub fn centre(&self) -> &[f32] {
        &self.centre
    }

    /// Writes the probability of each class for the re-centred vector `v` into `out`.
    pub fn probabilities(&self, v: &[f32], out: &mut [f32]) {
        let mut h = [0.0f32; 256];
        let mut hv = vec![];
        let h: &mut [f32] = if self.hidden <= h.len() {
            &mut h[..self.hidden]
        } else {
            hv.resize(self.hidden, 0.0);
            &mut hv
        };
        for (j, hj) in h.iter_mut().enumerate() {
            let row = &self.w1[j * self.dims..(j + 1) * self.dims];
            *hj = (self.b1[j] + super::dot(row, v)).max(0.0);
        }
        let out = &mut out[..self.classes];
        for (c, o) in out.iter_mut().enumerate() {
            *o = self.b2[c] + super::dot(&self.w2[c * self.hidden..(c + 1) * self.hidden], h);
        }
        let top = out.iter().copied().fold(f32::MIN, f32::max);
        let mut sum = 0.0;
        for o in out.iter_mut() {
            *o = (*o - top).exp();
            sum += *o;
        }
        out.iter_mut().for_each(|o| *o /= sum);
    }
}

/// Lower-triangular Cholesky factor of the symmetric positive definite `a` (`d` x `d`).
fn cholesky(a: &[f64], d: usize) -> Vec<f64> {
    let mut l = vec![0.0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                l[i * d + i] = s.max(1e-12).sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    l
}

/// Solves `L L^T x = b`.
fn solve(l: &[f64], d: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0f64; d];
    for i in 0..d {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * d + k] * y[k];
        }
        y[i] = s / l[i * d + i];
    }
    let mut x = vec![0.0f64; d];
    for i in (0..d).rev() {
        let mut s = y[i];
        for k in i + 1..d {
            s -= l[k * d + i] * x[k];
        }
        x[i] = s / l[i * d + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gram matrix as a plain loop over rows computes it (the first version of `fit`).
    fn gram_row_by_row(set: Labelled<'_>) -> (Vec<f64>, Vec<f64>) {
        let (dims, classes) = (set.dims, set.classes);
        let d = dims + 1;
        let mut a = vec![0.0f64; d * d];
        let mut b = vec![0.0f64; d * classes];
        let mut x = vec![0.0f64; d];
        for i in 0..set.target.len() {
            let w = set.weight[i] as f64;
            if w == 0.0 {
                continue;
            }
            for (xj, r) in x.iter_mut().zip(&set.rows[i * dims..(i + 1) * dims]) {
                *xj = *r as f64;
            }
            x[dims] = 1.0;
            for j in 0..d {
                let wx = w * x[j];
                if wx == 0.0 {
                    continue;
                }
                for k in j..d {
                    a[j * d + k] += wx * x[k];
                }
                b[j * classes + set.target[i]] += wx;
            }
        }
        (a, b)
    }

    proptest::proptest! {
        #[test]
        fn the_gram_matrix_in_blocks_has_the_bits_of_the_row_by_row_loop(
            dims in 1usize..20,
            n in 0usize..30,
            values in proptest::collection::vec(-2.0f32..2.0, 600),
            weights in proptest::collection::vec(proptest::prop_oneof![proptest::strategy::Just(0.0f32), 0.1f32..3.0], 30),
            targets in proptest::collection::vec(0usize..3, 30),
            zeros in proptest::collection::vec(proptest::bool::ANY, 600),
        ) {
            // Some values exactly 0, as in a quantised or empty embedding.
            let rows: Vec<f32> = values[..n * dims]
                .iter()
                .zip(&zeros)
                .map(|(v, z)| if *z { 0.0 } else { *v })
                .collect();
            let set = Labelled { rows: &rows, dims, target: &targets[..n], weight: &weights[..n], classes: 3 };
            let got = gram(set);
            let want = gram_row_by_row(set);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&got.0), bits(&want.0));
            proptest::prop_assert_eq!(bits(&got.1), bits(&want.1));
        }
    }

    #[test]
    fn separates_two_clusters() {
        let rows = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9];
        let head = Linear::fit(&rows, 2, &[0, 0, 1, 1], &[1.0; 4], 2, 0.01);
        let mut s = [0.0; 2];
        head.scores(&[1.0, 0.0], &mut s);
        assert!(s[0] > 0.8 && s[1] < 0.2, "{s:?}");
        head.scores(&[0.0, 1.0], &mut s);
        assert!(s[1] > 0.8 && s[0] < 0.2, "{s:?}");
    }

    #[test]
    fn the_builtin_mlp_parses_and_gives_probabilities() {
        let mlp = Mlp::builtin();
        assert_eq!(mlp.classes(), super::super::CLASSES);
        let mut v = vec![0.0f32; mlp.dims()];
        v[0] = 1.0;
        let mut p = vec![0.0f32; mlp.classes()];
        mlp.probabilities(&v, &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
        assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
    }

    #[test]
    fn the_builtin_topic_head_parses_and_tells_three_skills_apart() {
        let head = Mlp::builtin_topic();
        assert_eq!(head.classes(), TOPIC_HEAD_SKILLS.len());
        assert_eq!(head.dims(), Mlp::builtin().dims());
        let mut p = [0.0f32; 3];
        let v: Vec<f32> = (0..head.dims())
            .map(|i| if i == 0 { 1.0 } else { 0.0 })
            .collect();
        head.probabilities(&v, &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
    }

    #[test]
    fn the_builtin_mlp_was_trained_on_the_shipped_corpus_as_it_is() {
        // scripts/train_head.py re-centres on the corpus mean; the engine on its banks' mean.
        // They differ when the corpus or the table changed without retraining the MLP.
        let sem = super::super::Semantic::build(
            super::super::bank::builtin(),
            &[],
            super::super::SemanticConfig::default(),
        );
        let (a, b) = (Mlp::builtin().centre(), &sem.centre);
        let cos =
            super::super::dot(a, b) / (super::super::dot(a, a) * super::super::dot(b, b)).sqrt();
        assert!(
            cos > 0.999,
            "centre cosine {cos}: run python3 scripts/train_head.py after changing data/intents or the table"
        );
    }

    #[test]
    fn a_damaged_mlp_file_is_refused_with_the_reason() {
        let good = BUILTIN_MLP;
        assert!(Mlp::from_bytes(&good[..good.len() - 4])
            .unwrap_err()
            .to_string()
            .contains("expected"));
        let mut bad = good.to_vec();
        bad[..8].copy_from_slice(b"NOTANMLP");
        assert!(Mlp::from_bytes(&bad)
            .unwrap_err()
            .to_string()
            .contains("magic"));
        let mut nan = good.to_vec();
        nan[24..28].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Mlp::from_bytes(&nan)
            .unwrap_err()
            .to_string()
            .contains("finite"));
    }
}
