//! NumPy's numerical building blocks, reproduced operation for operation so
//! that shading matches Datashader to the last bit: `np.linspace`,
//! `np.interp`, `np.histogram` (equal bins), NumPy's pairwise summation, the
//! float-to-`uint8` cast, and Datashader's `eq_hist` and
//! `_rescale_discrete_levels`.

use rayon::prelude::*;

use super::ShadeError;

/// Number of histogram bins Datashader's `eq_hist` uses (`nbins=256*256`).
pub(crate) const EQ_HIST_BINS: usize = 256 * 256;

/// Cells per parallel work item in flat per-cell loops.
pub(crate) const CHUNK: usize = 1 << 14;

/// `np.linspace(start, stop, num)` (endpoint included), as NumPy computes it:
/// `i * step + start` with the last sample forced to `stop`, and the
/// `i / div * delta` form when the step underflows to zero.
pub(crate) fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = num.saturating_sub(1);
    let delta = stop - start;
    let mut y: Vec<f64> = (0..num).map(|i| i as f64).collect();
    if div > 0 {
        let divf = div as f64;
        let step = delta / divf;
        if step == 0.0 {
            for v in &mut y {
                *v = *v / divf * delta;
            }
        } else {
            for v in &mut y {
                *v *= step;
            }
        }
    } else {
        for v in &mut y {
            *v *= delta;
        }
    }
    for v in &mut y {
        *v += start;
    }
    if num > 1 {
        y[num - 1] = stop;
    }
    y
}

/// Where `x` falls among the sample points of `np.interp`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pos {
    /// `x` is NaN (result NaN).
    Nan,
    /// Below the first sample point (result `left`).
    Left,
    /// Above the last sample point (result `right`).
    Right,
    /// Exactly on sample `j`, or on/after the last one (result `fp[j]`).
    At(usize),
    /// Strictly between samples `j` and `j + 1`.
    Between(usize),
}

/// NumPy's `binary_search_with_guess` (`compiled_base.c`), verbatim: the
/// index `j` with `arr[j] <= key < arr[j + 1]`, `-1` below the range, `len`
/// above it. For `arr` without NaN the result does not depend on `guess`.
pub(crate) fn np_search(key: f64, arr: &[f64], guess: isize) -> isize {
    const LIKELY_IN_CACHE_SIZE: isize = 8;
    let len = arr.len() as isize;
    let at = |i: isize| arr[i as usize];
    if key > at(len - 1) {
        return len;
    } else if key < at(0) {
        return -1;
    }
    if len <= 4 {
        let mut i = 1;
        while i < len && key >= at(i) {
            i += 1;
        }
        return i - 1;
    }
    let guess = guess.min(len - 3).max(1);
    let (mut imin, mut imax) = (0, len);
    if key < at(guess) {
        if key < at(guess - 1) {
            imax = guess - 1;
            if guess > LIKELY_IN_CACHE_SIZE && key >= at(guess - LIKELY_IN_CACHE_SIZE) {
                imin = guess - LIKELY_IN_CACHE_SIZE;
            }
        } else {
            return guess - 1;
        }
    } else if key < at(guess + 1) {
        return guess;
    } else if key < at(guess + 2) {
        return guess + 1;
    } else {
        imin = guess + 2;
        if guess < len - LIKELY_IN_CACHE_SIZE - 1 && key < at(guess + LIKELY_IN_CACHE_SIZE) {
            imax = guess + LIKELY_IN_CACHE_SIZE;
        }
    }
    while imin < imax {
        let imid = imin + ((imax - imin) >> 1);
        if key >= at(imid) {
            imin = imid + 1;
        } else {
            imax = imid;
        }
    }
    imin - 1
}

