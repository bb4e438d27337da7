//! segment/phases.py: a prompt's seconds given to exactly one phase each, with Python's own
//! arithmetic: times are naive datetimes as microseconds (since 0001-01-01), `timedelta(seconds=x)`
//! is CPython's rounding of a float to microseconds, `total_seconds()` microseconds / 1e6 and
//! `round(x, 3)` the correctly rounded decimal, so every float the JSON shows is the same double.

use super::records::{Bar, Num, Phases, Prompt, Span};
use super::NotPorted;
use crate::scan::Activity;
use crate::table::Phase;

pub type Ts = i64;

/// worker-comfyui waits this long on the websocket before it logs a timeout line.
pub const WS_TIMEOUT_S: f64 = 10.0;
const WS_TIMEOUT_US: i64 = 10_000_000;
/// Tolerance when checking a bar's placement against its neighbour lines.
pub(crate) const PLACEMENT_SLACK_US: i64 = 1_000_000;
/// phases.py's UNTIMED_MIN_S: `other` seconds below this (shown as 0.0s) cannot hold an untimed
/// phase worth naming.
pub(crate) const UNTIMED_MIN_S: f64 = 0.05;

/// Why phases could not be timed: (phase, model.UNTIMED key), in the order Python's dict gets them.
pub type Why = Vec<(&'static str, &'static str)>;

fn set_default(why: &mut Why, name: &'static str, reason: &'static str) {
    if !why.iter().any(|(n, _)| *n == name) {
        why.push((name, reason));
    }
}

fn has(why: &Why, name: &str) -> bool {
    why.iter().any(|(n, _)| *n == name)
}

/// phases.py's `library_loader`: a library's own loading bar (not a download).
pub fn library_loader(bar: &Bar) -> bool {
    let label = bar.label.as_deref().unwrap_or("").to_lowercase();
    bar.is_loading() && label.contains("load") && !label.contains("download")
}

/// A prompt's bars as painting reads them: the records still pending, with what their events say.
pub type BarRefs<'a> = [(&'a Bar, &'a BarEv)];

/// phases.py's `SettledBars`: what painting reads of a prompt's first bars, handed on before it
/// ended because no reading can place them (`unplaceable`), in their order.
#[derive(Clone, Debug, Default)]
pub struct SettledBars {
    /// Python's `sum()` of their sampling and loading bars' elapsed seconds (None: there were none).
    pub sampling_s: Option<f64>,
    pub loading_s: Option<f64>,
    /// A sampling bar that stopped before its first step.
    pub sampling_not_advanced: bool,
    pub library_loader: bool,
}

impl SettledBars {
    pub fn add(&mut self, bar: &Bar) {
        if bar.is_sampling() {
            // `0 + x` first, as sum() starts from the int 0
            self.sampling_s = Some(self.sampling_s.unwrap_or(0.0) + bar.elapsed_s);
            self.sampling_not_advanced |= bar.done == 0.0 && 0.0 < bar.total;
        } else if bar.is_loading() {
            self.loading_s = Some(self.loading_s.unwrap_or(0.0) + bar.elapsed_s);
        }
        self.library_loader |= library_loader(bar);
    }
}

/// phases.py's `unplaceable`: bar_span gives nothing whatever comes after the bar.
pub fn unplaceable(ev: &BarEv) -> bool {
    ev.ts.is_none() && ev.end_ts.is_none() && ev.ts_before.is_none()
}

