//! A small team of helper threads for the CPU kernels' parallel loops: the
//! calling thread runs tasks itself while helpers, which spin briefly
//! between jobs before they sleep, take the rest.
//!
//! Why not rayon's pool directly: a parallel loop started from a thread
//! outside rayon's pool (the user's `main`, so every training step) is
//! injected into the pool while the caller blocks on a latch, so each gemm
//! of a training step costs the caller a sleep and a wake-up, and rayon's
//! workers sleep between the short gaps of a step. At batch 64 those hand-offs
//! were a fifth of an MLP step's time on 2 threads (`perf`: `__schedule`,
//! `finish_task_switch`, `sched_yield`). Here the caller works, a helper is
//! usually already spinning when the next loop starts, and nothing blocks.
//!
//! The number of threads follows rayon's: [`run`] uses at most
//! `rayon::current_num_threads()` threads (the caller and that many helpers
//! less one), so `RAYON_NUM_THREADS`, a global pool built with `num_threads`
//! or `ThreadPool::install` set it as before. Callers make every task's
//! result independent of which thread runs it, so results never depend on
//! the thread count.
//!
//! Which thread runs which task: the tasks are cut into one contiguous
//! range per thread (the caller's first, then each helper's in the order
//! they joined), and each thread works through its own range before it
//! takes what is left of the others'. So a loop of the same shape gives a
//! thread the same part of the data step after step (a gemm's columns, a
//! parameter's pieces), which then stays in that core's caches: when the
//! host places the two vCPUs far apart (a cache line's round trip between
//! them measured 340 ns instead of 55-130), claiming tasks first come,
//! first served moved most of an MLP training step's data between the
//! cores at every step, and halved its speed. A late helper still only
//! delays its range: the others take it.
//!
//! One loop runs on the team at a time: a loop started while the team is busy
//! (another thread's, or one nested inside a task) runs on its caller alone.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle helper spins, waiting for the next loop, before it
/// sleeps: longer than the serial gaps of a training step (elementwise ops
/// between two products), short enough that an idle program soon stops
/// using the CPU.
const SPIN: Duration = Duration::from_micros(300);

/// Runs `f(0)`, ..., `f(tasks - 1)`, each exactly once, on the calling
/// thread and up to `rayon::current_num_threads() - 1` helpers, and returns
/// when all have finished. A panic in a task is raised again here, after
/// every other task has finished.
pub(crate) fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let threads = rayon::current_num_threads().min(tasks);
    let job = Job::new(f, tasks, threads);
    // The team when there is work for two threads and no other loop holds
    // it; else every task on this thread. Either way through `Job::work`,
    // so a panicking task is raised only after the others have run.
    let team = (threads > 1)
        .then(team)
        .and_then(|team| match team.busy.try_lock() {
            Ok(guard) => Some((team, guard)),
            Err(TryLockError::Poisoned(poisoned)) => Some((team, poisoned.into_inner())),
            Err(TryLockError::WouldBlock) => None,
        });
    match team {
        Some((team, busy)) => {
            team.hire(threads - 1);
            team.publish(&job, threads - 1);
            job.work(0);
            team.close_and_wait();
            drop(busy);
        }
        None => job.work(0),
    }
    if let Some(payload) = job.panic.into_inner().unwrap_or_else(|e| e.into_inner()) {
        resume_unwind(payload);
    }
}

/// Calls `f(i, chunk)` for every chunk of `a` (`chunk` elements each, the
/// last one shorter), chunks on the team (see [`run`]).
pub(crate) fn each_chunk_mut<A: Send>(
    a: &mut [A],
    chunk: usize,
    f: impl Fn(usize, &mut [A]) + Sync,
) {
    let a = Split::new(a, chunk);
    // SAFETY: `run` calls each task index once, so chunk `i` is borrowed once.
    run(a.count, &|i| f(i, unsafe { a.chunk(i) }));
}

/// Calls `f(i, a_chunk, b_chunk)` for the chunks of `a` and `b` of the same
/// index (as many as the shorter split has), chunks on the team.
pub(crate) fn each_chunk_mut2<A: Send, B: Send>(
    a: &mut [A],
    a_chunk: usize,
    b: &mut [B],
    b_chunk: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    let (a, b) = (Split::new(a, a_chunk), Split::new(b, b_chunk));
    // SAFETY: `run` calls each task index once, so each chunk is borrowed once.
    run(a.count.min(b.count), &|i| {
        f(i, unsafe { a.chunk(i) }, unsafe { b.chunk(i) })
    });
}

/// Calls `f(item)` for every item, items on the team.
pub(crate) fn each_owned<T: Send>(items: Vec<T>, f: impl Fn(T) + Sync) {
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    each_chunk_mut(&mut slots, 1, |_, slot| {
        if let Some(item) = slot[0].take() {
            f(item)
        }
    });
}