/// `arr_interp`'s reading of a search result `j` for a non-NaN `x`.
#[inline]
fn classify(xp: &[f64], x: f64, j: isize) -> Pos {
    let n = xp.len() as isize;
    if j < 0 {
        Pos::Left
    } else if j >= n {
        Pos::Right
    } else if j == n - 1 || xp[j as usize] == x {
        Pos::At(j as usize)
    } else {
        Pos::Between(j as usize)
    }
}

/// Locate `x` in `xp` exactly as NumPy's `arr_interp` does, including its
/// `len(xp) == 1` shortcut (which maps NaN to `fp[0]`). For `xp` containing
/// NaN, NumPy's answer depends on where the previous element was found; use
/// [`locate_seq`] to follow it.
#[inline]
pub(crate) fn locate(xp: &[f64], x: f64) -> Pos {
    let mut j = 0;
    locate_seq(xp, x, &mut j)
}

/// [`locate`] carrying NumPy's search guess from one element to the next, as
/// `arr_interp` does while walking the array in order.
#[inline]
pub(crate) fn locate_seq(xp: &[f64], x: f64, j: &mut isize) -> Pos {
    if xp.len() == 1 {
        return if x < xp[0] {
            Pos::Left
        } else if x > xp[0] {
            Pos::Right
        } else {
            Pos::At(0)
        };
    }
    if x.is_nan() {
        return Pos::Nan;
    }
    *j = np_search(x, xp, *j);
    classify(xp, x, *j)
}

/// [`locate`] starting from a guess for the index: the same result, found by
/// a short walk when the guess is close (falls back to bisection). `xp` must
/// not contain NaN.
#[inline]
pub(crate) fn locate_from(xp: &[f64], x: f64, guess: usize) -> Pos {
    let n = xp.len();
    if n == 1 || x.is_nan() || x > xp[n - 1] || x < xp[0] {
        return locate(xp, x);
    }
    // Here xp[0] <= x <= xp[n - 1]: find the largest j with xp[j] <= x.
    let mut j = guess.min(n - 1);
    let mut steps = 0;
    if xp[j] > x {
        while xp[j] > x {
            j -= 1;
            steps += 1;
            if steps > 4 {
                return locate(xp, x);
            }
        }
    } else {
        while j + 1 < n && xp[j + 1] <= x {
            j += 1;
            steps += 1;
            if steps > 4 {
                return locate(xp, x);
            }
        }
    }
    if j == n - 1 || xp[j] == x {
        Pos::At(j)
    } else {
        Pos::Between(j)
    }
}

/// Sample points from `np.linspace`, with a fast index guess for lookups.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// The sample points.
    pub(crate) xs: Vec<f64>,
    inv_step: f64,
    /// Some sample point is NaN (a span with an infinite end): lookups then
    /// depend on the order of evaluation, see [`locate_seq`].
    pub(crate) has_nan: bool,
}

impl Grid {
    /// `np.linspace(start, stop, num)`.
    pub(crate) fn linspace(start: f64, stop: f64, num: usize) -> Self {
        let xs = linspace(start, stop, num);
        let inv_step = if num > 1 {
            (num - 1) as f64 / (stop - start)
        } else {
            0.0
        };
        let has_nan = xs.iter().any(|v| v.is_nan());
        Grid {
            xs,
            inv_step,
            has_nan,
        }
    }

    /// [`locate`] in the grid (for grids without NaN; see [`Grid::has_nan`]).
    #[inline]
    pub(crate) fn locate(&self, x: f64) -> Pos {
        let g = (x - self.xs[0]) * self.inv_step;
        if !self.has_nan && g.is_finite() && g >= 0.0 {
            locate_from(&self.xs, x, g as usize)
        } else {
            locate(&self.xs, x)
        }
    }
}

/// One `np.interp` table: sample points, values, `left`/`right` and the
/// precomputed slopes (NumPy computes the same quotient either way).
#[derive(Debug, Clone)]
pub(crate) struct Interp {
    fp: Vec<f64>,
    slopes: Vec<f64>,
    left: f64,
    right: f64,
}

