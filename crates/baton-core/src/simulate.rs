//! A simulated day of one team (`baton simulate`): seeded arrivals, handle times and shifts, the
//! wait Baton quotes each queued customer (the same [`routing::eta_seconds`] the server uses, fed
//! with the handle times observed so far), the wait that followed, and the Erlang C estimate for
//! the same parameters, side by side.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::Serialize;

use crate::routing;

/// One shift: how long it lasts, how many agents are on it and how many customers arrive per hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    pub hours: f64,
    pub agents: u32,
    pub arrivals_per_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub seed: u64,
    pub shifts: Vec<Shift>,
    /// Conversations one agent handles at once.
    pub capacity: u32,
    /// Handle times are log-normal with this mean and standard deviation, in seconds.
    pub handle_mean_seconds: f64,
    pub handle_sd_seconds: f64,
    /// The estimate before any conversation was resolved (the policy's default).
    pub default_handle_seconds: f64,
    /// Resolved conversations the handle-time estimate averages (the policy's sample).
    pub handle_time_sample: usize,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 7,
            shifts: vec![
                Shift {
                    hours: 4.0,
                    agents: 4,
                    arrivals_per_hour: 34.0,
                },
                Shift {
                    hours: 4.0,
                    agents: 6,
                    arrivals_per_hour: 55.0,
                },
                Shift {
                    hours: 4.0,
                    agents: 3,
                    arrivals_per_hour: 26.0,
                },
            ],
            capacity: 1,
            handle_mean_seconds: 360.0,
            handle_sd_seconds: 240.0,
            default_handle_seconds: 420.0,
            handle_time_sample: 50,
        }
    }
}

/// What the day showed, over the customers who had to queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationReport {
    pub scenario: Scenario,
    pub arrivals: usize,
    pub queued: usize,
    pub mean_wait_seconds: f64,
    pub median_wait_seconds: f64,
    /// Baton's quote at queueing vs the wait that followed.
    pub baton_median_abs_error_seconds: f64,
    pub baton_mean_abs_error_seconds: f64,
    /// Median absolute error as a share of the mean wait.
    pub baton_error_share_of_mean_wait: f64,
    /// Erlang C's expected wait of a queued customer, h / (n - a), for the shift's traffic and
    /// the true mean handle time.
    pub erlang_median_abs_error_seconds: f64,
    pub erlang_mean_abs_error_seconds: f64,
    pub erlang_error_share_of_mean_wait: f64,
    /// Queued customers for whom Erlang C has no answer (traffic at or above capacity).
    pub erlang_undefined: usize,
    /// Customers still in the queue when the last shift ended: never served that day, so not in
    /// the wait figures above.
    pub still_waiting_at_end: usize,
    /// The longest of their waits at the end of the day, in seconds (0 when nobody waits).
    pub still_waiting_longest_seconds: f64,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

struct Waiting {
    arrival: f64,
    quote: f64,
    erlang: Option<f64>,
}

