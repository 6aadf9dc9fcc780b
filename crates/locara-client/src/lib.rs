//! The Locara client's local side, with no network: what an install leaves on the machine and the rules
//! that decide what may be installed without asking.
//!
//! - [`store`]: the content-addressed, read-only install store (`<data>/store/sha256/<hex>/`) and
//!   [`launcher`]s in one bin directory.
//! - [`state`]: the state database (SQLite): installed apps, their grants, and per registry the last
//!   checkpoint and the highest revocation-list version seen.
//! - [`policy`]: the policy file (allow rules, update levels, minimum release age).
//! - [`lockfile`]: the lockfile, `locara.lock`: exact releases and digests for identical installs.

pub mod launcher;
pub mod lockfile;
pub mod policy;
pub mod state;
pub mod store;