/// `f(0), ..., f(n - 1)` computed on the team, in index order.
pub(crate) fn map<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let mut slots: Vec<Option<R>> = (0..n).map(|_| None).collect();
    each_chunk_mut(&mut slots, 1, |i, slot| slot[0] = Some(f(i)));
    slots
        .into_iter()
        .map(|r| r.expect("every task ran"))
        .collect()
}

/// Chunk `i` of `s` split into runs of `chunk` elements (the last shorter).
pub(crate) fn chunk<T>(s: &[T], chunk: usize, i: usize) -> &[T] {
    let chunk = chunk.max(1);
    &s[(i * chunk).min(s.len())..((i + 1) * chunk).min(s.len())]
}

/// A mutable slice cut into chunks that tasks borrow by index.
struct Split<'a, T> {
    ptr: *mut T,
    len: usize,
    chunk: usize,
    count: usize,
    _slice: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: tasks reach the elements only through `chunk`, whose contract
// keeps the borrows disjoint; sending `&mut T` across threads needs `T: Send`.
unsafe impl<T: Send> Sync for Split<'_, T> {}

impl<'a, T> Split<'a, T> {
    fn new(s: &'a mut [T], chunk: usize) -> Self {
        let chunk = chunk.max(1);
        Split {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            chunk,
            count: s.len().div_ceil(chunk),
            _slice: std::marker::PhantomData,
        }
    }

    /// Chunk `i` (`i < count`).
    ///
    /// # Safety
    /// No other borrow of chunk `i` may be alive.
    #[allow(clippy::mut_from_ref)]
    unsafe fn chunk(&self, i: usize) -> &'a mut [T] {
        assert!(i < self.count, "chunk {i} of {}", self.count);
        let start = i * self.chunk;
        let len = self.chunk.min(self.len - start);
        // SAFETY: `start + len <= self.len`, inside the borrowed slice;
        // disjoint from other chunks, borrowed once (contract).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

/// The most ranges a loop's tasks are cut into (more threads share them).
const RANGES: usize = 16;

/// A counter alone on its cache line, so that threads claiming tasks from
/// different ranges do not contend for one line.
#[repr(align(64))]
struct Padded(AtomicUsize);

/// One parallel loop: the tasks, cut into `ranges` contiguous ranges, and
/// the next unclaimed task of each.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    tasks: usize,
    ranges: usize,
    /// `next[r]`: the next task of range `r` to claim (claimed ones of a
    /// range are a prefix of it).
    next: [Padded; RANGES],
    /// The first panic of a task, raised again by the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl<'a> Job<'a> {
    /// `tasks` tasks of `f` cut into one range per thread (`threads` of them).
    fn new(f: &'a (dyn Fn(usize) + Sync), tasks: usize, threads: usize) -> Self {
        let ranges = threads.clamp(1, RANGES);
        let next = std::array::from_fn(|r| Padded(AtomicUsize::new(tasks * r / ranges)));
        Job {
            f,
            tasks,
            ranges,
            next,
            panic: Mutex::new(None),
        }
    }

    /// The end of range `r` (its tasks are `tasks * r / ranges ..` this).
    fn end(&self, r: usize) -> usize {
        self.tasks * (r + 1) / self.ranges
    }

    /// Runs the tasks of range `home % ranges`, then claims what is left of
    /// the other ranges (each from its first unclaimed task), until no task
    /// is left unclaimed.
    fn work(&self, home: usize) {
        let home = home % self.ranges;
        for r in (home..self.ranges).chain(0..home) {
            let end = self.end(r);
            loop {
                let t = self.next[r].0.fetch_add(1, Ordering::Relaxed);
                if t >= end {
                    break;
                }
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| (self.f)(t))) {
                    let mut first = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert(payload);
                }
            }
        }
    }
}

/// The state word: `epoch << 32 | CLOSED | limit << 16 | participants`.
/// A helper joins the current loop by incrementing `participants` with a
/// compare-and-swap that fails once the caller has set `CLOSED`, so no
/// helper can reach a job after its caller has stopped waiting for it.
const CLOSED: u64 = 1 << 31;
const LIMIT_SHIFT: u32 = 16;
const FIELD: u64 = 0x7fff;

fn epoch(s: u64) -> u64 {
    s >> 32
}

fn participants(s: u64) -> u64 {
    s & FIELD
}

fn limit(s: u64) -> u64 {
    (s >> LIMIT_SHIFT) & FIELD
}

