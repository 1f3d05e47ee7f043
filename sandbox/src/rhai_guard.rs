//! Size-checked, work-charged replacements for the Rhai builtins whose cost is not one operation.
//!
//! Rhai checks the size limits on a function's *result*, after the function ran: `s.replace("x", s)`
//! on a 100,000-character string builds a 10 GB string first, and the process aborts before any
//! check. Rhai also counts a builtin call as one operation however many bytes it reads, so a loop of
//! `s.index_of(t)` on megabyte strings stays within the operation limit for hours.
//!
//! The functions below replace those builtins (registered on the engine's global namespace, which
//! Rhai searches before every package, so they take precedence; a test checks it). Each one
//! computes the size of its result — counting nested strings, map keys and entries — *before*
//! allocating, and fails with the sandbox's limit error when it would exceed a limit; each charges
//! the bytes it reads or writes to the per-execution work budget ([`Limits::max_work_bytes`]).
//! Their results are those of the builtins they replace.
//!
//! The budget and the wall-clock deadline live in a thread-local installed for one execution,
//! because Rhai's native functions have no per-execution context and one engine serves every thread.

use crate::limits::{Limit, Limits};
use rhai::{Array, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Map, Position};
use std::cell::Cell;
use std::time::Instant;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The per-execution budget of native work, and the wall-clock deadline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    used: u64,
    max: u64,
    deadline: Option<Instant>,
}

impl Budget {
    pub(crate) fn new(limits: &Limits, start: Instant) -> Self {
        Budget {
            used: 0,
            max: limits.max_work_bytes,
            deadline: start.checked_add(limits.max_wall_time),
        }
    }
}

thread_local! {
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// Installs `budget` for the execution running on this thread; returns the previous one.
pub(crate) fn install(budget: Option<Budget>) -> Option<Budget> {
    BUDGET.with(|b| b.replace(budget))
}

/// The error that ends a script at a limit checked by the sandbox (not by Rhai). Rhai never lets a
/// script catch `ErrorTerminated`; the token names the limit (see `rhai_host::map_error`).
pub(crate) fn terminated(limit: Limit) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(Dynamic::from(limit.as_str()), Position::NONE).into()
}

/// Charges `bytes` of native work; fails once the budget is spent.
pub(crate) fn charge(bytes: usize) -> RhaiResult<()> {
    BUDGET.with(|b| {
        let Some(mut budget) = b.get() else {
            return Ok(());
        };
        budget.used = budget.used.saturating_add(bytes as u64);
        b.set(Some(budget));
        if budget.used > budget.max {
            return Err(terminated(Limit::Work));
        }
        Ok(())
    })
}

/// Whether the running execution is past its wall-clock deadline.
pub(crate) fn past_deadline() -> bool {
    BUDGET.with(|b| {
        b.get()
            .and_then(|b| b.deadline)
            .is_some_and(|d| Instant::now() >= d)
    })
}

fn too_large(what: &str) -> Box<EvalAltResult> {
    EvalAltResult::ErrorDataTooLarge(what.to_string(), Position::NONE).into()
}

/// What a value holds, counted as Rhai's size limits count it, plus the bytes it occupies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Size {
    /// Array elements, nested arrays included.
    pub arrays: usize,
    /// Map entries, nested maps included.
    pub maps: usize,
    /// String bytes, nested strings included (map keys excluded, as Rhai counts them).
    pub strings: usize,
    /// An estimate of the memory the value occupies: every string and map key, plus one `Dynamic`
    /// per element or entry.
    pub bytes: usize,
}

const SLOT: usize = std::mem::size_of::<Dynamic>();

impl Size {
    pub(crate) fn of(value: &Dynamic) -> Size {
        let mut s = Size::default();
        s.add(value);
        s
    }