impl Interp {
    /// Table for `np.interp(x, xp, fp, left, right)`; `None` for `left` /
    /// `right` means NumPy's defaults `fp[0]` / `fp[-1]`.
    pub(crate) fn new(xp: &[f64], fp: Vec<f64>, left: Option<f64>, right: Option<f64>) -> Self {
        debug_assert_eq!(xp.len(), fp.len());
        debug_assert!(!fp.is_empty());
        let slopes = xp
            .windows(2)
            .zip(fp.windows(2))
            .map(|(x, f)| (f[1] - f[0]) / (x[1] - x[0]))
            .collect();
        let left = left.unwrap_or(fp[0]);
        let right = right.unwrap_or(fp[fp.len() - 1]);
        Interp {
            fp,
            slopes,
            left,
            right,
        }
    }

    /// The interpolated value for `x` already located with [`locate`] in `xp`.
    #[inline]
    pub(crate) fn at(&self, pos: Pos, xp: &[f64], x: f64) -> f64 {
        match pos {
            Pos::Nan => f64::NAN,
            Pos::Left => self.left,
            Pos::Right => self.right,
            Pos::At(j) => self.fp[j],
            Pos::Between(j) => {
                let slope = self.slopes[j];
                let r = slope * (x - xp[j]) + self.fp[j];
                if r.is_nan() {
                    let r2 = slope * (x - xp[j + 1]) + self.fp[j + 1];
                    if r2.is_nan() && self.fp[j] == self.fp[j + 1] {
                        self.fp[j]
                    } else {
                        r2
                    }
                } else {
                    r
                }
            }
        }
    }
}

/// `np.nan_to_num(v).astype(np.uint8)` on x86-64: NaN becomes 0, infinities
/// the largest finite values, then C's truncating conversion through a
/// 32-bit integer keeps the low byte (out-of-range values give 0).
#[inline]
pub(crate) fn to_u8(v: f64) -> u8 {
    if v > -2_147_483_649.0 && v < 2_147_483_648.0 {
        // In range of i32 after truncation: exactly what cvttsd2si yields.
        (v as i32) as u8
    } else {
        // NaN, +-inf (via nan_to_num: +-f64::MAX) and other out-of-range values
        // produce the "integer indefinite" 0x80000000, whose low byte is 0.
        0
    }
}

/// NumPy's pairwise summation (`@TYPE@_pairwise_sum`), used by `np.sum`
/// along a contiguous axis. Starts from `-0.0` for short runs like NumPy.
pub(crate) fn pairwise_sum_f32(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0f32;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum_f32(&a[..n2]) + pairwise_sum_f32(&a[n2..])
    }
}

/// [`pairwise_sum_f32`] for `f64`.
pub(crate) fn pairwise_sum_f64(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0f64;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum_f64(&a[..n2]) + pairwise_sum_f64(&a[n2..])
    }
}

/// `(np.nanmin(v), np.nanmax(v))`; `None` when every value is NaN.
pub(crate) fn nan_min_max(v: &[f64]) -> Option<(f64, f64)> {
    v.par_chunks(CHUNK)
        .map(|c| {
            let mut lo = f64::INFINITY;
            let mut hi = f64::NEG_INFINITY;
            let mut any = false;
            for &x in c {
                if !x.is_nan() {
                    any = true;
                    if x < lo {
                        lo = x;
                    }
                    if x > hi {
                        hi = x;
                    }
                }
            }
            any.then_some((lo, hi))
        })
        .reduce(
            || None,
            |a, b| match (a, b) {
                (Some((l1, h1)), Some((l2, h2))) => Some((l1.min(l2), h1.max(h2))),
                (a, None) => a,
                (None, b) => b,
            },
        )
}

/// Histogram counts -> `hist.cumsum() / float(cdf[-1])`, as NumPy computes it.
fn cdf_of(counts: &[u64]) -> Vec<f64> {
    let mut cum = 0u64;
    let cum_counts: Vec<u64> = counts
        .iter()
        .map(|&c| {
            cum += c;
            cum
        })
        .collect();
    let total = cum as f64;
    cum_counts.iter().map(|&c| c as f64 / total).collect()
}

