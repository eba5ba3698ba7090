//! The open-files limit (`RLIMIT_NOFILE`): every connection is a file
//! descriptor, and a process out of them can accept nothing, not even the
//! load balancer's `/readyz`. The soft limit is often 1024 while the hard
//! one allows far more: it is raised to the hard limit at start, and the
//! connection cap is sized to leave room for everything else.

use std::io;

/// Descriptors kept for what is not an API connection, beside the delivery
/// client's sockets: the store, the plugin cache and compiled images, the
/// runtime's event and timer descriptors, standard streams, uploads being
/// checked, name resolution.
const RESERVED: u64 = 256;

/// Fewer connection slots than this and the engine could not serve its own
/// probes beside one busy client: the cap never goes below it.
const MIN_CONNECTIONS: usize = 16;

/// The soft limit before and after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub before: u64,
    pub now: u64,
}

/// What Linux allows at most when the hard limit says "unlimited"
/// (`fs.nr_open`'s default).
const UNLIMITED: u64 = 1 << 20;

/// Raises the soft open-files limit to the hard limit, where allowed (a
/// failure leaves it as it was, and is logged).
pub fn raise() -> OpenFiles {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes the limit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!(error = %io::Error::last_os_error(), "cannot read the open-files limit");
        return OpenFiles { before: 0, now: 0 };
    }
    let finite = |value: libc::rlim_t| if value == libc::RLIM_INFINITY { UNLIMITED } else { value };
    let (before, hard) = (finite(limit.rlim_cur), finite(limit.rlim_max));
    if hard <= before {
        return OpenFiles { before, now: before };
    }
    let raised = libc::rlimit { rlim_cur: hard, rlim_max: limit.rlim_max };
    // SAFETY: `setrlimit` only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        let error = io::Error::last_os_error();
        tracing::warn!(%error, soft = before, hard, "cannot raise the open-files limit");
        return OpenFiles { before, now: before };
    }
    OpenFiles { before, now: hard }
}

/// The connection cap: `wanted`, lowered so that the connections, the
/// delivery client's sockets (those in flight and as many idle in its pool)
/// and [`RESERVED`] fit under `open_files`.
pub fn connection_cap(wanted: usize, open_files: u64, delivery_concurrency: usize) -> usize {
    let others = RESERVED.saturating_add((delivery_concurrency as u64).saturating_mul(2));
    let room = usize::try_from(open_files.saturating_sub(others)).unwrap_or(usize::MAX);
    wanted.min(room.max(MIN_CONNECTIONS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_under_the_limit() {
        assert_eq!(connection_cap(4096, 1 << 20, 64), 4096, "plenty of descriptors: as configured");
        assert_eq!(connection_cap(4096, 1024, 64), 1024 - 256 - 128);
        assert_eq!(connection_cap(100, 1024, 64), 100, "a lower setting is kept");
        assert_eq!(connection_cap(4096, 256, 64), MIN_CONNECTIONS, "never below the floor");
        assert_eq!(connection_cap(4096, u64::MAX, usize::MAX), MIN_CONNECTIONS, "no overflow");
    }

    #[test]
    fn raising_twice_changes_nothing_the_second_time() {
        let first = raise();
        assert!(first.now >= first.before);
        let second = raise();
        assert_eq!(second, OpenFiles { before: first.now, now: first.now });
    }
}