    fn add(&mut self, v: &Dynamic) {
        if let Some(a) = v.read_lock::<Array>() {
            self.arrays = self.arrays.saturating_add(a.len());
            self.bytes = self.bytes.saturating_add(a.len().saturating_mul(SLOT));
            for item in a.iter() {
                self.add(item);
            }
        } else if let Some(m) = v.read_lock::<Map>() {
            self.maps = self.maps.saturating_add(m.len());
            for (k, item) in m.iter() {
                self.bytes = self.bytes.saturating_add(k.len() + 2 * SLOT);
                self.add(item);
            }
        } else if let Some(s) = v.read_lock::<ImmutableString>() {
            self.strings = self.strings.saturating_add(s.len());
            self.bytes = self.bytes.saturating_add(s.len());
        }
    }

    fn times(self, n: usize) -> Size {
        Size {
            arrays: self.arrays.saturating_mul(n),
            maps: self.maps.saturating_mul(n),
            strings: self.strings.saturating_mul(n),
            bytes: self.bytes.saturating_mul(n),
        }
    }

    fn plus(self, o: Size) -> Size {
        Size {
            arrays: self.arrays.saturating_add(o.arrays),
            maps: self.maps.saturating_add(o.maps),
            strings: self.strings.saturating_add(o.strings),
            bytes: self.bytes.saturating_add(o.bytes),
        }
    }
}

/// The limits a result is checked against before it is built.
#[derive(Clone, Copy, Debug)]
struct Caps {
    string: usize,
    array: usize,
    map: usize,
    memory: usize,
}

impl Caps {
    fn check(&self, s: Size) -> RhaiResult<()> {
        if s.arrays > self.array {
            return Err(too_large("Size of array"));
        }
        if s.maps > self.map {
            return Err(too_large("Size of object map"));
        }
        if s.strings > self.string {
            return Err(too_large("Length of string"));
        }
        if s.bytes > self.memory {
            return Err(terminated(Limit::Memory));
        }
        Ok(())
    }

    fn check_string(&self, bytes: usize) -> RhaiResult<()> {
        if bytes > self.string {
            return Err(too_large("Length of string"));
        }
        Ok(())
    }
}

/// The byte offset where a search from character `start` begins, as Rhai's `index_of` computes it
/// (negative counts from the end); `None` when the search finds nothing by definition.
fn search_start(string: &str, start: INT) -> Option<usize> {
    if start < 0 {
        let back = usize::try_from(start.unsigned_abs()).ok()?;
        let n = string.chars().count();
        if back > n {
            return Some(0);
        }
        Some(char_offset(string, n - back))
    } else if start == 0 {
        Some(0)
    } else {
        let start = usize::try_from(start).ok()?;
        if start >= string.chars().count() {
            return None;
        }
        Some(char_offset(string, start))
    }
}

