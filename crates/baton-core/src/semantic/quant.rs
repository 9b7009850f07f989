//! Int8 copies of the bank rows, for a first pass over a bank that bounds every row's
//! similarity with a sentence, so that only the few rows that can be among the nearest are
//! compared exactly.
//!
//! The agreement check compares a sentence with every example of one detector and every neutral
//! line (thousands of rows of 128 floats: megabytes read per sentence that fires). A row in
//! bytes is a quarter of the memory, and integer multiply-adds take sixteen dimensions at once.
//! The result is the same, bit for bit: for each row the first pass knows its similarity within
//! a proven error, and every row whose similarity could reach the `k` nearest is compared again
//! with the exact dot product. A row left out has an upper bound below `k` other rows' lower
//! bounds, so it cannot be among the `k` nearest, nor the nearest.

/// The bank's rows as bytes, each with its scale.
#[derive(Clone, Default)]
pub(crate) struct Quantised {
    dims: usize,
    /// `dims` bytes per row: round(x / scale), in -127..=127.
    rows: Vec<i8>,
    /// Per row: the scale (largest magnitude / 127; 0 for a zero row), and the L1 norm of the quantised row in
    /// the row's units (sum of |byte| * scale).
    scale: Vec<f32>,
    l1: Vec<f32>,
}

/// A sentence vector in 16-bit integers, with what its error bound needs.
pub(crate) struct Query {
    values: Vec<i16>,
    scale: f32,
    /// L1 norm of the exact vector.
    l1: f32,
}

/// Slack added to every bound for the rounding of the float arithmetic itself (the exact dot
/// product of two unit vectors of a few hundred dimensions is off by about 1e-5 at most).
const SLACK: f32 = 1e-4;

impl Quantised {
    /// Quantises `vectors` (rows of `dims` floats).
    pub(crate) fn new(vectors: &[f32], dims: usize) -> Quantised {
        let n = vectors.len().checked_div(dims).unwrap_or(0);
        let mut q = Quantised {
            dims,
            rows: Vec::with_capacity(n * dims),
            scale: Vec::with_capacity(n),
            l1: Vec::with_capacity(n),
        };
        for row in vectors.chunks_exact(dims.max(1)).take(n) {
            let max = row.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            // A zero row stays zero, with nothing to be off by.
            let scale = max / 127.0;
            let mut l1 = 0.0f32;
            for x in row {
                let b = if max > 0.0 {
                    (x / scale).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                };
                l1 += f32::from(b.unsigned_abs()) * scale;
                q.rows.push(b);
            }
            q.scale.push(scale);
            q.l1.push(l1);
        }
        q
    }

    /// `v` as a query.
    pub(crate) fn query(v: &[f32]) -> Query {
        let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let scale = max / 32767.0;
        Query {
            values: v
                .iter()
                .map(|x| {
                    if max > 0.0 {
                        (x / scale).round().clamp(-32767.0, 32767.0) as i16
                    } else {
                        0
                    }
                })
                .collect(),
            scale,
            l1: v.iter().map(|x| x.abs()).sum(),
        }
    }
}