/// Items per parallel histogram part: one part per thread.
fn histogram_chunk(len: usize) -> usize {
    len.div_ceil(rayon::current_num_threads().max(1)).max(CHUNK)
}

/// The bin-by-bin sum of per-thread histograms of `size` bins.
fn sum_histograms(parts: impl ParallelIterator<Item = Vec<u64>>, size: usize) -> Vec<u64> {
    parts.reduce(
        || vec![0u64; size],
        |mut a, b| {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
            a
        },
    )
}

/// Sum per-thread histograms of `size` bins filled by `fill`, one part per thread.
fn par_histogram<T: Sync>(
    items: &[T],
    size: usize,
    fill: impl Fn(&mut [u64], &[T]) + Sync,
) -> Vec<u64> {
    let parts = items.par_chunks(histogram_chunk(items.len())).map(|c| {
        let mut h = vec![0u64; size];
        fill(&mut h, c);
        h
    });
    sum_histograms(parts, size)
}

/// `f(x)` for every cell, NaN where the cell is NaN (masked).
fn map_unmasked(data: &[f64], f: impl Fn(f64) -> f64 + Sync) -> Vec<f64> {
    let mut out = vec![0.0; data.len()];
    out.par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK))
        .for_each(|(o, d)| {
            for (o, &x) in o.iter_mut().zip(d) {
                *o = if x.is_nan() { f64::NAN } else { f(x) };
            }
        });
    out
}

/// `np.histogram(a, bins=65536)`'s equal-width bins over `[lo, hi]`.
#[derive(Debug, Clone)]
pub(crate) struct Bins {
    first: f64,
    denom: f64,
    edges: Vec<f64>,
}

impl Bins {
    /// NumPy's bin edges for data in `[lo, hi]`, with its errors for
    /// non-finite ranges and for ranges too narrow for distinct edges.
    pub(crate) fn new(lo: f64, hi: f64) -> Result<Self, ShadeError> {
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(ShadeError::NonFiniteEqHist { lo, hi });
        }
        let (first, last) = if lo == hi {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };
        let edges = linspace(first, last, EQ_HIST_BINS + 1);
        if edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err(ShadeError::EqHistRangeTooNarrow { lo, hi });
        }
        Ok(Bins {
            first,
            denom: last - first,
            edges,
        })
    }

    /// The bin of `x`, with NumPy's corrections against the actual edges.
    #[inline]
    fn index(&self, x: f64) -> usize {
        let nb = EQ_HIST_BINS;
        // Values outside [first, last] never reach here (they define the range).
        let f = ((x - self.first) / self.denom) * nb as f64;
        let mut idx = f as i64;
        if idx == nb as i64 {
            idx -= 1;
        }
        if x < self.edges[idx as usize] {
            idx -= 1;
        }
        if idx != nb as i64 - 1 && x >= self.edges[idx as usize + 1] {
            idx += 1;
        }
        idx as usize
    }

    /// Centres and cdf of the non-empty bins (Datashader drops empty ones).
    /// The bin of an in-range value.
    pub(crate) fn bin(&self, x: f64) -> usize {
        self.index(x)
    }

    pub(crate) fn equalizer(self, hist: &[u64]) -> (EqHist, usize) {
        let mut centers = Vec::new();
        let mut counts = Vec::new();
        let mut rank = Vec::with_capacity(hist.len());
        for (k, &c) in hist.iter().enumerate() {
            rank.push(counts.len().saturating_sub(usize::from(c == 0)) as u32);
            if c > 0 {
                centers.push((self.edges[k] + self.edges[k + 1]) / 2.0);
                counts.push(c);
            }
        }
        let levels = counts.len();
        let table = Interp::new(&centers, cdf_of(&counts), None, None);
        (
            EqHist::Binned {
                centers,
                table,
                bins: self,
                rank,
            },
            levels,
        )
    }
}

