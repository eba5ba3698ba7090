//! The disk-space guard: the free space under the data directory, and the
//! floor below which writes that grow the store are refused, so that the
//! disk does not fill up under redb (which then refuses every write, the
//! records of deliveries and deletions included, until space is back).
//!
//! The floor is the smaller of a share of the volume and a number of
//! bytes: a large volume is not made to keep gigabytes free, a small one
//! not made to keep more than a sliver of itself. Either at 0 turns the
//! guard off.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The `[storage]` settings section, the disk-space guard: writes that grow the store (events, hooks,
/// uploads, catalogue changes) are refused while free space under the data
/// directory is below the smaller of the two floors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Floor as a percentage of the volume's size (0: no guard).
    pub min_free_percent: u8,
    /// Floor in bytes (0: no guard).
    pub min_free_bytes: u64,
}

impl Storage {
    /// What the types alone do not check.
    pub fn check(&self) -> Result<(), String> {
        if self.min_free_percent > 100 {
            return Err("must be at most 100".into());
        }
        Ok(())
    }

    /// The floor these settings set.
    pub fn floor(&self) -> SpaceFloor {
        SpaceFloor { percent: self.min_free_percent, bytes: self.min_free_bytes }
    }
}

impl Default for Storage {
    fn default() -> Self {
        let floor = SpaceFloor::default();
        Storage { min_free_percent: floor.percent, min_free_bytes: floor.bytes }
    }
}

/// The operator's floor (`storage.min_free_percent`, `storage.min_free_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceFloor {
    /// Percent of the volume's size.
    pub percent: u8,
    pub bytes: u64,
}

impl Default for SpaceFloor {
    fn default() -> Self {
        SpaceFloor { percent: 2, bytes: 256 << 20 }
    }
}

impl SpaceFloor {
    /// The floor on a volume of `total` bytes: the smaller of the two
    /// rules; 0 when the guard is off.
    pub fn bytes_on(&self, total: u64) -> u64 {
        let share = u64::try_from(u128::from(total) * u128::from(self.percent) / 100).unwrap_or(u64::MAX);
        share.min(self.bytes)
    }
}

/// The space of the volume holding the data directory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Free for the engine: what an unprivileged process may still use (a
    /// volume's blocks reserved for root are not counted).
    pub free: u64,
    pub total: u64,
}

impl Space {
    /// `statvfs(2)` of `dir`: one system call, no I/O on the volume.
    pub fn of(dir: &Path) -> io::Result<Space> {
        let stat = rustix::fs::statvfs(dir)?;
        Ok(Space {
            free: stat.f_bavail.saturating_mul(stat.f_frsize),
            total: stat.f_blocks.saturating_mul(stat.f_frsize),
        })
    }

    /// The guard's verdict: `Some` when free space is below `floor`.
    pub fn below(self, floor: SpaceFloor) -> Option<LowSpace> {
        let floor = floor.bytes_on(self.total);
        (self.free < floor).then_some(LowSpace { free: self.free, floor })
    }
}

/// Free space below the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "free space under the data directory is {free} bytes, below the floor of {floor} bytes: writes that grow the store are refused until space is freed"
)]
pub struct LowSpace {
    pub free: u64,
    pub floor: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn the_floor_is_the_smaller_rule_and_zero_turns_it_off() {
        let floor = SpaceFloor::default();
        assert_eq!(floor.bytes_on(40 << 20), (40 << 20) * 2 / 100, "a small volume: 2 %");
        assert_eq!(floor.bytes_on(1000 * GIB), 256 << 20, "a large one: 256 MiB");
        assert_eq!(SpaceFloor { percent: 0, ..floor }.bytes_on(1000 * GIB), 0);
        assert_eq!(SpaceFloor { bytes: 0, ..floor }.bytes_on(1000 * GIB), 0);
        assert_eq!(SpaceFloor { percent: 100, bytes: u64::MAX }.bytes_on(u64::MAX), u64::MAX, "no overflow");
    }

    #[test]
    fn below_the_floor_is_low_space() {
        let floor = SpaceFloor { percent: 10, bytes: u64::MAX };
        assert_eq!(Space { free: 10, total: 100 }.below(floor), None, "at the floor is fine");
        assert_eq!(Space { free: 9, total: 100 }.below(floor), Some(LowSpace { free: 9, floor: 10 }));
        assert_eq!(Space { free: 0, total: 100 }.below(SpaceFloor { percent: 0, bytes: 0 }), None, "guard off");
    }

    #[test]
    fn the_space_of_a_real_directory() {
        let dir = tempfile::tempdir().unwrap();
        let space = Space::of(dir.path()).unwrap();
        assert!(space.total > 0 && space.free <= space.total, "{space:?}");
        assert!(Space::of(&dir.path().join("missing")).is_err());
    }
}