impl Quantised {
    /// The first pass over rows `rows`: each row's upper bound pushed to `upper`, in order, and
    /// the `floor.len()` best lower bounds kept in `floor` (best first). One call per group, so
    /// that the CPU's vector instructions are picked once and the whole loop is compiled for
    /// them (a call per row cost more than the products themselves).
    pub(crate) fn bound_rows(
        &self,
        q: &Query,
        rows: std::ops::Range<usize>,
        upper: &mut Vec<f32>,
        floor: &mut [f32],
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if avx512() {
                // SAFETY: the CPU supports AVX-512 F, BW and VNNI, checked just above.
                unsafe { self.bound_rows_avx512(q, rows, upper, floor) };
                return;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { self.bound_rows_avx2(q, rows, upper, floor) };
                return;
            }
        }
        self.bound_rows_with(q, rows, upper, floor, dot_i16_i8_plain);
    }

    /// [`bound_rows_avx2`](Self::bound_rows_avx2) with twice as many products per instruction:
    /// the same integer dot products, so the same bounds to the bit.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn bound_rows_avx512(
        &self,
        q: &Query,
        rows: std::ops::Range<usize>,
        upper: &mut Vec<f32>,
        floor: &mut [f32],
    ) {
        self.bound_rows_in_fours(
            q,
            rows,
            upper,
            floor,
            |a, b| dot4_i16_i8_avx512(a, b),
            |a, b| dot_i16_i8_avx2(a, b),
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn bound_rows_avx2(
        &self,
        q: &Query,
        rows: std::ops::Range<usize>,
        upper: &mut Vec<f32>,
        floor: &mut [f32],
    ) {
        // This function is compiled for AVX2, so the kernels are safe to call here.
        self.bound_rows_in_fours(
            q,
            rows,
            upper,
            floor,
            |a, b| dot4_i16_i8_avx2(a, b),
            |a, b| dot_i16_i8_avx2(a, b),
        );
    }

    /// Four rows at a time share the query's loads and one horizontal sum (`dot4`); the rest one
    /// at a time (`dot`). Inlined into each caller, so compiled for its instructions.
    #[inline(always)]
    fn bound_rows_in_fours(
        &self,
        q: &Query,
        rows: std::ops::Range<usize>,
        upper: &mut Vec<f32>,
        floor: &mut [f32],
        dot4: impl Fn(&[i16], [&[i8]; 4]) -> [i32; 4],
        dot: impl Fn(&[i16], &[i8]) -> i32,
    ) {
        let d = self.dims;
        upper.reserve(rows.len());
        let mut r = rows.start;
        // The k-th best lower bound so far: most rows fall below it, and only their upper bounds
        // need pushing.
        let mut worst = floor.last().copied().unwrap_or(f32::MAX);
        while r + 4 <= rows.end {
            let row = |j: usize| &self.rows[(r + j) * d..(r + j + 1) * d];
            let dots = dot4(&q.values, [row(0), row(1), row(2), row(3)]);
            let bounds: [(f32, f32); 4] = std::array::from_fn(|j| self.bounds(q, r + j, dots[j]));
            upper.extend(bounds.map(|(_, up)| up));
            let lower = bounds.map(|(low, _)| low);
            if lower.iter().any(|x| *x > worst) {
                for x in lower {
                    super::keep_best(floor, x);
                }
                worst = floor.last().copied().unwrap_or(f32::MAX);
            }
            r += 4;
        }
        self.bound_rows_with(q, r..rows.end, upper, floor, dot);
    }

    /// Row `r`'s lower and upper bounds from its integer dot product with the query.
    #[inline(always)]
    fn bounds(&self, q: &Query, r: usize, dot: i32) -> (f32, f32) {
        let s = self.scale[r];
        let approx = dot as f32 * (q.scale * s);
        // |q.x - q'.x'| <= |q.(x - x')| + |(q - q').x'| <= |q|_1 s / 2 + |x'|_1 t / 2.
        let err = 0.5 * (q.l1 * s + self.l1[r] * q.scale) + SLACK;
        (approx - err, approx + err)
    }

    /// Row `r`'s bounds pushed: the upper to `upper`, the lower among the best in `floor`.
    #[inline(always)]
    fn bound_one(&self, q: &Query, r: usize, dot: i32, upper: &mut Vec<f32>, floor: &mut [f32]) {
        let (low, up) = self.bounds(q, r, dot);
        upper.push(up);
        super::keep_best(floor, low);
    }

    #[inline(always)]
    fn bound_rows_with(
        &self,
        q: &Query,
        rows: std::ops::Range<usize>,
        upper: &mut Vec<f32>,
        floor: &mut [f32],
        dot: impl Fn(&[i16], &[i8]) -> i32,
    ) {
        for r in rows {
            let row = &self.rows[r * self.dims..(r + 1) * self.dims];
            self.bound_one(q, r, dot(&q.values, row), upper, floor);
        }
    }
}

/// Whether the CPU has the AVX-512 instructions of [`dot4_i16_i8_avx512`] (the standard
/// library caches each answer).
#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

/// Integer dot product (exact: no rounding, so every machine gets the same value).
#[cfg(test)]
fn dot_i16_i8(a: &[i16], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { dot_i16_i8_avx2(a, b) };
        }
    }
    dot_i16_i8_plain(a, b)
}

fn dot_i16_i8_plain(a: &[i16], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum()
}

