//! Open-files limits for the connection tests: the test process holds a
//! thousand sockets, and the engine is started under a low soft limit, as
//! a shell's `ulimit -Sn 1024` leaves it.

use std::os::unix::process::CommandExt;
use std::process::Command;

fn limit() -> libc::rlimit {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes the limit into the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0, "getrlimit");
    limit
}

/// Raises this process's soft open-files limit to its hard limit; `Err`
/// with the hard limit when that is below `needed`.
pub fn raise_own_limit(needed: u64) -> Result<u64, u64> {
    let limit = limit();
    // "Unlimited" means fs.nr_open on Linux, 1 << 20 by default.
    let hard = if limit.rlim_max == libc::RLIM_INFINITY { 1 << 20 } else { limit.rlim_max };
    if hard < needed {
        return Err(hard);
    }
    let raised = libc::rlimit { rlim_cur: hard, rlim_max: limit.rlim_max };
    // SAFETY: `setrlimit` only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(limit.rlim_cur);
    }
    Ok(hard)
}

/// Starts `command` with its soft open-files limit at `soft` (the hard one
/// unchanged).
pub fn with_soft_limit(command: &mut Command, soft: u64) {
    let lowered = libc::rlimit { rlim_cur: soft, rlim_max: limit().rlim_max };
    // SAFETY: between fork and exec the child only calls `setrlimit`, a
    // system call that allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || match libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        });
    }
}
