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
        let n = target.len();
        let mut a = vec![0.0f64; d * d];
        let mut b = vec![0.0f64; d * classes];
        let mut x = vec![0.0f64; d];
        for i in 0..n {
            let w = weight[i] as f64;
            if w == 0.0 {
                continue;
            }
            for (xj, r) in x.iter_mut().zip(&rows[i * dims..(i + 1) * dims]) {
                *xj = *r as f64;
            }
            x[dims] = 1.0;
            for j in 0..d {
                let wx = w * x[j];
                if wx == 0.0 {
                    continue;
                }
                let row = &mut a[j * d..(j + 1) * d];
                for (k, xk) in x.iter().enumerate().skip(j) {
                    row[k] += wx * xk;
                }
                b[j * classes + target[i]] += wx;
            }
        }
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
}