/// The value -> equalised value map of Datashader's `eq_hist`.
#[derive(Debug, Clone)]
pub(crate) enum EqHist {
    /// Integer data with a range below 65536: `cdf[v - lo]` exactly.
    Exact {
        /// Smallest value.
        lo: f64,
        /// Cumulative fraction per value `lo..=hi`.
        cdf: Vec<f64>,
    },
    /// `np.interp` between the centres of the non-empty bins.
    Binned {
        /// Centres of the non-empty bins.
        centers: Vec<f64>,
        /// Their cumulative fractions.
        table: Interp,
        /// The bins, to guess where a value lies among the centres.
        bins: Bins,
        /// For each bin, the index of the nearest non-empty bin at or below it.
        rank: Vec<u32>,
    },
}

impl EqHist {
    /// The equalised value of a (non-NaN, in-range) data value.
    #[inline]
    pub(crate) fn eval(&self, x: f64) -> f64 {
        match self {
            EqHist::Exact { lo, cdf } => cdf[(x - lo) as usize],
            EqHist::Binned {
                centers,
                table,
                bins,
                rank,
            } => {
                // A value lies in a non-empty bin, next to that bin's centre.
                let guess = rank[bins.index(x)] as usize;
                table.at(locate_near(centers, x, guess), centers, x)
            }
        }
    }

    /// [`EqHist::eval`] for a value already known to lie in bin `bin` of
    /// the histogram ([`Bins::bin`]): the same result, one search fewer.
    #[inline]
    pub(crate) fn eval_in_bin(&self, x: f64, bin: usize) -> f64 {
        match self {
            EqHist::Exact { .. } => self.eval(x),
            EqHist::Binned {
                centers,
                table,
                rank,
                ..
            } => {
                let guess = rank[bin] as usize;
                table.at(locate_near(centers, x, guess), centers, x)
            }
        }
    }
}

/// [`locate`] for `x` lying in the histogram bin whose nearest non-empty
/// bin at or below has centre `xp[guess]`: the answer is then `guess` or
/// `guess - 1`, picked without a branch and then checked (the largest `j`
/// with `xp[j] <= x` is unique in strictly increasing `xp`); any other case
/// takes [`locate_from`].
#[inline]
pub(crate) fn locate_near(xp: &[f64], x: f64, guess: usize) -> Pos {
    let n = xp.len();
    if n > 1 && guess < n && xp[0] <= x && x <= xp[n - 1] {
        let j = guess.saturating_sub(usize::from(x < xp[guess]));
        if xp[j] <= x && (j + 1 == n || x < xp[j + 1]) {
            return if j == n - 1 || xp[j] == x {
                Pos::At(j)
            } else {
                Pos::Between(j)
            };
        }
    }
    locate_from(xp, x, guess)
}

