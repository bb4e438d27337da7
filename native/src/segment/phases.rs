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
    /// A sampling bar that stopped before its first step, and one that did a step.
    pub sampling_not_advanced: bool,
    pub sampling_advanced: bool,
    pub library_loader: bool,
}

impl SettledBars {
    pub fn add(&mut self, bar: &Bar) {
        if bar.is_sampling() {
            // `0 + x` first, as sum() starts from the int 0
            self.sampling_s = Some(self.sampling_s.unwrap_or(0.0) + bar.elapsed_s);
            self.sampling_not_advanced |= bar.done == 0.0 && 0.0 < bar.total;
            self.sampling_advanced |= bar.done > 0.0;
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
        && !(settled.sampling_advanced || bars.iter().any(|(b, _)| b.is_sampling() && b.done > 0.0))
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

pub use crate::pytext::round3;

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

/// An activity's points in time rule 1 paints up to: its first line, and its last when later.
fn points(act: &Activity) -> impl Iterator<Item = Ts> {
    std::iter::once(act.first_ts).chain((act.last_ts != act.first_ts).then_some(act.last_ts))
}

/// Rule 1's step, shared by painting a prompt whole and folding it as it runs: the time from
/// `prev` to `t` is the activity's phase, except that a wait is only its last WS_TIMEOUT_US (what
/// came before is other work). Returns how many segments it pushed.
fn paint_step(segs: &mut Vec<Seg>, prev: Ts, t: Ts, phase: Phase) -> Result<usize, NotPorted> {
    if phase != Phase::Wait {
        segs.push((prev, t, phase));
        return Ok(1);
    }
    let w0 = prev.max(shifted(t, -WS_TIMEOUT_US)?);
    let before = usize::from(w0 > prev);
    if w0 > prev {
        segs.push((prev, w0, Phase::Other));
    }
    segs.push((w0, t, Phase::Wait));
    Ok(before + 1)
}

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
    painted: Option<Painted>,
) -> Result<Vec<(usize, Ts, Ts)>, NotPorted> {
    let end = if end < start { start } else { end };
    let mut segs: Vec<Seg> = Vec::new();
    let mut prev = painted.as_ref().map_or(start, |p| p.seg_from);
    // it began before the log's first line: no line shows what it did until then
    let unseen = match activities.first() {
        Some(first) if before_log && painted.is_none() => first.first_ts.min(end),
        _ => start,
    };
    if unseen > start {
        segs.push((start, unseen, Phase::Other));
        prev = unseen;
    }
    'acts: for act in activities {
        for t in points(act) {
            if t <= prev {
                continue;
            }
            let t2 = t.min(end);
            paint_step(&mut segs, prev, t2, act.phase)?;
            prev = t2;
            if prev >= end {
                break 'acts;
            }
        }
    }
    if prev < end {
        segs.push((prev, end, Phase::Other));
    }
    let mut from = start;
    if let Some(painted) = &painted {
        // painted up to its cut already; after it no bar reaches back before it (paints_after)
        segs = segs
            .into_iter()
            .filter(|s| s.1 > painted.cut)
            .map(|(a, b, phase)| (a.max(painted.cut), b, phase))
            .collect();
        from = start.max(painted.cut);
    }
    let mut placed = Vec::new();
    if !bars.is_empty() {
        segs = paint_bars(segs, from, end, activities, bars, unfinished, &mut placed)?;
    }
    let (mut seconds, mut spans) = match painted {
        Some(painted) => (painted.seconds, painted.spans),
        None => ([0.0f64; 4], Vec::new()),
    };
    add_segs(&mut seconds, &mut spans, &segs)?;
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

/// phases.py's `_add_segs`: painted segments added, in order, to the phases' seconds and the spans.
fn add_segs(seconds: &mut [f64; 4], spans: &mut Vec<Span>, segs: &[Seg]) -> Result<(), NotPorted> {
    for &(a, b, phase) in segs {
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
    Ok(())
}

/// phases.py's `Painted`: a running prompt's seconds painted from `start` up to `cut` (`fold`).
#[derive(Clone, Debug, Default)]
pub struct Painted {
    pub start: Ts,
    pub cut: Ts,
    /// Where rule 1's segment going on past the cut begins.
    pub seg_from: Ts,
    /// The bars left to paint that `fold` placed (the first ones).
    pub placed: usize,
    pub seconds: [f64; 4],
    pub spans: Vec<Span>,
    /// The latest time of an activity it read: a prompt ending before it is painted all again.
    pub seen: Ts,
}

/// phases.py's FOLD_KEEP_S: how long before the last lines read `fold` paints up to.
pub const FOLD_KEEP_S: f64 = 10.0;

/// What `fold` painted: the leading bars no longer needed with their placement, and the count of
/// leading activities no longer needed.
pub struct Folded {
    pub gone: Vec<(Ts, Ts)>,
    pub dropped: usize,
}

/// The first activity after a bar's end line, as `_paint_bars` looks it up.
fn after_bar(activities: &[Activity], ev: &BarEv) -> usize {
    bisect_right(activities, &ev.end_line, 0, |a| a.first_line)
}

/// phases.py's `fold`: paint a running prompt's time up to a cut as `paint_timed` would once it
/// ends. `painted` is updated only when something more is painted (Some returned). `keep`:
/// `timedelta(seconds=FOLD_KEEP_S)`.
pub fn fold(
    painted: &mut Option<Painted>,
    start: Ts,
    activities: &[Activity],
    bars: &BarRefs,
    safe: usize,
    keep: i64,
) -> Result<Option<Folded>, NotPorted> {
    if bars.len() < 2 || safe == 0 {
        return Ok(None);
    }
    let (lo, seg_from, known) = match painted {
        None => (start, start, 0),
        Some(p) => (p.cut, p.seg_from, p.placed),
    };
    let mut placed: Vec<(Ts, Ts)> = Vec::new();
    for &(bar, ev) in &bars[..bars.len() - 1] {
        let k = after_bar(activities, ev);
        if k >= safe {
            break;
        }
        let (Some(b0), Some(b1)) = bar_span(bar, ev, Some(activities[k].first_ts))? else {
            return Ok(None); // a bar no reading places: not for this (settled ones come first)
        };
        placed.push((b0, b1));
    }
    if placed.len() < known
        || placed[known..]
            .iter()
            .any(|&(b0, b1)| b1 > b0.max(start) && b0.max(start) < lo)
    {
        return Ok(None); // it reaches back over what is painted: painted all again at the end
    }
    let mut bound = shifted(activities[safe - 1].last_ts, -keep)?;
    for &(bar, ev) in &bars[placed.len()..] {
        let k = after_bar(activities, ev);
        let (b0, _) = bar_span(bar, ev, activities.get(k).map(|a| a.first_ts))?;
        if let Some(b0) = b0 {
            bound = bound.min(shifted(b0, -keep)?);
        }
    }
    if bound <= lo {
        return Ok(None);
    }
    // rule 1 from the segment going on past the cut, each segment with where its step began
    let mut segs: Vec<Seg> = Vec::new();
    let mut steps: Vec<Ts> = Vec::new();
    let mut prev = seg_from;
    for act in &activities[..safe] {
        for t in points(act) {
            if t <= prev {
                continue;
            }
            let pushed = paint_step(&mut segs, prev, t, act.phase)?;
            steps.extend(std::iter::repeat_n(prev, pushed));
            prev = t;
        }
    }
    let skip = segs.partition_point(|s| s.1 <= lo);
    let window: Vec<Seg> = segs[skip..]
        .iter()
        .map(|&(a, b, phase)| (a.max(lo), b, phase))
        .collect();
    let steps = &steps[skip..];
    let mut overlays: Vec<Seg> = placed
        .iter()
        .zip(bars.iter())
        .map(|(&(b0, b1), (bar, _))| (b0.max(start).max(lo), b1, bar.kind.phase()))
        .filter(|&(o0, o1, _)| o1 > o0)
        .collect();
    overlays.sort_by_key(|o| paint_order(o.2));
    let out = overlaid(window.clone(), &overlays);
    let done = out.iter().take_while(|s| s.1 <= bound).count();
    if done == 0 {
        return Ok(None);
    }
    let cut = out[done - 1].1;
    let p = painted.get_or_insert_with(|| Painted {
        start,
        cut,
        seg_from: start,
        placed: 0,
        seconds: [0.0; 4],
        spans: Vec::new(),
        seen: prev,
    });
    add_segs(&mut p.seconds, &mut p.spans, &out[..done])?;
    p.cut = cut;
    p.seen = p.seen.max(prev);
    // the cut is a time of an activity where no segment goes on past it: the next step begins there
    p.seg_from = window
        .iter()
        .position(|s| s.1 > cut)
        .map_or(cut, |i| steps[i]);
    let mut gone = 0; // leading bars whose time is all painted
    while gone < placed.len() && placed[gone].1 <= placed[gone].0.max(start).max(cut) {
        gone += 1;
    }
    p.placed = placed.len() - gone;
    // the bars left look up the line after their end
    let last_needed = bars[gone..]
        .iter()
        .map(|(_, ev)| ev.end_line)
        .min()
        .expect("the last bar is left");
    let mut dropped = 0;
    while dropped < safe
        && activities[dropped].last_ts <= p.seg_from
        && activities[dropped].first_line <= last_needed
    {
        dropped += 1;
    }
    placed.truncate(gone);
    Ok(Some(Folded {
        gone: placed,
        dropped,
    }))
}

/// phases.py's `paints_after`: painting on from `painted` paints as painting it all would.
pub fn paints_after(
    painted: &Painted,
    start: Ts,
    end: Ts,
    activities: &[Activity],
    bars: &BarRefs,
    unfinished: bool,
) -> Result<bool, NotPorted> {
    if painted.start != start || end.max(start) < painted.seen {
        return Ok(false);
    }
    let end = end.max(start);
    let last_index = bars.len().wrapping_sub(1);
    for (i, &(bar, ev)) in bars.iter().enumerate().skip(painted.placed) {
        let k = after_bar(activities, ev);
        let (Some(b0), Some(mut b1)) = bar_span(bar, ev, activities.get(k).map(|a| a.first_ts))?
        else {
            continue;
        };
        if unfinished && i == last_index && bar.done < bar.total {
            b1 = b1.max(end);
        }
        let (o0, o1) = (b0.max(start), b1.min(end));
        if o1 > o0 && o0 < painted.cut {
            return Ok(false);
        }
    }
    Ok(true)
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

/// phases.py's `_PAINT_ORDER`: other work, then loading, then sampling: it wins.
fn paint_order(phase: Phase) -> u8 {
    match phase {
        Phase::Other => 0,
        Phase::Load => 1,
        Phase::Inference => 2,
        Phase::Wait => 3, // no bar's phase
    }
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
    overlays.sort_by_key(|o| paint_order(o.2));
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

    /// segmenter.py's `_fold_bars` and `_close_prompt` in small: a prompt's lines read one by one, its
    /// bars folded every few (phases::fold), then painted on from the cut (paints_after) or all again.
    /// Returns the prompt and every bar's placement, in order.
    #[allow(clippy::type_complexity)]
    fn folded_then_painted(
        acts: &[Activity],
        bars: &[(Bar, BarEv)],
        end: Ts,
        unfinished: bool,
        every: usize,
        tail: usize,
        keep: i64,
    ) -> (Prompt, Vec<(Option<Ts>, Option<Ts>)>, usize) {
        let start = acts[0].first_ts;
        let (mut held_acts, mut shelved_acts): (Vec<Activity>, Vec<Activity>) = (vec![], vec![]);
        let mut held: Vec<usize> = Vec::new();
        let mut placement: Vec<(Option<Ts>, Option<Ts>)> = vec![(None, None); bars.len()];
        let mut shelved = 0;
        let mut painted: Option<Painted> = None;
        let mut fold_at = 0;
        let mut folds = 0;
        let mut next_bar = 0;
        for act in acts {
            held_acts.push(act.clone());
            while next_bar < bars.len() && bars[next_bar].0.line == act.first_line {
                held.push(next_bar);
                next_bar += 1;
                if held.len() < every.max(fold_at) {
                    continue;
                }
                fold_at = 2 * held.len();
                if held_acts.len() <= tail + 1 {
                    continue;
                }
                let refs: Vec<(&Bar, &BarEv)> =
                    held.iter().map(|&i| (&bars[i].0, &bars[i].1)).collect();
                let safe = held_acts.len() - tail - 1;
                if let Some(Folded { gone, dropped }) =
                    fold(&mut painted, start, &held_acts, &refs, safe, keep).unwrap()
                {
                    folds += 1;
                    for (&i, (b0, b1)) in held.iter().zip(&gone) {
                        placement[i] = (Some(*b0), Some(*b1));
                    }
                    shelved += gone.len();
                    held.drain(..gone.len());
                    shelved_acts.extend(held_acts.drain(..dropped));
                    if !gone.is_empty() {
                        fold_at = 4 * held.len() + every;
                    }
                }
            }
        }
        let mut prompt = Prompt::new(0, 0, Some(start), 1, 0);
        let refs: Vec<(&Bar, &BarEv)> = held.iter().map(|&i| (&bars[i].0, &bars[i].1)).collect();
        let fast = painted
            .as_ref()
            .is_some_and(|p| paints_after(p, start, end, &held_acts, &refs, unfinished).unwrap());
        let settled = SettledBars::default();
        // on from the last cut, or everything again from the start (shelved bars and activities first)
        let (acts, idx, from) = if fast || painted.is_none() {
            (held_acts, held, painted)
        } else {
            placement.iter_mut().for_each(|p| *p = (None, None));
            let all_acts: Vec<Activity> = shelved_acts.iter().chain(&held_acts).cloned().collect();
            let all: Vec<usize> = (0..shelved).chain(held.iter().copied()).collect();
            (all_acts, all, None)
        };
        let refs: Vec<(&Bar, &BarEv)> = idx.iter().map(|&i| (&bars[i].0, &bars[i].1)).collect();
        let placed = paint_timed(
            &mut prompt,
            start,
            end,
            &acts,
            &refs,
            &settled,
            unfinished,
            false,
            false,
            false,
            false,
            false,
            from,
        )
        .unwrap();
        for (i, b0, b1) in placed {
            placement[idx[i]] = (Some(b0), Some(b1));
        }
        (prompt, placement, folds)
    }

    /// Folding a prompt's bars as they come paints it as painting them all at its end does, to the
    /// last float of its phases, span and bar placement (segmenter.py's twin is tested with hypothesis
    /// in tests/test_native_segmenter.py against both segmenters).
    #[test]
    fn folding_bars_as_they_come_paints_as_painting_them_at_the_end() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let phases = [Phase::Load, Phase::Inference, Phase::Wait, Phase::Other];
        let kinds = [BarKind::Sampling, BarKind::Loading, BarKind::Other];
        let mut folds = 0;
        for _ in 0..20_000 {
            let mut ts: Ts = 1_000_000_000_000;
            let (mut acts, mut bars) = (Vec::new(), Vec::new());
            for line in 1..=(2 + next(60)) {
                ts += [0, 1_000, 10_000, 400_000, 1_500_000, 12_000_000][next(6) as usize];
                let last = ts + [0, 0, 0, 700_000][next(4) as usize];
                acts.push(Activity {
                    phase: phases[next(4) as usize],
                    first_ts: ts,
                    last_ts: last,
                    first_line: line,
                    last_line: line,
                    resolution: 0.0,
                });
                if line > 1 && next(3) > 0 {
                    let elapsed = [0.0, 0.0, 0.25, 1.0, 3.0, 9.0][next(6) as usize];
                    let total = 1.0 + next(5) as f64;
                    let bar = Bar {
                        prompt: Some(0),
                        label: None,
                        total,
                        done: if next(4) == 0 {
                            next(total as u64) as f64
                        } else {
                            total
                        },
                        final_rate: None,
                        rate_unit: "it/s".into(),
                        elapsed_s: elapsed,
                        line,
                        end_line: line,
                        kind: kinds[next(3) as usize],
                        source: 0,
                        start: None,
                        end: None,
                    };
                    let stamped = next(8) > 0;
                    let ev = BarEv {
                        ts: stamped.then_some(ts),
                        end_ts: stamped.then_some(last),
                        end_line: line,
                        ts_before: Some(acts[acts.len() - 2].last_ts),
                        first_elapsed_s: 0.0,
                    };
                    bars.push((bar, ev));
                }
                ts = last;
            }
            let end = ts + [0, 1_000_000, -2_000_000, -30_000_000][next(4) as usize];
            let unfinished = next(3) == 0;
            let (every, tail) = (2 + next(4) as usize, next(4) as usize);
            let keep = [0, 1_000_000, 10_000_000][next(3) as usize];
            let (want, want_placed, _) =
                folded_then_painted(&acts, &bars, end, unfinished, usize::MAX, tail, keep);
            let (got, got_placed, folded) =
                folded_then_painted(&acts, &bars, end, unfinished, every, tail, keep);
            folds += folded;
            assert_eq!(
                format!(
                    "{:?} {:?} {:?} {:?}",
                    got.phases, got.spans, got.total_s, got.not_timed
                ),
                format!(
                    "{:?} {:?} {:?} {:?}",
                    want.phases, want.spans, want.total_s, want.not_timed
                ),
            );
            assert_eq!(got_placed, want_placed);
        }
        assert!(folds > 5_000, "{folds} folds");
    }

    #[test]
    fn python_max_and_min_keep_the_first_on_ties() {
        assert!(py_max(-0.0, 0.0).is_sign_negative());
        assert!(py_min(0.0, -0.0).is_sign_positive());
    }
}