/// The byte offset of character `n` (or the end).
fn char_offset(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

fn char_index(string: &str, byte: usize) -> INT {
    INT::try_from(string[..byte].chars().count()).unwrap_or(-1)
}

fn index_of(string: &str, start: INT, find: impl Fn(&str) -> Option<usize>) -> RhaiResult<INT> {
    charge(string.len())?;
    if string.is_empty() {
        return Ok(-1);
    }
    let Some(from) = search_start(string, start) else {
        return Ok(-1);
    };
    Ok(find(&string[from..]).map_or(-1, |i| char_index(string, from + i)))
}

/// `string.replace(find, substitute)`: the result length is known before anything is built.
fn replace(
    caps: Caps,
    string: &mut ImmutableString,
    find: &str,
    substitute: &str,
) -> RhaiResult<()> {
    charge(string.len())?;
    let count = string.matches(find).count();
    if count == 0 || string.is_empty() {
        return Ok(());
    }
    let len =
        (string.len() - count * find.len()).saturating_add(count.saturating_mul(substitute.len()));
    caps.check_string(len)?;
    charge(len)?;
    *string = string.replace(find, substitute).into();
    Ok(())
}

/// `string.pad(len, padding)`, in characters. An empty padding leaves the string as it is (Rhai's
/// own version loops forever on it).
fn pad_string(caps: Caps, string: &mut ImmutableString, len: INT, padding: &str) -> RhaiResult<()> {
    if len <= 0 || padding.is_empty() {
        return Ok(());
    }
    let Ok(len) = usize::try_from(len) else {
        return Err(too_large("Length of string"));
    };
    caps.check_string(len)?;
    charge(string.len())?;
    let have = string.chars().count();
    if len <= have {
        return Ok(());
    }
    let missing = len - have;
    let unit = padding.chars().count();
    let whole = missing / unit;
    let tail: String = padding.chars().take(missing % unit).collect();
    let bytes = string.len() + whole.saturating_mul(padding.len()) + tail.len();
    caps.check_string(bytes)?;
    charge(bytes)?;
    let mut out = String::with_capacity(bytes);
    out.push_str(string);
    for _ in 0..whole {
        out.push_str(padding);
    }
    out.push_str(&tail);
    *string = out.into();
    Ok(())
}

/// `array.pad(len, item)`: every copy of `item` is a deep clone, so its whole size (map keys
/// included) counts `len - array.len()` times.
fn pad_array(caps: Caps, array: &mut Array, len: INT, item: Dynamic) -> RhaiResult<()> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(());
    };
    if len <= array.len() {
        return Ok(());
    }
    if len > caps.array {
        return Err(too_large("Size of array"));
    }
    let copies = len - array.len();
    let mut have = Size::default();
    for x in array.iter() {
        have.add(x);
    }
    let one = Size::of(&item);
    charge(have.bytes.saturating_add(one.bytes))?;
    let total = have.plus(Size {
        arrays: copies,
        bytes: copies.saturating_mul(SLOT),
        ..Size::default()
    });
    let total = total.plus(one.times(copies));
    caps.check(total)?;
    charge(one.bytes.saturating_mul(copies))?;
    array.resize(len, item);
    Ok(())
}

/// `string.split(delimiter)`: the number of pieces is checked against the array limit first.
fn split(caps: Caps, string: &str, delimiter: &str, segments: Option<INT>) -> RhaiResult<Array> {
    charge(string.len())?;
    if string.is_empty()
        || (!delimiter.is_empty() && !string.contains(delimiter))
        || segments.is_some_and(|n| n <= 1)
    {
        return Ok(vec![ImmutableString::from(string).into()]);
    }
    let limit = segments.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let pieces = string
        .matches(delimiter)
        .count()
        .saturating_add(1)
        .min(limit);
    if pieces > caps.array {
        return Err(too_large("Size of array"));
    }
    charge(pieces.saturating_mul(SLOT))?;
    Ok(string
        .splitn(limit, delimiter)
        .map(|p| ImmutableString::from(p).into())
        .collect())
}

fn to_upper(s: &str) -> RhaiResult<ImmutableString> {
    charge(s.len().saturating_mul(2))?;
    Ok(s.to_uppercase().into())
}

fn to_lower(s: &str) -> RhaiResult<ImmutableString> {
    charge(s.len().saturating_mul(2))?;
    Ok(s.to_lowercase().into())
}

/// `string.sub_string(start, len)`, in characters, as Rhai computes it.
fn sub_string(string: &str, start: INT, len: INT) -> RhaiResult<ImmutableString> {
    charge(string.len())?;
    if string.is_empty() || len <= 0 {
        return Ok(ImmutableString::new());
    }
    let n = string.chars().count();
    let offset = if start < 0 {
        match usize::try_from(start.unsigned_abs()) {
            Ok(back) => n.saturating_sub(back),
            Err(_) => return Ok(ImmutableString::new()),
        }
    } else {
        match usize::try_from(start) {
            Ok(s) if s < n => s,
            _ => return Ok(ImmutableString::new()),
        }
    };
    let take = usize::try_from(len)
        .ok()
        .filter(|l| l.checked_add(offset).is_some_and(|e| e <= n))
        .unwrap_or(n - offset);
    Ok(string
        .chars()
        .skip(offset)
        .take(take)
        .collect::<String>()
        .into())
}