/// Sixteen products at a time: bytes widened to 16 bits, multiplied and added in pairs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn dot_i16_i8_avx2(a: &[i16], b: &[i8]) -> i32 {
    use std::arch::x86_64::{__m128i, __m256i, _mm256_add_epi32, _mm256_cvtepi8_epi16};
    use std::arch::x86_64::{_mm256_loadu_si256, _mm256_madd_epi16, _mm256_setzero_si256};
    use std::arch::x86_64::{_mm256_storeu_si256, _mm_loadu_si128};
    let n = a.len().min(b.len());
    let whole = n / 16 * 16;
    let mut acc = _mm256_setzero_si256();
    let mut k = 0;
    while k < whole {
        // SAFETY: k + 16 <= whole <= the length of `a` and of `b`.
        unsafe {
            let x = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.as_ptr().add(k).cast::<__m128i>()));
            let y = _mm256_loadu_si256(a.as_ptr().add(k).cast::<__m256i>());
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
        }
        k += 16;
    }
    let mut lanes = [0i32; 8];
    // SAFETY: `lanes` holds eight 32-bit integers.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast::<__m256i>(), acc) };
    lanes.iter().sum::<i32>() + dot_i16_i8_plain(&a[whole..n], &b[whole..n])
}

/// [`dot_i16_i8_avx2`] of one query with four rows at once (each as long as the query): the
/// query is loaded once for the four, and the four sums are reduced together.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn dot4_i16_i8_avx2(a: &[i16], b: [&[i8]; 4]) -> [i32; 4] {
    use std::arch::x86_64::_mm_loadu_si128;
    use std::arch::x86_64::{__m128i, __m256i, _mm256_add_epi32, _mm256_cvtepi8_epi16};
    use std::arch::x86_64::{_mm256_loadu_si256, _mm256_madd_epi16, _mm256_setzero_si256};
    let n = b.iter().fold(a.len(), |n, row| n.min(row.len()));
    let whole = n / 16 * 16;
    let mut acc = [_mm256_setzero_si256(); 4];
    let mut k = 0;
    while k < whole {
        // SAFETY: k + 16 <= whole <= the length of `a` and of every row.
        unsafe {
            let y = _mm256_loadu_si256(a.as_ptr().add(k).cast::<__m256i>());
            for (acc, row) in acc.iter_mut().zip(&b) {
                let x =
                    _mm256_cvtepi8_epi16(_mm_loadu_si128(row.as_ptr().add(k).cast::<__m128i>()));
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(x, y));
            }
        }
        k += 16;
    }
    sum4_avx2(acc, a, b, whole, n)
}

/// The four rows' sums from their eight-lane accumulators, plus the products of entries
/// `whole..n` the vector loop left.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn sum4_avx2(
    acc: [std::arch::x86_64::__m256i; 4],
    a: &[i16],
    b: [&[i8]; 4],
    whole: usize,
    n: usize,
) -> [i32; 4] {
    use std::arch::x86_64::{__m128i, _mm256_castsi256_si128, _mm256_extracti128_si256};
    use std::arch::x86_64::{_mm256_hadd_epi32, _mm_add_epi32, _mm_storeu_si128};
    // Lane sums: two horizontal adds leave each row's eight lanes as two partial sums, one in
    // each 128-bit half, in row order.
    let s = _mm256_hadd_epi32(
        _mm256_hadd_epi32(acc[0], acc[1]),
        _mm256_hadd_epi32(acc[2], acc[3]),
    );
    let sums = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256::<1>(s));
    let mut out = [0i32; 4];
    // SAFETY: `out` holds four 32-bit integers.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast::<__m128i>(), sums) };
    for (o, row) in out.iter_mut().zip(&b) {
        *o += dot_i16_i8_plain(&a[whole..n], &row[whole..n]);
    }
    out
}