/// phases.py's `untimed_reasons`.
#[allow(clippy::too_many_arguments)]
fn untimed_reasons(
    bars: &BarRefs,
    settled: &SettledBars,
    loaded: bool,
    library_loaded: bool,
    library_loads: bool,
    clock: bool,
    interrupted: bool,
    hidden_bar: bool,
    before_log: bool,
) -> Why {
    let mut why = Why::new();
    if !loaded
        && library_loads
        && settled.loading_s.is_none()
        && !bars.iter().any(|(b, _)| b.is_loading())
    {
        why.push(("load", "unlogged_loads"));
    }
    let sampled = settled.sampling_s.is_some() || bars.iter().any(|(b, _)| b.is_sampling());
    // phases.py: a library's own loading bar of a prompt that ended is a load too (a diffusers pipeline samples
    // with its own loop, whose bar the log may not hold)
    if (loaded || library_loaded || before_log) && !sampled {
        let reason = if before_log {
            "before_log"
        } else {
            "no_sampling_bar"
        };
        why.push(("inference", reason));
    } else if !clock
        && (settled.sampling_not_advanced
            || bars
                .iter()
                .any(|(b, _)| b.is_sampling() && b.done == 0.0 && 0.0 < b.total))
    {
        why.push(("inference", "bar_not_advanced"));
    } else if interrupted && !sampled {
        why.push(("inference", "interrupted_no_bar"));
    } else if hidden_bar && !sampled {
        why.push(("inference", "hidden_bar"));
    }
    why
}
/// datetime.max as microseconds since 0001-01-01 (a time past it is Python's OverflowError).
const MAX_TS: i64 = 315_537_897_599_999_999;
/// Below 2**53 microseconds an int's true division by 10**6 is one correctly rounded double
/// operation in both languages.
const EXACT_US: i64 = 1 << 53;

/// `round(x, 3)`: Python rounds the exact binary value to 3 decimals, ties to even, and reads the
/// decimal back; Rust's formatting with a precision is that exact rounding.
pub fn round3(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.3}")
        .parse()
        .expect("a formatted float reads back")
}

/// Python's `max(a, b)` on floats: `a` unless `b > a` (so max(-0.0, 0.0) is -0.0).
pub fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// Python's `min(a, b)` on floats: `a` unless `b < a`.
pub fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// `timedelta(seconds=x)` in microseconds, rounded as CPython's constructor rounds a float:
/// the whole seconds exactly, the fraction times 10**6 in floating point, its remainder rounded
/// half to even against the total.
pub fn timedelta_us(seconds: f64) -> Result<i64, NotPorted> {
    if !seconds.is_finite() || seconds.abs() >= 8.0e13 {
        return Err(NotPorted(format!("timedelta(seconds={seconds})")));
    }
    let whole = seconds.trunc();
    let frac = seconds - whole;
    let mut us = whole as i64 * 1_000_000;
    if frac == 0.0 {
        return Ok(us);
    }
    let scaled = frac * 1e6;
    let scaled_whole = scaled.trunc();
    us += scaled_whole as i64;
    let leftover = scaled - scaled_whole;
    if leftover != 0.0 {
        let mut rounded = leftover.round();
        if (rounded - leftover).abs() == 0.5 {
            let odd = (us & 1) as f64;
            rounded = 2.0 * ((leftover + odd) * 0.5).round() - odd;
        }
        us += rounded as i64;
    }
    Ok(us)
}

/// A time moved by `us` microseconds, refused where Python's datetime would overflow.
pub fn shifted(ts: Ts, us: i64) -> Result<Ts, NotPorted> {
    match ts.checked_add(us) {
        Some(t) if (0..=MAX_TS).contains(&t) => Ok(t),
        _ => Err(NotPorted("a time past datetime's range".into())),
    }
}

/// `timedelta.total_seconds()` of `us` microseconds.
pub fn total_seconds(us: i64) -> Result<f64, NotPorted> {
    if us.abs() >= EXACT_US {
        return Err(NotPorted("a time difference of centuries".into()));
    }
    Ok(us as f64 / 1e6)
}

/// phases.py's `secs`.
pub fn secs(us: i64) -> Result<f64, NotPorted> {
    Ok(round3(total_seconds(us)?))
}

/// The data a bar's event gives bar_span besides the bar: its times, end line, the time of the
/// line before it and tqdm's first elapsed.
#[derive(Clone, Debug)]
pub struct BarEv {
    pub ts: Option<Ts>,
    pub end_ts: Option<Ts>,
    pub end_line: u64,
    pub ts_before: Option<Ts>,
    pub first_elapsed_s: f64,
}