struct Team {
    /// Held by the caller of the loop in progress.
    busy: Mutex<()>,
    state: AtomicU64,
    /// The current loop's `Job`, valid while a helper is a participant.
    job: AtomicPtr<Job<'static>>,
    /// Helpers spawned so far (they never exit).
    hired: Mutex<usize>,
    /// Helpers asleep on `wake`.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
    /// Set when spawning a helper failed: the team then stays as it is.
    spawn_failed: AtomicBool,
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| Team {
        busy: Mutex::new(()),
        state: AtomicU64::new(CLOSED),
        job: AtomicPtr::new(std::ptr::null_mut()),
        hired: Mutex::new(0),
        sleepers: AtomicUsize::new(0),
        sleep: Mutex::new(()),
        wake: Condvar::new(),
        spawn_failed: AtomicBool::new(false),
    })
}

impl Team {
    /// Makes sure at least `n` helpers exist (as far as the OS allows).
    fn hire(&'static self, n: usize) {
        let mut hired = self.hired.lock().unwrap_or_else(|e| e.into_inner());
        while *hired < n.min(FIELD as usize) && !self.spawn_failed.load(Ordering::Relaxed) {
            let spawned = std::thread::Builder::new()
                .name(format!("sxima-helper-{}", *hired))
                .spawn(move || self.helper_loop());
            match spawned {
                Ok(_) => *hired += 1,
                Err(_) => self.spawn_failed.store(true, Ordering::Relaxed),
            }
        }
    }

