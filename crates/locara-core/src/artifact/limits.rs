//! Resource limits applied while unpacking an artifact.

/// What an unpacker accepts before it refuses an artifact.
///
/// Every limit is checked while streaming, before the bytes it guards are written, so a hostile
/// artifact is refused having used at most the limits' worth of disk and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of file content, summed over all files (default 4 GiB).
    pub max_total_size: u64,
    /// Most entries, files and directories together (default 100 000).
    pub max_entries: u64,
    /// Most bytes in one file (default 2 GiB).
    pub max_file_size: u64,
    /// Most bytes in one entry path, without a directory's trailing `/` (default 256, the ustar maximum).
    pub max_path_len: usize,
    /// Largest zstd window, as a base-2 logarithm (default 27 = 128 MiB of decoder memory).
    pub max_window_log: u32,
}

impl Limits {
    /// Default for [`Limits::max_total_size`]: 4 GiB.
    pub const DEFAULT_MAX_TOTAL_SIZE: u64 = 4 << 30;
    /// Default for [`Limits::max_entries`]: 100 000.
    pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;
    /// Default for [`Limits::max_file_size`]: 2 GiB.
    pub const DEFAULT_MAX_FILE_SIZE: u64 = 2 << 30;
    /// Default for [`Limits::max_path_len`]: 256 bytes, the longest path a ustar header can hold.
    pub const DEFAULT_MAX_PATH_LEN: usize = 256;
    /// Default for [`Limits::max_window_log`]: 27 (128 MiB).
    pub const DEFAULT_MAX_WINDOW_LOG: u32 = 27;

    /// Sets [`Limits::max_total_size`].
    pub fn with_max_total_size(mut self, bytes: u64) -> Self {
        self.max_total_size = bytes;
        self
    }

    /// Sets [`Limits::max_entries`].
    pub fn with_max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries;
        self
    }

    /// Sets [`Limits::max_file_size`].
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// Sets [`Limits::max_path_len`].
    pub fn with_max_path_len(mut self, bytes: usize) -> Self {
        self.max_path_len = bytes;
        self
    }

    /// Sets [`Limits::max_window_log`] (zstd accepts 10 to 31).
    pub fn with_max_window_log(mut self, log: u32) -> Self {
        self.max_window_log = log;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_total_size: Self::DEFAULT_MAX_TOTAL_SIZE,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            max_file_size: Self::DEFAULT_MAX_FILE_SIZE,
            max_path_len: Self::DEFAULT_MAX_PATH_LEN,
            max_window_log: Self::DEFAULT_MAX_WINDOW_LOG,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values_and_setters_override_each() {
        let limits = Limits::default();
        assert_eq!(limits.max_total_size, 4 * 1024 * 1024 * 1024);
        assert_eq!(limits.max_file_size, 2 * 1024 * 1024 * 1024);
        assert_eq!(limits.max_entries, 100_000);
        assert_eq!(limits.max_path_len, 256);
        assert_eq!(limits.max_window_log, 27);
        let small = limits
            .with_max_total_size(1)
            .with_max_entries(2)
            .with_max_file_size(3)
            .with_max_path_len(4)
            .with_max_window_log(10);
        assert_eq!(
            (small.max_total_size, small.max_entries, small.max_file_size),
            (1, 2, 3)
        );
        assert_eq!((small.max_path_len, small.max_window_log), (4, 10));
    }
}