/// phases.py's `bar_span`.
pub fn bar_span(
    bar: &Bar,
    ev: &BarEv,
    ts_after: Option<Ts>,
) -> Result<(Option<Ts>, Option<Ts>), NotPorted> {
    let elapsed = timedelta_us(bar.elapsed_s)?;
    let end_reading = match ev.end_ts {
        Some(end) => Some((shifted(end, -elapsed)?, end)),
        None => None,
    };
    if let Some((start, end)) = end_reading {
        let fits = match ev.ts_before {
            None => true,
            Some(before) => start >= shifted(before, -PLACEMENT_SLACK_US)?,
        };
        if fits {
            return Ok((Some(start), Some(end)));
        }
    }
    if let Some(ts) = ev.ts {
        let start = shifted(ts, -timedelta_us(ev.first_elapsed_s)?)?;
        let stop = shifted(start, elapsed)?;
        let fits = match ts_after {
            None => true,
            Some(after) => stop <= shifted(after, PLACEMENT_SLACK_US)?,
        };
        if fits {
            return Ok((Some(start), Some(stop)));
        }
    }
    if let Some((start, end)) = end_reading {
        return Ok((Some(start), Some(end)));
    }
    // phases.py: no stamp of its own; after the line before it, or ending at that line's stamp
    // where the gap to the line after cannot hold it
    Ok(match ev.ts_before {
        Some(before) => {
            let stop = shifted(before, elapsed)?;
            let fits = match ts_after {
                None => true,
                Some(after) => stop <= shifted(after, PLACEMENT_SLACK_US)?,
            };
            if fits {
                (Some(before), Some(stop))
            } else {
                (Some(shifted(before, -elapsed)?), Some(before))
            }
        }
        None => (None, None),
    })
}

type Seg = (Ts, Ts, Phase);

/// phases.py's `paint_timed`: rule 1 from the activities, rule 2 from the bars. The bars it placed
/// are returned as (their index in `bars`, start, end), for the caller to write into the records.
#[allow(clippy::too_many_arguments)]
pub fn paint_timed(
    prompt: &mut Prompt,
    start: Ts,
    end: Ts,
    activities: &[Activity],
    bars: &BarRefs,
    settled: &SettledBars,
    unfinished: bool,
    loaded: bool,
    library_loaded: bool,
    library_loads: bool,
    hidden_bar: bool,
    before_log: bool,
) -> Result<Vec<(usize, Ts, Ts)>, NotPorted> {
    let end = if end < start { start } else { end };
    let mut segs: Vec<Seg> = Vec::new();
    let mut prev = start;
    // it began before the log's first line: no line shows what it did until then
    let unseen = match activities.first() {
        Some(first) if before_log => first.first_ts.min(end),
        _ => start,
    };
    if unseen > start {
        segs.push((start, unseen, Phase::Other));
        prev = unseen;
    }
    'acts: for act in activities {
        let (first, phase) = (act.first_ts, act.phase);
        let points: &[Ts] = if first == act.last_ts {
            &[first]
        } else {
            &[first, act.last_ts]
        };
        for &t in points {
            if t <= prev {
                continue;
            }
            let t2 = t.min(end);
            if phase == Phase::Wait {
                let w0 = prev.max(shifted(t2, -WS_TIMEOUT_US)?);
                if w0 > prev {
                    segs.push((prev, w0, Phase::Other));
                }
                segs.push((w0, t2, Phase::Wait));
            } else {
                segs.push((prev, t2, phase));
            }
            prev = t2;
            if prev >= end {
                break 'acts;
            }
        }
    }
    if prev < end {
        segs.push((prev, end, Phase::Other));
    }
    let mut placed = Vec::new();
    if !bars.is_empty() {
        segs = paint_bars(segs, start, end, activities, bars, unfinished, &mut placed)?;
    }
    let mut seconds = [0.0f64; 4];
    let mut spans: Vec<Span> = Vec::new();
    for (a, b, phase) in segs {
        if b <= a {
            continue;
        }
        seconds[usize::from(phase.index())] += total_seconds(b - a)?;
        match spans.last_mut() {
            Some(last) if last.phase == phase && last.end == a => last.end = b,
            _ => spans.push(Span {
                start: a,
                end: b,
                phase,
            }),
        }
    }
    let total = secs(end - start)?;
    prompt.total_s = Some(total);
    let mut phases = rounded(&seconds, total);
    let left = phases.other.map_or(0.0, Num::float);
    let mut why = if left >= UNTIMED_MIN_S {
        untimed_reasons(
            bars,
            settled,
            loaded,
            library_loaded,
            library_loads,
            true,
            prompt.status == "interrupted",
            hidden_bar,
            before_log,
        )
    } else {
        Why::new()
    };
    if total_seconds(unseen - start)? >= UNTIMED_MIN_S && left >= UNTIMED_MIN_S {
        set_default(&mut why, "load", "before_log");
    }
    for (name, _) in &why {
        match *name {
            "load" => phases.load = None,
            "inference" => phases.inference = None,
            _ => {}
        }
    }
    if let Some(&(_, first)) = why.first() {
        phases.other = None;
        why.push(("other", first));
    }
    prompt.phases = phases;
    prompt.not_timed = if why.is_empty() { None } else { Some(why) };
    prompt.spans = spans;
    prompt.estimated = false;
    Ok(placed)
}

