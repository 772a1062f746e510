//! The log line writer: `catchd[PID]: level: message` on stderr, one event
//! per line (SPEC §1.5). `--name` replaces "catchd"; `-q` keeps errors only,
//! `-v` adds debug lines (every scan and signal).
//!
//! Never the weak link (SPEC §1.1.9): a line is written without blocking
//! (see `outfd.rs`); when stderr is full, lines wait in a bounded queue
//! that the run loop flushes when stderr is writable again, and beyond
//! that they are dropped and counted, the count logged once writing works
//! again. EPIPE (nobody will ever read) silences logging and does nothing
//! else. Control characters in a message are escaped, so names read from
//! /proc can neither split a line nor reach the terminal raw.
//!
//! Owns: the prefix, the level filter, escaping, the queue. Must not decide
//! what is worth logging: callers do.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::{Mutex, OnceLock};

use crate::outfd::Out;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

struct Logger {
    prefix: String,
    max: Level,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// At most this many bytes of lines wait for a stalled stderr.
const QUEUE_MAX: usize = 64 * 1024;

struct Sink {
    out: Out,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    dropped: u64,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Set the name and level once, before anything is logged.
pub fn init(name: &str, max: Level) {
    let _ = LOGGER.set(Logger {
        prefix: format!("{name}[{}]", std::process::id()),
        max,
    });
    with_sink(|_| {});
}

pub fn enabled(level: Level) -> bool {
    level <= LOGGER.get().map_or(Level::Info, |l| l.max)
}

fn prefix() -> &'static str {
    LOGGER.get().map_or("catchd", |l| l.prefix.as_str())
}

/// Write one line, escaped; never blocks.
pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let text = crate::escape::bytes(message.to_string().as_bytes());
    let line = format!("{}: {}: {text}\n", prefix(), level.word());
    with_sink(|sink| sink.push(line.into_bytes()));
}

/// stderr, while lines wait for it: the run loop polls it for POLLOUT
/// (only then, so that an idle catchd never wakes up).
pub fn waiting_fd() -> Option<BorrowedFd<'static>> {
    let raw: Option<RawFd> = with_sink(|s| s.queue.front().and(s.out.raw())).flatten();
    // SAFETY: the descriptor belongs to the static sink, which lives as
    // long as the process and never closes it.
    raw.map(|fd| unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Write what waits, as far as stderr takes it now.
pub fn flush() {
    with_sink(Sink::flush);
}

fn with_sink<T>(f: impl FnOnce(&mut Sink) -> T) -> Option<T> {
    // A poisoned lock only means a panic mid-line: the sink is still usable.
    let mut guard = SINK.lock().unwrap_or_else(|p| p.into_inner());
    let sink = guard.get_or_insert_with(|| Sink {
        out: Out::open(2),
        queue: VecDeque::new(),
        queued: 0,
        dropped: 0,
    });
    Some(f(sink))
}

impl Sink {
    fn push(&mut self, line: Vec<u8>) {
        if matches!(self.out, Out::Off) {
            return;
        }
        self.flush();
        if self.queue.is_empty() && self.dropped == 0 {
            match self.write_some(&line) {
                Some(0) => {}
                Some(n) => self.enqueue(line[line.len() - n..].to_vec()),
                None => {}
            }
        } else {
            self.enqueue(line);
        }
    }

    fn enqueue(&mut self, bytes: Vec<u8>) {
        if self.queued + bytes.len() > QUEUE_MAX {
            self.dropped += 1;
        } else {
            self.queued += bytes.len();
            self.queue.push_back(bytes);
        }
    }

    /// Write `bytes`; `Some(left)` is how many did not go out (0: all
    /// did), `None` that they are lost (stderr failed for good).
    fn write_some(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut done = 0;
        while done < bytes.len() {
            match self.out.write(&bytes[done..]) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    // Nobody will ever read: stop logging, nothing else.
                    self.out = Out::Off;
                    self.queue.clear();
                    self.queued = 0;
                    return None;
                }
                Err(_) => return None,
            }
        }
        Some(bytes.len() - done)
    }

    fn flush(&mut self) {
        loop {
            let Some(front) = self.queue.pop_front() else {
                if self.dropped == 0 {
                    return;
                }
                // Writing works again: say what was lost, first.
                let line = format!(
                    "{}: warning: {} log lines dropped: stderr is not being read\n",
                    prefix(),
                    self.dropped
                );
                self.dropped = 0;
                self.queued += line.len();
                self.queue.push_back(line.into_bytes());
                continue;
            };
            self.queued -= front.len();
            match self.write_some(&front) {
                Some(0) => {}
                Some(left) => {
                    let rest = front[front.len() - left..].to_vec();
                    self.queued += rest.len();
                    self.queue.push_front(rest);
                    return;
                }
                None => {
                    if matches!(self.out, Out::Off) {
                        return;
                    }
                }
            }
        }
    }
}

#[macro_export]
macro_rules! error {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Error) {
            $crate::log::write($crate::log::Level::Error, format_args!($($t)*))
        }
    };
}
#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Warn) {
            $crate::log::write($crate::log::Level::Warn, format_args!($($t)*))
        }
    };
}
#[macro_export]
macro_rules! info {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Info) {
            $crate::log::write($crate::log::Level::Info, format_args!($($t)*))
        }
    };
}
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => {
        // The arguments are evaluated only when the line will be written.
        if $crate::log::enabled($crate::log::Level::Debug) {
            $crate::log::write($crate::log::Level::Debug, format_args!($($t)*))
        }
    };
}