    /// Makes `job` the current loop, open to at most `helpers` helpers, and
    /// wakes sleeping helpers.
    fn publish(&self, job: &Job<'_>, helpers: usize) {
        // The lifetime is erased for the pointer's sake only: helpers reach
        // the job only as participants, and `close_and_wait` returns (before
        // `job` goes out of scope) only when no participant is left.
        let ptr = job as *const Job<'_> as *mut Job<'static>;
        self.job.store(ptr, Ordering::Relaxed);
        let next_epoch = epoch(self.state.load(Ordering::Relaxed)) + 1;
        let word = (next_epoch << 32) | ((helpers as u64).min(FIELD) << LIMIT_SHIFT);
        self.state.store(word, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
    }

    /// Closes the current loop to new helpers and waits until the ones that
    /// joined have left (their tasks are done then).
    fn close_and_wait(&self) {
        let mut s = self.state.fetch_or(CLOSED, Ordering::AcqRel) | CLOSED;
        let mut spins = 0u32;
        while participants(s) != 0 {
            // A helper that the OS paused mid-task may need this CPU: after
            // a short spin, yield it at every check.
            if spins < 4096 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
            s = self.state.load(Ordering::Acquire);
        }
    }

    fn helper_loop(&self) {
        let mut seen = epoch(self.state.load(Ordering::Acquire));
        loop {
            let s = self.wait_for_epoch_after(seen);
            seen = epoch(s);
            if let Some(joined) = self.join(s) {
                // SAFETY: as a participant of epoch `seen`, the job published
                // for it is alive until this helper leaves (`close_and_wait`).
                let job = unsafe { &*self.job.load(Ordering::Acquire) };
                // The caller works range 0; the n-th helper to join, range n.
                job.work(joined + 1);
                self.state.fetch_sub(1, Ordering::Release);
            }
        }
    }

    /// Spins (then sleeps) until the epoch differs from `seen`; returns the
    /// state word that shows it.
    fn wait_for_epoch_after(&self, seen: u64) -> u64 {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let s = self.state.load(Ordering::Acquire);
            if epoch(s) != seen {
                return s;
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(256) && start.elapsed() > SPIN {
                let guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
                self.sleepers.fetch_add(1, Ordering::SeqCst);
                let guard = if epoch(self.state.load(Ordering::SeqCst)) == seen {
                    self.wake.wait(guard).unwrap_or_else(|e| e.into_inner())
                } else {
                    guard
                };
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                drop(guard);
            }
        }
    }

    /// Joins the loop of state `s` as a participant, unless it is closed,
    /// full or already replaced by a newer one; returns how many helpers
    /// had joined it before.
    fn join(&self, mut s: u64) -> Option<usize> {
        let want = epoch(s);
        loop {
            if epoch(s) != want || s & CLOSED != 0 || participants(s) >= limit(s) {
                return None;
            }
            match self
                .state
                .compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(participants(s) as usize),
                Err(now) => s = now,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn counts_after(threads: usize, tasks: usize) -> Vec<u32> {
        let hits: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            run(tasks, &|t| {
                hits[t].fetch_add(1, Ordering::Relaxed);
            })
        });
        hits.into_iter().map(AtomicU32::into_inner).collect()
    }

    #[test]
    fn every_task_runs_exactly_once() {
        for threads in [1, 2, 3, 5] {
            for tasks in [0, 1, 2, 3, 7, 64, 1000] {
                for _ in 0..20 {
                    assert_eq!(
                        counts_after(threads, tasks),
                        vec![1; tasks],
                        "{threads} threads, {tasks} tasks"
                    );
                }
            }
        }
    }

    #[test]
    fn two_threads_run_two_tasks_at_once() {
        // Each task waits (a while) until both have started: both start only
        // if a helper took one while the caller ran the other. A loop runs on
        // its caller alone while another test's loop holds the team, so the
        // attempt is repeated until one finds the team free.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let together = (0..50).any(|_| {
            let started = AtomicUsize::new(0);
            let threads = Mutex::new(Vec::new());
            pool.install(|| {
                run(2, &|_| {
                    threads.lock().unwrap().push(std::thread::current().id());
                    started.fetch_add(1, Ordering::AcqRel);
                    let begin = Instant::now();
                    while started.load(Ordering::Acquire) < 2
                        && begin.elapsed() < Duration::from_millis(500)
                    {
                        std::hint::spin_loop();
                    }
                })
            });
            let threads = threads.into_inner().unwrap();
            assert_eq!(threads.len(), 2, "both tasks ran");
            threads[0] != threads[1]
        });
        assert!(together, "no attempt ran the two tasks on two threads");
    }

    #[test]
    fn each_thread_starts_on_its_own_range() {
        // 2 threads, 8 tasks of 1 ms: the caller's range is 0..4, the
        // helper's 4..8. The caller starts at task 0. A helper takes from
        // the caller's range only once its own is all claimed, and the
        // caller claims the helper's range only after finishing its own, so
        // a helper never starts below 4. Repeated until helpers took part
        // in a few loops (the team may be busy with another test's loop).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let mut helped = 0;
        for _ in 0..100 {
            let first: Mutex<Vec<(std::thread::ThreadId, usize)>> = Mutex::new(Vec::new());
            let caller = pool.install(|| {
                run(8, &|t| {
                    let id = std::thread::current().id();
                    let mut first = first.lock().unwrap();
                    if !first.iter().any(|(seen, _)| *seen == id) {
                        first.push((id, t));
                    }
                    drop(first);
                    std::thread::sleep(Duration::from_millis(1));
                });
                std::thread::current().id()
            });
            for (id, t) in first.into_inner().unwrap() {
                if id == caller {
                    assert_eq!(t, 0, "the caller starts its range");
                } else {
                    assert!(
                        t >= 4,
                        "a helper started at task {t}, in the caller's range"
                    );
                    helped += 1;
                }
            }
            if helped >= 3 {
                return;
            }
        }
        panic!("a helper took part in only {helped} of 100 loops");
    }

    #[test]
    fn chunk_helpers_cover_every_element_once() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| {
            for (len, c) in [(0, 4), (1, 4), (10, 3), (12, 3), (100, 1), (7, 100)] {
                let mut a = vec![0usize; len];
                let mut b = vec![0u8; len * 2];
                each_chunk_mut2(&mut a, c, &mut b, 2 * c, |i, a, b| {
                    for (j, v) in a.iter_mut().enumerate() {
                        *v += i * c + j + 1;
                    }
                    b.iter_mut().for_each(|v| *v += 1);
                });
                assert_eq!(a, (1..=len).collect::<Vec<_>>(), "len {len} chunk {c}");
                assert_eq!(b, vec![1; 2 * len]);
                let pieces: Vec<Vec<usize>> = map(len.div_ceil(c), |i| chunk(&a, c, i).to_vec());
                assert_eq!(pieces.concat(), a);
            }
        });
    }

    #[test]
    fn nested_and_concurrent_loops_still_run_every_task() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..50 {
                        run(4, &|_| {
                            run(3, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.into_inner(), 3 * 50 * 4 * 3);
    }

    #[test]
    fn a_panicking_task_is_raised_after_the_others_finish() {
        panicking_task_is_raised_after_the_others(false);
        // The team is usable afterwards.
        assert_eq!(counts_after(2, 9), vec![1; 9]);
    }

    /// The same when the team is busy and the loop runs on its caller alone
    /// (what a loop meets while another thread's loop holds the team).
    #[test]
    fn a_panicking_task_on_a_busy_team_is_raised_after_the_others_finish() {
        panicking_task_is_raised_after_the_others(true);
    }

    /// 16 tasks on 2 threads (with the team held busy meanwhile when
    /// `busy`), task 5 panics: the caller gets that panic, after the 15
    /// others ran.
    fn panicking_task_is_raised_after_the_others(busy: bool) {
        let done = AtomicUsize::new(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let result = pool.install(|| {
            let _busy = busy.then(|| team().busy.lock().unwrap_or_else(|e| e.into_inner()));
            catch_unwind(AssertUnwindSafe(|| {
                run(16, &|t| {
                    if t == 5 {
                        panic!("task five");
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                })
            }))
        });
        let payload = result.expect_err("the panic must reach the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"task five"));
        assert_eq!(done.into_inner(), 15);
    }
}