/// Python's `bisect_right(items, x, key=key)`, step for step (the list need not be sorted).
fn bisect_right<T, K: PartialOrd>(items: &[T], x: &K, lo: usize, key: impl Fn(&T) -> K) -> usize {
    let (mut lo, mut hi) = (lo, items.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if *x < key(&items[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// phases.py's `_paint_bars`.
fn paint_bars(
    segs: Vec<Seg>,
    start: Ts,
    end: Ts,
    activities: &[Activity],
    bars: &BarRefs,
    unfinished: bool,
    placed: &mut Vec<(usize, Ts, Ts)>,
) -> Result<Vec<Seg>, NotPorted> {
    let mut overlays: Vec<Seg> = Vec::new();
    let last_index = bars.len() - 1;
    for (i, &(bar, ev)) in bars.iter().enumerate() {
        let k = bisect_right(activities, &ev.end_line, 0, |a| a.first_line);
        let ts_after = activities.get(k).map(|a| a.first_ts);
        let (Some(b0), Some(mut b1)) = bar_span(bar, ev, ts_after)? else {
            continue;
        };
        if unfinished && i == last_index && bar.done < bar.total {
            b1 = b1.max(end);
        }
        placed.push((i, b0, b1));
        overlays.push((b0, b1, bar.kind.phase()));
    }
    // other work, then loading, then sampling: it wins (a stable sort, as Python's)
    overlays.sort_by_key(|o| match o.2 {
        Phase::Other => 0,
        Phase::Load => 1,
        Phase::Inference => 2,
        Phase::Wait => 3, // no bar's phase
    });
    let clipped: Vec<Seg> = overlays
        .into_iter()
        .map(|(o0, o1, phase)| (o0.max(start), o1.min(end), phase))
        .filter(|&(o0, o1, _)| o1 > o0)
        .collect();
    Ok(overlaid(segs, &clipped))
}

/// phases.py's `_overlaid`: `segs` with each overlay painted over them in turn, a later one
/// winning, without copying the segments once per overlay: each piece between two consecutive
/// times goes to the last overlay over it (found last to first, skipping the pieces a later one
/// took), else to its segment; each run of pieces of one overlay or one segment is a segment.
fn overlaid(segs: Vec<Seg>, overlays: &[Seg]) -> Vec<Seg> {
    if overlays.is_empty() || segs.is_empty() {
        return segs;
    }
    let mut cuts: Vec<Ts> = Vec::with_capacity(segs.len() + 1 + 2 * overlays.len());
    cuts.extend(segs.iter().map(|s| s.0));
    cuts.push(segs[segs.len() - 1].1);
    for &(o0, o1, _) in overlays {
        cuts.push(o0);
        cuts.push(o1);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let pieces = cuts.len() - 1;
    // the overlay each piece shows (None: its segment)
    let mut painter: Vec<Option<usize>> = vec![None; pieces];
    // the first piece at or after each that no later overlay took (union-find, halved paths)
    let mut free: Vec<usize> = (0..=pieces).collect();
    for (j, &(o0, o1, _)) in overlays.iter().enumerate().rev() {
        let mut i = cuts.partition_point(|&t| t < o0);
        let stop = cuts.partition_point(|&t| t < o1);
        loop {
            while free[i] != i {
                free[i] = free[free[i]];
                i = free[i];
            }
            if i >= stop {
                break;
            }
            painter[i] = Some(j);
            free[i] = i + 1;
        }
    }
    let mut out: Vec<Seg> = Vec::new();
    let mut piece = 0;
    // one overlay (Ok) or one segment (Err)
    let mut run: Option<Result<usize, usize>> = None;
    for (k, &(_, b, phase)) in segs.iter().enumerate() {
        while piece < pieces && cuts[piece] < b {
            let key = painter[piece].ok_or(k);
            match out.last_mut() {
                Some(last) if run == Some(key) => last.1 = cuts[piece + 1],
                _ => {
                    let shown = painter[piece].map_or(phase, |j| overlays[j].2);
                    out.push((cuts[piece], cuts[piece + 1], shown));
                    run = Some(key);
                }
            }
            piece += 1;
        }
    }
    out
}

/// phases.py's `paint_estimated`. Python's `sum([])` is the int 0, and `min(0, total)` keeps it:
/// a phase with no bar stays an int (Num) as in Python, which the JSON shows as `0`.
#[allow(clippy::too_many_arguments)]
pub fn paint_estimated(
    prompt: &mut Prompt,
    bars: &BarRefs,
    settled: &SettledBars,
    loaded: bool,
    library_loaded: bool,
    library_loads: bool,
    hidden_bar: bool,
    before_log: bool,
) {
    let mut sampling: Vec<f64> = Vec::new();
    let mut loading: Vec<f64> = Vec::new();
    for (bar, _) in bars {
        if bar.is_sampling() {
            sampling.push(bar.elapsed_s);
        } else if bar.is_loading() {
            loading.push(bar.elapsed_s);
        }
    }
    // sum() goes on from the settled bars' sum, in the bars' order
    let mut inference = py_sum(settled.sampling_s, &sampling);
    let mut load_bars = py_sum(settled.loading_s, &loading);
    let mut wait = prompt.ws_timeouts as f64 * WS_TIMEOUT_S;
    let total = prompt.executed_s;
    if let Some(total) = total {
        inference = inference.min_float(total);
        load_bars = load_bars.min_float(total - inference.float());
        wait = py_min(wait, total - inference.float() - load_bars.float());
    }
    let mut why = if loaded {
        vec![("load", "no_clock")]
    } else {
        Why::new()
    };
    let interrupted = prompt.status == "interrupted";
    for (name, reason) in untimed_reasons(
        bars,
        settled,
        loaded,
        library_loaded,
        library_loads,
        false,
        interrupted,
        hidden_bar,
        before_log,
    ) {
        set_default(&mut why, name, reason);
    }
    let rest = total.map(|t| t - inference.float() - load_bars.float() - wait);
    if before_log && rest.is_none_or(|r| r >= UNTIMED_MIN_S) {
        set_default(&mut why, "load", "before_log");
    }
    if total.is_none() && prompt.status == "unfinished" {
        // the log ends inside it: a phase it drew no bar of may come after its last line (phases.py)
        if sampling.is_empty() && settled.sampling_s.is_none() {
            set_default(&mut why, "inference", "no_total");
        }
        if loading.is_empty() && settled.loading_s.is_none() {
            set_default(&mut why, "load", "no_total");
        }
    }
    let load = if has(&why, "load") {
        None
    } else {
        Some(load_bars)
    };
    let sampled = if has(&why, "inference") {
        None
    } else {
        Some(inference)
    };
    if total.is_none() {
        why.push(("other", "no_total"));
    } else if let Some(&(_, first)) = why.first() {
        why.push(("other", first));
    }
    let other = if has(&why, "other") {
        None
    } else {
        Some(py_max(
            0.0,
            total.unwrap_or(0.0) - inference.float() - load_bars.float() - wait,
        ))
    };
    prompt.total_s = total.map(round3);
    prompt.phases = Phases {
        load: load.map(Num::round3),
        inference: sampled.map(Num::round3),
        wait: Some(Num::Float(round3(wait))),
        other: other.map(|o| Num::Float(round3(o))),
    };
    prompt.not_timed = if why.is_empty() { None } else { Some(why) };
    prompt.estimated = true;
    prompt.spans = Vec::new();
}

/// Python's `sum()` of floats: the int 0 when empty, else 0 + each in order; from `start` (a sum
/// of earlier values) when given, as `sum(values, start)`.
fn py_sum(start: Option<f64>, values: &[f64]) -> Num {
    let mut iter = values.iter();
    let mut total = match start {
        Some(start) => start,
        None => {
            let Some(&first) = iter.next() else {
                return Num::Int(0);
            };
            0.0 + first // the int 0 plus a float: float(0) + x
        }
    };
    for &v in iter {
        total += v;
    }
    Num::Float(total)
}

/// phases.py's `_rounded`: the phases to ms, the rounding remainder in `other`.
fn rounded(seconds: &[f64; 4], total: f64) -> Phases {
    let load = round3(seconds[0]);
    let inference = round3(seconds[1]);
    let wait = round3(seconds[2]);
    let other = round3(total - load - inference - wait);
    Phases {
        load: Some(Num::Float(load)),
        inference: Some(Num::Float(inference)),
        wait: Some(Num::Float(wait)),
        other: Some(Num::Float(py_max(other, 0.0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::BarKind;

    /// What CPython 3.11 gives for `round(x, 3)`.
    #[test]
    fn round3_is_pythons_round() {
        for (x, want) in [
            (0.0625, 0.062),
            (0.0635, 0.064),
            (2.675, 2.675),
            (2.6745, 2.675),
            (1.0005, 1.0),
            (0.0005, 0.001),
            (-0.0004, -0.0),
            (123456.7895, 123456.789),
            (7.6190476190476195, 7.619),
        ] {
            let got = round3(x);
            assert_eq!(got.to_bits(), f64::to_bits(want), "round({x}, 3) = {got}");
        }
    }

    /// What CPython 3.11's `timedelta(seconds=x) // timedelta(microseconds=1)` gives.
    #[test]
    fn timedelta_rounds_as_cpython() {
        for (x, want) in [
            (7.6, 7_600_000),
            (0.0000005, 0),
            (0.0000015, 2),
            (0.0000025, 2),
            (1.0000005, 1_000_001),
            (-0.0000015, -2),
            (1234.567891, 1_234_567_891),
            (109.83, 109_830_000),
            (-109.83, -109_830_000),
        ] {
            assert_eq!(timedelta_us(x).unwrap(), want, "timedelta(seconds={x})");
        }
    }

    /// Comfy-Org/ComfyUI#12762's first sampling bar (295.83 s): no stamp of its own, after an empty line
    /// stamped 13:09:11.206, with the next stamp at 13:11:38.550 (times here in µs of the day).
    #[test]
    fn an_unstamped_bar_ends_at_the_stamp_before_it_when_the_gap_after_cannot_hold_it() {
        let at = |h: i64, m: i64, s: i64, us: i64| ((h * 60 + m) * 60 + s) * 1_000_000 + us;
        let bar = Bar {
            prompt: None,
            label: None,
            total: 3.0,
            done: 3.0,
            final_rate: Some(98.61),
            rate_unit: "s/it".into(),
            elapsed_s: 295.83,
            line: 9,
            end_line: 10,
            kind: BarKind::Sampling,
            source: 0,
            start: None,
            end: None,
        };
        let ev = BarEv {
            ts: None,
            end_ts: None,
            end_line: 10,
            ts_before: Some(at(13, 9, 11, 206_000)),
            first_elapsed_s: 0.0,
        };
        let (start, end) = bar_span(&bar, &ev, Some(at(13, 11, 38, 550_000))).unwrap();
        assert_eq!(end, Some(at(13, 9, 11, 206_000)));
        assert_eq!(start, Some(at(13, 4, 15, 376_000)));
        // with room after it, it starts at the line before
        let (start, end) = bar_span(&bar, &ev, Some(at(13, 20, 0, 0))).unwrap();
        assert_eq!(start, Some(at(13, 9, 11, 206_000)));
        assert_eq!(end, Some(at(13, 14, 7, 36_000)));
    }

    /// The painting `overlaid` replaced (issue 14): one overlay at a time, the segments copied each time.
    fn overlay_one_by_one(segs: Vec<Seg>, o0: Ts, o1: Ts, phase: Phase) -> Vec<Seg> {
        let first = bisect_right(&segs, &o0, 0, |s| s.1);
        let mut after = first;
        while after < segs.len() && segs[after].0 < o1 {
            after += 1;
        }
        let mut out: Vec<Seg> = segs[..first].to_vec();
        if first < after && segs[first].0 < o0 {
            out.push((segs[first].0, o0, segs[first].2));
        }
        out.push((o0, o1, phase));
        if first < after && segs[after - 1].1 > o1 {
            out.push((o1, segs[after - 1].1, segs[after - 1].2));
        }
        out.extend_from_slice(&segs[after..]);
        out
    }

    /// On random small prompts (times on a coarse grid, so that ends and starts meet), painting all the
    /// overlays at once gives the segments painting them one by one gave, so the same sums.
    #[test]
    fn overlaid_paints_as_one_overlay_at_a_time() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as i64
        };
        let phases = [Phase::Load, Phase::Inference, Phase::Wait, Phase::Other];
        for _ in 0..20_000 {
            let span = 1 + next(30);
            let mut cuts: Vec<Ts> = vec![0, span];
            for _ in 0..next(7) {
                cuts.push(next(span as u64 + 1));
            }
            cuts.sort_unstable();
            cuts.dedup();
            let mut segs: Vec<Seg> = cuts
                .windows(2)
                .map(|w| (w[0], w[1], phases[next(4) as usize]))
                .collect();
            if next(5) == 0 {
                segs.push((span, span, phases[next(4) as usize])); // rule 1's empty last segment
            }
            let mut overlays: Vec<Seg> = Vec::new();
            for _ in 0..next(9) + 1 {
                let a = next(span as u64);
                let b = a + 1 + next((span - a) as u64);
                overlays.push((a, b, phases[next(4) as usize]));
            }
            let mut want = segs.clone();
            for &(o0, o1, phase) in &overlays {
                want = overlay_one_by_one(want, o0, o1, phase);
            }
            want.retain(|s| s.1 > s.0);
            let mut got = overlaid(segs.clone(), &overlays);
            got.retain(|s| s.1 > s.0);
            assert_eq!(got, want, "{segs:?} painted {overlays:?}");
        }
    }

    #[test]
    fn python_max_and_min_keep_the_first_on_ties() {
        assert!(py_max(-0.0, 0.0).is_sign_negative());
        assert!(py_min(0.0, -0.0).is_sign_positive());
    }
}