/// [`dot4_i16_i8_avx2`] with 512-bit registers: thirty-two bytes widened to 16 bits, multiplied
/// and added in pairs into the sums in one instruction (`vpdpwssd`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[inline]
fn dot4_i16_i8_avx512(a: &[i16], b: [&[i8]; 4]) -> [i32; 4] {
    use std::arch::x86_64::{__m256i, __m512i, _mm256_add_epi32, _mm256_loadu_si256};
    use std::arch::x86_64::{_mm512_castsi512_si256, _mm512_cvtepi8_epi16, _mm512_dpwssd_epi32};
    use std::arch::x86_64::{_mm512_extracti64x4_epi64, _mm512_loadu_si512, _mm512_setzero_si512};
    let n = b.iter().fold(a.len(), |n, row| n.min(row.len()));
    let whole = n / 32 * 32;
    let mut acc = [_mm512_setzero_si512(); 4];
    let mut k = 0;
    while k < whole {
        // SAFETY: k + 32 <= whole <= the length of `a` and of every row.
        unsafe {
            let y = _mm512_loadu_si512(a.as_ptr().add(k).cast::<__m512i>());
            for (acc, row) in acc.iter_mut().zip(&b) {
                let x =
                    _mm512_cvtepi8_epi16(_mm256_loadu_si256(row.as_ptr().add(k).cast::<__m256i>()));
                *acc = _mm512_dpwssd_epi32(*acc, x, y);
            }
        }
        k += 32;
    }
    // Each row's sixteen lanes folded to eight, then summed as the AVX2 kernel does.
    let half: [__m256i; 4] = std::array::from_fn(|j| {
        _mm256_add_epi32(
            _mm512_castsi512_si256(acc[j]),
            _mm512_extracti64x4_epi64::<1>(acc[j]),
        )
    });
    sum4_avx2(half, a, b, whole, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        v.into_iter().map(|x| x / n).collect()
    }

    proptest! {
        #[test]
        fn the_bound_holds_and_the_kernels_agree(
            dims in 1usize..200,
            seed in proptest::collection::vec(-1.0f32..1.0, 800),
        ) {
            let row = unit(seed[..dims].to_vec());
            let v = unit(seed[400..400 + dims].to_vec());
            let q = Quantised::new(&row, dims);
            let query = Quantised::query(&v);
            let exact = super::super::dot(&v, &row);
            let (mut upper, mut lower) = (Vec::new(), [f32::MIN]);
            q.bound_rows(&query, 0..1, &mut upper, &mut lower);
            prop_assert!(lower[0] <= exact && exact <= upper[0], "{exact} not in {lower:?}..{upper:?}");
            prop_assert_eq!(
                dot_i16_i8(&query.values, &q.rows),
                dot_i16_i8_plain(&query.values, &q.rows)
            );
        }
    }

    proptest! {
        #[test]
        fn the_vector_pass_bounds_every_row_as_the_plain_one_does(
            dims in 1usize..140,
            n in 0usize..11,
            seed in proptest::collection::vec(-1.0f32..1.0, 11 * 140 + 140),
        ) {
            let rows: Vec<f32> = (0..n).flat_map(|r| unit(seed[r * dims..(r + 1) * dims].to_vec())).collect();
            let q = Quantised::new(&rows, dims);
            let query = Quantised::query(&unit(seed[11 * 140..11 * 140 + dims].to_vec()));
            // In two calls, as the scan of "none" goes chunk by chunk: the second starts from the
            // first's floor.
            let (mut upper, mut floor) = (Vec::new(), [f32::MIN; 3]);
            q.bound_rows(&query, 0..n / 2, &mut upper, &mut floor);
            q.bound_rows(&query, n / 2..n, &mut upper, &mut floor);
            let (mut upper_plain, mut floor_plain) = (Vec::new(), [f32::MIN; 3]);
            q.bound_rows_with(&query, 0..n, &mut upper_plain, &mut floor_plain, dot_i16_i8_plain);
            prop_assert_eq!(upper, upper_plain);
            prop_assert_eq!(floor, floor_plain);
        }
    }

    proptest! {
        /// Every kernel this CPU can run gives the plain loop's integer dot products.
        #[test]
        fn the_four_row_kernels_give_the_plain_products(
            dims in 0usize..200,
            values in proptest::collection::vec(any::<i16>(), 200),
            bytes in proptest::collection::vec(-127i8..=127, 800),
        ) {
            let a = &values[..dims];
            let rows: [&[i8]; 4] = std::array::from_fn(|j| &bytes[j * 200..j * 200 + dims]);
            let plain = rows.map(|row| dot_i16_i8_plain(a, row));
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    prop_assert_eq!(unsafe { dot4_i16_i8_avx2(a, rows) }, plain);
                }
                if avx512() {
                    // SAFETY: the CPU supports AVX-512 F, BW and VNNI, checked just above.
                    prop_assert_eq!(unsafe { dot4_i16_i8_avx512(a, rows) }, plain);
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = plain;
        }
    }

    #[test]
    fn a_zero_row_is_zero_within_the_slack() {
        let q = Quantised::new(&[0.0; 16], 16);
        let (mut upper, mut lower) = (Vec::new(), [f32::MIN]);
        q.bound_rows(&Quantised::query(&[0.25; 16]), 0..1, &mut upper, &mut lower);
        assert!(
            upper[0] <= SLACK + 1e-6 && lower[0] >= -SLACK - 1e-6,
            "{upper:?} {lower:?}"
        );
    }
}