/// A scenario that cannot be simulated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("a scenario needs shifts, a capacity of at least 1 and a positive handle time")]
    Team,
    #[error("every shift needs positive hours and non-negative arrivals")]
    Shift,
    #[error("{0}")]
    HandleTime(#[from] rand_distr::NormalError),
    #[error("{0}")]
    Arrivals(#[from] rand_distr::ExpError),
}

/// Runs the day. Deterministic for a given scenario (seed included).
pub fn run(s: &Scenario) -> Result<SimulationReport, ScenarioError> {
    if s.shifts.is_empty()
        || s.capacity == 0
        || s.handle_mean_seconds <= 0.0
        || s.handle_sd_seconds < 0.0
    {
        return Err(ScenarioError::Team);
    }
    if s.shifts
        .iter()
        .any(|sh| sh.hours <= 0.0 || sh.arrivals_per_hour < 0.0)
    {
        return Err(ScenarioError::Shift);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    // Log-normal with the requested mean and standard deviation.
    let m = s.handle_mean_seconds;
    let v = s.handle_sd_seconds.powi(2);
    let sigma2 = (1.0 + v / (m * m)).ln();
    let handle = LogNormal::new(m.ln() - sigma2 / 2.0, sigma2.sqrt())?;

    // Shift boundaries and arrivals (a Poisson process per shift).
    let mut bounds = Vec::new();
    let mut arrivals = Vec::new();
    let mut start = 0.0;
    for sh in &s.shifts {
        let end = start + sh.hours * 3600.0;
        if sh.arrivals_per_hour > 0.0 {
            let gap = Exp::new(sh.arrivals_per_hour / 3600.0)?;
            let mut t = start + gap.sample(&mut rng);
            while t < end {
                arrivals.push(t);
                t += gap.sample(&mut rng);
            }
        }
        bounds.push((start, end, sh));
        start = end;
    }
    let shift_at = |t: f64| {
        bounds
            .iter()
            .find(|(a, b, _)| t >= *a && t < *b)
            .map(|(.., sh)| *sh)
    };

    let mut recent: VecDeque<f64> = VecDeque::new();
    let estimate = |recent: &VecDeque<f64>| {
        // The store's blend: the default until the sample fills with observed handle times.
        let n = recent.len();
        let observed = if n > 0 {
            recent.iter().sum::<f64>() / n as f64
        } else {
            s.default_handle_seconds
        };
        let w = (n as f64 / s.handle_time_sample.max(1) as f64).min(1.0);
        w * observed + (1.0 - w) * s.default_handle_seconds
    };
    let mut busy: u32 = 0;
    let mut completions: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new(); // (end ms, handle ms)
    let mut queue: VecDeque<Waiting> = VecDeque::new();
    let (mut waits, mut baton_err, mut erlang_err) = (Vec::new(), Vec::new(), Vec::new());
    let mut erlang_undefined = 0usize;
    let mut next_arrival = 0usize;

    let slots_at = |t: f64| shift_at(t).map_or(0, |sh| sh.agents * s.capacity);
    let start_service = |t: f64,
                         busy: &mut u32,
                         completions: &mut BinaryHeap<Reverse<(u64, u64)>>,
                         rng: &mut ChaCha8Rng| {
        let h: f64 = handle.sample(rng);
        *busy += 1;
        completions.push(Reverse((((t + h) * 1000.0) as u64, (h * 1000.0) as u64)));
    };
    let boundaries: Vec<f64> = bounds
        .iter()
        .map(|(a, ..)| *a)
        .filter(|a| *a > 0.0)
        .collect();
    let mut now = 0.0f64;
    loop {
        let t_arrival = arrivals.get(next_arrival).copied().unwrap_or(f64::INFINITY);
        let t_done = completions
            .peek()
            .map_or(f64::INFINITY, |Reverse((e, _))| *e as f64 / 1000.0);
        let t_shift = boundaries
            .iter()
            .copied()
            .find(|b| *b > now)
            .unwrap_or(f64::INFINITY);
        let t = t_arrival.min(t_done).min(t_shift);
        if !t.is_finite() {
            break; // no arrivals, nobody busy, no shift ahead: whoever still waits is left over
        }
        now = t;
        if t == t_done {
            let Reverse((_, h_ms)) = completions.pop().expect("peeked");
            busy -= 1;
            recent.push_back(h_ms as f64 / 1000.0);
            if recent.len() > s.handle_time_sample {
                recent.pop_front();
            }
        } else if t == t_arrival {
            next_arrival += 1;
            let slots = slots_at(t);
            if busy < slots && queue.is_empty() {
                start_service(t, &mut busy, &mut completions, &mut rng);
            } else {
                let sh = shift_at(t);
                let agents = sh.map_or(0, |sh| sh.agents);
                let h = estimate(&recent);
                let quote = routing::eta_seconds(queue.len(), agents, s.capacity, busy, h)
                    .unwrap_or(f64::NAN);
                let erlang = sh.and_then(|sh| {
                    let n = sh.agents * s.capacity;
                    let lambda = sh.arrivals_per_hour / 3600.0;
                    // Erlang C gets the true mean handle time: its best case.
                    let true_h = s.handle_mean_seconds;
                    routing::erlang_c(n, lambda, true_h)
                        .map(|_| true_h / (n as f64 - lambda * true_h))
                });
                queue.push_back(Waiting {
                    arrival: t,
                    quote,
                    erlang,
                });
            }
        }
        // Serve the queue while slots are free (after a completion or at a new shift).
        while !queue.is_empty() && busy < slots_at(t) {
            let w = queue.pop_front().expect("not empty");
            let wait = t - w.arrival;
            waits.push(wait);
            if w.quote.is_finite() {
                baton_err.push((w.quote - wait).abs());
            }
            match w.erlang {
                Some(e) => erlang_err.push((e - wait).abs()),
                None => erlang_undefined += 1,
            }
            start_service(t, &mut busy, &mut completions, &mut rng);
        }
    }
    let day_end = start;
    let still_waiting_longest = queue
        .iter()
        .map(|w| day_end - w.arrival)
        .fold(0.0, f64::max);
    let mean_wait = mean(&waits);
    let mut w2 = waits.clone();
    let (b_med, e_med) = (
        median(&mut baton_err.clone()),
        median(&mut erlang_err.clone()),
    );
    Ok(SimulationReport {
        scenario: s.clone(),
        arrivals: arrivals.len(),
        queued: waits.len(),
        mean_wait_seconds: mean_wait,
        median_wait_seconds: median(&mut w2),
        baton_median_abs_error_seconds: b_med,
        baton_mean_abs_error_seconds: mean(&baton_err),
        baton_error_share_of_mean_wait: if mean_wait > 0.0 {
            b_med / mean_wait
        } else {
            0.0
        },
        erlang_median_abs_error_seconds: e_med,
        erlang_mean_abs_error_seconds: mean(&erlang_err),
        erlang_error_share_of_mean_wait: if mean_wait > 0.0 {
            e_med / mean_wait
        } else {
            0.0
        },
        erlang_undefined,
        still_waiting_at_end: queue.len(),
        still_waiting_longest_seconds: still_waiting_longest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_day() {
        let a = run(&Scenario::default()).unwrap();
        let b = run(&Scenario::default()).unwrap();
        assert_eq!(a, b);
        assert!(a.arrivals > 300 && a.queued > 0, "{a:?}");
        let c = run(&Scenario {
            seed: 8,
            ..Scenario::default()
        })
        .unwrap();
        assert_ne!(a.arrivals, c.arrivals);
    }

    #[test]
    fn an_idle_team_never_queues() {
        let s = Scenario {
            shifts: vec![Shift {
                hours: 2.0,
                agents: 20,
                arrivals_per_hour: 5.0,
            }],
            ..Scenario::default()
        };
        let r = run(&s).unwrap();
        assert_eq!(r.queued, 0);
        assert!(run(&Scenario {
            shifts: vec![],
            ..Scenario::default()
        })
        .is_err());
    }

    #[test]
    fn customers_still_waiting_at_the_end_of_the_day_are_reported() {
        // One agent, six times the traffic it can serve: the queue is long when the day ends.
        let s = Scenario {
            shifts: vec![Shift {
                hours: 2.0,
                agents: 1,
                arrivals_per_hour: 60.0,
            }],
            ..Scenario::default()
        };
        let r = run(&s).unwrap();
        assert!(r.still_waiting_at_end > 50, "{r:?}");
        assert!(r.still_waiting_longest_seconds > 3600.0, "{r:?}");
        assert!(r.queued + r.still_waiting_at_end <= r.arrivals, "{r:?}");
    }
}