/// Datashader's `eq_hist(data, mask)` for the cells of `data` that are not NaN
/// (NaN marks masked cells). `integer` says whether the NumPy array was of an
/// integer dtype: then, if the value range is below 65536, the exact
/// per-value histogram is used; otherwise (and always for floats) the
/// 65536-bin `np.histogram`. Returns the equalised values (NaN where masked)
/// and the number of discrete levels.
pub(crate) fn eq_hist(data: &[f64], integer: bool) -> Result<(Vec<f64>, usize), ShadeError> {
    let Some((lo, hi)) = nan_min_max(data) else {
        // Issue #1166 in Datashader: everything masked -> all NaN, 0 levels.
        return Ok((vec![f64::NAN; data.len()], 0));
    };
    if integer && hi - lo < EQ_HIST_BINS as f64 {
        let hist = par_histogram(data, (hi - lo) as usize + 1, |h, c| {
            for &x in c {
                if !x.is_nan() {
                    h[(x - lo) as usize] += 1;
                }
            }
        });
        let levels = hist.iter().filter(|&&c| c > 0).count();
        let eq = EqHist::Exact {
            lo,
            cdf: cdf_of(&hist),
        };
        return Ok((map_unmasked(data, |x| eq.eval(x)), levels));
    }
    let bins = Bins::new(lo, hi)?;
    // Each cell's bin (65,536 bins: a u16) is kept from the histogram pass
    // for the evaluation pass, which then starts at that bin's centre
    // instead of locating the value again.
    let mut cell_bins = vec![0u16; data.len()];
    let chunk = histogram_chunk(data.len());
    let parts = data
        .par_chunks(chunk)
        .zip(cell_bins.par_chunks_mut(chunk))
        .map(|(c, b)| {
            let mut h = vec![0u64; EQ_HIST_BINS];
            for (&x, b) in c.iter().zip(b) {
                if !x.is_nan() {
                    let k = bins.index(x);
                    h[k] += 1;
                    *b = k as u16;
                }
            }
            h
        });
    let hist = sum_histograms(parts, EQ_HIST_BINS);
    let (eq, levels) = bins.equalizer(&hist);
    let mut out = vec![0.0; data.len()];
    out.par_chunks_mut(CHUNK)
        .zip(data.par_chunks(CHUNK))
        .zip(cell_bins.par_chunks(CHUNK))
        .for_each(|((o, d), b)| {
            for ((o, &x), &k) in o.iter_mut().zip(d).zip(b) {
                *o = if x.is_nan() {
                    f64::NAN
                } else {
                    eq.eval_in_bin(x, usize::from(k))
                };
            }
        });
    Ok((out, levels))
}

/// [`eq_hist`] from a histogram of integer keys (`counts[k]` cells hold key
/// `k`), for lookup-table shading: the same map, built without a pass over
/// the cells. `integer` as in [`eq_hist`]. `None` when no key is present.
pub(crate) fn eq_hist_keys(
    counts: &[u64],
    integer: bool,
) -> Result<Option<(EqHist, usize)>, ShadeError> {
    let Some(lo) = counts.iter().position(|&c| c > 0) else {
        return Ok(None);
    };
    let hi = counts.iter().rposition(|&c| c > 0).unwrap_or(lo);
    if integer && hi - lo < EQ_HIST_BINS {
        let present = &counts[lo..=hi];
        let levels = present.iter().filter(|&&c| c > 0).count();
        let cdf = cdf_of(present);
        return Ok(Some((EqHist::Exact { lo: lo as f64, cdf }, levels)));
    }
    let bins = Bins::new(lo as f64, hi as f64)?;
    let mut hist = vec![0u64; EQ_HIST_BINS];
    for (k, &c) in counts.iter().enumerate().skip(lo).take(hi - lo + 1) {
        if c > 0 {
            hist[bins.index(k as f64)] += c;
        }
    }
    Ok(Some(bins.equalizer(&hist)))
}

/// Histogram of integer keys `0..size` over `items` (`key` gives `None` for
/// masked items), summed over threads.
pub(crate) fn key_histogram<T: Copy + Sync>(
    items: &[T],
    size: usize,
    key: impl Fn(T) -> Option<usize> + Sync,
) -> Vec<u64> {
    par_histogram(items, size, |h, c| {
        for &x in c {
            if let Some(k) = key(x) {
                h[k] += 1;
            }
        }
    })
}

