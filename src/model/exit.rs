//! The exit codes (a contract, documented in the README): `0` all passed, `1` an invariant was
//! violated (or a self-test's expected violation was missed), `2` usage or scenario error, `3` a
//! threshold or expected count failed while invariants held, `4` the environment failed, `130`
//! and `143` stopped by SIGINT or SIGTERM; and their order of severity.

pub const EXIT_PASS: i32 = 0;
pub const EXIT_VIOLATION: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_THRESHOLD: i32 = 3;
pub const EXIT_ENVIRONMENT: i32 = 4;
/// Stopped by SIGINT (Ctrl-C): 128 + 2, as shells report it.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Stopped by SIGTERM: 128 + 15.
pub const EXIT_TERMINATED: i32 = 143;

/// The most severe of several exit codes, in the order 2, 1, 4, 3, 0.
pub fn most_severe(codes: impl IntoIterator<Item = i32>) -> i32 {
    let rank = |c: i32| match c {
        // Ctrl-C or SIGTERM: the suite was stopped, whatever ran before.
        EXIT_INTERRUPTED | EXIT_TERMINATED => 5,
        EXIT_USAGE => 4,
        EXIT_VIOLATION => 3,
        EXIT_ENVIRONMENT => 2,
        EXIT_THRESHOLD => 1,
        _ => 0,
    };
    codes.into_iter().max_by_key(|&c| rank(c)).unwrap_or(EXIT_PASS)
}