/// Registers the replacements on the engine's global namespace.
pub(crate) fn register(engine: &mut Engine, limits: &Limits) {
    let caps = Caps {
        string: limits.max_string_bytes.max(1),
        array: limits.max_array_len.max(1),
        map: limits.max_map_len.max(1),
        memory: limits.max_memory_bytes,
    };
    engine
        .register_fn(
            "replace",
            move |s: &mut ImmutableString, f: &str, r: &str| replace(caps, s, f, r),
        )
        .register_fn(
            "replace",
            move |s: &mut ImmutableString, f: &str, r: char| {
                replace(caps, s, f, r.encode_utf8(&mut [0; 4]))
            },
        )
        .register_fn(
            "replace",
            move |s: &mut ImmutableString, f: char, r: &str| {
                replace(caps, s, f.encode_utf8(&mut [0; 4]), r)
            },
        )
        .register_fn(
            "replace",
            move |s: &mut ImmutableString, f: char, r: char| {
                replace(
                    caps,
                    s,
                    f.encode_utf8(&mut [0; 4]),
                    r.encode_utf8(&mut [0; 4]),
                )
            },
        )
        .register_fn("pad", move |s: &mut ImmutableString, len: INT, p: &str| {
            pad_string(caps, s, len, p)
        })
        .register_fn("pad", move |s: &mut ImmutableString, len: INT, p: char| {
            pad_string(caps, s, len, p.encode_utf8(&mut [0; 4]))
        })
        .register_fn("pad", move |a: &mut Array, len: INT, item: Dynamic| {
            pad_array(caps, a, len, item)
        })
        .register_fn("index_of", |s: &str, f: &str| index_of(s, 0, |h| h.find(f)))
        .register_fn("index_of", |s: &str, f: &str, start: INT| {
            index_of(s, start, |h| h.find(f))
        })
        .register_fn("index_of", |s: &str, c: char| index_of(s, 0, |h| h.find(c)))
        .register_fn("index_of", |s: &str, c: char, start: INT| {
            index_of(s, start, |h| h.find(c))
        })
        .register_fn("contains", |s: &str, f: &str| -> RhaiResult<bool> {
            charge(s.len())?;
            Ok(s.contains(f))
        })
        .register_fn("contains", |s: &str, c: char| -> RhaiResult<bool> {
            charge(s.len())?;
            Ok(s.contains(c))
        })
        .register_fn("to_upper", |s: &str| to_upper(s))
        .register_fn("to_lower", |s: &str| to_lower(s))
        .register_fn("make_upper", |s: &mut ImmutableString| -> RhaiResult<()> {
            *s = to_upper(s)?;
            Ok(())
        })
        .register_fn("make_lower", |s: &mut ImmutableString| -> RhaiResult<()> {
            *s = to_lower(s)?;
            Ok(())
        })
        .register_fn("sub_string", |s: &str, start: INT, len: INT| {
            sub_string(s, start, len)
        })
        .register_fn("sub_string", |s: &str, start: INT| {
            sub_string(s, start, INT::MAX)
        })
        .register_fn("split", move |s: &mut ImmutableString, d: &str| {
            split(caps, s, d, None)
        })
        .register_fn("split", move |s: &mut ImmutableString, d: &str, n: INT| {
            split(caps, s, d, Some(n))
        })
        .register_fn("split", move |s: &mut ImmutableString, d: char| {
            split(caps, s, d.encode_utf8(&mut [0; 4]), None)
        })
        .register_fn("split", move |s: &mut ImmutableString, d: char, n: INT| {
            split(caps, s, d.encode_utf8(&mut [0; 4]), Some(n))
        })
        .register_fn("len", |s: &str| -> RhaiResult<INT> {
            charge(s.len())?;
            Ok(INT::try_from(s.chars().count()).unwrap_or(INT::MAX))
        });
}