/// Datashader's `_rescale_discrete_levels`: with few distinct levels, lower
/// the bottom of the span so the data lands in the upper part of the colormap.
pub(crate) fn rescale_discrete_levels(levels: usize, span: (f64, f64)) -> (f64, f64) {
    let m = -0.5 / 98.0;
    let c = 1.5 - 2.0 * m;
    let multiple = m * levels as f64 + c;
    if multiple > 1.0 {
        let lower = span.1 - multiple * (span.1 - span.0);
        // Python's max(lower, 0): returns `lower` unless 0 > lower.
        let lower = if 0.0 > lower { 0.0 } else { lower };
        (lower, 1.0)
    } else {
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_numpy_construction() {
        assert_eq!(linspace(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        // Last sample is exactly `stop` even when i*step rounds differently.
        let v = linspace(0.1, 0.7, 7);
        assert_eq!(v[6], 0.7);
        assert_eq!(v[3], 3.0 * ((0.7 - 0.1) / 6.0) + 0.1);
        assert_eq!(linspace(2.0, 2.0, 4), vec![2.0; 4]);
        assert_eq!(linspace(3.0, 9.0, 1), vec![3.0]);
    }

    #[test]
    fn interp_edges_follow_numpy() {
        let xp = [0.0, 1.0, 2.0];
        let t = Interp::new(&xp, vec![10.0, 20.0, 40.0], Some(255.0), None);
        let f = |x: f64| t.at(locate(&xp, x), &xp, x);
        assert_eq!(f(-0.5), 255.0);
        assert_eq!(f(0.0), 10.0);
        assert_eq!(f(0.5), 15.0);
        assert_eq!(f(1.5), 30.0);
        assert_eq!(f(2.0), 40.0);
        assert_eq!(f(3.0), 40.0);
        assert!(f(f64::NAN).is_nan());
        // Duplicated sample points (a zero-width span): ties go to the last.
        let xp = [1.0; 4];
        let t = Interp::new(&xp, vec![0.0, 1.0, 2.0, 3.0], None, None);
        assert_eq!(t.at(locate(&xp, 1.0), &xp, 1.0), 3.0);
        // One sample point: NumPy's shortcut returns fp[0] even for NaN.
        let xp = [0.0];
        let t = Interp::new(&xp, vec![7.0], Some(255.0), None);
        assert_eq!(t.at(locate(&xp, f64::NAN), &xp, f64::NAN), 7.0);
        assert_eq!(t.at(locate(&xp, -1.0), &xp, -1.0), 255.0);
    }

    #[test]
    fn nan_sample_points_follow_numpys_guess_chain() {
        // np.interp([1, inf, 2, 3, nan, 4], linspace(0, inf, 6), ..., left=255)
        // gives [nan, 60, 255, nan, nan, nan]: after the search for inf, the
        // carried guess sends 2.0 below the range.
        let xp = linspace(0.0, f64::INFINITY, 6);
        assert!(xp[0].is_nan() && xp[1..].iter().all(|&v| v == f64::INFINITY));
        let t = Interp::new(
            &xp,
            vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            Some(255.0),
            None,
        );
        let mut j = 0;
        let out: Vec<f64> = [1.0, f64::INFINITY, 2.0, 3.0, f64::NAN, 4.0]
            .iter()
            .map(|&x| t.at(locate_seq(&xp, x, &mut j), &xp, x))
            .collect();
        assert!(out[0].is_nan());
        assert_eq!(&out[1..3], &[60.0, 255.0]);
        assert!(out[3..].iter().all(|v| v.is_nan()));
    }

    #[test]
    fn uint8_cast_truncates_and_wraps_like_numpy() {
        assert_eq!(to_u8(254.999), 254);
        assert_eq!(to_u8(255.0), 255);
        assert_eq!(to_u8(-0.5), 0);
        assert_eq!(to_u8(-1.5), 255);
        assert_eq!(to_u8(300.0), 44);
        assert_eq!(to_u8(f64::NAN), 0);
        assert_eq!(to_u8(f64::INFINITY), 0);
    }

    #[test]
    fn pairwise_sum_orders_like_numpy() {
        // Sequential below 8 elements: 2^24 + 1 + 1 + 1 + 1 stays 2^24 in f32.
        let big = 16_777_216.0f32;
        assert_eq!(pairwise_sum_f32(&[big, 1.0, 1.0, 1.0, 1.0]), big);
        // Eight accumulators from 8 elements on: the ones pair up first.
        let mut v = vec![big];
        v.extend([1.0f32; 7]);
        assert_eq!(pairwise_sum_f32(&v), big + 6.0);
        let mut v = vec![big];
        v.extend([1.0f32; 8]);
        assert_eq!(pairwise_sum_f32(&v), big + 8.0);
    }

    /// `locate_near` gives `locate`'s answer for any guess: on the centres,
    /// between them, at both ends and outside them.
    #[test]
    fn locate_near_agrees_with_locate_for_any_guess() {
        // Scattered, repeatable values: i * 7919 (a prime) modulo a range.
        let mut k = 0u64;
        let mut next = move || {
            k += 1;
            k * 7919
        };
        for n in [1usize, 2, 3, 17, 300] {
            let mut xp: Vec<f64> = (0..n).map(|_| (next() % 1_000_000) as f64 / 7.0).collect();
            xp.sort_by(f64::total_cmp);
            xp.dedup();
            let n = xp.len();
            let mut xs: Vec<f64> = xp.clone();
            xs.extend(xp.windows(2).map(|w| (w[0] + w[1]) / 2.0));
            xs.extend((0..200).map(|_| (next() % 1_100_000) as f64 / 7.0 - 5000.0));
            xs.push(f64::NAN);
            for &x in &xs {
                let want = locate(&xp, x);
                for guess in [0, 1, n / 2, n.saturating_sub(2), n - 1, n, n + 3] {
                    assert_eq!(
                        locate_near(&xp, x, guess),
                        want,
                        "n {n} x {x} guess {guess}"
                    );
                }
            }
        }
    }

    #[test]
    fn eq_hist_integer_path_is_the_exact_cdf() {
        let nan = f64::NAN;
        let data = [0.0, 1.0, 1.0, 3.0, nan];
        let (out, levels) = eq_hist(&data, true).expect("eq_hist");
        assert_eq!(levels, 3);
        assert_eq!(out[0], 1.0 / 4.0);
        assert_eq!(out[1], 3.0 / 4.0);
        assert_eq!(out[3], 1.0);
        assert!(out[4].is_nan());
    }

    #[test]
    fn eq_hist_switches_to_bins_for_wide_integer_ranges() {
        // Range 70000 >= 65536: integers are binned like floats, so values
        // interpolate between bin centres instead of hitting the exact cdf.
        let data = [0.0, 5.0, 70_000.0];
        let (float, _) = eq_hist(&data, false).expect("eq_hist");
        let (int, levels) = eq_hist(&data, true).expect("eq_hist");
        assert_eq!(levels, 3);
        assert_eq!(int, float);
        // 0 lies below the first bin centre: NumPy's `left` = cdf[0].
        assert_eq!(int[0], 1.0 / 3.0);
        // 5 lies just above its bin centre: slightly above cdf[1].
        assert!(int[1] > 2.0 / 3.0 && int[1] < 0.6668);
        assert_eq!(int[2], 1.0);
        // A narrow integer range takes the exact path: 5 gets exactly 2/3.
        let (exact, _) = eq_hist(&[0.0, 5.0, 7.0], true).expect("eq_hist");
        assert_eq!(exact[1], 2.0 / 3.0);
    }

    #[test]
    fn eq_hist_all_masked_is_all_nan() {
        let (out, levels) = eq_hist(&[f64::NAN; 3], true).expect("eq_hist");
        assert_eq!(levels, 0);
        assert!(out.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn rescale_discrete_levels_lowers_the_span_for_few_levels() {
        let (lo, hi) = rescale_discrete_levels(2, (0.5, 1.0));
        assert_eq!(hi, 1.0);
        assert_eq!(lo, 1.0 - 1.5 * 0.5);
        // 100 or more levels: unchanged.
        assert_eq!(rescale_discrete_levels(100, (0.25, 1.0)), (0.25, 1.0));
    }
}
